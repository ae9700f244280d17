"""End-to-end runs on the hand-built landing: reconciliation, conservation, idempotence,
a run killed mid-write, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pipeline_landing as pl
import pytest
from pipeline_helpers import IncrementalRuns, pipeline_config, table_snapshot, table_versions

from lakelab.errors import UserError
from lakelab.sources import BATCH_MARKERS, source_table
from pipeline import io
from pipeline.contracts import ALL_CONTRACTS, BATCH_ID, QUARANTINE, RUN_LOG, bronze_for, contract
from pipeline.run import run_pipeline

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[2]


def _landing_rows(qualified_name: str) -> int:
    return sum(n for (table, _), n in pl.LANDING_ROWS.items() if table == qualified_name)


@pytest.mark.slow
def test_bronze_reconciles_every_table_over_both_runs(
    spark: SparkSession, incremental_runs: IncrementalRuns
) -> None:
    runs = (incremental_runs.first, incremental_runs.second)
    assert all(run.reconciled for run in runs)
    seen: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    for run in runs:
        for stage in run.stages:
            if stage.layer == "bronze" and not stage.table.startswith("("):
                seen[stage.table] = seen.get(stage.table, 0) + stage.rows_in
                quarantined[stage.table] = quarantined.get(stage.table, 0) + stage.rows_quarantined
                assert stage.rows_in == stage.rows_out + stage.rows_quarantined
    expected = {bronze_for(source_table(t)).name: _landing_rows(t) for t, _ in pl.LANDING_ROWS}
    assert seen == expected
    assert quarantined == {
        "crm_account": 2,  # malformed line, AnnualRevenue "12,5O"
        "crm_contact": 0,
        "crm_campaign": 0,
        "crm_campaign_member": 0,
        "crm_opportunity": 0,
        "snowflake_customers": 0,
        "snowflake_products": 1,  # UNIT_PRICE "abc"
        "snowflake_orders": 0,
        "snowflake_order_lines": 3,  # QUANTITY "two", no ORDER_ID, DISCOUNT column not allowed
    }
    log = io.read_table(spark, RUN_LOG.path(incremental_runs.warehouse)).where("layer = 'bronze'")
    assert log.where("reconciled = false").count() == 0
    # Batch 1 delivers files for four tables; the other five log it as empty, so it is done.
    assert log.where("batch_to IS NOT NULL").count() == 9 + 9
    assert log.where("batch_from = 1 AND detail LIKE '%empty: no landing file%'").count() == 5


@pytest.mark.slow
def test_silver_holds_the_latest_version_of_each_key(
    spark: SparkSession, incremental_runs: IncrementalRuns
) -> None:
    warehouse = incremental_runs.warehouse
    accounts = {
        r["account_id"]: r for r in io.read_table(spark, contract("silver.account").path(warehouse)).collect()
    }
    assert sorted(accounts) == ["A1", "A2", "A6"]
    assert accounts["A1"]["account_name"] == "Acme"  # batch 1's older "Acme Old" did not win
    assert accounts["A2"]["industry"] == "Retail"  # batch 1's newer version did
    assert accounts["A6"]["billing_country_code"] == "US"
    orders = {
        r["order_id"]: r for r in io.read_table(spark, contract("silver.orders").path(warehouse)).collect()
    }
    assert sorted(orders) == [100, 101, 102, 103, 104, 106]
    assert orders[101]["status"] == "delivered"
    assert orders[101]["order_total_usd"] == Decimal("216.00")
    bronze_accounts = io.read_table(spark, contract("bronze.crm_account").path(warehouse))
    assert "Tier__c" in bronze_accounts.columns  # the allowed added column evolved Bronze
    assert bronze_accounts.where("Tier__c = 'Gold'").count() == 1
    reasons = {
        (r["layer"], r["table_name"], r["rule"])
        for r in io.read_table(spark, QUARANTINE.path(warehouse)).collect()
    }
    assert reasons == {
        ("bronze", "crm_account", "parseable"),
        ("bronze", "crm_account", "types_conform"),
        ("bronze", "snowflake_products", "types_conform"),
        ("bronze", "snowflake_order_lines", "types_conform"),
        ("bronze", "snowflake_order_lines", "key_present"),
        ("bronze", "snowflake_order_lines", "no_added_columns"),
        ("silver", "account", "required_present"),
        ("silver", "account", "size_in_range"),
        ("silver", "opportunity", "close_date_in_range"),
        ("silver", "orders", "total_in_range"),
    }


@pytest.mark.slow
def test_gold_conserves_revenue(spark: SparkSession, incremental_runs: IncrementalRuns) -> None:
    from pyspark.sql import functions as sf

    attribution = io.read_table(spark, contract("gold.revenue_attribution").path(incremental_runs.warehouse))
    totals = {
        (r["model"], r["dimension"]): r["total"]
        for r in attribution.groupBy("model", "dimension")
        .agg(sf.sum("attributed_revenue_usd").alias("total"))
        .collect()
    }
    # Orders 100 (300.00 USD), 101 (200 EUR = 216.00 USD) and 106 (100.00 USD) have touches.
    assert len(totals) == 6
    assert set(totals.values()) == {Decimal("616.00")}
    gold_stage = next(s for s in incremental_runs.second.stages if s.table == "revenue_attribution")
    assert "revenue conserved: 3 orders, 616.00 USD attributable" in gold_stage.detail


@pytest.mark.slow
def test_rerunning_the_same_batches_changes_nothing(
    spark: SparkSession, incremental_runs: IncrementalRuns
) -> None:
    warehouse = incremental_runs.warehouse
    versions = table_versions(spark, warehouse)
    again = run_pipeline(spark, pipeline_config(), str(incremental_runs.landing), warehouse)
    assert again.stages == []
    assert table_versions(spark, warehouse) == versions
    assert table_snapshot(spark, warehouse) == incremental_runs.snapshot


_KILLED_RUN = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import TEST_SPARK_CONFIG
    from lakelab.config import parse_config
    from lakelab.spark import get_session
    from pipeline.run import run_pipeline

    config = parse_config({{**TEST_SPARK_CONFIG, "pipeline": {pipeline!r}}})
    spark = get_session(config)
    run_pipeline(spark, config, {landing!r}, {warehouse!r}, progress=lambda line: print(line, flush=True))
    print("FINISHED", flush=True)
    """
)


