"""What the analysts' notebooks (`notebooks/`) read and compute, so that their cells stay thin.

A notebook opens the warehouse with `open_warehouse` (which stops with one line naming the
command that builds Gold when Gold is missing), reads Gold and Silver tables as pandas
frames, and passes them to the pure pandas functions below; each cell then only shows or
plots a result. The Spark parts read tables through `pipeline.io` and reuse the pipeline's
own Silver and Gold transforms (`segments_by_batch` replays them batch by batch), so a
notebook shows what the pipeline computes, not a second implementation of it.

Nothing here imports pyspark at module load.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from lakelab.paths import absolute, is_remote
from pipeline.contracts import (
    BATCH_ID,
    BRONZE,
    GOLD,
    GOLD_RFM,
    SILVER_ORDERS,
    TableContract,
)

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from lakelab.config import LakelabConfig

# The warehouse a notebook reads: this variable, else the config's `paths.warehouse`.
WAREHOUSE_ENV = "LAKELAB_WAREHOUSE"
# A lakelab.toml for the notebooks' session (the suite points it at a small local[2] one);
# without it, `./lakelab.toml` or the defaults, as for the CLI.
CONFIG_ENV = "LAKELAB_CONFIG"
BUILD_COMMAND = "make demo"
ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear")
# Segments from the best to the least engaged, the order tables and plots use.
RFM_SEGMENTS = ("Champions", "Loyal", "Potential", "New", "At Risk", "Hibernating")
NO_REVENUE = "(no revenue yet)"
REST = "(rest)"
LTV_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


class NotebookInputError(UserError):
    """What a notebook reads is not there; the message says how to make it."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is all a reader needs.
        return [f"{type(self).__name__}: {self}"]


class GoldNotBuiltError(NotebookInputError):
    """The warehouse a notebook points at has no (or not all) Gold tables."""


class LineageNotCapturedError(NotebookInputError):
    """The warehouse has tables but no lineage events (built before lineage was captured, or with it off)."""


def shown_path(path: str) -> str:
    """A path as a notebook prints it: relative to the working folder when inside it.

    Committed outputs then read the same on every machine.
    """
    if is_remote(path):
        return path
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _has_delta_log(path: str) -> bool:
    log = Path(path.removeprefix("file://")) / "_delta_log"
    return log.is_dir() and any(log.glob("*.json"))


def missing_tables_message(
    root: str, missing: Sequence[TableContract], needs: Sequence[TableContract]
) -> str:
    """The one line a notebook stops with when tables it reads are not there."""
    what = "Gold tables" if len(missing) == len(needs) else ", ".join(t.qualified_name for t in missing)
    return (
        f"{shown_path(root)} has no {what}: run `{BUILD_COMMAND}` (or `lakelab demo`) to build them, "
        f"or set {WAREHOUSE_ENV} to a warehouse that has them"
    )


