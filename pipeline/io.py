"""The pipeline's only I/O: listing and reading the landing, reading and writing Delta.

Paths may be local folders or `s3a://` URIs and Spark may run on a standalone master,
so nothing here uses `os` on data paths: listings go through the JVM's Hadoop
FileSystem, reads and writes through Spark and Delta.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from lakelab.sources import BATCH_MARKERS, SourceTable
from pipeline.contracts import BATCH_ID, SOURCE_FILE, TableContract

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


@dataclass(frozen=True)
class LandingFile:
    """One data file of a landing batch."""

    path: str
    batch: int
    size: int
    # A gzip CSV's column names as `check_files` read them, so that they are decompressed once.
    header: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RejectedFile:
    """A landing file set aside whole: it cannot be read as its table's format."""

    file: LandingFile
    reason: str


def landing_files(
    spark: SparkSession, source: SourceTable, landing: str, batches: Sequence[int]
) -> list[LandingFile]:
    """The data files of some batches of one table, with their sizes, in batch order."""
    found = []
    for batch in batches:
        fs, folder = _fs_and_path(spark, source.landing_path(landing, batch))
        if not fs.exists(folder):
            continue
        for status in fs.listStatus(folder):
            name = str(status.getPath().getName())
            if status.isFile() and not name.startswith(("_", ".")):
                found.append(LandingFile(str(status.getPath().toString()), batch, int(status.getLen())))
    return sorted(found, key=lambda f: (f.batch, f.path))


def _head_and_tail(spark: SparkSession, file: LandingFile, head: int, tail: int) -> tuple[bytes, bytes]:
    fs, hadoop_path = _fs_and_path(spark, file.path)
    stream = fs.open(hadoop_path)
    try:
        first = bytes(stream.readNBytes(min(head, file.size)))
        last = b""
        if tail and file.size >= tail:
            stream.seek(file.size - tail)
            last = bytes(stream.readNBytes(tail))
    finally:
        stream.close()
    return first, last


_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"


def format_problem(head: bytes, tail: bytes, size: int, file_format: str, gzip: bool = True) -> str | None:
    """Why a file's first and last bytes say it is not `file_format`; None when they fit.

    A check of the bytes a reader would trip on first, not a full read: a truncated Parquet
    file has no footer magic, another format has its own magic or NUL bytes where JSON
    lines hold text. A gzip stream cut short is only found by reading it (see
    `unreadable_files`).
    """
    if file_format == "parquet":
        if size < 12 or not head.startswith(_PARQUET_MAGIC) or not tail.endswith(_PARQUET_MAGIC):
            return (
                f"not a Parquet file ({size:,} bytes; no {_PARQUET_MAGIC.decode()} magic at "
                f"{'head' if not head.startswith(_PARQUET_MAGIC) else 'tail'}: truncated or another format)"
            )
        return None
    if file_format == "csv.gz":
        if size == 0:
            return None  # an empty unload: no records
        if gzip and not head.startswith(_GZIP_MAGIC):
            return f"not a gzip file ({size:,} bytes; no gzip magic 1f8b at head)"
        return None
    # JSON lines: text.
    if head.startswith(_PARQUET_MAGIC):
        return f"not a JSON-lines file: a Parquet file ({size:,} bytes, PAR1 magic)"
    if head.startswith(_GZIP_MAGIC):
        return f"not a JSON-lines file: gzip-compressed ({size:,} bytes)"
    nul = head.find(b"\x00")
    if nul >= 0:
        return f"not a JSON-lines file: binary content (NUL byte at offset {nul})"
    return None


def check_files(
    spark: SparkSession, files: Sequence[LandingFile], file_format: str
) -> tuple[list[LandingFile], list[RejectedFile]]:
    """Split files into those that look like `file_format` and those set aside, with reasons."""
    good, rejected = [], []
    for file in files:
        head, tail = _head_and_tail(spark, file, 4096, 4 if file_format == "parquet" else 0)
        problem = format_problem(head, tail, file.size, file_format, gzip=file.path.endswith(".gz"))
        if problem is None and file_format == "csv.gz" and file.size:
            try:
                file = dataclasses.replace(file, header=tuple(csv_header(spark, file)))
            except ValueError as error:
                problem = f"no readable CSV header: {error}"
        if problem is None:
            good.append(file)
        else:
            rejected.append(RejectedFile(file, problem))
    return good, rejected


def parquet_schema(spark: SparkSession, file: LandingFile) -> str:
    """A Parquet file's schema as its footer states it (read by the driver, no Spark job)."""
    jvm = spark._jvm
    assert jvm is not None
    _fs, hadoop_path = _fs_and_path(spark, file.path)
    input_file = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(
        hadoop_path, spark._jsc.hadoopConfiguration()
    )
    reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(input_file)
    try:
        return str(reader.getFileMetaData().getSchema().toString())
    finally:
        reader.close()


