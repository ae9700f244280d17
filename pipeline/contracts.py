"""Every Bronze, Silver, Gold and operations table, declared once.

The pipeline builds its schemas, conforming expressions and quality rules from these
declarations; the quality checks evaluate the rules; the data catalog
(`docs/data-catalog.md`) is rendered from them; the tests read them. Nothing here
imports pyspark.

Rules are SQL boolean expressions that must be TRUE for a row to pass. They are
evaluated NULL-safely: a NULL result counts as a failure, so every row lands in
exactly one place (the table, or the quarantine with the rule and the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from lakelab.sources import SOURCE_TABLES, SourceTable, source_table

ContractLayer = Literal["bronze", "silver", "gold", "ops"]
RuleAction = Literal["warn", "drop", "fail"]
PiiHandling = Literal["none", "hash", "mask"]

# Columns Bronze adds to every record it ingests.
SOURCE_FILE = "_source_file"
BATCH_ID = "_batch_id"
INGESTED_AT = "_ingested_at"
RECORD_HASH = "_record_hash"
RUN_ID = "_run_id"
LINEAGE_COLUMNS = (SOURCE_FILE, BATCH_ID, INGESTED_AT, RECORD_HASH, RUN_ID)

# Helper columns the Bronze parser adds for its rules; never written to a table.
PARSE_ERROR = "_parse_error"
TYPE_ERRORS = "_type_errors"
UNEXPECTED_COLUMNS = "_unexpected_columns"
RAW_RECORD = "_raw_record"

# The reporting currency and the fixed rates Silver converts with. A lab needs results
# that do not move between runs, so the rates are reference data, not a feed.
REPORTING_CURRENCY = "USD"
FX_TO_USD: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CAD": 0.74,
    "AUD": 0.66,
    "CHF": 1.13,
    "JPY": 0.0067,
    "SEK": 0.095,
    "NOK": 0.094,
    "DKK": 0.145,
    "INR": 0.012,
    "BRL": 0.20,
    "MXN": 0.058,
    "SGD": 0.74,
    "NZD": 0.61,
    "PLN": 0.25,
}

# Country names as sales types them → ISO 3166-1 alpha-2. Keys are upper-cased.
COUNTRY_CODES: dict[str, str] = {
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "USA": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "UNITED KINGDOM": "GB",
    "UK": "GB",
    "GREAT BRITAIN": "GB",
    "ENGLAND": "GB",
    "GERMANY": "DE",
    "DEUTSCHLAND": "DE",
    "FRANCE": "FR",
    "SPAIN": "ES",
    "ITALY": "IT",
    "NETHERLANDS": "NL",
    "THE NETHERLANDS": "NL",
    "HOLLAND": "NL",
    "BELGIUM": "BE",
    "SWITZERLAND": "CH",
    "AUSTRIA": "AT",
    "SWEDEN": "SE",
    "NORWAY": "NO",
    "DENMARK": "DK",
    "FINLAND": "FI",
    "IRELAND": "IE",
    "POLAND": "PL",
    "PORTUGAL": "PT",
    "CANADA": "CA",
    "MEXICO": "MX",
    "BRAZIL": "BR",
    "ARGENTINA": "AR",
    "AUSTRALIA": "AU",
    "NEW ZEALAND": "NZ",
    "JAPAN": "JP",
    "CHINA": "CN",
    "INDIA": "IN",
    "SINGAPORE": "SG",
    "SOUTH KOREA": "KR",
    "KOREA": "KR",
    "SOUTH AFRICA": "ZA",
    "ISRAEL": "IL",
    "UNITED ARAB EMIRATES": "AE",
    "UAE": "AE",
}


@dataclass(frozen=True)
class Column:
    """One column of a table.

    `expr` (Silver only) is the Spark SQL expression over the Bronze columns that
    produces it; `pii` says how personal data is protected on the way.
    """

    name: str
    type: str
    description: str
    expr: str | None = None
    pii: PiiHandling = "none"
    nullable: bool = True


@dataclass(frozen=True)
class QualityRule:
    """An expectation: `expression` must be TRUE (NULL fails); `action` says what a failure does.

    warn: the row is kept and the failure counted; drop: the row goes to the quarantine
    with `reason` (a SQL string expression, else the description); fail: the run stops.
    """

    name: str
    expression: str
    action: RuleAction
    description: str
    reason: str | None = None


@dataclass(frozen=True)
class Reference:
    """`column` should match `ref_column` of the Silver table `ref_table` (checked with a join)."""

    column: str
    ref_table: str
    ref_column: str
    action: RuleAction = "warn"

    @property
    def flag_column(self) -> str:
        """The helper column the Silver transform sets to TRUE when the reference holds."""
        return f"_ref_ok_{self.column}"

    @property
    def rule(self) -> QualityRule:
        """The reference as a quality rule over its flag column."""
        return QualityRule(
            f"known_{self.column}",
            self.flag_column,
            self.action,
            f"{self.column} refers to an existing silver.{self.ref_table}.{self.ref_column}",
            f"concat('unknown {self.column}: ', coalesce(CAST({self.column} AS STRING), 'NULL'))",
        )


@dataclass(frozen=True)
class TableContract:
    """A table of the warehouse: schema, keys, layout and rules."""

    layer: ContractLayer
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    source: str | None = None  # `system.name` of the landing table it comes from
    updated_at: str | None = None  # the column that orders versions of a key
    partition_by: tuple[str, ...] = ()  # applied when `partition_facts_by_date` is on
    zorder_by: tuple[str, ...] = ()
    rules: tuple[QualityRule, ...] = ()
    references: tuple[Reference, ...] = ()
    allow_added_columns: bool = False
    fact: bool = False

    @property
    def qualified_name(self) -> str:
        """`silver.orders`."""
        return f"{self.layer}.{self.name}"

    def path(self, warehouse: str) -> str:
        """Where the Delta table lives under a warehouse root."""
        folder = "_ops" if self.layer == "ops" else self.layer
        return f"{warehouse.rstrip('/')}/{folder}/{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in declared order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """One column by name."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.qualified_name}.{name}")

    @property
    def all_rules(self) -> tuple[QualityRule, ...]:
        """Declared rules followed by the rules that the references imply."""
        return self.rules + tuple(r.rule for r in self.references)

    def ddl(self) -> str:
        """The schema as a Spark DDL string."""
        return ", ".join(f"`{c.name}` {c.type}" for c in self.columns)

    def partition_columns(self, partition_facts_by_date: bool) -> tuple[str, ...]:
        """Partition columns under the given physical-design choice."""
        return self.partition_by if partition_facts_by_date else ()


