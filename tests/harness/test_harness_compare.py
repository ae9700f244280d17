"""`lakelab compare OLD NEW` over hand-built record folders: verdicts, exit codes, errors."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.compare import compare_sweeps, resolve_side, run_compare, run_compare_command
from harness.results import load_sweeps
from lakelab.cli import main
from lakelab.config import load_config
from lakelab.errors import UserError

SweepBuilder = Callable[..., str]

TWO = {"spark.sql.shuffle.partitions": "2"}
EIGHT = {"spark.sql.shuffle.partitions": "8"}
OLD_SECONDS = [10.0, 10.4, 9.8, 10.2, 10.1]
HALF_SECONDS = [5.0, 5.2, 4.9, 5.1, 5.05]
# 3% slower with 0.4% noise: established, but inside a 5% threshold. (3% against the ±3%
# of OLD_SECONDS is not established: the statistics, not the threshold, decide that.)
TIGHT_SECONDS = [10.0, 10.01, 10.02, 10.03, 10.04]
THREE_PERCENT = [10.30, 10.31, 10.32, 10.33, 10.34]


def config_file(tmp_path: Path) -> Path:
    """A config whose `paths.results` is `tmp_path/results`, where sweep ids are looked up."""
    path = tmp_path / "lakelab.toml"
    path.write_text(f'[paths]\nresults = "{tmp_path / "results"}"\n')
    return path


def one_point(seconds: list[float]) -> dict[str, tuple[dict[str, str], list[float]]]:
    """`shuffle.partitions=2` alone, with these repeats."""
    return {"shuffle.partitions=2": (TWO, seconds)}


def two_folders(
    make_sweep: SweepBuilder, tmp_path: Path, old_points: Any, new_points: Any, **new_options: Any
) -> tuple[str, str]:
    """`sweep-old` in tmp_path/old and `sweep-new` in tmp_path/new; their folders."""
    make_sweep(tmp_path / "old", old_points, sweep_id="sweep-old")
    make_sweep(tmp_path / "new", new_points, sweep_id="sweep-new", **new_options)
    return str(tmp_path / "old"), str(tmp_path / "new")


def compare(tmp_path: Path, *argv: str) -> int:
    return main(["--config", str(config_file(tmp_path)), "compare", *argv])


def lines_with(text: str, *parts: str) -> list[str]:
    return [line for line in text.splitlines() if all(part in line for part in parts)]


def total_row(text: str) -> str:
    """The table's one `total` row."""
    (row,) = lines_with(text, "  total  ")
    return row


def make_older(results: Path, sweep_id: str) -> None:
    """Date `sweep_id`'s summary a year back, so the folder's newest sweep is the other one."""
    for path in results.glob("sweep_summary-*.json"):
        record = json.loads(path.read_text())
        if record["payload"]["sweep_id"] == sweep_id:
            record["created_at"] = "2025-01-01T00:00:00+00:00"
            path.write_text(json.dumps(record))


