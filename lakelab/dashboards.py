"""The Grafana dashboards and the Prometheus alert rules, declared beside their renderer.

`DASHBOARDS` and `ALERTS` are built on the metric catalog (`lakelab.catalog`); this module
renders them, with the Grafana provisioning, the Alertmanager routing, the CloudWatch
dashboard and alarms (`lakelab.cloudwatch`) and the catalog table of `docs/observability.md`.

Run `python -m lakelab.dashboards` to rewrite the committed files and
`python -m lakelab.dashboards --check` to list the ones that differ from what the
catalog renders (a test runs the check, so a stale file fails the suite).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cluster.config import ClusterConfig
from lakelab import cloudwatch
from lakelab.catalog import METRICS, metrics_in

QUARANTINE_RATIO_THRESHOLD = 0.05
"""Share of a stage's rows sent to quarantine above which an alert fires."""

FAILURE_VISIBLE_FOR = "1d"
"""How long a finished run's failure keeps its alert firing after the run's exporter has gone,
unless a later run of the same check or stage replaces it (PromQL range duration)."""

EXECUTOR_MEMORY_RATIO_THRESHOLD = 0.9
"""Share of an executor's storage memory in use above which an alert fires."""


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
            Panel(
                "S3 requests",
                _q("sum by (api) (rate(minio_s3_requests_total[1m]))", "{{api}}"),
                unit="reqps",
                description="Per S3 API call, from MinIO's request counter.",
            ),
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


def _latest(timestamp_metric: str, by: str = "") -> str:
    """The series of `timestamp_metric` that are the newest per `by` labels (over the failure window).

    A run's exporter exits when the run does; `last_over_time` keeps its last figures, and this
    filter keeps only the latest run's, so a later passing run clears an earlier failure.
    """
    stamp = f"last_over_time({timestamp_metric}[{FAILURE_VISIBLE_FOR}])"
    return f"({stamp} == on ({by}) group_left () max by ({by}) ({stamp}))"


def _last(selector: str) -> str:
    return f"last_over_time({selector}[{FAILURE_VISIBLE_FOR}])"


_QUARANTINED_ROWS = 'lakelab_stage_last_rows{outcome="quarantined"}'
_LAST_QUARANTINE_RATIO = (
    f"{_last(_QUARANTINED_ROWS)} "
    f"/ ignoring (outcome) sum without (outcome) ({_last('lakelab_stage_last_rows')})"
)