def _c(name: str, type_: str, description: str, expr: str | None = None, pii: PiiHandling = "none") -> Column:
    return Column(name, type_, description, expr, pii)


def _q(name: str) -> str:
    return f"`{name}`"


# ---------------------------------------------------------------------------------------------
# Conforming: how a delivered value becomes a typed one. Bronze checks that every delivered
# value converts (else the row is quarantined as a type mismatch); Silver converts with the
# same expressions, so a row Bronze accepted never turns NULL in Silver.

# Delivered type → conformed type, where they differ.
CONFORMED_TYPES: dict[str, dict[str, str]] = {
    "crm.account": {"CreatedDate": "timestamp", "LastModifiedDate": "timestamp"},
    "crm.contact": {"CreatedDate": "timestamp", "LastModifiedDate": "timestamp"},
    "crm.campaign": {
        "StartDate": "date",
        "EndDate": "date",
        "CreatedDate": "timestamp",
        "LastModifiedDate": "timestamp",
    },
    "crm.campaign_member": {
        "FirstRespondedDate": "date",
        "CreatedDate": "timestamp",
        "LastModifiedDate": "timestamp",
    },
    "crm.opportunity": {
        "Amount": "decimal(18,2)",
        "CloseDate": "date",
        "CreatedDate": "timestamp",
        "LastModifiedDate": "timestamp",
    },
    "snowflake.order_lines": {
        "ORDER_ID": "bigint",
        "LINE_NUMBER": "int",
        "PRODUCT_ID": "bigint",
        "QUANTITY": "int",
        "UNIT_PRICE": "decimal(12,2)",
        "LINE_AMOUNT": "decimal(18,2)",
        "UPDATED_AT": "timestamp",
    },
}


def conformed_type(table: SourceTable, field_name: str) -> str:
    """The type a delivered field is conformed to."""
    delivered = next(f.type for f in table.fields if f.name == field_name)
    return CONFORMED_TYPES.get(table.qualified_name, {}).get(field_name, delivered)


# Years a date or time may have at all: what ISO-8601 without a sign, Python, pandas at
# microseconds and every Parquet reader represent. Spark also takes '+10000-01-01'; no one else does.
MIN_YEAR, MAX_YEAR = 1, 9999
# Business dates and times fall in [1900-01-01, 2100-01-01): Silver quarantines the rest as out of
# range. The window also keeps every value inside what readers at nanoseconds hold (1677..2262).
DATE_WINDOW = ("1900-01-01", "2100-01-01")
# Money amounts in any currency: 0 <= amount < 10^15. With the highest reference rate (1.27) the
# USD amount stays below 1.27e15, inside decimal(18,2) (< 10^16), and a double still holds it to
# the cent up to 9e13 (2^53 / 100); above that only decimal columns are exact.
MONEY_LIMIT = 10**15


def _decimal_scale(type_: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", type_.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def conform_sql(column_sql: str, type_: str) -> str:
    """SQL that converts a delivered value to `type_`, NULL when it does not convert.

    Timestamps accept ISO-8601 with `Z`, `+hh:mm` or Salesforce's `+0000`; everything
    else goes through `try_cast` (text is trimmed first: CSV and hand-typed JSON pad it).
    A value that would change on the way is NULL too, so Bronze calls it a type mismatch:
    a date or time outside years 1..9999 (or not in the calendar, like 2024-02-30), a
    non-finite double (`1e400`, `NaN`, `Infinity`), and a decimal with more fractional
    digits than the type's scale (`10.125` as decimal(18,2)) or too many integer digits.
    """
    text = f"trim(CAST({column_sql} AS STRING))"
    if type_ == "timestamp":
        value = (
            f"coalesce(try_cast({text} AS TIMESTAMP), "
            f"try_to_timestamp({text}, \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"), "
            f"try_to_timestamp({text}, \"yyyy-MM-dd'T'HH:mm:ssZ\"))"
        )
        return f"CASE WHEN year({value}) BETWEEN {MIN_YEAR} AND {MAX_YEAR} THEN {value} END"
    if type_ == "date":
        value = f"try_cast({text} AS DATE)"
        return f"CASE WHEN year({value}) BETWEEN {MIN_YEAR} AND {MAX_YEAR} THEN {value} END"
    if type_ == "string":
        return f"CAST({column_sql} AS STRING)"
    if type_ in ("double", "float"):
        # NaN compares greater than every number in Spark, so this also rejects NaN.
        value = f"try_cast({text} AS {type_.upper()})"
        return f"CASE WHEN abs({value}) < CAST('Infinity' AS DOUBLE) THEN {value} END"
    decimal = _decimal_scale(type_)
    if decimal is not None:
        precision, scale = decimal
        # The same integer digits with every fractional digit a decimal can hold: if the value
        # at the type's scale differs from it, the cast would round.
        exact = f"try_cast({text} AS DECIMAL(38, {38 - (precision - scale)}))"
        value = f"try_cast({text} AS DECIMAL({precision}, {scale}))"
        return f"CASE WHEN {value} = {exact} THEN {value} END"
    return f"try_cast({text} AS {type_.upper()})"


def _conf(table: SourceTable, field_name: str) -> str:
    return conform_sql(_q(field_name), conformed_type(table, field_name))


def _currency_sql(column_sql: str) -> str:
    return f"upper(trim({column_sql}))"


def _to_usd_sql(amount_sql: str, currency_sql: str) -> str:
    cases = " ".join(f"WHEN '{code}' THEN {rate}" for code, rate in FX_TO_USD.items())
    # NULL currency is the shop's base currency (USD); an unknown one yields NULL and the
    # `known_currency` rule quarantines the row.
    # try_cast: an amount too large for decimal(18,2) in USD is NULL here, and the amount's own
    # range rule quarantines the row (a cast error would stop the whole run).
    return (
        f"try_cast({amount_sql} * (CASE coalesce({currency_sql}, '{REPORTING_CURRENCY}') {cases} END) "
        "AS DECIMAL(18,2))"
    )


