"""CloudWatch: the pipeline dashboard and alarms rendered from the metric catalog, and a publisher.

The catalog (`lakelab.catalog.METRICS`) says which harness metrics go to CloudWatch and with
which unit (`Metric.cloudwatch_unit`); their CloudWatch names are the catalog names and their
dimensions the catalog labels, so one name means one thing in Prometheus, Grafana and
CloudWatch. `python -m lakelab.dashboards` writes `cloudwatch/pipeline_metrics.json` (the
dashboard body) and `cloudwatch/alarms.json` (PutMetricAlarm requests) from the declarations
below; `python -m lakelab.cloudwatch apply` puts both into an account.

Publishing is off unless `LAKELAB_CLOUDWATCH=1`: then the harness exporter
(`lakelab.exporter.Exporter`) sends every figure it records to CloudWatch as well, with
boto3's `put_metric_data`, once per finished sweep point. The region and credentials are
boto3's own (`AWS_REGION`, `AWS_PROFILE`, ...; `AWS_ENDPOINT_URL_CLOUDWATCH` points it elsewhere).

There is no cost metric in the catalog, so there is no cost widget and no budget alarm: the
harness prices runs in its reports (`harness/prices`), not as a metric.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakelab.catalog import DEFAULT_RECONCILIATION_CHECK, METRICS, METRICS_BY_NAME, Metric
from lakelab.errors import UserError

ENABLE_ENV = "LAKELAB_CLOUDWATCH"
"""Set to 1 (or true/yes/on) to publish the harness's figures to CloudWatch."""

NAMESPACE_ENV = "LAKELAB_CLOUDWATCH_NAMESPACE"
DEFAULT_NAMESPACE = "Lakelab"
DEFAULT_REGION = "us-east-1"
"""The region written into the committed dashboard body; `apply --region` renders another."""

DASHBOARD_NAME = "lakelab-pipeline"
PERIOD_SECONDS = 300
# PutMetricData takes up to 1,000 metrics per request; stay well under it (and under 1 MB).
_BATCH = 500
_TRUE = {"1", "true", "yes", "on"}


def published() -> list[Metric]:
    """The catalog metrics the publisher sends to CloudWatch."""
    return [metric for metric in METRICS if metric.cloudwatch_unit]


# --- the dashboard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One metric of a widget; `where` fixes dimension values (all of them: a plain metric;
    some or none: a SEARCH over the rest)."""

    metric: str
    where: Mapping[str, str] = field(default_factory=dict)
    label: str = ""
    id: str = ""
    visible: bool = True


@dataclass(frozen=True)
class Widget:
    """One metric widget; `expression` is metric math over the series' ids, drawn instead of them."""

    title: str
    series: tuple[Series, ...]
    stat: str
    view: str = "timeSeries"
    expression: str = ""
    expression_label: str = ""


WIDGETS: tuple[Widget, ...] = (
    Widget("Sweep point duration (job duration trend)", (Series("lakelab_sweep_point_seconds"),), "Average"),
    Widget("Stage duration", (Series("lakelab_stage_last_seconds"),), "Average"),
    Widget(
        "Sweep points by outcome",
        (
            Series("lakelab_sweep_runs_total", {"outcome": "ok"}, "ok"),
            Series("lakelab_sweep_runs_total", {"outcome": "failed"}, "failed"),
        ),
        "Sum",
    ),
    Widget(
        "Error rate (failed points, %)",
        (
            Series("lakelab_sweep_runs_total", {"outcome": "ok"}, id="ok", visible=False),
            Series("lakelab_sweep_runs_total", {"outcome": "failed"}, id="failed", visible=False),
        ),
        "Sum",
        expression="100 * failed / (ok + failed)",
        expression_label="failed %",
    ),
    Widget(
        "Quarantined rows (quarantine volume)",
        (Series("lakelab_stage_last_rows", {"outcome": "quarantined"}),),
        "Sum",
    ),
    Widget("Reconciliation (1 = layers agree)", (Series("lakelab_reconciliation_ok"),), "Minimum"),
    Widget("Records per second", (Series("lakelab_records_per_second"),), "Average"),
    Widget("Rows generated", (Series("lakelab_datagen_rows_total"),), "Sum"),
)

_WIDGET_WIDTH, _WIDGET_HEIGHT, _GRID = 12, 6, 24
_NOTE_HEIGHT = 3


