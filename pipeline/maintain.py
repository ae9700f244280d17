"""`lakelab maintain`: OPTIMIZE (ZORDER BY from the contracts) and VACUUM (retention from config)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipeline import io
from pipeline.contracts import ALL_CONTRACTS, TableContract

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.config import PipelineConfig

# Delta refuses a VACUUM retention under 7 days unless this check is switched off.
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_MAX_FILE_SIZE = "spark.databricks.delta.optimize.maxFileSize"
_DELETION_VECTORS = "deletionVectors"


def zorder_columns(table: TableContract, config: PipelineConfig) -> tuple[str, ...]:
    """The Z-order columns OPTIMIZE uses: the contract's, minus partition columns, if enabled."""
    if not config.zorder:
        return ()
    partitions = set(table.partition_columns(config.partition_facts_by_date))
    return tuple(c for c in table.zorder_by if c not in partitions)


def drop_unwanted_deletion_vectors(
    spark: SparkSession, table: TableContract, warehouse: str, config: PipelineConfig
) -> bool:
    """Drop the deletion-vector table feature where the config no longer wants it; True if dropped.

    Warehouses written before lakelab kept deletion vectors to Silver have the feature on every
    table, and it locks delta-rs's pyarrow readers out. Delta 4 drops it without truncating
    history: it rewrites the files that have a vector, then takes the feature off the protocol.
    """
    from delta.tables import DeltaTable

    if io.table_properties(config, table.layer)["delta.enableDeletionVectors"] == "true":
        return False
    path = table.path(warehouse)
    features = DeltaTable.forPath(spark, path).detail().select("tableFeatures").collect()[0][0]
    if _DELETION_VECTORS not in (features or []):
        return False
    spark.sql(f"ALTER TABLE delta.`{path}` DROP FEATURE {_DELETION_VECTORS}")
    return True


def optimize_table(
    spark: SparkSession, table: TableContract, warehouse: str, config: PipelineConfig
) -> dict[str, Any]:
    """OPTIMIZE one existing table (ZORDER BY the contract's columns, else compaction)."""
    from delta.tables import DeltaTable

    started = time.perf_counter()
    optimizer = DeltaTable.forPath(spark, table.path(warehouse)).optimize()
    zorder = zorder_columns(table, config)
    metrics = optimizer.executeZOrderBy(*zorder) if zorder else optimizer.executeCompaction()
    optimized = metrics.collect()[0]["metrics"]
    return {
        "table": table.qualified_name,
        "zorder_by": list(zorder),
        "files_added": int(optimized["numFilesAdded"]),
        "files_removed": int(optimized["numFilesRemoved"]),
        "optimize_seconds": round(time.perf_counter() - started, 2),
    }


def vacuum_table(spark: SparkSession, table: TableContract, warehouse: str, retention_hours: float) -> float:
    """VACUUM one existing table; its seconds. A retention under 168 h needs the retention
    check off (`maintenance_conf`)."""
    from delta.tables import DeltaTable

    started = time.perf_counter()
    DeltaTable.forPath(spark, table.path(warehouse)).vacuum(float(retention_hours))
    return round(time.perf_counter() - started, 2)


@contextmanager
def maintenance_conf(spark: SparkSession, config: PipelineConfig, retention_hours: float) -> Iterator[None]:
    """OPTIMIZE's target file size from the config, and Delta's VACUUM retention check off when
    `retention_hours` is under its 7 days; both restored on the way out."""
    previous_check = spark.conf.get(_RETENTION_CHECK, "true")
    previous_size = spark.conf.get(_MAX_FILE_SIZE, None)
    spark.conf.set(_MAX_FILE_SIZE, str(config.target_file_size_mb * 1024 * 1024))
    if retention_hours < 168:
        spark.conf.set(_RETENTION_CHECK, "false")
    try:
        yield
    finally:
        spark.conf.set(_RETENTION_CHECK, previous_check or "true")
        if previous_size is None:
            spark.conf.unset(_MAX_FILE_SIZE)
        else:
            spark.conf.set(_MAX_FILE_SIZE, previous_size)


def maintain_table(
    spark: SparkSession, table: TableContract, warehouse: str, config: PipelineConfig
) -> dict[str, Any]:
    """Drop unwanted deletion vectors, OPTIMIZE, then VACUUM one existing table; return what each did."""
    dropped = drop_unwanted_deletion_vectors(spark, table, warehouse, config)
    outcome = optimize_table(spark, table, warehouse, config)
    return {
        **outcome,
        "vacuum_seconds": vacuum_table(spark, table, warehouse, config.vacuum_retention_hours),
        "retention_hours": config.vacuum_retention_hours,
        "deletion_vectors_dropped": dropped,
    }


def maintain_warehouse(
    spark: SparkSession,
    config: PipelineConfig,
    warehouse: str,
    layers: Sequence[str],
    progress: Callable[[str], None],
) -> list[dict[str, Any]]:
    """OPTIMIZE then VACUUM every existing table of `layers` (plus the ops tables).

    First, a table holding the deletion-vector feature the config does not want (any table but
    Silver's, or every table with `deletion_vectors = false`) has it dropped.
    """
    outcomes = []
    with maintenance_conf(spark, config, config.vacuum_retention_hours):
        for table in ALL_CONTRACTS:
            if table.layer not in (*layers, "ops"):
                continue
            if not io.is_delta_table(spark, table.path(warehouse)):
                continue
            outcome = maintain_table(spark, table, warehouse, config)
            outcomes.append(outcome)
            zorder = f"ZORDER BY {', '.join(outcome['zorder_by'])}" if outcome["zorder_by"] else "compaction"
            progress(
                f"{outcome['table']:<32} OPTIMIZE ({zorder}): {outcome['files_removed']} files → "
                f"{outcome['files_added']}, {outcome['optimize_seconds']:.1f}s; VACUUM "
                f"(retain {outcome['retention_hours']} h) {outcome['vacuum_seconds']:.1f}s"
                + ("; deletion vectors dropped" if outcome["deletion_vectors_dropped"] else "")
            )
    return outcomes
