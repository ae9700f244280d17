"""The metric catalog is consistent: every name declared once, used, and well formed."""

from __future__ import annotations

import re

import pytest

from lakelab.metrics import (
    ALERTS,
    DASHBOARDS,
    METRICS,
    METRICS_BY_NAME,
    MetricType,
    Source,
    alerts_using,
    metrics_in,
    panels_showing,
)
from lakelab.records import point_label

VALID_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Tokens in PromQL that look like one of our metrics (functions and labels do not).
METRIC_LIKE = re.compile(r"\b(?:lakelab_|metrics_|minio_|spark_)[A-Za-z0-9_:]*")


def all_exprs() -> list[tuple[str, str]]:
    exprs = [
        (f"{dashboard.title} / {panel.title}", target.expr)
        for dashboard in DASHBOARDS
        for panel in dashboard.panels
        for target in panel.targets
    ]
    exprs += [(alert.name, alert.expr) for alert in ALERTS]
    return exprs


def test_names_are_unique_and_valid() -> None:
    names = [metric.name for metric in METRICS]
    assert len(names) == len(set(names))
    assert all(VALID_NAME.match(name) for name in names), [n for n in names if not VALID_NAME.match(n)]


def test_harness_metrics_follow_prometheus_naming() -> None:
    for metric in METRICS:
        if metric.source is not Source.HARNESS:
            continue
        assert metric.name.startswith("lakelab_")
        assert metric.name.endswith("_total") == (metric.type is MetricType.COUNTER), metric.name
        assert metric.help and metric.unit


@pytest.mark.parametrize(("where", "expr"), all_exprs(), ids=[where for where, _ in all_exprs()])
def test_every_expression_uses_only_catalog_metrics(where: str, expr: str) -> None:
    used = metrics_in(expr)
    assert used, f"{where}: no catalog metric in {expr!r}"
    stray = {
        token
        for token in METRIC_LIKE.findall(expr)
        if token not in METRICS_BY_NAME
        and token.removesuffix("_bucket") not in METRICS_BY_NAME
        and not any(metric.selector and token in metric.selector for metric in METRICS)
    }
    assert not stray, f"{where}: names not in the catalog: {sorted(stray)}"


def test_every_metric_is_charted_or_alerted() -> None:
    unused = [m.name for m in METRICS if not panels_showing(m.name) and not alerts_using(m.name)]
    assert unused == []


def test_metrics_in_maps_series_to_their_metric() -> None:
    assert metrics_in("histogram_quantile(0.9, rate(lakelab_stage_seconds_bucket[5m]))") == {
        "lakelab_stage_seconds"
    }
    assert metrics_in("sum(lakelab_stage_seconds_count) + up") == {"lakelab_stage_seconds", "up"}
    assert metrics_in('{__name__=~"metrics_application_.+_cores_Value"}') == {
        "metrics_application_cores_Value"
    }
    # A name that merely starts like a metric is not that metric.
    assert metrics_in("lakelab_stage_seconds_total_bogus") == set()


def test_panels_and_alerts_are_cross_referenced() -> None:
    assert "Pipeline run / Reconciliation" in panels_showing("lakelab_reconciliation_ok")
    assert alerts_using("lakelab_reconciliation_ok") == ["LakelabReconciliationFailed"]
    assert alerts_using("up") == ["LakelabScrapeTargetDown", "LakelabMinioDown"]
    assert alerts_using("lakelab_reconciliation_last_timestamp_seconds") == ["LakelabReconciliationFailed"]


def test_dashboards_and_alerts_have_unique_names() -> None:
    assert len({d.uid for d in DASHBOARDS}) == len(DASHBOARDS)
    for dashboard in DASHBOARDS:
        titles = [panel.title for panel in dashboard.panels]
        assert len(titles) == len(set(titles)), dashboard.title
    assert len({a.name for a in ALERTS}) == len(ALERTS)


def test_the_exported_point_label_is_the_records_one() -> None:
    # Grafana's legend names a point as the report does: short keys, in axis order.
    settings = {"spark.sql.shuffle.partitions": "8", "spark.sql.adaptive.enabled": "false"}
    assert point_label(settings) == "shuffle.partitions=8, adaptive.enabled=false"
    assert point_label({}) == "default"
