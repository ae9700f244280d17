"""`lakelab sweep`: every scale × grid point × repeat, measured, one record per run.

A grid point is a set of settings. Spark SQL settings that Spark can change at runtime
(`spark.conf.isModifiable`) are set on the running session for the run and restored after it.
Settings that need a new JVM (memory, cores, static SQL settings) make the point a "restart"
point: each of its runs starts a fresh session in a child process (`harness.child`) that
measures the same way and hands its figures back. `pipeline.*` settings change the pipeline's
physical design for the run. The runs are interleaved: repeat 1 of every point at every scale,
then repeat 2, and so on, so that noise on a shared machine falls on all points alike.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harness.config import PIPELINE_PREFIX, SweepConfig
from harness.storage import copy_tree, remove_tree
from harness.workloads import LandingInfo, Progress, Workload, WorkloadResult, get_workload
from lakelab.errors import UserError
from lakelab.paths import absolute, join
from lakelab.records import new_record, write_record
from pipeline.config import ALL_LAYERS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakelab.config import LakelabConfig

# The version of the payloads this module writes (the envelope has its own `api_version`);
# `harness.results` migrates older payloads and refuses newer ones.
HARNESS_SCHEMA = 1
RUN_KIND = "sweep_run"
SUMMARY_KIND = "sweep_summary"
# Parent and child agree on this prefix for the child's one line of results.
CHILD_RESULT_PREFIX = "LAKELAB-RESULT "
RECORDED_CONF = (
    "spark.driver.memory",
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.enabled",
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.files.maxPartitionBytes",
    "spark.databricks.delta.snapshotPartitions",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism",
)


def short_key(key: str) -> str:
    """`spark.sql.shuffle.partitions` → `shuffle.partitions`, for labels and plots."""
    for prefix in ("spark.sql.", "spark."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def point_label(settings: Mapping[str, str]) -> str:
    """A point's name: its settings, short keys, in axis order."""
    return ", ".join(f"{short_key(key)}={value}" for key, value in settings.items())


