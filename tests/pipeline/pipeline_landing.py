"""A hand-built landing (two batches) with every kind of dirty record, per `lakelab.sources`.

Small enough to reason about every row; the tests assert exact outcomes for each.
Written with the standard library and pyarrow, not Spark, so it is independent of the
code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakelab.sources import BATCH_MARKERS, DATASET_MARKER, DIRTY_MANIFEST, DirtyKind


def sf_ts(day: str, hour: int = 12) -> str:
    """Salesforce's timestamp format."""
    return f"{day}T{hour:02d}:00:00.000+0000"


def ts(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00")


def _audit(created: str, modified: str) -> dict[str, Any]:
    return {"CreatedDate": sf_ts(created), "LastModifiedDate": sf_ts(modified), "IsDeleted": False}


def account(
    id_: str, name: str | None, country: str, ext: str | None, modified: str, **extra: Any
) -> dict[str, Any]:
    return {
        "Id": id_,
        "Name": name,
        "Industry": extra.pop("Industry", "Software"),
        "Type": "Customer",
        "BillingCountry": country,
        "BillingCity": "Springfield",
        "AnnualRevenue": extra.pop("AnnualRevenue", 1_000_000.0),
        "NumberOfEmployees": 50,
        "Website": "WWW.Example.com",
        "External_Id__c": ext,
        **_audit("2023-12-01", modified),
        **extra,
    }


ACCOUNT_B0 = [
    account("A1", "Acme", "United States", "EXT-1", "2024-01-01"),
    account("A2", "Globex", "germany", "EXT-2", "2024-01-01"),
    account("A3", None, "France", None, "2024-01-01"),  # missing required (Name)
    account("A4", "Initech", "UK", None, "2024-01-01", AnnualRevenue="12,5O"),  # wrong type
    account("A5", "Umbrella", "Atlantis", None, "2024-01-01", AnnualRevenue=-100.0),  # out of range
]
ACCOUNT_B1 = [
    account("A2", "Globex", "Germany", "EXT-2", "2024-02-01", Industry="Retail"),  # newer version
    account("A1", "Acme Old", "United States", "EXT-1", "2023-12-15"),  # late, older version
    account("A6", "Hooli", "us", None, "2024-02-01", Tier__c="Gold"),  # schema drift (allowed)
]
MALFORMED_LINE = '{"Id": "A9", "Name": "Broken'


def contact(id_: str, account_id: str, email: str | None, phone: str | None) -> dict[str, Any]:
    return {
        "Id": id_,
        "AccountId": account_id,
        "FirstName": "Pat",
        "LastName": "smith",
        "Email": email,
        "Phone": phone,
        "Title": "CTO",
        "LeadSource": "Web",
        **_audit("2023-12-01", "2024-01-01"),
    }


CONTACT_B0 = [
    contact("C1", "A1", " Alice@Example.COM ", "+1 (555) 123-4567"),
    contact("C2", "A2", "bob@example.de", None),
    contact("C3", "A404", "not-an-email", "12"),  # unknown foreign key, bad e-mail (warn)
]


def campaign(id_: str, type_: str) -> dict[str, Any]:
    return {
        "Id": id_,
        "Name": f"Campaign {id_}",
        "Type": type_,
        "Status": "Completed",
        "StartDate": "2024-01-01",
        "EndDate": "2024-03-31",
        "BudgetedCost": 1000.0,
        "ActualCost": 900.0,
        **_audit("2023-12-01", "2024-01-01"),
    }


CAMPAIGN_B0 = [campaign("K1", "Webinar"), campaign("K2", "Email")]


def member(id_: str, campaign_id: str, contact_id: str, touch: str | None) -> dict[str, Any]:
    return {
        "Id": id_,
        "CampaignId": campaign_id,
        "ContactId": contact_id,
        "Status": "Responded",
        "FirstRespondedDate": touch,
        **_audit("2023-12-01", "2024-01-01"),
    }


MEMBER_B0 = [
    member("M1", "K1", "C1", "2024-01-10"),
    member("M2", "K2", "C1", "2024-02-05"),
    member("M3", "K2", "C2", "2024-01-20"),
    member("M4", "K1", "C2", "2024-03-20"),
]


def opportunity(
    id_: str,
    account_id: str,
    stage: str,
    amount: Any,
    currency: str,
    close: str,
    source: str | None,
    campaign_id: str | None,
    created: str,
) -> dict[str, Any]:
    return {
        "Id": id_,
        "AccountId": account_id,
        "Name": f"Deal {id_}",
        "StageName": stage,
        "Amount": amount,
        "CurrencyIsoCode": currency,
        "CloseDate": close,
        "LeadSource": source,
        "CampaignId": campaign_id,
        "Probability": 50.0,
        **_audit(created, created),
    }


OPPORTUNITY_B0 = [
    opportunity("O1", "A1", "Closed Won", 1000.0, "USD", "2024-02-20", "Web", "K1", "2024-01-05"),
    opportunity(
        "O2", "A2", "Prospecting", 500.0, "EUR", "2999-01-01", "Partner", None, "2024-01-15"
    ),  # out of range
    opportunity("O3", "A2", "Prospecting", 200.0, "eur", "2024-04-30", "Partner", None, "2024-01-15"),
]

CUSTOMERS_B0 = [
    (1, "Acme Inc", " Alice@Example.COM", "us", "NA", "Enterprise", "EXT-1"),
    (2, "Globex GmbH", "bob@example.de", "De", "EMEA", "SMB", "EXT-2"),
    (3, "Soylent Ltd", None, "gb", "EMEA", "Mid-Market", None),
]

PRODUCTS_B0 = [
    (10, "Widget", "Tools", Decimal("10.00"), "USD"),
    (11, "Gadget", "Tools", Decimal("25.00"), "usd"),
]
# Batch 1 delivers UNIT_PRICE as text: one converts, one does not (incompatible type).
PRODUCTS_B1 = [(11, "Gadget", "Tools", "12.50", "USD"), (12, "Gizmo", "Toys", "abc", "USD")]

ORDERS_B0 = [
    # id, customer, day, status, currency, total, updated
    (100, 1, "2024-03-01", "delivered", "USD", Decimal("300.00"), "2024-03-01"),
    (101, 2, "2024-02-10", "shipped", "EUR", Decimal("200.00"), "2024-02-10"),
    (102, 3, "2024-03-05", "delivered", "GBP", Decimal("50.00"), "2024-03-05"),
    (103, 1, "2024-04-02", "cancelled", "USD", Decimal("70.00"), "2024-04-02"),
    (104, 999, "2024-03-03", "delivered", "USD", Decimal("20.00"), "2024-03-03"),  # unknown customer
    (105, 1, "2024-03-04", "delivered", "usd", Decimal("-5.00"), "2024-03-04"),  # out of range
    (100, 1, "2024-03-01", "delivered", "USD", Decimal("300.00"), "2024-03-01"),  # exact duplicate
]
ORDERS_B1 = [
    (106, 2, "2024-04-15", "delivered", "USD", Decimal("100.00"), "2024-04-15", "SPRING"),
    (101, 2, "2024-02-10", "delivered", "EUR", Decimal("200.00"), "2024-02-20", None),  # update
]

ORDER_LINES_HEADER = [
    "ORDER_ID",
    "LINE_NUMBER",
    "PRODUCT_ID",
    "QUANTITY",
    "UNIT_PRICE",
    "LINE_AMOUNT",
    "UPDATED_AT",
]
ORDER_LINES_B0 = [
    ["100", "1", "10", "10", "10.00", "100.00", "2024-03-01 12:00:00"],
    ["100", "2", "11", "8", "25.00", "200.00", "2024-03-01 12:00:00"],
    ["101", "1", "11", "two", "25.00", "200.00", "2024-02-10 12:00:00"],  # wrong type
    ["", "1", "10", "1", "10.00", "10.00", "2024-03-01 12:00:00"],  # missing key
    ["102", "1", "10", "5", "10.00", "50.00", "2024-03-05 12:00:00"],
]
# Batch 1 adds a column: the CSV contract does not allow it, so its rows are quarantined.
ORDER_LINES_B1_HEADER = [*ORDER_LINES_HEADER, "DISCOUNT"]
ORDER_LINES_B1 = [["106", "1", "10", "10", "10.00", "100.00", "2024-04-15 12:00:00", "0"]]

DIRTY = [
    ("crm.account", 0, "A9", DirtyKind.MALFORMED_JSON, "truncated line"),
    ("crm.account", 0, "A3", DirtyKind.MISSING_REQUIRED, "Name"),
    ("crm.account", 0, "A4", DirtyKind.WRONG_TYPE, "AnnualRevenue"),
    ("crm.account", 0, "A1", DirtyKind.EXACT_DUPLICATE, ""),
    ("crm.account", 1, "A1", DirtyKind.LATE_UPDATE, "older LastModifiedDate"),
    ("crm.account", 0, "A5", DirtyKind.OUT_OF_RANGE, "AnnualRevenue"),
    ("crm.contact", 0, "C3", DirtyKind.UNKNOWN_FOREIGN_KEY, "AccountId"),
    ("crm.account", 1, "A6", DirtyKind.SCHEMA_DRIFT, "Tier__c"),
    ("crm.opportunity", 0, "O2", DirtyKind.OUT_OF_RANGE, "CloseDate"),
    ("snowflake.orders", 0, "104", DirtyKind.UNKNOWN_FOREIGN_KEY, "CUSTOMER_ID"),
    ("snowflake.orders", 0, "105", DirtyKind.OUT_OF_RANGE, "ORDER_TOTAL"),
    ("snowflake.orders", 0, "100", DirtyKind.EXACT_DUPLICATE, ""),
    ("snowflake.orders", 1, "106", DirtyKind.SCHEMA_DRIFT, "PROMO_CODE"),
    ("snowflake.order_lines", 0, "101|1", DirtyKind.WRONG_TYPE, "QUANTITY"),
    ("snowflake.order_lines", 0, "|1", DirtyKind.MISSING_REQUIRED, "ORDER_ID"),
    ("snowflake.order_lines", 1, "106|1", DirtyKind.SCHEMA_DRIFT, "DISCOUNT"),
    ("snowflake.products", 1, "12", DirtyKind.WRONG_TYPE, "UNIT_PRICE"),
]

# Landing rows per (table, batch): what reconciliation must account for.
LANDING_ROWS = {
    ("crm.account", 0): 7,  # 5 + duplicate + malformed
    ("crm.account", 1): 3,
    ("crm.contact", 0): 3,
    ("crm.campaign", 0): 2,
    ("crm.campaign_member", 0): 4,
    ("crm.opportunity", 0): 3,
    ("snowflake.customers", 0): 3,
    ("snowflake.products", 0): 2,
    ("snowflake.products", 1): 2,
    ("snowflake.orders", 0): 7,
    ("snowflake.orders", 1): 2,
    ("snowflake.order_lines", 0): 5,
    ("snowflake.order_lines", 1): 1,
}


def _json_lines(path: Path, rows: list[dict[str, Any]], extra_lines: list[str] | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row) for row in rows] + (extra_lines or [])
    (path / "part-00000.json").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _parquet(path: Path, table: pa.Table) -> None:
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path / "part-00000.parquet")