def test_a_faster_sweep_passes_and_says_how_much(
    tmp_path: Path, make_sweep: SweepBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = two_folders(make_sweep, tmp_path, one_point(OLD_SECONDS), one_point(HALF_SECONDS))
    assert compare(tmp_path, old, new) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OLD sweep-old in {tmp_path / 'old'} (code ")
    # Stages in pipeline order, then the total; the fixture's bronze is half and silver a quarter.
    rows = lines_with(out, "shuffle.partitions=2")
    assert [row.split()[2] for row in rows] == ["bronze", "silver", "total"]
    (total,) = lines_with(out, "shuffle.partitions=2", "total")
    assert total.split()[:5] == ["1,000", "shuffle.partitions=2", "total", "10.10", "5.05"]
    assert "2.00× faster (95% CI " in total
    assert total.endswith(", n=5)")
    assert "1 point(s) compared on their total: 1 faster, 0 slower, 0 not established" in out
    assert "no point is established more than 5% slower" in out


def test_a_slower_sweep_fails_with_exit_1_and_names_the_point(
    tmp_path: Path, make_sweep: SweepBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    points_old = {"shuffle.partitions=2": (TWO, OLD_SECONDS), "shuffle.partitions=8": (EIGHT, OLD_SECONDS)}
    points_new = {"shuffle.partitions=2": (TWO, OLD_SECONDS), "shuffle.partitions=8": (EIGHT, [15.0] * 5)}
    old, new = two_folders(make_sweep, tmp_path, points_old, points_new)
    assert compare(tmp_path, old, new) == 1
    out = capsys.readouterr().out
    (same,) = lines_with(out, "shuffle.partitions=2", "total")
    assert "not established (95% CI " in same
    (slower,) = lines_with(out, "shuffle.partitions=8", "total")
    assert "1.49× slower (95% CI " in slower
    assert "2 point(s) compared on their total: 0 faster, 1 slower, 1 not established" in out
    assert "REGRESSION: 1 point(s) more than 5% slower: shuffle.partitions=8 at 1,000: 1.49× slower" in out
    # Above 49% the same slowdown passes the gate.
    assert compare(tmp_path, old, new, "--threshold", "0.6") == 0
    assert "no point is established more than 60% slower" in capsys.readouterr().out


def test_the_threshold_separates_established_from_worth_failing(
    tmp_path: Path, make_sweep: SweepBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = two_folders(make_sweep, tmp_path, one_point(TIGHT_SECONDS), one_point(THREE_PERCENT))
    assert compare(tmp_path, old, new) == 0
    out = capsys.readouterr().out
    total = total_row(out)
    assert "1.03× slower (95% CI " in total
    assert "0 faster, 1 slower, 0 not established" in out
    assert compare(tmp_path, old, new, "--threshold", "0.01") == 1
    assert "REGRESSION: 1 point(s) more than 1% slower" in capsys.readouterr().out


def test_sweep_ids_are_looked_up_in_the_results_folder(
    tmp_path: Path, make_sweep: SweepBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    make_sweep(results, one_point(OLD_SECONDS), sweep_id="sweep-a")
    make_sweep(results, one_point(HALF_SECONDS), sweep_id="sweep-b")
    # From the config's paths.results, both ways round.
    assert compare(tmp_path, "sweep-b", "sweep-a") == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"OLD sweep-b in {results} ")
    assert "2.00× slower (95% CI " in total_row(out)
    # From --results, and a folder argument means its newest sweep (sweep-b).
    elsewhere = tmp_path / "elsewhere"
    results.rename(elsewhere)
    make_older(elsewhere, "sweep-a")
    assert compare(tmp_path, "--results", str(elsewhere), "sweep-a", str(elsewhere)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith(f"NEW sweep-b in {elsewhere} ")
    assert "2.00× faster (95% CI " in total_row(out)


def test_points_match_by_settings_and_scale_not_by_label_or_position(
    tmp_path: Path, make_sweep: SweepBuilder
) -> None:
    both = {"spark.sql.shuffle.partitions": "8", "spark.sql.adaptive.enabled": "true"}
    reversed_axes = {"spark.sql.adaptive.enabled": "true", "spark.sql.shuffle.partitions": "8"}
    make_sweep(
        tmp_path / "old",
        {"shuffle.partitions=2": (TWO | {"spark.sql.adaptive.enabled": "true"}, OLD_SECONDS)}
        | {"shuffle.partitions=8, adaptive.enabled=true": (both, OLD_SECONDS)},
        sweep_id="sweep-old",
    )
    make_sweep(
        tmp_path / "new",
        {"adaptive.enabled=true, shuffle.partitions=8": (reversed_axes, HALF_SECONDS)},
        sweep_id="sweep-new",
    )
    old = load_sweeps(tmp_path / "old")[0]
    new = load_sweeps(tmp_path / "new")[0]
    rows = compare_sweeps(old, new)
    assert [(row.point, row.stage) for row in rows] == [
        ("adaptive.enabled=true, shuffle.partitions=8", "bronze"),
        ("adaptive.enabled=true, shuffle.partitions=8", "silver"),
        ("adaptive.enabled=true, shuffle.partitions=8", "total"),
    ]
    assert rows[-1].old_median == pytest.approx(10.1)
    assert rows[-1].estimate.ratio == pytest.approx(0.5)


def test_failed_runs_are_left_out_of_the_counts(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    old_folder, new_folder = two_folders(
        make_sweep, tmp_path, one_point(OLD_SECONDS), one_point(HALF_SECONDS), failed=["shuffle.partitions=2"]
    )
    old = resolve_side(old_folder, tmp_path / "absent", "OLD")
    new = resolve_side(new_folder, tmp_path / "absent", "NEW")
    text, code = run_compare(old, new, 0.05)
    assert code == 0
    # The fixture fails repeat 1 (5.0 s): 4 runs left, median of 5.2, 4.9, 5.1, 5.05 = 5.075.
    total = total_row(text)
    assert total.split()[3:5] == ["10.10", "5.07"]
    assert total.endswith(", n=4 vs 5)")


def test_a_different_machine_or_workload_is_noted(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    old_folder, new_folder = two_folders(make_sweep, tmp_path, one_point(OLD_SECONDS), one_point(OLD_SECONDS))
    old = resolve_side(old_folder, tmp_path, "OLD")
    new = resolve_side(new_folder, tmp_path, "NEW")
    assert "note:" not in run_compare(old, new, 0.05)[0]
    new.sweep.summary["provenance"]["machine"]["cpu_count"] = 64
    new.sweep.summary["payload"]["spark"]["master"] = "spark://lab:7077"
    text = run_compare(old, new, 0.05)[0]
    (note,) = lines_with(text, "note:")
    assert "Spark master local[2] vs spark://lab:7077" in note
    assert "vs 64" in note


def test_sweeps_sharing_no_point_are_a_one_line_error(
    tmp_path: Path, make_sweep: SweepBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same settings at another scale are another point.
    old, new = two_folders(make_sweep, tmp_path, one_point(OLD_SECONDS), one_point(OLD_SECONDS), scale=10_000)
    assert compare(tmp_path, old, new) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("lakelab: error: sweeps sweep-old and sweep-new share no point")
    assert "OLD has `shuffle.partitions=2` at 1,000; NEW has `shuffle.partitions=2` at 10,000" in captured.err


def test_missing_folders_and_unknown_sweep_ids_are_named(
    tmp_path: Path, make_sweep: SweepBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    make_sweep(tmp_path / "results", one_point(OLD_SECONDS), sweep_id="sweep-a")
    missing = tmp_path / "nowhere"
    assert compare(tmp_path, str(missing), "sweep-a") == 2
    assert capsys.readouterr().err == f"lakelab: error: OLD {missing}: no such results folder\n"
    assert compare(tmp_path, "sweep-a", "sweep-zzz") == 2
    assert capsys.readouterr().err == (
        f"lakelab: error: NEW 'sweep-zzz': not a folder, and no sweep of that id in "
        f"{tmp_path / 'results'} (found: sweep-a)\n"
    )
    (tmp_path / "empty").mkdir()
    assert compare(tmp_path, "sweep-a", str(tmp_path / "empty")) == 2
    assert capsys.readouterr().err.startswith(f"lakelab: error: NEW {tmp_path / 'empty'}: no sweep records")
    assert compare(tmp_path, "sweep-a", "sweep-a", "--threshold", "-0.1") == 2
    assert "--threshold: -0.1 is not a fraction" in capsys.readouterr().err


def test_the_handler_runs_without_the_cli(tmp_path: Path, make_sweep: SweepBuilder) -> None:
    make_sweep(tmp_path / "results", one_point(OLD_SECONDS), sweep_id="sweep-a")
    config = load_config(str(config_file(tmp_path)))
    args = argparse.Namespace(old="sweep-a", new="sweep-a", results=None, threshold=0.05)
    assert run_compare_command(config, args) == 0
    with pytest.raises(UserError, match="OLD 'sweep-b'"):
        run_compare_command(config, argparse.Namespace(**{**vars(args), "old": "sweep-b"}))


def ladder_of(results: Path, sweep_id: str, rungs: list[tuple[int, list[str]]]) -> None:
    """Make `sweep_id` a halving ladder: each rung runs only its points at its scale; the run
    records of every other (scale, point) are removed, as a ladder never ran them."""
    kept = {(scale, point) for scale, points in rungs for point in points}
    removed = set()
    for path in results.glob("*.json"):
        record = json.loads(path.read_text())
        payload = record["payload"]
        if "status" in payload and (int(payload["scale"]), payload["point"]) not in kept:
            removed.add(record["record_id"])
            path.unlink()
    for path in results.glob("sweep_summary-*.json"):
        record = json.loads(path.read_text())
        payload = record["payload"]
        payload["run_record_ids"] = [i for i in payload["run_record_ids"] if i not in removed]
        payload["ladder"] = {
            "rungs": [{"scale": scale, "points": [{"point": p} for p in points]} for scale, points in rungs]
        }
        path.write_text(json.dumps(record))


def test_a_halving_sweep_compares_only_the_points_each_rung_ran(
    tmp_path: Path, make_sweep: SweepBuilder
) -> None:
    points = {"shuffle.partitions=2": (TWO, OLD_SECONDS), "shuffle.partitions=8": (EIGHT, HALF_SECONDS)}
    rungs = [(1_000, ["shuffle.partitions=2", "shuffle.partitions=8"]), (10_000, ["shuffle.partitions=2"])]
    for side in ("old", "new"):
        make_sweep(tmp_path / side, points, sweep_id=f"sweep-{side}", scales=(1_000, 10_000))
        ladder_of(tmp_path / side, f"sweep-{side}", rungs)
    (old,) = load_sweeps(tmp_path / "old")
    (new,) = load_sweeps(tmp_path / "new")
    rows = [row for row in compare_sweeps(old, new) if row.is_total]
    # The unpromoted point at 10,000 records is no row with no repeats: it was never run.
    assert [(row.scale, row.point) for row in rows] == [
        (1_000, "shuffle.partitions=2"),
        (1_000, "shuffle.partitions=8"),
        (10_000, "shuffle.partitions=2"),
    ]
    assert rows[2].old_median == rows[2].new_median == pytest.approx(101.0)