def _country_code_sql(column_sql: str) -> str:
    cases = " ".join(f"WHEN '{name}' THEN '{code}'" for name, code in COUNTRY_CODES.items())
    text = f"upper(trim({column_sql}))"
    return f"CASE WHEN {text} RLIKE '^[A-Z]{{2}}$' THEN {text} ELSE (CASE {text} {cases} END) END"


def _email_sql(column_sql: str) -> str:
    return f"nullif(lower(trim({column_sql})), '')"


def _hash_sql(value_sql: str) -> str:
    return f"sha2({value_sql}, 256)"


def _mask_phone_sql(column_sql: str) -> str:
    digits = f"regexp_replace({column_sql}, '[^0-9]', '')"
    return f"CASE WHEN length({digits}) >= 4 THEN concat('***', right({digits}, 4)) END"


_CURRENCIES_SQL = ", ".join(f"'{code}'" for code in FX_TO_USD)
_FAR_PAST = f"DATE'{DATE_WINDOW[0]}'"
_FAR_FUTURE = f"DATE'{DATE_WINDOW[1]}'"
_MONEY_LIMIT_SQL = str(MONEY_LIMIT)
# Java regex inside a SQL literal: no backslashes, so "not @ and not a blank" is spelled out.
_EMAIL_PATTERN = "'^[^@ ]+@[^@ ]+[.][^@ ]+$'"


def _lineage() -> tuple[Column, ...]:
    return (
        _c(BATCH_ID, "int", "landing batch the row came from"),
        _c(RECORD_HASH, "string", "SHA-256 of the record as delivered"),
        _c(SOURCE_FILE, "string", "landing file the row came from"),
        _c(INGESTED_AT, "timestamp", "when Bronze ingested the record"),
    )


def _required(*columns: str) -> QualityRule:
    return QualityRule(
        "required_present",
        " AND ".join(f"{c} IS NOT NULL" for c in columns),
        "drop",
        f"required fields present: {', '.join(columns)}",
        "concat('missing required: ', concat_ws(', ', "
        + ", ".join(f"CASE WHEN {c} IS NULL THEN '{c}' END" for c in columns)
        + "))",
    )


def _in_window(column: str) -> str:
    """SQL: a date or time column is NULL or inside `DATE_WINDOW`."""
    day = f"CAST({column} AS DATE)"
    return f"({column} IS NULL OR ({day} >= {_FAR_PAST} AND {day} < {_FAR_FUTURE}))"


def _dates_in_range(*columns: str) -> QualityRule:
    """Every listed date or time column is inside the business window (or NULL)."""
    return QualityRule(
        "dates_in_range",
        " AND ".join(_in_window(c) for c in columns),
        "drop",
        f"dates and times fall in [{DATE_WINDOW[0]}, {DATE_WINDOW[1]}): {', '.join(columns)}",
        "concat('out of range: ', concat_ws(', ', "
        + ", ".join(
            f"CASE WHEN NOT {_in_window(c)} THEN concat('{c} = ', CAST({c} AS STRING)) END" for c in columns
        )
        + "))",
    )


def _money_ok(column: str) -> str:
    """SQL: a money column is NULL or in [0, MONEY_LIMIT)."""
    return f"({column} IS NULL OR ({column} >= 0 AND {column} < {_MONEY_LIMIT_SQL}))"


_MONEY_RANGE = f"not negative and under {MONEY_LIMIT:.0e}".replace("e+", "e")

_MODIFIED_AFTER_CREATED = QualityRule(
    "modified_after_created",
    "created_at IS NULL OR updated_at IS NULL OR updated_at >= created_at",
    "warn",
    "a record is not last modified before it was created (counted, kept: the source's clocks decide)",
)

_HAS_LINEAGE = QualityRule(
    "has_lineage",
    f"{BATCH_ID} IS NOT NULL AND {RECORD_HASH} IS NOT NULL",
    "fail",
    "every row carries its batch and record hash (a pipeline invariant: a failure is a bug)",
)


# ---------------------------------------------------------------------------------------------
# Bronze: one table per landing table, the fields as delivered plus lineage.


def _bronze_rules(source: SourceTable, allow_added_columns: bool) -> tuple[QualityRule, ...]:
    must_have = (*source.key, source.updated_at)
    rules = [
        QualityRule(
            "parseable",
            f"{PARSE_ERROR} IS NULL",
            "drop",
            "the record parses in its delivered format: valid UTF-8; for a JSON line, within "
            "pipeline.max_record_bytes, one object with nothing after it, and field names that are "
            "distinct, also ignoring case, and match the declared names' case",
            f"{PARSE_ERROR}",
        ),
        QualityRule(
            "types_conform",
            f"size({TYPE_ERRORS}) = 0",
            "drop",
            "every delivered value converts to its conformed type unchanged (a calendar date in years "
            "1..9999, a finite number, no more fractional digits than a decimal's scale)",
            f"concat('type mismatch: ', array_join({TYPE_ERRORS}, ', '))",
        ),
        QualityRule(
            "key_present",
            " AND ".join(f"nullif(trim(CAST({_q(c)} AS STRING)), '') IS NOT NULL" for c in must_have),
            "drop",
            f"key and version present: {', '.join(must_have)}",
            "concat('missing key or version: ', concat_ws(', ', "
            + ", ".join(
                f"CASE WHEN nullif(trim(CAST({_q(c)} AS STRING)), '') IS NULL THEN '{c}' END"
                for c in must_have
            )
            + "))",
        ),
    ]
    if not allow_added_columns:
        rules.append(
            QualityRule(
                "no_added_columns",
                f"size({UNEXPECTED_COLUMNS}) = 0",
                "drop",
                "the contract does not allow columns beyond the declared ones",
                f"concat('schema drift, column not allowed: ', array_join({UNEXPECTED_COLUMNS}, ', '))",
            )
        )
    return tuple(rules)


def bronze_name(source: SourceTable) -> str:
    """`crm_account`, `snowflake_orders`."""
    return f"{source.system}_{source.name}"


# Salesforce orgs add custom fields all the time, so CRM objects evolve; the CSV unload is
# positional, so an added column there is a breaking change that must be looked at.
_ALLOWS_ADDED_COLUMNS = {t.qualified_name for t in SOURCE_TABLES} - {"snowflake.order_lines"}


