"""Reports and guides rendered from hand-built records: exact figures, real PNGs."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.guides import render_guides
from harness.report import cost_from, plot_throughput, render_report
from harness.results import CostAssumptions, load_sweeps, point_stats, select_sweep
from lakelab.errors import UserError
from lakelab.records import API_VERSION

SweepBuilder = Callable[..., str]

TWO_POINTS = {
    "shuffle.partitions=2": ({"spark.sql.shuffle.partitions": "2"}, [10.0, 14.0, 12.0]),
    "shuffle.partitions=8": ({"spark.sql.shuffle.partitions": "8"}, [6.0, 9.0, 30.0]),
}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_shows_exact_medians_ranges_and_ratios(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    results = tmp_path / "results"
    make_sweep(results, TWO_POINTS)
    sweep = select_sweep(load_sweeps(results), None)
    cost = cost_from(sweep, None, None)
    report = render_report(sweep, tmp_path / "out", cost, results_dir=results)
    text = report.read_text()
    assert (
        "| 1,000 | `shuffle.partitions=2` (baseline) | 3/3 | 12.00 | 10.00 | 14.00 | 1.00× |  | 83 |" in text
    )
    # Three repeats each: the percentile interval of the ratio is [6/14, 30/10], which holds 1.
    assert (
        "| 1,000 | `shuffle.partitions=8` | 3/3 | 9.00 | 6.00 | 30.00 | 0.75× "
        "| not established (95% CI 0.43–3.00, n=3) | 111 |"
    ) in text
    # bronze is half and silver a quarter of each run, the rest is outside stages.
    assert "| 1,000 | `shuffle.partitions=2` | 6.00 | 3.00 | 3.00 |" in text
    # 12 s x 2 cores = 24 core-s at $0.048/h = $0.00032, plus 1 MB for a month at $0.023/GB.
    assert "| 1,000 | `shuffle.partitions=2` | 2 | 24.0 | $0.000343 | $0.3430 |" in text
    assert "grid: `spark.sql.shuffle.partitions` ∈ {2, 8}; baseline `shuffle.partitions=2`" in text
    assert "1-minute load average 4.0 to 4.0 (median per point)" in text
    images = sorted((tmp_path / "out" / "img").glob("*.png"))
    assert [p.name for p in images] == [
        "cost-per-million-records.png",
        "seconds-by-point.png",
        "stages-by-point.png",
    ]
    for image in images:
        width, height = png_size(image)
        assert width > 400 and height > 300
        assert f"(img/{image.name})" in text
    # The median run priced on each AWS service: 12 s rounds up to a billed minute.
    priced = "| 1,000 | `shuffle.partitions=2` | $0.004000 | $0.002525 | $0.0147 | $0.000023 | $0.000020 |"
    assert priced in text
    assert "Prices (`harness/prices.toml`, us-east-1, checked 2026-11-27):" in text
    # One scale: no line to draw through it.
    assert "One scale only: throughput against scale needs two or more" in text


def test_throughput_is_plotted_log_log_only_over_two_or_more_scales(
    tmp_path: Path, make_sweep: SweepBuilder
) -> None:
    results = tmp_path / "results"
    make_sweep(results, TWO_POINTS, scales=[1_000, 10_000])
    sweep = select_sweep(load_sweeps(results), None)
    stats = point_stats(sweep, cost_from(sweep, None, None))
    assert sorted({s.scale for s in stats}) == [1_000, 10_000]
    # Ten times the records in ten times the seconds: the same median throughput.
    baseline = {s.scale: s.median_records_per_second for s in stats if s.is_baseline}
    assert baseline[1_000] == pytest.approx(baseline[10_000], rel=0.01)
    image = plot_throughput(stats, tmp_path / "t.png")
    assert image is not None and png_size(image)[0] > 400
    assert plot_throughput([s for s in stats if s.scale == 1_000], tmp_path / "one.png") is None
    assert not (tmp_path / "one.png").exists()
    text = render_report(sweep, tmp_path / "out", cost_from(sweep, None, None)).read_text()
    assert "(img/throughput-vs-scale.png)" in text


def test_cost_override_changes_the_estimate(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    make_sweep(tmp_path, TWO_POINTS)
    sweep = load_sweeps(tmp_path)[0]
    cost = cost_from(sweep, 1.0, 0.0)
    assert cost == CostAssumptions(usd_per_core_hour=1.0, usd_per_gb_month=0.0, cores=0)
    baseline = next(s for s in point_stats(sweep, cost) if s.is_baseline)
    assert baseline.usd_per_run(cost) == pytest.approx(24 / 3600)
    assert baseline.usd_per_million_records(cost) == pytest.approx(24 / 3600 * 1000)


def test_failed_runs_are_listed_and_left_out_of_medians(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    make_sweep(tmp_path, TWO_POINTS, failed=["shuffle.partitions=8"])
    sweep = load_sweeps(tmp_path)[0]
    text = render_report(sweep, tmp_path / "out", cost_from(sweep, None, None)).read_text()
    # Repeat 1 of the second point failed: the median is over 9 and 30.
    assert "| 1,000 | `shuffle.partitions=8` | 2/3 | 19.50 | 9.00 | 30.00 | 1.62× |" in text
    assert "## Failed runs" in text
    assert "PipelineError: reconciliation failed" in text


def test_unknown_api_version_fails_clearly(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    make_sweep(tmp_path, TWO_POINTS)
    path = next(tmp_path.glob("sweep_run-*.json"))
    record = json.loads(path.read_text())
    record["api_version"] = API_VERSION + 98
    path.write_text(json.dumps(record))
    with pytest.raises(UserError) as error:
        load_sweeps(tmp_path)
    assert f"api_version {API_VERSION + 98}" in str(error.value)
    assert str(path) in str(error.value)


def test_unknown_harness_schema_fails_clearly(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    make_sweep(tmp_path, TWO_POINTS)
    path = next(tmp_path.glob("sweep_summary-*.json"))
    record = json.loads(path.read_text())
    record["payload"]["harness_schema"] = 7
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match="harness_schema 7 is not 1"):
        load_sweeps(tmp_path)


def test_no_records_and_unknown_sweep_are_user_errors(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    with pytest.raises(UserError, match="no results folder"):
        load_sweeps(tmp_path / "absent")
    with pytest.raises(UserError, match="no sweep records"):
        load_sweeps(tmp_path)
    make_sweep(tmp_path, TWO_POINTS)
    with pytest.raises(UserError, match="no sweep 'sweep-other'"):
        select_sweep(load_sweeps(tmp_path), "sweep-other")


def test_guides_render_findings_and_are_reproducible(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    results = tmp_path / "results"
    make_sweep(results, TWO_POINTS)
    first = render_guides(results, tmp_path / "a")
    second = render_guides(results, tmp_path / "b")
    assert [p.name for p in first] == ["performance-tuning.md", "cost-optimization.md"]
    for one, two in zip(first, second, strict=True):
        assert one.read_text() == two.read_text()
    performance = first[0].read_text()
    assert (
        "At 1,000 records `shuffle.partitions=8` had the lowest median: 9.00 s against 12.00 s "
        "for the baseline `shuffle.partitions=2`; not established (95% CI 0.43–3.00, n=3): "
        "do not act on this difference before more repeats."
    ) in performance
    assert "the bronze layer took 50% of the wall time (6.00 s)" in performance
    cost = first[1].read_text()
    assert "the cheapest point was `shuffle.partitions=8`: $0.2630 per million records" in cost
    for image in sorted((tmp_path / "a" / "img").glob("*.png")):
        png_size(image)
        assert f"(img/{image.name})" in performance + cost


def test_a_difference_is_stated_only_when_its_interval_excludes_one(
    tmp_path: Path, make_sweep: SweepBuilder
) -> None:
    results = tmp_path / "results"
    separated = {
        "shuffle.partitions=2": ({"spark.sql.shuffle.partitions": "2"}, [10.0, 10.5, 11.0]),
        "shuffle.partitions=8": ({"spark.sql.shuffle.partitions": "8"}, [5.0, 5.2, 5.4]),
    }
    make_sweep(results, separated)
    sweep = select_sweep(load_sweeps(results), None)
    fast = next(s for s in point_stats(sweep, cost_from(sweep, None, None)) if not s.is_baseline)
    assert fast.estimate is not None and fast.estimate.verdict == "faster"
    assert fast.estimate.low is not None and fast.estimate.high is not None and fast.estimate.high < 1
    performance, cost = (p.read_text() for p in render_guides(results, tmp_path / "docs"))
    assert "; established: 2.02× faster (95% CI 1.85–2.20, n=3)." in performance
    # The baseline is not compared with itself in the cost guide.
    assert "its time against the baseline's: 2.02× faster" in cost


def test_a_smoke_workload_sweep_is_not_evidence_in_the_guides(
    tmp_path: Path, make_sweep: SweepBuilder
) -> None:
    results = tmp_path / "results"
    make_sweep(results, TWO_POINTS, sweep_id="sweep-pipeline")
    smoke = make_sweep(results, TWO_POINTS, sweep_id="sweep-smoke")
    for path in results.glob("*.json"):  # make the second sweep a smoke-workload one
        record = json.loads(path.read_text())
        if record["payload"].get("sweep_id") == smoke:
            record["payload"]["workload"] = "spark-aggregation"
            path.write_text(json.dumps(record))
    docs = tmp_path / "docs"
    (docs / "img").mkdir(parents=True)
    (docs / "img" / "tuning-9-seconds.png").write_bytes(b"stale")
    (docs / "img" / "diagram.png").write_bytes(b"not the guides'")
    performance, _cost = (p.read_text() for p in render_guides(results, docs))
    assert "## 1. `shuffle.partitions` on the `pipeline` workload" in performance
    assert "## 2." not in performance
    assert (
        "Sweep `sweep-smoke` (the `spark-aggregation` smoke workload) is in the records but not used"
        in performance
    )
    # A plot no guide links any more is removed; other images are left alone.
    assert not (docs / "img" / "tuning-9-seconds.png").exists()
    assert (docs / "img" / "diagram.png").exists()
