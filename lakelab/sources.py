"""What the source systems deliver to the landing area: declared once.

The generator (`datagen`) writes exactly these tables and fields; Bronze (`pipeline`)
reads them by this declaration; the data catalog and the docs are rendered from it.
Types are Spark DDL types of the values *as delivered* (JSON gives strings and
numbers, the Snowflake unload gives typed Parquet/CSV columns).

Landing layout (one data set per landing folder):

    <landing>/_lakelab_dataset.json                   what was generated: seed, records, options
    <landing>/_manifest/dirty.jsonl                   one line per dirty record: table, batch, key, kind
    <landing>/crm/<table>/batch=<NNNN>/part-*.json    JSON lines, Salesforce API field names
    <landing>/snowflake/<table>/batch=<NNNN>/...      Parquet or gzip CSV, Snowflake upper-case names
    <landing>/_batches/<NNNN>.json                    written last: the batch is complete

Batch 0 is the initial load; batches 1..N are incremental (new and updated records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

SourceSystem = Literal["crm", "snowflake"]
FileFormat = Literal["json", "parquet", "csv.gz"]

DATASET_MARKER = "_lakelab_dataset.json"
DIRTY_MANIFEST = "_manifest/dirty.jsonl"
BATCH_MARKERS = "_batches"


def local_dataset_marker(landing: str) -> dict[str, Any]:
    """A local landing's dataset marker (what `lakelab generate` wrote), read without Spark.

    Raises:
        UserError: `landing` holds no marker (not a lakelab landing), or it is not JSON.
    """
    import json
    from pathlib import Path

    from lakelab.errors import UserError

    marker = Path(landing) / DATASET_MARKER
    if not marker.is_file():
        raise UserError(f"{landing}: not a lakelab landing (no {DATASET_MARKER}); see `lakelab generate`")
    try:
        loaded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{marker}: unreadable dataset marker ({error})") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{marker}: unreadable dataset marker (not a JSON object)")
    return loaded


class DirtyKind(StrEnum):
    """The kinds of bad data the generator plants on purpose, and the pipeline must catch."""

    MALFORMED_JSON = "malformed_json"  # a JSON line that does not parse
    MISSING_REQUIRED = "missing_required"  # a required field is null or absent
    WRONG_TYPE = "wrong_type"  # e.g. Amount = "12,5O" in JSON, text in a numeric CSV column
    EXACT_DUPLICATE = "exact_duplicate"  # the same record twice in a batch
    LATE_UPDATE = "late_update"  # an older version of a key arriving after a newer one
    OUT_OF_RANGE = "out_of_range"  # negative amount or quantity, close date in year 2999
    UNKNOWN_FOREIGN_KEY = "unknown_foreign_key"  # points at a key no batch ever delivered
    SCHEMA_DRIFT = "schema_drift"  # one batch carries an added column


@dataclass(frozen=True)
class SourceField:
    """One field as the source delivers it."""

    name: str
    type: str  # Spark DDL type as delivered
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class ForeignKey:
    """`column` refers to `ref_table.ref_column` in the same source system."""

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class SourceTable:
    """A table or object of a source system, as it lands."""

    system: SourceSystem
    name: str
    format: FileFormat
    fields: tuple[SourceField, ...]
    key: tuple[str, ...]
    updated_at: str  # the field that orders versions of a key
    description: str = ""
    foreign_keys: tuple[ForeignKey, ...] = field(default_factory=tuple)

    @property
    def qualified_name(self) -> str:
        """`crm.account`, `snowflake.orders`."""
        return f"{self.system}.{self.name}"

    def landing_path(self, landing: str, batch: int | None = None) -> str:
        """Folder of this table (or one batch of it) under a landing root."""
        base = f"{landing.rstrip('/')}/{self.system}/{self.name}"
        return base if batch is None else f"{base}/batch={batch:04d}"

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Names of the fields that must not be null."""
        return tuple(f.name for f in self.fields if f.required)

    def ddl(self) -> str:
        """The schema as a Spark DDL string."""
        return ", ".join(f"`{f.name}` {f.type}" for f in self.fields)

    def spark_schema(self) -> StructType:
        """The schema as a Spark StructType (imports pyspark)."""
        from pyspark.sql.types import StructType

        schema = StructType.fromDDL(self.ddl())
        assert isinstance(schema, StructType)
        return schema