def _bronze(source: SourceTable) -> TableContract:
    allow = source.qualified_name in _ALLOWS_ADDED_COLUMNS
    columns = tuple(
        _c(f.name, f.type, f.description or f"as delivered by {source.system}") for f in source.fields
    )
    return TableContract(
        layer="bronze",
        name=bronze_name(source),
        description=f"{source.description}: every accepted record of {source.qualified_name}, as delivered",
        columns=(
            *columns,
            *_lineage(),
            _c(RUN_ID, "string", "pipeline run that ingested the record"),
        ),
        key=(),
        source=source.qualified_name,
        updated_at=source.updated_at,
        rules=_bronze_rules(source, allow),
        allow_added_columns=allow,
        fact=source.name in ("orders", "order_lines"),
    )


BRONZE: tuple[TableContract, ...] = tuple(_bronze(s) for s in SOURCE_TABLES)

# ---------------------------------------------------------------------------------------------
# Silver: typed, conformed, PII protected, one row per key (the latest version).

_acc = source_table("crm.account")
_con = source_table("crm.contact")
_cmp = source_table("crm.campaign")
_cmm = source_table("crm.campaign_member")
_opp = source_table("crm.opportunity")
_cus = source_table("snowflake.customers")
_prd = source_table("snowflake.products")
_ord = source_table("snowflake.orders")
_orl = source_table("snowflake.order_lines")


def _audit(table: SourceTable) -> tuple[Column, ...]:
    return (
        _c("created_at", "timestamp", "creation time, UTC", _conf(table, "CreatedDate")),
        _c("updated_at", "timestamp", "time of the last change, UTC", _conf(table, "LastModifiedDate")),
        _c("is_deleted", "boolean", "soft delete flag", "coalesce(IsDeleted, false)"),
    )


SILVER_ACCOUNT = TableContract(
    layer="silver",
    name="account",
    description="CRM accounts (companies), latest version per Id, country conformed to ISO-2",
    source="crm.account",
    key=("account_id",),
    updated_at="updated_at",
    zorder_by=("external_id",),
    columns=(
        _c("account_id", "string", "Salesforce account Id", "Id"),
        _c("account_name", "string", "company name", "trim(Name)"),
        _c("industry", "string", "industry", "trim(Industry)"),
        _c("account_type", "string", "Customer, Prospect, Partner", "trim(Type)"),
        _c("billing_country", "string", "country as typed by sales", "trim(BillingCountry)"),
        _c(
            "billing_country_code",
            "string",
            "ISO 3166-1 alpha-2, upper case",
            _country_code_sql("BillingCountry"),
        ),
        _c("billing_city", "string", "city", "trim(BillingCity)"),
        _c("annual_revenue", "double", "annual revenue", "AnnualRevenue"),
        _c("number_of_employees", "bigint", "head count", "NumberOfEmployees"),
        _c("website", "string", "web site, lower case", "lower(trim(Website))"),
        _c(
            "external_id",
            "string",
            "shared key to silver.customers.crm_account_external_id",
            "External_Id__c",
        ),
        *_audit(_acc),
        *_lineage(),
    ),
    rules=(
        _required("account_name"),
        QualityRule(
            "country_code_known",
            "billing_country IS NULL OR billing_country_code IS NOT NULL",
            "warn",
            "a typed country maps to an ISO-2 code",
        ),
        QualityRule(
            "size_in_range",
            f"{_money_ok('annual_revenue')} AND (number_of_employees IS NULL OR number_of_employees >= 0)",
            "drop",
            f"annual revenue is {_MONEY_RANGE}; head count is not negative",
            "concat('out of range: annual_revenue = ', coalesce(CAST(annual_revenue AS STRING), 'NULL'), "
            "', number_of_employees = ', coalesce(CAST(number_of_employees AS STRING), 'NULL'))",
        ),
        _dates_in_range("created_at", "updated_at"),
        _MODIFIED_AFTER_CREATED,
        _HAS_LINEAGE,
    ),
)

SILVER_CONTACT = TableContract(
    layer="silver",
    name="contact",
    description="CRM contacts, e-mail hashed and phone masked",
    source="crm.contact",
    key=("contact_id",),
    updated_at="updated_at",
    zorder_by=("account_id",),
    columns=(
        _c("contact_id", "string", "Salesforce contact Id", "Id"),
        _c("account_id", "string", "the contact's account", "AccountId"),
        _c("first_name", "string", "first name", "trim(FirstName)"),
        _c(
            "last_name_initial",
            "string",
            "initial of the last name (the name itself is not kept)",
            "upper(left(trim(LastName), 1))",
            pii="mask",
        ),
        _c(
            "email_hash",
            "string",
            "SHA-256 of the lower-cased, trimmed e-mail",
            _hash_sql(_email_sql("Email")),
            pii="hash",
        ),
        _c(
            "email_domain",
            "string",
            "domain part of the e-mail",
            f"substring_index({_email_sql('Email')}, '@', -1)",
        ),
        _c(
            "email_valid",
            "boolean",
            "the e-mail looks like one (NULL when there is none)",
            f"{_email_sql('Email')} RLIKE {_EMAIL_PATTERN}",
        ),
        _c("phone_masked", "string", "last four digits of the phone", _mask_phone_sql("Phone"), pii="mask"),
        _c("title", "string", "job title", "trim(Title)"),
        _c("lead_source", "string", "how the contact came in", "trim(LeadSource)"),
        *_audit(_con),
        *_lineage(),
    ),
    rules=(
        QualityRule(
            "required_present",
            "account_id IS NOT NULL AND last_name_initial IS NOT NULL",
            "drop",
            "required fields present: account_id, last name",
            "concat('missing required: ', concat_ws(', ', CASE WHEN account_id IS NULL THEN 'AccountId' END, "
            "CASE WHEN last_name_initial IS NULL THEN 'LastName' END))",
        ),
        QualityRule(
            "email_valid",
            "email_valid IS NOT FALSE",
            "warn",
            "an e-mail, when present, looks like one",
        ),
        _dates_in_range("created_at", "updated_at"),
        _MODIFIED_AFTER_CREATED,
        _HAS_LINEAGE,
    ),
    references=(Reference("account_id", "account", "account_id"),),
)