def _csv_gz(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with gzip.open(path / "part-00000.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(text.getvalue())


def _customers(rows: list[tuple[Any, ...]]) -> pa.Table:
    created = ts("2023-12-01")
    return pa.table(
        {
            "CUSTOMER_ID": pa.array([r[0] for r in rows], pa.int64()),
            "CUSTOMER_NAME": [r[1] for r in rows],
            "EMAIL": [r[2] for r in rows],
            "COUNTRY_CODE": [r[3] for r in rows],
            "REGION": [r[4] for r in rows],
            "SEGMENT": [r[5] for r in rows],
            "CRM_ACCOUNT_EXTERNAL_ID": [r[6] for r in rows],
            "CREATED_AT": pa.array([created] * len(rows), pa.timestamp("us")),
            "UPDATED_AT": pa.array([created] * len(rows), pa.timestamp("us")),
        }
    )


def _products(rows: list[tuple[Any, ...]], price_type: pa.DataType) -> pa.Table:
    return pa.table(
        {
            "PRODUCT_ID": pa.array([r[0] for r in rows], pa.int64()),
            "PRODUCT_NAME": [r[1] for r in rows],
            "CATEGORY": [r[2] for r in rows],
            "UNIT_PRICE": pa.array([r[3] for r in rows], price_type),
            "CURRENCY": [r[4] for r in rows],
            "UPDATED_AT": pa.array([ts("2024-01-01")] * len(rows), pa.timestamp("us")),
        }
    )


def _orders(rows: list[tuple[Any, ...]], drift: bool) -> pa.Table:
    columns: dict[str, Any] = {
        "ORDER_ID": pa.array([r[0] for r in rows], pa.int64()),
        "CUSTOMER_ID": pa.array([r[1] for r in rows], pa.int64()),
        "ORDER_TS": pa.array([ts(r[2], 9) for r in rows], pa.timestamp("us")),
        "STATUS": [r[3] for r in rows],
        "CHANNEL": ["web"] * len(rows),
        "CURRENCY": [r[4] for r in rows],
        "ORDER_TOTAL": pa.array([r[5] for r in rows], pa.decimal128(18, 2)),
        "UPDATED_AT": pa.array([ts(r[6]) for r in rows], pa.timestamp("us")),
    }
    if drift:
        columns["PROMO_CODE"] = [r[7] for r in rows]
    return pa.table(columns)


def write_batch(landing: Path, batch: int) -> None:
    """Write one batch of the hand-built landing, marker last."""
    b = f"batch={batch:04d}"
    if batch == 0:
        _json_lines(landing / "crm/account" / b, [*ACCOUNT_B0, ACCOUNT_B0[0]], [MALFORMED_LINE, ""])
        _json_lines(landing / "crm/contact" / b, CONTACT_B0)
        _json_lines(landing / "crm/campaign" / b, CAMPAIGN_B0)
        _json_lines(landing / "crm/campaign_member" / b, MEMBER_B0)
        _json_lines(landing / "crm/opportunity" / b, OPPORTUNITY_B0)
        _parquet(landing / "snowflake/customers" / b, _customers(CUSTOMERS_B0))
        _parquet(landing / "snowflake/products" / b, _products(PRODUCTS_B0, pa.decimal128(12, 2)))
        _parquet(landing / "snowflake/orders" / b, _orders(ORDERS_B0, drift=False))
        _csv_gz(landing / "snowflake/order_lines" / b, ORDER_LINES_HEADER, ORDER_LINES_B0)
        manifest = landing / DIRTY_MANIFEST
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(
            "".join(
                json.dumps({"table": t, "batch": n, "key": k, "kind": str(kind), "detail": d}) + "\n"
                for t, n, k, kind, d in DIRTY
            ),
            encoding="utf-8",
        )
        (landing / DATASET_MARKER).write_text(json.dumps({"seed": 0, "records": 38, "hand_built": True}))
    elif batch == 1:
        _json_lines(landing / "crm/account" / b, ACCOUNT_B1)
        _parquet(landing / "snowflake/products" / b, _products(PRODUCTS_B1, pa.string()))
        _parquet(landing / "snowflake/orders" / b, _orders(ORDERS_B1, drift=True))
        _csv_gz(landing / "snowflake/order_lines" / b, ORDER_LINES_B1_HEADER, ORDER_LINES_B1)
    else:
        raise ValueError(batch)
    markers = landing / BATCH_MARKERS
    markers.mkdir(parents=True, exist_ok=True)
    (markers / f"{batch:04d}.json").write_text(json.dumps({"batch": batch}))


def write_landing(landing: Path, batches: int = 2) -> Path:
    """The whole hand-built landing with `batches` complete batches."""
    for batch in range(batches):
        write_batch(landing, batch)
    return landing
