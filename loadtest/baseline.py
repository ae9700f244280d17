"""The single-user baseline: each dashboard query on Spark Connect and on DuckDB, one at a time.

Both engines read the same Gold tables (DuckDB through its delta extension, the one
`harness.duckdb_gold` loads) with the same drawn filters, query by query, interleaved, so a
busy moment of the machine falls on both. Each pair must return the same number of rows, or
the comparison is refused. The figures answer "what does one analyst wait on a laptop-sized
Gold, and what would an embedded engine give instead", before Locust adds users.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.queries import DASHBOARD, DUCKDB, SPARK, Bounds, Query, draw_filters


@dataclass(frozen=True)
class Timing:
    """One query of one round on both engines."""

    query: str
    round: int
    spark_ms: float
    duckdb_ms: float
    rows: int


class BaselineMismatchError(Exception):
    """The two engines returned different row counts for the same query and filters."""


def _timed(run: Callable[[str], int], sql: str) -> tuple[float, int]:
    started = time.perf_counter()
    rows = run(sql)
    return (time.perf_counter() - started) * 1000.0, rows


def measure(
    spark_rows: Callable[[str], int],
    duckdb_rows: Callable[[str], int],
    warehouse: str,
    bounds: Bounds,
    seed: int,
    rounds: int,
    dashboard: Mapping[str, tuple[Query, int]] = DASHBOARD,
) -> list[Timing]:
    """`rounds` rounds of every dashboard query, Spark then DuckDB, same filters each pair.

    `spark_rows` and `duckdb_rows` run a query and return its row count.

    Raises:
        BaselineMismatchError: a pair returned different row counts (the message names the query,
            the filters and both counts).
    """
    rng = random.Random(f"{seed}-single-user")
    timings = []
    for round_ in range(rounds):
        for name, (query, _weight) in dashboard.items():
            filters = draw_filters(rng, bounds)
            spark_ms, spark_n = _timed(spark_rows, query(warehouse, filters, SPARK))
            duckdb_ms, duckdb_n = _timed(duckdb_rows, query(warehouse, filters, DUCKDB))
            if spark_n != duckdb_n:
                raise BaselineMismatchError(
                    f"{name} ({filters.region}, {filters.start}..{filters.end}): Spark returned "
                    f"{spark_n:,} rows, DuckDB {duckdb_n:,}"
                )
            timings.append(Timing(name, round_, spark_ms, duckdb_ms, spark_n))
    return timings


def summary(timings: Sequence[Timing]) -> dict[str, Any]:
    """Medians per query and over all queries, and DuckDB's time as a share of Spark's."""

    def figures(rows: Sequence[Timing]) -> dict[str, Any]:
        spark = statistics.median(t.spark_ms for t in rows)
        duck = statistics.median(t.duckdb_ms for t in rows)
        return {
            "n": len(rows),
            "spark_median_ms": round(spark, 1),
            "duckdb_median_ms": round(duck, 1),
            "duckdb_over_spark": round(duck / spark, 3) if spark > 0 else None,
            "median_rows": statistics.median(t.rows for t in rows),
        }

    names = list(dict.fromkeys(t.query for t in timings))
    return {
        "rounds": len({t.round for t in timings}),
        "queries": {name: figures([t for t in timings if t.query == name]) for name in names},
        "all": figures(timings) if timings else None,
    }


def markdown(single_user: Mapping[str, Any]) -> list[str]:
    """The report's section: a table of medians per query."""
    if not single_user.get("all"):
        return []
    lines = [
        "## One user: Spark Connect against DuckDB",
        "",
        f"Each dashboard query {single_user['rounds']} times, one at a time, on the Spark Connect "
        "server and on DuckDB (delta extension) over the same Gold tables with the same filters, "
        "interleaved, before the users start. Medians; each pair returned the same rows.",
        "",
        "| query | n | Spark ms | DuckDB ms | DuckDB / Spark |",
        "|---|---|---|---|---|",
    ]
    rows = [*single_user["queries"].items(), ("all queries", single_user["all"])]
    for name, f in rows:
        ratio = "-" if f["duckdb_over_spark"] is None else f"{f['duckdb_over_spark']:.3f}"
        lines.append(
            f"| {name} | {f['n']} | {f['spark_median_ms']:.1f} | {f['duckdb_median_ms']:.1f} | {ratio} |"
        )
    lines.append("")
    return lines
