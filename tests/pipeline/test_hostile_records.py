"""Record-level hostile input (issue 11): each case ends in Bronze, Silver or the quarantine
with an exact value and reason, never changed on the way and never stopping the run.

Pure-transform tests on a few lines each, then one real run over a small hand-built landing
(JSON written as bytes, Parquet with pyarrow) for what needs the whole pipeline: Delta's
schema evolution, the quarantine's new column on an old table, Parquet files any reader opens.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pipeline_landing as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipeline_helpers import pipeline_config

from lakelab.errors import UserError
from lakelab.sources import BATCH_MARKERS, source_table
from pipeline.bronze import BronzeParams, addable_columns, to_bronze_json, to_bronze_tabular
from pipeline.contracts import (
    PARSE_ERROR,
    QUARANTINE,
    SILVER_ACCOUNT,
    SILVER_OPPORTUNITY,
    TYPE_ERRORS,
    UNEXPECTED_COLUMNS,
    bronze_for,
)
from pipeline.quality import QuarantineParams, accepted_rows, evaluate_rules, quarantine_rows, tally
from pipeline.silver import to_silver

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PARAMS = BronzeParams("test-run", dt.datetime(2024, 5, 1))
ACCOUNT = source_table("crm.account")
OPPORTUNITY = source_table("crm.opportunity")
ORDERS = source_table("snowflake.orders")
LIMIT = 2_000  # max_record_bytes of the pipeline run below


def _account(id_: str, **fields: Any) -> dict[str, Any]:
    return pl.account(id_, f"Company {id_}", "US", None, "2024-01-01", **fields)


def _line(id_: str, **fields: Any) -> str:
    return json.dumps(_account(id_, **fields))


def _with(line: str, extra: str) -> str:
    """A JSON line with raw text added before its closing brace (keys JSON can't build twice)."""
    return line[:-1] + ", " + extra + "}"


def _lines(spark: SparkSession, lines: list[str]) -> DataFrame:
    return spark.createDataFrame(
        [(line, "file:/landing/crm/account/batch=0000/part-0.json", 0) for line in lines],
        "value string, _source_file string, _batch_id int",
    )


def _bytes_lines(spark: SparkSession, tmp_path: Path, lines: list[bytes]) -> DataFrame:
    """Lines read by Spark's text reader, as the pipeline reads them (bytes kept as delivered)."""
    from pyspark.sql import functions as sf

    path = tmp_path / "batch=0000" / "part-0.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return (
        spark.read.text(str(path))
        .withColumn("_source_file", sf.lit(str(path)))
        .withColumn("_batch_id", sf.lit(0))
    )


def _bronze(
    spark: SparkSession, lines: list[str], params: BronzeParams = PARAMS, added: list[str] | None = None
) -> dict[str, Any]:
    rows = to_bronze_json(_lines(spark, lines), ACCOUNT, params, added or []).collect()
    return {row["_raw_record"]: row for row in rows}


def _quarantine(evaluated: DataFrame, table: str) -> list[Any]:
    return quarantine_rows(
        evaluated,
        QuarantineParams("bronze", table, "test-run", dt.datetime(2024, 5, 1)),
        raw_record=evaluated["_raw_record"],
        batch_id=evaluated["_batch_id"],
        source_file=evaluated["_source_file"],
        record_hash=evaluated["_record_hash"],
    ).collect()


# --- 1: field names that differ only in case, or repeat ---------------------------------------


def test_field_names_differing_in_case_or_repeated_are_parse_errors(spark: SparkSession) -> None:
    good = _line("A1")
    case_pair = _with(_line("A2"), '"id": "a2"')
    repeated = _with(_line("A3"), '"Id": "A3-again"')
    miscased = _line("A4").replace('"Id"', '"ID"')
    rows = _bronze(spark, [good, case_pair, repeated, miscased])
    assert {line: row[PARSE_ERROR] for line, row in rows.items()} == {
        good: None,
        case_pair: "field names differ only in case: Id, id",
        repeated: "duplicate field names: Id",
        miscased: "field names differ only in case: ID (the column is Id)",
    }
    # A record that is not taken brings no added columns: `id` must never become one.
    assert all(row[UNEXPECTED_COLUMNS] == [] for row in rows.values())

    table = bronze_for(ACCOUNT)
    evaluated = evaluate_rules(to_bronze_json(_lines(spark, list(rows)), ACCOUNT, PARAMS), table.rules)
    assert [r["Id"] for r in accepted_rows(evaluated, table.column_names).collect()] == ["A1"]
    reasons = {r["raw_record"]: (r["rule"], r["reason"]) for r in _quarantine(evaluated, table.name)}
    assert reasons[case_pair] == ("parseable", "parseable: field names differ only in case: Id, id")
    assert reasons[repeated] == ("parseable", "parseable: duplicate field names: Id")


