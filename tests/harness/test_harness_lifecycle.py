"""`lakelab lifecycle`: options, the pure pieces, and one real run at a tiny scale."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.lifecycle import (
    layer_totals,
    measure_reads,
    parse_versions,
    plan_lifecycle,
    ratios,
    read_queries,
    run_lifecycle_command,
)
from harness.lifecycle_report import drift
from lakelab.cli import main
from lakelab.config import LakelabConfig, parse_config
from lakelab.errors import UserError
from loadtest.queries import Bounds

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _args(**options: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "records": "2000",
        "batches": 1,
        "reads": 1,
        "versions": None,
        "retain_hours": 0.0,
        "seed": None,
        "landing": None,
        "warehouse": None,
        "out": None,
        "results": None,
    }
    values.update(options)
    return argparse.Namespace(**values)


def test_versions_default_to_first_middle_and_last_and_refuse_what_is_not_a_batch() -> None:
    assert parse_versions(None, 20) == (0, 10, 20)
    assert parse_versions(None, 1) == (0, 1)
    assert parse_versions("3, 1,3", 5) == (1, 3)
    with pytest.raises(UserError, match=r"^--versions 1,x: 'x' is not a batch number$"):
        parse_versions("1,x", 5)
    with pytest.raises(UserError, match=r"^--versions 6: batch 6 is past the last one, 5$"):
        parse_versions("6", 5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--batches", "0"], "--batches 0: give 1 to 99 incremental batches"),
        (["--batches", "100"], "--batches 100: give 1 to 99 incremental batches"),
        (["--reads", "0"], "--reads 0: give 1 or more rounds"),
        (["--retain-hours", "-1"], "--retain-hours -1: a retention cannot be negative"),
        (
            ["--records", "lots"],
            "--records: 'lots' is not a record count (use e.g. 100k, 1M, 10M or 1_000_000)",
        ),
        (
            ["--landing", "s3a://bucket/landing"],
            "--landing s3a://bucket/landing: lifecycle runs on local folders (it links batches into a view)",
        ),
    ],
)
def test_bad_options_are_one_line_exit_2_before_spark_starts(
    no_spark: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["lifecycle", *options]) == 2
    assert capsys.readouterr().err == f"lakelab: error: {message}\n"


def test_a_warehouse_that_holds_something_is_refused(tmp_path: Path) -> None:
    config = parse_config({"paths": {"sweep": str(tmp_path / "sweep")}}, "test")
    full = tmp_path / "full"
    full.mkdir()
    (full / "silver").mkdir()
    with pytest.raises(UserError, match=r"^--warehouse .*full: not empty; lifecycle builds its tables"):
        plan_lifecycle(config, _args(warehouse=str(full)))
    plan = plan_lifecycle(config, _args(warehouse=str(tmp_path / "new"), versions="1"))
    assert (plan.records, plan.batches, plan.versions, plan.warehouse) == (2000, 1, (1,), tmp_path / "new")
    assert plan.landing == tmp_path / "sweep" / "lifecycle" / "landing-2000-1b-seed42"


def test_reads_are_the_same_sql_for_the_same_seed_and_filtered_by_it() -> None:
    bounds = Bounds(dt.date(2024, 1, 1), dt.date(2025, 6, 30), ("AMER", "EMEA"))
    first = read_queries("/wh", bounds, 7, 1234)
    assert first == read_queries("/wh", bounds, 7, 1234)
    assert first != read_queries("/wh", bounds, 8, 1234)
    assert len(first) == 6
    assert "WHERE order_id = 1234 ORDER BY line_number" in first["silver_lines_of_one_order"]
    assert "delta.`/wh/silver/orders`" in first["silver_orders_by_month"]
    assert "delta.`/wh/gold/daily_revenue`" in first["region_revenue_by_segment"]


def test_measure_reads_keeps_every_round_and_each_query_rows() -> None:
    calls: list[str] = []

    def rows(sql: str) -> int:
        calls.append(sql)
        return len(sql)

    figures = measure_reads(rows, {"a": "xx", "b": "yyyy"}, 3)
    assert calls == ["xx", "yyyy"] * 3
    assert [figures["queries"][name]["rows"] for name in ("a", "b")] == [2, 4]
    assert all(len(figures["queries"][name]["ms"]) == 3 for name in ("a", "b"))
    assert len(figures["round_ms"]) == 3
    assert figures["median_round_ms"] == sorted(figures["round_ms"])[1]


def test_ratios_compare_after_with_before_per_query_and_per_round() -> None:
    before = {"queries": {"q": {"ms": [100.0, 110.0, 90.0]}}, "round_ms": [200.0, 220.0, 180.0]}
    after = {"queries": {"q": {"ms": [50.0, 55.0, 45.0]}}, "round_ms": [100.0, 110.0, 90.0]}
    figures = ratios(after, before)
    assert figures["q"]["ratio"] == pytest.approx(0.5)
    assert figures["q"]["verdict"] == "faster"
    assert figures["all queries (per round)"]["ratio"] == pytest.approx(0.5)


def test_layer_totals_and_drift() -> None:
    states = [
        {"layer": "silver", "files": 3, "bytes": 30},
        {"layer": "silver", "files": 2, "bytes": 5},
        {"layer": "gold", "files": 1, "bytes": 7},
    ]
    assert layer_totals(states) == {"silver": {"files": 5, "bytes": 35}, "gold": {"files": 1, "bytes": 7}}
    batches = [
        {"batch": b, "layer_seconds": {"silver": 10.0 + b}, "reads": {"median_round_ms": 100.0 * (b + 1)}}
        for b in range(4)
    ]
    assert drift(batches, "silver") == (11.0, 13.0)
    assert drift(batches, "reads") == (200.0, 400.0)
    assert drift(batches[:1], "silver") is None


@pytest.fixture(scope="module")
def lifecycle_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One real run: 2,000 records, batch 0 and one CDC batch, one round of reads."""
    root = tmp_path_factory.mktemp("lifecycle")
    config: LakelabConfig = parse_config(
        {
            # The suite's running session is used as it is (`lakelab.spark.get_session`).
            "spark": {"master": "local[2]", "log_level": "ERROR"},
            "paths": {"sweep": str(root / "sweep"), "reports": str(root / "reports")},
            "datagen": {"seed": 11},
        },
        "test",
    )
    out = root / "report"
    results = root / "results"
    assert run_lifecycle_command(config, _args(out=str(out), results=str(results))) == 0
    (record,) = results.glob("lifecycle-*.json")
    return json.loads(record.read_text()), out


