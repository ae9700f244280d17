"""Helpers for the pipeline tests: table snapshots and versions, the default config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.config import LakelabConfig, parse_config
from pipeline.contracts import ALL_CONTRACTS, QUALITY_RESULTS, RUN_LOG
from pipeline.result import PipelineRunResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Columns that say *when* or *by which run* a row was written: they differ between runs
# that hold the same data.
RUN_SPECIFIC = {"_ingested_at", "_run_id", "run_id", "quarantined_at", "logged_at", "recorded_at", "seconds"}
PER_RUN_TABLES = {RUN_LOG.qualified_name, QUALITY_RESULTS.qualified_name}


def table_snapshot(spark: SparkSession, warehouse: str) -> dict[str, list[str]]:
    """Every data table (and the quarantine) as sorted rows, without run-specific columns."""
    from pipeline import io

    snapshot: dict[str, list[str]] = {}
    for table in ALL_CONTRACTS:
        if table.qualified_name in PER_RUN_TABLES:
            continue
        path = table.path(warehouse)
        if not io.is_delta_table(spark, path):
            continue
        df = io.read_table(spark, path)
        columns = sorted(c for c in df.columns if c not in RUN_SPECIFIC)
        snapshot[table.qualified_name] = sorted(repr(tuple(row)) for row in df.select(*columns).collect())
    return snapshot


def table_versions(spark: SparkSession, warehouse: str) -> dict[str, int]:
    """The latest Delta version of every table that exists."""
    from pipeline import io

    return {
        t.qualified_name: io.table_version(spark, t.path(warehouse))
        for t in ALL_CONTRACTS
        if io.is_delta_table(spark, t.path(warehouse))
    }


@dataclass(frozen=True)
class IncrementalRuns:
    """The hand-built landing run batch by batch: batch 0, then batch 1."""

    landing: Path
    warehouse: str
    first: PipelineRunResult
    second: PipelineRunResult
    snapshot: dict[str, list[str]]


def pipeline_config(**pipeline: Any) -> LakelabConfig:
    """Default config with some `[pipeline]` choices; the session exists already, so the
    `[spark]` section is not used."""
    return parse_config({"pipeline": pipeline}, "test")