def test_added_columns_never_clash_with_declared_or_each_other_ignoring_case(spark: SparkSession) -> None:
    assert addable_columns(ACCOUNT, ["tier__c", "Tier__c", "id", "NAME", "Score__c", "Tier__c"]) == [
        "Score__c",
        "Tier__c",
    ]
    upper = _line("A6", Tier__c="Gold")
    lower = _line("A7", tier__c="Silver")
    rows = _bronze(spark, [upper, lower], added=["Tier__c", "tier__c"])
    assert rows[upper]["Tier__c"] == "Gold"
    assert rows[upper][PARSE_ERROR] is None
    assert rows[lower][PARSE_ERROR] == "field names differ only in case: tier__c (the column is Tier__c)"


def test_parquet_column_differing_in_case_from_a_declared_one_is_a_parse_error(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [(100, 1, dt.datetime(2024, 3, 1), Decimal("5.00"), dt.datetime(2024, 3, 1), "f", 0)],
        "ORDER_ID bigint, CUSTOMER_ID bigint, ORDER_TS timestamp, order_total decimal(18,2), "
        "UPDATED_AT timestamp, _source_file string, _batch_id int",
    )
    bronze = to_bronze_tabular(rows, ORDERS, PARAMS, ["order_total"]).collect()[0]
    assert bronze[PARSE_ERROR] == "field names differ only in case: order_total (the column is ORDER_TOTAL)"
    assert "order_total" not in bronze.asDict()  # not an added column next to ORDER_TOTAL
    assert bronze[UNEXPECTED_COLUMNS] == []


# --- 2: dates and times Spark or a reader would change -----------------------------------------


def test_impossible_or_unrepresentable_dates_are_type_mismatches(spark: SparkSession) -> None:
    cases = {
        "+10000-01-01": "LastModifiedDate = '+10000-01-01'",
        "2024-02-30T12:00:00.000+0000": "LastModifiedDate = '2024-02-30T12:00:00.000+0000'",
        "9999-12-31T23:59:59.000+0000": None,  # a real date: Silver's range rule decides
        "0001-01-01T00:00:00.000+0000": None,
    }
    lines = {_line("A1", LastModifiedDate=value): value for value in cases}
    rows = _bronze(spark, list(lines))
    assert {value: rows[line][TYPE_ERRORS] for line, value in lines.items()} == {
        value: [error] if error else [] for value, error in cases.items()
    }
    opportunity = pl.opportunity(
        "O1", "A1", "Prospecting", 10.0, "USD", "2024-02-30", None, None, "2024-01-05"
    )
    bronze = to_bronze_json(_lines(spark, [json.dumps(opportunity)]), OPPORTUNITY, PARAMS).collect()[0]
    assert bronze[TYPE_ERRORS] == ["CloseDate = '2024-02-30'"]


def test_silver_quarantines_dates_outside_1900_to_2100_with_the_exact_value(spark: SparkSession) -> None:
    lines = [
        _line("A1"),
        _line("A2", LastModifiedDate="9999-12-31T23:59:59.000+0000"),
        _line("A3", LastModifiedDate="0001-01-01T00:00:00.000+0000"),
        _line("A4", CreatedDate="1899-12-31T23:59:59.000+0000"),
    ]
    bronze = to_bronze_json(_lines(spark, lines), ACCOUNT, PARAMS)
    evaluated = evaluate_rules(to_silver(bronze, SILVER_ACCOUNT), SILVER_ACCOUNT.all_rules)
    rows = {r["account_id"]: r for r in evaluated.selectExpr("account_id", "_drop_reason").collect()}
    assert rows["A1"]["_drop_reason"] == ""  # no drop rule failed
    assert rows["A2"]["_drop_reason"] == "dates_in_range: out of range: updated_at = 9999-12-31 23:59:59"
    assert rows["A3"]["_drop_reason"] == "dates_in_range: out of range: updated_at = 0001-01-01 00:00:00"
    assert rows["A4"]["_drop_reason"] == "dates_in_range: out of range: created_at = 1899-12-31 23:59:59"


# --- 3: non-finite and out-of-range numbers ----------------------------------------------------


