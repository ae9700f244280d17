"""Gold transforms: revenue attribution, customer 360, RFM, cohorts, daily revenue. Pure.

Revenue attribution, the model in one paragraph: an order counts as revenue unless it
was cancelled or returned. Its customer links to a CRM account when
`customers.crm_account_external_id = account.external_id` (the lowest account Id wins
if several accounts share an external id, so no order is counted twice). The account's
touches are its contacts' campaign responses (dated by the first response) and its
opportunities (dated by creation, carrying their lead source and primary campaign).
An order is attributable when at least one touch falls in the lookback window up to
the order date. Its revenue, in cents, goes to the earliest touch (first-touch), the
latest (last-touch), or is split evenly with the leftover cents handed to the earliest
touches (linear), so attributed revenue sums exactly to attributable revenue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.contracts import (
    GOLD_COHORT_RETENTION,
    GOLD_CUSTOMER_360,
    GOLD_DAILY_REVENUE,
    GOLD_REVENUE_ATTRIBUTION,
    GOLD_RFM,
    GoldParams,
    TableContract,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

NONE_VALUE = "(none)"
UNKNOWN = "Unknown"


def _typed(df: DataFrame, contract: TableContract) -> DataFrame:
    """Columns in contract order and type."""
    from pyspark.sql import functions as sf

    return df.select(*[sf.col(c.name).cast(c.type).alias(c.name) for c in contract.columns])


def revenue_orders(orders: DataFrame) -> DataFrame:
    """Orders that count as revenue: `order_id, customer_id, dt, amount_usd`."""
    from pyspark.sql import functions as sf

    return orders.where(sf.col("is_revenue")).select(
        "order_id", "customer_id", "dt", sf.col("order_total_usd").alias("amount_usd")
    )


def customer_accounts(customers: DataFrame, accounts: DataFrame) -> DataFrame:
    """`customer_id, account_id`: each customer linked to at most one CRM account."""
    from pyspark.sql import functions as sf

    by_external_id = (
        accounts.where(sf.col("external_id").isNotNull())
        .groupBy("external_id")
        .agg(sf.min("account_id").alias("account_id"))
    )
    return customers.join(
        by_external_id, customers["crm_account_external_id"] == by_external_id["external_id"], "inner"
    ).select("customer_id", "account_id")


def account_touches(contacts: DataFrame, members: DataFrame, opportunities: DataFrame) -> DataFrame:
    """`account_id, touch_id, touch_date, campaign_id, lead_source` for every dated touch."""
    from pyspark.sql import functions as sf

    campaign_touches = (
        members.where(sf.col("touch_date").isNotNull() & ~sf.col("is_deleted"))
        .join(contacts.select("contact_id", "account_id", "lead_source"), "contact_id")
        .select(
            "account_id",
            sf.concat(sf.lit("member:"), sf.col("member_id")).alias("touch_id"),
            "touch_date",
            "campaign_id",
            "lead_source",
        )
    )
    deal_touches = opportunities.where(~sf.col("is_deleted") & sf.col("created_at").isNotNull()).select(
        "account_id",
        sf.concat(sf.lit("opportunity:"), sf.col("opportunity_id")).alias("touch_id"),
        sf.to_date("created_at").alias("touch_date"),
        "campaign_id",
        "lead_source",
    )
    return campaign_touches.unionByName(deal_touches)


def order_touches(
    orders: DataFrame,
    customers: DataFrame,
    accounts: DataFrame,
    contacts: DataFrame,
    members: DataFrame,
    opportunities: DataFrame,
    params: GoldParams,
) -> DataFrame:
    """One row per attributable order and eligible touch, with each model's share in cents.

    Columns: `order_id, month, amount_cents, touches, touch_rank, campaign_id, lead_source,
    first_touch_cents, last_touch_cents, linear_cents`.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    linked = revenue_orders(orders).join(customer_accounts(customers, accounts), "customer_id")
    touches = account_touches(contacts, members, opportunities)
    eligible = linked.join(touches, "account_id").where(
        (sf.col("touch_date") <= sf.col("dt"))
        & (sf.col("touch_date") > sf.date_sub(sf.col("dt"), params.attribution_lookback_days))
    )
    per_order = Window.partitionBy("order_id")
    ordered = per_order.orderBy("touch_date", "touch_id")
    cents = (sf.col("amount_usd") * 100).cast("bigint")
    ranked = (
        eligible.withColumn("amount_cents", cents)
        .withColumn("touches", sf.count(sf.lit(1)).over(per_order))
        .withColumn("touch_rank", sf.row_number().over(ordered))
    )
    n = sf.col("touches")
    rank = sf.col("touch_rank")
    amount = sf.col("amount_cents")
    # Largest remainder: every touch gets the floor, the first (amount mod n) get one more.
    linear = sf.floor(amount / n).cast("bigint") + sf.when(rank <= sf.pmod(amount, n), 1).otherwise(0)
    return ranked.select(
        "order_id",
        sf.trunc("dt", "month").alias("month"),
        "amount_cents",
        "touches",
        "touch_rank",
        "campaign_id",
        "lead_source",
        sf.when(rank == 1, amount).otherwise(0).alias("first_touch_cents"),
        sf.when(rank == n, amount).otherwise(0).alias("last_touch_cents"),
        linear.alias("linear_cents"),
    )