@dataclass(frozen=True)
class Warehouse:
    """A warehouse root and the session that reads it."""

    spark: SparkSession
    root: str
    config: LakelabConfig

    def path(self, table: TableContract) -> str:
        """Where `table` lives in this warehouse."""
        return table.path(self.root)

    def exists(self, table: TableContract) -> bool:
        """True when `table` has been written here."""
        from pipeline import io

        return io.is_delta_table(self.spark, self.path(table))

    def read(self, table: TableContract) -> DataFrame:
        """The table's current version."""
        from pipeline import io

        return io.read_table(self.spark, self.path(table))

    def pandas(self, table: TableContract, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The table (or some of its columns) as pandas, decimals as floats (a chart's numbers)."""
        df = self.read(table)
        if columns is not None:
            df = df.select(*columns)
        return decimals_to_float(df.toPandas(), table)


def decimals_to_float(frame: pd.DataFrame, table: TableContract) -> pd.DataFrame:
    """Decimal columns (Python `Decimal` objects in pandas) as floats."""
    result = frame.copy()
    for column in table.columns:
        if column.type.startswith("decimal") and column.name in result.columns:
            result[column.name] = result[column.name].astype(float)
    return result


def open_warehouse(app_name: str, needs: Sequence[TableContract] = GOLD) -> Warehouse:
    """The warehouse named by `LAKELAB_WAREHOUSE` (else the config's), with a session on it.

    A local warehouse is checked before Spark starts, so a wrong path fails at once.

    Raises:
        GoldNotBuiltError: a table of `needs` is not there; the message names the command
            that builds it.
        UserError: a bad config file, or Spark could not start.
    """
    from lakelab.config import load_config

    config = load_config(os.environ.get(CONFIG_ENV) or None)
    root = absolute(os.environ.get(WAREHOUSE_ENV) or config.paths.warehouse)
    if not is_remote(root):
        missing = [t for t in needs if not _has_delta_log(t.path(root))]
        if missing:
            raise GoldNotBuiltError(missing_tables_message(root, missing, needs))
    warehouse = Warehouse(notebook_session(config, app_name), root, config)
    missing = [t for t in needs if not warehouse.exists(t)]
    if missing:
        raise GoldNotBuiltError(missing_tables_message(root, missing, needs))
    return warehouse


def notebook_session(config: LakelabConfig, app_name: str) -> SparkSession:
    """`lakelab.spark.get_session`, with the JVM's own console output kept out of the notebook.

    ipykernel forwards everything written to the kernel's file descriptors 1 and 2 into the
    cell's output, and the JVM that pyspark starts inherits them: its start-up warnings
    would land in the committed outputs. Spark's log lines already go to the session's log
    file (lakelab/log4j2.properties); what the JVM itself prints goes to a file next to it.
    """
    import sys

    from lakelab.spark import get_session, new_log_file

    console = new_log_file(config, f"{app_name}-console")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(console, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            return get_session(config, app_name=app_name)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


# --- Delta history and time travel ------------------------------------------------------------
# Read-only views of a table's log. `pipeline.io` has no versioned read yet; these belong there
# if the pipeline ever needs one.


def table_history(spark: SparkSession, path: str) -> pd.DataFrame:
    """`version, operation, mode, rows_written` per commit, oldest first (no times: they change every run)."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as sf

    history = DeltaTable.forPath(spark, path).history()
    rows = history.select(
        "version",
        "operation",
        sf.col("operationParameters").getItem("mode").alias("mode"),
        sf.coalesce(
            sf.col("operationMetrics").getItem("numOutputRows"),
            sf.col("operationMetrics").getItem("numTargetRowsInserted"),
        )
        .cast("bigint")
        .alias("rows_written"),
    ).orderBy("version")
    return rows.toPandas().astype({"rows_written": "Int64"})


def read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    """A Delta table as it was at `version` (time travel)."""
    return spark.read.format("delta").option("versionAsOf", version).load(path)


# --- Revenue attribution (notebook 04) --------------------------------------------------------


def attribution_by_model(attribution: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Attributed revenue per value of `dimension` (rows) under each model (columns), largest first."""
    rows = attribution[attribution["dimension"] == dimension]
    table = rows.pivot_table(
        index="dimension_value",
        columns="model",
        values="attributed_revenue_usd",
        aggfunc="sum",
        fill_value=0.0,
    )
    table = table.reindex(columns=list(ATTRIBUTION_MODELS), fill_value=0.0)
    table.columns.name = None
    table.index.name = dimension
    return table.sort_values("linear", ascending=False)


def model_shift(by_model: pd.DataFrame) -> pd.DataFrame:
    """Each value's share of attributed revenue under each model, and first- minus last-touch, in points."""
    shares = by_model / by_model.sum() * 100
    shares["first_minus_last_pts"] = shares["first_touch"] - shares["last_touch"]
    return shares.round(2)


def monthly_trend(attribution: pd.DataFrame, daily_revenue: pd.DataFrame) -> pd.DataFrame:
    """Per month: all revenue, attributable revenue and its share, and each model's attributed total.

    Every model sums to the attributable revenue (Gold checks this on every build), so the
    model columns agree; they are shown to make that visible.
    """
    import pandas as pd

    revenue = daily_revenue.assign(month=pd.to_datetime(daily_revenue["dt"]).dt.to_period("M"))
    total = revenue.groupby("month")["revenue_usd"].sum().rename("revenue_usd")
    by_source = attribution[attribution["dimension"] == "lead_source"]
    by_source = by_source.assign(month=pd.to_datetime(by_source["month"]).dt.to_period("M"))
    models = by_source.pivot_table(
        index="month", columns="model", values="attributed_revenue_usd", aggfunc="sum", fill_value=0.0
    ).reindex(columns=list(ATTRIBUTION_MODELS), fill_value=0.0)
    trend = pd.concat([total, models], axis=1).fillna(0.0)
    trend["attributable_share"] = (trend["linear"] / trend["revenue_usd"]).where(trend["revenue_usd"] > 0)
    trend.columns.name = None
    return trend


def monthly_by_value(attribution: pd.DataFrame, dimension: str, model: str, top: int) -> pd.DataFrame:
    """Revenue per month (rows) of the `top` values of `dimension` under `model`; the rest as '(rest)'."""
    import pandas as pd

    rows = attribution[(attribution["dimension"] == dimension) & (attribution["model"] == model)]
    rows = rows.assign(month=pd.to_datetime(rows["month"]).dt.to_period("M"))
    leaders = rows.groupby("dimension_value")["attributed_revenue_usd"].sum().nlargest(top).index
    label = rows["dimension_value"].where(rows["dimension_value"].isin(leaders), REST)
    table = rows.assign(value=label).pivot_table(
        index="month", columns="value", values="attributed_revenue_usd", aggfunc="sum", fill_value=0.0
    )
    ordered = [v for v in leaders if v in table.columns] + ([REST] if REST in table.columns else [])
    table = table[ordered]
    table.columns.name = None
    return table


def crm_pipeline_by_month(opportunities: pd.DataFrame) -> pd.DataFrame:
    """CRM deals per close month, USD: won, lost and still open (plus open weighted by probability)."""
    import pandas as pd

    deals = opportunities[~opportunities["is_deleted"] & opportunities["close_date"].notna()]
    stage = deals["stage_name"].fillna("")
    state = pd.Series("open", index=deals.index).where(~stage.str.startswith("Closed"), "lost")
    state = state.where(~deals["is_won"], "won")
    deals = deals.assign(
        month=pd.to_datetime(deals["close_date"]).dt.to_period("M"),
        state=state,
        weighted=deals["amount_usd"] * deals["probability"].fillna(0.0) / 100,
    )
    amounts = deals.pivot_table(
        index="month", columns="state", values="amount_usd", aggfunc="sum", fill_value=0.0
    ).reindex(columns=["won", "lost", "open"], fill_value=0.0)
    amounts.columns = [f"{c}_usd" for c in amounts.columns]
    open_deals = deals[deals["state"] == "open"]
    amounts["open_weighted_usd"] = open_deals.groupby("month")["weighted"].sum()
    return amounts.fillna(0.0)


def pipeline_against_revenue(crm_by_month: pd.DataFrame, trend: pd.DataFrame) -> pd.DataFrame:
    """CRM won deals against Snowflake order revenue per month of the orders' range, with their ratio.

    CRM close dates run past the last order (open deals close in the future); those months
    are left out, since there is no revenue to set against them yet.
    """
    both = crm_by_month[["won_usd"]].reindex(trend.index).fillna(0.0)
    both.columns = ["crm_won_usd"]
    both["snowflake_revenue_usd"] = trend["revenue_usd"]
    both["won_to_revenue"] = (both["crm_won_usd"] / both["snowflake_revenue_usd"]).where(
        both["snowflake_revenue_usd"] > 0
    )
    return both.sort_index()


def won_by_lead_source(opportunities: pd.DataFrame) -> pd.Series[float]:
    """Closed-won amount per lead source, USD ('(none)' where the deal has none, as in Gold)."""
    from pipeline.gold import NONE_VALUE

    deals = opportunities[~opportunities["is_deleted"] & opportunities["is_won"]]
    source = deals["lead_source"].fillna("").str.strip().replace("", NONE_VALUE)
    return deals.groupby(source)["amount_usd"].sum().rename("crm_won_usd")


# --- Segments, cohorts, lifetime value (notebook 05) -------------------------------------------


def segment_summary(rfm: pd.DataFrame) -> pd.DataFrame:
    """Per RFM segment: customers, revenue and its share, median recency, frequency and spend."""
    grouped = rfm.groupby("rfm_segment")
    summary = grouped.agg(
        customers=("customer_id", "count"),
        revenue_usd=("monetary_usd", "sum"),
        median_recency_days=("recency_days", "median"),
        median_orders=("frequency", "median"),
        median_revenue_usd=("monetary_usd", "median"),
    )
    summary["revenue_share"] = summary["revenue_usd"] / summary["revenue_usd"].sum()
    summary = summary.reindex([s for s in RFM_SEGMENTS if s in summary.index])
    summary.index.name = "rfm_segment"
    return summary.round(3)


def retention_matrix(cohorts: pd.DataFrame, max_months: int = 24) -> pd.DataFrame:
    """Retention rate by cohort month (rows) and months since the first order (columns).

    Gold has no row for a month in which none of a cohort ordered: such a month, when it
    is inside the data (not after the last cohort month), is a retention of 0, not a gap.
    """
    import numpy as np
    import pandas as pd

    rows = cohorts[cohorts["months_since_first"] <= max_months]
    rows = rows.assign(cohort=pd.to_datetime(rows["cohort_month"]).dt.to_period("M"))
    matrix = rows.pivot_table(index="cohort", columns="months_since_first", values="retention_rate")
    matrix = matrix.reindex(columns=range(0, int(matrix.columns.max()) + 1))
    last = matrix.index.max()
    age = [(last - cohort).n for cohort in matrix.index]  # months of data after each cohort's first
    observed = np.array([[months <= months_of_data for months in matrix.columns] for months_of_data in age])
    matrix = matrix.where(~(matrix.isna() & observed), 0.0)
    matrix.columns.name = "months since first order"
    return matrix.sort_index()


def lifetime_value_quantiles(customers: pd.DataFrame) -> pd.DataFrame:
    """Lifetime value quantiles per customer segment and overall, customers with revenue only."""
    import pandas as pd

    buyers = customers[customers["orders"] > 0]
    groups = {str(name): group["lifetime_value_usd"] for name, group in buyers.groupby("segment")}
    groups["all"] = buyers["lifetime_value_usd"]
    rows = {
        name: {"customers": len(values), **{f"p{round(q * 100)}": values.quantile(q) for q in LTV_QUANTILES}}
        for name, values in groups.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").round(2)


def segments_by_batch(warehouse: Warehouse) -> pd.DataFrame:
    """Each customer's RFM segment as Gold would have had it after each landing batch.

    Gold keeps one version per build, and a pipeline run builds it once over every batch it
    ingests, so its history need not hold a version per batch. Bronze keeps every batch's
    rows with their batch number: the orders as they stood after batch b are Bronze's rows
    of batches 0..b through the pipeline's own Silver transform, rules and latest-version
    fold, and the segments are `pipeline.gold.rfm_segments` over them.

    Returns:
        `batch, customer_id, rfm_segment, recency_days, frequency, monetary_usd`.
    """
    import pandas as pd
    from pyspark.sql import functions as sf

    from pipeline import gold
    from pipeline.quality import accepted_rows, evaluate_rules
    from pipeline.silver import latest_per_key, silver_columns, to_silver

    bronze_orders = next(t for t in BRONZE if t.source == SILVER_ORDERS.source)
    rows = warehouse.read(bronze_orders)
    batches = sorted(int(r[0]) for r in rows.select(BATCH_ID).distinct().collect())
    frames = []
    for batch in batches:
        delivered = rows.where(sf.col(BATCH_ID) <= batch)
        evaluated = evaluate_rules(to_silver(delivered, SILVER_ORDERS), SILVER_ORDERS.all_rules)
        orders = latest_per_key(
            accepted_rows(evaluated, silver_columns(SILVER_ORDERS)),
            SILVER_ORDERS.key,
            str(SILVER_ORDERS.updated_at),
        )
        segments = gold.rfm_segments(orders).select(
            sf.lit(batch).alias("batch"),
            "customer_id",
            "rfm_segment",
            "recency_days",
            "frequency",
            "monetary_usd",
        )
        frames.append(decimals_to_float(segments.toPandas(), GOLD_RFM))
    return pd.concat(frames, ignore_index=True)


def replay_matches_gold(by_batch: pd.DataFrame, rfm: pd.DataFrame) -> int:
    """Customers whose segment after the last batch is not Gold's current one (0: the replay is faithful)."""
    last = by_batch[by_batch["batch"] == by_batch["batch"].max()]
    merged = last.merge(rfm, on="customer_id", how="outer", suffixes=("_replay", "_gold"), indicator=True)
    differ = (merged["_merge"] != "both") | (merged["rfm_segment_replay"] != merged["rfm_segment_gold"])
    return int(differ.sum())


def segment_counts_by_batch(by_batch: pd.DataFrame) -> pd.DataFrame:
    """Customers per segment (rows) after each batch (columns)."""
    table = by_batch.pivot_table(
        index="rfm_segment", columns="batch", values="customer_id", aggfunc="count", fill_value=0
    )
    table = table.reindex([s for s in RFM_SEGMENTS if s in table.index])
    table.columns = [f"after batch {b}" for b in table.columns]
    return table


def segment_moves(by_batch: pd.DataFrame, before: int, after: int) -> pd.DataFrame:
    """Customers by segment after batch `before` (rows) and after batch `after` (columns).

    A customer with no revenue order yet after `before` is counted under '(no revenue yet)'.
    """
    import pandas as pd

    old = by_batch[by_batch["batch"] == before][["customer_id", "rfm_segment"]]
    new = by_batch[by_batch["batch"] == after][["customer_id", "rfm_segment"]]
    pairs = new.merge(old, on="customer_id", how="left", suffixes=("_after", "_before"))
    pairs["rfm_segment_before"] = pairs["rfm_segment_before"].fillna(NO_REVENUE)
    moves = pd.crosstab(pairs["rfm_segment_before"], pairs["rfm_segment_after"])
    rows = [s for s in (*RFM_SEGMENTS, NO_REVENUE) if s in moves.index]
    columns = [s for s in RFM_SEGMENTS if s in moves.columns]
    moves = moves.reindex(index=rows, columns=columns, fill_value=0)
    moves.index.name = f"after batch {before}"
    moves.columns.name = f"after batch {after}"
    return moves


def segments_by_gold_version(warehouse: Warehouse) -> pd.DataFrame:
    """Customers per RFM segment in every version of Gold's `rfm_segments` that holds rows (time travel)."""
    import pandas as pd

    path = warehouse.path(GOLD_RFM)
    history = table_history(warehouse.spark, path)
    written = history[history["rows_written"].fillna(0) > 0]
    columns: dict[str, Any] = {}
    for version in written["version"]:
        counts = read_version(warehouse.spark, path, int(version)).groupBy("rfm_segment").count().toPandas()
        columns[f"version {int(version)}"] = counts.set_index("rfm_segment")["count"]
    table = pd.DataFrame(columns).fillna(0).astype(int)
    return table.reindex([s for s in RFM_SEGMENTS if s in table.index])


# --- Lineage and Delta history (notebook 06) ----------------------------------------------------

LAYERS = ("landing", "bronze", "silver", "gold")


def lineage_events(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every OpenLineage event the pipeline runs on this warehouse wrote (`pipeline.lineage`).

    Raises:
        LineageNotCapturedError: there are none; the message names the command that writes them.
    """
    from pipeline.lineage import lineage_folder, read_events

    folder = lineage_folder(warehouse.root, warehouse.config.paths.reports)
    events = read_events(folder) if Path(folder).is_dir() else []
    if not events:
        raise LineageNotCapturedError(
            f"{shown_path(folder)} holds no lineage events: the tables were built without them; "
            f"rebuild the warehouse with `{BUILD_COMMAND}` (`[pipeline] lineage` on, the default)"
        )
    return events


def layered_positions(nodes: Sequence[str]) -> dict[str, tuple[float, float]]:
    """x by layer (landing, bronze, silver, gold: the name's first part), y spread evenly within it.

    For drawing a lineage graph left to right; names within a layer are stacked in sorted order.
    """
    positions: dict[str, tuple[float, float]] = {}
    for x, layer in enumerate(LAYERS):
        names = sorted(n for n in nodes if n.split(".")[0] == layer)
        for i, name in enumerate(names):
            positions[name] = (float(x), 1.0 - (i + 0.5) / len(names))
    return positions


def column_edges_frame(columns: Sequence[Any]) -> pd.DataFrame:
    """`pipeline.lineage.ColumnEdge`s as a frame."""
    import pandas as pd

    return pd.DataFrame(
        [(e.source_table, e.source_column, e.target_table, e.target_column, e.subtype) for e in columns],
        columns=["source_table", "source_column", "target_table", "target_column", "subtype"],
    )


def upstream_columns(edges: pd.DataFrame, table: str, column: str) -> pd.DataFrame:
    """The column edges that feed `table.column`, followed upstream to Bronze; depth 1 is direct."""
    import pandas as pd

    found = []
    frontier = {(table, column)}
    seen: set[tuple[str, str]] = set()
    depth = 0
    while frontier:
        depth += 1
        step = edges[
            [(t, c) in frontier for t, c in zip(edges["target_table"], edges["target_column"], strict=True)]
        ]
        found.append(step.assign(depth=depth))
        seen |= frontier
        frontier = set(zip(step["source_table"], step["source_column"], strict=True)) - seen
    result = pd.concat(found, ignore_index=True)
    return result[["depth", "target_table", "target_column", "source_table", "source_column", "subtype"]]


def history_summary(warehouse: Warehouse, tables: Sequence[TableContract]) -> pd.DataFrame:
    """Per table that exists: Delta versions, the operations in order, and its rows now."""
    import pandas as pd

    rows = []
    for table in tables:
        if not warehouse.exists(table):
            continue
        history = table_history(warehouse.spark, warehouse.path(table))
        operations = " → ".join(history["operation"])
        rows.append((table.qualified_name, len(history), int(history["version"].max()), operations))
    summary = pd.DataFrame(rows, columns=["table", "versions", "latest_version", "operations"])
    present = {t.qualified_name: t for t in tables}
    summary["rows_now"] = [warehouse.read(present[name]).count() for name in summary["table"]]
    return summary.set_index("table")