def read_groups(
    spark: SparkSession, file_format: str, files: Sequence[LandingFile]
) -> list[list[LandingFile]]:
    """The files split into groups that one read can take: files of one layout (a Parquet
    footer's schema, a CSV header). A batch that delivers other columns or types is read
    apart and converted on its own, so it cannot spoil the rest. JSON lines: one group.

    One read per layout rather than per batch: each read costs Spark a job or two, and a
    landing of 31 batches made that most of a small table's time.
    """
    if not files:
        return []
    if file_format == "json":
        return [list(files)]
    by_layout: dict[str, list[LandingFile]] = {}
    for file in files:
        try:
            if file_format == "parquet":
                layout = parquet_schema(spark, file)
            else:
                layout = "\n".join(_header(spark, file)) if file.size else ""
        except Exception:  # read alone, so that its failure is its own
            layout = f"unreadable: {file.path}"
        by_layout.setdefault(layout, []).append(file)
    return list(by_layout.values())


def read_json_lines(spark: SparkSession, files: Sequence[LandingFile]) -> DataFrame | None:
    """Raw JSON lines of some files (`value`, `_source_file`, `_batch_id`), or None if no file."""
    from pyspark.sql import functions as sf

    if not files:
        return None
    # JSON Lines ends a record at LF only: a CR inside a record is JSON whitespace, and
    # Spark's default (CR, LF or CRLF) would split the record there. A CRLF line keeps its
    # CR, which is dropped here, byte-wise (the line need not be valid UTF-8).
    lines = spark.read.option("lineSep", "\n").text([f.path for f in files])
    without_cr = sf.expr(
        "CASE WHEN substring(CAST(value AS BINARY), -1, 1) = X'0D' "
        "THEN CAST(substring(CAST(value AS BINARY), 1, octet_length(value) - 1) AS STRING) "
        "ELSE value END"
    )
    return _with_lineage(lines, sf.col("_metadata.file_path")).withColumn("value", without_cr)


def csv_header(spark: SparkSession, file: LandingFile) -> list[str]:
    """The column names on a gzip CSV file's first line (read through Hadoop's codec).

    Raises:
        ValueError: the file does not decompress, or its first line is not a CSV header.
    """
    import csv

    from cluster.failures import environment_failure

    jvm = spark._jvm
    assert jvm is not None
    fs, hadoop_path = _fs_and_path(spark, file.path)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        spark._jsc.hadoopConfiguration()
    ).getCodec(hadoop_path)
    stream = fs.open(hadoop_path)
    try:
        raw = codec.createInputStream(stream) if codec is not None else stream
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(raw, "UTF-8"))
        line = reader.readLine()
    except Exception as error:  # a Py4J error carrying the JVM's IOException
        if environment_failure(error) is not None:
            raise  # the store or the disk failed, not the file
        raise ValueError(_java_message(error)) from None
    finally:
        stream.close()
    if line is None:
        return []
    names = next(csv.reader([str(line).lstrip("\ufeff")]), [])
    if not names or any(not name.strip() for name in names) or len(set(names)) != len(names):
        raise ValueError(f"first line is not a CSV header: {str(line)[:120]!r}")
    return names


def _header(spark: SparkSession, file: LandingFile) -> tuple[str, ...]:
    return file.header if file.header is not None else tuple(csv_header(spark, file))


def read_tabular(spark: SparkSession, source: SourceTable, files: Sequence[LandingFile]) -> DataFrame | None:
    """Parquet or gzip-CSV files, columns as delivered plus lineage, or None if no file.

    CSV is read as RFC 4180 defines it (a quoted field may hold newlines: `multiLine`; a
    gzip file is read whole by one task anyway), as text with each file's own header
    names plus `_corrupt_record`, so a row that does not split into its header's columns
    is kept (and quarantined), not lost, and files whose headers order the columns
    differently are matched by name, not position.

    Raises:
        ValueError: a CSV file's header cannot be read (the caller sets the file aside).
    """
    from pyspark.sql import functions as sf
    from pyspark.sql.types import StringType, StructField, StructType

    if not files:
        return None
    if source.format == "parquet":
        rows = spark.read.parquet(*[f.path for f in files])
        return _with_lineage(rows, sf.col("_metadata.file_path"))
    by_header: dict[tuple[str, ...], list[str]] = {}
    for file in files:
        if file.size == 0:
            continue  # an empty unload: no header, no record (and no gzip stream to open)
        header = _header(spark, file)
        if header:  # an empty or header-only file holds no record
            by_header.setdefault(header, []).append(file.path)
    parts = []
    for header, paths in by_header.items():
        schema = StructType(
            [StructField(name, StringType()) for name in header]
            + [StructField("_corrupt_record", StringType())]
        )
        part = (
            spark.read.schema(schema)
            .option("header", "true")
            .option("multiLine", "true")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record")
            .csv(paths)
        )
        parts.append(_with_lineage(part, sf.col("_metadata.file_path")))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.unionByName(part, allowMissingColumns=True)
    return combined


