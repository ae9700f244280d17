"""`lakelab sweep`: every scale × grid point × repeat, measured, one record per run.

A grid point is a set of settings. Spark SQL settings that Spark can change at runtime
(`spark.conf.isModifiable`) are set on the running session for the run and restored after it.
Settings that need a new JVM (memory, cores, static SQL settings) make the point a "restart"
point: each of its runs starts a fresh session in a child process (`harness.child`) that
measures the same way and hands its figures back. `pipeline.*` settings change the pipeline's
physical design for the run. The runs are interleaved: repeat 1 of every point at every scale,
then repeat 2, and so on, so that noise on a shared machine falls on all points alike.

`sweep.strategy` chooses the points (`harness.search`): the whole grid, a seeded sample of it,
or a successive-halving ladder, which is a sequence of sweeps at one scale each, over fewer
points each time, run by the same runner.

Every sweep first writes a `sweep_plan` record (what it will run), then one `sweep_run` record
per run as each finishes, and a `sweep_summary` at the end. A sweep stopped before its summary
(Ctrl-C, a crash) can be resumed: the runs it recorded are kept and only the rest are run.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harness import search
from harness.config import PIPELINE_PREFIX, SweepConfig
from harness.search import count_text
from harness.storage import copy_tree, remove_tree
from harness.workloads import LandingInfo, Progress, Workload, WorkloadResult, get_workload
from lakelab.errors import UserError
from lakelab.paths import absolute, join
from lakelab.records import (
    SWEEP_SCHEMA,
    RecordKind,
    new_record,
    point_label,
    read_records,
    write_record,
)
from pipeline.config import ALL_LAYERS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakelab.config import LakelabConfig

# The version of the payloads this module writes (the envelope has its own `api_version`);
# `harness.results` migrates older payloads and refuses newer ones.
HARNESS_SCHEMA = SWEEP_SCHEMA
PLAN_KIND = RecordKind.SWEEP_PLAN
RUN_KIND = RecordKind.SWEEP_RUN
SUMMARY_KIND = RecordKind.SWEEP_SUMMARY
# What `--resume` compares between the recorded plan and the one the config and options give.
PLAN_FIELDS = (
    "workload",
    "scales",
    "repeats",
    "axes",
    "grid",
    "baseline",
    "layers",
    "strategy",
    "sample",
    "budget_s",
    "points",
)
# What a plan recorded before a field existed meant by its absence.
PLAN_DEFAULTS: dict[str, Any] = {"strategy": "grid", "sample": None, "budget_s": None}
# Parent and child agree on this prefix for the child's one line of results.
CHILD_RESULT_PREFIX = "LAKELAB-RESULT "
# How the parent starts a child run (after the interpreter); tests swap in a stand-in.
CHILD_COMMAND: tuple[str, ...] = ("-m", "harness.child")
RECORDED_CONF = (
    "spark.driver.memory",
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.enabled",
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.files.maxPartitionBytes",
    "spark.databricks.delta.snapshotPartitions",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism",
)


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


class OverTimeLimitError(Exception):
    """A run took longer than `sweep.time_limit_s` and was stopped."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"over its time limit of {limit_s:g} s")