def test_non_finite_numbers_are_type_mismatches(spark: SparkSession) -> None:
    base = _line("A1", AnnualRevenue=0.0)
    cases = {
        '"1e400"': "AnnualRevenue = '1e400'",
        "1e400": "AnnualRevenue = '\"Infinity\"'",  # what the JSON parser makes of the number
        '"NaN"': "AnnualRevenue = 'NaN'",
        '"Infinity"': "AnnualRevenue = 'Infinity'",
        "1e308": None,  # finite: Silver's range rule decides
    }
    lines = {base.replace('"AnnualRevenue": 0.0', f'"AnnualRevenue": {value}'): value for value in cases}
    rows = _bronze(spark, list(lines))
    assert {value: rows[line][TYPE_ERRORS] for line, value in lines.items()} == {
        value: [error] if error else [] for value, error in cases.items()
    }
    # Bare NaN and Infinity are not JSON: the line does not parse (no value is guessed).
    bare = [
        base.replace('"AnnualRevenue": 0.0', f'"AnnualRevenue": {value}') for value in ("-Infinity", "NaN")
    ]
    rows = _bronze(spark, bare)
    assert [rows[line][PARSE_ERROR] for line in bare] == ["unparseable JSON line"] * 2


def test_money_over_the_limit_or_not_fitting_its_decimal(spark: SparkSession) -> None:
    lines = [_line("A1", AnnualRevenue=1e308), _line("A2", AnnualRevenue=999_999_999_999_999.0)]
    evaluated = evaluate_rules(
        to_silver(to_bronze_json(_lines(spark, lines), ACCOUNT, PARAMS), SILVER_ACCOUNT),
        SILVER_ACCOUNT.all_rules,
    )
    reasons = {r["account_id"]: r["_drop_reason"] for r in evaluated.collect()}
    assert reasons == {
        "A1": "size_in_range: out of range: annual_revenue = 1.0E308, number_of_employees = 50",
        "A2": "",
    }

    def deal(id_: str, amount: Any) -> str:
        return json.dumps(
            pl.opportunity(id_, "A1", "Prospecting", amount, "GBP", "2024-04-30", None, None, "2024-01-05")
        )

    lines = [deal("O1", 1e300), deal("O2", 12.345), deal("O3", 12.5), deal("O4", 1e15)]
    bronze = to_bronze_json(_lines(spark, lines), OPPORTUNITY, PARAMS)
    errors = {r["Id"]: r[TYPE_ERRORS] for r in bronze.collect()}
    assert errors == {"O1": ["Amount = '1.0E300'"], "O2": ["Amount = '12.345'"], "O3": [], "O4": []}
    silver = evaluate_rules(to_silver(bronze, SILVER_OPPORTUNITY), SILVER_OPPORTUNITY.all_rules)
    out = {r["opportunity_id"]: (r["amount"], r["amount_usd"], r["_drop_reason"]) for r in silver.collect()}
    assert out["O3"] == (Decimal("12.50"), Decimal("15.88"), "")
    # 10^15 GBP is 1.27e15 USD: within decimal(18,2), but over the money limit.
    assert out["O4"] == (
        Decimal("1000000000000000.00"),
        Decimal("1270000000000000.00"),
        "amount_in_range: out of range: amount = 1000000000000000.00",
    )


# --- 11: a money column with more fractional digits than its scale -----------------------------


def test_parquet_double_with_more_decimals_than_the_scale_is_a_type_mismatch(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [
            (100, 1, dt.datetime(2024, 3, 1), 10.125, dt.datetime(2024, 3, 1), "f", 0),
            (101, 1, dt.datetime(2024, 3, 1), 10.5, dt.datetime(2024, 3, 1), "f", 0),
            (102, 1, dt.datetime(2024, 3, 1), 1e17, dt.datetime(2024, 3, 1), "f", 0),
        ],
        "ORDER_ID bigint, CUSTOMER_ID bigint, ORDER_TS timestamp, ORDER_TOTAL double, "
        "UPDATED_AT timestamp, _source_file string, _batch_id int",
    )
    bronze = {r["ORDER_ID"]: r for r in to_bronze_tabular(rows, ORDERS, PARAMS).collect()}
    assert bronze[100][TYPE_ERRORS] == ["ORDER_TOTAL = '10.125'"]
    assert bronze[100]["ORDER_TOTAL"] is None  # never 10.13
    assert (bronze[101][TYPE_ERRORS], bronze[101]["ORDER_TOTAL"]) == ([], Decimal("10.50"))
    assert bronze[102][TYPE_ERRORS] == ["ORDER_TOTAL = '1.0E17'"]