def _run_and_kill(
    landing: Path,
    warehouse: str,
    kill_at: Callable[[str], bool],
    pause: float = 0.0,
    pipeline: dict[str, Any] | None = None,
) -> str:
    """Run every layer in a child process, with these `[pipeline]` settings, and SIGKILL it,
    JVM included, `pause` seconds after the first progress line `kill_at` accepts; return that line."""
    script = _KILLED_RUN.format(
        tests=str(REPO / "tests"), landing=str(landing), warehouse=warehouse, pipeline=dict(pipeline or {})
    )
    # Its own process group, so the JVM child dies with it.
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    killed_at = None
    assert child.stdout is not None
    deadline = time.monotonic() + 900
    for line in child.stdout:
        if kill_at(line):
            time.sleep(pause)
            os.killpg(child.pid, signal.SIGKILL)
            killed_at = line.strip()
            break
        assert "FINISHED" not in line and time.monotonic() < deadline
    child.wait(timeout=60)
    assert killed_at is not None, "the child never printed the line to be killed at"
    assert child.returncode == -signal.SIGKILL
    return killed_at


@pytest.mark.slow
def test_run_killed_mid_silver_write_then_rerun_matches_uninterrupted(
    spark: SparkSession, incremental_runs: IncrementalRuns, tmp_path: Path
) -> None:
    warehouse = str(tmp_path / "warehouse")
    _run_and_kill(
        incremental_runs.landing,
        warehouse,
        # Into an empty warehouse Silver's first write is an append (a later one a MERGE).
        lambda line: "silver account" in line and ("MERGE into" in line or "append to" in line),
        pause=0.5,  # let the write get going: the kill must land mid-write
    )
    # The killed run finished Bronze and never logged Silver.
    log = io.read_table(spark, RUN_LOG.path(warehouse))
    assert log.where("layer = 'silver'").count() == 0
    assert log.where("layer = 'bronze' AND batch_to = 1").count() == 9

    rerun = run_pipeline(spark, pipeline_config(), str(incremental_runs.landing), warehouse)
    assert rerun.reconciled
    assert [s.table for s in rerun.stages if s.layer == "bronze"] == []
    assert table_snapshot(spark, warehouse) == incremental_runs.snapshot


