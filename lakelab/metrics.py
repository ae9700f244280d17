"""Every metric lakelab emits or charts, declared once, and the harness's exporter.

The catalog is the single source of truth for metric names: the exporter below can
only emit harness metrics declared here, and the Grafana dashboards, the Prometheus
alert rules and the catalog table in `docs/observability.md` are all rendered from
`METRICS`, `DASHBOARDS` and `ALERTS` by `lakelab.dashboards`.

The Spark and MinIO names are the ones those services really export (read off
their endpoints: Spark 4.2.0 with `spark.metrics.namespace=lakelab`, MinIO's
`/minio/v2/metrics/cluster`), not names from memory.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

DEFAULT_EXPORTER_PORT = 9108
"""The port the harness exporter's scrape job (`cluster/scrape.py`, `prometheus/prometheus.yml`) targets."""

QUARANTINE_RATIO_THRESHOLD = 0.05
"""Share of a stage's rows sent to quarantine above which an alert fires."""

STAGE_REGRESSION_FACTOR = 1.5
"""A stage slower than this multiple of its median over the last day has regressed."""

STAGE_REGRESSION_FLOOR_SECONDS = 10.0
"""Stages shorter than this are too noisy on a shared machine to call a regression."""

EXECUTOR_MEMORY_RATIO_THRESHOLD = 0.9
"""Share of an executor's storage memory in use above which an alert fires."""

