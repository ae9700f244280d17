"""Pure transforms on small hand-built DataFrames, exact expected values, every DirtyKind."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pipeline_landing as pl
import pytest

from lakelab.sources import DirtyKind, source_table
from pipeline import gold
from pipeline.bronze import BronzeParams, to_bronze_json, to_bronze_tabular
from pipeline.contracts import (
    BRONZE,
    PARSE_ERROR,
    SILVER_ACCOUNT,
    SILVER_CONTACT,
    SILVER_CUSTOMERS,
    SILVER_OPPORTUNITY,
    SILVER_ORDERS,
    TYPE_ERRORS,
    UNEXPECTED_COLUMNS,
    GoldParams,
    QualityRule,
    bronze_for,
)
from pipeline.quality import (
    FAILED_DROP,
    QuarantineParams,
    accepted_rows,
    evaluate_rules,
    fail_rule_violations,
    quarantine_rows,
    tally,
)
from pipeline.silver import latest_per_key, to_silver

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PARAMS = BronzeParams("test-run", dt.datetime(2024, 5, 1))
ACCOUNT = source_table("crm.account")


def _lines(spark: SparkSession, lines: list[str], batch: int = 0) -> DataFrame:
    return spark.createDataFrame(
        [(line, f"file:/landing/crm/account/batch={batch:04d}/part-0.json", batch) for line in lines],
        "value string, _source_file string, _batch_id int",
    )


def _by_id(rows: list[Any]) -> dict[str, Any]:
    return {row["Id"]: row for row in rows}


def test_every_dirty_kind_has_a_case_in_the_hand_built_landing() -> None:
    assert {kind for *_, kind, _ in pl.DIRTY} == set(DirtyKind)


def test_bronze_json_flags_malformed_wrong_type_and_drift(spark: SparkSession) -> None:
    lines = [json.dumps(r) for r in pl.ACCOUNT_B0] + [pl.MALFORMED_LINE, "   "]
    lines += [json.dumps(pl.ACCOUNT_B1[2])]  # A6 with Tier__c
    bronze = to_bronze_json(_lines(spark, lines), ACCOUNT, PARAMS)
    rows = bronze.collect()
    assert len(rows) == 7  # the blank line is not a record
    malformed = [r for r in rows if r[PARSE_ERROR] is not None]
    assert [r["_raw_record"] for r in malformed] == [pl.MALFORMED_LINE]
    assert malformed[0][PARSE_ERROR] == "unparseable JSON line"
    by_id = _by_id([r for r in rows if r[PARSE_ERROR] is None])
    assert by_id["A4"][TYPE_ERRORS] == ["AnnualRevenue = '12,5O'"]  # WRONG_TYPE
    assert by_id["A4"]["AnnualRevenue"] is None
    assert by_id["A1"][TYPE_ERRORS] == []
    assert by_id["A1"]["AnnualRevenue"] == 1_000_000.0
    assert by_id["A5"]["AnnualRevenue"] == -100.0  # OUT_OF_RANGE is Silver's business
    assert by_id["A6"][UNEXPECTED_COLUMNS] == ["Tier__c"]  # SCHEMA_DRIFT
    assert by_id["A1"][UNEXPECTED_COLUMNS] == []
    assert by_id["A1"]["_batch_id"] == 0
    assert by_id["A1"]["_record_hash"] == __import__("hashlib").sha256(lines[0].encode()).hexdigest()

    kept = to_bronze_json(_lines(spark, lines), ACCOUNT, PARAMS, added_columns=["Tier__c"])
    assert _by_id(kept.where(f"{PARSE_ERROR} IS NULL").collect())["A6"]["Tier__c"] == "Gold"

    # An added field's name is data: quotes, a backtick, a colon and a space are kept as given.
    odd = "we`ird: na>me"
    line = json.dumps({**pl.ACCOUNT_B0[0], odd: 7})
    (row,) = to_bronze_json(_lines(spark, [line]), ACCOUNT, PARAMS, added_columns=[odd]).collect()
    assert (row[PARSE_ERROR], row[odd], row[UNEXPECTED_COLUMNS]) == (None, "7", [odd])


def test_bronze_rules_quarantine_exactly_the_unparseable_and_mistyped(spark: SparkSession) -> None:
    table = bronze_for(ACCOUNT)
    lines = [json.dumps(r) for r in pl.ACCOUNT_B0] + [pl.MALFORMED_LINE, json.dumps({"Name": "no id"})]
    evaluated = evaluate_rules(to_bronze_json(_lines(spark, lines), ACCOUNT, PARAMS), table.rules)
    counts = tally(evaluated, table.rules, unexpected_column=UNEXPECTED_COLUMNS)
    assert (counts.rows, counts.rejected) == (7, 3)
    failed = {c.rule: c.rows_failed for c in counts.counts}
    # The malformed line also has no key: both rules fail for it, the first one is recorded.
    assert failed == {"parseable": 1, "types_conform": 1, "key_present": 2}
    quarantined = quarantine_rows(
        evaluated,
        QuarantineParams("bronze", table.name, "test-run", dt.datetime(2024, 5, 1)),
        raw_record=evaluated["_raw_record"],
        batch_id=evaluated["_batch_id"],
        source_file=evaluated["_source_file"],
        record_hash=evaluated["_record_hash"],
    ).collect()
    by_rule = {r["rule"]: r for r in quarantined}
    assert set(by_rule) == {"parseable", "types_conform", "key_present"}
    assert by_rule["types_conform"]["reason"] == "types_conform: type mismatch: AnnualRevenue = '12,5O'"
    assert by_rule["parseable"]["raw_record"] == pl.MALFORMED_LINE
    assert by_rule["key_present"]["reason"] == "key_present: missing key or version: Id, LastModifiedDate"
    accepted = accepted_rows(evaluated, table.column_names).collect()
    assert sorted(r["Id"] for r in accepted) == ["A1", "A2", "A3", "A5"]


def test_bronze_csv_types_missing_key_and_disallowed_column(spark: SparkSession) -> None:
    source = source_table("snowflake.order_lines")
    table = bronze_for(source)
    header = pl.ORDER_LINES_HEADER
    rows = spark.createDataFrame(
        [(*r, None, "f.csv.gz", 0) for r in pl.ORDER_LINES_B0],
        ", ".join(f"`{c}` string" for c in header)
        + ", _corrupt_record string, _source_file string, _batch_id int",
    )
    evaluated = evaluate_rules(to_bronze_tabular(rows, source, PARAMS), table.rules)
    outcome = {(r["ORDER_ID"], r["LINE_NUMBER"]): list(r[FAILED_DROP]) for r in evaluated.collect()}
    assert outcome == {
        ("100", "1"): [],
        ("100", "2"): [],
        ("101", "1"): ["types_conform"],  # QUANTITY "two"
        ("", "1"): ["key_present"],  # MISSING_REQUIRED key
        ("102", "1"): [],
    }
    drift = spark.createDataFrame(
        [(*pl.ORDER_LINES_B1[0], None, "g.csv.gz", 1)],
        ", ".join(f"`{c}` string" for c in pl.ORDER_LINES_B1_HEADER)
        + ", _corrupt_record string, _source_file string, _batch_id int",
    )
    drifted = evaluate_rules(to_bronze_tabular(drift, source, PARAMS), table.rules).collect()
    assert drifted[0][UNEXPECTED_COLUMNS] == ["DISCOUNT"]
    assert list(drifted[0][FAILED_DROP]) == ["no_added_columns"]


def test_bronze_parquet_incompatible_type_is_a_type_error(spark: SparkSession) -> None:
    source = source_table("snowflake.products")
    rows = spark.createDataFrame(
        [
            (11, "Gadget", "Tools", "12.50", "USD", dt.datetime(2024, 1, 1), "f", 1),
            (12, "Gizmo", "Toys", "abc", "USD", dt.datetime(2024, 1, 1), "f", 1),
        ],
        "PRODUCT_ID bigint, PRODUCT_NAME string, CATEGORY string, UNIT_PRICE string, CURRENCY string, "
        "UPDATED_AT timestamp, _source_file string, _batch_id int",
    )
    out = {r["PRODUCT_ID"]: r for r in to_bronze_tabular(rows, source, PARAMS).collect()}
    assert out[11]["UNIT_PRICE"] == Decimal("12.50")
    assert out[11][TYPE_ERRORS] == []
    assert out[12]["UNIT_PRICE"] is None
    assert out[12][TYPE_ERRORS] == ["UNIT_PRICE = 'abc'"]


def _bronze_accounts(spark: SparkSession, records: list[dict[str, Any]], batch: int) -> DataFrame:
    lines = _lines(spark, [json.dumps(r) for r in records], batch)
    return to_bronze_json(lines, ACCOUNT, PARAMS)


def test_silver_account_conforms_and_checks_rules(spark: SparkSession) -> None:
    bronze = _bronze_accounts(spark, [r for r in pl.ACCOUNT_B0 if r["Id"] != "A4"], 0)
    evaluated = evaluate_rules(to_silver(bronze, SILVER_ACCOUNT), SILVER_ACCOUNT.all_rules)
    rows = {r["account_id"]: r for r in evaluated.collect()}
    assert rows["A1"]["billing_country_code"] == "US"
    assert rows["A2"]["billing_country_code"] == "DE"  # "germany"
    assert rows["A1"]["website"] == "www.example.com"
    assert rows["A1"]["updated_at"] == dt.datetime(2024, 1, 1, 12)  # Salesforce "+0000" parsed
    assert list(rows["A3"][FAILED_DROP]) == ["required_present"]  # MISSING_REQUIRED Name
    assert list(rows["A5"][FAILED_DROP]) == ["size_in_range"]  # OUT_OF_RANGE
    assert rows["A5"]["_rule_ok"]["country_code_known"] is False  # "Atlantis": warn, kept
    assert list(rows["A1"][FAILED_DROP]) == []


def test_silver_contact_hashes_email_masks_phone_and_flags_unknown_account(spark: SparkSession) -> None:
    source = source_table("crm.contact")
    lines = spark.createDataFrame(
        [(json.dumps(r), "f", 0) for r in pl.CONTACT_B0], "value string, _source_file string, _batch_id int"
    )
    bronze = to_bronze_json(lines, source, PARAMS)
    accounts = spark.createDataFrame([("A1",), ("A2",)], "account_id string")
    silver = to_silver(bronze, SILVER_CONTACT, {"account": accounts})
    rows = {r["contact_id"]: r for r in evaluate_rules(silver, SILVER_CONTACT.all_rules).collect()}
    expected_hash = __import__("hashlib").sha256(b"alice@example.com").hexdigest()
    assert rows["C1"]["email_hash"] == expected_hash
    assert rows["C1"]["email_domain"] == "example.com"
    assert rows["C1"]["phone_masked"] == "***4567"
    assert rows["C1"]["last_name_initial"] == "S"
    assert rows["C2"]["phone_masked"] is None
    assert rows["C3"]["email_valid"] is False
    assert rows["C3"]["_rule_ok"]["known_account_id"] is False  # UNKNOWN_FOREIGN_KEY: warn
    assert list(rows["C3"][FAILED_DROP]) == []  # kept
    assert rows["C1"]["_rule_ok"]["known_account_id"] is True
    assert "Email" not in silver.columns and "Phone" not in silver.columns


def test_silver_latest_per_key_ignores_late_older_versions_and_duplicates(spark: SparkSession) -> None:
    batch0 = _bronze_accounts(spark, [pl.ACCOUNT_B0[0], pl.ACCOUNT_B0[0], pl.ACCOUNT_B0[1]], 0)
    batch1 = _bronze_accounts(spark, [pl.ACCOUNT_B1[0], pl.ACCOUNT_B1[1]], 1)
    silver = to_silver(batch0.unionByName(batch1), SILVER_ACCOUNT)
    latest = {r["account_id"]: r for r in latest_per_key(silver, ["account_id"], "updated_at").collect()}
    assert len(latest) == 2
    assert latest["A1"]["account_name"] == "Acme"  # the late "Acme Old" (older) lost
    assert latest["A1"]["_batch_id"] == 0
    assert latest["A2"]["industry"] == "Retail"  # the newer version won


def test_silver_orders_convert_currency_and_flag_out_of_range(spark: SparkSession) -> None:
    source = source_table("snowflake.orders")
    rows = spark.createDataFrame(
        [
            (
                101,
                2,
                dt.datetime(2024, 2, 10, 9),
                "Shipped",
                "web",
                "eur",
                Decimal("200.00"),
                dt.datetime(2024, 2, 10),
            ),
            (
                105,
                1,
                dt.datetime(2024, 3, 4, 9),
                "delivered",
                "web",
                "USD",
                Decimal("-5.00"),
                dt.datetime(2024, 3, 4),
            ),
            (
                107,
                1,
                dt.datetime(2024, 3, 4, 9),
                "returned",
                "web",
                None,
                Decimal("9.99"),
                dt.datetime(2024, 3, 4),
            ),
            (
                108,
                1,
                dt.datetime(2024, 3, 4, 9),
                "placed",
                "web",
                "XXX",
                Decimal("1.00"),
                dt.datetime(2024, 3, 4),
            ),
        ],
        "ORDER_ID bigint, CUSTOMER_ID bigint, ORDER_TS timestamp, STATUS string, CHANNEL string, "
        "CURRENCY string, ORDER_TOTAL decimal(18,2), UPDATED_AT timestamp",
    ).selectExpr("*", "'f' AS _source_file", "0 AS _batch_id")
    bronze = to_bronze_tabular(rows, source, PARAMS)
    customers = spark.createDataFrame([(1,), (2,)], "customer_id bigint")
    evaluated = evaluate_rules(
        to_silver(bronze, SILVER_ORDERS, {"customers": customers}), SILVER_ORDERS.all_rules
    )
    out = {r["order_id"]: r for r in evaluated.collect()}
    assert out[101]["order_total_usd"] == Decimal("216.00")
    assert out[101]["currency"] == "EUR"
    assert out[101]["status"] == "shipped"
    assert out[101]["dt"] == dt.date(2024, 2, 10)
    assert out[101]["is_revenue"] is True
    assert list(out[105][FAILED_DROP]) == ["total_in_range"]
    assert out[107]["is_revenue"] is False
    assert out[107]["order_total_usd"] == Decimal("9.99")  # no currency: USD
    assert list(out[108][FAILED_DROP]) == ["known_currency"]


def test_fail_rule_stops_and_null_counts_as_failure(spark: SparkSession) -> None:
    rules = [
        QualityRule("positive", "x > 0", "drop", "x positive"),
        QualityRule("has_y", "y IS NOT NULL", "fail", "y present"),
        QualityRule("small", "x < 10", "warn", "x small"),
    ]
    df = spark.createDataFrame([(1, "a"), (None, "b"), (20, None)], "x int, y string")
    evaluated = evaluate_rules(df, rules)
    counts = tally(evaluated, rules)
    assert [(c.rule, c.rows_failed) for c in counts.counts] == [("positive", 1), ("has_y", 1), ("small", 2)]
    assert counts.rejected == 1  # x NULL: "x > 0" is NULL, which fails
    assert [v.rule for v in fail_rule_violations(counts.counts)] == ["has_y"]
    assert sorted(r["x"] for r in accepted_rows(evaluated, ["x"]).collect()) == [1, 20]


# --- Gold --------------------------------------------------------------------------------------


def _silver_frames(spark: SparkSession) -> dict[str, DataFrame]:
    """Silver-shaped inputs for Gold: the fixture's accepted rows, typed by hand."""
    ts = dt.datetime
    accounts = spark.createDataFrame(
        [("A1", "EXT-1", "Software"), ("A2", "EXT-2", "Retail")],
        "account_id string, external_id string, industry string",
    )
    contacts = spark.createDataFrame(
        [("C1", "A1", "Web"), ("C2", "A2", None)], "contact_id string, account_id string, lead_source string"
    )
    members = spark.createDataFrame(
        [
            ("M1", "K1", "C1", dt.date(2024, 1, 10), False),
            ("M2", "K2", "C1", dt.date(2024, 2, 5), False),
            ("M3", "K2", "C2", dt.date(2024, 1, 20), False),
            ("M4", "K1", "C2", dt.date(2024, 3, 20), False),
        ],
        "member_id string, campaign_id string, contact_id string, touch_date date, is_deleted boolean",
    )
    opportunities = spark.createDataFrame(
        [
            ("O1", "A1", "Web", "K1", ts(2024, 1, 5, 12), True, Decimal("1000.00"), False),
            ("O3", "A2", "Partner", None, ts(2024, 1, 15, 12), False, Decimal("216.00"), False),
        ],
        "opportunity_id string, account_id string, lead_source string, campaign_id string, "
        "created_at timestamp, is_won boolean, amount_usd decimal(18,2), is_deleted boolean",
    )
    customers = spark.createDataFrame(
        [
            (1, "Acme Inc", "US", "NA", "Enterprise", "EXT-1"),
            (2, "Globex GmbH", "DE", "EMEA", "SMB", "EXT-2"),
            (3, "Soylent Ltd", "GB", "EMEA", "Mid-Market", None),
        ],
        "customer_id bigint, customer_name string, country_code string, region string, segment string, "
        "crm_account_external_id string",
    )
    orders = spark.createDataFrame(
        [
            (100, 1, dt.date(2024, 3, 1), Decimal("300.00"), True),
            (101, 2, dt.date(2024, 2, 10), Decimal("216.00"), True),
            (102, 3, dt.date(2024, 3, 5), Decimal("63.50"), True),
            (103, 1, dt.date(2024, 4, 2), Decimal("70.00"), False),
            (104, 999, dt.date(2024, 3, 3), Decimal("20.00"), True),
            (106, 2, dt.date(2024, 4, 15), Decimal("100.00"), True),
        ],
        "order_id bigint, customer_id bigint, dt date, order_total_usd decimal(18,2), is_revenue boolean",
    )
    return {
        "account": accounts,
        "contact": contacts,
        "campaign_member": members,
        "opportunity": opportunities,
        "customers": customers,
        "orders": orders,
    }


