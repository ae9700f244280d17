"""Where the metric code used to live, kept so existing imports work.

The metric code is split by concern: the catalog of every metric (`lakelab.catalog`), the
dashboards and alert rules beside their renderer (`lakelab.dashboards`), and the harness's
exporter (`lakelab.exporter`). New code imports from those; this module re-exports their
public names (the harness imports `Exporter` from here).
"""

from __future__ import annotations

from lakelab.catalog import (
    DEFAULT_RECONCILIATION_CHECK,
    METRICS,
    METRICS_BY_NAME,
    Metric,
    MetricType,
    Source,
    metrics_in,
)
from lakelab.dashboards import (
    ALERTS,
    DASHBOARDS,
    EXECUTOR_MEMORY_RATIO_THRESHOLD,
    FAILURE_VISIBLE_FOR,
    QUARANTINE_RATIO_THRESHOLD,
    Alert,
    Dashboard,
    Panel,
    Target,
    alerts_using,
    panels_showing,
)
from lakelab.exporter import DEFAULT_EXPORTER_PORT, STAGE_SECONDS_BUCKETS, Exporter

__all__ = [
    "ALERTS",
    "DASHBOARDS",
    "DEFAULT_EXPORTER_PORT",
    "DEFAULT_RECONCILIATION_CHECK",
    "EXECUTOR_MEMORY_RATIO_THRESHOLD",
    "FAILURE_VISIBLE_FOR",
    "METRICS",
    "METRICS_BY_NAME",
    "QUARANTINE_RATIO_THRESHOLD",
    "STAGE_SECONDS_BUCKETS",
    "Alert",
    "Dashboard",
    "Exporter",
    "Metric",
    "MetricType",
    "Panel",
    "Source",
    "Target",
    "alerts_using",
    "metrics_in",
    "panels_showing",
]
