"""DuckDB as a reference engine for Gold: the Gold tables again, from the same Silver Delta tables.

`build_gold(warehouse)` reads a local warehouse's Silver tables with the delta extension's
`delta_scan` (deletion vectors applied) and computes every Gold table of `pipeline.gold` with
DuckDB SQL, one statement per table in `GOLD_SQL`. Each statement mirrors its Spark function
column for column: the same joins, filters and null handling, the same ordering for ranks and
quintiles (Spark sorts NULLs first ascending and last descending, DuckDB last in both, so every
ORDER BY says which), the same month truncation and the same rounding. `differences` compares
a Gold table read back from Spark with DuckDB's, row by row.

Where the engines differ, the SQL spells Spark's behaviour out:

- `decimal / bigint` is exact in Spark (a decimal(38,12) rounded half up, then cast to
  decimal(18,2), half up again) and a DOUBLE in DuckDB, which rounds 2.01 / 2 to 1.00 where
  Spark gives 1.01. `customer_360.average_order_value_usd` is therefore computed in integer
  cents with both of Spark's roundings (`half_up_quotient`).
- `x / y` on integers is a double in both; `1.0` is a double in Spark but a DECIMAL(2,1) in
  DuckDB, so the SQL writes `1.0::DOUBLE`.
- Spark's `trim` removes spaces only; DuckDB's `trim(s, ' ')` is the same.
- Spark's `concat` is NULL when a part is; DuckDB's `concat` skips NULLs, its `||` does not.
- `sum` over DOUBLE adds in a different order in each engine, so
  `revenue_attribution.attributed_orders` (a sum of 1/n shares under the linear model) may
  differ in its last bits: `differences` compares it within 1e-9, and every other column
  exactly.
- Timestamps become dates in UTC on both sides: `lakelab.spark` sets Spark's session time zone
  to UTC and `connect` sets DuckDB's.

Every Gold table matches Spark's exactly (up to that one summed double); the pipeline tests
check it on a real run (tests/pipeline/test_readers.py). `attributable_revenue`, the total
the attribution must conserve, is built too: Spark computes it for its check but does not
write it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from pipeline.contracts import GOLD, SILVER, GoldParams, TableContract
from pipeline.gold import NONE_VALUE, UNKNOWN

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa  # type: ignore[import-untyped]

ATTRIBUTABLE_REVENUE = "attributable_revenue"
# Gold's doubles that are sums of doubles: the engines add in different orders.
SUMMED_DOUBLES: Mapping[str, tuple[str, ...]] = {"revenue_attribution": ("attributed_orders",)}
SUM_TOLERANCE = 1e-9
# The rows of each table that identify it (the contract's key; the attributable revenue's month).
KEYS: Mapping[str, tuple[str, ...]] = {t.name: t.key for t in GOLD} | {ATTRIBUTABLE_REVENUE: ("month",)}


def duckdb_delta_extension() -> Path:
    """The delta extension bundled by the `duckdb-extension-delta` package for this DuckDB."""
    import duckdb
    import duckdb_extension_delta  # type: ignore[import-untyped]

    folder = Path(duckdb_extension_delta.__file__).parent / "extensions"
    return folder / f"v{duckdb.__version__}" / "delta.duckdb_extension"


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the bundled delta extension loaded (no download) and UTC time."""
    import duckdb

    connection = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    connection.execute(f"LOAD '{duckdb_delta_extension()}'")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def half_up_quotient(numerator: str, denominator: str) -> str:
    """SQL for numerator / denominator rounded half away from zero, on integers (denominator > 0):
    Java's HALF_UP, which Spark's decimals round with."""
    return f"(sign({numerator}) * ((2 * abs({numerator}) + {denominator}) // (2 * {denominator})))"


# Spark: ltv / orders is a decimal(38,12) rounded half up, then cast to decimal(18,2), rounded
# half up again. In cents: to 1e-12 USD (1e-10 cents), then to cents.
_AVERAGE_CENTS = half_up_quotient(
    half_up_quotient("CAST(p.lifetime_value_usd * 100 AS HUGEINT) * 10000000000", "p.orders"),
    "10000000000",
)