def _dimension_value(column: str) -> Column:
    from pyspark.sql import functions as sf

    return sf.coalesce(sf.nullif(sf.trim(sf.col(column)), sf.lit("")), sf.lit(NONE_VALUE))


def revenue_attribution(touches: DataFrame) -> DataFrame:
    """Attributed revenue by model, dimension (lead source, campaign) and order month."""
    from pyspark.sql import functions as sf

    n = sf.col("touches")
    rank = sf.col("touch_rank")
    models = sf.array(
        sf.struct(
            sf.lit("first_touch").alias("model"),
            sf.col("first_touch_cents").alias("cents"),
            sf.when(rank == 1, 1.0).otherwise(0.0).alias("orders"),
        ),
        sf.struct(
            sf.lit("last_touch").alias("model"),
            sf.col("last_touch_cents").alias("cents"),
            sf.when(rank == n, 1.0).otherwise(0.0).alias("orders"),
        ),
        sf.struct(
            sf.lit("linear").alias("model"),
            sf.col("linear_cents").alias("cents"),
            (sf.lit(1.0) / n).alias("orders"),
        ),
    )
    dimensions = sf.array(
        sf.struct(sf.lit("lead_source").alias("dimension"), _dimension_value("lead_source").alias("value")),
        sf.struct(sf.lit("campaign").alias("dimension"), _dimension_value("campaign_id").alias("value")),
    )
    exploded = touches.select("month", sf.explode(models).alias("m"), dimensions.alias("ds"))
    rows = exploded.select("month", "m", sf.explode("ds").alias("d"))
    result = rows.groupBy(
        sf.col("m.model").alias("model"),
        sf.col("d.dimension").alias("dimension"),
        sf.col("d.value").alias("dimension_value"),
        "month",
    ).agg(
        (sf.sum("m.cents") / sf.lit(100)).cast("decimal(18,2)").alias("attributed_revenue_usd"),
        sf.sum("m.orders").alias("attributed_orders"),
    )
    return _typed(result, GOLD_REVENUE_ATTRIBUTION)


def attributable_revenue(touches: DataFrame) -> DataFrame:
    """`month, attributable_cents, attributable_orders`: the revenue attribution must sum to."""
    from pyspark.sql import functions as sf

    per_order = touches.select("order_id", "month", "amount_cents").distinct()
    return per_order.groupBy("month").agg(
        sf.sum("amount_cents").alias("attributable_cents"), sf.count(sf.lit(1)).alias("attributable_orders")
    )


def conservation_gaps(attribution: DataFrame, attributable: DataFrame) -> DataFrame:
    """Rows (model, dimension, month) whose attributed cents differ from the attributable cents.

    Empty when revenue is conserved. A month with attributable revenue but no attribution
    row for a model shows up too (the cross join supplies every model and dimension).
    """
    from pyspark.sql import functions as sf

    attributed = attribution.groupBy("model", "dimension", "month").agg(
        (sf.sum("attributed_revenue_usd") * 100).cast("bigint").alias("attributed_cents")
    )
    grid = (
        attribution.select("model", "dimension")
        .distinct()
        .crossJoin(attributable.select("month", "attributable_cents"))
    )
    return (
        grid.join(attributed, ["model", "dimension", "month"], "full_outer")
        .withColumn("attributed_cents", sf.coalesce("attributed_cents", sf.lit(0)))
        .withColumn("attributable_cents", sf.coalesce("attributable_cents", sf.lit(0)))
        .where(sf.col("attributed_cents") != sf.col("attributable_cents"))
    )