SILVER_CAMPAIGN = TableContract(
    layer="silver",
    name="campaign",
    description="Marketing campaigns",
    source="crm.campaign",
    key=("campaign_id",),
    updated_at="updated_at",
    columns=(
        _c("campaign_id", "string", "Salesforce campaign Id", "Id"),
        _c("campaign_name", "string", "name", "trim(Name)"),
        _c("campaign_type", "string", "Webinar, Email, Conference, Paid Search, ...", "trim(Type)"),
        _c("status", "string", "status", "trim(Status)"),
        _c("start_date", "date", "first day", _conf(_cmp, "StartDate")),
        _c("end_date", "date", "last day", _conf(_cmp, "EndDate")),
        _c("budgeted_cost", "double", "budget", "BudgetedCost"),
        _c("actual_cost", "double", "cost so far", "ActualCost"),
        *_audit(_cmp),
        *_lineage(),
    ),
    rules=(
        _required("campaign_name"),
        QualityRule(
            "costs_in_range",
            f"{_money_ok('budgeted_cost')} AND {_money_ok('actual_cost')}",
            "drop",
            f"costs are {_MONEY_RANGE}",
            "concat('out of range: budgeted_cost = ', coalesce(CAST(budgeted_cost AS STRING), 'NULL'), "
            "', actual_cost = ', coalesce(CAST(actual_cost AS STRING), 'NULL'))",
        ),
        QualityRule(
            "dates_ordered",
            "start_date IS NULL OR end_date IS NULL OR start_date <= end_date",
            "warn",
            "a campaign does not end before it starts",
        ),
        _dates_in_range("start_date", "end_date", "created_at", "updated_at"),
        _MODIFIED_AFTER_CREATED,
        _HAS_LINEAGE,
    ),
)

SILVER_CAMPAIGN_MEMBER = TableContract(
    layer="silver",
    name="campaign_member",
    description="Campaign touches: a contact's membership in a campaign, dated by the first response",
    source="crm.campaign_member",
    key=("member_id",),
    updated_at="updated_at",
    zorder_by=("contact_id",),
    columns=(
        _c("member_id", "string", "Salesforce campaign member Id", "Id"),
        _c("campaign_id", "string", "the campaign", "CampaignId"),
        _c("contact_id", "string", "the contact", "ContactId"),
        _c("status", "string", "Sent, Opened, Responded", "trim(Status)"),
        _c("touch_date", "date", "first response: the date of the touch", _conf(_cmm, "FirstRespondedDate")),
        *_audit(_cmm),
        *_lineage(),
    ),
    rules=(
        _required("campaign_id", "contact_id"),
        QualityRule(
            "touch_date_in_range",
            _in_window("touch_date"),
            "drop",
            f"a touch date falls in [{DATE_WINDOW[0]}, {DATE_WINDOW[1]})",
            "concat('out of range: touch_date = ', touch_date)",
        ),
        _dates_in_range("created_at", "updated_at"),
        _MODIFIED_AFTER_CREATED,
        _HAS_LINEAGE,
    ),
    references=(
        Reference("campaign_id", "campaign", "campaign_id"),
        Reference("contact_id", "contact", "contact_id"),
    ),
)

SILVER_OPPORTUNITY = TableContract(
    layer="silver",
    name="opportunity",
    description="CRM deals, amounts conformed to USD",
    source="crm.opportunity",
    key=("opportunity_id",),
    updated_at="updated_at",
    zorder_by=("account_id",),
    columns=(
        _c("opportunity_id", "string", "Salesforce opportunity Id", "Id"),
        _c("account_id", "string", "the account", "AccountId"),
        _c("opportunity_name", "string", "name", "trim(Name)"),
        _c("stage_name", "string", "Prospecting ... Closed Won, Closed Lost", "trim(StageName)"),
        _c("is_won", "boolean", "stage is Closed Won", "coalesce(trim(StageName) = 'Closed Won', false)"),
        _c("amount", "decimal(18,2)", "amount in the deal currency", _conf(_opp, "Amount")),
        _c("currency", "string", "ISO 4217, upper case", _currency_sql("CurrencyIsoCode")),
        _c(
            "amount_usd",
            "decimal(18,2)",
            "amount in USD at the fixed reference rates",
            _to_usd_sql(_conf(_opp, "Amount"), _currency_sql("CurrencyIsoCode")),
        ),
        _c("close_date", "date", "expected or actual close date", _conf(_opp, "CloseDate")),
        _c("lead_source", "string", "how the deal came in", "trim(LeadSource)"),
        _c("campaign_id", "string", "primary campaign source", "CampaignId"),
        _c("probability", "double", "win probability, percent", "Probability"),
        *_audit(_opp),
        *_lineage(),
    ),
    rules=(
        _required("account_id", "stage_name"),
        QualityRule(
            "amount_in_range",
            _money_ok("amount"),
            "drop",
            f"an amount is {_MONEY_RANGE}",
            "concat('out of range: amount = ', amount)",
        ),
        QualityRule(
            "close_date_in_range",
            _in_window("close_date"),
            "drop",
            f"a close date falls in [{DATE_WINDOW[0]}, {DATE_WINDOW[1]})",
            "concat('out of range: close_date = ', close_date)",
        ),
        QualityRule(
            "known_currency",
            f"currency IS NULL OR currency IN ({_CURRENCIES_SQL})",
            "drop",
            "the currency is one the reference rates cover",
            "concat('unknown currency: ', currency)",
        ),
        _dates_in_range("created_at", "updated_at"),
        _MODIFIED_AFTER_CREATED,
        _HAS_LINEAGE,
    ),
    references=(
        Reference("account_id", "account", "account_id"),
        Reference("campaign_id", "campaign", "campaign_id"),
    ),
)

