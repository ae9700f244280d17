"""What a run costs: Spark task metrics, process memory and the bytes it left on disk.

`TaskMetrics` is a sparkMeasure-style collector: `begin()`, run the work, `end()`, then
`as_dict()` or `as_dataframe(spark)`. It reads Spark's own status store (the data behind the
UI and the REST API), which the driver keeps even with the UI off, so it works in tests and in
local mode alike. Nothing here imports pyspark at module level.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.memory import process_tree_rss
from lakelab.paths import is_remote

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Stage fields summed over the stages of a run, with the unit Spark reports them in.
STAGE_SUMS = {
    "executorRunTime": ("executor_run_time_ms", 1),
    "executorCpuTime": ("executor_cpu_time_ms", 1e-6),  # Spark reports nanoseconds
    "executorDeserializeTime": ("executor_deserialize_time_ms", 1),
    "jvmGcTime": ("jvm_gc_time_ms", 1),
    "resultSerializationTime": ("result_serialization_time_ms", 1),
    "inputBytes": ("input_bytes", 1),
    "inputRecords": ("input_records", 1),
    "outputBytes": ("output_bytes", 1),
    "outputRecords": ("output_records", 1),
    "shuffleReadBytes": ("shuffle_read_bytes", 1),
    "shuffleReadRecords": ("shuffle_read_records", 1),
    "shuffleWriteBytes": ("shuffle_write_bytes", 1),
    "shuffleWriteRecords": ("shuffle_write_records", 1),
    "shuffleFetchWaitTime": ("shuffle_fetch_wait_time_ms", 1),
    "shuffleWriteTime": ("shuffle_write_time_ms", 1e-6),  # nanoseconds
    "memoryBytesSpilled": ("memory_bytes_spilled", 1),
    "diskBytesSpilled": ("disk_bytes_spilled", 1),
    "numTasks": ("tasks", 1),
    "numFailedTasks": ("failed_tasks", 1),
}


def _status_store_json(spark: SparkSession, query: Callable[[Any, Any, Any], Any]) -> list[dict[str, Any]]:
    """`query(gateway, jvm, status_store)` on the driver's status store, as the REST API shows it."""
    context = spark.sparkContext
    gateway = context._gateway
    assert gateway is not None
    jvm = gateway.jvm
    scala_context = context._jsc.sc()  # type: ignore[union-attr]
    # Events reach the status store asynchronously; without this the last stage of a run
    # may still be missing when `end()` reads it.
    scala_context.listenerBus().waitUntilEmpty()
    found = query(gateway, jvm, scala_context.statusStore())
    # One JSON round trip instead of thousands of py4j calls (one per field per item).
    mapper = jvm.com.fasterxml.jackson.databind.ObjectMapper()
    scala_module = getattr(jvm.com.fasterxml.jackson.module.scala, "DefaultScalaModule$")
    mapper.registerModule(scala_module.__getattr__("MODULE$"))
    data: list[dict[str, Any]] = json.loads(mapper.writeValueAsString(found))
    return data


def _stage_list_json(spark: SparkSession) -> list[dict[str, Any]]:
    """Every stage the driver's status store still holds."""

    def stages(gateway: Any, jvm: Any, store: Any) -> Any:
        no_quantiles = gateway.new_array(jvm.double, 0)
        return store.stageList(None, False, False, no_quantiles, None)

    return _status_store_json(spark, stages)


def _executor_list_json(spark: SparkSession) -> list[dict[str, Any]]:
    """Every executor the driver's status store knows, removed ones included."""
    return _status_store_json(spark, lambda gateway, jvm, store: store.executorList(False))


# A container's process killed by the kernel for memory, or by `kill -9`, exits 137 (128 + 9):
# the worker reports it as the executor's loss reason.
_KILLED = re.compile(r"exit(?:ed)?(?: with)? (?:code|status) 137|OutOfMemory", re.IGNORECASE)