def expand_grid(grid: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """The cartesian product of the axes, first axis slowest, values in the order given."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


@dataclass(frozen=True)
class RunSlot:
    """One run in the sweep's order."""

    index: int
    scale: int
    point: int
    repeat: int


def upstream_layers(layers: Sequence[str]) -> list[str]:
    """The pipeline layers that run before the first of `layers` (Bronze, Silver for `gold`)."""
    first = min(ALL_LAYERS.index(layer) for layer in layers)  # type: ignore[arg-type]
    return list(ALL_LAYERS[:first])


def run_order(scales: Sequence[int], points: int, repeats: int) -> list[RunSlot]:
    """Round-robin: every (scale, point) once for repeat r before any runs repeat r+1.

    Scales are interleaved too, so a slow start (JIT, caches) or a noisy neighbour does not
    land on one scale and bend the throughput-against-scale curve.
    """
    slots: list[RunSlot] = []
    for repeat in range(repeats):
        for scale in scales:
            for point in range(points):
                slots.append(RunSlot(len(slots), scale, point, repeat))
    return slots


@dataclass(frozen=True)
class PointPlan:
    """A grid point split by how each setting is applied."""

    settings: dict[str, str]
    runtime_conf: dict[str, str]
    restart_conf: dict[str, str]
    pipeline: dict[str, str]

    @property
    def label(self) -> str:
        """The point's name."""
        return point_label(self.settings)

    @property
    def needs_restart(self) -> bool:
        """True when a run needs a fresh JVM."""
        return bool(self.restart_conf)


def plan_point(settings: Mapping[str, str], is_modifiable: Callable[[str], bool]) -> PointPlan:
    """Split settings into runtime Spark conf, restart-only Spark conf and pipeline fields."""
    runtime, restart, pipeline = {}, {}, {}
    for key, value in settings.items():
        if key.startswith(PIPELINE_PREFIX):
            pipeline[key[len(PIPELINE_PREFIX) :]] = value
        elif is_modifiable(key):
            runtime[key] = value
        else:
            restart[key] = value
    return PointPlan(dict(settings), runtime, restart, pipeline)


def config_for_point(config: LakelabConfig, plan: PointPlan) -> LakelabConfig:
    """`config` with the point's pipeline fields; a value the field rejects is a UserError."""
    if not plan.pipeline:
        return config
    from pipeline.config import PipelineConfig

    data = config.pipeline.model_dump()
    for name, value in plan.pipeline.items():
        if name not in PipelineConfig.model_fields:
            raise UserError(f"sweep.grid: 'pipeline.{name}' is not a [pipeline] setting")
        data[name] = value
    try:
        # Lax mode: grid values are strings ("true", "64") and the fields are typed.
        pipeline = PipelineConfig.model_validate(data, strict=False)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise UserError(
            f"sweep.grid: 'pipeline.{name}' value {plan.pipeline.get(name)!r}: {first['msg']}"
        ) from None
    return config.model_copy(update={"pipeline": pipeline})


@contextmanager
def runtime_conf(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set runtime SQL settings for the duration of a run, then put the old values back."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    try:
        for key, value in settings.items():
            spark.conf.set(key, value)
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def check_runtime_values(spark: SparkSession, plans: Sequence[PointPlan]) -> None:
    """Set and restore every runtime value once, so a bad value fails before any run."""
    for plan in plans:
        for key, value in plan.runtime_conf.items():
            try:
                with runtime_conf(spark, {key: value}):
                    pass
            except Exception as error:  # py4j wraps Spark's IllegalArgumentException
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise UserError(f"sweep.grid: Spark rejects {key}={value!r}: {reason}") from None


def _cluster_sampler(config: LakelabConfig) -> Any:
    """Per-service CPU and RSS of the cluster lab while a run goes, when Spark runs on it."""
    if config.spark.master.startswith("local"):
        return None
    try:
        from cluster.resources import ResourceSampler
    except ImportError:  # the cluster package is optional for sweeps
        return None
    return ResourceSampler(config).begin()


def measure_run(
    spark: SparkSession,
    config: LakelabConfig,
    workload: Workload,
    landing: str,
    warehouse: str,
    layers: Sequence[str],
    records: int,
    progress: Progress,
) -> dict[str, Any]:
    """Run the workload once and return everything measured about it (plain data)."""
    from harness.measure import RssSampler, TaskMetrics, executors_lost, table_footprint

    metrics = TaskMetrics(spark)
    run_started_ms = time.time() * 1000
    cluster_sampler = _cluster_sampler(config)
    metrics.begin()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        with RssSampler() as memory:
            result: WorkloadResult = workload.run(spark, config, landing, warehouse, layers, progress)
    except BaseException:
        if cluster_sampler is not None:
            cluster_sampler.end()  # stop its thread; the failed run has no figures to keep
        raise
    total_seconds = time.perf_counter() - started
    # The machine's 1-minute load average: on a shared machine it says how far to trust the wall time.
    load_after = os.getloadavg()[0]
    metrics.end()
    cluster_resources = cluster_sampler.end() if cluster_sampler is not None else {}
    # A worker or executor lost mid-run (killed, out of memory) makes the run slower, not failed.
    lost = executors_lost(spark, run_started_ms)
    for executor in lost:
        progress(f"executor {executor['id']} on {executor['host']} lost: {executor['reason']}")
    tables = table_footprint(warehouse, spark)
    layer_seconds: dict[str, float] = {}
    for stage in result.stages:
        layer_seconds[stage.layer] = round(layer_seconds.get(stage.layer, 0.0) + stage.seconds, 4)
    return {
        "total_seconds": round(total_seconds, 4),
        "records": records,
        "records_per_second": round(records / total_seconds, 2) if total_seconds > 0 else 0.0,
        "stages": [stage.to_dict() for stage in result.stages],
        "layer_seconds": layer_seconds,
        "reconciled": result.reconciled,
        "workload_run_id": result.run_id,
        "task_metrics": metrics.as_dict(),
        "memory": memory.as_dict(),
        "load_average": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "cluster_resources": cluster_resources,
        "executors_lost": lost,
        "tables": tables,
        "output_bytes": sum(t["bytes"] + t["log_bytes"] for t in tables.values()),
        "output_files": sum(t["files"] for t in tables.values()),
        "spark": {
            "master": spark.sparkContext.master,
            "default_parallelism": spark.sparkContext.defaultParallelism,
        },
        "detail": result.detail,
    }


def run_in_child(
    config: LakelabConfig,
    plan: PointPlan,
    workload: Workload,
    landing: str,
    warehouse: str,
    layers: Sequence[str],
    records: int,
    progress: Progress,
) -> dict[str, Any]:
    """Run one restart point in a fresh Python + JVM (`python -m harness.child`)."""
    spec = {
        "config": config.model_dump_json(),
        "extra_conf": {**plan.restart_conf, **plan.runtime_conf},
        "workload": workload.name,
        "landing": landing,
        "warehouse": warehouse,
        "layers": list(layers),
        "records": records,
    }
    # stderr (Ivy's and Spark's logs) goes to a file: a pipe nobody reads would fill up and
    # block the child while the parent waits for its stdout.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(spec))
        process.stdin.close()
        measured: dict[str, Any] | None = None
        for line in process.stdout:
            if line.startswith(CHILD_RESULT_PREFIX):
                measured = json.loads(line[len(CHILD_RESULT_PREFIX) :])
            else:
                progress(line.rstrip("\n"))
        code = process.wait()
        stderr_file.seek(0)
        stderr = stderr_file.read()
    if code != 0 or measured is None:
        last = [line for line in stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"child run exited {code}: {last[-1] if last else 'no output'}")
    return measured


@dataclass
class SweepSummary:
    """What `run_sweep` did: where the records are and how many runs failed."""

    sweep_id: str
    results_dir: Path
    run_records: list[Path] = field(default_factory=list)
    summary_record: Path | None = None
    failed_runs: int = 0
    seconds: float = 0.0


def new_sweep_id() -> str:
    """`sweep-<UTC time>-<6 hex>`: sorts by time, unique across machines."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"sweep-{stamp}-{uuid.uuid4().hex[:6]}"


def sweep_landing_root(sweep_root: str) -> str:
    """`<paths.sweep>/landing`: one landing per scale below it, generated once, reused by later sweeps."""
    return join(sweep_root, "landing")


def sweep_work_dir(sweep_root: str) -> str:
    """`<paths.sweep>/warehouses`: each sweep's run warehouses go below it, `<sweep id>/run-NNN`."""
    return join(sweep_root, "warehouses")


def scale_landing(landing_root: str, scale: int) -> str:
    """The landing of one scale: `<landing root>/records-<scale>`."""
    return join(landing_root, f"records-{scale}")


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}"[:500]


def run_sweep(
    spark: SparkSession,
    config: LakelabConfig,
    landings: Mapping[int, str],
    work_dir: str | Path,
    results_dir: str | Path,
    workload: Workload | None = None,
    progress: Progress = print,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    on_landing: Callable[[LandingInfo], None] | None = None,
    upstream: Mapping[int, str] | None = None,
) -> SweepSummary:
    """Run `config.sweep` and write one `sweep_run` record per run plus a `sweep_summary`.

    Args:
        spark: the session runtime points run on (from `lakelab.spark.get_session`).
        config: the whole config; `config.sweep` is the grid.
        landings: the landing folder per scale (generated once there, reused by every run);
            a local folder or an `s3a://` URI.
        work_dir: where each run gets a fresh warehouse (`<work_dir>/<sweep id>/run-NNN`),
            a local folder or an `s3a://` URI (on a cluster, executors must reach it).
        results_dir: where records are written.
        workload: what to run (default: `config.sweep.workload`).
        progress: called with one line per step.
        on_run: called with each run's record payload (e.g. to feed a metrics exporter).
        on_landing: called with each scale's landing once it is ready (generated or reused).
        upstream: per scale, a warehouse that already holds the layers before
            `sweep.layers` (e.g. Bronze and Silver for a Gold-only sweep); built once per
            scale into the sweep's work folder when not given.

    Raises:
        UserError: a bad grid value or a scale without landing, before any run starts.
    """
    sweep: SweepConfig = config.sweep
    workload = workload or get_workload(sweep.workload)
    landings = {scale: absolute(path) for scale, path in landings.items()}
    missing = [scale for scale in sweep.scales if scale not in landings]
    if missing:
        raise UserError(f"sweep.scales: no landing folder for scale {missing[0]}")
    points = expand_grid(sweep.grid)
    plans = [plan_point(settings, spark.conf.isModifiable) for settings in points]
    point_configs = [config_for_point(config, plan) for plan in plans]
    check_runtime_values(spark, plans)
    baseline = sweep.baseline_point()
    baseline_index = points.index(baseline)
    slots = run_order(sweep.scales, len(plans), sweep.repeats)
    sweep_id = new_sweep_id()
    seed = config.datagen.seed
    summary = SweepSummary(sweep_id, Path(results_dir))
    run_root = join(absolute(str(work_dir)), sweep_id)
    started = time.perf_counter()
    restarts = sum(plan.needs_restart for plan in plans)
    progress(
        f"sweep {sweep_id}: {len(plans)} point(s) x {len(sweep.scales)} scale(s) x "
        f"{sweep.repeats} repeat(s) = {len(slots)} runs of '{workload.name}'"
        + (f"; {restarts} point(s) need a fresh JVM per run" if restarts else "")
    )

    landing_infos: dict[int, LandingInfo] = {}
    for scale in sweep.scales:
        progress(f"[landing] {scale:,} records at {landings[scale]}")
        landing_infos[scale] = workload.prepare(spark, config, landings[scale], scale, progress)
        if on_landing is not None:
            on_landing(landing_infos[scale])

    before = upstream_layers(sweep.layers) if workload.uses_layers else []
    bases: dict[int, str] = {}
    for scale in sweep.scales if before else []:
        if upstream and scale in upstream:
            bases[scale] = absolute(upstream[scale])
            progress(f"[upstream] {', '.join(before)} at {scale:,} records: reusing {bases[scale]}")
            continue
        bases[scale] = join(run_root, f"upstream-{scale}")
        progress(f"[upstream] {', '.join(before)} at {scale:,} records, built once (not measured)")
        upstream_started = time.perf_counter()
        workload.run(spark, config, landings[scale], bases[scale], before, lambda line: progress("  " + line))
        progress(f"[upstream] built in {time.perf_counter() - upstream_started:.1f}s")

    def execute(slot: RunSlot, warehouse: str, prefix: str) -> dict[str, Any]:
        plan = plans[slot.point]
        if slot.scale in bases:
            # Each run starts from the same upstream layers; copying them is not measured.
            copy_tree(spark, bases[slot.scale], warehouse)
        indent: Progress = lambda line: progress(f"{prefix}  {line}")  # noqa: E731
        if plan.needs_restart:
            return run_in_child(
                point_configs[slot.point],
                plan,
                workload,
                landings[slot.scale],
                warehouse,
                sweep.layers,
                slot.scale,
                indent,
            )
        with runtime_conf(spark, plan.runtime_conf):
            return measure_run(
                spark,
                point_configs[slot.point],
                workload,
                landings[slot.scale],
                warehouse,
                sweep.layers,
                slot.scale,
                indent,
            )

    for number in range(sweep.warmup):
        warehouse = join(run_root, f"warmup-{number}")
        progress(f"[warmup {number + 1}/{sweep.warmup}] {plans[baseline_index].label} (not recorded)")
        slot = RunSlot(-1, sweep.scales[0], baseline_index, -1)
        try:
            execute(slot, warehouse, "[warmup]")
        finally:
            remove_tree(spark, warehouse)

    run_ids = []
    for slot in slots:
        plan = plans[slot.point]
        warehouse = join(run_root, f"run-{slot.index:03d}")
        prefix = f"[run {slot.index + 1}/{len(slots)}]"
        progress(f"{prefix} scale={slot.scale:,} {plan.label} repeat {slot.repeat + 1}/{sweep.repeats}")
        payload: dict[str, Any] = {
            "harness_schema": HARNESS_SCHEMA,
            "sweep_id": sweep_id,
            "run_index": slot.index,
            "scale": slot.scale,
            "repeat": slot.repeat,
            "point": plan.label,
            "point_index": slot.point,
            "settings": plan.settings,
            "needs_restart": plan.needs_restart,
            "is_baseline": slot.point == baseline_index,
            "workload": workload.name,
            "layers": list(sweep.layers) if workload.uses_layers else [],
            "upstream_layers": before,
        }
        try:
            measured = execute(slot, warehouse, prefix)
        except UserError:
            raise
        except Exception as error:  # a failed run is a result too; the sweep goes on
            payload.update(status="failed", error=_one_line(error))
            summary.failed_runs += 1
            progress(f"{prefix} FAILED: {payload['error']}")
        else:
            payload.update(status="ok", error=None, **measured)
            metrics = measured["task_metrics"]
            progress(
                f"{prefix} {measured['total_seconds']:.2f}s, "
                f"{measured['records_per_second']:,.0f} records/s, "
                f"cpu {metrics['executor_cpu_time_ms'] / 1000:.1f}s, "
                f"shuffle {metrics['shuffle_write_bytes'] / 1e3:,.0f} kB, "
                f"peak RSS {measured['memory']['peak_driver_rss_bytes'] / 1e9:.2f} GB, "
                f"{measured['output_files']} files / {measured['output_bytes'] / 1e3:,.0f} kB written, "
                f"load {measured['load_average']['after']:.1f}"
            )
        finally:
            if not sweep.keep_warehouses:
                remove_tree(spark, warehouse)
        record = new_record(RUN_KIND, payload, seed)
        summary.run_records.append(write_record(record, results_dir))
        run_ids.append(record["record_id"])
        if on_run is not None:
            on_run(payload)

    summary.seconds = time.perf_counter() - started
    summary_payload = {
        "harness_schema": HARNESS_SCHEMA,
        "sweep_id": sweep_id,
        "workload": workload.name,
        "scales": list(sweep.scales),
        "repeats": sweep.repeats,
        "warmup": sweep.warmup,
        "layers": list(sweep.layers) if workload.uses_layers else [],
        "upstream_layers": before,
        # Records are written with sorted keys, so the axis order is kept as a list.
        "axes": list(sweep.grid),
        "grid": {key: list(values) for key, values in sweep.grid.items()},
        "baseline": {"point": plans[baseline_index].label, "settings": baseline},
        "points": [
            {"point": plan.label, "settings": plan.settings, "needs_restart": plan.needs_restart}
            for plan in plans
        ],
        "order": [{"scale": s.scale, "point": plans[s.point].label, "repeat": s.repeat} for s in slots],
        "run_record_ids": run_ids,
        "landings": [
            {
                "scale": info.records,
                "path": info.path,
                "generated": info.generated,
                "seconds": round(info.seconds, 3),
                "detail": info.detail,
            }
            for info in landing_infos.values()
        ],
        "failed_runs": summary.failed_runs,
        "seconds": round(summary.seconds, 3),
        "spark": {
            "master": spark.sparkContext.master,
            "default_parallelism": spark.sparkContext.defaultParallelism,
            # The session's values of the settings that most change these figures.
            "session_conf": {key: spark.conf.get(key, None) for key in RECORDED_CONF},
        },
        "pipeline": config.pipeline.model_dump(mode="json"),
        "cost": sweep.cost.model_dump(),
    }
    summary_record = new_record(SUMMARY_KIND, summary_payload, seed)
    summary.summary_record = write_record(summary_record, results_dir)
    if not sweep.keep_warehouses:
        remove_tree(spark, run_root)
    progress(
        f"sweep {sweep_id}: {len(slots)} runs in {summary.seconds:.1f}s, {summary.failed_runs} failed; "
        f"records in {results_dir}"
    )
    return summary