def _touches(spark: SparkSession) -> DataFrame:
    s = _silver_frames(spark)
    return gold.order_touches(
        s["orders"],
        s["customers"],
        s["account"],
        s["contact"],
        s["campaign_member"],
        s["opportunity"],
        GoldParams(),
    )


def test_order_touches_split_cents_exactly(spark: SparkSession) -> None:
    rows = _touches(spark).collect()
    by_order: dict[int, list[Any]] = {}
    for r in rows:
        by_order.setdefault(r["order_id"], []).append(r)
    # Order 100 (A1, 2024-03-01): O1 2024-01-05, M1 2024-01-10, M2 2024-02-05 → 3 touches.
    # Order 101 (A2, 2024-02-10): O3 2024-01-15, M3 2024-01-20 → 2 touches (M4 is later).
    # Order 106 (A2, 2024-04-15): O3, M3, M4 → 3 touches. 102 has no account, 103 is cancelled,
    # 104's customer is unknown: none of them is attributable.
    assert sorted(by_order) == [100, 101, 106]
    linear_100 = sorted((r["touch_rank"], r["linear_cents"]) for r in by_order[100])
    assert linear_100 == [(1, 10000), (2, 10000), (3, 10000)]
    linear_106 = sorted((r["touch_rank"], r["linear_cents"]) for r in by_order[106])
    assert linear_106 == [(1, 3334), (2, 3333), (3, 3333)]  # 10000 cents / 3, leftover to the first
    first_101 = {r["touch_rank"]: r["first_touch_cents"] for r in by_order[101]}
    assert first_101 == {1: 21600, 2: 0}


