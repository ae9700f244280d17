"""Growth with the data: power-law fits, predictions from smaller scales, `lakelab scale`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.scaling import fit_power_law, fits, predictions, stage_points
from lakelab.config import parse_config
from lakelab.errors import UserError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def payload(scale: int, run: float, status: str = "ok", **layers: float) -> dict[str, Any]:
    return {"status": status, "scale": scale, "total_seconds": run, "layer_seconds": layers, "run_index": 0}


def test_an_exact_power_law_is_recovered_with_a_zero_width_interval() -> None:
    points = [(n, 3.0 * n**0.8) for n in (1_000, 10_000, 100_000) for _repeat in range(2)]
    fit = fit_power_law("bronze", points)
    assert fit is not None
    assert fit.exponent == pytest.approx(0.8, abs=1e-12)
    assert fit.coefficient == pytest.approx(3.0, rel=1e-9)
    assert fit.interval is not None and fit.interval[1] - fit.interval[0] == pytest.approx(0, abs=1e-9)
    assert (fit.runs, fit.scales) == (6, (1_000, 10_000, 100_000))
    assert fit.predict(1_000_000) == pytest.approx(3.0 * 1e6**0.8, rel=1e-9)


def test_the_interval_is_the_regression_slopes_t_interval() -> None:
    from scipy.stats import linregress, t

    points = [(1_000, 10.0), (1_000, 12.0), (10_000, 30.0), (10_000, 26.0), (100_000, 200.0)]
    fit = fit_power_law("silver", points)
    oracle = linregress([math.log(n) for n, _ in points], [math.log(s) for _, s in points])
    half = t.ppf(0.975, len(points) - 2) * oracle.stderr
    assert fit is not None
    assert fit.exponent == pytest.approx(oracle.slope, rel=1e-12)
    assert fit.interval == pytest.approx((oracle.slope - half, oracle.slope + half), rel=1e-9)
    assert fit.interval[0] < fit.exponent < fit.interval[1]


def test_one_scale_has_no_fit_and_two_runs_no_interval() -> None:
    assert fit_power_law("gold", [(1_000, 5.0), (1_000, 6.0)]) is None
    fit = fit_power_law("gold", [(1_000, 5.0), (4_000, 20.0)])
    assert fit is not None and fit.exponent == pytest.approx(1.0) and fit.interval is None


def test_each_scale_is_predicted_from_the_smaller_ones_only() -> None:
    # Linear up to 100k, then twice as slow at 1M: the prediction from below cannot know.
    runs = [payload(n, 0.001 * n, bronze=0.0005 * n) for n in (1_000, 10_000, 100_000)]
    runs += [payload(1_000_000, 2.0, bronze=1.0), payload(1_000_000, 2.2, bronze=1.2)]
    made = {(p.stage, p.scale): p for p in predictions(stage_points(runs))}
    assert set(made) == {("bronze", 100_000), ("run", 100_000), ("bronze", 1_000_000), ("run", 1_000_000)}
    assert made[("run", 100_000)].predicted_s == pytest.approx(100.0)
    assert made[("run", 100_000)].ratio == pytest.approx(1.0)
    late = made[("run", 1_000_000)]
    assert late.from_scales == (1_000, 10_000, 100_000)
    assert late.predicted_s == pytest.approx(1_000.0)
    assert late.measured_s == pytest.approx(2.1)  # the median of the two repeats
    assert late.ratio == pytest.approx(2.1 / 1_000.0)


def test_failed_runs_and_layers_not_run_are_left_out() -> None:
    runs = [
        payload(1_000, 10.0, gold=2.0),
        payload(2_000, 99.0, status="failed", gold=50.0),
        payload(2_000, 12.0, gold=3.0),
    ]
    points = stage_points(runs)
    assert points == {"gold": [(1_000, 2.0), (2_000, 3.0)], "run": [(1_000, 10.0), (2_000, 12.0)]}
    assert [f.stage for f in fits(points)] == ["gold", "run"]


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (payload(0, 1.0), "scale 0 is not a positive record count"),
        (payload(1_000, 1.0, silver=0.0), "silver took 0.0 s"),
    ],
)
def test_a_record_that_cannot_be_fitted_is_refused_by_name(run: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stage_points([run])


def _scale_args(records: str, **options: Any) -> argparse.Namespace:
    defaults = dict(
        repeats=None,
        warmup=None,
        time_limit=None,
        landing_root=None,
        work_dir=None,
        results=None,
        no_report=False,
        exporter_port=None,
    )
    return argparse.Namespace(records=records, **{**defaults, **options})


def test_scale_is_a_one_point_sweep_at_the_configured_settings() -> None:
    from harness.commands import scale_sweep_args

    config = parse_config({"pipeline": {"parallel_tables": 2}}, "test")
    args = scale_sweep_args(config, _scale_args("10M,1M,100k", repeats=3))
    assert args.scales == "100000,1000000,10000000"
    assert args.grid == ["pipeline.parallel_tables=2"]
    assert (args.repeats, args.strategy, args.workload, args.resume) == (3, "grid", "pipeline", None)


def test_scale_runs_every_layer_whatever_the_configured_sweep_says() -> None:
    from harness.commands import scale_config

    config = parse_config(
        {
            "sweep": {
                "strategy": "halving",
                "scales": [1000, 2000],
                "sample": 1,
                "budget_s": 60,
                "layers": ["gold"],
            }
        },
        "test",
    )
    sweep = scale_config(config).sweep
    assert (sweep.strategy, sweep.sample, sweep.budget_s) == ("grid", None, None)
    assert sweep.layers == ["bronze", "silver", "gold"]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ("1M", "--records 1M: needs two or more different scales, e.g. 1M,10M"),
        ("1M,1000k", "--records 1M,1000k: needs two or more different scales"),
        ("1M,lots", "--records"),
    ],
)
def test_scale_refuses_what_cannot_be_fitted(records: str, message: str) -> None:
    from harness.commands import scale_sweep_args

    with pytest.raises(UserError, match=message):
        scale_sweep_args(parse_config({}, "test"), _scale_args(records))


@pytest.mark.slow
def test_tiny_scale_run_writes_records_a_growth_report_and_a_summary(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.commands import run_scale_command

    monkeypatch.chdir(tmp_path)
    config = parse_config({"paths": {"reports": str(tmp_path / "reports")}}, "test")
    args = _scale_args(
        "500,1k",
        repeats=1,
        warmup=0,
        landing_root=str(tmp_path / "landing"),
        work_dir=str(tmp_path / "work"),
        results=str(tmp_path / "results"),
    )
    assert run_scale_command(config, args) == 0
    out = capsys.readouterr().out
    runs = [json.loads(p.read_text()) for p in sorted((tmp_path / "results").glob("sweep_run-*.json"))]
    assert sorted(r["payload"]["scale"] for r in runs) == [500, 1_000]
    assert all(r["payload"]["is_baseline"] and r["payload"]["reconciled"] for r in runs)
    points = stage_points(r["payload"] for r in runs)
    fitted = {f.stage: f for f in fits(points)}
    assert set(fitted) == {"bronze", "silver", "gold", "run"}
    # The console's line is the fit of the recorded runs.
    assert f"growth run   : seconds ~ records^{fitted['run'].exponent:.2f}\n" in out
    (report,) = (tmp_path / "reports").glob("sweep-*/report.md")
    text = report.read_text()
    assert f"| run | {fitted['run'].exponent:.2f} | n/a (needs 3+ runs) | 2 | 500, 1k |" in text
    assert "No prediction: a scale is predicted from two or more smaller ones" in text
    assert (report.parent / "img" / "growth.png").stat().st_size > 10_000
