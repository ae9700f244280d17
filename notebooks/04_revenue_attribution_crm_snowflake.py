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
# # 04 · Revenue attribution: CRM touches against Snowflake orders
#
# Which lead sources and campaigns earn the web shop's revenue, under three attribution
# models side by side, and how the CRM's pipeline compares with the revenue the orders
# actually bring in.
#
# Everything here is read from the warehouse `lakelab demo` builds (or the one
# `LAKELAB_WAREHOUSE` names); the numbers are computed by the pipeline's Gold layer
# (`pipeline/gold.py`) and the small views in `pipeline/analysis.py`. The model, in short:
# an order of a customer linked to a CRM account is *attributable* when the account had a
# touch (a contact's campaign response, or an opportunity) in the 365 days up to the order.
# Its revenue goes to the earliest touch (first-touch), the latest (last-touch), or is split
# evenly across all of them (linear), to the cent.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from pipeline import analysis
from pipeline.contracts import (
    GOLD_DAILY_REVENUE,
    GOLD_REVENUE_ATTRIBUTION,
    SILVER_CAMPAIGN,
    SILVER_OPPORTUNITY,
)

warehouse = analysis.open_warehouse("lakelab-notebook-04")
pd.options.display.float_format = "{:,.2f}".format
pd.options.display.max_columns = 12
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (10, 4), "axes.grid": True, "grid.alpha": 0.3})
print(f"warehouse: {analysis.shown_path(warehouse.root)}")

# %%
attribution = warehouse.pandas(GOLD_REVENUE_ATTRIBUTION)
daily_revenue = warehouse.pandas(GOLD_DAILY_REVENUE)
opportunities = warehouse.pandas(
    SILVER_OPPORTUNITY,
    ["opportunity_id", "stage_name", "is_won", "amount_usd", "close_date", "lead_source", "probability", "is_deleted"],
)
campaigns = warehouse.pandas(SILVER_CAMPAIGN, ["campaign_id", "campaign_name", "campaign_type"])
print(
    f"gold.revenue_attribution: {len(attribution):,} rows; gold.daily_revenue: {len(daily_revenue):,} rows; "
    f"silver.opportunity: {len(opportunities):,} deals; silver.campaign: {len(campaigns):,} campaigns"
)

# %% [markdown]
# ## Attribution by lead source, three models side by side
#
# Each column sums to the same attributable revenue: the models only disagree on who gets it.

# %%
by_source = analysis.attribution_by_model(attribution, "lead_source")
totals = by_source.sum()
print("attributable revenue, USD, per model:", ", ".join(f"{m} {v:,.2f}" for m, v in totals.items()))
print("every model credits the same total:", bool((totals - totals.iloc[0]).abs().max() < 0.01))
by_source

# %%
ax = by_source.sort_values("linear").plot.barh(figsize=(10, 5), width=0.8)
ax.set_xlabel("attributed revenue, USD")
ax.xaxis.set_major_formatter("{x:,.0f}")
ax.set_title("Revenue by lead source under each attribution model")
plt.show()

# %% [markdown]
# Where the models disagree: each source's share of the revenue under each model, and
# first-touch minus last-touch in percentage points. A positive difference marks a source
# that opens relationships; a negative one, a source that closes them.

# %%
analysis.model_shift(by_source)

# %% [markdown]
# ## Attribution by campaign
#
# The ten campaigns with the most linear revenue; `(none)` collects the touches without a
# campaign (opportunities with no primary campaign).

# %%
by_campaign = analysis.attribution_by_model(attribution, "campaign")
labels = campaigns.set_index("campaign_id")["campaign_name"].to_dict()
top_campaigns = by_campaign.head(10).rename(index=lambda campaign_id: labels.get(campaign_id, campaign_id))
print(f"{len(by_campaign):,} campaign values credited; the top 10:")
top_campaigns

# %%
ax = top_campaigns.iloc[::-1].plot.barh(figsize=(10, 5), width=0.8)
ax.set_xlabel("attributed revenue, USD")
ax.xaxis.set_major_formatter("{x:,.0f}")
ax.set_title("Top campaigns by linear revenue, under each model")
plt.show()

# %% [markdown]
# ## The monthly trend
#
# All order revenue per month (`gold.daily_revenue`) against the attributable part, and the
# linear attribution by lead source over time.

# %%
trend = analysis.monthly_trend(attribution, daily_revenue)
print(
    f"{len(trend)} months, {trend.index.min()} .. {trend.index.max()}; attributable share of all revenue: "
    f"{trend['linear'].sum() / trend['revenue_usd'].sum():.1%}"
)
trend.tail(12)

# %%
fig, ax = plt.subplots()
trend[["revenue_usd", "linear"]].rename(
    columns={"revenue_usd": "all order revenue", "linear": "attributable revenue"}
).plot(ax=ax)
ax.set_ylabel("USD per month")
ax.yaxis.set_major_formatter("{x:,.0f}")
ax.set_title("Order revenue and the part attributable to CRM touches")
plt.show()

# %%
monthly_sources = analysis.monthly_by_value(attribution, "lead_source", "linear", top=8)
ax = monthly_sources.plot.area(figsize=(10, 4), linewidth=0)
ax.set_ylabel("USD per month")
ax.yaxis.set_major_formatter("{x:,.0f}")
ax.set_title("Linear attribution by lead source, per month")
ax.legend(loc="upper left", fontsize="small", ncol=2)
plt.show()

# %% [markdown]
# ## CRM pipeline against Snowflake revenue
#
# The CRM's view (opportunities by close month: won, lost and still open, the open ones
# also weighted by their probability) next to the web shop's orders. The two systems do
# not share a key at the deal level, so the comparison is per month and per lead source.
# Deal amounts and order totals come from different systems and need not be on one scale.

# %%
crm_by_month = analysis.crm_pipeline_by_month(opportunities)
print("CRM deals by close year, USD:")
crm_by_month.groupby(crm_by_month.index.year).sum()

# %%
against = analysis.pipeline_against_revenue(crm_by_month, trend)
print(
    f"{against.index.min()} .. {against.index.max()}: CRM won {against['crm_won_usd'].sum():,.2f} USD, "
    f"Snowflake order revenue {against['snowflake_revenue_usd'].sum():,.2f} USD, "
    f"won / revenue {against['crm_won_usd'].sum() / against['snowflake_revenue_usd'].sum():.2f}"
)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
against[["crm_won_usd", "snowflake_revenue_usd"]].rename(
    columns={"crm_won_usd": "CRM won (close month)", "snowflake_revenue_usd": "Snowflake order revenue"}
).plot(ax=left)
left.set_ylabel("USD per month")
left.yaxis.set_major_formatter("{x:,.0f}")
left.set_title("Won deals against order revenue")
by_year = crm_by_month.groupby(crm_by_month.index.year)[["won_usd", "lost_usd", "open_usd"]].sum()
by_year.plot.bar(ax=right, stacked=True, rot=0, color=["tab:green", "tab:red", "tab:gray"])
right.set_ylabel("USD")
right.yaxis.set_major_formatter("{x:,.0f}")
right.set_xlabel("close year")
right.set_title("CRM pipeline by close year")
plt.tight_layout()
plt.show()

# %% [markdown]
# Per lead source: what the CRM says it won, next to the order revenue each model credits
# to that source.

# %%
per_source = by_source.join(analysis.won_by_lead_source(opportunities), how="outer").fillna(0.0)
per_source.sort_values("crm_won_usd", ascending=False)