# Building blocks shared by the statements, each the SQL of one helper of pipeline/gold.py.
_CTES = {
    # gold.revenue_orders
    "revenue_orders": """
        SELECT order_id, customer_id, dt, order_total_usd AS amount_usd
        FROM {orders} WHERE is_revenue""",
    # gold.customer_accounts: the lowest account Id of an external id wins.
    "customer_accounts": """
        SELECT c.customer_id, a.account_id
        FROM {customers} AS c
        JOIN (
            SELECT external_id, min(account_id) AS account_id
            FROM {account} WHERE external_id IS NOT NULL GROUP BY external_id
        ) AS a ON c.crm_account_external_id = a.external_id""",
    # gold.account_touches
    "account_touches": """
        SELECT c.account_id, 'member:' || m.member_id AS touch_id, m.touch_date, m.campaign_id,
               c.lead_source
        FROM {campaign_member} AS m
        JOIN {contact} AS c ON c.contact_id = m.contact_id
        WHERE m.touch_date IS NOT NULL AND NOT m.is_deleted
        UNION ALL BY NAME
        SELECT account_id, 'opportunity:' || opportunity_id AS touch_id,
               CAST(created_at AS DATE) AS touch_date, campaign_id, lead_source
        FROM {opportunity} WHERE NOT is_deleted AND created_at IS NOT NULL""",
    # gold.order_touches: one row per attributable order and touch in the lookback window.
    "order_touches": """
        SELECT order_id, CAST(date_trunc('month', dt) AS DATE) AS month, amount_cents, touches,
               touch_rank, campaign_id, lead_source,
               CASE WHEN touch_rank = 1 THEN amount_cents ELSE 0 END AS first_touch_cents,
               CASE WHEN touch_rank = touches THEN amount_cents ELSE 0 END AS last_touch_cents,
               CAST(floor(amount_cents / touches) AS BIGINT)
                 + CASE WHEN touch_rank <= (amount_cents % touches + touches) % touches
                        THEN 1 ELSE 0 END AS linear_cents
        FROM (
            SELECT o.order_id, o.dt, t.campaign_id, t.lead_source,
                   CAST(o.amount_usd * 100 AS BIGINT) AS amount_cents,
                   count(*) OVER (PARTITION BY o.order_id) AS touches,
                   row_number() OVER (
                       PARTITION BY o.order_id
                       ORDER BY t.touch_date ASC NULLS FIRST, t.touch_id ASC NULLS FIRST
                   ) AS touch_rank
            FROM revenue_orders AS o
            JOIN customer_accounts AS ca ON ca.customer_id = o.customer_id
            JOIN account_touches AS t ON t.account_id = ca.account_id
            WHERE t.touch_date <= o.dt AND t.touch_date > o.dt - {lookback_days}
        )""",
}


def _with(*names: str) -> str:
    return "WITH " + ",\n".join(f"{name} AS ({_CTES[name]}\n)" for name in names) + "\n"


_TOUCHES = ("revenue_orders", "customer_accounts", "account_touches", "order_touches")