STAGE_SECONDS_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class MetricType(StrEnum):
    """The Prometheus type of a metric."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Source(StrEnum):
    """Which process exports a metric; `endpoint` says where."""

    HARNESS = "harness"
    SPARK_DRIVER = "spark-driver"
    SPARK_EXECUTORS = "spark-executors"
    SPARK_MASTER = "spark-master"
    SPARK_APPLICATIONS = "spark-applications"
    SPARK_WORKER = "spark-worker"
    MINIO = "minio"
    PROMETHEUS = "prometheus"

    @property
    def endpoint(self) -> str:
        """The process and metrics path, e.g. "Spark driver UI /metrics/prometheus"."""
        return _ENDPOINTS[self]

    @property
    def metrics_path(self) -> str:
        """The HTTP path Prometheus scrapes ("" for series Prometheus makes itself)."""
        return _ENDPOINTS[self].rpartition(" ")[2] if self is not Source.PROMETHEUS else ""


_ENDPOINTS = {
    Source.HARNESS: "lakelab exporter (:9108) /metrics",
    Source.SPARK_DRIVER: "Spark driver UI (:4040) /metrics/prometheus",
    Source.SPARK_EXECUTORS: "Spark driver UI (:4040) /metrics/executors/prometheus",
    Source.SPARK_MASTER: "Spark master UI (:8080) /metrics/master/prometheus/",
    Source.SPARK_APPLICATIONS: "Spark master UI (:8080) /metrics/applications/prometheus/",
    Source.SPARK_WORKER: "Spark worker UI (:8081) /metrics/prometheus/",
    Source.MINIO: "MinIO (:9000) /minio/v2/metrics/cluster",
    Source.PROMETHEUS: "Prometheus, for each scrape target",
}


@dataclass(frozen=True)
class Metric:
    """One metric: its exported name, type, meaning and labels.

    `selector` is how PromQL names it when the exported name is not fixed: Spark's
    applications source embeds the application name and id in the metric name.
    """

    name: str
    type: MetricType
    help: str
    source: Source
    unit: str
    labels: tuple[str, ...] = ()
    selector: str = ""

    @property
    def promql(self) -> str:
        """The PromQL selector for this metric."""
        return self.selector or self.name


def _harness(name: str, type_: MetricType, help_: str, unit: str, *labels: str) -> Metric:
    return Metric(name, type_, help_, Source.HARNESS, unit, labels)


def _spark_driver(name: str, help_: str, unit: str, type_: MetricType = MetricType.GAUGE) -> Metric:
    # PrometheusServlet exports every Dropwizard metric untyped with a `type` label
    # ("gauges", "counters", ...); the catalog records what the value means.
    return Metric(f"metrics_lakelab_driver_{name}", type_, help_, Source.SPARK_DRIVER, unit, ("type",))


_EXECUTOR_LABELS = ("application_id", "application_name", "executor_id")


def _spark_executor(name: str, help_: str, unit: str, type_: MetricType = MetricType.GAUGE) -> Metric:
    return Metric(f"metrics_executor_{name}", type_, help_, Source.SPARK_EXECUTORS, unit, _EXECUTOR_LABELS)


def _minio(name: str, help_: str, unit: str, type_: MetricType = MetricType.GAUGE) -> Metric:
    return Metric(f"minio_{name}", type_, help_, Source.MINIO, unit, ("server",))


METRICS: tuple[Metric, ...] = (
    # The harness (lakelab.metrics.Exporter).
    _harness(
        "lakelab_run_info",
        MetricType.GAUGE,
        "Always 1; labels say which run, code and versions the exporter's process is measuring.",
        "info",
        "run_id",
        "git_commit",
        "spark_version",
        "delta_version",
        "target",
    ),
    _harness(
        "lakelab_stage_seconds",
        MetricType.HISTOGRAM,
        "Wall time of one pipeline stage (one table of one layer).",
        "seconds",
        "layer",
        "table",
    ),
    _harness(
        "lakelab_stage_last_seconds",
        MetricType.GAUGE,
        "Wall time of the latest run of a pipeline stage.",
        "seconds",
        "layer",
        "table",
    ),
    _harness(
        "lakelab_stage_rows_total",
        MetricType.COUNTER,
        "Rows a pipeline stage wrote, by outcome: out (to the table) or quarantined.",
        "rows",
        "layer",
        "table",
        "outcome",
    ),
    _harness(
        "lakelab_stage_last_rows",
        MetricType.GAUGE,
        "Rows the latest run of a pipeline stage wrote, by outcome: out or quarantined.",
        "rows",
        "layer",
        "table",
        "outcome",
    ),
    _harness(
        "lakelab_records_per_second",
        MetricType.GAUGE,
        "Throughput of the latest run of a stage: rows out plus quarantined, per second of wall time.",
        "rows/s",
        "layer",
        "table",
    ),
    _harness(
        "lakelab_reconciliation_ok",
        MetricType.GAUGE,
        "1 when the latest reconciliation check passed (row counts and sums agree across layers), else 0.",
        "bool",
        "check",
    ),
    _harness(
        "lakelab_datagen_rows_total",
        MetricType.COUNTER,
        "Rows the data generator wrote to the landing zone.",
        "rows",
        "table",
    ),
    _harness(
        "lakelab_sweep_points_planned",
        MetricType.GAUGE,
        "Sweep points (settings x repeats) the running sweep plans to run.",
        "points",
    ),
    _harness(
        "lakelab_sweep_runs_total",
        MetricType.COUNTER,
        "Sweep points finished, by outcome: ok or failed.",
        "points",
        "outcome",
    ),
    _harness(
        "lakelab_sweep_point_seconds",
        MetricType.GAUGE,
        "Wall time of the latest run of a sweep point; `point` is its settings as key=value pairs.",
        "seconds",
        "point",
    ),
    # Prometheus's own per-target series.
    Metric(
        "up",
        MetricType.GAUGE,
        "1 when the last scrape of a target succeeded.",
        Source.PROMETHEUS,
        "bool",
        ("job", "instance"),
    ),
    # The Spark driver (PrometheusServlet, namespace "lakelab").
    _spark_driver("DAGScheduler_job_activeJobs_Value", "Spark jobs running now.", "jobs"),
    _spark_driver("DAGScheduler_stage_runningStages_Value", "Spark stages running now.", "stages"),
    _spark_driver("DAGScheduler_stage_waitingStages_Value", "Spark stages waiting for parents.", "stages"),
    _spark_driver(
        "appStatus_jobs_succeededJobs_Count", "Spark jobs that succeeded.", "jobs", MetricType.COUNTER
    ),
    _spark_driver("appStatus_jobs_failedJobs_Count", "Spark jobs that failed.", "jobs", MetricType.COUNTER),
    _spark_driver(
        "appStatus_tasks_completedTasks_Count", "Spark tasks that completed.", "tasks", MetricType.COUNTER
    ),
    _spark_driver(
        "appStatus_tasks_failedTasks_Count", "Spark tasks that failed.", "tasks", MetricType.COUNTER
    ),
    _spark_driver(
        "BlockManager_memory_memUsed_MB_Value", "Block manager memory in use, all executors.", "MiB"
    ),
    _spark_driver(
        "BlockManager_memory_maxMem_MB_Value", "Block manager memory available, all executors.", "MiB"
    ),
    _spark_driver(
        "JVMCPU_jvmCpuTime_Value", "CPU time the driver JVM has used.", "nanoseconds", MetricType.COUNTER
    ),
    # The Spark driver's executor summary (spark.ui.prometheus.enabled).
    Metric(
        "spark_info",
        MetricType.GAUGE,
        "Always 1; labels give Spark's version and revision.",
        Source.SPARK_EXECUTORS,
        "info",
        ("version", "revision"),
    ),
    _spark_executor("totalCores", "Cores an executor (or the local driver) has.", "cores"),
    _spark_executor("activeTasks", "Tasks an executor runs now.", "tasks"),
    _spark_executor("completedTasks_total", "Tasks an executor completed.", "tasks", MetricType.COUNTER),
    _spark_executor("failedTasks_total", "Tasks that failed on an executor.", "tasks", MetricType.COUNTER),
    _spark_executor("memoryUsed_bytes", "Storage memory an executor uses.", "bytes"),
    _spark_executor("maxMemory_bytes", "Storage memory an executor may use.", "bytes"),
    _spark_executor("JVMHeapMemory_bytes", "Peak JVM heap of an executor (sampled on heartbeats).", "bytes"),
    _spark_executor("JVMOffHeapMemory_bytes", "Peak JVM off-heap memory of an executor.", "bytes"),
    _spark_executor(
        "totalGCTime_seconds_total", "JVM garbage collection time in tasks.", "seconds", MetricType.COUNTER
    ),
    _spark_executor(
        "totalShuffleRead_bytes_total", "Shuffle bytes an executor read.", "bytes", MetricType.COUNTER
    ),
    _spark_executor(
        "totalShuffleWrite_bytes_total", "Shuffle bytes an executor wrote.", "bytes", MetricType.COUNTER
    ),
    _spark_executor(
        "totalInputBytes_bytes_total", "Bytes an executor read from sources.", "bytes", MetricType.COUNTER
    ),
    # The Spark standalone master and workers (metrics.properties in SPARK_CONF_DIR).
    Metric(
        "metrics_master_workers_Value",
        MetricType.GAUGE,
        "Workers registered with the master.",
        Source.SPARK_MASTER,
        "workers",
        ("type",),
    ),
    Metric(
        "metrics_master_aliveWorkers_Value",
        MetricType.GAUGE,
        "Registered workers that are alive.",
        Source.SPARK_MASTER,
        "workers",
        ("type",),
    ),
    Metric(
        "metrics_master_apps_Value",
        MetricType.GAUGE,
        "Applications running on the master.",
        Source.SPARK_MASTER,
        "apps",
        ("type",),
    ),
    Metric(
        "metrics_master_waitingApps_Value",
        MetricType.GAUGE,
        "Applications waiting for resources.",
        Source.SPARK_MASTER,
        "apps",
        ("type",),
    ),
    Metric(
        "metrics_application_cores_Value",
        MetricType.GAUGE,
        "Cores granted to an application; Spark embeds the app name and id in the exported name.",
        Source.SPARK_APPLICATIONS,
        "cores",
        ("type",),
        selector='{__name__=~"metrics_application_.+_cores_Value"}',
    ),
    Metric(
        "metrics_worker_coresUsed_Value",
        MetricType.GAUGE,
        "Cores a worker has given to executors.",
        Source.SPARK_WORKER,
        "cores",
        ("type",),
    ),
    Metric(
        "metrics_worker_coresFree_Value",
        MetricType.GAUGE,
        "Cores a worker has free.",
        Source.SPARK_WORKER,
        "cores",
        ("type",),
    ),
    Metric(
        "metrics_worker_memUsed_MB_Value",
        MetricType.GAUGE,
        "Memory a worker has given to executors.",
        Source.SPARK_WORKER,
        "MiB",
        ("type",),
    ),
    Metric(
        "metrics_worker_memFree_MB_Value",
        MetricType.GAUGE,
        "Memory a worker has free.",
        Source.SPARK_WORKER,
        "MiB",
        ("type",),
    ),
    Metric(
        "metrics_worker_executors_Value",
        MetricType.GAUGE,
        "Executors running on a worker.",
        Source.SPARK_WORKER,
        "executors",
        ("type",),
    ),
    # MinIO (needs MINIO_PROMETHEUS_AUTH_TYPE=public, or a bearer token in the scrape config).
    _minio("cluster_health_status", "1 when the MinIO cluster is healthy.", "bool"),
    _minio("cluster_nodes_online_total", "MinIO nodes online.", "nodes"),
    _minio("cluster_drive_online_total", "MinIO drives online.", "drives"),
    _minio("cluster_capacity_usable_free_bytes", "Usable capacity free.", "bytes"),
    _minio("cluster_capacity_usable_total_bytes", "Usable capacity in total.", "bytes"),
    _minio("s3_requests_incoming_total", "S3 requests MinIO has received.", "requests"),
    _minio("s3_traffic_received_bytes", "Bytes MinIO received over S3.", "bytes", MetricType.COUNTER),
    _minio("s3_traffic_sent_bytes", "Bytes MinIO sent over S3.", "bytes", MetricType.COUNTER),
    _minio("node_process_resident_memory_bytes", "Resident memory of the MinIO process.", "bytes"),
)

METRICS_BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel and the legend of its series."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: its title, queries and how to draw them."""

    title: str
    targets: tuple[Target, ...]
    unit: str = "short"  # a Grafana unit id; Spark's "_MB" figures are MiB, Grafana's "mbytes"
    kind: str = "timeseries"  # "timeseries", "stat" or "bargauge"
    description: str = ""
    # Panels about the standalone master and workers only have data on a cluster.
    needs_cluster: bool = False
    # For info metrics (value always 1) a stat panel shows the legend, not the value.
    show_name: bool = False


