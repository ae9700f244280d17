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
# # 05 · Customer segmentation: RFM, cohorts, lifetime value
#
# Who the web shop's customers are by recency, frequency and spend (Gold's `rfm_segments`),
# how monthly cohorts keep buying (`cohort_retention`), how lifetime value is spread
# (`customer_360`), and how customers move between segments as new batches land.
#
# Read from the warehouse `lakelab demo` builds (or the one `LAKELAB_WAREHOUSE` names).
# Scores are quintiles over customers with revenue, as of the latest order date; the
# segment rules are in `pipeline/gold.py` (`rfm_segments`).

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pipeline import analysis
from pipeline.contracts import GOLD_COHORT_RETENTION, GOLD_CUSTOMER_360, GOLD_RFM

warehouse = analysis.open_warehouse("lakelab-notebook-05")
pd.options.display.float_format = "{:,.2f}".format
pd.options.display.max_columns = 14
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (10, 4)})
print(f"warehouse: {analysis.shown_path(warehouse.root)}")

# %%
rfm = warehouse.pandas(GOLD_RFM)
cohorts = warehouse.pandas(GOLD_COHORT_RETENTION)
customers = warehouse.pandas(GOLD_CUSTOMER_360)
print(
    f"gold.rfm_segments: {len(rfm):,} customers with revenue; gold.customer_360: {len(customers):,} customers; "
    f"gold.cohort_retention: {cohorts['cohort_month'].nunique()} cohorts"
)

# %% [markdown]
# ## RFM segments

# %%
summary = analysis.segment_summary(rfm)
summary

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
summary["customers"].plot.bar(ax=left, color="tab:blue", rot=30)
left.set_title("Customers per segment")
(summary["revenue_share"] * 100).plot.bar(ax=right, color="tab:green", rot=30)
right.set_title("Share of revenue, %")
plt.tight_layout()
plt.show()

# %% [markdown]
# Recency score against frequency score (customers in each cell): the segments are regions
# of this grid, with the monetary score carried alongside.

# %%
grid = pd.crosstab(rfm["r_score"], rfm["f_score"]).sort_index(ascending=False)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
image = ax.imshow(grid.to_numpy(), cmap="Blues")
ax.set_xticks(range(len(grid.columns)), grid.columns)
ax.set_yticks(range(len(grid.index)), grid.index)
ax.set_xlabel("f_score (5 = most orders)")
ax.set_ylabel("r_score (5 = most recent)")
for (row, column), value in pd.DataFrame(grid.to_numpy()).stack().items():
    ax.text(column, row, f"{value:,}", ha="center", va="center", fontsize=8)
fig.colorbar(image, ax=ax, label="customers")
ax.set_title("Customers by recency and frequency score")
plt.show()

# %% [markdown]
# ## Cohort retention
#
# Customers grouped by the month of their first revenue order; each cell is the share of a
# cohort that ordered again N months later. Month 0 is always 100 % and is left out of the
# colour scale.

# %%
retention = analysis.retention_matrix(cohorts, max_months=24)
print(
    f"{len(retention)} cohorts; mean retention after 1, 3, 6 and 12 months: "
    + ", ".join(f"{retention[m].mean():.1%}" for m in (1, 3, 6, 12) if m in retention.columns)
)
fig, ax = plt.subplots(figsize=(11, 7))
later = retention.drop(columns=0, errors="ignore")
image = ax.imshow(later.to_numpy(), aspect="auto", cmap="viridis")
ax.set_xticks(range(len(later.columns)), later.columns)
ax.set_yticks(range(len(later.index)), [str(p) for p in later.index], fontsize=7)
ax.set_xlabel("months since the first order")
ax.set_ylabel("cohort (first order month)")
fig.colorbar(image, ax=ax, label="retention rate")
ax.set_title("Cohort retention")
plt.show()

# %% [markdown]
# ## Customer lifetime value
#
# Lifetime value is the sum of a customer's revenue orders in USD (`customer_360`); customers
# without a revenue order are left out. The distribution is long-tailed, so the histogram's
# axis is logarithmic.

# %%
analysis.lifetime_value_quantiles(customers)

# %%
buyers = customers[customers["orders"] > 0]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
values = buyers["lifetime_value_usd"].clip(lower=1)
left.hist(values, bins=np.logspace(0, np.log10(values.max()), 40), color="tab:purple")
left.set_xscale("log")
left.set_xlabel("lifetime value, USD (log scale)")
left.set_ylabel("customers")
left.set_title("Distribution of lifetime value")
order = sorted(buyers["segment"].dropna().unique())
right.boxplot([buyers.loc[buyers["segment"] == s, "lifetime_value_usd"] for s in order], showfliers=False)
right.set_xticks(range(1, len(order) + 1), order)
right.set_ylabel("lifetime value, USD")
right.set_title("By customer segment (outliers not drawn)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## How customers move between segments as batches land
#
# What Gold keeps: `rfm_segments` is rebuilt (overwritten) whenever Silver reaches a new
# batch, so its Delta history holds one version per *pipeline run*, not per landing batch.
# The history and the segment counts of every version that holds rows (Delta time travel):

# %%
history = analysis.table_history(warehouse.spark, warehouse.path(GOLD_RFM))
history

# %%
analysis.segments_by_gold_version(warehouse)

# %% [markdown]
# A run that ingests several batches at once (as `lakelab demo` does: the initial load and
# one incremental batch) builds Gold once, so the versions above cannot show batch-to-batch
# movement. Bronze keeps every batch's rows with their batch number, so the segments as
# they stood after each batch are replayed through the pipeline's own Silver transform and
# `rfm_segments` (`analysis.segments_by_batch`). The replay after the last batch must give
# exactly Gold's current table:

# %%
by_batch = analysis.segments_by_batch(warehouse)
batches = sorted(int(batch) for batch in by_batch["batch"].unique())
print(f"landing batches in Bronze: {batches}")
print(f"customers whose replayed segment differs from gold.rfm_segments: {analysis.replay_matches_gold(by_batch, rfm)}")
analysis.segment_counts_by_batch(by_batch)

# %%
if len(batches) < 2:
    print("only one batch has landed: no movement to show yet")
else:
    before, after = batches[-2], batches[-1]
    moves = analysis.segment_moves(by_batch, before, after)
    stayed = sum(moves.loc[s, s] for s in moves.columns if s in moves.index)
    print(f"{stayed:,} of {int(moves.to_numpy().sum()):,} customers kept their segment from batch {before} to {after}")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    image = ax.imshow(moves.to_numpy(), cmap="Oranges")
    ax.set_xticks(range(len(moves.columns)), moves.columns, rotation=30)
    ax.set_yticks(range(len(moves.index)), moves.index)
    ax.set_xlabel(moves.columns.name)
    ax.set_ylabel(moves.index.name)
    for (row, column), value in pd.DataFrame(moves.to_numpy()).stack().items():
        ax.text(column, row, f"{value:,}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="customers")
    ax.set_title("Segment moves between the last two batches")
    plt.show()
    display(moves)