# One statement per Gold table, in the order orchestrate builds them. Placeholders: the Silver
# tables by name, and GoldParams' lookback.
GOLD_SQL: Mapping[str, str] = {
    # gold.revenue_attribution: each touch row once per model and per dimension.
    "revenue_attribution": _with(*_TOUCHES)
    + f"""
        , by_model AS (
            SELECT month, campaign_id, lead_source, 'first_touch' AS model,
                   first_touch_cents AS cents,
                   CASE WHEN touch_rank = 1 THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END AS orders
            FROM order_touches
            UNION ALL
            SELECT month, campaign_id, lead_source, 'last_touch', last_touch_cents,
                   CASE WHEN touch_rank = touches THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END
            FROM order_touches
            UNION ALL
            SELECT month, campaign_id, lead_source, 'linear', linear_cents, 1.0::DOUBLE / touches
            FROM order_touches
        ), by_dimension AS (
            SELECT model, 'lead_source' AS dimension,
                   coalesce(nullif(trim(lead_source, ' '), ''), '{NONE_VALUE}') AS dimension_value,
                   month, cents, orders
            FROM by_model
            UNION ALL
            SELECT model, 'campaign', coalesce(nullif(trim(campaign_id, ' '), ''), '{NONE_VALUE}'),
                   month, cents, orders
            FROM by_model
        )
        SELECT model, dimension, dimension_value, month,
               CAST(sum(cents) / 100 AS DECIMAL(18,2)) AS attributed_revenue_usd,
               CAST(sum(orders) AS DOUBLE) AS attributed_orders
        FROM by_dimension
        GROUP BY model, dimension, dimension_value, month""",
    # gold.customer_360
    "customer_360": _with("revenue_orders", "customer_accounts")
    + f"""
        , per_customer AS (
            SELECT customer_id, min(dt) AS first_order_date, max(dt) AS last_order_date,
                   count(*) AS orders, sum(amount_usd) AS lifetime_value_usd
            FROM revenue_orders GROUP BY customer_id
        ), won AS (
            SELECT account_id, count(*) AS won_opportunities,
                   sum(amount_usd) AS won_opportunity_amount_usd
            FROM {{opportunity}} WHERE is_won AND NOT is_deleted GROUP BY account_id
        ), touches AS (
            SELECT c.account_id, count(*) AS campaign_touches
            FROM {{campaign_member}} AS m
            JOIN {{contact}} AS c ON c.contact_id = m.contact_id
            WHERE m.touch_date IS NOT NULL AND NOT m.is_deleted
            GROUP BY c.account_id
        )
        SELECT c.customer_id, c.customer_name, c.country_code, c.region, c.segment,
               ca.account_id, a.industry, p.first_order_date, p.last_order_date,
               CAST(coalesce(p.orders, 0) AS BIGINT) AS orders,
               CAST(coalesce(p.lifetime_value_usd, 0) AS DECIMAL(18,2)) AS lifetime_value_usd,
               CASE WHEN p.orders > 0
                    THEN CAST(CAST({_AVERAGE_CENTS} AS DECIMAL(38,0)) * 0.01 AS DECIMAL(18,2))
               END AS average_order_value_usd,
               CAST(coalesce(w.won_opportunities, 0) AS BIGINT) AS won_opportunities,
               CAST(coalesce(w.won_opportunity_amount_usd, 0) AS DECIMAL(18,2))
                 AS won_opportunity_amount_usd,
               CAST(coalesce(t.campaign_touches, 0) AS BIGINT) AS campaign_touches
        FROM {{customers}} AS c
        LEFT JOIN customer_accounts AS ca ON ca.customer_id = c.customer_id
        LEFT JOIN (SELECT account_id, industry FROM {{account}}) AS a ON a.account_id = ca.account_id
        LEFT JOIN per_customer AS p ON p.customer_id = c.customer_id
        LEFT JOIN won AS w ON w.account_id = ca.account_id
        LEFT JOIN touches AS t ON t.account_id = ca.account_id""",
    # gold.rfm_segments: quintiles over one global ordering each, ties broken by customer_id.
    "rfm_segments": _with("revenue_orders")
    + """
        , per_customer AS (
            SELECT customer_id, max(dt) AS last_dt, count(*) AS frequency,
                   sum(amount_usd) AS monetary_usd
            FROM revenue_orders GROUP BY customer_id
        ), scored AS (
            SELECT p.customer_id, CAST(a.as_of - p.last_dt AS INTEGER) AS recency_days,
                   p.frequency, p.monetary_usd
            FROM per_customer AS p
            CROSS JOIN (SELECT max(dt) AS as_of FROM revenue_orders) AS a
        ), quintiles AS (
            SELECT customer_id, recency_days, frequency, monetary_usd,
                   CAST(ntile(5) OVER (
                       ORDER BY recency_days DESC NULLS LAST, customer_id ASC NULLS FIRST
                   ) AS INTEGER) AS r_score,
                   CAST(ntile(5) OVER (
                       ORDER BY frequency ASC NULLS FIRST, customer_id ASC NULLS FIRST
                   ) AS INTEGER) AS f_score,
                   CAST(ntile(5) OVER (
                       ORDER BY monetary_usd ASC NULLS FIRST, customer_id ASC NULLS FIRST
                   ) AS INTEGER) AS m_score
            FROM scored
        )
        SELECT customer_id, recency_days, frequency,
               CAST(monetary_usd AS DECIMAL(18,2)) AS monetary_usd, r_score, f_score, m_score,
               CASE WHEN r_score >= 4 AND f_score >= 4 THEN 'Champions'
                    WHEN r_score >= 3 AND f_score >= 3 THEN 'Loyal'
                    WHEN r_score >= 4 AND f_score <= 2 THEN 'New'
                    WHEN r_score >= 3 THEN 'Potential'
                    WHEN f_score >= 3 THEN 'At Risk'
                    ELSE 'Hibernating'
               END AS rfm_segment
        FROM quintiles""",
    # gold.cohort_retention: months_between of two first days of a month is a whole number.
    "cohort_retention": _with("revenue_orders")
    + """
        , active AS (
            SELECT DISTINCT customer_id, CAST(date_trunc('month', dt) AS DATE) AS month
            FROM revenue_orders
        ), with_cohort AS (
            SELECT customer_id, month, min(month) OVER (PARTITION BY customer_id) AS cohort_month
            FROM active
        ), sizes AS (
            SELECT cohort_month, count(DISTINCT customer_id) AS cohort_size
            FROM with_cohort GROUP BY cohort_month
        ), by_month AS (
            SELECT cohort_month,
                   CAST(datediff('month', cohort_month, month) AS INTEGER) AS months_since_first,
                   count(DISTINCT customer_id) AS active_customers
            FROM with_cohort GROUP BY cohort_month, months_since_first
        )
        SELECT b.cohort_month, b.months_since_first, s.cohort_size, b.active_customers,
               b.active_customers / s.cohort_size AS retention_rate
        FROM by_month AS b JOIN sizes AS s ON s.cohort_month = b.cohort_month""",
    # gold.daily_revenue: orders of unknown customers count under 'Unknown'.
    "daily_revenue": _with("revenue_orders")
    + f"""
        SELECT o.dt, coalesce(c.region, '{UNKNOWN}') AS region,
               coalesce(c.segment, '{UNKNOWN}') AS segment,
               count(*) AS orders, count(DISTINCT o.customer_id) AS customers,
               CAST(sum(o.amount_usd) AS DECIMAL(18,2)) AS revenue_usd
        FROM revenue_orders AS o
        LEFT JOIN (SELECT customer_id, region, segment FROM {{customers}}) AS c
          ON c.customer_id = o.customer_id
        GROUP BY 1, 2, 3""",
    # gold.attributable_revenue: not a table, the total orchestrate checks attribution against.
    ATTRIBUTABLE_REVENUE: _with(*_TOUCHES)
    + """
        SELECT month, CAST(sum(amount_cents) AS BIGINT) AS attributable_cents,
               count(*) AS attributable_orders
        FROM (SELECT DISTINCT order_id, month, amount_cents FROM order_touches)
        GROUP BY month""",
}