def _search(namespace: str, series: Series, stat: str) -> str:
    metric = METRICS_BY_NAME[series.metric]
    schema = ",".join((namespace, *sorted(metric.labels)))
    terms = [f'MetricName="{metric.name}"']
    terms += [f'{name}="{value}"' for name, value in sorted(series.where.items())]
    query = f"{{{schema}}} " + " ".join(terms)
    return f"SEARCH('{query}', '{stat}', {PERIOD_SECONDS})"


def _series_json(namespace: str, series: Series, stat: str, index: int) -> list[Any]:
    metric = METRICS_BY_NAME[series.metric]
    options: dict[str, Any] = {}
    if series.label:
        options["label"] = series.label
    if series.id:
        options["id"] = series.id
    if not series.visible:
        options["visible"] = False
    if set(series.where) == set(metric.labels):
        dimensions = [part for name in metric.labels for part in (name, series.where[name])]
        return [namespace, metric.name, *dimensions, *([options] if options else [])]
    return [{"expression": _search(namespace, series, stat), "id": series.id or f"s{index}", **options}]


def _widget_json(widget: Widget, namespace: str, region: str, x: int, y: int) -> dict[str, Any]:
    metrics = [_series_json(namespace, s, widget.stat, i) for i, s in enumerate(widget.series, start=1)]
    if widget.expression:
        metrics.append(
            [{"expression": widget.expression, "label": widget.expression_label, "id": "expression"}]
        )
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": _WIDGET_WIDTH,
        "height": _WIDGET_HEIGHT,
        "properties": {
            "title": widget.title,
            "metrics": metrics,
            "region": region,
            "view": widget.view,
            "stat": widget.stat,
            "period": PERIOD_SECONDS,
            "stacked": False,
        },
    }


def render_dashboard(namespace: str = DEFAULT_NAMESPACE, region: str = DEFAULT_REGION) -> dict[str, Any]:
    """The CloudWatch dashboard body (PutDashboard's `DashboardBody`, as a mapping)."""
    from lakelab.dashboards import GENERATED

    note = (
        f"## lakelab pipeline runs\n"
        f"Namespace `{namespace}`: the harness's figures, published when `{ENABLE_ENV}=1`. "
        "Names and dimensions are the metric catalog's (`lakelab/metrics.py`). "
        "There is no cost metric in the catalog, so there is no cost widget: reports price each run. "
        f"{GENERATED}"
    )
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": _GRID,
            "height": _NOTE_HEIGHT,
            "properties": {"markdown": note},
        }
    ]
    for index, widget in enumerate(WIDGETS):
        x = (index * _WIDGET_WIDTH) % _GRID
        y = _NOTE_HEIGHT + (index * _WIDGET_WIDTH) // _GRID * _WIDGET_HEIGHT
        widgets.append(_widget_json(widget, namespace, region, x, y))
    return {"start": "-P7D", "periodOverride": "inherit", "widgets": widgets}


# --- alarms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alarm:
    """One CloudWatch alarm on a published metric; `where` gives every dimension's value."""

    name: str
    description: str
    metric: str
    where: Mapping[str, str]
    stat: str
    comparison: str
    threshold: float


ALARMS: tuple[Alarm, ...] = (
    Alarm(
        "LakelabRunFailed",
        "A sweep point (a pipeline run) failed in the last five minutes; its result record says why.",
        "lakelab_sweep_runs_total",
        {"outcome": "failed"},
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
    ),
    Alarm(
        "LakelabReconciliationFailed",
        "A run's layers disagree (row counts or sums); do not trust its Gold tables.",
        "lakelab_reconciliation_ok",
        {"check": DEFAULT_RECONCILIATION_CHECK},
        "Minimum",
        "LessThanThreshold",
        1,
    ),
)