@dataclass(frozen=True)
class Dashboard:
    """One Grafana dashboard."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = ("lakelab",)


def _q(expr: str, legend: str = "") -> tuple[Target, ...]:
    return (Target(expr, legend),)


_QUARANTINE_RATIO = (
    'sum by (layer, table) (lakelab_stage_last_rows{outcome="quarantined"}) '
    "/ sum by (layer, table) (lakelab_stage_last_rows)"
)
_EXECUTOR_MEMORY_RATIO = "metrics_executor_memoryUsed_bytes / metrics_executor_maxMemory_bytes"

DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard(
        "lakelab-pipeline-run",
        "Pipeline run",
        "One pipeline run: stage durations, throughput, quarantine and reconciliation.",
        (
            Panel(
                "Run",
                _q("lakelab_run_info", "{{run_id}} {{target}} spark {{spark_version}}"),
                kind="stat",
                description="The run the exporter measures now.",
                show_name=True,
            ),
            Panel(
                "Reconciliation",
                _q("min by (check) (lakelab_reconciliation_ok)", "{{check}}"),
                unit="bool",
                kind="stat",
                description="1 = layers agree, 0 = a check failed.",
            ),
            Panel(
                "Stage duration (latest run)",
                _q("lakelab_stage_last_seconds", "{{layer}}/{{table}}"),
                unit="s",
                kind="bargauge",
            ),
            Panel(
                "Stage duration p90 (all runs, 1h)",
                _q(
                    "histogram_quantile(0.9, sum by (le, layer, table) "
                    "(rate(lakelab_stage_seconds_bucket[1h])))",
                    "{{layer}}/{{table}}",
                ),
                unit="s",
                description="Rate over an hour: empty until a stage has run within it.",
            ),
            Panel(
                "Records per second",
                _q("lakelab_records_per_second", "{{layer}}/{{table}}"),
                unit="suffix: rows/s",
                kind="bargauge",
            ),
            Panel(
                "Quarantine ratio (latest run)",
                _q(_QUARANTINE_RATIO, "{{layer}}/{{table}}"),
                unit="percentunit",
                kind="bargauge",
                description=f"Alert above {QUARANTINE_RATIO_THRESHOLD:.0%}.",
            ),
            Panel(
                "Rows by outcome (cumulative)",
                _q("sum by (layer, outcome) (lakelab_stage_rows_total)", "{{layer}} {{outcome}}"),
            ),
            Panel(
                "Rows generated (cumulative)", _q("sum by (table) (lakelab_datagen_rows_total)", "{{table}}")
            ),
        ),
    ),
    Dashboard(
        "lakelab-spark-cluster",
        "Spark cluster",
        "The Spark driver, its executors, and the standalone master and workers.",
        (
            Panel("Spark version", _q("spark_info", "{{version}}"), kind="stat", show_name=True),
            Panel(
                "Executors",
                _q("count by (application_name) (metrics_executor_totalCores)", "{{application_name}}"),
                kind="stat",
                description="Counts the driver too: in local mode it is the only executor.",
            ),
            Panel(
                "Active tasks", _q("sum by (executor_id) (metrics_executor_activeTasks)", "{{executor_id}}")
            ),
            Panel(
                "Tasks completed and failed",
                (
                    Target("sum(metrics_executor_completedTasks_total)", "completed"),
                    Target("sum(metrics_executor_failedTasks_total)", "failed"),
                ),
            ),
            Panel(
                "Jobs and stages (driver)",
                (
                    Target("metrics_lakelab_driver_DAGScheduler_job_activeJobs_Value", "active jobs"),
                    Target("metrics_lakelab_driver_DAGScheduler_stage_runningStages_Value", "running stages"),
                    Target("metrics_lakelab_driver_DAGScheduler_stage_waitingStages_Value", "waiting stages"),
                    Target("metrics_lakelab_driver_appStatus_jobs_succeededJobs_Count", "jobs succeeded"),
                    Target("metrics_lakelab_driver_appStatus_jobs_failedJobs_Count", "jobs failed"),
                ),
            ),
            Panel(
                "Task throughput (driver)",
                (
                    Target(
                        "rate(metrics_lakelab_driver_appStatus_tasks_completedTasks_Count[1m])", "completed/s"
                    ),
                    Target("rate(metrics_lakelab_driver_appStatus_tasks_failedTasks_Count[1m])", "failed/s"),
                ),
                unit="ops",
            ),
            Panel(
                "Executor storage memory used",
                _q(_EXECUTOR_MEMORY_RATIO, "{{executor_id}}"),
                unit="percentunit",
                description=f"Alert above {EXECUTOR_MEMORY_RATIO_THRESHOLD:.0%}.",
            ),
            Panel(
                "Block manager memory (driver view)",
                (
                    Target("metrics_lakelab_driver_BlockManager_memory_memUsed_MB_Value", "used"),
                    Target("metrics_lakelab_driver_BlockManager_memory_maxMem_MB_Value", "max"),
                ),
                unit="mbytes",
            ),
            Panel(
                "JVM heap and off-heap (peak per executor)",
                (
                    Target("metrics_executor_JVMHeapMemory_bytes", "heap {{executor_id}}"),
                    Target("metrics_executor_JVMOffHeapMemory_bytes", "off-heap {{executor_id}}"),
                ),
                unit="bytes",
            ),
            Panel(
                "JVM GC time share",
                _q(
                    "sum by (executor_id) (rate(metrics_executor_totalGCTime_seconds_total[1m]))",
                    "{{executor_id}}",
                ),
                unit="percentunit",
            ),
            Panel(
                "Driver JVM CPU",
                _q("rate(metrics_lakelab_driver_JVMCPU_jvmCpuTime_Value[1m]) / 1e9", "cores busy"),
                unit="short",
            ),
            Panel(
                "Shuffle and input bytes",
                (
                    Target("sum(metrics_executor_totalShuffleRead_bytes_total)", "shuffle read"),
                    Target("sum(metrics_executor_totalShuffleWrite_bytes_total)", "shuffle write"),
                    Target("sum(metrics_executor_totalInputBytes_bytes_total)", "input"),
                ),
                unit="bytes",
            ),
            Panel(
                "Master: workers",
                (
                    Target("metrics_master_workers_Value", "registered"),
                    Target("metrics_master_aliveWorkers_Value", "alive"),
                ),
                kind="stat",
                needs_cluster=True,
            ),
            Panel(
                "Master: applications",
                (
                    Target("metrics_master_apps_Value", "running"),
                    Target("metrics_master_waitingApps_Value", "waiting"),
                ),
                kind="stat",
                needs_cluster=True,
            ),
            Panel(
                "Cores per application",
                _q('{__name__=~"metrics_application_.+_cores_Value"}', "{{__name__}}"),
                needs_cluster=True,
            ),
            Panel(
                "Worker cores",
                (
                    Target("metrics_worker_coresUsed_Value", "used {{instance}}"),
                    Target("metrics_worker_coresFree_Value", "free {{instance}}"),
                ),
                needs_cluster=True,
            ),
            Panel(
                "Worker memory",
                (
                    Target("metrics_worker_memUsed_MB_Value", "used {{instance}}"),
                    Target("metrics_worker_memFree_MB_Value", "free {{instance}}"),
                ),
                unit="mbytes",
                needs_cluster=True,
            ),
            Panel(
                "Executors per worker",
                _q("metrics_worker_executors_Value", "{{instance}}"),
                needs_cluster=True,
            ),
        ),
    ),
    Dashboard(
        "lakelab-harness-sweep",
        "Harness sweep",
        "A sweep over Spark settings: progress, outcomes and time per point.",
        (
            Panel("Points planned", _q("lakelab_sweep_points_planned", "planned"), kind="stat"),
            Panel(
                "Points finished",
                _q("sum by (outcome) (lakelab_sweep_runs_total)", "{{outcome}}"),
                kind="stat",
            ),
            Panel(
                "Progress",
                _q("sum(lakelab_sweep_runs_total) / scalar(lakelab_sweep_points_planned)", "done"),
                unit="percentunit",
                kind="stat",
            ),
            Panel(
                "Seconds per point (latest run)",
                _q("lakelab_sweep_point_seconds", "{{point}}"),
                unit="s",
                kind="bargauge",
            ),
            Panel(
                "Stage duration by table", _q("lakelab_stage_last_seconds", "{{layer}}/{{table}}"), unit="s"
            ),
            Panel("Scrape targets up", _q("up", "{{job}} {{instance}}"), unit="bool", kind="stat"),
        ),
    ),
    Dashboard(
        "lakelab-minio",
        "MinIO",
        "The S3-compatible store the lakehouse tables live on.",
        (
            Panel("Health", _q("minio_cluster_health_status", "{{server}}"), unit="bool", kind="stat"),
            Panel(
                "Nodes and drives online",
                (
                    Target("minio_cluster_nodes_online_total", "nodes"),
                    Target("minio_cluster_drive_online_total", "drives"),
                ),
                kind="stat",
            ),
            Panel(
                "Usable capacity",
                (
                    Target("minio_cluster_capacity_usable_free_bytes", "free"),
                    Target("minio_cluster_capacity_usable_total_bytes", "total"),
                ),
                unit="bytes",
            ),
            Panel(
                "S3 traffic",
                (
                    Target("rate(minio_s3_traffic_received_bytes[1m])", "received"),
                    Target("rate(minio_s3_traffic_sent_bytes[1m])", "sent"),
                ),
                unit="Bps",
            ),
            Panel("S3 requests", _q("minio_s3_requests_incoming_total", "incoming")),
            Panel(
                "MinIO resident memory",
                _q("minio_node_process_resident_memory_bytes", "{{server}}"),
                unit="bytes",
            ),
        ),
    ),
)


@dataclass(frozen=True)
class Alert:
    """One Prometheus alerting rule."""

    name: str
    expr: str
    summary: str
    description: str
    severity: str = "warning"
    for_: str = "0m"
    labels: Mapping[str, str] = field(default_factory=dict)


ALERTS: tuple[Alert, ...] = (
    Alert(
        "LakelabReconciliationFailed",
        "min by (check) (lakelab_reconciliation_ok) == 0",
        "Reconciliation check {{ $labels.check }} failed",
        "The latest pipeline run's layers disagree (row counts or sums); do not trust its Gold tables.",
        severity="critical",
    ),
    Alert(
        "LakelabQuarantineRateHigh",
        f"{_QUARANTINE_RATIO} > {QUARANTINE_RATIO_THRESHOLD}",
        "{{ $labels.layer }}/{{ $labels.table }} quarantined {{ $value | humanizePercentage }} of its rows",
        f"More than {QUARANTINE_RATIO_THRESHOLD:.0%} of a stage's rows went to quarantine in its latest run.",
    ),
    Alert(
        "LakelabScrapeTargetDown",
        "up == 0",
        "Scrape target {{ $labels.job }} ({{ $labels.instance }}) is down",
        "Prometheus could not scrape this target for a minute; its dashboard panels are stale.",
        for_="1m",
    ),
    Alert(
        "LakelabExecutorMemoryNearLimit",
        f"{_EXECUTOR_MEMORY_RATIO} > {EXECUTOR_MEMORY_RATIO_THRESHOLD}",
        "Executor {{ $labels.executor_id }} uses {{ $value | humanizePercentage }} of its storage memory",
        "Cached blocks are close to the executor's unified memory limit; expect spills and evictions.",
        for_="2m",
    ),
    Alert(
        "LakelabStageDurationRegression",
        f"lakelab_stage_last_seconds > {STAGE_REGRESSION_FACTOR} * "
        "quantile_over_time(0.5, lakelab_stage_last_seconds[1d]) "
        f"and lakelab_stage_last_seconds > {STAGE_REGRESSION_FLOOR_SECONDS:g}",
        "{{ $labels.layer }}/{{ $labels.table }} took {{ $value | humanizeDuration }}",
        f"The latest run of this stage took over {STAGE_REGRESSION_FACTOR}x its median over the last day.",
    ),
    Alert(
        "LakelabSparkJobsFailing",
        "increase(metrics_lakelab_driver_appStatus_jobs_failedJobs_Count[5m]) > 0",
        "Spark jobs failed on {{ $labels.instance }}",
        "The driver reports failed Spark jobs in the last five minutes.",
    ),
    Alert(
        "LakelabSparkWorkerLost",
        "metrics_master_aliveWorkers_Value < metrics_master_workers_Value",
        "The Spark master has lost a worker",
        "Fewer workers are alive than registered; jobs run with less capacity.",
        for_="1m",
    ),
    Alert(
        "LakelabSweepPointFailed",
        'increase(lakelab_sweep_runs_total{outcome="failed"}[15m]) > 0',
        "A sweep point failed",
        "At least one sweep point failed in the last 15 minutes; its result record marks it failed.",
    ),
    Alert(
        "LakelabMinioUnhealthy",
        "minio_cluster_health_status == 0",
        "MinIO {{ $labels.server }} is unhealthy",
        "MinIO reports its cluster unhealthy (drives offline or quorum lost); table writes will fail.",
        severity="critical",
        for_="1m",
    ),
)

_NAME_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SERIES_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def metrics_in(expr: str) -> set[str]:
    """Catalog metrics a PromQL expression uses (by name, selector or histogram series)."""
    found = {metric.name for metric in METRICS if metric.selector and metric.selector in expr}
    for token in _NAME_TOKEN.findall(expr):
        if token in METRICS_BY_NAME:
            found.add(token)
            continue
        for suffix in _SERIES_SUFFIXES:
            base = token.removesuffix(suffix)
            if base != token and base in METRICS_BY_NAME:
                found.add(base)
    return found


def panels_showing(name: str) -> list[str]:
    """The "Dashboard / Panel" titles whose queries use metric `name`."""
    return [
        f"{dashboard.title} / {panel.title}"
        for dashboard in DASHBOARDS
        for panel in dashboard.panels
        if any(name in metrics_in(target.expr) for target in panel.targets)
    ]


def alerts_using(name: str) -> list[str]:
    """The alert rules whose expression uses metric `name`."""
    return [alert.name for alert in ALERTS if name in metrics_in(alert.expr)]


class Exporter:
    """The harness's Prometheus endpoint: typed methods the harness calls, one registry.

    Usage::

        with Exporter() as exporter:        # serves http://127.0.0.1:9108/metrics
            exporter.observe_stage("silver", "orders", rows_out=990, rows_quarantined=10, seconds=4.2)

    Only harness metrics from `METRICS` can be emitted: each method looks its metric
    up in the catalog, so a misspelt or undeclared name fails at once.
    """

    def __init__(self, port: int = DEFAULT_EXPORTER_PORT, host: str = "127.0.0.1") -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.host = host
        self.requested_port = port
        # Collectors live in a private registry; the served one passes their samples
        # through `_CatalogOnly`, which drops prometheus_client's `*_created` series
        # (names the catalog does not declare) and asserts every family is declared.
        self._collector_registry = CollectorRegistry(auto_describe=True)
        self.registry = CollectorRegistry(auto_describe=False)
        self._catalog_only = _CatalogOnly(self._collector_registry)
        self.registry.register(self._catalog_only)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._collectors: dict[str, Any] = {}
        for metric in METRICS:
            if metric.source is not Source.HARNESS:
                continue
            kwargs: dict[str, Any] = {"labelnames": metric.labels, "registry": self._collector_registry}
            if metric.type is MetricType.COUNTER:
                # prometheus_client appends `_total` itself.
                collector: Any = Counter(metric.name.removesuffix("_total"), metric.help, **kwargs)
            elif metric.type is MetricType.HISTOGRAM:
                collector = Histogram(metric.name, metric.help, buckets=STAGE_SECONDS_BUCKETS, **kwargs)
            else:
                collector = Gauge(metric.name, metric.help, **kwargs)
            self._collectors[metric.name] = collector
        # Counters a rule takes increase() of start at 0, so their first event is seen.
        for outcome in ("ok", "failed"):
            self._metric("lakelab_sweep_runs_total").labels(outcome=outcome)

    def _metric(self, name: str) -> Any:
        assert name in METRICS_BY_NAME, f"{name} is not declared in lakelab.metrics.METRICS"
        assert METRICS_BY_NAME[name].source is Source.HARNESS, f"{name} is not a harness metric"
        return self._collectors[name]

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when started with port 0)."""
        if self._server is None:
            return self.requested_port
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """The metrics URL Prometheus scrapes."""
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> Exporter:
        """Serve `/metrics` on host:port in a daemon thread.

        Raises:
            UserError: The port is taken.
        """
        if self._server is not None:
            return self
        from prometheus_client import start_http_server

        try:
            self._server, self._thread = start_http_server(
                self.requested_port, addr=self.host, registry=self.registry
            )
        except OSError as error:
            raise UserError(
                f"metrics exporter: cannot listen on {self.host}:{self.requested_port} ({error.strerror})"
            ) from None
        return self

    @property
    def scrapes(self) -> int:
        """How many times the metrics were collected (scrapes, plus `exposition` calls)."""
        return self._catalog_only.collections

    def flush(self, timeout_s: float = 35.0) -> bool:
        """Wait for one more scrape, when something scrapes this exporter at all.

        A process's last figures (the sweep's final point) would otherwise vanish with it
        before Prometheus saw them. Returns True when a scrape came (or none was expected).
        """
        if self._server is None or self.scrapes == 0:
            return True
        seen = self.scrapes
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.scrapes > seen:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop serving; idempotent."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def exposition(self) -> str:
        """The text Prometheus would scrape now."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")

    def run_started(
        self, run_id: str, git_commit: str, spark_version: str, delta_version: str, target: str
    ) -> None:
        """Label the process's run; replaces any earlier run's info series."""
        info = self._metric("lakelab_run_info")
        info.clear()
        info.labels(
            run_id=run_id,
            git_commit=git_commit,
            spark_version=spark_version,
            delta_version=delta_version,
            target=target,
        ).set(1)

    def observe_stage(
        self, layer: str, table: str, rows_out: int, rows_quarantined: int, seconds: float
    ) -> None:
        """Record one finished pipeline stage (one table of one layer)."""
        if rows_out < 0 or rows_quarantined < 0 or seconds < 0:
            raise ValueError(
                f"stage {layer}/{table}: negative figure (rows_out={rows_out}, "
                f"rows_quarantined={rows_quarantined}, seconds={seconds})"
            )
        self._metric("lakelab_stage_seconds").labels(layer=layer, table=table).observe(seconds)
        self._metric("lakelab_stage_last_seconds").labels(layer=layer, table=table).set(seconds)
        for outcome, rows in (("out", rows_out), ("quarantined", rows_quarantined)):
            self._metric("lakelab_stage_rows_total").labels(layer=layer, table=table, outcome=outcome).inc(
                rows
            )
            self._metric("lakelab_stage_last_rows").labels(layer=layer, table=table, outcome=outcome).set(
                rows
            )
        total = rows_out + rows_quarantined
        per_second = total / seconds if seconds > 0 else 0.0
        self._metric("lakelab_records_per_second").labels(layer=layer, table=table).set(per_second)

    def set_reconciliation(self, ok: bool, check: str = "pipeline") -> None:
        """Record the outcome of a reconciliation check."""
        self._metric("lakelab_reconciliation_ok").labels(check=check).set(1 if ok else 0)

    def datagen_done(self, table: str, rows: int) -> None:
        """Record rows the generator wrote for one source table."""
        if rows < 0:
            raise ValueError(f"datagen {table}: negative row count {rows}")
        self._metric("lakelab_datagen_rows_total").labels(table=table).inc(rows)

    def sweep_started(self, planned_points: int) -> None:
        """Record how many points (settings x repeats) the sweep will run."""
        self._metric("lakelab_sweep_points_planned").set(planned_points)

    def sweep_point_done(self, params: Mapping[str, object], seconds: float, ok: bool = True) -> None:
        """Record one finished sweep point; `params` are the Spark settings it ran with."""
        self._metric("lakelab_sweep_runs_total").labels(outcome="ok" if ok else "failed").inc()
        self._metric("lakelab_sweep_point_seconds").labels(point=point_label(params)).set(seconds)


class _CatalogOnly:
    """A collector serving another registry's harness metrics, minus `*_created` samples.

    It counts collections (one per scrape), so the exporter can tell whether anyone scrapes it.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.collections = 0

    def collect(self) -> Iterator[Any]:
        self.collections += 1
        for family in self._inner.collect():
            declared = family.name + "_total" if family.type == "counter" else family.name
            assert declared in METRICS_BY_NAME, f"{declared} is not declared in lakelab.metrics.METRICS"
            family.samples = [sample for sample in family.samples if not sample.name.endswith("_created")]
            yield family


def point_label(params: Mapping[str, object]) -> str:
    """A sweep point's settings as one stable label value: `k1=v1,k2=v2` sorted by key."""
    return ",".join(f"{key}={params[key]}" for key in sorted(params)) or "default"
