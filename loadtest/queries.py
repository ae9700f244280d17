"""The BI dashboard's queries on the Gold layer, and the filters a user picks (pure).

A dashboard user looks at one region and one date range at a time and runs these panels'
queries. Every query reads one Gold table by path and is filtered by the date range; those
whose table has a region are filtered by it too (attribution and cohorts are not split by
region in Gold: `pipeline/contracts.py`). Each query is written in Spark SQL (the table as
`delta.`<path>``) or in DuckDB's (`delta_scan('<path>')`), the single-user baseline's engine.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pipeline.contracts import contract

SPARK = "spark"
DUCKDB = "duckdb"


@dataclass(frozen=True)
class Bounds:
    """What the Gold layer holds: the dates revenue covers and the regions it names."""

    first_day: dt.date
    last_day: dt.date
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Filters:
    """One dashboard view: a region and a date range (inclusive)."""

    region: str
    start: dt.date
    end: dt.date


def gold_path(warehouse: str, table: str) -> str:
    """Where Gold table `table` lives under `warehouse`, quoted for `delta.`...``."""
    return contract(f"gold.{table}").path(warehouse).replace("`", "``")


def _table(warehouse: str, table: str, dialect: str) -> str:
    """Gold table `table` as a FROM item in `dialect`."""
    if dialect == DUCKDB:
        return "delta_scan(" + _text(contract(f"gold.{table}").path(warehouse), dialect) + ")"
    return f"delta.`{gold_path(warehouse, table)}`"


def _text(value: str, dialect: str = SPARK) -> str:
    """A SQL string literal: Spark escapes a quote or a backslash with a backslash, DuckDB
    doubles a quote (a backslash is an ordinary character there)."""
    if dialect == DUCKDB:
        return "'" + value.replace("'", "''") + "'"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def revenue_by_source_and_month(warehouse: str, f: Filters, dialect: str = SPARK) -> str:
    """Linear-touch attributed revenue per lead source and month, in the date range."""
    return (
        "SELECT dimension_value AS lead_source, month, sum(attributed_revenue_usd) AS revenue_usd "
        f"FROM {_table(warehouse, 'revenue_attribution', dialect)} "
        "WHERE model = 'linear' AND dimension = 'lead_source' "
        f"AND month BETWEEN DATE'{f.start.replace(day=1)}' AND DATE'{f.end}' "
        "GROUP BY dimension_value, month ORDER BY month, revenue_usd DESC"
    )


def top_customers_by_lifetime_value(warehouse: str, f: Filters, dialect: str = SPARK) -> str:
    """The region's 20 most valuable customers who ordered in the date range."""
    return (
        "SELECT customer_id, customer_name, segment, orders, lifetime_value_usd "
        f"FROM {_table(warehouse, 'customer_360', dialect)} "
        f"WHERE region = {_text(f.region, dialect)} "
        f"AND last_order_date BETWEEN DATE'{f.start}' AND DATE'{f.end}' "
        "ORDER BY lifetime_value_usd DESC, customer_id LIMIT 20"
    )


def cohort_retention(warehouse: str, f: Filters, dialect: str = SPARK) -> str:
    """Retention of the cohorts first seen in the date range, month by month."""
    return (
        "SELECT cohort_month, months_since_first, cohort_size, retention_rate "
        f"FROM {_table(warehouse, 'cohort_retention', dialect)} "
        f"WHERE cohort_month BETWEEN DATE'{f.start.replace(day=1)}' AND DATE'{f.end}' "
        "ORDER BY cohort_month, months_since_first"
    )


def region_revenue_by_segment(warehouse: str, f: Filters, dialect: str = SPARK) -> str:
    """The region's revenue and orders per month and segment, in the date range (not its
    customers: `daily_revenue` counts them per day, and a month's sum would count a customer
    once per day ordered)."""
    return (
        "SELECT date_trunc('MONTH', dt) AS month, segment, sum(revenue_usd) AS revenue_usd, "
        "sum(orders) AS orders "
        f"FROM {_table(warehouse, 'daily_revenue', dialect)} "
        f"WHERE region = {_text(f.region, dialect)} AND dt BETWEEN DATE'{f.start}' AND DATE'{f.end}' "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )


class Query(Protocol):
    """A dashboard query: its SQL for a warehouse, a view's filters and a dialect."""

    def __call__(self, warehouse: str, f: Filters, dialect: str = SPARK) -> str: ...


DASHBOARD: Mapping[str, tuple[Query, int]] = {
    "revenue_by_source_and_month": (revenue_by_source_and_month, 3),
    "top_customers_by_lifetime_value": (top_customers_by_lifetime_value, 3),
    "cohort_retention": (cohort_retention, 2),
    "region_revenue_by_segment": (region_revenue_by_segment, 2),
}
"""Each panel's query and its weight: how often a user runs it relative to the others."""

BOUNDS_SQL = (
    "SELECT min(dt) AS first_day, max(dt) AS last_day, "
    "array_sort(collect_set(region)) AS regions FROM delta.`{path}`"
)
"""What `Bounds` are read from: the dates and regions of `gold.daily_revenue`."""


def bounds_sql(warehouse: str) -> str:
    """The query that reads the Gold layer's `Bounds`."""
    return BOUNDS_SQL.format(path=gold_path(warehouse, "daily_revenue"))


def draw_filters(rng: random.Random, bounds: Bounds, min_days: int = 30, max_days: int = 365) -> Filters:
    """A region and a date range of `min_days`..`max_days` days inside `bounds` (all of it if shorter).

    Raises:
        ValueError: bounds with no region or a last day before the first.
    """
    if not bounds.regions:
        raise ValueError("the Gold layer names no region")
    span = (bounds.last_day - bounds.first_day).days
    if span < 0:
        raise ValueError(f"last day {bounds.last_day} is before the first, {bounds.first_day}")
    days = min(span, rng.randint(min_days, max_days))
    start = bounds.first_day + dt.timedelta(days=rng.randint(0, span - days))
    return Filters(rng.choice(bounds.regions), start, start + dt.timedelta(days=days))


def weighted_names(dashboard: Mapping[str, tuple[Query, int]] = DASHBOARD) -> Sequence[str]:
    """Each query's name repeated by its weight: a user picks one of these at random."""
    return [name for name, (_query, weight) in dashboard.items() for _ in range(weight)]
