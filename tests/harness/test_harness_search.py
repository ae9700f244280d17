"""Search strategies: the seeded sample, the halving ladder's promotions and budget, and one
small halving sweep on real Spark whose ladder is in the records and in the report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_harness_resume import CountingWorkload, runs_in_order

from harness.commands import _sweep_config, resume_command
from harness.config import SweepConfig
from harness.report import cost_from, ladder_text, render_report
from harness.results import load_sweeps, point_stats
from harness.search import (
    STOP_BUDGET,
    STOP_TOP_SCALE,
    budget_left,
    count_text,
    ladder_upper_bound,
    next_rung_estimate,
    promote,
    promoted_count,
    rank,
    sample_points,
    within_budget,
)
from harness.sweep import (
    PLAN_KIND,
    SweepInterrupted,
    expand_grid,
    planned_runs,
    recorded_sweep,
    run_sweep,
    sweep_plan,
    sweep_points,
)
from harness.workloads import SparkAggregationWorkload
from lakelab.cli import build_parser, main
from lakelab.config import parse_config
from lakelab.errors import UserError
from lakelab.records import new_record, read_records, write_record

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

GRID_12 = {
    "spark.sql.shuffle.partitions": ["2", "8", "32", "64", "128", "256"],
    "spark.sql.adaptive.enabled": ["true", "false"],
}


def test_a_sample_is_seeded_holds_the_baseline_and_keeps_grid_order() -> None:
    points = expand_grid(GRID_12)
    sample = sample_points(points, baseline=0, size=4, seed=42)
    assert sample == [0, 1, 7, 8]  # pinned: the same seed and grid give the same points, anywhere
    assert sample_points(points, 0, 4, 42) == sample
    assert sample_points(points, 0, 4, 7) == [0, 1, 5, 8]
    # Nested: a larger sample of the same seed adds points, never swaps them.
    assert set(sample) < set(sample_points(points, 0, 5, 42))
    assert [len(sample_points(points, 5, size, 42)) for size in (1, 2, 12)] == [1, 2, 12]
    assert sample_points(points, 5, 1, 42) == [5]  # the baseline alone
    assert sample_points(points, 5, 12, 42) == list(range(12))
    # Independent of the axis order: the same settings are drawn whatever the grid lists first.
    swapped = expand_grid(dict(reversed(list(GRID_12.items()))))
    redrawn = sample_points(swapped, swapped.index(points[0]), 4, 42)
    assert {frozenset(swapped[i].items()) for i in redrawn} == {frozenset(points[i].items()) for i in sample}


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (13, "sample: 13 is more than the grid's 12 points"),
        (0, "sample: 0 is not a positive number of points"),
    ],
)
def test_a_sample_that_does_not_fit_is_refused(size: int, message: str) -> None:
    with pytest.raises(UserError) as error:
        sample_points(expand_grid(GRID_12), 0, size, 42)
    assert str(error.value) == message


def test_the_sweep_points_of_a_random_strategy_are_the_sample() -> None:
    config = parse_config({"sweep": {"strategy": "random", "sample": 3, "grid": GRID_12,
                                     "baseline": {"spark.sql.shuffle.partitions": "8"}}})  # fmt: skip
    points, baseline = sweep_points(config.sweep, 42)
    grid = expand_grid(GRID_12)
    assert points[baseline] == {"spark.sql.shuffle.partitions": "8", "spark.sql.adaptive.enabled": "true"}
    assert points == [grid[index] for index in sample_points(grid, 2, 3, 42)]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"strategy": "random"}, "sweep.sample: Value error, strategy 'random' needs a sample size"),
        (
            {"strategy": "random", "sample": 4},
            "sweep.sample: Value error, 4 is more than the grid's 3 points",
        ),
        (
            {"sample": 2},
            "sweep.sample: Value error, a sample is for strategy 'random' or 'halving', not 'grid'",
        ),
        ({"strategy": "random", "sample": 2, "budget_s": 60}, "sweep.budget_s: Value error, a budget is for"),
        ({"strategy": "halving"}, "sweep.strategy: Value error, strategy 'halving' needs two or more scales"),
        (
            {"strategy": "halving", "scales": [1, 2], "budget_s": 0},
            "sweep.budget_s: Input should be greater than 0",
        ),
        ({"strategy": "best"}, "sweep.strategy: Input should be 'grid', 'random' or 'halving'"),
    ],
)
def test_bad_strategy_settings_are_one_line_errors(sweep: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as error:
        parse_config({"sweep": sweep}, "lakelab.toml")
    assert str(error.value).startswith(f"lakelab.toml: {message}")
    assert "\n" not in str(error.value)


def test_a_sample_larger_than_the_grid_exits_2_before_spark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "--set", "spark.sql.shuffle.partitions=2,8", "--strategy", "random", "--sample", "5",
            "--results", str(tmp_path / "results")]  # fmt: skip
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "lakelab: error: command line: sweep.sample: Value error, "
        "5 is more than the grid's 2 points (got 5)\n"
    )
    assert not (tmp_path / "results").exists()


def test_strategy_options_reach_the_config_and_the_resume_command() -> None:
    argv = ["sweep", "--scales", "1M,100k", "--strategy", "halving", "--sample", "4", "--budget", "900",
            "--set", "spark.sql.shuffle.partitions=2,8,32,64,128"]  # fmt: skip
    args = build_parser().parse_args(argv)
    sweep = _sweep_config(parse_config({}), args).sweep
    assert (sweep.strategy, sweep.sample, sweep.budget_s, sweep.scales) == (
        "halving",
        4,
        900.0,
        [1_000_000, 100_000],
    )
    assert resume_command(args, "sweep-x") == (
        "lakelab sweep --scales 1M,100k --strategy halving --sample 4 --budget 900 "
        "--set spark.sql.shuffle.partitions=2,8,32,64,128 --resume sweep-x"
    )


@pytest.mark.parametrize(
    ("points", "promoted"), [(1, 1), (2, 1), (3, 1), (5, 1), (6, 2), (9, 3), (10, 3), (27, 9)]
)
def test_the_best_third_is_at_least_one_point(points: int, promoted: int) -> None:
    assert promoted_count(points) == promoted


def test_promotion_takes_the_best_third_by_median_and_keeps_the_baseline() -> None:
    medians: dict[int, float | None] = {0: 10.0, 1: 4.0, 2: 7.0, 3: 3.0, 4: 9.0, 5: 8.0}
    assert rank(medians) == [3, 1, 2, 5, 4, 0]
    chosen = promote(medians, baseline=0)
    assert [(p.point, p.rank, p.reason) for p in chosen] == [
        (0, 6, "baseline, kept for ratios: rank 6 of 6"),
        (1, 2, "best third: rank 2 of 6"),
        (3, 1, "best third: rank 1 of 6"),
    ]
    # The baseline among the best third is promoted once, for being among the best.
    assert [(p.point, p.reason) for p in promote(medians, baseline=3)] == [
        (1, "best third: rank 2 of 6"),
        (3, "best third: rank 1 of 6"),
    ]


def test_ties_go_to_the_earlier_grid_point_and_failed_points_are_never_best() -> None:
    medians: dict[int, float | None] = {0: 5.0, 1: None, 2: 2.0, 3: 2.0, 4: 2.0, 5: 6.0}
    assert rank(medians) == [2, 3, 4, 0, 5, 1]
    assert [p.point for p in promote(medians, baseline=0)] == [0, 2, 3]
    # A baseline without an ok run is still kept (ratios need it); a rung where nothing finished
    # promotes nothing.
    assert [p.point for p in promote({0: None, 1: 3.0, 2: 1.0}, baseline=0)] == [0, 2]
    assert promote({0: None, 1: None}, baseline=0) == []
    with pytest.raises(ValueError, match="baseline"):
        promote({1: 1.0}, baseline=0)


def test_the_next_rung_is_estimated_from_the_promoted_points_scaled_by_the_scales() -> None:
    run_seconds = {0: 12.0, 1: 3.0, 2: 5.0, 3: 100.0}
    # Points 0 and 2 promoted from 100k to 1M: (12 + 5) x 10.
    assert next_rung_estimate(run_seconds, [0, 2], 100_000, 1_000_000) == pytest.approx(170.0)
    assert next_rung_estimate(run_seconds, [1], 1_000, 3_000) == pytest.approx(9.0)
    assert budget_left(600.0, 120.0 + 170.0) == pytest.approx(310.0)
    assert budget_left(None, 1e9) == math.inf
    assert within_budget(170.0, 300.0, 130.0)  # exactly what is left still runs
    assert not within_budget(170.01, 300.0, 130.0)
    assert not within_budget(1.0, 100.0, 120.0)  # overspent by the first rung
    assert within_budget(1e12, None, 1e9)
    with pytest.raises(ValueError, match="positive"):
        next_rung_estimate(run_seconds, [0], 0, 10)


def test_the_most_a_ladder_can_run() -> None:
    assert ladder_upper_bound(27, 4) == [27, 10, 4, 2]
    assert ladder_upper_bound(6, 3) == [6, 3, 2]
    assert ladder_upper_bound(1, 3) == [1, 1, 1]
    plan = {"strategy": "halving", "points": [{}] * 6, "scales": [1, 2, 3], "repeats": 2}
    assert planned_runs(plan) == (6 + 3 + 2) * 2
    # A plan recorded before strategies: the whole grid at every scale.
    old = {"grid": {"spark.sql.shuffle.partitions": ["2", "8"]}, "scales": [1, 2], "repeats": 3}
    assert planned_runs(old) == 2 * 2 * 3


def test_counts_read_as_people_write_them() -> None:
    assert [count_text(n) for n in (100_000, 1_000_000, 2_500_000, 1_000, 1_234, 999)] == [
        "100k", "1M", "2.5M", "1k", "1,234", "999",
    ]  # fmt: skip


LADDER: dict[str, Any] = {
    "scales": [1_000, 10_000],
    "budget_s": 50.0,
    "spent_s": 13.5,
    "best": {"point": "shuffle.partitions=8", "scale": 1_000, "median_seconds": 1.5},
    "stop": {
        "reason": STOP_BUDGET,
        "message": "budget stop after rung 1/2: rung 2 at 10k records is estimated at 60.0 s for 2 "
        "point(s), 36.5 s of the 50 s budget left",
    },
    "rungs": [
        {
            "rung": 1,
            "scale": 1_000,
            "run_seconds": 13.5,
            "spent_s": 13.5,
            "promoted": 0,
            "estimate_next_s": 60.0,
            "points": [
                {"point": "shuffle.partitions=2", "point_index": 0, "is_baseline": True, "runs": 2,
                 "ok_runs": 2, "median_seconds": 4.5, "run_seconds": 9.0, "rank": 2, "promoted": False,
                 "reason": "selected (baseline, kept for ratios: rank 2 of 3), not run: over the budget"},
                {"point": "shuffle.partitions=8", "point_index": 1, "is_baseline": False, "runs": 2,
                 "ok_runs": 2, "median_seconds": 1.5, "run_seconds": 3.0, "rank": 1, "promoted": False,
                 "reason": "selected (best third: rank 1 of 3), not run: over the budget"},
                {"point": "shuffle.partitions=32", "point_index": 2, "is_baseline": False, "runs": 2,
                 "ok_runs": 0, "median_seconds": None, "run_seconds": 1.5, "rank": 3, "promoted": False,
                 "reason": None},
            ],
        }
    ],
}  # fmt: skip


def test_the_ladder_section_lists_each_rung_by_rank_and_why_it_stopped(tmp_path: Path) -> None:
    text = ladder_text(LADDER, tmp_path / "img" / "ladder.png", tmp_path)
    assert "**Stopped:** budget stop after rung 1/2: rung 2 at 10k records is estimated at 60.0 s" in text
    assert "Budget 50 run-seconds" in text and "13.5 run-seconds spent." in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| rank |")]
    assert rows == [
        "| 1 | `shuffle.partitions=8` | 2/2 | 1.50 | 3.00 | "
        "selected (best third: rank 1 of 3), not run: over the budget |",
        "| 2 | `shuffle.partitions=2` (baseline) | 2/2 | 4.50 | 9.00 | "
        "selected (baseline, kept for ratios: rank 2 of 3), not run: over the budget |",
        "| 3 | `shuffle.partitions=32` | 0/2 | n/a (no ok run) | 1.50 | no |",
    ]
    assert "the next rung was estimated at 60.0 s (over what was left, so it did not run)." in text
    assert text.endswith("![median seconds per rung](img/ladder.png)")


def counting_halving(**sweep: Any) -> Any:
    grid = {"spark.sql.shuffle.partitions": ["2", "3", "4", "5", "6", "7"]}
    return parse_config({"sweep": {"scales": [300, 100, 200], "repeats": 1, "warmup": 0, "grid": grid,
                                   "strategy": "halving", **sweep}})  # fmt: skip


def test_a_budget_too_small_for_the_first_rung_stops_the_ladder_and_says_so(
    spark: SparkSession, tmp_path: Path
) -> None:
    lines: list[str] = []
    config = counting_halving(budget_s=1e-6)
    landings = {scale: str(tmp_path / f"landing-{scale}") for scale in (100, 200, 300)}
    summary = run_sweep(spark, config, landings, tmp_path / "work", tmp_path / "results",
                        workload=CountingWorkload(), progress=lines.append)  # fmt: skip
    (sweep,) = load_sweeps(tmp_path / "results")
    ladder = sweep.summary["payload"]["ladder"]
    assert [rung["scale"] for rung in ladder["rungs"]] == [100]  # ascending: the smallest first
    assert sweep.summary["payload"]["scales"] == [100]
    assert ladder["stop"]["reason"] == STOP_BUDGET
    (rung,) = ladder["rungs"]
    assert rung["promoted"] == 0 and not any(entry["promoted"] for entry in rung["points"])
    selected = [entry for entry in rung["points"] if entry["reason"]]
    assert len(selected) in (2, 3)  # the best 2 of 6, and the baseline when it is not among them
    assert rung["estimate_next_s"] == pytest.approx(
        sum(entry["run_seconds"] for entry in selected) * 200 / 100, rel=1e-3, abs=1e-3
    )
    stop_line = next(line for line in lines if line.startswith("[halving] budget stop"))
    assert stop_line.startswith(
        "[halving] budget stop after rung 1/3: rung 2 at 200 records is estimated at "
    )
    assert stop_line.endswith(
        f"0.0 s of the 1e-06 s budget left; the first rung alone took {rung['run_seconds']:.1f} s"
    )
    assert lines[0].startswith(
        f"sweep {summary.sweep_id}: successive halving, 6 point(s) x 1 repeat(s) at 100"
    )
    assert "[halving] rung 1/3: 100 records, 6 point(s) of the grid" in lines
    assert len(runs_in_order(tmp_path / "results")) == 6


def test_an_interrupted_ladder_resumes_with_the_same_promotions(spark: SparkSession, tmp_path: Path) -> None:
    results, work = tmp_path / "results", tmp_path / "work"
    landings = {scale: str(tmp_path / f"landing-{scale}") for scale in (100, 200, 300)}
    # 6 runs in rung 1, then the second run of rung 2 is interrupted.
    with pytest.raises(SweepInterrupted) as interrupted:
        run_sweep(spark, counting_halving(), landings, work, results,
                  workload=CountingWorkload(interrupt_at=7), progress=lambda _line: None)  # fmt: skip
    sweep_id = interrupted.value.sweep_id
    assert (interrupted.value.recorded, interrupted.value.runs) == (7, 6 + 3 + 2)
    before = [(r["payload"]["scale"], r["payload"]["point"]) for r in runs_in_order(results)]
    assert [scale for scale, _point in before] == [100] * 6 + [200]

    lines: list[str] = []
    second = CountingWorkload()
    summary = run_sweep(spark, counting_halving(), landings, work, results, workload=second,
                        progress=lines.append, resume=sweep_id)  # fmt: skip
    assert summary.kept_runs == 7
    (sweep,) = load_sweeps(results)
    ladder = sweep.summary["payload"]["ladder"]
    first, second_rung, third = ladder["rungs"]
    promoted = [entry["point"] for entry in first["points"] if entry["promoted"]]
    # The resumed session took rung 1's promotions from its records: the rung-2 run recorded
    # before the interruption is one of them, and rung 2 ran exactly those points.
    assert before[6][1] in promoted
    assert [entry["point"] for entry in second_rung["points"]] == promoted
    assert [entry["point"] for entry in third["points"]] == [
        entry["point"] for entry in second_rung["points"] if entry["promoted"]
    ]
    assert ladder["stop"]["reason"] == STOP_TOP_SCALE
    assert (
        "resuming: 7 run(s) recorded earlier are kept; each rung promotes from its records as it did" in lines
    )
    assert len(read_records(results, PLAN_KIND)) == 1
    assert [run["payload"]["run_index"] for run in sweep.runs] == list(range(len(sweep.runs)))


def test_a_random_sweep_runs_the_seeded_sample_at_every_scale(spark: SparkSession, tmp_path: Path) -> None:
    config = parse_config({"sweep": {"scales": [100, 200], "repeats": 1, "warmup": 0, "grid": GRID_12,
                                     "strategy": "random", "sample": 3}})  # fmt: skip
    landings = {scale: str(tmp_path / f"landing-{scale}") for scale in (100, 200)}
    run_sweep(spark, config, landings, tmp_path / "work", tmp_path / "results", workload=CountingWorkload(),
              progress=lambda _line: None)  # fmt: skip
    (sweep,) = load_sweeps(tmp_path / "results")
    grid = expand_grid(GRID_12)
    expected = [grid[index] for index in sample_points(grid, 0, 3, 42)]
    payload = sweep.summary["payload"]
    assert (payload["strategy"], payload["sample"], payload["ladder"]) == ("random", 3, None)
    assert [point["settings"] for point in payload["points"]] == expected
    assert [(r["payload"]["scale"], r["payload"]["settings"]) for r in sweep.runs] == [
        (scale, settings) for scale in (100, 200) for settings in expected
    ]
    (plan,) = read_records(tmp_path / "results", PLAN_KIND)
    assert plan["payload"]["points"] == expected and plan["payload"]["strategy"] == "random"
    report = render_report(sweep, tmp_path / "report", cost_from(sweep, None, None)).read_text()
    assert (
        "- strategy: random sample, 3 of the 12 grid points (the baseline among them), seeded with 42"
        in report
    )
    assert "## Ladder" not in report


def test_a_halving_sweep_on_spark_records_its_ladder_and_the_report_draws_it(
    spark: SparkSession, tmp_path: Path
) -> None:
    grid = {
        "spark.sql.adaptive.enabled": ["false"],
        "spark.sql.shuffle.partitions": ["1", "2", "3", "4"],
    }
    config = parse_config({"sweep": {"scales": [2_000, 1_000], "repeats": 1, "warmup": 0, "grid": grid,
                                     "workload": "spark-aggregation", "strategy": "halving",
                                     "budget_s": 3_600}})  # fmt: skip
    landings = {scale: str(tmp_path / f"landing-{scale}") for scale in (1_000, 2_000)}
    lines: list[str] = []
    summary = run_sweep(spark, config, landings, tmp_path / "work", tmp_path / "results",
                        workload=SparkAggregationWorkload(), progress=lines.append)  # fmt: skip
    assert summary.failed_runs == 0
    (sweep,) = load_sweeps(tmp_path / "results")
    payload = sweep.summary["payload"]
    ladder = payload["ladder"]
    assert payload["strategy"] == "halving" and payload["scales"] == [1_000, 2_000]
    rung_1, rung_2 = ladder["rungs"]
    assert (rung_1["scale"], rung_2["scale"]) == (1_000, 2_000)
    assert ladder["stop"] == {"reason": STOP_TOP_SCALE, "message": "top scale 2k reached at rung 2"}

    runs = {(r["payload"]["scale"], r["payload"]["point"]): r["payload"] for r in sweep.runs}
    # Each rung point's median is its one run's seconds; the rank orders them.
    for rung in (rung_1, rung_2):
        for entry in rung["points"]:
            run = runs[(rung["scale"], entry["point"])]
            assert entry["median_seconds"] == pytest.approx(run["total_seconds"], abs=1e-4)
            assert entry["run_seconds"] == pytest.approx(run["total_seconds"], abs=1e-4)
        by_rank = sorted(rung["points"], key=lambda entry: entry["rank"])
        assert [entry["median_seconds"] for entry in by_rank] == sorted(
            e["median_seconds"] for e in rung["points"]
        )
    # Rung 1: the best 1 of 4, plus the baseline when it is not the best; exactly those ran at 2k.
    best = [entry["point"] for entry in sorted(rung_1["points"], key=lambda e: e["rank"])[:1]]
    baseline = "adaptive.enabled=false, shuffle.partitions=1"
    expected = sorted({*best, baseline}, key=lambda label: int(label[-1]))
    assert [entry["point"] for entry in rung_1["points"] if entry["promoted"]] == expected
    assert [entry["point"] for entry in rung_2["points"]] == expected
    assert not any(entry["promoted"] for entry in rung_2["points"])  # the top scale promotes nobody
    assert rung_1["estimate_next_s"] == pytest.approx(
        sum(runs[(1_000, label)]["total_seconds"] for label in expected) * 2, rel=1e-3
    )
    assert ladder["spent_s"] == pytest.approx(sum(r["total_seconds"] for r in runs.values()), abs=1e-3)
    assert len(sweep.runs) == 4 + len(expected)
    assert f"[halving] rung 2/2: 2k records, {len(expected)} point(s) promoted from 1k" in lines
    assert "[halving] top scale 2k reached at rung 2" in lines
    (plan,) = read_records(tmp_path / "results", PLAN_KIND)
    assert (plan["payload"]["strategy"], plan["payload"]["budget_s"], plan["payload"]["scales"]) == (
        "halving", 3_600.0, [1_000, 2_000],
    )  # fmt: skip

    # Statistics cover only the points each rung ran.
    stats = point_stats(sweep, cost_from(sweep, None, None))
    assert [(s.scale, s.point) for s in stats] == [(1_000, e["point"]) for e in rung_1["points"]] + [
        (2_000, label) for label in expected
    ]
    out = tmp_path / "report"
    text = render_report(sweep, out, cost_from(sweep, None, None)).read_text()
    assert "## Ladder" in text and "### Rung 1: 1,000 records" in text and "### Rung 2: 2,000 records" in text
    assert "**Stopped:** top scale 2k reached at rung 2." in text
    assert "![median seconds per rung](img/ladder.png)" in text
    image = (out / "img" / "ladder.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 10_000


def test_a_plan_recorded_before_strategies_resumes_as_a_grid_sweep(tmp_path: Path) -> None:
    sweep = {"scales": [100], "repeats": 2, "grid": {"spark.sql.shuffle.partitions": ["2", "3"]}}
    plan = sweep_plan(SweepConfig.model_validate(sweep), CountingWorkload(), 42)
    old = {
        key: value for key, value in plan.items() if key not in ("strategy", "sample", "budget_s", "points")
    }
    write_record(
        new_record(PLAN_KIND, {"harness_schema": 1, "sweep_id": "sweep-old", **old}, seed=42), tmp_path
    )
    assert recorded_sweep(tmp_path, "sweep-old", plan).runs == {}
    halving = sweep_plan(
        SweepConfig.model_validate({**sweep, "scales": [100, 200], "strategy": "halving"}),
        CountingWorkload(),
        42,
    )
    with pytest.raises(UserError, match="it started with scales \\[100\\]"):
        recorded_sweep(tmp_path, "sweep-old", halving)
    with pytest.raises(
        UserError, match='it started with strategy "grid", the config and options now give "halving"'
    ):
        recorded_sweep(tmp_path, "sweep-old", {**plan, "strategy": "halving"})