SILVER_CUSTOMERS = TableContract(
    layer="silver",
    name="customers",
    description="Web-shop customers, e-mail hashed, country code upper ISO-2",
    source="snowflake.customers",
    key=("customer_id",),
    updated_at="updated_at",
    zorder_by=("crm_account_external_id",),
    columns=(
        _c("customer_id", "bigint", "Snowflake customer id", "CUSTOMER_ID"),
        _c("customer_name", "string", "name", "trim(CUSTOMER_NAME)"),
        _c(
            "email_hash",
            "string",
            "SHA-256 of the lower-cased, trimmed e-mail",
            _hash_sql(_email_sql("EMAIL")),
            pii="hash",
        ),
        _c(
            "email_domain",
            "string",
            "domain part of the e-mail",
            f"substring_index({_email_sql('EMAIL')}, '@', -1)",
        ),
        _c(
            "email_valid",
            "boolean",
            "the e-mail looks like one (NULL when there is none)",
            f"{_email_sql('EMAIL')} RLIKE {_EMAIL_PATTERN}",
        ),
        _c(
            "country_code",
            "string",
            "ISO 3166-1 alpha-2, upper case",
            "nullif(upper(trim(COUNTRY_CODE)), '')",
        ),
        _c("region", "string", "sales region", "trim(REGION)"),
        _c("segment", "string", "Enterprise, Mid-Market, SMB", "trim(SEGMENT)"),
        _c(
            "crm_account_external_id",
            "string",
            "crm account External_Id__c: the link to silver.account.external_id",
            "nullif(trim(CRM_ACCOUNT_EXTERNAL_ID), '')",
        ),
        _c("created_at", "timestamp", "creation time, UTC", "CREATED_AT"),
        _c("updated_at", "timestamp", "time of the last change, UTC", "UPDATED_AT"),
        *_lineage(),
    ),
    rules=(
        _required("customer_name"),
        QualityRule(
            "created_in_range",
            _in_window("created_at"),
            "drop",
            f"a creation time falls in [{DATE_WINDOW[0]}, {DATE_WINDOW[1]})",
            "concat('out of range: created_at = ', created_at)",
        ),
        QualityRule(
            "email_valid",
            "email_valid IS NOT FALSE",
            "warn",
            "an e-mail, when present, looks like one",
        ),
        QualityRule(
            "country_code_valid",
            "country_code IS NULL OR country_code RLIKE '^[A-Z]{2}$'",
            "warn",
            "a country code is two letters",
        ),
        _dates_in_range("updated_at"),
        _MODIFIED_AFTER_CREATED,
        _HAS_LINEAGE,
    ),
)

SILVER_PRODUCTS = TableContract(
    layer="silver",
    name="products",
    description="Product catalog",
    source="snowflake.products",
    key=("product_id",),
    updated_at="updated_at",
    columns=(
        _c("product_id", "bigint", "Snowflake product id", "PRODUCT_ID"),
        _c("product_name", "string", "name", "trim(PRODUCT_NAME)"),
        _c("category", "string", "category", "trim(CATEGORY)"),
        _c("unit_price", "decimal(12,2)", "list price in `currency`", "UNIT_PRICE"),
        _c("currency", "string", "ISO 4217, upper case", _currency_sql("CURRENCY")),
        _c("updated_at", "timestamp", "time of the last change, UTC", "UPDATED_AT"),
        *_lineage(),
    ),
    rules=(
        _required("product_name", "unit_price"),
        QualityRule(
            "price_in_range",
            _money_ok("unit_price"),
            "drop",
            f"a price is {_MONEY_RANGE}",
            "concat('out of range: unit_price = ', unit_price)",
        ),
        QualityRule(
            "known_currency",
            f"currency IS NULL OR currency IN ({_CURRENCIES_SQL})",
            "drop",
            "the currency is one the reference rates cover",
            "concat('unknown currency: ', currency)",
        ),
        _dates_in_range("updated_at"),
        _HAS_LINEAGE,
    ),
)

SILVER_ORDERS = TableContract(
    layer="silver",
    name="orders",
    description="Web-shop orders, totals conformed to USD; partitioned by order date",
    source="snowflake.orders",
    key=("order_id",),
    updated_at="updated_at",
    partition_by=("dt",),
    zorder_by=("customer_id",),
    fact=True,
    columns=(
        _c("order_id", "bigint", "Snowflake order id", "ORDER_ID"),
        _c("customer_id", "bigint", "the customer", "CUSTOMER_ID"),
        _c("order_ts", "timestamp", "when the order was placed, UTC", "ORDER_TS"),
        _c("dt", "date", "order date (the partition column)", "CAST(ORDER_TS AS DATE)"),
        _c("status", "string", "placed, shipped, delivered, returned, cancelled", "lower(trim(STATUS))"),
        _c("channel", "string", "web, mobile, partner, sales", "lower(trim(CHANNEL))"),
        _c("currency", "string", "ISO 4217, upper case", _currency_sql("CURRENCY")),
        _c("order_total", "decimal(18,2)", "total in the order currency", "ORDER_TOTAL"),
        _c(
            "order_total_usd",
            "decimal(18,2)",
            "total in USD at the fixed reference rates",
            _to_usd_sql("ORDER_TOTAL", _currency_sql("CURRENCY")),
        ),
        _c(
            "is_revenue",
            "boolean",
            "counts as revenue (not cancelled or returned)",
            "coalesce(lower(trim(STATUS)) NOT IN ('cancelled', 'returned'), true)",
        ),
        _c("updated_at", "timestamp", "time of the last change, UTC", "UPDATED_AT"),
        *_lineage(),
    ),
    rules=(
        QualityRule(
            "total_in_range",
            f"order_total IS NOT NULL AND {_money_ok('order_total')}",
            "drop",
            f"an order total is present, {_MONEY_RANGE}",
            "concat('out of range: order_total = ', coalesce(CAST(order_total AS STRING), 'NULL'))",
        ),
        QualityRule(
            "order_ts_in_range",
            f"order_ts IS NOT NULL AND {_in_window('order_ts')}",
            "drop",
            f"an order time is present and falls in [{DATE_WINDOW[0]}, {DATE_WINDOW[1]})",
            "concat('out of range: order_ts = ', coalesce(CAST(order_ts AS STRING), 'NULL'))",
        ),
        QualityRule(
            "known_currency",
            f"currency IS NULL OR currency IN ({_CURRENCIES_SQL})",
            "drop",
            "the currency is one the reference rates cover",
            "concat('unknown currency: ', currency)",
        ),
        _dates_in_range("updated_at"),
        _HAS_LINEAGE,
    ),
    references=(Reference("customer_id", "customers", "customer_id"),),
)