def test_revenue_attribution_values_and_conservation(spark: SparkSession) -> None:
    touches = _touches(spark)
    attribution = gold.revenue_attribution(touches)
    rows = {
        (r["model"], r["dimension"], r["dimension_value"], str(r["month"])): r["attributed_revenue_usd"]
        for r in attribution.collect()
    }
    # First touch by campaign: 100 → O1 (K1), 101 → O3 (none), 106 → O3 (none).
    assert rows[("first_touch", "campaign", "K1", "2024-03-01")] == Decimal("300.00")
    assert rows[("first_touch", "campaign", "(none)", "2024-02-01")] == Decimal("216.00")
    assert rows[("first_touch", "campaign", "(none)", "2024-04-01")] == Decimal("100.00")
    # Last touch by lead source: 100 → M2 (contact C1: Web); 101 → M3 (C2: none); 106 → M4 (none).
    assert rows[("last_touch", "lead_source", "Web", "2024-03-01")] == Decimal("300.00")
    assert rows[("last_touch", "lead_source", "(none)", "2024-04-01")] == Decimal("100.00")
    # Linear by campaign for 106: O3 (none) 33.34, M3 (K2) 33.33, M4 (K1) 33.33.
    assert rows[("linear", "campaign", "(none)", "2024-04-01")] == Decimal("33.34")
    assert rows[("linear", "campaign", "K2", "2024-04-01")] == Decimal("33.33")
    assert rows[("linear", "campaign", "K1", "2024-04-01")] == Decimal("33.33")
    assert gold.conservation_gaps(attribution, gold.attributable_revenue(touches)).count() == 0
    totals: dict[tuple[str, str], Decimal] = {}
    for (model, dimension, _, _), amount in rows.items():
        totals[(model, dimension)] = totals.get((model, dimension), Decimal(0)) + amount
    assert set(totals.values()) == {Decimal("616.00")}  # 300 + 216 + 100, for all six