def _bronze_quarantined(spark: SparkSession, warehouse: str) -> list[tuple[str, int, int]]:
    """(table, batch, rows) Bronze put in the quarantine."""
    counts = io.read_table(spark, QUARANTINE.path(warehouse)).where("layer = 'bronze'")
    rows = counts.groupBy("table_name", "batch_id").count().collect()
    return sorted((str(r["table_name"]), int(r["batch_id"]), int(r["count"])) for r in rows)


@pytest.mark.slow
def test_run_killed_after_a_new_bronze_table_was_appended_to_then_rerun_adds_no_row_twice(
    spark: SparkSession, incremental_runs: IncrementalRuns, tmp_path: Path
) -> None:
    # A table the run creates gets a plain append, without Delta's transaction id: only
    # the re-run's read of the batches the table holds keeps them from being added again.
    warehouse = str(tmp_path / "warehouse")
    account = bronze_for(source_table("crm.account"))
    # One table at a time, crm_account first: when crm_contact starts, crm_account's append
    # has committed, and the run log comes only after the last table. (Two at a time, the two
    # start together and crm_account may not have committed yet.)
    _run_and_kill(
        incremental_runs.landing,
        warehouse,
        lambda line: line.startswith("bronze crm_contact "),
        pipeline={"parallel_tables": 1},
    )
    assert not io.is_delta_table(spark, RUN_LOG.path(warehouse))
    held = io.read_table(spark, account.path(warehouse)).select(BATCH_ID).distinct().collect()
    assert sorted(r[0] for r in held) == [0, 1]

    rerun = run_pipeline(
        spark, pipeline_config(), str(incremental_runs.landing), warehouse, layers=["bronze"]
    )
    assert rerun.reconciled
    assert f"bronze.{account.name} already holds batches [0, 1]: not written again" in rerun.notes
    # Every Bronze table (and the files set aside) as the uninterrupted, incremental run left them.
    tables = table_snapshot(spark, warehouse)
    del tables[QUARANTINE.qualified_name]  # it also holds Silver's rows in the other warehouse
    assert sum(name.startswith("bronze.") for name in tables) == 9
    assert tables == {name: incremental_runs.snapshot[name] for name in tables}
    quarantined = _bronze_quarantined(spark, warehouse)
    assert sum(rows for _, _, rows in quarantined) == 2 + 1 + 3  # crm_account, products, order_lines
    assert quarantined == _bronze_quarantined(spark, incremental_runs.warehouse)


def test_missing_landing_is_a_user_error(spark: SparkSession, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError, match=f"{missing}: landing folder not found"):
        run_pipeline(spark, pipeline_config(), str(missing), str(tmp_path / "wh"), ["bronze"])
    assert not (tmp_path / "wh").exists()


