"""The dashboard's queries and the filters users draw (pure)."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from loadtest.queries import (
    DASHBOARD,
    DUCKDB,
    Bounds,
    Filters,
    bounds_sql,
    draw_filters,
    top_customers_by_lifetime_value,
    weighted_names,
)

BOUNDS = Bounds(dt.date(2023, 1, 3), dt.date(2025, 12, 29), ("AMER", "APAC", "EMEA"))


def test_filters_stay_inside_the_bounds_and_repeat_from_a_seed() -> None:
    draws = [draw_filters(random.Random(7), BOUNDS) for _ in range(2)]
    assert draws[0] == draws[1]
    many = [draw_filters(random.Random(seed), BOUNDS) for seed in range(300)]
    assert all(BOUNDS.first_day <= f.start <= f.end <= BOUNDS.last_day for f in many)
    assert all(30 <= (f.end - f.start).days <= 365 for f in many)
    assert {f.region for f in many} == set(BOUNDS.regions)


def test_a_short_history_is_taken_whole() -> None:
    short = Bounds(dt.date(2024, 5, 1), dt.date(2024, 5, 10), ("EMEA",))
    assert draw_filters(random.Random(1), short) == Filters("EMEA", short.first_day, short.last_day)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        (Bounds(dt.date(2024, 1, 1), dt.date(2024, 2, 1), ()), "names no region"),
        (Bounds(dt.date(2024, 2, 1), dt.date(2024, 1, 1), ("EMEA",)), "last day 2024-01-01 is before"),
    ],
)
def test_bounds_that_allow_no_view_are_refused(bounds: Bounds, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draw_filters(random.Random(1), bounds)


def test_every_query_reads_its_gold_table_with_the_views_filters() -> None:
    view = Filters("EMEA", dt.date(2024, 3, 15), dt.date(2024, 9, 30))
    tables = {
        "revenue_by_source_and_month": "revenue_attribution",
        "top_customers_by_lifetime_value": "customer_360",
        "cohort_retention": "cohort_retention",
        "region_revenue_by_segment": "daily_revenue",
    }
    assert set(DASHBOARD) == set(tables)
    for name, (query, _weight) in DASHBOARD.items():
        sql = query("/w", view)
        assert re.findall(r"FROM delta\.`([^`]+)`", sql) == [f"/w/gold/{tables[name]}"], name
        assert "DATE'2024-09-30'" in sql, name
        # Month-grained tables start at the first of the view's first month.
        start = (
            "DATE'2024-03-01'"
            if name in ("revenue_by_source_and_month", "cohort_retention")
            else "DATE'2024-03-15'"
        )
        assert start in sql, name
    regional = {name for name, (query, _w) in DASHBOARD.items() if "region = 'EMEA'" in query("/w", view)}
    assert regional == {"top_customers_by_lifetime_value", "region_revenue_by_segment"}


def test_a_region_with_a_quote_stays_one_literal() -> None:
    sql = top_customers_by_lifetime_value("/w", Filters("O'Neil\\", dt.date(2024, 1, 1), dt.date(2024, 2, 1)))
    assert "region = 'O\\'Neil\\\\' AND" in sql


def test_weights_decide_how_often_each_query_is_picked() -> None:
    names = weighted_names()
    assert {name: names.count(name) for name in DASHBOARD} == {n: w for n, (_q, w) in DASHBOARD.items()}
    assert bounds_sql("/w").endswith("FROM delta.`/w/gold/daily_revenue`")


def test_a_history_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    from loadtest.report import read_history

    header = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%\n"
    whole = "1000,2,,Aggregated,1.5,0.0,900,1200,1300\n1003,4,,Aggregated,2.5,0.5,N/A,1500,1600\n"
    history = tmp_path / "locust_stats_history.csv"
    history.write_text(header + whole + "1004,4,,Aggregated,2.")
    moments = read_history(history)
    assert [(m.seconds, m.users, m.requests_per_second, m.p50_ms, m.p95_ms) for m in moments] == [
        (0.0, 2, 1.5, 900.0, 1200.0),
        (3.0, 4, 2.5, None, 1500.0),
    ]


def test_the_duckdb_dialect_reads_the_same_tables_with_its_own_quoting() -> None:
    view = Filters("O'Neil\\", dt.date(2024, 3, 15), dt.date(2024, 9, 30))
    for name, (query, _weight) in DASHBOARD.items():
        spark_sql, duckdb_sql = query("/w'x", view), query("/w'x", view, DUCKDB)
        table = re.findall(r"FROM delta\.`([^`]+)`", spark_sql)[0]
        # The path's quote doubled, the rest of the statement the same text.
        assert f"FROM delta_scan('{table.replace(chr(39), chr(39) * 2)}')" in duckdb_sql, name
        assert re.sub(r"FROM \S+ ", "", duckdb_sql).replace("'O''Neil\\'", "'O\\'Neil\\\\'") == re.sub(
            r"FROM \S+ ", "", spark_sql
        ), name


def test_the_single_user_baseline_pairs_engines_on_the_same_filters() -> None:
    from loadtest import baseline

    seen: dict[str, list[str]] = {"spark": [], "duckdb": []}

    def engine(name: str, rows: int) -> Callable[[str], int]:
        def run(sql: str) -> int:
            seen[name].append(sql)
            return rows

        return run

    timings = baseline.measure(engine("spark", 3), engine("duckdb", 3), "/w", BOUNDS, seed=5, rounds=3)
    assert len(timings) == 3 * len(DASHBOARD) and {t.rows for t in timings} == {3}
    # Each pair ran one query with one view: the DuckDB text is the Spark text in its dialect.
    for spark_sql, duckdb_sql in zip(seen["spark"], seen["duckdb"], strict=True):
        assert re.sub(r"FROM \S+ ", "", spark_sql) == re.sub(r"FROM \S+ ", "", duckdb_sql)
    assert len(set(seen["spark"])) > len(DASHBOARD)  # views are drawn anew for every pair
    summary = baseline.summary(
        [
            baseline.Timing("q", r, spark, duck, 1)
            for r, (spark, duck) in enumerate([(100, 10), (300, 20), (200, 90)])
        ]
    )
    assert summary["rounds"] == 3
    assert summary["queries"]["q"] == {
        "n": 3, "spark_median_ms": 200.0, "duckdb_median_ms": 20.0, "duckdb_over_spark": 0.1, "median_rows": 1
    }  # fmt: skip
    with pytest.raises(
        baseline.BaselineMismatchError,
        match=r"revenue_by_source_and_month \(\w+, .*Spark returned 3 rows, DuckDB 4",
    ):
        baseline.measure(engine("spark", 3), engine("duckdb", 4), "/w", BOUNDS, seed=5, rounds=1)
