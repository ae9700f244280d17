"""Writing the landing: table batches, markers and the dirty manifest (all the I/O).

Files go through Hadoop's FileSystem (from the running JVM), so the same code writes
to a local folder and to an `s3a://` bucket.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F  # noqa: N812  (the Spark convention)

from datagen.tables import FAULT_COLUMN, WRONG_TYPE_TEXT
from lakelab.sources import DirtyKind, SourceTable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


_PARQUET_TS = "spark.sql.parquet.outputTimestampType"
# Warehouse unloads come in many bounded files (Snowflake's COPY INTO <location> aims at
# 16 MB each), never one file per writer task. It matters downstream: a gzip CSV file cannot
# be split, so a reader gets one task, and one cached block, per file.
MAX_ROWS_PER_UNLOAD_FILE = 250_000


class LandingFS:
    """Small file operations on the landing, through Hadoop's FileSystem."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        self.spark = spark
        self.root = root.rstrip("/")
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._jvm = jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        self._fs = self._path(self.root).getFileSystem(self._conf)
        # No `.name.crc` side files next to the markers on local disk (a no-op on S3A).
        self._fs.setWriteChecksum(False)

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def join(self, *parts: str) -> str:
        """A path under the root."""
        return "/".join([self.root, *parts])

    def exists(self, path: str) -> bool:
        """Does `path` exist."""
        return bool(self._fs.exists(self._path(path)))

    def list_names(self, path: str) -> list[str]:
        """Names directly under a folder (empty when it does not exist)."""
        if not self.exists(path):
            return []
        return sorted(str(status.getPath().getName()) for status in self._fs.listStatus(self._path(path)))

    def read_text(self, path: str) -> str:
        """A small text file."""
        stream = self._fs.open(self._path(path))
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(str(line))
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """Write a small text file, replacing it (through a temporary name, then rename)."""
        tmp = path + ".tmp"
        stream = self._fs.create(self._path(tmp), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        self.delete(path)
        self.rename(tmp, path)

    def mkdirs(self, path: str) -> None:
        """Create a folder and its parents."""
        self._fs.mkdirs(self._path(path))

    def delete(self, path: str) -> None:
        """Delete a file or a folder tree (no error when absent)."""
        self._fs.delete(self._path(path), True)

    def rename(self, source: str, target: str) -> None:
        """Rename a file or folder; raise when the store refuses."""
        if not self._fs.rename(self._path(source), self._path(target)):
            raise OSError(f"could not rename {source} to {target}")

    def size(self, path: str) -> int:
        """Bytes under a path (recursively)."""
        if not self.exists(path):
            return 0
        return int(self._fs.getContentSummary(self._path(path)).getLength())


def render_json_lines(frame: DataFrame, table: SourceTable, wrong_type_field: str | None) -> DataFrame:
    """One `value` string per row: the JSON object, or the planted broken form of it."""
    fields = [c for c in frame.columns if c != FAULT_COLUMN]
    # A projection of its own, so the JSON text is built once per row, not per branch below.
    frame = frame.select(
        F.to_json(F.struct(*fields), {"ignoreNullFields": "false"}).alias("value"), F.col(FAULT_COLUMN)
    )
    line = F.col("value")
    fault = F.col(FAULT_COLUMN)
    # A truncated object never parses, and keeps the key readable to a human.
    line = F.when(
        fault == DirtyKind.MALFORMED_JSON.value, F.substring(line, 1, (F.length(line) * 0.6).cast("int"))
    ).otherwise(line)
    if wrong_type_field:
        pattern = f'"{wrong_type_field}":[^,}}]*'
        line = F.when(
            fault == DirtyKind.WRONG_TYPE.value,
            F.regexp_replace(line, pattern, f'"{wrong_type_field}":"{WRONG_TYPE_TEXT}"'),
        ).otherwise(line)
    return frame.select(line.alias("value"))


def write_batch(
    fs: LandingFS, frame: DataFrame, table: SourceTable, batch: int, wrong_type_field: str | None
) -> str:
    """Write one batch folder of one table in the table's format; returns the folder."""
    path = table.landing_path(fs.root, batch)
    if table.format == "json":
        render_json_lines(frame, table, wrong_type_field).write.mode("overwrite").option(
            "compression", "none"
        ).text(path)
        # Spark's text writer names files *.txt; the contract says JSON lines, *.json.
        for name in fs.list_names(path):
            if name.endswith(".txt"):
                fs.rename(f"{path}/{name}", f"{path}/{name[: -len('.txt')]}.json")
    elif table.format == "parquet":
        # Standard INT64 microsecond timestamps, not Spark's legacy INT96 default that other
        # readers (pyarrow, Snowflake itself) misread outside the years 1678..2262.
        conf = fs.spark.conf
        previous = conf.get(_PARQUET_TS)
        conf.set(_PARQUET_TS, "TIMESTAMP_MICROS")
        try:
            frame.drop(FAULT_COLUMN).write.mode("overwrite").option(
                "maxRecordsPerFile", MAX_ROWS_PER_UNLOAD_FILE
            ).parquet(path)
        finally:
            conf.set(_PARQUET_TS, previous or "INT96")
    else:
        frame.drop(FAULT_COLUMN).write.mode("overwrite").option("header", "true").option(
            "compression", "gzip"
        ).option("maxRecordsPerFile", MAX_ROWS_PER_UNLOAD_FILE).csv(path)
    return path


def write_manifest(fs: LandingFS, manifest: DataFrame, target: str) -> None:
    """Write the manifest as one JSON-lines file at `target`.

    The rows are built from the dirty positions alone (about dirty_rate of the data),
    shuffled into one partition by Spark and renamed; nothing is collected.
    """
    tmp = target + ".parts"
    fs.delete(tmp)
    manifest.repartition(1).write.mode("overwrite").option("compression", "none").json(tmp)
    parts = [name for name in fs.list_names(tmp) if name.startswith("part-")]
    if len(parts) > 1:
        raise OSError(f"expected one manifest part file in {tmp}, found {len(parts)}")
    fs.delete(target)
    if parts:
        fs.rename(f"{tmp}/{parts[0]}", target)
    else:  # nothing dirty (dirty rate 0): an empty manifest, still present
        fs.write_text(target, "")
    fs.delete(tmp)


def write_json(fs: LandingFS, path: str, payload: dict[str, Any]) -> None:
    """A small JSON marker file."""
    fs.write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
