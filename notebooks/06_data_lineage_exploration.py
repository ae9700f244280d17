# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Data lineage: from the landing to Gold
#
# Where every Gold number comes from. Each pipeline run writes one OpenLineage event per
# table it writes (`pipeline/lineage.py`, `docs/lineage.md`): its inputs, its output, and
# for Silver and Gold a `columnLineage` facet saying which upstream columns each column is
# computed from. This notebook reads those events back, draws the table-level and
# column-level graphs, then looks at what Delta itself keeps about each table: its history
# (versions, operations, rows) and time travel to an earlier version.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from pipeline import analysis
from pipeline.contracts import ALL_CONTRACTS, GOLD_DAILY_REVENUE, RUN_LOG, SILVER_ORDERS
from pipeline.lineage import lineage_graph

warehouse = analysis.open_warehouse("lakelab-notebook-06")
events = analysis.lineage_events(warehouse)
pd.options.display.max_colwidth = 80
pd.options.display.max_rows = 60
pd.options.display.width = 160
plt.rcParams.update({"figure.dpi": 72})
print(f"warehouse: {analysis.shown_path(warehouse.root)}")

# %%
tables, columns = lineage_graph(events)
column_edges = analysis.column_edges_frame(columns)
runs = sorted({e["run"]["facets"]["lakelab"]["pipelineRunId"] for e in events})
print(
    f"{len(events)} events from {len(runs)} pipeline run(s); {len(tables)} table edges, "
    f"{len(column_edges)} column edges"
)
column_edges["subtype"].value_counts()

# %% [markdown]
# ## Table-level lineage
#
# Landing tables feed Bronze one to one, each Bronze table feeds one Silver table, and the
# Gold tables read several Silver tables each.

# %%
nodes = sorted({name for edge in tables for name in edge})
position = analysis.layered_positions(nodes)
fig, ax = plt.subplots(figsize=(14, 8))
for source, target in tables:
    (x0, y0), (x1, y1) = position[source], position[target]
    arrow = {"arrowstyle": "->", "color": "tab:gray", "alpha": 0.6, "shrinkA": 0, "shrinkB": 0}
    ax.annotate("", xy=(x1 - 0.02, y1), xytext=(x0 + 0.02, y0), arrowprops=arrow)
colors = {"landing": "tab:gray", "bronze": "tab:brown", "silver": "tab:blue", "gold": "goldenrod"}
for name, (x, y) in position.items():
    layer = name.split(".")[0]
    box = {"boxstyle": "round", "facecolor": "white", "edgecolor": colors[layer]}
    ax.text(x, y, name.split(".", 1)[1], ha="center", va="center", fontsize=8, bbox=box)
ax.set_xticks(range(len(analysis.LAYERS)), analysis.LAYERS)
ax.set_xlim(-0.5, len(analysis.LAYERS) - 0.5)
ax.set_ylim(0, 1)
ax.set_yticks([])
ax.set_title("Table lineage from the captured events")
plt.show()

# %%
edges = pd.DataFrame(tables, columns=["input", "output"])
edges[edges["output"].str.startswith("gold.")].groupby("output")["input"].apply(", ".join).to_frame("reads")

# %% [markdown]
# ## Column-level lineage
#
# Gold's `daily_revenue`, column by column, followed upstream through Silver to the
# delivered Bronze columns (depth 1 is the Gold column's direct sources).

# %%
gold_daily = column_edges[column_edges["target_table"] == GOLD_DAILY_REVENUE.qualified_name]
gold_daily

# %%
analysis.upstream_columns(column_edges, GOLD_DAILY_REVENUE.qualified_name, "revenue_usd")

# %%
traced = pd.concat(
    analysis.upstream_columns(column_edges, GOLD_DAILY_REVENUE.qualified_name, column)
    for column in gold_daily["target_column"].unique()
).drop_duplicates(subset=["target_table", "target_column", "source_table", "source_column"])
column_nodes = sorted(
    {f"{t}.{c}" for t, c in zip(traced["target_table"], traced["target_column"], strict=True)}
    | {f"{t}.{c}" for t, c in zip(traced["source_table"], traced["source_column"], strict=True)}
)
column_position = analysis.layered_positions(column_nodes)
subtype_colors = {"IDENTITY": "tab:green", "TRANSFORMATION": "tab:blue", "AGGREGATION": "tab:red"}
fig, ax = plt.subplots(figsize=(14, 9))
for row in traced.itertuples():
    (x0, y0) = column_position[f"{row.source_table}.{row.source_column}"]
    (x1, y1) = column_position[f"{row.target_table}.{row.target_column}"]
    ax.plot([x0, x1], [y0, y1], color=subtype_colors.get(row.subtype, "tab:gray"), alpha=0.6)
for name, (x, y) in column_position.items():
    box = {"boxstyle": "round", "facecolor": "white"}
    ax.text(x, y, name, ha="center", va="center", fontsize=7, bbox=box)
for subtype, color in subtype_colors.items():
    ax.plot([], [], color=color, label=subtype)
ax.legend(loc="lower center", ncol=3, fontsize="small")
ax.set_xticks(range(1, len(analysis.LAYERS)), analysis.LAYERS[1:])
ax.set_xlim(0.4, len(analysis.LAYERS) - 0.4)
ax.set_ylim(-0.08, 1)
ax.set_yticks([])
ax.set_title(f"Column lineage of {GOLD_DAILY_REVENUE.qualified_name}")
plt.show()

# %% [markdown]
# ## What Delta keeps: each table's history
#
# Every table's versions and the operations that made them (Bronze appends, Silver's first
# load or MERGE, Gold's writes, the operations tables' appends), and the rows it holds now.

# %%
histories = analysis.history_summary(warehouse, ALL_CONTRACTS)
histories

# %%
analysis.table_history(warehouse.spark, warehouse.path(RUN_LOG))

# %% [markdown]
# ## Time travel
#
# `silver.orders` as it was when created (version 0: the contract's schema, no rows) and as
# it is now; and the run log, one version per layer commit, read at each version.

# %%
orders_path = warehouse.path(SILVER_ORDERS)
latest = int(analysis.table_history(warehouse.spark, orders_path)["version"].max())
at_creation = analysis.read_version(warehouse.spark, orders_path, 0)
now = analysis.read_version(warehouse.spark, orders_path, latest)
print(f"silver.orders version 0: {at_creation.count():,} rows, {len(at_creation.columns)} columns")
print(f"silver.orders version {latest}: {now.count():,} rows")
now.groupBy("_batch_id").count().orderBy("_batch_id").toPandas()

# %%
run_log_path = warehouse.path(RUN_LOG)
versions = analysis.table_history(warehouse.spark, run_log_path)["version"]
pd.DataFrame(
    {
        f"version {int(v)}": analysis.read_version(warehouse.spark, run_log_path, int(v))
        .groupBy("layer")
        .count()
        .toPandas()
        .set_index("layer")["count"]
        for v in versions
    }
).fillna(0).astype(int)
