"""The pipeline's only I/O: listing and reading the landing, reading and writing Delta.

Paths may be local folders or `s3a://` URIs and Spark may run on a standalone master,
so nothing here uses `os` on data paths: listings go through the JVM's Hadoop
FileSystem, reads and writes through Spark and Delta.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from lakelab.sources import BATCH_MARKERS, SourceTable
from pipeline.contracts import BATCH_ID, RUN_LOG, SOURCE_FILE, TableContract

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from pipeline.config import PipelineConfig

_BATCH_MARKER = re.compile(r"^(\d{4,})\.json$")
_BATCH_FOLDER = re.compile(r"batch=(\d+)")


# --- Hadoop FileSystem -------------------------------------------------------------------------


def _fs_and_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark._jvm  # the JVM's Hadoop FileSystem: the portable lister
    assert jvm is not None, "needs a classic (not Spark Connect) session"
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark._jsc.hadoopConfiguration()
    return hadoop_path.getFileSystem(conf), hadoop_path


def path_exists(spark: SparkSession, path: str) -> bool:
    """True when a file or folder exists at `path` (local or object store)."""
    fs, hadoop_path = _fs_and_path(spark, path)
    return bool(fs.exists(hadoop_path))


def list_names(spark: SparkSession, path: str) -> list[str]:
    """Names of the entries directly under a folder (empty when it does not exist)."""
    fs, hadoop_path = _fs_and_path(spark, path)
    if not fs.exists(hadoop_path):
        return []
    return sorted(str(status.getPath().getName()) for status in fs.listStatus(hadoop_path))


def data_files(spark: SparkSession, folder: str) -> list[str]:
    """Data files directly under a folder, skipping `_`- and `.`-prefixed markers."""
    return [
        f"{folder.rstrip('/')}/{name}"
        for name in list_names(spark, folder)
        if not name.startswith(("_", "."))
    ]


def read_text_file(spark: SparkSession, path: str) -> str:
    """A small text file (a marker) as a string.

    Through the FileSystem, not `spark.read.text`: Spark skips files whose names start
    with `_`, which is exactly how markers are named.
    """
    fs, hadoop_path = _fs_and_path(spark, path)
    jvm = spark._jvm
    assert jvm is not None
    stream = fs.open(hadoop_path)
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        lines = []
        while (line := reader.readLine()) is not None:
            lines.append(str(line))
    finally:
        stream.close()
    return "\n".join(lines)


# --- The landing -------------------------------------------------------------------------------


def complete_batches(spark: SparkSession, landing: str) -> list[int]:
    """Batch numbers whose `_batches/NNNN.json` marker exists, ascending.

    Raises:
        UserError: the landing folder does not exist.
    """
    if not path_exists(spark, landing):
        raise UserError(f"{landing}: landing folder not found (run `lakelab generate` or check --landing)")
    batches = []
    for name in list_names(spark, f"{landing.rstrip('/')}/{BATCH_MARKERS}"):
        match = _BATCH_MARKER.match(name)
        if match:
            batches.append(int(match.group(1)))
    return sorted(batches)


def read_json_lines(
    spark: SparkSession, source: SourceTable, landing: str, batches: Sequence[int]
) -> DataFrame | None:
    """Raw JSON lines of some batches (`value`, `_source_file`, `_batch_id`), or None if no file."""
    from pyspark.sql import functions as sf

    files = [f for batch in batches for f in data_files(spark, source.landing_path(landing, batch))]
    if not files:
        return None
    lines = spark.read.text(files)
    return _with_lineage(lines, sf.col("_metadata.file_path"))


def read_tabular_batch(
    spark: SparkSession, source: SourceTable, landing: str, batch: int
) -> DataFrame | None:
    """One batch of a Parquet or gzip-CSV table, columns as delivered, or None if no file.

    CSV is read as text with the header's column names plus `_corrupt_record`, so a row
    that does not split into the header's columns is kept (and quarantined), not lost.
    """
    from pyspark.sql import functions as sf
    from pyspark.sql.types import StringType, StructField, StructType

    files = data_files(spark, source.landing_path(landing, batch))
    if not files:
        return None
    if source.format == "parquet":
        rows = spark.read.parquet(*files)
    else:
        header = spark.read.option("header", "true").csv(files[0]).columns
        schema = StructType(
            [StructField(name, StringType()) for name in header]
            + [StructField("_corrupt_record", StringType())]
        )
        rows = (
            spark.read.schema(schema)
            .option("header", "true")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record")
            .csv(files)
        )
    return _with_lineage(rows, sf.col("_metadata.file_path"))


def _with_lineage(df: DataFrame, file_path: Any) -> DataFrame:
    from pyspark.sql import functions as sf

    return df.withColumn(SOURCE_FILE, file_path).withColumn(
        BATCH_ID, sf.regexp_extract(file_path, _BATCH_FOLDER.pattern, 1).cast("int")
    )


# --- Delta tables ------------------------------------------------------------------------------


def table_properties(config: PipelineConfig) -> dict[str, str]:
    """Delta table properties every pipeline table gets, from the physical-design config."""
    return {
        "delta.autoOptimize.optimizeWrite": str(config.optimize_write).lower(),
        "delta.autoOptimize.autoCompact": str(config.auto_compact).lower(),
        "delta.checkpointInterval": str(config.checkpoint_interval),
        "delta.enableDeletionVectors": str(config.deletion_vectors).lower(),
    }


def is_delta_table(spark: SparkSession, path: str) -> bool:
    """True when a Delta table exists at `path` (its `_delta_log` folder holds a commit).

    A listing, not `DeltaTable.isDeltaTable`: that loads the log, which costs a job.
    """
    return any(name.endswith(".json") for name in list_names(spark, f"{path.rstrip('/')}/_delta_log"))


def ensure_table(
    spark: SparkSession,
    contract: TableContract,
    warehouse: str,
    config: PipelineConfig,
    extra_columns: Iterable[str] = (),
) -> str:
    """Create the contract's Delta table if it does not exist; return its path."""
    from delta.tables import DeltaTable
    from pyspark.sql.types import StructType

    path = contract.path(warehouse)
    if is_delta_table(spark, path):
        return path
    schema = StructType.fromDDL(contract.ddl() + "".join(f", `{c}` string" for c in extra_columns))
    assert isinstance(schema, StructType)
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    partitions = contract.partition_columns(config.partition_facts_by_date)
    if partitions:
        builder = builder.partitionedBy(*partitions)
    for key, value in table_properties(config).items():
        builder = builder.property(key, value)
    if contract.description:
        builder = builder.comment(contract.description)
    builder.execute()
    return path


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """A Delta table as a DataFrame."""
    return spark.read.format("delta").load(path)