def test_unknown_layer_is_a_user_error(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown layer 'platinum'"):
        run_pipeline(spark, pipeline_config(), str(tmp_path), str(tmp_path / "wh"), ["bronze", "platinum"])


def test_landing_without_complete_batch_ingests_nothing(spark: SparkSession, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    pl.write_batch(landing, 0)
    (landing / BATCH_MARKERS / "0000.json").unlink()  # batch 0 not complete yet
    result = run_pipeline(spark, pipeline_config(), str(landing), str(tmp_path / "wh"), ["bronze"])
    assert result.stages == []
    assert any("no complete batch" in note for note in result.notes)
    assert not (tmp_path / "wh").exists()


def test_empty_batch_is_logged_and_reconciles(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative paths, as a user types them: Delta's table builder needs absolute ones.
    monkeypatch.chdir(tmp_path)
    landing = Path("landing")
    (landing / BATCH_MARKERS).mkdir(parents=True)
    (landing / BATCH_MARKERS / "0000.json").write_text(json.dumps({"batch": 0}))
    warehouse = "wh"
    result = run_pipeline(spark, pipeline_config(), str(landing), warehouse, ["bronze", "silver"])
    assert (tmp_path / "wh" / "_ops" / "run_log" / "_delta_log").is_dir()
    tables = [s for s in result.stages if not s.table.startswith("(")]
    assert len(tables) == 18
    assert all((s.rows_in, s.rows_out, s.rows_quarantined) == (0, 0, 0) for s in tables)
    assert all("empty" in s.detail for s in tables)
    assert result.reconciled
    # Logged as done: a second run does not look at batch 0 again.
    assert run_pipeline(spark, pipeline_config(), str(landing), warehouse, ["bronze", "silver"]).stages == []


def test_cli_missing_landing_exits_2_with_one_line(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakelab.cli import main

    code = main(["pipeline", "run", "--landing", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "wh")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f"lakelab: error: {tmp_path / 'nope'}: landing folder not found "
        "(run `lakelab generate` or check --landing)"
    ]


def test_cli_unknown_layer_exits_2_before_spark(capsys: pytest.CaptureFixture[str]) -> None:
    from lakelab.cli import main

    assert main(["pipeline", "run", "--layers", "bronze,gold,foo"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "lakelab: error: unknown layer 'foo' (choose from bronze, silver, gold)"
    )


def test_zorder_columns_follow_config_and_skip_partition_columns() -> None:
    from pipeline.config import PipelineConfig
    from pipeline.contracts import SILVER_ORDERS, TableContract
    from pipeline.maintain import zorder_columns

    assert zorder_columns(SILVER_ORDERS, PipelineConfig()) == ("customer_id",)
    assert zorder_columns(SILVER_ORDERS, PipelineConfig(zorder=False)) == ()
    by_dt = TableContract("gold", "t", "", (), partition_by=("dt",), zorder_by=("dt", "region"))
    # Facts are not partitioned by date by default, so `dt` is a Z-order column like any other.
    assert zorder_columns(by_dt, PipelineConfig()) == ("dt", "region")
    assert zorder_columns(by_dt, PipelineConfig(partition_facts_by_date=True)) == ("region",)


@pytest.mark.slow
def test_maintain_optimizes_with_zorder_and_keeps_the_data(
    spark: SparkSession, incremental_runs: IncrementalRuns
) -> None:
    from pipeline.config import PipelineConfig
    from pipeline.maintain import maintain_warehouse

    warehouse = incremental_runs.warehouse
    before = table_snapshot(spark, warehouse)
    lines: list[str] = []
    outcomes = maintain_warehouse(
        spark, PipelineConfig(vacuum_retention_hours=0), warehouse, ["gold"], lines.append
    )
    by_table = {o["table"]: o for o in outcomes}
    assert set(by_table) == {t.qualified_name for t in ALL_CONTRACTS if t.layer in ("gold", "ops")}
    assert by_table["gold.daily_revenue"]["zorder_by"] == ["region"]
    assert by_table["gold.rfm_segments"]["zorder_by"] == []
    assert any("ZORDER BY region" in line for line in lines)
    assert table_snapshot(spark, warehouse) == before
    # OPTIMIZE left one file per table; VACUUM with 0 h retention removed the rest from disk.
    daily = Path(contract("gold.daily_revenue").path(warehouse))
    assert len(list(daily.glob("*.parquet"))) == 1