@contextmanager
def time_limited(spark: SparkSession, limit_s: float | None) -> Iterator[None]:
    """Stop an in-process run that outlives `limit_s` by cancelling its Spark jobs.

    Python code between jobs cannot be interrupted from another thread, so past the limit
    every job the run starts is cancelled (checked each second) until it gives up; a run that
    returns past its limit without a job to cancel is failed all the same.

    Raises:
        OverTimeLimitError: the run was still going at `limit_s`.
    """
    if limit_s is None:
        yield
        return
    done, expired = threading.Event(), threading.Event()

    def watch() -> None:
        if done.wait(limit_s):
            return
        expired.set()
        while not done.is_set():
            try:
                spark.sparkContext.cancelAllJobs()
            except Exception:  # the JVM may be gone; the run then fails on its own
                return
            done.wait(1.0)

    watcher = threading.Thread(target=watch, name="lakelab-time-limit", daemon=True)
    watcher.start()
    try:
        yield
    except Exception as error:
        if expired.is_set():
            raise OverTimeLimitError(limit_s) from error
        raise
    finally:
        done.set()
        watcher.join()
    if expired.is_set():
        raise OverTimeLimitError(limit_s)


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
    from harness.measure import RssSampler, TaskMetrics, executors_lost, table_footprint, written_since

    metrics = TaskMetrics(spark)
    # A run of later layers starts on a copy of the earlier ones: only what it adds is its output.
    copied = table_footprint(warehouse, spark) if layers and layers[0] != "bronze" else {}
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
    written = written_since(copied, tables)
    # Wall seconds per layer: a layer's stages overlap when it builds tables in parallel.
    layer_seconds = result.seconds_by_layer()
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
        # What this run wrote (data and log), not the upstream tables copied under it.
        "output_bytes": written["bytes"],
        "output_files": written["files"],
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
    time_limit_s: float | None = None,
) -> dict[str, Any]:
    """Run one restart point in a fresh Python + JVM (`python -m harness.child`).

    The child gets a process group of its own, so its JVM goes with it when it is killed: at
    `time_limit_s` (then `OverTimeLimitError` is raised), or when the parent is interrupted.
    """
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
            [sys.executable, *CHILD_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            # Its own group: Ctrl-C reaches the parent only, which then kills the whole group.
            start_new_session=True,
        )
        over_limit = threading.Event()

        def stop_over_limit() -> None:
            over_limit.set()
            _kill_group(process)

        timer = threading.Timer(time_limit_s, stop_over_limit) if time_limit_s is not None else None
        try:
            if timer is not None:
                timer.start()
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
        finally:
            if timer is not None:
                timer.cancel()
            if process.poll() is None:  # interrupted: the child and its JVM go too
                _kill_group(process)
                process.wait()
        stderr_file.seek(0)
        stderr = stderr_file.read()
    if over_limit.is_set() and time_limit_s is not None:
        raise OverTimeLimitError(time_limit_s)
    if code != 0 or measured is None:
        last = [line for line in stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(f"child run exited {code}: {last[-1] if last else 'no output'}")
    return measured


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL a child started with `start_new_session` and every process in its group."""
    with suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class SweepSummary:
    """What `run_sweep` did: where the records are and how many runs failed."""

    sweep_id: str
    results_dir: Path
    # The records written by this call; a resumed sweep's earlier runs are `kept_runs`.
    run_records: list[Path] = field(default_factory=list)
    summary_record: Path | None = None
    failed_runs: int = 0
    seconds: float = 0.0
    kept_runs: int = 0


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the runs recorded so far stay on disk and it can be resumed."""

    def __init__(self, sweep_id: str, recorded: int, runs: int) -> None:
        super().__init__(f"sweep {sweep_id} interrupted after {recorded} of {runs} runs")
        self.sweep_id = sweep_id
        self.recorded = recorded
        self.runs = runs


def sweep_points(sweep: SweepConfig, seed: int) -> tuple[list[dict[str, str]], int]:
    """The points a sweep runs (for `halving`, its first rung), in grid order, and the baseline's
    place among them: the whole grid, or a seeded sample of it that holds the baseline."""
    grid = expand_grid(sweep.grid)
    baseline = grid.index(sweep.baseline_point())
    if sweep.sample is None:
        return grid, baseline
    chosen = search.sample_points(grid, baseline, sweep.sample, seed)
    return [grid[index] for index in chosen], chosen.index(baseline)


def sweep_scales(sweep: SweepConfig) -> list[int]:
    """The scales in run order: as given, or ascending for `halving` (the rungs of its ladder)."""
    return sorted(sweep.scales) if sweep.strategy == "halving" else list(sweep.scales)


def sweep_plan(sweep: SweepConfig, workload: Workload, seed: int) -> dict[str, Any]:
    """What a sweep runs, as its `sweep_plan` record keeps it and `--resume` compares it."""
    points, _baseline = sweep_points(sweep, seed)
    return {
        "workload": workload.name,
        "scales": sweep_scales(sweep),
        "repeats": sweep.repeats,
        # Records are written with sorted keys, so the axis order is kept as a list.
        "axes": list(sweep.grid),
        "grid": {key: list(values) for key, values in sweep.grid.items()},
        "baseline": sweep.baseline_point(),
        "layers": list(sweep.layers) if workload.uses_layers else [],
        "strategy": sweep.strategy,
        "sample": sweep.sample,
        "budget_s": sweep.budget_s,
        # The settings of every point run (of the first rung, for halving): a sample depends on
        # the seed too, so the points themselves are compared on `--resume`.
        "points": points,
    }


def _plan_field(plan: Mapping[str, Any], name: str) -> Any:
    """A field of a recorded plan; plans from before search strategies were whole-grid sweeps."""
    if name == "points" and "points" not in plan:
        return expand_grid(plan["grid"])
    return plan.get(name, PLAN_DEFAULTS.get(name))


def planned_runs(plan: Mapping[str, Any]) -> int:
    """Runs a recorded plan asks for; for `halving`, the most its ladder can run."""
    points = len(_plan_field(plan, "points"))
    scales = len(plan["scales"])
    if _plan_field(plan, "strategy") == "halving":
        return sum(search.ladder_upper_bound(points, scales)) * int(plan["repeats"])
    return points * scales * int(plan["repeats"])


RunKey = tuple[int, tuple[tuple[str, str], ...], int]


def run_key(scale: int, settings: Mapping[str, str], repeat: int) -> RunKey:
    """What identifies a run within its sweep: scale, point settings and repeat."""
    return int(scale), tuple(sorted((str(k), str(v)) for k, v in settings.items())), int(repeat)


def _sweep_records(results_dir: str | Path) -> list[dict[str, Any]]:
    """The plan, run and summary records under `results_dir`, oldest first (none without the folder)."""
    from harness.results import migrate_payload

    directory = Path(results_dir)
    if not directory.is_dir():
        return []
    try:
        records = read_records(directory)
    except ValueError as error:  # an api_version this lakelab does not know
        raise UserError(str(error)) from None
    chosen = [r for r in records if r.get("kind") in (PLAN_KIND, RUN_KIND, SUMMARY_KIND)]
    for record in chosen:
        record["payload"] = migrate_payload(record["payload"], f"{directory}/{record['record_id']}")
    return chosen


@dataclass(frozen=True)
class RecordedSweep:
    """An unfinished sweep as its records left it: its plan and its recorded runs by `run_key`."""

    sweep_id: str
    plan_record_id: str
    runs: dict[RunKey, dict[str, Any]]


def recorded_sweep(results_dir: str | Path, sweep_id: str, plan: Mapping[str, Any]) -> RecordedSweep:
    """What `lakelab sweep --resume sweep_id` keeps, once `plan` is checked against the recorded one.

    Raises:
        UserError: no sweep `sweep_id` was started in `results_dir`, it finished already, or
            `plan` (from the config and options) is not the plan it started with.
    """
    mine = [r for r in _sweep_records(results_dir) if r["payload"].get("sweep_id") == sweep_id]
    if any(r["kind"] == SUMMARY_KIND for r in mine):
        raise UserError(
            f"--resume {sweep_id}: that sweep finished (its summary is in {results_dir}); "
            f"`lakelab report --sweep {sweep_id}` renders it"
        )
    plans = [r for r in mine if r["kind"] == PLAN_KIND]
    if not plans:
        raise UserError(f"--resume {sweep_id}: no sweep of that id was started in {results_dir}")
    recorded = plans[0]["payload"]
    for name in PLAN_FIELDS:
        if _plan_field(recorded, name) != plan[name]:
            raise UserError(
                f"--resume {sweep_id}: it started with {name} {json.dumps(_plan_field(recorded, name))}, "
                f"the config and options now give {json.dumps(plan[name])}; "
                "resume with the options it started with"
            )
    runs: dict[RunKey, dict[str, Any]] = {}
    for record in mine:
        if record["kind"] == RUN_KIND:
            payload = record["payload"]
            runs.setdefault(run_key(payload["scale"], payload["settings"], payload["repeat"]), record)
    return RecordedSweep(sweep_id, str(plans[0]["record_id"]), runs)


def unfinished_sweep(results_dir: str | Path, sweep_id: str | None) -> tuple[str, int, int] | None:
    """(id, runs recorded, runs planned) when a sweep has a plan but no summary, else None.

    `sweep_id` None means the sweep started last, the one `lakelab report` would pick.
    """
    records = _sweep_records(results_dir)
    started = [r for r in records if r["kind"] in (PLAN_KIND, SUMMARY_KIND)]
    if sweep_id is None:
        if not started:
            return None
        sweep_id = str(started[-1]["payload"]["sweep_id"])
    mine = [r for r in records if r["payload"].get("sweep_id") == sweep_id]
    plans = [r["payload"] for r in mine if r["kind"] == PLAN_KIND]
    if not plans or any(r["kind"] == SUMMARY_KIND for r in mine):
        return None
    planned = planned_runs(plans[0])
    recorded = {
        run_key(r["payload"]["scale"], r["payload"]["settings"], r["payload"]["repeat"])
        for r in mine
        if r["kind"] == RUN_KIND
    }
    return sweep_id, len(recorded), planned


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


def _run_error(error: Exception) -> str:
    """A failed run's `error`: the reason itself for a time limit, else the exception's first line."""
    return str(error) if isinstance(error, OverTimeLimitError) else _one_line(error)


def _write(
    kind: str, payload: Mapping[str, Any], seed: int | None, results_dir: str | Path
) -> tuple[str, Path]:
    """Write one record; its id and path."""
    record = new_record(kind, payload, seed)
    return str(record["record_id"]), write_record(record, results_dir)


class _Runner:
    """The one runner of every strategy: landings and upstream layers per scale (each once), the
    warm-up (once per session), and measured runs, one `sweep_run` record each.

    A strategy only decides which slots to run and when; `run` keeps the runs an earlier
    session of the sweep recorded (`--resume`) and measures the rest.
    """

    def __init__(
        self,
        spark: SparkSession,
        config: LakelabConfig,
        workload: Workload,
        landings: Mapping[int, str],
        run_root: str,
        results_dir: str | Path,
        plans: Sequence[PointPlan],
        baseline_index: int,
        recorded: RecordedSweep | None,
        summary: SweepSummary,
        progress: Progress,
        on_run: Callable[[dict[str, Any]], None] | None,
        on_landing: Callable[[LandingInfo], None] | None,
        upstream: Mapping[int, str] | None,
    ) -> None:
        self.spark, self.config, self.workload = spark, config, workload
        self.sweep: SweepConfig = config.sweep
        self.landings, self.run_root, self.results_dir = landings, run_root, results_dir
        self.plans, self.baseline_index = plans, baseline_index
        self.point_configs = [config_for_point(config, plan) for plan in plans]
        self.recorded, self.summary = recorded, summary
        self.progress, self.on_run, self.on_landing, self.upstream = progress, on_run, on_landing, upstream
        self.before = upstream_layers(self.sweep.layers) if workload.uses_layers else []
        self.landing_infos: dict[int, LandingInfo] = {}
        self.bases: dict[int, str] = {}
        self.warmed = False
        # Every slot run or kept so far, in order, with its record id and payload.
        self.order: list[RunSlot] = []
        self.run_ids: list[str] = []
        self.payloads: dict[int, dict[str, Any]] = {}

    def kept(self, slot: RunSlot) -> dict[str, Any] | None:
        """The record an earlier session of this sweep wrote for `slot`, if any."""
        if self.recorded is None:
            return None
        return self.recorded.runs.get(run_key(slot.scale, self.plans[slot.point].settings, slot.repeat))

    def prepare_landing(self, scale: int) -> None:
        """Generate (or reuse) the landing of `scale`, once."""
        if scale in self.landing_infos:
            return
        self.progress(f"[landing] {scale:,} records at {self.landings[scale]}")
        info = self.workload.prepare(self.spark, self.config, self.landings[scale], scale, self.progress)
        self.landing_infos[scale] = info
        if self.on_landing is not None:
            self.on_landing(info)

    def prepare_upstream(self, scale: int) -> None:
        """Build (or take from `upstream`) the layers before the swept ones at `scale`, once."""
        if not self.before or scale in self.bases:
            return
        progress = self.progress
        if self.upstream and scale in self.upstream:
            self.bases[scale] = absolute(self.upstream[scale])
            progress(f"[upstream] {', '.join(self.before)} at {scale:,} records: reusing {self.bases[scale]}")
            return
        base = join(self.run_root, f"upstream-{scale}")
        if self.recorded is not None:
            remove_tree(self.spark, base)  # it may be half built
        progress(f"[upstream] {', '.join(self.before)} at {scale:,} records, built once (not measured)")
        started = time.perf_counter()
        self.workload.run(
            self.spark,
            self.config,
            self.landings[scale],
            base,
            self.before,
            lambda line: progress("  " + line),
        )
        self.bases[scale] = base
        progress(f"[upstream] built in {time.perf_counter() - started:.1f}s")

    def warm_up(self, scale: int) -> None:
        """`sweep.warmup` unrecorded runs of the baseline at `scale`, once per session."""
        if self.warmed:
            return
        self.warmed = True
        warmup = self.sweep.warmup
        if warmup:
            self.prepare_landing(scale)
            self.prepare_upstream(scale)
        for number in range(warmup):
            warehouse = join(self.run_root, f"warmup-{number}")
            self.progress(
                f"[warmup {number + 1}/{warmup}] {self.plans[self.baseline_index].label} (not recorded)"
            )
            try:
                self.execute(RunSlot(-1, scale, self.baseline_index, -1), warehouse, "[warmup]")
            except UserError:
                raise
            except Exception as error:  # the recorded runs of the baseline will say it too
                self.progress(f"[warmup] FAILED: {_run_error(error)}")
            finally:
                remove_tree(self.spark, warehouse)

    def execute(self, slot: RunSlot, warehouse: str, prefix: str) -> dict[str, Any]:
        """Measure one run of `slot` into `warehouse` (in a child process for a restart point)."""
        plan, sweep = self.plans[slot.point], self.sweep
        if self.recorded is not None:
            remove_tree(self.spark, warehouse)  # what a run stopped mid-way left behind
        if slot.scale in self.bases:
            # Each run starts from the same upstream layers; copying them is not measured.
            copy_tree(self.spark, self.bases[slot.scale], warehouse)
        indent: Progress = lambda line: self.progress(f"{prefix}  {line}")  # noqa: E731
        landing = self.landings[slot.scale]
        if plan.needs_restart:
            return run_in_child(
                self.point_configs[slot.point], plan, self.workload, landing, warehouse, sweep.layers,
                slot.scale, indent, time_limit_s=sweep.time_limit_s,
            )  # fmt: skip
        with runtime_conf(self.spark, plan.runtime_conf), time_limited(self.spark, sweep.time_limit_s):
            return measure_run(
                self.spark, self.point_configs[slot.point], self.workload, landing, warehouse, sweep.layers,
                slot.scale, indent,
            )  # fmt: skip

    def run(self, slots: Sequence[RunSlot], prefix: Callable[[RunSlot], str]) -> None:
        """Run `slots` in order (keeping recorded ones), one `sweep_run` record per run."""
        sweep, summary, progress = self.sweep, self.summary, self.progress
        for slot in slots:
            self.order.append(slot)
            kept = self.kept(slot)
            if kept is not None:
                self.run_ids.append(str(kept["record_id"]))
                self.payloads[slot.index] = kept["payload"]
                summary.kept_runs += 1
                if kept["payload"]["status"] != "ok":
                    summary.failed_runs += 1
                continue
            plan = self.plans[slot.point]
            warehouse = join(self.run_root, f"run-{slot.index:03d}")
            label = prefix(slot)
            progress(f"{label} scale={slot.scale:,} {plan.label} repeat {slot.repeat + 1}/{sweep.repeats}")
            payload: dict[str, Any] = {
                "harness_schema": HARNESS_SCHEMA,
                "sweep_id": summary.sweep_id,
                "run_index": slot.index,
                "scale": slot.scale,
                "repeat": slot.repeat,
                "point": plan.label,
                "point_index": slot.point,
                "settings": plan.settings,
                "needs_restart": plan.needs_restart,
                "is_baseline": slot.point == self.baseline_index,
                "workload": self.workload.name,
                "layers": list(sweep.layers) if self.workload.uses_layers else [],
                "upstream_layers": self.before,
                "time_limit_s": sweep.time_limit_s,
            }
            started = time.perf_counter()
            try:
                measured = self.execute(slot, warehouse, label)
            except UserError:
                raise
            except Exception as error:  # a failed run is a result too; the sweep goes on
                # What the attempt took: a halving budget counts failed runs' time too.
                elapsed = round(time.perf_counter() - started, 4)
                payload.update(status="failed", error=_run_error(error), elapsed_seconds=elapsed)
                summary.failed_runs += 1
                progress(f"{label} FAILED: {payload['error']}")
            else:
                payload.update(status="ok", error=None, **measured)
                metrics = measured["task_metrics"]
                progress(
                    f"{label} {measured['total_seconds']:.2f}s, "
                    f"{measured['records_per_second']:,.0f} records/s, "
                    f"cpu {metrics['executor_cpu_time_ms'] / 1000:.1f}s, "
                    f"shuffle {metrics['shuffle_write_bytes'] / 1e3:,.0f} kB, "
                    f"peak RSS {measured['memory']['peak_driver_rss_bytes'] / 1e9:.2f} GB, "
                    f"{measured['output_files']} files / {measured['output_bytes'] / 1e3:,.0f} kB written, "
                    f"load {measured['load_average']['after']:.1f}"
                )
            finally:
                if not sweep.keep_warehouses:
                    remove_tree(self.spark, warehouse)
            record_id, path = _write(RUN_KIND, payload, self.config.datagen.seed, self.results_dir)
            summary.run_records.append(path)
            self.run_ids.append(record_id)
            self.payloads[slot.index] = payload
            if self.on_run is not None:
                self.on_run(payload)


def run_seconds(payload: Mapping[str, Any]) -> float:
    """What one run spent: its total seconds, or for a failed run the time the attempt took."""
    if payload.get("status") == "ok":
        return float(payload["total_seconds"])
    return float(payload.get("elapsed_seconds") or 0.0)


def _run_grid(runner: _Runner, scales: Sequence[int]) -> None:
    """`grid` and `random`: every point at every scale, repeats interleaved round-robin."""
    slots = run_order(scales, len(runner.plans), runner.sweep.repeats)
    to_run = sum(runner.kept(slot) is None for slot in slots)
    for scale in scales:
        runner.prepare_landing(scale)
    for scale in scales if to_run else []:
        runner.prepare_upstream(scale)
    if to_run:
        runner.warm_up(scales[0])
    runner.run(slots, lambda slot: f"[run {slot.index + 1}/{len(slots)}]")


def _run_ladder(runner: _Runner, scales: Sequence[int]) -> dict[str, Any]:
    """`halving`: a rung per scale, ascending, each a sweep at one scale over the points the rung
    before promoted; returns the ladder as the summary records it."""
    sweep, progress = runner.sweep, runner.progress
    points = list(range(len(runner.plans)))
    rungs: list[dict[str, Any]] = []
    spent = 0.0
    stop: dict[str, str] = {}
    next_index = 0
    for number, scale in enumerate(scales):
        came_from = f"{len(points)} point(s)" + (
            f" promoted from {count_text(scales[number - 1])}" if number else " of the grid"
        )
        progress(f"[halving] rung {number + 1}/{len(scales)}: {count_text(scale)} records, {came_from}")
        slots = [
            RunSlot(next_index + place, scale, point, repeat)
            for place, (repeat, point) in enumerate(itertools.product(range(sweep.repeats), points))
        ]
        next_index += len(slots)
        runner.prepare_landing(scale)
        if any(runner.kept(slot) is None for slot in slots):
            runner.prepare_upstream(scale)
            runner.warm_up(scales[0])  # at the smallest scale: JIT and class loading, not data
        runner.run(slots, functools.partial(_rung_prefix, f"[rung {number + 1}/{len(scales)}", slots))
        rung = _rung_result(runner, number, scale, slots)
        spent += rung["run_seconds"]
        rung["spent_s"] = round(spent, 4)
        promoted = [entry["point_index"] for entry in rung["points"] if entry["promoted"]]
        if number == len(scales) - 1:
            stop = {
                "reason": search.STOP_TOP_SCALE,
                "message": f"top scale {count_text(scale)} reached at rung {number + 1}",
            }
        elif not promoted:
            stop = {
                "reason": search.STOP_NO_POINT,
                "message": f"stopped after rung {number + 1}/{len(scales)}: "
                f"no point finished a run at {count_text(scale)} records",
            }
        else:
            estimate = search.next_rung_estimate(
                {entry["point_index"]: entry["run_seconds"] for entry in rung["points"]},
                promoted,
                scale,
                scales[number + 1],
            )
            rung["estimate_next_s"] = round(estimate, 4)
            if not search.within_budget(estimate, sweep.budget_s, spent):
                left = search.budget_left(sweep.budget_s, spent)
                overspent = (
                    f"; the first rung alone took {rung['run_seconds']:.1f} s"
                    if number == 0 and left < 0
                    else ""
                )
                message = (
                    f"budget stop after rung {number + 1}/{len(scales)}: rung {number + 2} at "
                    f"{count_text(scales[number + 1])} records is estimated at {estimate:.1f} s for "
                    f"{len(promoted)} point(s), {max(left, 0.0):.1f} s of the {sweep.budget_s:g} s "
                    "budget left"
                )
                stop = {"reason": search.STOP_BUDGET, "message": message + overspent}
        rungs.append(rung)
        if stop:
            _last_rung(rung, stop["reason"])
            progress(f"[halving] {stop['message']}")
            break
        points = promoted
    top = min(rungs[-1]["points"], key=lambda entry: int(entry["rank"]))
    if top["median_seconds"] is not None:
        progress(
            f"[halving] fastest at {count_text(rungs[-1]['scale'])} records: {top['point']} "
            f"({top['median_seconds']:.2f} s median)"
        )
    return {
        "scales": list(scales),
        # The fastest point of the highest rung run, by median (a point without an ok run ranks last).
        "best": {"point": top["point"], "scale": rungs[-1]["scale"], "median_seconds": top["median_seconds"]},
        "budget_s": sweep.budget_s,
        "spent_s": round(spent, 4),
        "rungs": rungs,
        "stop": stop,
    }


def _last_rung(rung: dict[str, Any], stop_reason: str) -> None:
    """The rung the ladder stopped at promotes nobody: its selection is kept as a reason only."""
    for entry in rung["points"]:
        if entry["promoted"]:
            entry["reason"] = (
                f"selected ({entry['reason']}), not run: over the budget"
                if stop_reason == search.STOP_BUDGET
                else None
            )
        entry["promoted"] = False
    rung["promoted"] = 0


def _rung_prefix(rung: str, slots: Sequence[RunSlot], slot: RunSlot) -> str:
    """`[rung 2/3, run 4/6]`: a run's place within its rung."""
    return f"{rung}, run {slot.index - slots[0].index + 1}/{len(slots)}]"


def _rung_result(runner: _Runner, number: int, scale: int, slots: Sequence[RunSlot]) -> dict[str, Any]:
    """One rung's points with their medians, run-seconds, rank and promotion."""
    by_point: dict[int, list[dict[str, Any]]] = {}
    for slot in slots:
        by_point.setdefault(slot.point, []).append(runner.payloads[slot.index])
    medians: dict[int, float | None] = {}
    for point, payloads in by_point.items():
        ok = [float(p["total_seconds"]) for p in payloads if p["status"] == "ok"]
        medians[point] = float(statistics.median(ok)) if ok else None
    promotions = {promotion.point: promotion for promotion in search.promote(medians, runner.baseline_index)}
    ranks = {point: place + 1 for place, point in enumerate(search.rank(medians))}
    entries = []
    for point, payloads in by_point.items():
        promotion = promotions.get(point)
        entries.append(
            {
                "point": runner.plans[point].label,
                "point_index": point,
                "settings": runner.plans[point].settings,
                "is_baseline": point == runner.baseline_index,
                "runs": len(payloads),
                "ok_runs": sum(p["status"] == "ok" for p in payloads),
                "median_seconds": None if medians[point] is None else round(medians[point] or 0.0, 4),
                "run_seconds": round(sum(run_seconds(p) for p in payloads), 4),
                "rank": ranks[point],
                "promoted": promotion is not None,
                "reason": promotion.reason if promotion is not None else None,
            }
        )
    return {
        "rung": number + 1,
        "scale": scale,
        "run_seconds": round(sum(entry["run_seconds"] for entry in entries), 4),
        "points": entries,
        "promoted": len(promotions),
        "estimate_next_s": None,
    }


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
    resume: str | None = None,
) -> SweepSummary:
    """Run `config.sweep`: a `sweep_plan` record, one `sweep_run` record per run, a `sweep_summary`.

    `sweep.strategy` says which runs: every point at every scale (`grid`), a seeded sample of
    the points at every scale (`random`), or a successive-halving ladder (`halving`, see
    `harness.search`), whose rungs the summary records under `ladder`.

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
        resume: the id of an unfinished sweep in `results_dir` to finish: its recorded runs are
            kept, the others run in the original order (warm-up first, on this fresh JVM); a
            halving ladder takes the same promotions again, from the same records.

    Raises:
        UserError: a bad grid value, a scale without landing, or a sweep `resume` cannot
            finish, before any run starts.
        SweepInterrupted: Ctrl-C after the plan was recorded; the runs recorded so far stay.
    """
    sweep: SweepConfig = config.sweep
    workload = workload or get_workload(sweep.workload)
    landings = {scale: absolute(path) for scale, path in landings.items()}
    missing = [scale for scale in sweep.scales if scale not in landings]
    if missing:
        raise UserError(f"sweep.scales: no landing folder for scale {missing[0]}")
    seed = config.datagen.seed
    planned = sweep_plan(sweep, workload, seed)
    recorded = recorded_sweep(results_dir, resume, planned) if resume is not None else None
    points, baseline_index = sweep_points(sweep, seed)
    plans = [plan_point(settings, spark.conf.isModifiable) for settings in points]
    check_runtime_values(spark, plans)
    scales = sweep_scales(sweep)
    runs = planned_runs(planned)
    sweep_id = recorded.sweep_id if recorded is not None else new_sweep_id()
    summary = SweepSummary(sweep_id, Path(results_dir))
    run_root = join(absolute(str(work_dir)), sweep_id)
    started = time.perf_counter()
    if recorded is None:
        plan_payload = {
            "harness_schema": HARNESS_SCHEMA,
            "sweep_id": sweep_id,
            **planned,
            "warmup": sweep.warmup,
            "time_limit_s": sweep.time_limit_s,
        }
        plan_record_id, _path = _write(PLAN_KIND, plan_payload, seed, results_dir)
    else:
        plan_record_id = recorded.plan_record_id
    restarts = sum(plan.needs_restart for plan in plans)
    grid_size = len(expand_grid(sweep.grid))
    if sweep.strategy == "halving":
        progress(
            f"sweep {sweep_id}: successive halving, {len(plans)} point(s)"
            + (f" sampled from {grid_size}" if len(plans) < grid_size else "")
            + f" x {sweep.repeats} repeat(s) at {count_text(scales[0])} records, the best third promoted "
            f"up to {count_text(scales[-1])} ({len(scales)} rungs, at most {runs} runs of '{workload.name}')"
            + (f" within {sweep.budget_s:g} run-seconds" if sweep.budget_s is not None else "")
            + (f"; {restarts} point(s) need a fresh JVM per run" if restarts else "")
        )
    else:
        progress(
            f"sweep {sweep_id}: {len(plans)} point(s)"
            + (f" sampled from {grid_size} (seed {seed})" if sweep.strategy == "random" else "")
            + f" x {len(scales)} scale(s) x {sweep.repeats} repeat(s) = {runs} runs of '{workload.name}'"
            + (f"; {restarts} point(s) need a fresh JVM per run" if restarts else "")
        )
    if recorded is not None and sweep.strategy == "halving":
        progress(
            f"resuming: {len(recorded.runs)} run(s) recorded earlier are kept; "
            "each rung promotes from its records as it did"
        )
    elif recorded is not None:
        slots = run_order(scales, len(plans), sweep.repeats)
        kept = sum(
            run_key(slot.scale, plans[slot.point].settings, slot.repeat) in recorded.runs for slot in slots
        )
        progress(f"resuming: {kept} run(s) recorded earlier are kept, {len(slots) - kept} to run")

    runner = _Runner(
        spark, config, workload, landings, run_root, results_dir, plans, baseline_index, recorded, summary,
        progress, on_run, on_landing, upstream,
    )  # fmt: skip
    ladder: dict[str, Any] | None = None
    try:
        if sweep.strategy == "halving":
            ladder = _run_ladder(runner, scales)
        else:
            _run_grid(runner, scales)
    except KeyboardInterrupt as interrupt:
        earlier = len(recorded.runs) if recorded is not None else 0
        raise SweepInterrupted(sweep_id, earlier + len(summary.run_records), runs) from interrupt

    summary.seconds = time.perf_counter() - started
    ran_scales = [rung["scale"] for rung in ladder["rungs"]] if ladder is not None else planned["scales"]
    summary_payload = {
        "harness_schema": HARNESS_SCHEMA,
        "sweep_id": sweep_id,
        "workload": workload.name,
        # The scales that ran (for a ladder stopped early, fewer than planned: see `ladder`).
        "scales": ran_scales,
        "repeats": sweep.repeats,
        "warmup": sweep.warmup,
        "time_limit_s": sweep.time_limit_s,
        "layers": planned["layers"],
        "upstream_layers": runner.before,
        "axes": planned["axes"],
        "grid": planned["grid"],
        "baseline": {"point": plans[baseline_index].label, "settings": plans[baseline_index].settings},
        "strategy": sweep.strategy,
        "sample": sweep.sample,
        "budget_s": sweep.budget_s,
        "ladder": ladder,
        "points": [
            {"point": plan.label, "settings": plan.settings, "needs_restart": plan.needs_restart}
            for plan in plans
        ],
        "order": [
            {"scale": s.scale, "point": plans[s.point].label, "repeat": s.repeat} for s in runner.order
        ],
        "run_record_ids": runner.run_ids,
        "plan_record_id": plan_record_id,
        # Runs recorded by an earlier, interrupted session of this sweep (`--resume`); `seconds`
        # is this session's wall time only.
        "kept_runs": summary.kept_runs,
        "landings": [
            {
                "scale": info.records,
                "path": info.path,
                "generated": info.generated,
                "seconds": round(info.seconds, 3),
                "detail": info.detail,
            }
            for info in runner.landing_infos.values()
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
    _summary_id, summary.summary_record = _write(SUMMARY_KIND, summary_payload, seed, results_dir)
    if not sweep.keep_warehouses:
        remove_tree(spark, run_root)
    progress(
        f"sweep {sweep_id}: {len(runner.order)} runs in {summary.seconds:.1f}s, "
        f"{summary.failed_runs} failed; records in {results_dir}"
    )
    return summary