def _f(name: str, type_: str, required: bool = False, description: str = "") -> SourceField:
    return SourceField(name, type_, required, description)


_SF_AUDIT = (
    _f("CreatedDate", "string", True, "ISO-8601 creation time, UTC"),
    _f("LastModifiedDate", "string", True, "ISO-8601 time of the last change, UTC"),
    _f("IsDeleted", "boolean", False, "soft delete flag"),
)

ACCOUNT = SourceTable(
    "crm",
    "account",
    "json",
    (
        _f("Id", "string", True, "18-character Salesforce id"),
        _f("Name", "string", True, "company name"),
        _f("Industry", "string"),
        _f("Type", "string", description="Customer, Prospect, Partner"),
        _f("BillingCountry", "string", description="country name as typed by sales"),
        _f("BillingCity", "string"),
        _f("AnnualRevenue", "double"),
        _f("NumberOfEmployees", "bigint"),
        _f("Website", "string"),
        _f("External_Id__c", "string", description="shared key to snowflake.customers"),
        *_SF_AUDIT,
    ),
    key=("Id",),
    updated_at="LastModifiedDate",
    description="Companies in the CRM",
)

CONTACT = SourceTable(
    "crm",
    "contact",
    "json",
    (
        _f("Id", "string", True),
        _f("AccountId", "string", True),
        _f("FirstName", "string"),
        _f("LastName", "string", True),
        _f("Email", "string", description="PII"),
        _f("Phone", "string", description="PII"),
        _f("Title", "string"),
        _f("LeadSource", "string"),
        *_SF_AUDIT,
    ),
    key=("Id",),
    updated_at="LastModifiedDate",
    description="People at accounts",
    foreign_keys=(ForeignKey("AccountId", "account", "Id"),),
)

CAMPAIGN = SourceTable(
    "crm",
    "campaign",
    "json",
    (
        _f("Id", "string", True),
        _f("Name", "string", True),
        _f("Type", "string", description="Webinar, Email, Conference, Paid Search, ..."),
        _f("Status", "string"),
        _f("StartDate", "string", description="YYYY-MM-DD"),
        _f("EndDate", "string", description="YYYY-MM-DD"),
        _f("BudgetedCost", "double"),
        _f("ActualCost", "double"),
        *_SF_AUDIT,
    ),
    key=("Id",),
    updated_at="LastModifiedDate",
    description="Marketing campaigns",
)

CAMPAIGN_MEMBER = SourceTable(
    "crm",
    "campaign_member",
    "json",
    (
        _f("Id", "string", True),
        _f("CampaignId", "string", True),
        _f("ContactId", "string", True),
        _f("Status", "string", description="Sent, Opened, Responded"),
        _f("FirstRespondedDate", "string", description="YYYY-MM-DD; the touch date"),
        *_SF_AUDIT,
    ),
    key=("Id",),
    updated_at="LastModifiedDate",
    description="Campaign touches: a contact's membership in a campaign",
    foreign_keys=(
        ForeignKey("CampaignId", "campaign", "Id"),
        ForeignKey("ContactId", "contact", "Id"),
    ),
)

OPPORTUNITY = SourceTable(
    "crm",
    "opportunity",
    "json",
    (
        _f("Id", "string", True),
        _f("AccountId", "string", True),
        _f("Name", "string"),
        _f("StageName", "string", True, "Prospecting ... Closed Won, Closed Lost"),
        _f("Amount", "double"),
        _f("CurrencyIsoCode", "string", description="ISO 4217"),
        _f("CloseDate", "string", description="YYYY-MM-DD"),
        _f("LeadSource", "string"),
        _f("CampaignId", "string", description="primary campaign source"),
        _f("Probability", "double"),
        *_SF_AUDIT,
    ),
    key=("Id",),
    updated_at="LastModifiedDate",
    description="Deals",
    foreign_keys=(
        ForeignKey("AccountId", "account", "Id"),
        ForeignKey("CampaignId", "campaign", "Id"),
    ),
)

