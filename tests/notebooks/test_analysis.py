"""The notebooks' pure parts on hand-built rows: the pandas views and the output comparison."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from lakelab import notebooks
from pipeline import analysis
from pipeline.contracts import GOLD, GOLD_REVENUE_ATTRIBUTION


def _attribution() -> pd.DataFrame:
    month = dt.date(2024, 1, 1)
    rows = [
        ("first_touch", "lead_source", "Web", 70.0),
        ("first_touch", "lead_source", "Email", 30.0),
        ("last_touch", "lead_source", "Web", 40.0),
        ("last_touch", "lead_source", "Email", 60.0),
        ("linear", "lead_source", "Web", 55.0),
        ("linear", "lead_source", "Email", 45.0),
        ("linear", "campaign", "(none)", 100.0),
    ]
    return pd.DataFrame(
        [(m, d, v, month, usd, 1.0) for m, d, v, usd in rows],
        columns=list(GOLD_REVENUE_ATTRIBUTION.column_names),
    )


def test_attribution_by_model_puts_the_models_side_by_side() -> None:
    by_source = analysis.attribution_by_model(_attribution(), "lead_source")

    assert list(by_source.columns) == ["first_touch", "last_touch", "linear"]
    assert list(by_source.index) == ["Web", "Email"]  # by linear revenue
    assert by_source.loc["Email"].tolist() == [30.0, 60.0, 45.0]
    shift = analysis.model_shift(by_source)
    assert shift.loc["Web", "first_minus_last_pts"] == 30.0
    # A model that credited nothing to a dimension still has its column.
    by_campaign = analysis.attribution_by_model(_attribution(), "campaign")
    assert by_campaign.loc["(none)"].tolist() == [0.0, 0.0, 100.0]


def test_monthly_trend_sets_attributable_against_all_revenue() -> None:
    daily = pd.DataFrame(
        {
            "dt": [dt.date(2024, 1, 5), dt.date(2024, 1, 20), dt.date(2024, 2, 1)],
            "revenue_usd": [150.0, 50.0, 10.0],
        }
    )
    trend = analysis.monthly_trend(_attribution(), daily)

    assert trend.loc[pd.Period("2024-01", "M"), "revenue_usd"] == 200.0
    assert trend.loc[pd.Period("2024-01", "M"), "linear"] == 100.0
    assert trend.loc[pd.Period("2024-01", "M"), "attributable_share"] == 0.5
    assert trend.loc[pd.Period("2024-02", "M"), "linear"] == 0.0


def test_retention_matrix_fills_observed_months_without_orders_with_zero() -> None:
    cohorts = pd.DataFrame(
        {
            "cohort_month": [dt.date(2024, m, 1) for m in (1, 1, 2, 3)],
            "months_since_first": [0, 2, 0, 0],
            "retention_rate": [1.0, 0.5, 1.0, 1.0],
        }
    )
    matrix = analysis.retention_matrix(cohorts)

    assert matrix.loc[pd.Period("2024-01", "M")].tolist() == [1.0, 0.0, 0.5]
    # February's cohort has one month of data after it; month 2 is not observed yet.
    assert matrix.loc[pd.Period("2024-02", "M"), 1] == 0.0
    assert pd.isna(matrix.loc[pd.Period("2024-02", "M"), 2])


def test_segment_moves_count_customers_from_one_batch_to_the_next() -> None:
    by_batch = pd.DataFrame(
        {
            "batch": [0, 0, 1, 1, 1],
            "customer_id": [1, 2, 1, 2, 3],
            "rfm_segment": ["Champions", "New", "At Risk", "New", "New"],
        }
    )
    moves = analysis.segment_moves(by_batch, 0, 1)

    assert moves.loc["Champions", "At Risk"] == 1
    assert moves.loc["New", "New"] == 1
    assert moves.loc[analysis.NO_REVENUE, "New"] == 1
    assert int(moves.to_numpy().sum()) == 3
    counts = analysis.segment_counts_by_batch(by_batch)
    assert counts.loc["New"].tolist() == [1, 2]
    gold_now = by_batch[by_batch["batch"] == 1].drop(columns="batch")
    assert analysis.replay_matches_gold(by_batch, gold_now) == 0
    assert analysis.replay_matches_gold(by_batch, gold_now.iloc[:2]) == 1


def test_missing_gold_is_one_line_naming_the_command(tmp_path: Path) -> None:
    message = analysis.missing_tables_message(str(tmp_path), GOLD, GOLD)
    assert message == (
        f"{tmp_path} has no Gold tables: run `make demo` (or `lakelab demo`) to build them, "
        "or set LAKELAB_WAREHOUSE to a warehouse that has them"
    )
    partly = analysis.missing_tables_message(str(tmp_path), GOLD[:1], GOLD)
    assert f"has no {GOLD[0].qualified_name}: run `make demo`" in partly
    error = analysis.GoldNotBuiltError(message)
    assert error._render_traceback_() == [f"GoldNotBuiltError: {message}"]


def _notebook(count: int, text: str, image: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("print(x)", execution_count=count)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=text),
        nbformat.v4.new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"}),
    ]
    cell.metadata["execution"] = {"iopub.status.busy": f"2026-01-0{count}"}
    return nbformat.v4.new_notebook(
        cells=[cell], metadata={"language_info": {"name": "python", "version": f"3.11.{count}"}}
    )


@pytest.mark.parametrize(
    ("text", "image", "differs"),
    [
        ("total 1,234.00 at 0x7f3a2b1c9d10\n", "iVBOR", False),  # counts, timings, addresses are volatile
        ("total 1,235.00 at 0x7f3a2b1c9d10\n", "iVBOR", True),
        ("total 1,234.00 at 0x7f3a2b1c9d10\n", "iVBOX", True),
    ],
)
def test_differences_ignore_only_volatile_fields(text: str, image: str, differs: bool) -> None:
    committed = _notebook(1, "total 1,234.00 at 0x55d0c0ffee00\n", "iVBOR")
    found = notebooks.differences(committed, _notebook(7, text, image))

    assert bool(found) is differs
    if differs:
        assert found[0].startswith("cell 0 ('print(x)'): outputs differ")


def test_column_lineage_is_followed_from_gold_to_the_delivered_columns() -> None:
    from pipeline.lineage import ColumnEdge

    edges = analysis.column_edges_frame(
        [
            ColumnEdge(
                "silver.orders", "order_total_usd", "gold.daily_revenue", "revenue_usd", "AGGREGATION"
            ),
            ColumnEdge(
                "bronze.snowflake_orders", "ORDER_TOTAL", "silver.orders", "order_total_usd", "TRANSFORMATION"
            ),
            ColumnEdge(
                "bronze.snowflake_orders", "CURRENCY", "silver.orders", "order_total_usd", "TRANSFORMATION"
            ),
            ColumnEdge("silver.orders", "dt", "gold.daily_revenue", "dt", "IDENTITY"),
        ]
    )
    traced = analysis.upstream_columns(edges, "gold.daily_revenue", "revenue_usd")

    assert traced[["depth", "source_table", "source_column"]].values.tolist() == [
        [1, "silver.orders", "order_total_usd"],
        [2, "bronze.snowflake_orders", "ORDER_TOTAL"],
        [2, "bronze.snowflake_orders", "CURRENCY"],
    ]
    position = analysis.layered_positions(["gold.a", "silver.b", "silver.c", "landing.x.y"])
    assert position == {
        "landing.x.y": (0.0, 0.5),
        "silver.b": (2.0, 0.75),
        "silver.c": (2.0, 0.25),
        "gold.a": (3.0, 0.5),
    }


def test_a_warehouse_without_lineage_events_says_how_to_get_them(tmp_path: Path) -> None:
    from lakelab.config import LakelabConfig

    warehouse = analysis.Warehouse(spark=None, root=str(tmp_path), config=LakelabConfig())  # type: ignore[arg-type]
    with pytest.raises(analysis.LineageNotCapturedError) as raised:
        analysis.lineage_events(warehouse)
    assert str(raised.value) == (
        f"{tmp_path}/_ops/lineage holds no lineage events: the tables were built without them; "
        "rebuild the warehouse with `make demo` (`[pipeline] lineage` on, the default)"
    )