SILVER_ORDER_LINES = TableContract(
    layer="silver",
    name="order_lines",
    description="Order lines, typed from the CSV unload",
    source="snowflake.order_lines",
    key=("order_id", "line_number"),
    updated_at="updated_at",
    zorder_by=("order_id",),
    fact=True,
    columns=(
        _c("order_id", "bigint", "the order", _conf(_orl, "ORDER_ID")),
        _c("line_number", "int", "position in the order", _conf(_orl, "LINE_NUMBER")),
        _c("product_id", "bigint", "the product", _conf(_orl, "PRODUCT_ID")),
        _c("quantity", "int", "units", _conf(_orl, "QUANTITY")),
        _c("unit_price", "decimal(12,2)", "price per unit, order currency", _conf(_orl, "UNIT_PRICE")),
        _c(
            "line_amount", "decimal(18,2)", "quantity times price, order currency", _conf(_orl, "LINE_AMOUNT")
        ),
        _c("updated_at", "timestamp", "time of the last change, UTC", _conf(_orl, "UPDATED_AT")),
        *_lineage(),
    ),
    rules=(
        _required("product_id", "quantity", "unit_price", "line_amount"),
        QualityRule(
            "quantity_in_range",
            "quantity IS NULL OR quantity > 0",
            "drop",
            "a quantity is positive",
            "concat('out of range: quantity = ', quantity)",
        ),
        QualityRule(
            "amounts_in_range",
            f"{_money_ok('unit_price')} AND {_money_ok('line_amount')}",
            "drop",
            f"prices and amounts are {_MONEY_RANGE}",
            "concat('out of range: unit_price = ', coalesce(CAST(unit_price AS STRING), 'NULL'), "
            "', line_amount = ', coalesce(CAST(line_amount AS STRING), 'NULL'))",
        ),
        _dates_in_range("updated_at"),
        _HAS_LINEAGE,
    ),
    references=(
        Reference("order_id", "orders", "order_id"),
        Reference("product_id", "products", "product_id"),
    ),
)

SILVER: tuple[TableContract, ...] = (
    SILVER_ACCOUNT,
    SILVER_CONTACT,
    SILVER_CAMPAIGN,
    SILVER_CAMPAIGN_MEMBER,
    SILVER_OPPORTUNITY,
    SILVER_CUSTOMERS,
    SILVER_PRODUCTS,
    SILVER_ORDERS,
    SILVER_ORDER_LINES,
)

# ---------------------------------------------------------------------------------------------
# Gold: recomputed from Silver whenever Silver changed.

ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear")
ATTRIBUTION_DIMENSIONS = ("lead_source", "campaign")

GOLD_REVENUE_ATTRIBUTION = TableContract(
    layer="gold",
    name="revenue_attribution",
    description=(
        "Order revenue of CRM-linked customers attributed to the touches before each order "
        "(campaign responses of the account's contacts and the account's opportunities), under "
        "first-touch, last-touch and linear models, by lead source or campaign and by month. "
        "For every model, dimension and month the attributed revenue sums to the attributable revenue."
    ),
    key=("model", "dimension", "dimension_value", "month"),
    zorder_by=("month",),
    columns=(
        _c("model", "string", "first_touch, last_touch or linear"),
        _c("dimension", "string", "lead_source or campaign"),
        _c("dimension_value", "string", "the lead source or campaign Id ('(none)' when the touch has none)"),
        _c("month", "date", "first day of the order month"),
        _c(
            "attributed_revenue_usd",
            "decimal(18,2)",
            "revenue credited, USD (exact cents, largest remainder)",
        ),
        _c("attributed_orders", "double", "orders credited (fractional under linear)"),
    ),
    rules=(
        QualityRule(
            "revenue_not_negative",
            "attributed_revenue_usd >= 0",
            "fail",
            "attributed revenue is never negative",
        ),
    ),
)

GOLD_CUSTOMER_360 = TableContract(
    layer="gold",
    name="customer_360",
    description="One row per customer: profile, linked CRM account, orders and lifetime value",
    key=("customer_id",),
    zorder_by=("customer_id",),
    columns=(
        _c("customer_id", "bigint", "Snowflake customer id"),
        _c("customer_name", "string", "name"),
        _c("country_code", "string", "ISO-2"),
        _c("region", "string", "sales region"),
        _c("segment", "string", "Enterprise, Mid-Market, SMB"),
        _c("account_id", "string", "linked CRM account, if any"),
        _c("industry", "string", "CRM industry, if linked"),
        _c("first_order_date", "date", "first revenue order"),
        _c("last_order_date", "date", "latest revenue order"),
        _c("orders", "bigint", "revenue orders"),
        _c("lifetime_value_usd", "decimal(18,2)", "sum of revenue order totals, USD"),
        _c("average_order_value_usd", "decimal(18,2)", "lifetime value / orders"),
        _c("won_opportunities", "bigint", "Closed Won deals of the linked account"),
        _c("won_opportunity_amount_usd", "decimal(18,2)", "their amount, USD"),
        _c("campaign_touches", "bigint", "campaign responses of the linked account's contacts"),
    ),
    rules=(
        QualityRule(
            "ltv_not_negative",
            "lifetime_value_usd >= 0",
            "fail",
            "lifetime value is never negative",
        ),
    ),
)

GOLD_RFM = TableContract(
    layer="gold",
    name="rfm_segments",
    description="Recency, frequency and monetary quintiles per customer with revenue, and a segment",
    key=("customer_id",),
    columns=(
        _c("customer_id", "bigint", "Snowflake customer id"),
        _c("recency_days", "int", "days from the last order to the reference date (the latest order date)"),
        _c("frequency", "bigint", "revenue orders"),
        _c("monetary_usd", "decimal(18,2)", "revenue, USD"),
        _c("r_score", "int", "1..5, 5 = most recent"),
        _c("f_score", "int", "1..5, 5 = most frequent"),
        _c("m_score", "int", "1..5, 5 = highest revenue"),
        _c("rfm_segment", "string", "Champions, Loyal, Potential, New, At Risk, Hibernating"),
    ),
    rules=(
        QualityRule(
            "scores_in_range",
            "r_score BETWEEN 1 AND 5 AND f_score BETWEEN 1 AND 5 AND m_score BETWEEN 1 AND 5",
            "fail",
            "scores are quintiles",
        ),
    ),
)

GOLD_COHORT_RETENTION = TableContract(
    layer="gold",
    name="cohort_retention",
    description="Monthly cohorts by first order month: customers active N months later",
    key=("cohort_month", "months_since_first"),
    columns=(
        _c("cohort_month", "date", "month of the customers' first revenue order"),
        _c("months_since_first", "int", "0 = the cohort month"),
        _c("cohort_size", "bigint", "customers in the cohort"),
        _c("active_customers", "bigint", "of them, customers with a revenue order that month"),
        _c("retention_rate", "double", "active / size"),
    ),
    rules=(
        QualityRule(
            "retention_is_a_rate",
            "retention_rate >= 0 AND retention_rate <= 1",
            "fail",
            "retention is between 0 and 1",
        ),
    ),
)