CUSTOMERS = SourceTable(
    "snowflake",
    "customers",
    "parquet",
    (
        _f("CUSTOMER_ID", "bigint", True),
        _f("CUSTOMER_NAME", "string", True),
        _f("EMAIL", "string", description="PII"),
        _f("COUNTRY_CODE", "string", description="ISO 3166-1 alpha-2, mixed case in the wild"),
        _f("REGION", "string"),
        _f("SEGMENT", "string", description="Enterprise, Mid-Market, SMB"),
        _f("CRM_ACCOUNT_EXTERNAL_ID", "string", description="crm.account.External_Id__c, or null"),
        _f("CREATED_AT", "timestamp", True),
        _f("UPDATED_AT", "timestamp", True),
    ),
    key=("CUSTOMER_ID",),
    updated_at="UPDATED_AT",
    description="Customers of the web shop",
)

PRODUCTS = SourceTable(
    "snowflake",
    "products",
    "parquet",
    (
        _f("PRODUCT_ID", "bigint", True),
        _f("PRODUCT_NAME", "string", True),
        _f("CATEGORY", "string"),
        _f("UNIT_PRICE", "decimal(12,2)", True),
        _f("CURRENCY", "string"),
        _f("UPDATED_AT", "timestamp", True),
    ),
    key=("PRODUCT_ID",),
    updated_at="UPDATED_AT",
    description="Product catalog",
)

ORDERS = SourceTable(
    "snowflake",
    "orders",
    "parquet",
    (
        _f("ORDER_ID", "bigint", True),
        _f("CUSTOMER_ID", "bigint", True),
        _f("ORDER_TS", "timestamp", True),
        _f("STATUS", "string", description="placed, shipped, delivered, returned, cancelled"),
        _f("CHANNEL", "string", description="web, mobile, partner, sales"),
        _f("CURRENCY", "string", description="ISO 4217"),
        _f("ORDER_TOTAL", "decimal(18,2)", True),
        _f("UPDATED_AT", "timestamp", True),
    ),
    key=("ORDER_ID",),
    updated_at="UPDATED_AT",
    description="Orders (header)",
    foreign_keys=(ForeignKey("CUSTOMER_ID", "customers", "CUSTOMER_ID"),),
)

ORDER_LINES = SourceTable(
    "snowflake",
    "order_lines",
    "csv.gz",
    (
        _f("ORDER_ID", "string", True, "CSV: every column arrives as text"),
        _f("LINE_NUMBER", "string", True),
        _f("PRODUCT_ID", "string", True),
        _f("QUANTITY", "string", True),
        _f("UNIT_PRICE", "string", True),
        _f("LINE_AMOUNT", "string", True),
        _f("UPDATED_AT", "string", True),
    ),
    key=("ORDER_ID", "LINE_NUMBER"),
    updated_at="UPDATED_AT",
    description="Order lines, unloaded as gzip CSV with a header",
    foreign_keys=(
        ForeignKey("ORDER_ID", "orders", "ORDER_ID"),
        ForeignKey("PRODUCT_ID", "products", "PRODUCT_ID"),
    ),
)

SOURCE_TABLES: tuple[SourceTable, ...] = (
    ACCOUNT,
    CONTACT,
    CAMPAIGN,
    CAMPAIGN_MEMBER,
    OPPORTUNITY,
    CUSTOMERS,
    PRODUCTS,
    ORDERS,
    ORDER_LINES,
)


def source_table(qualified_name: str) -> SourceTable:
    """Look a table up by `system.name`."""
    for table in SOURCE_TABLES:
        if table.qualified_name == qualified_name:
            return table
    raise KeyError(qualified_name)