# --- 4: bytes that are not UTF-8 ----------------------------------------------------------------


def test_invalid_utf8_is_quarantined_readable_with_the_exact_bytes(
    spark: SparkSession, tmp_path: Path
) -> None:
    good = _line("A1").encode()
    bad = _line("A2", Name="Cafe X").encode().replace(b"Cafe", b"Caf\xe9")  # a Latin-1 é
    bad_key = _with(_line("A3"), '"K\xff": "v"').encode("latin-1")
    lines = _bytes_lines(spark, tmp_path, [good, bad, bad_key])
    table = bronze_for(ACCOUNT)
    bronze = to_bronze_json(lines, ACCOUNT, PARAMS)
    assert {r["Id"]: r[PARSE_ERROR] for r in bronze.collect()} == {
        "A1": None,
        "A2": "invalid UTF-8 in field Name",
        "A3": "invalid UTF-8 in the record",
    }
    quarantined = {
        bytes(r["raw_bytes"]): r for r in _quarantine(evaluate_rules(bronze, table.rules), table.name)
    }
    assert set(quarantined) == {bad, bad_key}
    assert quarantined[bad]["raw_record"] == bad.decode("utf-8", errors="replace")
    assert quarantined[bad]["reason"] == "parseable: invalid UTF-8 in field Name"


# --- 9: a record over the size limit ------------------------------------------------------------


def test_a_record_over_the_limit_says_its_size_and_the_limit(spark: SparkSession) -> None:
    small = _line("A1")
    large = _line("A2", Website="x" * 500)
    params = BronzeParams("test-run", dt.datetime(2024, 5, 1), max_record_bytes=len(small) + 10)
    rows = _bronze(spark, [small, large], params)
    assert rows[small][PARSE_ERROR] is None
    assert rows[large][PARSE_ERROR] == (
        f"record is {len(large):,} bytes, over the {len(small) + 10:,}-byte limit (pipeline.max_record_bytes)"
    )


def test_max_record_bytes_is_validated_like_every_setting() -> None:
    assert pipeline_config().pipeline.max_record_bytes == 16 * 1024 * 1024
    assert pipeline_config(max_record_bytes=LIMIT).pipeline.max_record_bytes == LIMIT
    with pytest.raises(UserError, match=r"pipeline\.max_record_bytes"):
        pipeline_config(max_record_bytes=0)


# --- 7: trailing characters, and modified before created ----------------------------------------


def test_trailing_characters_after_the_object_are_unparseable(spark: SparkSession) -> None:
    line = _line("A1")
    accepted = [
        line + "   ",
        _line("A2", Name='Ac}me{ [x] "quoted" \\'),
        _with(_line("A3"), '"attributes": {"type": "Account", "url": [1, {"a": [2]}]}'),
        # The declared keys in another order: not the usual record, so every check runs.
        json.dumps(dict(reversed(list(_account("A4").items())))),
    ]
    # A flat record is passed by a cheap test; every other shape, and a line ending in a
    # character that ends a "line" to some regular expressions, gets the full check.
    trailing = [
        line + "{}",
        line + "{",
        "{}" + line,
        line + " xyz",
        line + line,
        line + "}",
        line + "]",
        _with(_line("A4"), '"x": 1') + ", {}",
        line + "\u2028",
        line + "\u0085",
        line + " \t}",
    ]
    rows = _bronze(spark, accepted + trailing)
    assert [rows[x][PARSE_ERROR] for x in accepted] == [None] * len(accepted)
    assert [rows[x][UNEXPECTED_COLUMNS] for x in accepted] == [[], [], ["attributes"], []]
    assert [rows[x][PARSE_ERROR] for x in trailing] == [
        "unparseable JSON line: trailing characters after the JSON object"
    ] * len(trailing)


def test_modified_before_created_is_a_counted_warning(spark: SparkSession) -> None:
    lines = [_line("A1"), _line("A2", LastModifiedDate="2023-11-01T00:00:00.000+0000")]
    silver = to_silver(to_bronze_json(_lines(spark, lines), ACCOUNT, PARAMS), SILVER_ACCOUNT)
    evaluated = evaluate_rules(silver, SILVER_ACCOUNT.all_rules)
    failed = {c.rule: c.rows_failed for c in tally(evaluated, SILVER_ACCOUNT.all_rules).counts}
    assert failed["modified_after_created"] == 1
    assert sorted(r["account_id"] for r in accepted_rows(evaluated, ["account_id"]).collect()) == ["A1", "A2"]