def executors_lost_since(executors: list[dict[str, Any]], since_ms: float) -> list[dict[str, Any]]:
    """Executors removed at or after `since_ms` (epoch ms), with their reasons; pure.

    `killed` marks a loss to SIGKILL (exit 137) or an OutOfMemoryError: in a container with a
    memory limit, that is most often the kernel's out-of-memory killer.
    """
    lost = []
    for executor in executors:
        removed = executor.get("removeTime")
        if executor.get("id") == "driver" or executor.get("isActive") or removed is None:
            continue
        if float(removed) < since_ms:
            continue
        reason = str(executor.get("removeReason") or "")
        lost.append(
            {
                "id": str(executor.get("id")),
                "host": str(executor.get("hostPort", "")).rsplit(":", 1)[0],
                "reason": reason[:300],
                "killed": bool(_KILLED.search(reason)),
            }
        )
    return lost


def executors_lost(spark: SparkSession, since_ms: float) -> list[dict[str, Any]]:
    """The executors this session lost since `since_ms` (epoch ms), e.g. during one run."""
    return executors_lost_since(_executor_list_json(spark), since_ms)


def summarize_stages(stages: list[dict[str, Any]]) -> dict[str, float]:
    """Sum task metrics over stages (one attempt each); pure, for tests on hand-built stages."""
    totals: dict[str, float] = {name: 0 for name, _unit in STAGE_SUMS.values()}
    peak = 0
    for stage in stages:
        for source, (name, scale) in STAGE_SUMS.items():
            totals[name] += float(stage.get(source) or 0) * scale
        # A stage's peakExecutionMemory is the sum of its tasks' peaks: the largest of those
        # is the most execution memory the run needed at once (an upper bound).
        peak = max(peak, int(stage.get("peakExecutionMemory") or 0))
    rounded = {name: round(value, 3) if isinstance(value, float) else value for name, value in totals.items()}
    rounded["stages"] = len(stages)
    rounded["peak_execution_memory_bytes"] = peak
    for name in list(rounded):
        if isinstance(rounded[name], float) and float(rounded[name]).is_integer():
            rounded[name] = int(rounded[name])
    return rounded


@dataclass
class TaskMetrics:
    """Task metrics of every Spark stage that ran between `begin()` and `end()`."""

    spark: SparkSession
    _first_stage: int = -1
    _stages: list[dict[str, Any]] = field(default_factory=list)
    _begin: float = 0.0
    elapsed_seconds: float = 0.0
    missing_stages: int = 0

    def begin(self) -> None:
        """Mark the start: stages with a higher id than any seen so far belong to the run."""
        known = [int(stage["stageId"]) for stage in _stage_list_json(self.spark)]
        self._first_stage = max(known, default=-1) + 1
        self._begin = time.perf_counter()

    def end(self) -> None:
        """Collect the stages of the run (the status store keeps `spark.ui.retainedStages`)."""
        self.elapsed_seconds = time.perf_counter() - self._begin
        stages = [
            stage for stage in _stage_list_json(self.spark) if int(stage["stageId"]) >= self._first_stage
        ]
        # Skipped stages (shuffle output reused) ran no task; they only blur the counts.
        self._stages = [stage for stage in stages if stage.get("status") != "SKIPPED"]
        ids = {int(stage["stageId"]) for stage in stages}
        # Stage ids are consecutive; a gap at the start means the store already dropped some.
        self.missing_stages = min(ids, default=self._first_stage) - self._first_stage

    def as_dict(self) -> dict[str, float]:
        """Totals over the run's stages (times in ms, sizes in bytes)."""
        summary = summarize_stages(self._stages)
        summary["missing_stages"] = self.missing_stages
        return summary

    def stage_rows(self) -> list[dict[str, Any]]:
        """One row per stage with the fields of `STAGE_SUMS` under their snake_case names."""
        rows = []
        for stage in self._stages:
            row: dict[str, Any] = {"stage_id": int(stage["stageId"]), "name": str(stage.get("name", ""))}
            metrics = summarize_stages([stage])
            metrics.pop("stages")
            # One type per column: Spark will not merge long and double across rows.
            row.update({name: float(value) for name, value in metrics.items()})
            rows.append(row)
        return rows

    def as_dataframe(self, spark: SparkSession | None = None) -> DataFrame:
        """The per-stage rows as a Spark DataFrame."""
        session = spark or self.spark
        rows = self.stage_rows()
        if not rows:
            raise ValueError("no stage ran between begin() and end()")
        return session.createDataFrame(rows)