def unreadable_files(
    spark: SparkSession, source: SourceTable, files: Sequence[LandingFile]
) -> list[RejectedFile]:
    """Files that fail when read alone, every value decoded; for after a batch's read failed.

    A gzip stream cut short or a Parquet page that does not decode passes the byte checks
    of `check_files` and fails only once read; Spark's error then may not name the file.
    Reading each file on its own finds which (one small job per file, only on that path).
    A failure of the store, the disk or the JVM is raised, not blamed on the file: a
    store gone mid-read must fail the run, not quarantine good files for good.
    """
    from pyspark.sql import functions as sf

    from cluster.failures import environment_failure

    rejected = []
    for file in files:
        try:
            if source.format == "json":
                df = read_json_lines(spark, [file])
            else:
                df = read_tabular(spark, source, [file])
            if df is not None:
                every_value = sf.hash(*[sf.col(f"`{c}`") for c in df.columns])
                df.select(every_value.alias("h")).agg(sf.sum("h")).collect()
        except Exception as error:
            if environment_failure(error) is not None:
                raise  # the store, the disk or the JVM failed: the file may be fine
            rejected.append(RejectedFile(file, f"unreadable: {_java_message(error)}"))
    return rejected


def _java_message(error: BaseException) -> str:
    """The first line of a JVM error's message, without the Java class prefix noise."""
    text = str(getattr(error, "java_exception", None) or error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first[:300]


def _with_lineage(df: DataFrame, file_path: Any) -> DataFrame:
    from pyspark.sql import functions as sf

    return df.withColumn(SOURCE_FILE, file_path).withColumn(
        BATCH_ID, sf.regexp_extract(file_path, _BATCH_FOLDER.pattern, 1).cast("int")
    )


# --- Delta tables ------------------------------------------------------------------------------


def table_properties(config: PipelineConfig, layer: str) -> dict[str, str]:
    """Delta table properties a pipeline table of `layer` gets, from the physical-design config.

    Deletion vectors only where `config.deletion_vectors` asks for them and only on Silver,
    the one layer MERGEd into. Bronze and `_ops` are appended to, and Gold is appended to by
    its first build and overwritten by later ones, so no deletion vector would ever be
    written there, and the table feature alone locks out readers without it (delta-rs's
    `DeltaTable.to_pyarrow_table()` refuses such a table).
    """
    deletion_vectors = config.deletion_vectors and layer == "silver"
    return {
        "delta.autoOptimize.optimizeWrite": str(config.optimize_write).lower(),
        "delta.autoOptimize.autoCompact": str(config.auto_compact).lower(),
        "delta.checkpointInterval": str(config.checkpoint_interval),
        "delta.enableDeletionVectors": str(deletion_vectors).lower(),
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
    create_table(spark, contract, warehouse, config, extra_columns)
    return contract.path(warehouse)


def create_table(
    spark: SparkSession,
    contract: TableContract,
    warehouse: str,
    config: PipelineConfig,
    extra_columns: Iterable[str] = (),
) -> bool:
    """Create the contract's Delta table if it does not exist; True when this call created it."""
    from delta.tables import DeltaTable
    from pyspark.sql.types import StructType

    path = contract.path(warehouse)
    if is_delta_table(spark, path):
        return False
    schema = StructType.fromDDL(contract.ddl() + "".join(f", `{c}` string" for c in extra_columns))
    assert isinstance(schema, StructType)
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    partitions = contract.partition_columns(config.partition_facts_by_date)
    if partitions:
        builder = builder.partitionedBy(*partitions)
    for key, value in table_properties(config, contract.layer).items():
        builder = builder.property(key, value)
    if contract.description:
        builder = builder.comment(contract.description)
    builder.execute()
    return True


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """A Delta table as a DataFrame."""
    return spark.read.format("delta").load(path)


def append_idempotent(
    df: DataFrame, path: str, app_id: str, version: int, merge_schema: bool = False
) -> None:
    """Append, once: Delta skips the write if `app_id` already committed `version` or later.

    For a table that existed before the run. Delta answers "which version did `app_id`
    commit" by reconstructing the table's state: four Spark jobs, measured at 1.6 s against
    0.3 s for the plain append of an empty frame to a new table (2 cores, warm JVM). A table
    the run created can hold no transaction yet, so it gets `append` instead; a run killed
    after that append finds the table next time, and the caller reads which batches it
    holds before writing, so they are not appended twice.
    """
    writer = (
        df.write.format("delta").mode("append").option("txnAppId", app_id).option("txnVersion", str(version))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(path)


def append(df: DataFrame, path: str, merge_schema: bool = False) -> None:
    """Plain append (the run log, whose rows carry the run id; a table's first load)."""
    writer = df.write.format("delta").mode("append")
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(path)


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
