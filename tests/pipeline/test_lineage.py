"""OpenLineage events: the pure builders, and what one pipeline run on the hand-built landing writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pipeline_landing as pl
import pytest
from pipeline_helpers import pipeline_config

from pipeline.contracts import GOLD, SILVER_ORDERS, contract
from pipeline.lineage import (
    GOLD_COLUMN_SOURCES,
    GOLD_INPUTS,
    ColumnEdge,
    LineageWriter,
    WrittenTable,
    lineage_folder,
    lineage_graph,
    pipeline_parent_run_id,
    read_events,
    referenced_columns,
    silver_column_lineage,
)
from pipeline.result import PipelineRunResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_referenced_columns_ignore_literals_and_case() -> None:
    expression = "CASE WHEN upper(status) = 'CURRENCY' THEN order_total * 2 END"
    assert referenced_columns(expression, ["ORDER_TOTAL", "STATUS", "CURRENCY"]) == ["ORDER_TOTAL", "STATUS"]
    assert referenced_columns("`Odd Name` + 1", ["Odd Name", "Name"]) == ["Odd Name"]


def test_silver_column_lineage_from_the_contract() -> None:
    fields = silver_column_lineage(SILVER_ORDERS, "file:///w")

    def sources(column: str) -> list[tuple[str, str, str]]:
        return [
            (i["name"], i["field"], i["transformations"][0]["subtype"]) for i in fields[column]["inputFields"]
        ]

    assert sources("order_id") == [("bronze.snowflake_orders", "ORDER_ID", "IDENTITY")]
    assert sources("order_total_usd") == [
        ("bronze.snowflake_orders", "CURRENCY", "TRANSFORMATION"),
        ("bronze.snowflake_orders", "ORDER_TOTAL", "TRANSFORMATION"),
    ]
    assert sources("_batch_id") == [("bronze.snowflake_orders", "_batch_id", "IDENTITY")]


def test_gold_column_sources_name_real_columns() -> None:
    for table in GOLD:
        declared = set(table.column_names)
        mapped = set(GOLD_COLUMN_SOURCES[table.name])
        constants = {"model", "dimension"} if table.name == "revenue_attribution" else set()
        assert mapped == declared - constants, table.name
        for _subtype, sources in GOLD_COLUMN_SOURCES[table.name].values():
            for source in sources:
                silver_table, column = source.split(".")
                assert silver_table in GOLD_INPUTS[table.name], source
                assert column in contract(f"silver.{silver_table}").column_names, source


def test_events_go_under_the_warehouse_or_the_reports_folder(tmp_path: Path) -> None:
    assert lineage_folder("/data/warehouse/", "reports") == "/data/warehouse/_ops/lineage"
    assert lineage_folder("s3a://lake/warehouse", str(tmp_path)) == str(tmp_path / "lineage")


def test_an_unwritable_folder_is_an_error_message_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    writer = LineageWriter(str(tmp_path / "file" / "lineage"), "run-1", str(tmp_path), str(tmp_path))
    assert writer.emit([WrittenTable("silver", "orders", 1, 0, 0)]) == 0
    assert writer.error is not None and writer.error.startswith(
        f"lineage events not written to {tmp_path}/file/lineage/run-1.jsonl: "
    )
    assert writer.emit([WrittenTable("silver", "orders", 1, 0, 0)]) == 0  # no second try


def test_events_round_trip_through_the_file_transport(tmp_path: Path) -> None:
    writer = LineageWriter(str(tmp_path), "run-1", "/w", "/l")
    assert writer.emit([WrittenTable("gold", "rfm_segments", 7, None, 2)]) == 1
    (event,) = read_events(tmp_path / "run-1.jsonl")
    assert event["job"] == {"namespace": "lakelab", "name": "lakelab.gold.rfm_segments", "facets": {}}
    assert event["run"]["facets"]["lakelab"]["batchTo"] == 2
    assert event["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 7
    assert event["run"]["facets"]["parent"]["run"]["runId"] == pipeline_parent_run_id("run-1")


@pytest.fixture(scope="module")
def one_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, PipelineRunResult]:
    """All layers over batch 0 of the hand-built landing, lineage on (the default)."""
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("lineage")
    pl.write_batch(root / "landing", 0)
    warehouse = str(root / "warehouse")
    return warehouse, run_pipeline(spark, pipeline_config(), str(root / "landing"), warehouse)


def _by_output(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {event["outputs"][0]["name"]: event for event in events}


def test_one_event_per_table_the_run_wrote(one_run: tuple[str, PipelineRunResult]) -> None:
    warehouse, result = one_run
    files = sorted(Path(warehouse, "_ops", "lineage").iterdir())
    assert [f.name for f in files] == [f"{result.run_id}.jsonl"]
    events = read_events(Path(warehouse, "_ops", "lineage"))
    written = sorted(f"{s.layer}.{s.table}" for s in result.stages if s.table != "(layer commit)")
    assert sorted(e["outputs"][0]["name"] for e in events) == written
    assert {e["eventType"] for e in events} == {"COMPLETE"}
    assert {e["run"]["facets"]["lakelab"]["pipelineRunId"] for e in events} == {result.run_id}
    silver_orders = _by_output(events)["silver.orders"]
    stage = next(s for s in result.stages if (s.layer, s.table) == ("silver", "orders"))
    assert silver_orders["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == stage.rows_out > 0
    assert silver_orders["outputs"][0]["namespace"] == Path(warehouse).resolve().as_uri()


def test_events_name_the_inputs_and_outputs(one_run: tuple[str, PipelineRunResult]) -> None:
    warehouse, _ = one_run
    events = _by_output(read_events(Path(warehouse, "_ops", "lineage")))
    assert [i["name"] for i in events["silver.orders"]["inputs"]] == ["bronze.snowflake_orders"]
    assert events["silver.orders"]["job"]["name"] == "lakelab.silver.orders"
    assert [i["name"] for i in events["bronze.snowflake_orders"]["inputs"]] == ["landing.snowflake.orders"]
    assert sorted(i["name"] for i in events["gold.daily_revenue"]["inputs"]) == [
        "silver.customers",
        "silver.orders",
    ]
    assert [i["name"] for i in events["gold.rfm_segments"]["inputs"]] == ["silver.orders"]
    assert "columnLineage" not in events["bronze.snowflake_orders"]["outputs"][0]["facets"]


def test_column_lineage_maps_gold_columns_to_silver_and_on_to_bronze(
    one_run: tuple[str, PipelineRunResult],
) -> None:
    warehouse, _ = one_run
    tables, columns = lineage_graph(read_events(Path(warehouse, "_ops", "lineage")))
    assert ("silver.orders", "gold.daily_revenue") in tables
    assert ("bronze.snowflake_orders", "silver.orders") in tables
    assert ("landing.snowflake.orders", "bronze.snowflake_orders") in tables
    revenue = [
        e for e in columns if (e.target_table, e.target_column) == ("gold.daily_revenue", "revenue_usd")
    ]
    assert revenue == [
        ColumnEdge("silver.orders", "order_total_usd", "gold.daily_revenue", "revenue_usd", "AGGREGATION")
    ]
    upstream = sorted(
        (e.source_column, e.subtype)
        for e in columns
        if (e.target_table, e.target_column) == ("silver.orders", "order_total_usd")
    )
    assert upstream == [("CURRENCY", "TRANSFORMATION"), ("ORDER_TOTAL", "TRANSFORMATION")]