# Spark types of the Silver contracts, as DuckDB types (for a Silver table not written yet).
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
}


@dataclass(frozen=True)
class DuckDBGold:
    """DuckDB's Gold tables by name (in `GOLD_SQL` order) and the seconds each statement took."""

    tables: dict[str, pa.Table]
    seconds: dict[str, float]


def _is_delta_table(path: str) -> bool:
    return (Path(path) / "_delta_log").is_dir()


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _empty(table: TableContract) -> str:
    """A Silver table with no rows yet: as orchestrate's `_silver_or_empty`, its contract's columns."""
    columns = ", ".join(
        f"CAST(NULL AS {_DUCKDB_TYPES.get(c.type, c.type.upper())}) AS {c.name}" for c in table.columns
    )
    return f"(SELECT {columns} WHERE false)"


def silver_sources(warehouse: str) -> dict[str, str]:
    """Each Silver table as SQL: a `delta_scan` of its folder, or no rows when it has none.

    Raises:
        UserError: not a local folder, or one that holds no Silver Delta table.
    """
    if "://" in warehouse:
        raise UserError(f"{warehouse}: DuckDB's Gold reads local warehouses only")
    root = Path(warehouse)
    if not root.is_dir():
        raise UserError(f"{warehouse}: no such warehouse folder")
    present = {t.name for t in SILVER if _is_delta_table(t.path(str(root)))}
    if not present:
        raise UserError(f"{warehouse}: no Silver Delta table under {root / 'silver'}; run the pipeline first")
    return {
        t.name: f"delta_scan({_sql_text(t.path(str(root.resolve())))})" if t.name in present else _empty(t)
        for t in SILVER
    }