def test_conservation_gaps_catch_a_lost_cent(spark: SparkSession) -> None:
    touches = _touches(spark)
    attribution = gold.revenue_attribution(touches)
    broken = attribution.selectExpr(
        "model",
        "dimension",
        "dimension_value",
        "month",
        "CASE WHEN model = 'linear' AND dimension_value = 'K1' AND month = DATE'2024-04-01' "
        "THEN attributed_revenue_usd - 0.01 ELSE attributed_revenue_usd END AS attributed_revenue_usd",
        "attributed_orders",
    )
    gaps = gold.conservation_gaps(broken, gold.attributable_revenue(touches)).collect()
    assert [(g["model"], g["dimension"], str(g["month"]), g["attributed_cents"]) for g in gaps] == [
        ("linear", "campaign", "2024-04-01", 9999)
    ]


def test_customer_360_rfm_cohorts_daily(spark: SparkSession) -> None:
    s = _silver_frames(spark)
    c360 = {
        r["customer_id"]: r
        for r in gold.customer_360(
            s["customers"], s["orders"], s["account"], s["contact"], s["campaign_member"], s["opportunity"]
        ).collect()
    }
    assert c360[1]["lifetime_value_usd"] == Decimal("300.00")  # 103 was cancelled
    assert c360[1]["orders"] == 1
    assert c360[1]["account_id"] == "A1"
    assert c360[1]["won_opportunities"] == 1
    assert c360[1]["won_opportunity_amount_usd"] == Decimal("1000.00")
    assert c360[1]["campaign_touches"] == 2
    assert c360[2]["lifetime_value_usd"] == Decimal("316.00")
    assert c360[2]["average_order_value_usd"] == Decimal("158.00")
    assert c360[3]["account_id"] is None
    assert c360[3]["industry"] is None

    rfm = {r["customer_id"]: r for r in gold.rfm_segments(s["orders"]).collect()}
    # As of 2024-04-15: 999 last ordered 2024-03-03 (43 days), 3 on 03-05 (41), 1 on 03-01 (45), 2 today.
    assert {k: v["recency_days"] for k, v in rfm.items()} == {1: 45, 2: 0, 3: 41, 999: 43}
    assert rfm[2]["frequency"] == 2
    assert rfm[2]["r_score"] == 4 and rfm[1]["r_score"] == 1

    cohorts = {
        (str(r["cohort_month"]), r["months_since_first"]): (r["cohort_size"], r["active_customers"])
        for r in gold.cohort_retention(s["orders"]).collect()
    }
    assert cohorts == {
        ("2024-02-01", 0): (1, 1),
        ("2024-02-01", 2): (1, 1),
        ("2024-03-01", 0): (3, 3),
    }

    daily = {
        (str(r["dt"]), r["region"], r["segment"]): r
        for r in gold.daily_revenue(s["orders"], s["customers"]).collect()
    }
    assert daily[("2024-03-03", "Unknown", "Unknown")]["revenue_usd"] == Decimal("20.00")
    assert daily[("2024-04-15", "EMEA", "SMB")]["revenue_usd"] == Decimal("100.00")
    assert ("2024-04-02", "NA", "Enterprise") not in daily  # cancelled


