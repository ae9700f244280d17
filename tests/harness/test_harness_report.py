"""Reports and guides rendered from hand-built records: exact figures, real PNGs."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.guides import render_guides
from harness.report import cost_from, render_report
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
    assert "| 1,000 | `shuffle.partitions=2` (baseline) | 3/3 | 12.00 | 10.00 | 14.00 | 1.00× | 83 |" in text
    assert "| 1,000 | `shuffle.partitions=8` | 3/3 | 9.00 | 6.00 | 30.00 | 0.75× | 111 |" in text
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
        "throughput-vs-scale.png",
    ]
    for image in images:
        width, height = png_size(image)
        assert width > 400 and height > 300
        assert f"(img/{image.name})" in text


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
        "At 1,000 records `shuffle.partitions=8` was the fastest point: median 9.00 s against 12.00 s "
        "for the baseline `shuffle.partitions=2` (25% faster); its repeats' range overlaps the "
        "baseline's, so on this shared machine the difference is within run-to-run noise."
    ) in performance
    assert "the bronze layer took 50% of the wall time (6.00 s)" in performance
    cost = first[1].read_text()
    assert "the cheapest point was `shuffle.partitions=8`: $0.2630 per million records" in cost
    for image in sorted((tmp_path / "a" / "img").glob("*.png")):
        png_size(image)
        assert f"(img/{image.name})" in performance + cost