class RssSampler:
    """Peak RSS of the driver (Python and its JVM) sampled on a thread while a run goes."""

    def __init__(self, interval_seconds: float = 0.25) -> None:
        self.interval_seconds = interval_seconds
        self.peak_python_rss = 0
        self.peak_jvm_rss = 0
        self.peak_total_rss = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        python_rss, jvm_rss = process_tree_rss()
        self.peak_python_rss = max(self.peak_python_rss, python_rss)
        self.peak_jvm_rss = max(self.peak_jvm_rss, jvm_rss)
        self.peak_total_rss = max(self.peak_total_rss, python_rss + jvm_rss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def as_dict(self) -> dict[str, int]:
        """Peaks in bytes."""
        return {
            "peak_python_rss_bytes": self.peak_python_rss,
            "peak_jvm_rss_bytes": self.peak_jvm_rss,
            "peak_driver_rss_bytes": self.peak_total_rss,
        }


def footprint_from_files(files: Iterable[tuple[str, int]]) -> dict[str, dict[str, int]]:
    """Data files and bytes of every Delta table, from (path under the warehouse, size) pairs; pure.

    A table is a folder holding `_delta_log`; its data files are the other files below it
    (partition folders included) that do not start with `.` or `_`; the log is counted
    apart; a table nested in another is counted on its own. A table at the root is `.`.
    """
    listed = [(path.strip("/"), size) for path, size in files]
    roots = set()
    for path, _size in listed:
        parts = path.split("/")
        if "_delta_log" in parts:
            roots.add("/".join(parts[: parts.index("_delta_log")]))
    deepest_first = sorted(roots, key=lambda root: -1 if not root else root.count("/"), reverse=True)
    tables = {root or ".": {"files": 0, "bytes": 0, "log_bytes": 0} for root in roots}
    for path, size in listed:
        owner = next((r for r in deepest_first if not r or path.startswith(r + "/")), None)
        if owner is None:
            continue
        inside = path[len(owner) + 1 :] if owner else path
        entry = tables[owner or "."]
        if inside.split("/")[0] == "_delta_log":
            entry["log_bytes"] += size
        elif not inside.rsplit("/", 1)[-1].startswith((".", "_")):
            entry["files"] += 1
            entry["bytes"] += size
    return dict(sorted(tables.items()))


def written_since(
    before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]]
) -> dict[str, int]:
    """What a run wrote: the growth of every table from `before` to `after`; pure.

    A run of later layers starts from a copy of the tables before them, and appends to the
    copied `_ops` tables: charging it the whole warehouse would bill it for what it did not
    write. Data files a run replaced (an overwrite) still count as written by it: they are
    on storage until VACUUM removes them.
    """
    files = bytes_ = 0
    for name, now in after.items():
        was = before.get(name, {})
        files += max(0, now["files"] - was.get("files", 0))
        bytes_ += max(0, now["bytes"] + now["log_bytes"] - was.get("bytes", 0) - was.get("log_bytes", 0))
    return {"files": files, "bytes": bytes_}


def _local_files(root: Path) -> Iterator[tuple[str, int]]:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path.stat().st_size


def hadoop_files(spark: SparkSession, uri: str) -> list[tuple[str, int]]:
    """Every file under `uri` (s3a://, file://) with its size, listed through Hadoop's FileSystem."""
    jvm = spark._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    if not fs.exists(path):
        return []
    root = str(fs.makeQualified(path).toString()).rstrip("/")
    found = []
    listing = fs.listFiles(path, True)
    while listing.hasNext():
        status = listing.next()
        found.append((str(status.getPath().toString())[len(root) + 1 :], int(status.getLen())))
    return found


def table_footprint(warehouse: str, spark: SparkSession | None = None) -> dict[str, dict[str, int]]:
    """Data files and bytes of every Delta table under a warehouse (see `footprint_from_files`).

    A local warehouse is walked on disk; one on an object store is listed through Hadoop
    with `spark`'s session (without one, the result is empty).
    """
    if is_remote(warehouse):
        return footprint_from_files(hadoop_files(spark, warehouse)) if spark is not None else {}
    root = Path(warehouse.removeprefix("file://"))
    return footprint_from_files(_local_files(root)) if root.is_dir() else {}