# Not alerted: a stage "slower than usual". Stage series carry layer and table only, not the
# sweep point or the scale, so any baseline over time mixes unlike runs (the 1.5x-median rule
# this replaced fired on ordinary differences between sweep points). A regression is a
# comparison of repeated runs of the same point with an interval: `lakelab compare OLD NEW`.
ALERTS: tuple[Alert, ...] = (
    Alert(
        "LakelabReconciliationFailed",
        f"({_last('lakelab_reconciliation_ok')} == 0) "
        f"and {_latest('lakelab_reconciliation_last_timestamp_seconds', 'check')}",
        "Reconciliation check {{ $labels.check }} failed",
        "The latest run's layers disagree (row counts or sums); do not trust its Gold tables. "
        "Stays firing after the run exits, until a later run passes the check "
        f"or {FAILURE_VISIBLE_FOR} passes.",
        severity="critical",
    ),
    Alert(
        "LakelabQuarantineRateHigh",
        f"({_LAST_QUARANTINE_RATIO} > {QUARANTINE_RATIO_THRESHOLD}) "
        f"and {_latest('lakelab_stage_last_timestamp_seconds', 'layer, table')}",
        "{{ $labels.layer }}/{{ $labels.table }} quarantined {{ $value | humanizePercentage }} of its rows",
        f"More than {QUARANTINE_RATIO_THRESHOLD:.0%} of a stage's rows went to quarantine in its latest run. "
        f"Stays firing after the run exits, until a later run of the stage is under the threshold "
        f"or {FAILURE_VISIBLE_FOR} passes.",
    ),
    Alert(
        "LakelabScrapeTargetDown",
        # On-demand targets (a run's driver UI and exporter) exist only while a run does;
        # MinIO has its own alert.
        'up{on_demand!="true", job!="minio"} == 0',
        "Scrape target {{ $labels.job }} ({{ $labels.instance }}) is down",
        "Prometheus could not scrape this always-on target for a minute; its dashboard panels are stale.",
        for_="1m",
    ),
    Alert(
        "LakelabMinioDown",
        'up{job="minio"} == 0 or absent(up{job="minio"})',
        "MinIO cannot be scraped",
        "Prometheus cannot reach MinIO (or has no MinIO target): the store the tables live on is down "
        "or unreachable, and table reads and writes fail. MinIO's own health metric vanishes with it.",
        severity="critical",
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
        f"({_last('lakelab_sweep_failed_points')} > 0) "
        f"and {_latest('lakelab_sweep_last_point_timestamp_seconds')}",
        "{{ $value }} point(s) of the latest sweep failed",
        "Points of the latest sweep failed; their result records say why. Stays firing after the sweep "
        f"exits, until a later sweep finishes a point with none failed or {FAILURE_VISIBLE_FOR} passes.",
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


# --- the renderer ---------------------------------------------------------------------

DATASOURCE_UID = "lakelab-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
# Where compose mounts grafana/dashboards inside the Grafana container.
GRAFANA_DASHBOARDS_PATH = "/var/lib/grafana/dashboards"
GENERATED = (
    "Generated by `python -m lakelab.dashboards` from lakelab/catalog.py and lakelab/dashboards.py; "
    "do not edit by hand."
)

ALERTS_FILE = Path("prometheus/alerts.yml")
ALERTMANAGER_FILE = Path("prometheus/alertmanager.yml")
CLOUDWATCH_DASHBOARD_FILE = Path("cloudwatch/pipeline_metrics.json")
CLOUDWATCH_ALARMS_FILE = Path("cloudwatch/alarms.json")
# Where the committed Alertmanager config sends alerts: a webhook receiver the user runs.
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:9095/lakelab-alerts"
ALERTMANAGER_RECEIVER = "lakelab-webhook"
DATASOURCE_FILE = Path("grafana/provisioning/datasources/prometheus.yml")
PROVIDER_FILE = Path("grafana/provisioning/dashboards/lakelab.yml")
DOC_FILE = Path("docs/observability.md")
DOC_CATALOG_BEGIN = "<!-- metric catalog: begin (generated) -->"
DOC_CATALOG_END = "<!-- metric catalog: end -->"

_PANEL_SIZE = {"stat": (6, 4), "bargauge": (12, 8), "timeseries": (12, 8)}
_GRID_WIDTH = 24


def dashboard_file(dashboard: Dashboard) -> Path:
    """The committed JSON file of one dashboard."""
    return Path("grafana/dashboards") / f"{dashboard.uid}.json"


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    width, height = _PANEL_SIZE[panel.kind]
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": " ".join(
            part
            for part in (
                panel.description,
                "Has data only on a standalone cluster." if panel.needs_cluster else "",
            )
            if part
        ),
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": target.expr,
                "legendFormat": target.legend,
                # Stat and bar panels show the latest value, not a range.
                "instant": panel.kind != "timeseries",
                "range": panel.kind == "timeseries",
            }
            for index, target in enumerate(panel.targets)
        ],
    }
    if panel.kind == "bargauge":
        body["options"] = {"orientation": "horizontal", "displayMode": "gradient"}
    elif panel.kind == "stat":
        body["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "name" if panel.show_name else "auto",
        }
    return body


def render_dashboard(dashboard: Dashboard) -> dict[str, Any]:
    """One dashboard as Grafana's JSON model, panels laid out left to right."""
    panels = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        width, height = _PANEL_SIZE[panel.kind]
        if x + width > _GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, panel_id, x, y))
        x += width
        row_height = max(row_height, height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": f"{dashboard.description} {GENERATED}",
        "tags": list(dashboard.tags),
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "timezone": "utc",
        "panels": panels,
        "templating": {"list": []},
        "annotations": {"list": []},
    }


def render_alerts() -> dict[str, Any]:
    """The alert rules as a Prometheus rule file."""
    rules = []
    for alert in ALERTS:
        rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
        if alert.for_ != "0m":
            rule["for"] = alert.for_
        rule["labels"] = {"severity": alert.severity, **alert.labels}
        rule["annotations"] = {"summary": alert.summary, "description": alert.description}
        rules.append(rule)
    return {"groups": [{"name": "lakelab", "rules": rules}]}


