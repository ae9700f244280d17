"""Sweeps on the suite's SparkSession with a small real workload: records, order, settings, metrics."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.measure import TaskMetrics, summarize_stages, table_footprint
from harness.report import cost_from, render_report
from harness.results import load_sweeps
from harness.sweep import PLAN_KIND, RUN_KIND, SUMMARY_KIND, plan_point, run_sweep, upstream_layers
from harness.workloads import PipelineWorkload, SparkAggregationWorkload
from lakelab.config import LakelabConfig, parse_config
from lakelab.errors import UserError
from lakelab.records import API_VERSION, read_records

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def sweep_config(sweep: dict[str, object], **sections: object) -> LakelabConfig:
    return parse_config({"sweep": sweep, **sections}, "test")


def test_sweep_writes_well_formed_records_with_settings_applied(spark: SparkSession, tmp_path: Path) -> None:
    config = sweep_config(
        {
            "scales": [2_000],
            "repeats": 1,
            "warmup": 0,
            "workload": "spark-aggregation",
            # AQE off, so the aggregate's partitions (and files written) equal shuffle.partitions.
            "grid": {"spark.sql.adaptive.enabled": ["false"], "spark.sql.shuffle.partitions": ["1", "3"]},
        }
    )
    lines: list[str] = []
    summary = run_sweep(
        spark, config, {2_000: str(tmp_path / "landing")}, tmp_path / "work", tmp_path / "results",
        workload=SparkAggregationWorkload(), progress=lines.append,
    )  # fmt: skip
    assert summary.failed_runs == 0
    runs = read_records(tmp_path / "results", RUN_KIND)
    (summary_record,) = read_records(tmp_path / "results", SUMMARY_KIND)
    assert [r["payload"]["point"] for r in runs] == [
        "adaptive.enabled=false, shuffle.partitions=1",
        "adaptive.enabled=false, shuffle.partitions=3",
    ]
    assert [r["payload"]["output_files"] for r in runs] == [1, 3]
    for record in [*runs, summary_record]:
        assert record["api_version"] == API_VERSION
        assert record["seed"] == 42
        assert record["provenance"]["spark_version"] == "4.2.0"
        assert record["provenance"]["git_commit"]
        assert record["provenance"]["machine"]["cpu_count"] >= 1
    for run in runs:
        payload = run["payload"]
        assert payload["status"] == "ok"
        assert payload["stages"][0]["rows_in"] == 2_000
        assert payload["stages"][0]["rows_out"] == SparkAggregationWorkload.keys  # 2,000 events, 1,000 keys
        assert payload["records_per_second"] == pytest.approx(2_000 / payload["total_seconds"], rel=1e-3)
        metrics = payload["task_metrics"]
        assert metrics["tasks"] > 0 and metrics["executor_cpu_time_ms"] > 0
        assert metrics["shuffle_write_bytes"] > 0
        assert metrics["missing_stages"] == 0
        assert payload["memory"]["peak_jvm_rss_bytes"] > 0
        assert payload["tables"]["customer_revenue"]["files"] == payload["output_files"]
    assert summary_record["payload"]["run_record_ids"] == [r["record_id"] for r in runs]
    # The plan was recorded before the first run, so an interrupted sweep can be resumed.
    (plan,) = read_records(tmp_path / "results", PLAN_KIND)
    assert plan["created_at"] <= runs[0]["created_at"]
    assert summary_record["payload"]["plan_record_id"] == plan["record_id"]
    assert {key: plan["payload"][key] for key in ("sweep_id", "scales", "repeats", "axes", "baseline")} == {
        "sweep_id": summary.sweep_id,
        "scales": [2_000],
        "repeats": 1,
        "axes": ["spark.sql.adaptive.enabled", "spark.sql.shuffle.partitions"],
        "baseline": {"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "1"},
    }
    assert summary_record["payload"]["kept_runs"] == 0
    assert summary_record["payload"]["baseline"]["point"] == runs[0]["payload"]["point"]
    # The session's own values are back after the sweep.
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert any(line.startswith("[run 2/2] scale=2,000") for line in lines)
    assert not (tmp_path / "work" / summary.sweep_id).exists()  # warehouses cleaned up

    sweep = load_sweeps(tmp_path / "results")[0]
    report = render_report(sweep, tmp_path / "report", cost_from(sweep, None, None))
    assert "`adaptive.enabled=false, shuffle.partitions=3`" in report.read_text()


def test_a_value_spark_rejects_fails_before_any_run(spark: SparkSession, tmp_path: Path) -> None:
    config = sweep_config({"scales": [100], "workload": "spark-aggregation",
                           "grid": {"spark.sql.shuffle.partitions": ["2", "0"]}})  # fmt: skip
    with pytest.raises(UserError) as error:
        run_sweep(spark, config, {100: str(tmp_path / "landing")}, tmp_path / "w", tmp_path / "r",
                  progress=lambda _line: None)  # fmt: skip
    assert str(error.value).startswith("sweep.grid: Spark rejects spark.sql.shuffle.partitions='0'")
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / "landing").exists()
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"


def test_settings_spark_reads_at_start_need_a_restart(spark: SparkSession) -> None:
    plan = plan_point(
        {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "3g", "spark.sql.extensions": "x"},
        spark.conf.isModifiable,
    )
    assert plan.runtime_conf == {"spark.sql.shuffle.partitions": "4"}
    assert plan.restart_conf == {"spark.driver.memory": "3g", "spark.sql.extensions": "x"}


def test_task_metrics_collector_sees_one_job(spark: SparkSession) -> None:
    collector = TaskMetrics(spark)
    collector.begin()
    rows = spark.range(10_000).selectExpr("id % 7 AS k").groupBy("k").count().collect()
    collector.end()
    assert len(rows) == 7
    totals = collector.as_dict()
    assert totals["stages"] >= 1 and totals["tasks"] >= 2
    assert totals["shuffle_write_records"] >= 7
    frame = collector.as_dataframe()
    assert frame.count() == totals["stages"]
    assert sum(row["tasks"] for row in frame.collect()) == totals["tasks"]


def test_stage_sums_convert_units() -> None:
    stages = [
        {"executorCpuTime": 2_000_000, "executorRunTime": 5, "numTasks": 2, "peakExecutionMemory": 10},
        {"executorCpuTime": 1_000_000, "executorRunTime": 7, "numTasks": 1, "peakExecutionMemory": 30},
    ]
    totals = summarize_stages(stages)
    assert totals["executor_cpu_time_ms"] == 3  # nanoseconds to ms
    assert totals["executor_run_time_ms"] == 12
    assert totals["tasks"] == 3
    assert totals["peak_execution_memory_bytes"] == 30
    assert totals["stages"] == 2


def test_table_footprint_counts_data_files_and_log(tmp_path: Path) -> None:
    table = tmp_path / "silver" / "orders"
    (table / "_delta_log").mkdir(parents=True)
    (table / "_delta_log" / "00000.json").write_text("x" * 10)
    (table / "dt=2024-01-01").mkdir()
    (table / "dt=2024-01-01" / "part-0.parquet").write_bytes(b"y" * 100)
    (table / "dt=2024-01-01" / ".part-0.parquet.crc").write_bytes(b"z" * 8)
    (table / "part-1.parquet").write_bytes(b"y" * 50)
    assert table_footprint(str(tmp_path)) == {"silver/orders": {"files": 2, "bytes": 150, "log_bytes": 10}}
    assert table_footprint("s3a://bucket/warehouse") == {}


def _pipeline_ready() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("datagen.generate", "pipeline.orchestrate"))


@pytest.mark.slow
@pytest.mark.skipif(not _pipeline_ready(), reason="datagen.generate and pipeline.orchestrate not there yet")
def test_tiny_pipeline_sweep_end_to_end(spark: SparkSession, tmp_path: Path) -> None:
    # Gold only: Bronze and Silver are built once (not measured) and every run starts from a
    # copy of them, the way the demo sweeps.
    config = sweep_config(
        {
            "scales": [2_000],
            "repeats": 1,
            "warmup": 0,
            "layers": ["gold"],
            "grid": {"spark.sql.shuffle.partitions": ["2", "4"]},
        },
        datagen={"records": 2_000, "batches": 0},
    )
    summary = run_sweep(
        spark, config, {2_000: str(tmp_path / "landing")}, tmp_path / "work", tmp_path / "results",
        workload=PipelineWorkload(), progress=lambda _line: None,
    )  # fmt: skip
    assert summary.failed_runs == 0
    sweep = load_sweeps(tmp_path / "results")[0]
    assert len(sweep.runs) == 2
    assert sweep.summary["payload"]["upstream_layers"] == ["bronze", "silver"]
    outputs = []
    for run in sweep.runs:
        payload = run["payload"]
        assert payload["upstream_layers"] == ["bronze", "silver"]
        assert {stage["layer"] for stage in payload["stages"]} == {"gold"}
        assert {stage["table"] for stage in payload["stages"]} >= {"revenue_attribution", "customer_360"}
        assert all(stage["rows_out"] > 0 for stage in payload["stages"])
        outputs.append({stage["table"]: stage["rows_out"] for stage in payload["stages"]})
    # Both runs rebuilt Gold from the same Silver, so they wrote the same rows.
    assert outputs[0] == outputs[1]
    landing = sweep.summary["payload"]["landings"][0]
    assert landing["generated"] is True and landing["detail"]["rows"] > 0
    report = render_report(sweep, tmp_path / "report", cost_from(sweep, None, None))
    text = report.read_text()
    assert "| 2,000 | `shuffle.partitions=4` | 1/1 |" in text
    assert "every run starts from a copy of the bronze, silver tables, built once" in text


def test_upstream_layers_are_the_layers_before_the_first_swept() -> None:
    assert upstream_layers(["gold"]) == ["bronze", "silver"]
    assert upstream_layers(["silver", "gold"]) == ["bronze"]
    assert upstream_layers(["bronze", "silver", "gold"]) == []


def test_footprint_counts_nested_tables_on_their_own() -> None:
    from harness.measure import footprint_from_files

    files = [
        ("gold/rfm/_delta_log/00000.json", 7),
        ("gold/rfm/part-0.parquet", 40),
        ("gold/rfm/history/_delta_log/00000.json", 3),
        ("gold/rfm/history/part-0.parquet", 5),
        ("gold/rfm/_SUCCESS", 0),
        ("notes.txt", 99),
    ]
    assert footprint_from_files(files) == {
        "gold/rfm": {"files": 1, "bytes": 40, "log_bytes": 7},
        "gold/rfm/history": {"files": 1, "bytes": 5, "log_bytes": 3},
    }


def test_an_object_store_warehouse_is_listed_through_hadoop(spark: SparkSession, tmp_path: Path) -> None:
    """The s3a path goes through Hadoop's FileSystem; a file:// URI takes the same JVM code."""
    from harness.measure import footprint_from_files, hadoop_files

    table = tmp_path / "silver" / "orders"
    (table / "_delta_log").mkdir(parents=True)
    (table / "_delta_log" / "00000.json").write_text("x" * 10)
    (table / "part-1.parquet").write_bytes(b"y" * 50)
    listed = hadoop_files(spark, tmp_path.as_uri())
    assert sorted(listed) == [
        ("silver/orders/_delta_log/00000.json", 10),
        ("silver/orders/part-1.parquet", 50),
    ]
    assert footprint_from_files(listed) == {"silver/orders": {"files": 1, "bytes": 50, "log_bytes": 10}}
    assert hadoop_files(spark, (tmp_path / "missing").as_uri()) == []


def test_a_run_is_charged_only_for_what_it_wrote() -> None:
    from harness.measure import written_since

    copied = {
        "bronze/orders": {"files": 4, "bytes": 1000, "log_bytes": 10},
        "_ops/run_log": {"files": 1, "bytes": 50, "log_bytes": 5},
    }
    after = {
        "bronze/orders": {"files": 4, "bytes": 1000, "log_bytes": 10},  # copied, untouched
        "_ops/run_log": {"files": 2, "bytes": 90, "log_bytes": 9},  # appended to
        "silver/orders": {"files": 3, "bytes": 700, "log_bytes": 7},  # new
    }
    assert written_since(copied, after) == {"files": 1 + 3, "bytes": (40 + 4) + (700 + 7)}
    assert written_since({}, after)["bytes"] == 1010 + 99 + 707