def build_gold(
    warehouse: str,
    connection: duckdb.DuckDBPyConnection | None = None,
    params: GoldParams | None = None,
) -> DuckDBGold:
    """Every Gold table (and the attributable revenue) computed by DuckDB from the Silver tables.

    Args:
        warehouse: a local warehouse root, as the pipeline wrote it.
        connection: a connection from `connect` (default: a new one, closed afterwards).
        params: the Gold layer's business choices (default: `GoldParams()`, as orchestrate).

    Returns:
        The tables as Arrow, columns in contract order, and the seconds each statement took
        (reading Silver included: nothing is shared between statements).

    Raises:
        UserError: see `silver_sources`.
    """
    sources = silver_sources(warehouse)
    lookback_days = (params or GoldParams()).attribution_lookback_days
    own = connection is None
    duck = connect() if connection is None else connection
    tables: dict[str, pa.Table] = {}
    seconds: dict[str, float] = {}
    try:
        for name, statement in GOLD_SQL.items():
            sql = statement.format(**sources, lookback_days=int(lookback_days))
            started = time.perf_counter()
            tables[name] = duck.execute(sql).to_arrow_table()
            seconds[name] = time.perf_counter() - started
    finally:
        if own:
            duck.close()
    return DuckDBGold(tables, seconds)


def _exact(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _same(column: str, summed: tuple[str, ...], left: Any, right: Any) -> bool:
    if column in summed and isinstance(left, float) and isinstance(right, float):
        return abs(left - right) <= SUM_TOLERANCE * max(1.0, abs(left), abs(right))
    return _exact(left) == _exact(right)


def _sorted_rows(table: pa.Table, columns: list[str], key: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = table.select(columns).to_pylist()
    return sorted(rows, key=lambda row: [_exact(row[c]) for c in (*key, *columns)])


def differences(name: str, reference: pa.Table, candidate: pa.Table, limit: int = 5) -> list[str]:
    """How `candidate` (DuckDB's) differs from `reference` (Spark's) for one Gold table; [] if not.

    Columns must match by name and order; rows are sorted by the table's key and compared
    value by value as text (decimals to the cent, dates, NULLs), except the doubles that are
    sums of doubles (`SUMMED_DOUBLES`), compared within a relative 1e-9.
    """
    columns = list(reference.column_names)
    if list(candidate.column_names) != columns:
        return [f"{name}: columns {candidate.column_names} != {columns}"]
    if candidate.num_rows != reference.num_rows:
        return [f"{name}: {candidate.num_rows} rows != {reference.num_rows}"]
    summed = SUMMED_DOUBLES.get(name, ())
    key = KEYS.get(name, ())
    found = []
    pairs = zip(_sorted_rows(reference, columns, key), _sorted_rows(candidate, columns, key), strict=True)
    for expected, got in pairs:
        unequal = [c for c in columns if not _same(c, summed, expected[c], got[c])]
        if unequal:
            found.append(
                f"{name} {[_exact(expected[c]) for c in key]}: "
                + ", ".join(f"{c}: DuckDB {_exact(got[c])}, Spark {_exact(expected[c])}" for c in unequal)
            )
            if len(found) >= limit:
                break
    return found