def customer_360(
    customers: DataFrame,
    orders: DataFrame,
    accounts: DataFrame,
    contacts: DataFrame,
    members: DataFrame,
    opportunities: DataFrame,
) -> DataFrame:
    """One row per customer: profile, linked account, revenue orders, lifetime value."""
    from pyspark.sql import functions as sf

    per_customer = (
        revenue_orders(orders)
        .groupBy("customer_id")
        .agg(
            sf.min("dt").alias("first_order_date"),
            sf.max("dt").alias("last_order_date"),
            sf.count(sf.lit(1)).alias("orders"),
            sf.sum("amount_usd").alias("lifetime_value_usd"),
        )
    )
    won = (
        opportunities.where(sf.col("is_won") & ~sf.col("is_deleted"))
        .groupBy("account_id")
        .agg(
            sf.count(sf.lit(1)).alias("won_opportunities"),
            sf.sum("amount_usd").alias("won_opportunity_amount_usd"),
        )
    )
    touches = (
        members.where(sf.col("touch_date").isNotNull() & ~sf.col("is_deleted"))
        .join(contacts.select("contact_id", "account_id"), "contact_id")
        .groupBy("account_id")
        .agg(sf.count(sf.lit(1)).alias("campaign_touches"))
    )
    industry = accounts.select("account_id", "industry")
    result = (
        customers.join(customer_accounts(customers, accounts), "customer_id", "left")
        .join(industry, "account_id", "left")
        .join(per_customer, "customer_id", "left")
        .join(won, "account_id", "left")
        .join(touches, "account_id", "left")
        .select(
            "customer_id",
            "customer_name",
            "country_code",
            "region",
            "segment",
            "account_id",
            "industry",
            "first_order_date",
            "last_order_date",
            sf.coalesce("orders", sf.lit(0)).alias("orders"),
            sf.coalesce("lifetime_value_usd", sf.lit(0)).alias("lifetime_value_usd"),
            sf.when(sf.col("orders") > 0, sf.col("lifetime_value_usd") / sf.col("orders")).alias(
                "average_order_value_usd"
            ),
            sf.coalesce("won_opportunities", sf.lit(0)).alias("won_opportunities"),
            sf.coalesce("won_opportunity_amount_usd", sf.lit(0)).alias("won_opportunity_amount_usd"),
            sf.coalesce("campaign_touches", sf.lit(0)).alias("campaign_touches"),
        )
    )
    return _typed(result, GOLD_CUSTOMER_360)


def rfm_segments(orders: DataFrame) -> DataFrame:
    """Recency/frequency/monetary quintiles for customers with revenue, as of the latest order date."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    revenue = revenue_orders(orders)
    as_of = revenue.agg(sf.max("dt").alias("as_of"))
    per_customer = (
        revenue.groupBy("customer_id")
        .agg(
            sf.max("dt").alias("last_dt"),
            sf.count(sf.lit(1)).alias("frequency"),
            sf.sum("amount_usd").alias("monetary_usd"),
        )
        .crossJoin(as_of)
        .withColumn("recency_days", sf.datediff("as_of", "last_dt"))
    )
    # One global ordering per score: fine for the customer counts of a lab; the tie-breaker
    # on customer_id makes the quintiles deterministic.
    scored = (
        per_customer.withColumn(
            "r_score", sf.ntile(5).over(Window.orderBy(sf.col("recency_days").desc(), "customer_id"))
        )
        .withColumn("f_score", sf.ntile(5).over(Window.orderBy("frequency", "customer_id")))
        .withColumn("m_score", sf.ntile(5).over(Window.orderBy("monetary_usd", "customer_id")))
    )
    r, f = sf.col("r_score"), sf.col("f_score")
    segment = (
        sf.when((r >= 4) & (f >= 4), "Champions")
        .when((r >= 3) & (f >= 3), "Loyal")
        .when((r >= 4) & (f <= 2), "New")
        .when(r >= 3, "Potential")
        .when(f >= 3, "At Risk")
        .otherwise("Hibernating")
    )
    return _typed(scored.withColumn("rfm_segment", segment), GOLD_RFM)


def cohort_retention(orders: DataFrame) -> DataFrame:
    """Customers by first-order month, and how many order again N months later."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    active = revenue_orders(orders).select("customer_id", sf.trunc("dt", "month").alias("month")).distinct()
    with_cohort = active.withColumn("cohort_month", sf.min("month").over(Window.partitionBy("customer_id")))
    sizes = with_cohort.groupBy("cohort_month").agg(sf.countDistinct("customer_id").alias("cohort_size"))
    result = (
        with_cohort.withColumn("months_since_first", sf.months_between("month", "cohort_month").cast("int"))
        .groupBy("cohort_month", "months_since_first")
        .agg(sf.countDistinct("customer_id").alias("active_customers"))
        .join(sizes, "cohort_month")
        .withColumn("retention_rate", sf.col("active_customers") / sf.col("cohort_size"))
    )
    return _typed(result, GOLD_COHORT_RETENTION)


def daily_revenue(orders: DataFrame, customers: DataFrame) -> DataFrame:
    """Revenue per order date, customer region and segment."""
    from pyspark.sql import functions as sf

    profile = customers.select("customer_id", "region", "segment")
    result = (
        revenue_orders(orders)
        .join(profile, "customer_id", "left")
        .select(
            "dt",
            sf.coalesce("region", sf.lit(UNKNOWN)).alias("region"),
            sf.coalesce("segment", sf.lit(UNKNOWN)).alias("segment"),
            "order_id",
            "customer_id",
            "amount_usd",
        )
        .groupBy("dt", "region", "segment")
        .agg(
            sf.count(sf.lit(1)).alias("orders"),
            sf.countDistinct("customer_id").alias("customers"),
            sf.sum("amount_usd").alias("revenue_usd"),
        )
    )
    return _typed(result, GOLD_DAILY_REVENUE)