@pytest.mark.parametrize("table", BRONZE, ids=lambda t: t.name)
def test_bronze_contracts_carry_source_fields_and_lineage(table: Any) -> None:
    source = source_table(table.source)
    assert table.column_names[: len(source.fields)] == tuple(f.name for f in source.fields)
    assert {"_batch_id", "_record_hash", "_source_file", "_ingested_at", "_run_id"} <= set(table.column_names)


def test_silver_pii_columns_never_keep_raw_values() -> None:
    for table in (SILVER_CONTACT, SILVER_CUSTOMERS, SILVER_OPPORTUNITY):
        for column in table.columns:
            if column.pii == "hash":
                assert column.expr is not None and column.expr.startswith("sha2(")
        assert not {"email", "phone"} & set(table.column_names)


def test_committed_data_catalog_is_the_rendering_of_the_contracts() -> None:
    from pathlib import Path

    from pipeline.catalog import CATALOG_PATH, render_catalog

    committed = (Path(__file__).resolve().parents[2] / CATALOG_PATH).read_text(encoding="utf-8")
    assert committed == render_catalog(), "run: python -m pipeline.catalog > docs/data-catalog.md"


def test_benchmark_record_is_well_formed() -> None:
    from lakelab.records import API_VERSION, new_record
    from pipeline.bench import RECORD_KIND, benchmark_payload
    from pipeline.result import PipelineRunResult, StageResult

    result = PipelineRunResult(
        run_id="r1",
        stages=[
            StageResult(
                "bronze", "crm_account", 100, 98, 2, 2.0, 0, 1, "landing 100 = bronze 98 + quarantined 2"
            ),
            StageResult("bronze", "(layer commit)", 0, 0, 0, 1.0),
            StageResult("silver", "account", 98, 90, 1, 4.0, 0, 1),
        ],
        layers=("bronze", "silver"),
    )
    record = new_record(RECORD_KIND, benchmark_payload(result, {"seed": 7}, "/landing"), 7)
    assert record["api_version"] == API_VERSION and record["kind"] == "pipeline_benchmark"
    layers = record["payload"]["layers"]
    assert layers["bronze"] == {
        "rows_in": 100,
        "rows_out": 98,
        "rows_quarantined": 2,
        "seconds": 3.0,
        "rows_per_second": 33.3,
    }
    assert layers["silver"]["rows_per_second"] == 24.5
    assert record["payload"]["run"]["stages"][0]["rows_per_second"] == 50.0
    json.dumps(record)  # serializable as it is