# --- The whole pipeline over a hostile landing --------------------------------------------------

BIG = _line("A10", Website="w" * LIMIT)
INVALID_UTF8 = _line("A7", Name="Cafe").encode().replace(b"Cafe", b"Caf\xe9")
ACCOUNT_LINES: list[bytes] = [
    _line("A1").encode(),
    _with(_line("A2"), '"id": "a2"').encode(),
    _with(_line("A3"), '"Id": "A3-again"').encode(),
    _line("A4", LastModifiedDate="9999-12-31T23:59:59.000+0000").encode(),
    _line("A5", AnnualRevenue="1e400").encode(),
    _line("A6", AnnualRevenue=1e308).encode(),
    INVALID_UTF8,
    _line("A8", LastModifiedDate="2023-11-01T00:00:00.000+0000").encode(),  # before CreatedDate
    (_line("A9") + " xyz").encode(),
    BIG.encode(),
    _line("A11", Tier__c="Gold").encode(),
    _line("A12", tier__c="Silver").encode(),
]
BRONZE_REASONS = {
    "A2": ("parseable", "parseable: field names differ only in case: Id, id"),
    "A3": ("parseable", "parseable: duplicate field names: Id"),
    "A5": ("types_conform", "types_conform: type mismatch: AnnualRevenue = '1e400'"),
    "A7": ("parseable", "parseable: invalid UTF-8 in field Name"),
    "A9": ("parseable", "parseable: unparseable JSON line: trailing characters after the JSON object"),
    "A12": ("parseable", "parseable: field names differ only in case: tier__c (the column is Tier__c)"),
}
SILVER_REASONS = {
    "A4": ("dates_in_range", "dates_in_range: out of range: updated_at = 9999-12-31 23:59:59"),
    "A6": (
        "size_in_range",
        "size_in_range: out of range: annual_revenue = 1.0E308, number_of_employees = 50",
    ),
}
FAR = dt.datetime(9999, 12, 31, 23, 59, 59)


def _orders_parquet() -> pa.Table:
    day = dt.datetime(2024, 3, 1, 9)
    return pa.table(
        {
            "ORDER_ID": pa.array([100, 101, 102], pa.int64()),
            "CUSTOMER_ID": pa.array([1, 1, 1], pa.int64()),
            "ORDER_TS": pa.array([day, day, FAR], pa.timestamp("us")),
            "STATUS": ["delivered"] * 3,
            "CHANNEL": ["web"] * 3,
            "CURRENCY": ["USD"] * 3,
            "ORDER_TOTAL": pa.array([10.125, 10.5, 20.0], pa.float64()),
            "UPDATED_AT": pa.array([day, day, day], pa.timestamp("us")),
        }
    )


def _old_quarantine(spark: SparkSession, path: str) -> None:
    """A quarantine as warehouses hold it from before `raw_bytes`: one old row."""
    old = [c for c in QUARANTINE.columns if c.name != "raw_bytes"]
    ddl = ", ".join(f"`{c.name}` {c.type}" for c in old)
    row = (
        "bronze",
        "legacy",
        0,
        "parseable",
        "parseable: old",
        "{",
        "f",
        "h",
        "old-run",
        dt.datetime(2024, 1, 1),
    )
    spark.createDataFrame([row], ddl).write.format("delta").save(path)


@pytest.fixture(scope="module")
def hostile_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("hostile")
    landing = root / "landing"
    warehouse = str(root / "warehouse")
    accounts = landing / "crm/account/batch=0000"
    accounts.mkdir(parents=True)
    (accounts / "part-00000.json").write_bytes(b"\n".join(ACCOUNT_LINES) + b"\n")
    orders = landing / "snowflake/orders/batch=0000"
    orders.mkdir(parents=True)
    pq.write_table(_orders_parquet(), orders / "part-00000.parquet")
    (landing / BATCH_MARKERS).mkdir()
    (landing / BATCH_MARKERS / "0000.json").write_text(json.dumps({"batch": 0}))
    _old_quarantine(spark, QUARANTINE.path(warehouse))
    config = pipeline_config(max_record_bytes=LIMIT)
    result = run_pipeline(spark, config, str(landing), warehouse, layers=("bronze", "silver"))
    return warehouse, result


def _record_id(raw_record: str) -> str:
    """The first `Id` (or `ORDER_ID`) of a raw record, even one that is not valid JSON."""
    match = re.search(r'"(?:Id|ORDER_ID)": ?"?(\w+)', raw_record)
    assert match, raw_record
    return match.group(1)