def append_idempotent(
    df: DataFrame, path: str, app_id: str, version: int, merge_schema: bool = False
) -> None:
    """Append, once: Delta skips the write if `app_id` already committed `version` or later."""
    writer = (
        df.write.format("delta").mode("append").option("txnAppId", app_id).option("txnVersion", str(version))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(path)


def append(df: DataFrame, path: str) -> None:
    """Plain append (the run log, whose rows carry the run id)."""
    df.write.format("delta").mode("append").save(path)


def overwrite(df: DataFrame, path: str) -> None:
    """Replace a table's rows (Gold, recomputed from Silver)."""
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "false").save(path)


def newer_sql(order: Sequence[str], new: str = "s", old: str = "t") -> str:
    """SQL: row `new` sorts after row `old` on the `order` columns (lexicographically)."""
    clauses = []
    for i, column in enumerate(order):
        equal = [f"{new}.`{c}` = {old}.`{c}`" for c in order[:i]]
        clauses.append("(" + " AND ".join([*equal, f"{new}.`{column}` > {old}.`{column}`"]) + ")")
    return " OR ".join(clauses)


def merge_latest(
    spark: SparkSession, updates: DataFrame, path: str, key: Sequence[str], order: Sequence[str]
) -> None:
    """Upsert one row per key: insert new keys; update only when the incoming row is newer.

    `order` is the version order (update time, then batch, then record hash), the same
    one `latest_per_key` folds a batch range with, so merging batch by batch and merging
    them all at once end alike. The guard keeps a late-arriving older version from
    overwriting a newer one, and makes re-merging the same rows change nothing.
    """
    from delta.tables import DeltaTable

    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in key)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("s"), condition)
        .whenMatchedUpdateAll(condition=newer_sql(order))
        .whenNotMatchedInsertAll()
        .execute()
    )


def table_version(spark: SparkSession, path: str) -> int:
    """The latest committed version of a Delta table."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("version").collect()[0]
    return int(row["version"])


# --- The ledger (the run log) ------------------------------------------------------------------


def last_batch(spark: SparkSession, warehouse: str, layer: str, table_name: str) -> int | None:
    """The highest batch a layer finished for a table, from the run log; None if none."""
    from pyspark.sql import functions as sf

    path = RUN_LOG.path(warehouse)
    if not is_delta_table(spark, path):
        return None
    row = (
        read_table(spark, path)
        .where((sf.col("layer") == layer) & (sf.col("table_name") == table_name))
        .agg(sf.max("batch_to").alias("last"))
        .collect()[0]
    )
    return None if row["last"] is None else int(row["last"])


def rows_in_batches(
    spark: SparkSession,
    path: str,
    batch_column: str,
    batch_from: int,
    batch_to: int,
    where: str | None = None,
) -> int:
    """Rows of a Delta table whose batch column is in [from, to] (0 when the table is absent)."""
    from pyspark.sql import functions as sf

    if not is_delta_table(spark, path):
        return 0
    df = read_table(spark, path).where(sf.col(batch_column).between(batch_from, batch_to))
    if where:
        df = df.where(where)
    return int(df.count())