GOLD_DAILY_REVENUE = TableContract(
    layer="gold",
    name="daily_revenue",
    description="Revenue per order date, region and segment, USD",
    key=("dt", "region", "segment"),
    zorder_by=("region",),
    columns=(
        _c("dt", "date", "order date"),
        _c("region", "string", "customer region ('Unknown' when the customer is unknown)"),
        _c("segment", "string", "customer segment ('Unknown' when the customer is unknown)"),
        _c("orders", "bigint", "revenue orders"),
        _c("customers", "bigint", "distinct customers"),
        _c("revenue_usd", "decimal(18,2)", "revenue, USD"),
    ),
    rules=(
        QualityRule(
            "revenue_not_negative",
            "revenue_usd >= 0",
            "fail",
            "revenue is never negative",
        ),
    ),
)

GOLD: tuple[TableContract, ...] = (
    GOLD_REVENUE_ATTRIBUTION,
    GOLD_CUSTOMER_360,
    GOLD_RFM,
    GOLD_COHORT_RETENTION,
    GOLD_DAILY_REVENUE,
)

# ---------------------------------------------------------------------------------------------
# Operations: the quarantine, rule results and the run log (also the batch ledger).

QUARANTINE = TableContract(
    layer="ops",
    name="quarantine",
    description="Dead-letter table: every record Bronze or Silver rejected, with the rule and the reason",
    columns=(
        _c("layer", "string", "bronze or silver"),
        _c("table_name", "string", "the table the record was meant for"),
        _c("batch_id", "int", "landing batch"),
        _c("rule", "string", "the first rule that failed"),
        _c("reason", "string", "why, with the offending values (all failed rules)"),
        _c(
            "raw_record",
            "string",
            "the record as delivered (JSON line, or the row as JSON), always valid UTF-8: a byte "
            "sequence that is not UTF-8 reads as U+FFFD here; raw_bytes holds the exact bytes",
        ),
        _c("source_file", "string", "landing file"),
        _c("record_hash", "string", "SHA-256 of the record as delivered"),
        _c("run_id", "string", "pipeline run"),
        _c("quarantined_at", "timestamp", "when"),
        _c(
            "raw_bytes",
            "binary",
            "the exact bytes of raw_record before any repair (for a JSON line, the bytes delivered); "
            "NULL in rows written before the column existed",
        ),
    ),
)

QUALITY_RESULTS = TableContract(
    layer="ops",
    name="quality_results",
    description="Per run, per table and rule: rows evaluated and rows that failed",
    columns=(
        _c("run_id", "string", "pipeline run"),
        _c("layer", "string", "bronze or silver or gold"),
        _c("table_name", "string", "the table"),
        _c("rule", "string", "rule name"),
        _c("action", "string", "warn, drop or fail"),
        _c("rows_evaluated", "bigint", "rows the rule saw"),
        _c("rows_failed", "bigint", "rows for which it was not TRUE"),
        _c("batch_from", "int", "first batch of the range"),
        _c("batch_to", "int", "last batch of the range"),
        _c("recorded_at", "timestamp", "when"),
    ),
)

RUN_LOG = TableContract(
    layer="ops",
    name="run_log",
    description=(
        "One row per run, layer and table: batches processed, rows in/out/quarantined and the "
        "reconciliation. Also the ledger: a table's last batch is the highest `batch_to` logged."
    ),
    columns=(
        _c("run_id", "string", "pipeline run"),
        _c("layer", "string", "bronze, silver or gold"),
        _c("table_name", "string", "the table"),
        _c("batch_from", "int", "first batch processed (NULL for gold)"),
        _c("batch_to", "int", "last batch processed (NULL for gold)"),
        _c("rows_in", "bigint", "rows read (landing rows for bronze)"),
        _c("rows_out", "bigint", "rows written or merged"),
        _c("rows_quarantined", "bigint", "rows sent to the quarantine"),
        _c(
            "reconciled",
            "boolean",
            "rows_in = accepted + quarantined, and every file set aside recorded, read back from the tables",
        ),
        _c("detail", "string", "what else was seen (duplicates, drift, conservation)"),
        _c("seconds", "double", "wall time of the step"),
        _c("logged_at", "timestamp", "when"),
    ),
)

QUARANTINED_FILES = TableContract(
    layer="ops",
    name="quarantined_files",
    description=(
        "Landing files Bronze could not read as their table's format (truncated, damaged, another "
        "format under the table's name): set aside whole, with the reason; the rest of the batch is ingested"
    ),
    columns=(
        _c("layer", "string", "bronze"),
        _c("table_name", "string", "the table the file was delivered for"),
        _c("batch_id", "int", "landing batch"),
        _c("source_file", "string", "the landing file"),
        _c("size_bytes", "bigint", "its size when it was checked"),
        _c("reason", "string", "why it cannot be read (the format check or the reader's error)"),
        _c("run_id", "string", "pipeline run"),
        _c("quarantined_at", "timestamp", "when"),
    ),
)

OPS: tuple[TableContract, ...] = (QUARANTINE, QUARANTINED_FILES, QUALITY_RESULTS, RUN_LOG)

ALL_CONTRACTS: tuple[TableContract, ...] = BRONZE + SILVER + GOLD + OPS


def contract(qualified_name: str) -> TableContract:
    """Look a contract up by `layer.name`."""
    for table in ALL_CONTRACTS:
        if table.qualified_name == qualified_name:
            return table
    raise KeyError(qualified_name)


def bronze_for(source: SourceTable) -> TableContract:
    """The Bronze contract of a landing table."""
    return contract(f"bronze.{bronze_name(source)}")


def silver_for(source: SourceTable) -> TableContract:
    """The Silver contract fed by a landing table."""
    for table in SILVER:
        if table.source == source.qualified_name:
            return table
    raise KeyError(source.qualified_name)


@dataclass(frozen=True)
class GoldParams:
    """Business choices of the Gold layer (not physical design, so not in the config)."""

    attribution_lookback_days: int = 365
    # Only orders of customers linked to a CRM account with a touch in the window are attributable.
    models: tuple[str, ...] = field(default=ATTRIBUTION_MODELS)