def render_alarms(namespace: str = DEFAULT_NAMESPACE, actions: Sequence[str] = ()) -> list[dict[str, Any]]:
    """PutMetricAlarm requests, one per alarm; `actions` are ARNs (an SNS topic) to notify."""
    requests = []
    for alarm in ALARMS:
        metric = METRICS_BY_NAME[alarm.metric]
        requests.append(
            {
                "AlarmName": alarm.name,
                "AlarmDescription": alarm.description,
                "Namespace": namespace,
                "MetricName": metric.name,
                "Dimensions": [{"Name": name, "Value": alarm.where[name]} for name in metric.labels],
                "Statistic": alarm.stat,
                "Period": PERIOD_SECONDS,
                "EvaluationPeriods": 1,
                "Threshold": float(alarm.threshold),
                "ComparisonOperator": alarm.comparison,
                # No run in a period is not a failure.
                "TreatMissingData": "notBreaching",
                "ActionsEnabled": bool(actions),
                "AlarmActions": list(actions),
            }
        )
    return requests


# --- the publisher ---------------------------------------------------------------------------


def _client(region: str | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise UserError(
            f"{ENABLE_ENV}: publishing to CloudWatch needs boto3 (pip install 'lakelab[cloudwatch]')"
        ) from None
    return boto3.client("cloudwatch", region_name=region)


class CloudWatchPublisher:
    """Buffers catalog figures as CloudWatch datums and sends them with `put_metric_data`.

    A failed send is reported on one line and dropped: a benchmark run does not stop
    because CloudWatch is unreachable (`failed_sends` counts them).
    """

    def __init__(self, namespace: str = DEFAULT_NAMESPACE, client: Any = None, region: str | None = None):
        self.namespace = namespace
        self.client = client if client is not None else _client(region)
        self.pending: list[dict[str, Any]] = []
        self.sent = 0
        self.failed_sends = 0

    def add(self, metric: Metric, labels: Mapping[str, str], value: float) -> None:
        """Queue one figure of a published catalog metric."""
        if not metric.cloudwatch_unit:
            raise ValueError(f"{metric.name} is not published to CloudWatch (no cloudwatch_unit)")
        self.pending.append(
            {
                "MetricName": metric.name,
                # CloudWatch refuses empty dimension values.
                "Dimensions": [
                    {"Name": name, "Value": str(labels[name]) or "none"} for name in metric.labels
                ],
                "Value": float(value),
                "Unit": metric.cloudwatch_unit,
                "Timestamp": dt.datetime.now(dt.UTC),
            }
        )

    def flush(self) -> int:
        """Send everything queued; return how many datums went."""
        sent = 0
        while self.pending:
            batch, self.pending = self.pending[:_BATCH], self.pending[_BATCH:]
            try:
                self.client.put_metric_data(Namespace=self.namespace, MetricData=batch)
            except Exception as error:  # botocore's errors, a missing region, no network
                self.failed_sends += 1
                print(f"cloudwatch: {len(batch)} figures not sent ({error})", file=sys.stderr, flush=True)
                continue
            sent += len(batch)
        self.sent += sent
        return sent


def publisher_from_env(environ: Mapping[str, str] | None = None) -> CloudWatchPublisher | None:
    """A publisher when `LAKELAB_CLOUDWATCH` turns publishing on, else None (the default)."""
    env = os.environ if environ is None else environ
    if env.get(ENABLE_ENV, "").strip().lower() not in _TRUE:
        return None
    return CloudWatchPublisher(namespace=env.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE)


def apply(client: Any, namespace: str, region: str, actions: Sequence[str] = ()) -> list[str]:
    """Put the dashboard and the alarms into the account `client` talks to; return what was put."""
    client.put_dashboard(
        DashboardName=DASHBOARD_NAME, DashboardBody=json.dumps(render_dashboard(namespace, region))
    )
    names = [f"dashboard {DASHBOARD_NAME}"]
    for request in render_alarms(namespace, actions):
        client.put_metric_alarm(**request)
        names.append(f"alarm {request['AlarmName']}")
    return names


def main(argv: list[str] | None = None) -> int:
    """`apply`: put the dashboard and alarms into CloudWatch."""
    parser = argparse.ArgumentParser(prog="python -m lakelab.cloudwatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("apply", help="put the dashboard and the alarms into an AWS account")
    put.add_argument("--region", default=None, help="default: boto3's (AWS_REGION, the profile)")
    put.add_argument("--namespace", default=os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE)
    put.add_argument("--alarm-action", action="append", default=[], help="an ARN to notify (repeatable)")
    args = parser.parse_args(argv)
    client = _client(args.region)
    region = args.region or client.meta.region_name
    for name in apply(client, args.namespace, region, args.alarm_action):
        print(f"put {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
