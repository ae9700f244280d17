"""`lakelab catalog`: live facts from small Delta tables built from the contracts; the drift check."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline_helpers import pipeline_config

from lakelab.cli import main
from pipeline.catalog import Drift, LiveCatalog, TableFacts, find_drift, render_catalog
from pipeline.catalog_live import live_catalog, run, zorder_from_history
from pipeline.contracts import SILVER_CUSTOMERS, TableContract, contract

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ORDERS = contract("silver.orders")
ACCOUNTS = contract("bronze.crm_account")
DAILY_REVENUE = contract("gold.daily_revenue")


def _append(spark: SparkSession, table: TableContract, warehouse: str, rows: int, **values: str) -> str:
    """Append `rows` rows in one file: NULL everywhere but the given SQL `values`.

    The first append creates the table, partitioned as the contract says when facts are
    partitioned by date (the pipeline's `io.create_table` would cost one more commit).
    """
    columns = [f"CAST({values.get(c.name, 'NULL')} AS {c.type}) AS `{c.name}`" for c in table.columns]
    path = table.path(warehouse)
    writer = spark.range(rows).selectExpr(*columns).coalesce(1).write.format("delta").mode("append")
    writer.partitionBy(*table.partition_columns(partition_facts_by_date=True)).save(path)
    return path


def _args(warehouse: str | Path, check: bool = False, output: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(warehouse=str(warehouse), check=check, output=str(output) if output else None)


@pytest.fixture(scope="module")
def warehouse(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    """silver.orders (by date, two appends, OPTIMIZE ZORDER BY) and an evolved Bronze table."""
    from delta.tables import DeltaTable

    root = str(tmp_path_factory.mktemp("catalog") / "warehouse")
    orders = _append(spark, ORDERS, root, 3, dt="DATE'2026-01-02'", customer_id="id")
    _append(spark, ORDERS, root, 2, dt="DATE'2026-01-02'", customer_id="id + 10")
    DeltaTable.forPath(spark, orders).optimize().executeZOrderBy("customer_id")
    accounts = _append(spark, ACCOUNTS, root, 4)
    # Bronze takes a column the source added as text: the contract at work, not drift.
    spark.sql(f"ALTER TABLE delta.`{accounts}` ADD COLUMNS (Rating string)")
    return root


@pytest.fixture(scope="module")
def live(spark: SparkSession, warehouse: str) -> LiveCatalog:
    return live_catalog(spark, warehouse, partition_facts_by_date=True)


def test_facts_are_read_from_the_delta_log(live: LiveCatalog) -> None:
    assert [t.qualified_name for t in live.tables] == ["bronze.crm_account", "silver.orders"]
    orders = live.facts("silver.orders")
    assert orders is not None
    assert (orders.rows, orders.files, orders.version) == (5, 1, 2)  # two appends, OPTIMIZE
    assert orders.partition_columns == ("dt",)
    assert orders.zorder_columns == ("customer_id",)
    assert orders.last_operation == "OPTIMIZE"
    assert 0 < orders.size_bytes < orders.disk_bytes  # the two pre-OPTIMIZE files and the log are still there
    assert abs((datetime.now(UTC) - orders.last_operation_at).total_seconds()) < 600
    assert orders.columns == tuple((c.name, c.type) for c in ORDERS.columns)
    accounts = live.facts("bronze.crm_account")
    assert accounts is not None and accounts.columns[-1] == ("Rating", "string")
    assert (accounts.rows, accounts.files, accounts.version, accounts.zorder_columns) == (4, 1, 1, ())
    assert accounts.partition_columns == ()
    assert accounts.last_operation == "ADD COLUMNS"
    assert live.drifts == ()


def test_the_rendering_carries_the_live_facts(live: LiveCatalog, warehouse: str) -> None:
    markdown = render_catalog(live)
    assert markdown.startswith(f"# Data catalog of `{warehouse}`\n")
    assert "2 of 27 contract tables built, 0 drifts from the contracts" in markdown
    orders = markdown.split("### `silver.orders`")[1].split("###")[0]
    assert "**Live:** 5 rows; 1 file of " in orders
    assert "partitioned by `dt`; Z-order: `customer_id`; version 2, last operation OPTIMIZE at " in orders
    assert "Drift" not in orders
    accounts = markdown.split("### `bronze.crm_account`")[1].split("###")[0]
    assert "Columns added by schema evolution (as text): `Rating`." in accounts
    customers = markdown.split("### `silver.customers`")[1].split("###")[0]
    assert f"**Live:** not built (no Delta table at `{warehouse}/silver/customers`)." in customers


def test_check_passes_and_output_is_written(
    warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "catalog.md"
    assert (
        run(pipeline_config(partition_facts_by_date=True), _args(warehouse, check=True, output=output)) == 0
    )
    assert capsys.readouterr().out == f"2 of 27 contract tables built under {warehouse}: no drift\n"
    assert "**Live:** 4 rows; 1 file of " in output.read_text(encoding="utf-8")


def test_partitioning_unlike_the_config_is_drift(live: LiveCatalog) -> None:
    # Built with facts partitioned by date; the default config does not partition them.
    unpartitioned = LiveCatalog(live.warehouse, False, live.tables)
    assert [drift.line() for drift in unpartitioned.drifts] == [
        "drift silver.orders (partitioning): expected not partitioned, found partitioned by dt"
    ]
    assert "0 drifts" in render_catalog(live) and "1 drift from the contracts" in render_catalog(
        unpartitioned
    )


def test_a_table_altered_by_hand_fails_the_check(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyspark.sql import functions as sf

    warehouse = str(tmp_path / "warehouse")
    customers = _append(spark, SILVER_CUSTOMERS, warehouse, 2, customer_id="id")
    spark.sql(f"ALTER TABLE delta.`{customers}` ADD COLUMNS (loyalty_tier string)")
    revenue = _append(spark, DAILY_REVENUE, warehouse, 3, revenue_usd="12.5")
    # Someone rewrote Gold with revenue as a double and without the segment column.
    changed = spark.read.format("delta").load(revenue).drop("segment")
    changed = changed.withColumn("revenue_usd", sf.col("revenue_usd").cast("double"))
    changed.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(revenue)

    monkeypatch.chdir(tmp_path)  # no lakelab.toml of the repository's: the default config
    output = tmp_path / "catalog.md"
    assert main(["catalog", "--warehouse", warehouse, "--check", "--output", str(output)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "drift silver.customers.loyalty_tier: expected no such column, found string",
        "drift gold.daily_revenue.segment: expected string, found no such column",
        "drift gold.daily_revenue.revenue_usd: expected decimal(18,2), found double",
        f"2 of 27 contract tables built under {warehouse}: 3 drifts",
    ]
    section = output.read_text(encoding="utf-8").split("### `gold.daily_revenue`")[1].split("###")[0]
    assert "**Live:** 3 rows; 1 file of " in section
    assert "version 1, last operation WRITE at " in section
    assert "- gold.daily_revenue.revenue_usd: expected decimal(18,2), found double" in section


def test_a_folder_without_delta_tables_is_one_line_exit_2(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["catalog", "--warehouse", str(empty)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"lakelab: error: {empty}: no Delta tables here (looked for the contracts' tables, e.g. "
        f"{empty}/bronze/crm_account); build them with `lakelab pipeline run`\n"
    )


# --- the pure parts ---------------------------------------------------------------------------


def test_zorder_is_the_last_optimize_since_the_last_whole_rewrite() -> None:
    optimize = ("OPTIMIZE", {"zOrderBy": '["customer_id"]'})
    compaction = ("OPTIMIZE", {"zOrderBy": "[]"})
    append = ("WRITE", {"mode": "Append"})
    overwrite = ("WRITE", {"mode": "Overwrite"})
    assert zorder_from_history([append, compaction, optimize, append]) == ("customer_id",)
    assert zorder_from_history([overwrite, optimize]) == ()
    assert zorder_from_history([("MERGE", {}), ("OPTIMIZE", {"zOrderBy": '["a","b"]'})]) == ("a", "b")
    assert zorder_from_history([]) == ()


def _facts(
    table: TableContract, columns: tuple[tuple[str, str], ...], partitions: tuple[str, ...] = ()
) -> TableFacts:
    return TableFacts(
        table.qualified_name,
        "/w",
        0,
        0,
        0,
        0,
        0,
        partitions,
        (),
        "WRITE",
        datetime(2026, 1, 1, tzinfo=UTC),
        columns,
    )


def test_drift_names_table_column_expected_and_found() -> None:
    declared = tuple((c.name, c.type) for c in ACCOUNTS.columns)
    # A Bronze table that allows added columns takes them as text; any other type is drift.
    evolved = _facts(ACCOUNTS, (*declared, ("Rating", "string"), ("Score", "int")))
    assert find_drift(ACCOUNTS, evolved, False) == (
        Drift("bronze.crm_account", "Score", "no such column", "int"),
    )
    orders = _facts(
        ORDERS,
        tuple((c.name, "DECIMAL(18, 2)" if c.type == "decimal(18,2)" else c.type) for c in ORDERS.columns),
    )
    assert find_drift(ORDERS, orders, False) == ()  # type spelling is not drift
    assert [d.line() for d in find_drift(ORDERS, orders, True)] == [
        "drift silver.orders (partitioning): expected partitioned by dt, found not partitioned"
    ]
    live = LiveCatalog("/w", False, (evolved,))
    assert [d.line() for d in live.drifts] == [
        "drift bronze.crm_account.Score: expected no such column, found int"
    ]