def render_alertmanager(
    webhook_url: str = DEFAULT_WEBHOOK_URL,
    group_wait: str = "30s",
    group_interval: str = "5m",
    repeat_interval: str = "4h",
) -> dict[str, Any]:
    """Alertmanager's config: every lakelab alert to one webhook receiver, resolved ones too.

    Alerts are grouped per alert and per the labels that say what failed (a check, a stage, a
    target), so one failing stage is one notification, not one per scrape target.
    """
    return {
        "route": {
            "receiver": ALERTMANAGER_RECEIVER,
            "group_by": ["alertname", "check", "layer", "table", "job", "instance"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": ALERTMANAGER_RECEIVER,
                "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
            }
        ],
    }


def render_datasource() -> dict[str, Any]:
    """Grafana's provisioned Prometheus datasource; compose sets PROMETHEUS_URL."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                # Grafana expands $VAR in provisioning files (no default syntax):
                # compose passes PROMETHEUS_URL, defaulting to http://prometheus:9090.
                "url": "${PROMETHEUS_URL}",
                "isDefault": True,
                "editable": False,
                # Grafana's shortest step: the lab's scrape interval (a shorter one draws gaps).
                "jsonData": {"timeInterval": ClusterConfig().prometheus_scrape_interval},
            }
        ],
    }


def render_provider() -> dict[str, Any]:
    """Grafana's dashboard provider reading the generated JSON files."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "lakelab",
                "orgId": 1,
                "folder": "lakelab",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": GRAFANA_DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


def render_catalog_table() -> str:
    """The metric catalog as a Markdown table."""
    lines = [
        "| metric | type | unit | labels | source | dashboard panels | alerts |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric in METRICS:
        name = f"`{metric.name}`" + (f" (as `{metric.selector}`)" if metric.selector else "")
        labels = ", ".join(metric.labels) or "-"
        panels = "; ".join(panels_showing(metric.name)) or "-"
        alerts = ", ".join(alerts_using(metric.name)) or "-"
        help_text = metric.help.replace("|", "\\|")
        lines.append(
            f"| {name}<br>{help_text} | {metric.type} | {metric.unit} | {labels} | {metric.source.endpoint} "
            f"| {panels} | {alerts} |"
        )
    return "\n".join(lines) + "\n"


def _yaml(data: dict[str, Any]) -> str:
    body = yaml.safe_dump(data, sort_keys=False, width=1000, allow_unicode=True)
    return f"# {GENERATED}\n{body}"


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _with_catalog(doc: str) -> str:
    """The doc with the catalog table between its markers replaced by a fresh rendering."""
    start = doc.find(DOC_CATALOG_BEGIN)
    end = doc.find(DOC_CATALOG_END)
    if start < 0 or end < start:
        raise ValueError(f"{DOC_FILE}: markers {DOC_CATALOG_BEGIN!r} and {DOC_CATALOG_END!r} not found")
    head = doc[: start + len(DOC_CATALOG_BEGIN)]
    return f"{head}\n{render_catalog_table()}{doc[end:]}"


def rendered_files(root: Path) -> dict[Path, str]:
    """Every generated file (relative path -> text); the doc keeps its hand-written prose."""
    files = {dashboard_file(dashboard): _json(render_dashboard(dashboard)) for dashboard in DASHBOARDS}
    files[ALERTS_FILE] = _yaml(render_alerts())
    files[DATASOURCE_FILE] = _yaml(render_datasource())
    files[PROVIDER_FILE] = _yaml(render_provider())
    files[ALERTMANAGER_FILE] = _yaml(render_alertmanager())
    files[CLOUDWATCH_DASHBOARD_FILE] = _json(cloudwatch.render_dashboard())
    files[CLOUDWATCH_ALARMS_FILE] = _json({"alarms": cloudwatch.render_alarms()})
    doc = root / DOC_FILE
    if doc.exists():
        files[DOC_FILE] = _with_catalog(doc.read_text(encoding="utf-8"))
    return files


def stale_files(root: Path) -> list[Path]:
    """Generated files that are missing or differ from what the catalog renders."""
    stale = []
    for path, text in rendered_files(root).items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def write_files(root: Path) -> list[Path]:
    """Write every generated file under `root`; return the ones that changed."""
    changed = stale_files(root)
    for path, text in rendered_files(root).items():
        if path in changed:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated files, or with --check list the stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m lakelab.dashboards", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    parser.add_argument("--check", action="store_true", help="only list files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        for path in stale:
            print(f"stale: {path} (run python -m lakelab.dashboards)")
        return 1 if stale else 0
    for path in write_files(args.root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