def test_each_batch_is_ingested_once_in_order_and_reconciled(lifecycle_run: tuple[dict, Path]) -> None:
    payload = lifecycle_run[0]["payload"]
    batches = payload["per_batch"]
    assert [b["batch"] for b in batches] == [0, 1]
    assert all(b["reconciled"] for b in batches)
    for b in batches:
        bronze = [s for s in b["stages"] if s["layer"] == "bronze" and s["rows_in"] > 0]
        assert bronze, f"batch {b['batch']} ingested nothing"
        assert all(s["rows_in"] == s["rows_out"] + s["rows_quarantined"] for s in bronze)
    # Batch 1 holds new keys and updates: Silver grows, and no Silver table shrinks.
    rows = [{t["table"]: t["rows"] for t in b["tables"] if t["layer"] == "silver"} for b in batches]
    assert sum(rows[1].values()) > sum(rows[0].values())
    assert all(rows[1][name] >= rows[0][name] for name in rows[0])
    # Every Silver table got a new version from batch 1's MERGE.
    versions = [{t["table"]: t["version"] for t in b["tables"]} for b in batches]
    assert all(versions[1][name] > versions[0][name] for name in rows[0])


def test_optimize_compacts_and_the_reads_return_the_same_rows(lifecycle_run: tuple[dict, Path]) -> None:
    payload = lifecycle_run[0]["payload"]
    last, optimize = payload["per_batch"][-1], payload["optimize"]
    assert optimize["layer_totals"]["silver"]["files"] < last["layer_totals"]["silver"]["files"]
    before_rows = {name: q["rows"] for name, q in last["reads"]["queries"].items()}
    after_rows = {name: q["rows"] for name, q in optimize["reads"]["queries"].items()}
    assert before_rows == after_rows
    assert before_rows["silver_lines_of_one_order"] >= 1
    assert set(optimize["ratios"]) == {*before_rows, "all queries (per round)"}


def test_time_travel_reads_what_each_version_held_and_vacuum_keeps_the_current(
    lifecycle_run: tuple[dict, Path],
) -> None:
    payload = lifecycle_run[0]["payload"]
    travel = payload["time_travel"]
    assert {t["batch"] for t in travel} == {0, 1}
    assert len(travel) == 2 * 9  # every Silver table at both batches
    assert all(t["readable"] and t["matches"] for t in travel)
    vacuum = payload["vacuum"]
    assert vacuum["disk_after"]["files"] < vacuum["disk_before"]["files"]
    assert vacuum["current_kept"]
    assert vacuum["current_after"] == vacuum["current_before"]
    # With no retention, the versions OPTIMIZE rewrote lose their files.
    assert not all(t["readable"] for t in vacuum["time_travel_after"])


def test_report_and_pictures_are_written(lifecycle_run: tuple[dict, Path]) -> None:
    record, out = lifecycle_run
    assert record["kind"] == "lifecycle"
    text = (out / "report.md").read_text()
    assert "# Table life cycle: 2,000 records, 1 CDC batch\n" in text
    assert "Every batch reconciled" in text
    for image in ("seconds", "files", "reads"):
        png = out / "img" / f"{image}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"img/{image}.png" in text