def test_marker_files_are_read_through_the_filesystem(spark: SparkSession, tmp_path: Any) -> None:
    from pipeline import io

    marker = tmp_path / "_lakelab_dataset.json"
    marker.write_text('{\n  "seed": 7\n}\n', encoding="utf-8")
    assert json.loads(io.read_text_file(spark, str(marker))) == {"seed": 7}
    assert io.list_names(spark, str(tmp_path)) == ["_lakelab_dataset.json"]
    assert io.data_files(spark, str(tmp_path)) == []


def test_merge_latest_batch_by_batch_equals_all_at_once(spark: SparkSession, tmp_path: Any) -> None:
    from delta.tables import DeltaTable

    from pipeline import io
    from pipeline.silver import version_order

    schema = "k int, v string, updated_at timestamp, _batch_id int, _record_hash string"
    t0, t1 = dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)
    batch0 = [(1, "a0", t1, 0, "h1"), (2, "b0", t0, 0, "h2"), (3, "c0", t0, 0, "h3")]
    # Key 1: a late, older version. Key 2: same time, later batch (it wins). Key 4: new.
    batch1 = [(1, "a-late", t0, 1, "h4"), (2, "b1", t0, 1, "h5"), (4, "d1", t0, 1, "h6")]
    path = str(tmp_path / "t")
    DeltaTable.createIfNotExists(spark).location(path).addColumns(
        spark.createDataFrame([], schema).schema
    ).execute()
    for batch in (batch0, batch1):
        rows = latest_per_key(spark.createDataFrame(batch, schema), ["k"], "updated_at")
        io.merge_latest(spark, rows, path, ["k"], version_order("updated_at"))
    merged = {r["k"]: r["v"] for r in io.read_table(spark, path).collect()}
    at_once = {
        r["k"]: r["v"]
        for r in latest_per_key(spark.createDataFrame(batch0 + batch1, schema), ["k"], "updated_at").collect()
    }
    assert merged == at_once == {1: "a0", 2: "b1", 3: "c0", 4: "d1"}
    version = io.table_version(spark, path)
    io.merge_latest(spark, spark.createDataFrame(batch1, schema), path, ["k"], version_order("updated_at"))
    assert {r["k"]: r["v"] for r in io.read_table(spark, path).collect()} == merged
    history = DeltaTable.forPath(spark, path).history(1).collect()[0]
    assert io.table_version(spark, path) == version + 1
    assert history["operationMetrics"]["numTargetRowsUpdated"] == "0"
    assert history["operationMetrics"]["numTargetRowsInserted"] == "0"