def _read(spark: SparkSession, warehouse: str, relative: str) -> DataFrame:
    return spark.read.format("delta").load(f"{warehouse}/{relative}")


def test_run_ingests_the_rest_and_quarantines_each_hostile_record(
    spark: SparkSession, hostile_run: tuple[str, Any]
) -> None:
    warehouse, result = hostile_run
    assert result.reconciled
    bronze = {r["Id"]: r for r in _read(spark, warehouse, "bronze/crm_account").collect()}
    assert sorted(bronze) == ["A1", "A11", "A4", "A6", "A8"]
    assert bronze["A11"]["Tier__c"] == "Gold"
    assert "tier__c" not in bronze["A11"].asDict()
    quarantine = _read(spark, warehouse, "_ops/quarantine")
    rows = quarantine.where(
        "table_name IN ('crm_account', 'account', 'snowflake_orders', 'orders')"
    ).collect()
    by_id = {_record_id(row["raw_record"]): row for row in rows}
    assert {k: (by_id[k]["rule"], by_id[k]["reason"]) for k in BRONZE_REASONS} == BRONZE_REASONS
    assert {k: (by_id[k]["rule"], by_id[k]["reason"]) for k in SILVER_REASONS} == SILVER_REASONS
    big = [r for r in rows if r["raw_bytes"] == BIG.encode()]
    assert [r["reason"] for r in big] == [
        f"parseable: record is {len(BIG):,} bytes, over the {LIMIT:,}-byte limit "
        "(pipeline.max_record_bytes); key_present: missing key or version: Id, LastModifiedDate"
    ]
    assert by_id["A7"]["raw_bytes"] == INVALID_UTF8
    assert by_id["A7"]["raw_record"] == INVALID_UTF8.decode("utf-8", errors="replace")
    silver = {r["account_id"] for r in _read(spark, warehouse, "silver/account").collect()}
    assert silver == {"A1", "A8", "A11"}
    warned = (
        _read(spark, warehouse, "_ops/quality_results")
        .where("table_name = 'account' AND rule = 'modified_after_created'")
        .collect()
    )
    assert [(r["action"], r["rows_failed"]) for r in warned] == [("warn", 1)]


def test_run_keeps_money_and_far_timestamps_exactly_or_quarantines_them(
    spark: SparkSession, hostile_run: tuple[str, Any]
) -> None:
    warehouse, _ = hostile_run
    quarantine = _read(spark, warehouse, "_ops/quarantine").where(
        "table_name IN ('snowflake_orders', 'orders')"
    )
    reasons = {int(_record_id(r["raw_record"])): (r["layer"], r["reason"]) for r in quarantine.collect()}
    assert reasons == {
        100: ("bronze", "types_conform: type mismatch: ORDER_TOTAL = '10.125'"),
        102: ("silver", "order_ts_in_range: out of range: order_ts = 9999-12-31 23:59:59"),
    }
    silver = {r["order_id"]: r["order_total"] for r in _read(spark, warehouse, "silver/orders").collect()}
    assert silver == {101: Decimal("10.50")}
    # Bronze keeps the delivered year-9999 time; a reader other than Spark gets it back unchanged.
    files = sorted(Path(warehouse, "bronze/snowflake_orders").glob("*.parquet"))
    read = pa.concat_tables([pq.read_table(f) for f in files])
    utc = [t.replace(tzinfo=dt.UTC) for t in (dt.datetime(2024, 3, 1, 9), FAR)]
    assert sorted(read.column("ORDER_TS").to_pylist()) == utc  # Spark's times are UTC instants


def test_every_parquet_file_reads_and_the_old_quarantine_took_raw_bytes(
    spark: SparkSession, hostile_run: tuple[str, Any]
) -> None:
    warehouse, _ = hostile_run
    for table in ("_ops/quarantine", "bronze/crm_account", "silver/account", "bronze/snowflake_orders"):
        files = sorted(Path(warehouse, table).glob("**/*.parquet"))
        assert files, table
        for file in files:
            pq.read_table(file).to_pandas()  # raises on a string column that is not UTF-8
    quarantine = _read(spark, warehouse, "_ops/quarantine")
    assert quarantine.columns == [c.name for c in QUARANTINE.columns]
    old = quarantine.where("table_name = 'legacy'").collect()
    assert [(r["reason"], r["raw_bytes"]) for r in old] == [("parseable: old", None)]
