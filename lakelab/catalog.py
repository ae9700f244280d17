"""Every metric lakelab emits or charts, declared once: the catalog.

The catalog is the single source of truth for metric names: the exporter
(`lakelab.exporter`) can only emit harness metrics declared here, and the dashboards and
alert rules (`lakelab.dashboards`), the CloudWatch dashboard and alarms (`lakelab.cloudwatch`),
the scrape config (`cluster.scrape`) and the catalog table in `docs/observability.md` are all
built from `METRICS` and `Source`.

The Spark and MinIO names are the ones those services really export (read off
their endpoints: Spark 4.2.0 with `spark.metrics.namespace=lakelab`, MinIO's
`/minio/v2/metrics/cluster`), not names from memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_RECONCILIATION_CHECK = "pipeline"
"""The `check` label of the harness's one reconciliation outcome per run."""


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
    # The CloudWatch unit `lakelab.cloudwatch` publishes a harness metric with; "" = not published.
    cloudwatch_unit: str = ""

    @property
    def promql(self) -> str:
        """The PromQL selector for this metric."""
        return self.selector or self.name


def _harness(
    name: str, type_: MetricType, help_: str, unit: str, *labels: str, cloudwatch: str = ""
) -> Metric:
    return Metric(name, type_, help_, Source.HARNESS, unit, labels, cloudwatch_unit=cloudwatch)


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
        cloudwatch="Seconds",
    ),
    _harness(
        "lakelab_stage_last_timestamp_seconds",
        MetricType.GAUGE,
        "When the latest run of a pipeline stage finished (Unix time): after a run exits, "
        "alert rules pick the latest run's figures by it.",
        "seconds since epoch",
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
        cloudwatch="Count",
    ),
    _harness(
        "lakelab_records_per_second",
        MetricType.GAUGE,
        "Throughput of the latest run of a stage: rows out plus quarantined, per second of wall time.",
        "rows/s",
        "layer",
        "table",
        cloudwatch="Count/Second",
    ),
    _harness(
        "lakelab_reconciliation_ok",
        MetricType.GAUGE,
        "1 when the latest reconciliation check passed (row counts and sums agree across layers), else 0.",
        "bool",
        "check",
        cloudwatch="None",
    ),
    _harness(
        "lakelab_reconciliation_last_timestamp_seconds",
        MetricType.GAUGE,
        "When the latest reconciliation check ran (Unix time); picks the latest outcome after a run exits.",
        "seconds since epoch",
        "check",
    ),
    _harness(
        "lakelab_datagen_rows_total",
        MetricType.COUNTER,
        "Rows the data generator wrote to the landing zone.",
        "rows",
        "table",
        cloudwatch="Count",
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
        cloudwatch="Count",
    ),
    _harness(
        "lakelab_sweep_failed_points",
        MetricType.GAUGE,
        "Points of the running (or latest) sweep that failed; 0 when a sweep starts.",
        "points",
    ),
    _harness(
        "lakelab_sweep_last_point_timestamp_seconds",
        MetricType.GAUGE,
        "When the sweep's latest point finished (Unix time); picks the latest sweep after its process exits.",
        "seconds since epoch",
    ),
    _harness(
        "lakelab_sweep_point_seconds",
        MetricType.GAUGE,
        "Wall time of the latest run of a sweep point; `point` is its settings as key=value pairs.",
        "seconds",
        "point",
        cloudwatch="Seconds",
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
    Metric(
        "minio_s3_requests_total",
        MetricType.COUNTER,
        "S3 requests MinIO has served, by API call (authenticated ones only; no series before the first).",
        Source.MINIO,
        "requests",
        ("server", "api"),
    ),
    _minio("s3_traffic_received_bytes", "Bytes MinIO received over S3.", "bytes", MetricType.COUNTER),
    _minio("s3_traffic_sent_bytes", "Bytes MinIO sent over S3.", "bytes", MetricType.COUNTER),
    _minio("node_process_resident_memory_bytes", "Resident memory of the MinIO process.", "bytes"),
)

METRICS_BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}

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
