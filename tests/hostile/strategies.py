"""Hypothesis strategies: hostile landing batches drawn from the landing contracts.

Field names, delivered types, required fields and keys come from `lakelab.sources`
(`SOURCE_TABLES`); what each delivered value *means* in Silver is worked out here, by
this module's own reading of the value (a strict reading: JSON numbers by their grammar,
ISO dates and times by theirs), never by pipeline code.

A record is drawn clean (values the contract allows, which every Silver rule accepts) and
then, about half the time, mutated: wrong types, non-finite, huge and negative numbers,
impossible and out-of-range dates, duplicate and case-colliding field names, invalid
UTF-8, control characters, huge strings, objects where scalars belong, JSON that is not an
object, trailing garbage, CSV quoting and embedded line breaks, short and long rows, BOMs,
CRLF, empty and header-only files, Parquet columns of other types, null keys, damaged
files. Each record's `Meaning` says what it still means (or that no Silver value can say
it), so the test can hold Silver to it.

Keys are unique across a landing (numbered as drawn), so a Silver row is found by its key.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped]
from hypothesis import strategies as st

from lakelab.sources import SOURCE_TABLES, SourceField, SourceTable

from .landing_writer import (
    NOTHING,
    CsvFile,
    CsvRow,
    HostileBatch,
    HostileLanding,
    JsonFile,
    JsonLine,
    LandingFile,
    Meaning,
    ParquetColumn,
    ParquetFile,
    TableDelivery,
)

Kind = Literal["id", "text", "double", "bigint", "int", "money12", "money18", "date", "timestamp", "boolean"]
Draw = Callable[[st.SearchStrategy[Any]], Any]


@dataclass(frozen=True)
class Check:
    """A Silver column that must carry the meaning of a landing field."""

    column: str
    field: str
    kind: Kind


# Silver table, its key columns, and the columns this suite holds to the delivered values.
# The key columns come first in each tuple of checks.
SILVER_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "crm.account": ("account", ("account_id",)),
    "crm.contact": ("contact", ("contact_id",)),
    "crm.campaign": ("campaign", ("campaign_id",)),
    "crm.campaign_member": ("campaign_member", ("member_id",)),
    "crm.opportunity": ("opportunity", ("opportunity_id",)),
    "snowflake.customers": ("customers", ("customer_id",)),
    "snowflake.products": ("products", ("product_id",)),
    "snowflake.orders": ("orders", ("order_id",)),
    "snowflake.order_lines": ("order_lines", ("order_id", "line_number")),
}
_AUDIT = (
    Check("created_at", "CreatedDate", "timestamp"),
    Check("updated_at", "LastModifiedDate", "timestamp"),
)
CHECKS: dict[str, tuple[Check, ...]] = {
    "crm.account": (
        Check("account_id", "Id", "id"),
        Check("account_name", "Name", "text"),
        Check("annual_revenue", "AnnualRevenue", "double"),
        Check("number_of_employees", "NumberOfEmployees", "bigint"),
        *_AUDIT,
    ),
    "crm.contact": (
        Check("contact_id", "Id", "id"),
        Check("account_id", "AccountId", "id"),
        Check("first_name", "FirstName", "text"),
        *_AUDIT,
    ),
    "crm.campaign": (
        Check("campaign_id", "Id", "id"),
        Check("campaign_name", "Name", "text"),
        Check("start_date", "StartDate", "date"),
        Check("end_date", "EndDate", "date"),
        Check("budgeted_cost", "BudgetedCost", "double"),
        Check("actual_cost", "ActualCost", "double"),
        *_AUDIT,
    ),
    "crm.campaign_member": (
        Check("member_id", "Id", "id"),
        Check("campaign_id", "CampaignId", "id"),
        Check("contact_id", "ContactId", "id"),
        Check("status", "Status", "text"),
        Check("touch_date", "FirstRespondedDate", "date"),
        *_AUDIT,
    ),
    "crm.opportunity": (
        Check("opportunity_id", "Id", "id"),
        Check("account_id", "AccountId", "id"),
        Check("opportunity_name", "Name", "text"),
        Check("amount", "Amount", "money18"),
        Check("close_date", "CloseDate", "date"),
        Check("probability", "Probability", "double"),
        *_AUDIT,
    ),
    "snowflake.customers": (
        Check("customer_id", "CUSTOMER_ID", "bigint"),
        Check("customer_name", "CUSTOMER_NAME", "text"),
        Check("created_at", "CREATED_AT", "timestamp"),
        Check("updated_at", "UPDATED_AT", "timestamp"),
    ),
    "snowflake.products": (
        Check("product_id", "PRODUCT_ID", "bigint"),
        Check("product_name", "PRODUCT_NAME", "text"),
        Check("unit_price", "UNIT_PRICE", "money12"),
        Check("updated_at", "UPDATED_AT", "timestamp"),
    ),
    "snowflake.orders": (
        Check("order_id", "ORDER_ID", "bigint"),
        Check("customer_id", "CUSTOMER_ID", "bigint"),
        Check("order_ts", "ORDER_TS", "timestamp"),
        Check("order_total", "ORDER_TOTAL", "money18"),
        Check("updated_at", "UPDATED_AT", "timestamp"),
    ),
    "snowflake.order_lines": (
        Check("order_id", "ORDER_ID", "bigint"),
        Check("line_number", "LINE_NUMBER", "int"),
        Check("product_id", "PRODUCT_ID", "bigint"),
        Check("quantity", "QUANTITY", "int"),
        Check("unit_price", "UNIT_PRICE", "money12"),
        Check("line_amount", "LINE_AMOUNT", "money18"),
        Check("updated_at", "UPDATED_AT", "timestamp"),
    ),
}
# Fields whose clean values Silver's rules restrict (a known currency, a known stage).
_CURRENCY_FIELDS = {"CurrencyIsoCode", "CURRENCY"}
_CURRENCIES = ("USD", "EUR", "GBP", "usd", " eur ")
_KEY_PREFIX = {
    "account": "ACC",
    "contact": "CON",
    "campaign": "CMP",
    "campaign_member": "MEM",
    "opportunity": "OPP",
}


def field_kind(source: SourceTable, field: SourceField) -> Kind:
    """How a delivered field is read: the check's kind, else from its declared type and description."""
    for check in CHECKS[source.qualified_name]:
        if check.field == field.name:
            return check.kind
    if field.type == "double":
        return "double"
    if field.type in ("bigint", "int"):
        return "bigint"
    if field.type == "boolean":
        return "boolean"
    if field.type == "timestamp" or "ISO-8601" in field.description:
        return "timestamp"
    if field.type.startswith("decimal"):
        return "money18"
    if "YYYY-MM-DD" in field.description:
        return "date"
    return "text"


# --- What a delivered value means ------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON token written exactly as spelled (`1e400`, `NaN`, `1000000000000000.01`)."""

    text: str


@dataclass(frozen=True)
class BadBytes:
    """A JSON or CSV string holding bytes that are not UTF-8 after `prefix`."""

    prefix: str
    junk: bytes


@dataclass(frozen=True)
class RawControl:
    """A JSON string with an unescaped control character (not JSON: RFC 8259 requires escaping)."""

    prefix: str
    char: str


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)
_CENT = Decimal("0.01")
_ASCII_SPACE = " \t\n\r\x0b\x0c"


def _number_meaning(number: Decimal, kind: Kind) -> tuple[Any, ...]:
    if kind == "double":
        value = float(number)
        return (value,) if math.isfinite(value) else NOTHING
    if kind in ("bigint", "int"):
        bits = 63 if kind == "bigint" else 31
        if not -(2**bits) <= number < 2**bits or number != number.to_integral_value():
            return NOTHING
        return (int(number),)
    if kind in ("money12", "money18"):
        digits = 10 if kind == "money12" else 16
        if abs(number) >= Decimal(10) ** digits or number != number.quantize(_CENT):
            return NOTHING
        return (number.quantize(_CENT),)
    return NOTHING


def _text_number(text: str) -> Decimal | None:
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_timestamp(text: str) -> dt.datetime | None:
    """ISO-8601 date and time (offset `Z`, `+hh:mm`, `+hhmm`, or none: UTC) → naive UTC; None if not one."""
    match = _TIMESTAMP.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ".0"
    micros = int(fraction[1:].ljust(6, "0"))
    try:
        local = dt.datetime(year, month, day, hour, minute, second, micros)
        offset = match.group(8)
        if offset in (None, "Z"):
            return local
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 18 or minutes > 59:
            return None
        return local - sign * dt.timedelta(hours=hours, minutes=minutes)
    except (ValueError, OverflowError):
        return None


def parse_date(text: str) -> dt.date | None:
    """`YYYY-MM-DD` → a date; None if not one."""
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def value_meaning(kind: Kind, value: Any) -> tuple[Any, ...]:
    """The Silver values a delivered value may mean under `kind` (NOTHING: none can)."""
    if value is None:
        return (None,)
    if isinstance(value, BadBytes | RawControl | dict | list):
        return NOTHING
    if isinstance(value, bytes):  # a Parquet binary column: text if it is UTF-8
        try:
            return value_meaning(kind, value.decode("utf-8"))
        except UnicodeDecodeError:
            return NOTHING
    if kind in ("id", "text"):
        if not isinstance(value, str):
            return NOTHING  # a number, a boolean or a token where text belongs
        if kind == "id":
            return (value,)
        # Blank text: JSON's blank is read as absent, a Parquet string keeps it.
        return (value.strip(" "),) if value.strip(" ") else (None, "")
    if kind == "boolean":
        return (value,) if isinstance(value, bool) else NOTHING
    if isinstance(value, bool):
        return NOTHING
    if isinstance(value, str):
        # Typed values may be padded with ASCII white space (CSV, hand-typed JSON); blank is absent.
        value = value.strip(_ASCII_SPACE)
        if not value:
            return (None,)
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                return (value.astimezone(dt.UTC).replace(tzinfo=None),)
            return (value,)
        if isinstance(value, str):
            parsed = parse_timestamp(value)
            return NOTHING if parsed is None else (parsed,)
        return NOTHING  # a number: seconds, millis or micros? no reading says
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return (value,)
        if isinstance(value, str):
            parsed_date = parse_date(value)
            return NOTHING if parsed_date is None else (parsed_date,)
        return NOTHING
    number: Decimal | None
    if isinstance(value, Raw):
        number = _text_number(value.text)
    elif isinstance(value, str):
        number = _text_number(value)
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value)) if math.isfinite(value) else None
    elif isinstance(value, Decimal):
        number = value
    else:
        number = None
    return NOTHING if number is None else _number_meaning(number, kind)


def record_meaning(
    table: str,
    delivered: Mapping[str, Sequence[Any]],
    mutations: Sequence[str],
    preview: str,
    destroyed: bool = False,
) -> Meaning:
    """The `Meaning` of a record from its delivered values (a field delivered twice: both).

    `destroyed`: the record as a whole has no meaning (not JSON, trailing garbage, a
    malformed row), so no column can carry one.
    """
    values: dict[str, tuple[Any, ...]] = {}
    for check in CHECKS[table]:
        if destroyed:
            values[check.column] = NOTHING
            continue
        allowed: list[Any] = []
        for value in delivered.get(check.field, [None]):
            allowed.extend(v for v in value_meaning(check.kind, value) if v not in allowed)
        values[check.column] = tuple(allowed)
    key_columns = SILVER_TABLES[table][1]
    key_values = [values[c] for c in key_columns]
    key: tuple[Any, ...] | None = None
    if all(len(v) == 1 and v[0] is not None for v in key_values):
        key = tuple(v[0] for v in key_values)
    elif destroyed:
        key = _delivered_key(table, delivered)
    return Meaning(table, key, values, tuple(mutations), preview[:160])


def _delivered_key(table: str, delivered: Mapping[str, Sequence[Any]]) -> tuple[Any, ...] | None:
    """The key a record without meaning still names (to check it did not reach Silver)."""
    checks = {c.column: c for c in CHECKS[table]}
    key = []
    for column in SILVER_TABLES[table][1]:
        check = checks[column]
        values = delivered.get(check.field, [None])
        meaning = value_meaning(check.kind, values[0]) if len(values) == 1 else NOTHING
        if len(meaning) != 1 or meaning[0] is None:
            return None
        key.append(meaning[0])
    return tuple(key)


# --- Clean values --------------------------------------------------------------------------

_TEXT_ALPHABET = "abcdefghijXYZ0123456789 -&'.éßø日本🙂"
_BASE = dt.datetime(2000, 1, 1)


def _text() -> st.SearchStrategy[str]:
    return st.text(alphabet=_TEXT_ALPHABET, min_size=0, max_size=12).map(lambda s: "N" + s.rstrip(" "))


def _money(high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high * 100).map(lambda cents: Decimal(cents).scaleb(-2))


def _instant() -> st.SearchStrategy[dt.datetime]:
    return st.integers(0, 30 * 365 * 86400).map(lambda s: _BASE + dt.timedelta(seconds=s))


def clean_value(source: SourceTable, field: SourceField) -> st.SearchStrategy[Any]:
    """A value of the field's kind that the contract and every Silver rule accept (typed)."""
    kind = field_kind(source, field)
    value: st.SearchStrategy[Any]
    if field.name in _CURRENCY_FIELDS:
        value = st.sampled_from(_CURRENCIES)
    elif kind in ("id", "text"):
        value = _text()
    elif kind == "double":
        value = _money(100 if field.name == "Probability" else 10**6)
    elif kind == "bigint":
        value = st.integers(0, 10**6)
    elif kind == "int":
        value = st.integers(1, 1000)
    elif kind in ("money12", "money18"):
        value = _money(10**6)
    elif kind == "date":
        value = _instant().map(lambda t: t.date())
    elif kind == "timestamp":
        value = _instant()
    else:
        value = st.booleans()
    return value if field.required else st.one_of(st.none(), value)


# --- Hostile values, by kind -----------------------------------------------------------------

_CONTROL = ("\x00", "\x01", "\x1b", "\x7f", "\u0085", "\u2028", "\u2029", "\ufeff", "\t", "\ue000")
_JUNK = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82")
_BAD_DATES = (
    "2024-02-30",
    "2023-13-01",
    "2024-00-10",
    "31/12/2024",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
)
_BAD_TIMES = (
    "9999-12-31T23:59:59.999+0000",
    "0001-01-01T00:00:00.000+0000",
    "2024-02-30T12:00:00.000+0000",
    "2024-01-01T25:00:00.000+0000",
    "9999-12-31T23:00:00-05:00",
    "2024-01-01T12:00:00.000+9900",
    "not a time",
)
_CSV_BAD_TIMES = (
    "9999-12-31 23:59:59",
    "0001-01-01 00:00:00",
    "2024-02-30 12:00:00",
    "2024-01-01 25:00:00",
    "31/12/2024 12:00",
)
_WRONG_NUMBERS: tuple[Any, ...] = ("12,5O", "1.2.3", "0x1F", "１２", True, "", "12 34")
_NON_FINITE = ("NaN", "Infinity", "-Infinity")
_HUGE = ("1e300", "1e400", "-1e400", str(2**63), str(2**70), "1000000000000000.01", "99999999999999999999.99")
_NEGATIVE = ("-1", "-0.01", str(-(2**63)), "-1e10")


def _typed_kinds(source: SourceTable, kinds: Sequence[Kind], key: bool = False) -> list[SourceField]:
    """The fields of `kinds` (keys left out unless `key`)."""
    return [f for f in source.fields if field_kind(source, f) in kinds and (key or f.name not in source.key)]


_NUMERIC: tuple[Kind, ...] = ("double", "bigint", "int", "money12", "money18")
_TEXTUAL: tuple[Kind, ...] = ("text",)


# --- JSON lines (CRM) ------------------------------------------------------------------------

JSON_MUTATIONS = (
    "wrong_type",
    "non_finite",
    "huge_number",
    "negative",
    "bad_date",
    "bad_timestamp",
    "case_collision",
    "duplicate_field",
    "invalid_utf8",
    "control_chars",
    "raw_control_char",
    "huge_string",
    "object_for_scalar",
    "not_object",
    "trailing_garbage",
    "truncated_line",
    "bare_cr",
    "missing_required",
)


def _json_value(source: SourceTable, field: SourceField, value: Any, style: int) -> Any:
    """A typed clean value as the CRM API delivers it."""
    if value is None:
        return None
    kind = field_kind(source, field)
    if isinstance(value, Decimal):
        return Raw(str(value))
    if kind == "timestamp" and isinstance(value, dt.datetime):
        if style == 0:
            return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}+0000"
        if style == 1:
            return f"{value:%Y-%m-%dT%H:%M:%S}Z"
        local = value + dt.timedelta(hours=5, minutes=30)
        return f"{local:%Y-%m-%dT%H:%M:%S}+05:30"
    if kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    return value


def _render_json_value(value: Any) -> bytes:
    if isinstance(value, Raw):
        return value.text.encode()
    if isinstance(value, BadBytes):
        return b'"' + json.dumps(value.prefix)[1:-1].encode() + value.junk + b'"'
    if isinstance(value, RawControl):
        return b'"' + json.dumps(value.prefix)[1:-1].encode() + value.char.encode() + b'"'
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def render_json_object(pairs: Sequence[tuple[str, Any]], separator: bytes = b", ") -> bytes:
    """A JSON object from (name, value) pairs, names repeated as given."""
    members = [json.dumps(name).encode() + b": " + _render_json_value(value) for name, value in pairs]
    return b"{" + separator.join(members) + b"}"


def _pick(draw: Draw, fields: Sequence[SourceField]) -> SourceField:
    field: SourceField = draw(st.sampled_from(list(fields)))
    return field


def _json_targets(source: SourceTable) -> dict[str, list[SourceField]]:
    """The fields each field-level JSON mutation may hit (an empty list: not for this table)."""
    numeric = _typed_kinds(source, _NUMERIC)
    checked = {c.field for c in CHECKS[source.qualified_name]}
    text = [f for f in _typed_kinds(source, _TEXTUAL) if f.name in checked]
    return {
        "wrong_type": _typed_kinds(source, (*_NUMERIC, "date", "timestamp", "boolean")),
        "non_finite": numeric,
        "huge_number": numeric,
        "negative": numeric,
        "bad_date": _typed_kinds(source, ("date",)),
        "bad_timestamp": _typed_kinds(source, ("timestamp",)),
        "invalid_utf8": text,
        "control_chars": text,
        "raw_control_char": text,
        "huge_string": text,
    }


@st.composite
def json_record(draw: Draw, source: SourceTable, serial: int, mutate: bool) -> JsonLine:
    """One CRM record as a JSON line, clean or with one mutation, and its meaning."""
    style = draw(st.integers(0, 2))
    values: dict[str, Any] = {}
    for field in source.fields:
        values[field.name] = _json_value(source, field, draw(clean_value(source, field)), style)
    values[source.key[0]] = f"{_KEY_PREFIX[source.name]}{serial:06d}"
    pairs: list[tuple[str, Any]] = [(name, value) for name, value in values.items() if value is not None]
    if draw(st.booleans()):
        pairs += [(name, None) for name, value in values.items() if value is None]
    targets = _json_targets(source)
    applicable = [m for m in JSON_MUTATIONS if targets.get(m, True)]
    mutation = draw(st.sampled_from(applicable)) if mutate else None
    tag, separator, destroyed = "", b", ", False

    def put(name: str, value: Any) -> None:
        nonlocal pairs
        pairs = [(n, value if n == name else v) for n, v in pairs]
        if name not in [n for n, _ in pairs]:
            pairs.append((name, value))

    data: bytes | None = None
    if mutation == "wrong_type":
        field = _pick(draw, targets["wrong_type"])
        bad = draw(st.sampled_from(["2024-13-45", 20240101, True, *_WRONG_NUMBERS, "1234.5"]))
        put(field.name, Raw(str(bad)) if isinstance(bad, int) and not isinstance(bad, bool) else bad)
        tag = f"wrong_type:{field.name}={bad!r}"
    elif mutation in ("non_finite", "huge_number", "negative"):
        field = _pick(draw, targets[mutation])
        pool = {"non_finite": _NON_FINITE, "huge_number": _HUGE, "negative": _NEGATIVE}[mutation]
        token = draw(st.sampled_from(pool))
        as_string = mutation == "non_finite" and draw(st.booleans())
        put(field.name, token if as_string else Raw(token))
        tag = f"{mutation}:{field.name}={token}{' (string)' if as_string else ''}"
    elif mutation == "bad_date":
        field = _pick(draw, targets["bad_date"])
        text = draw(st.sampled_from(_BAD_DATES))
        put(field.name, text)
        tag = f"bad_date:{field.name}={text}"
    elif mutation == "bad_timestamp":
        field = _pick(draw, targets["bad_timestamp"])
        text = draw(st.sampled_from(_BAD_TIMES))
        put(field.name, text)
        tag = f"bad_timestamp:{field.name}={text}"
    elif mutation == "case_collision":
        field = _pick(draw, source.fields)
        other = field.name.lower() if field.name.lower() != field.name else field.name.upper()
        pairs.append((other, draw(_text())))
        tag = f"case_collision:{field.name}/{other}"
    elif mutation == "duplicate_field":
        field = _pick(draw, [f for f in source.fields if f.name not in source.key])
        second = _json_value(source, field, draw(clean_value(source, field)), style)
        pairs.append((field.name, second))
        tag = f"duplicate_field:{field.name}"
    elif mutation in ("invalid_utf8", "control_chars", "raw_control_char", "huge_string"):
        field = _pick(draw, targets[mutation])
        if mutation == "invalid_utf8":
            junk = draw(st.sampled_from(_JUNK))
            put(field.name, BadBytes("Bad", junk))
            tag = f"invalid_utf8:{field.name}={junk!r}"
        elif mutation == "control_chars":
            chars = "".join(draw(st.lists(st.sampled_from(_CONTROL), min_size=1, max_size=3)))
            put(field.name, f"Ctl{chars}x")
            tag = f"control_chars:{field.name}={chars!r}"
        elif mutation == "raw_control_char":
            put(field.name, RawControl("Raw", draw(st.sampled_from(["\x01", "\x1f", "\x08"]))))
            tag, destroyed = f"raw_control_char:{field.name} (not JSON)", True
        else:
            size = draw(st.integers(1_000, 100_000))
            put(field.name, "H" * size)
            tag = f"huge_string:{field.name}={size} chars"
    elif mutation == "object_for_scalar":
        field = _pick(draw, [f for f in source.fields if f.name not in source.key])
        put(field.name, draw(st.sampled_from([{"v": 1}, [1, 2], [], {}])))
        tag = f"object_for_scalar:{field.name}"
    elif mutation == "not_object":
        data = draw(st.sampled_from([b"[1, 2]", b'"text"', b"42", b"null", b"true", b"[]", b"{}"]))
        tag = f"not_object:{data.decode()}"
        destroyed = True
    elif mutation == "trailing_garbage":
        garbage = draw(st.sampled_from([b" xyz", b"}", b', {"Id": "X"}', b"]", b" 1"]))
        data = render_json_object(pairs) + garbage
        tag = f"trailing_garbage:{garbage.decode()}"
        destroyed = True
    elif mutation == "truncated_line":
        whole = render_json_object(pairs)
        data = whole[: draw(st.integers(len(whole) // 3, len(whole) - 2))]
        tag = "truncated_line"
        destroyed = True
    elif mutation == "bare_cr":
        separator = b",\r"
        tag = "bare_cr"  # CR between members: valid JSON, still one line
    elif mutation == "missing_required":
        field = _pick(draw, [f for f in source.fields if f.required])
        if draw(st.booleans()):
            pairs = [(n, v) for n, v in pairs if n != field.name]
        else:
            put(field.name, None)
        tag = f"missing_required:{field.name}"
    if data is None:
        data = render_json_object(pairs, separator)
    delivered: dict[str, list[Any]] = {}
    for name, value in pairs:
        delivered.setdefault(name, []).append(value)
    if mutation == "not_object":
        delivered = {}
    preview = data[:120].decode("utf-8", errors="backslashreplace")
    meaning = record_meaning(source.qualified_name, delivered, [tag] if tag else [], preview, destroyed)
    return JsonLine(data, meaning)


@st.composite
def json_file(
    draw: Draw, source: SourceTable, name: str, serials: Sequence[int], mutate: Sequence[bool]
) -> JsonFile:
    """A JSON-lines file: records, blank lines between them, maybe CRLF or a BOM."""
    lines: list[JsonLine] = []
    for serial, hostile in zip(serials, mutate, strict=True):
        if draw(st.integers(0, 9)) == 0:
            lines.append(JsonLine(draw(st.sampled_from([b"", b"   "])), None))
        lines.append(draw(json_record(source, serial, hostile)))
    crlf = draw(st.booleans())
    bom = bool(lines) and any(mutate) and draw(st.booleans())
    if bom:
        first = next(i for i, line in enumerate(lines) if line.meaning is not None)
        old = lines[first].meaning
        assert old is not None
        lines[first] = JsonLine(
            lines[first].data, Meaning(old.table, old.key, old.values, (*old.mutations, "bom"), old.preview)
        )
    return JsonFile(name, tuple(lines), crlf=crlf, bom=bom)


# --- gzip CSV (order lines) ------------------------------------------------------------------

CSV_ROW_MUTATIONS = (
    "wrong_type",
    "non_finite",
    "huge_number",
    "negative",
    "bad_timestamp",
    "embedded_newline",
    "quoting",
    "padded",
    "short_row",
    "long_row",
    "invalid_utf8",
    "control_chars",
    "huge_string",
    "missing_required",
)
CSV_FILE_VARIANTS = (
    "bom",
    "crlf",
    "quote_all",
    "reordered",
    "lowercase_header",
    "added_column",
    "case_collision",
    "duplicate_header",
    "empty",
    "empty_gzip",
    "header_only",
    "truncated",
    "not_gzip",
)


def _csv_text(source: SourceTable, field: SourceField, value: Any) -> str:
    kind = field_kind(source, field)
    if value is None:
        return ""
    if kind == "timestamp" and isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return str(value)


@st.composite
def csv_row(draw: Draw, source: SourceTable, header: Sequence[str], serial: int, mutate: bool) -> CsvRow:
    """One order line as CSV fields in `header` order, clean or mutated, and its meaning."""
    values = {f.name: _csv_text(source, f, draw(clean_value(source, f))) for f in source.fields}
    values["ORDER_ID"] = str(100_000 + serial)
    values["LINE_NUMBER"] = str(draw(st.integers(1, 9)))
    mutation = draw(st.sampled_from(CSV_ROW_MUTATIONS)) if mutate else None
    tag, destroyed, extra = "", False, 0
    numeric = [f for f in source.fields if field_kind(source, f) in _NUMERIC and f.name != "ORDER_ID"]
    if mutation in ("wrong_type", "non_finite", "huge_number", "negative"):
        field = _pick(draw, numeric)
        pool = {
            "wrong_type": [v for v in _WRONG_NUMBERS if isinstance(v, str)] + ["true", "1e3", "12.0"],
            "non_finite": ["NaN", "Infinity", "inf", "-inf"],
            "huge_number": [*_HUGE, "2147483648", "12345678901234567.89", "10.005"],
            "negative": list(_NEGATIVE),
        }[mutation]
        values[field.name] = draw(st.sampled_from(pool))
        tag = f"{mutation}:{field.name}={values[field.name]}"
    elif mutation == "bad_timestamp":
        values["UPDATED_AT"] = draw(st.sampled_from(_CSV_BAD_TIMES))
        tag = f"bad_timestamp:UPDATED_AT={values['UPDATED_AT']}"
    elif mutation in (
        "embedded_newline",
        "quoting",
        "padded",
        "control_chars",
        "huge_string",
        "invalid_utf8",
    ):
        field = _pick(draw, [f for f in source.fields if f.name != "ORDER_ID"])
        old = values[field.name]
        if mutation == "embedded_newline":
            values[field.name] = old[:1] + draw(st.sampled_from(["\n", "\r\n", "\r"])) + old[1:]
        elif mutation == "quoting":
            values[field.name] = draw(st.sampled_from([f'"{old}"', f"{old},5", f'{old}"', f"'{old}'"]))
        elif mutation == "padded":
            values[field.name] = f"  {old} "
        elif mutation == "control_chars":
            values[field.name] = old + draw(st.sampled_from(_CONTROL))
        elif mutation == "huge_string":
            values[field.name] = "9" * draw(st.integers(1_000, 100_000))
        else:
            values[field.name] = old + draw(st.sampled_from(_JUNK)).decode("utf-8", errors="surrogateescape")
        tag = f"{mutation}:{field.name}={values[field.name][:40]!r}"
    elif mutation == "short_row":
        extra = -draw(st.integers(1, len(header) - 1))
        tag, destroyed = f"short_row:{len(header) + extra} of {len(header)} fields", True
    elif mutation == "long_row":
        extra = draw(st.integers(1, 3))
        tag, destroyed = f"long_row:{len(header) + extra} fields", True
    elif mutation == "missing_required":
        field = _pick(draw, source.fields)
        values[field.name] = ""
        tag = f"missing_required:{field.name}"
    fields = [values.get(name, values.get(name.upper(), "")) for name in header]
    if extra < 0:
        fields = fields[:extra]
    elif extra > 0:
        fields += ["7"] * extra
    delivered: dict[str, list[Any]] = {}
    for name, value in zip(header, fields, strict=False):
        delivered.setdefault(name, []).append(None if value == "" else value)
    preview = ",".join(fields)[:120].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    meaning = record_meaning(source.qualified_name, delivered, [tag] if tag else [], preview, destroyed)
    return CsvRow(tuple(fields), meaning)


@st.composite
def csv_file(
    draw: Draw, source: SourceTable, name: str, serials: Sequence[int], mutate: Sequence[bool]
) -> CsvFile:
    """A gzip CSV file: a header, RFC 4180 rows, maybe a file-level variant."""
    declared = [f.name for f in source.fields]
    variant = draw(st.sampled_from(CSV_FILE_VARIANTS)) if any(mutate) and draw(st.booleans()) else None
    header = list(declared)
    if variant == "reordered":
        header = draw(st.permutations(declared))
    elif variant == "lowercase_header":
        header = [n.lower() for n in declared]
    elif variant == "added_column":
        header.append("DISCOUNT")
    elif variant == "case_collision":
        header.append(draw(st.sampled_from(declared)).lower())
    elif variant == "duplicate_header":
        header.append(draw(st.sampled_from(declared)))
    rows = [
        draw(csv_row(source, header, serial, hostile))
        for serial, hostile in zip(serials, mutate, strict=True)
    ]
    if variant in ("empty", "empty_gzip"):
        rows = []
    if variant == "header_only":
        rows = []
    if variant in (
        "lowercase_header",
        "added_column",
        "case_collision",
        "duplicate_header",
        "truncated",
        "not_gzip",
    ):
        rows = [CsvRow(r.fields, _tagged(r.meaning, f"file_{variant}")) for r in rows]
    return CsvFile(
        name,
        None if variant in ("empty", "empty_gzip") else tuple(header),
        tuple(rows),
        crlf=variant == "crlf" or draw(st.booleans()),
        bom=variant == "bom",
        quote_all=variant == "quote_all",
        empty=variant == "empty",
        damage="truncated" if variant == "truncated" else "not_gzip" if variant == "not_gzip" else None,
        ambiguous_columns=variant in ("case_collision", "duplicate_header"),
    )


def _tagged(meaning: Meaning, tag: str) -> Meaning:
    return Meaning(meaning.table, meaning.key, meaning.values, (*meaning.mutations, tag), meaning.preview)


# --- Parquet (customers, products, orders) ---------------------------------------------------

PARQUET_ROW_MUTATIONS = (
    "null_key",
    "missing_required",
    "huge_string",
    "control_chars",
    "extreme_decimal",
    "extreme_timestamp",
    "extreme_key",
    "negative",
)
PARQUET_FILE_VARIANTS = (
    "key_as_int32",
    "key_as_string",
    "key_as_double",
    "money_as_string",
    "money_as_double",
    "money_as_decimal38",
    "time_as_string",
    "time_as_epoch",
    "time_with_zone",
    "text_as_binary",
    "case_collision",
    "duplicate_column",
    "added_column",
    "truncated",
)
_STRING_HOSTILE = ("abc", "12.505", "1e400", "NaN", " 12.50 ", "-0", "", "2024-02-30 12:00:00", "١٢")


def _arrow_type(kind: Kind, field: SourceField) -> pa.DataType:
    if kind in ("bigint", "int"):
        return pa.int64()
    if kind == "money12":
        return pa.decimal128(12, 2)
    if kind == "money18" or field.type.startswith("decimal"):
        return pa.decimal128(18, 2)
    if kind == "timestamp":
        return pa.timestamp("us")
    return pa.string()


@st.composite
def parquet_file(
    draw: Draw, source: SourceTable, name: str, serials: Sequence[int], mutate: Sequence[bool]
) -> ParquetFile:
    """A Parquet file: typed columns (maybe one of another type), rows clean or mutated."""
    fields = list(source.fields)
    kinds = {f.name: field_kind(source, f) for f in fields}
    key = source.key[0]
    variant = draw(st.sampled_from(PARQUET_FILE_VARIANTS)) if any(mutate) and draw(st.booleans()) else None
    rows: list[dict[str, Any]] = []
    tags: list[str] = []
    for serial, hostile in zip(serials, mutate, strict=True):
        row = {f.name: draw(clean_value(source, f)) for f in fields}
        row[key] = 100_000 + serial
        texts = [c.field for c in CHECKS[source.qualified_name] if c.kind == "text"] or [
            f.name for f in fields if kinds[f.name] == "text" and f.name not in _CURRENCY_FIELDS
        ]
        money = [f.name for f in fields if kinds[f.name] in ("money12", "money18")]
        applicable = [m for m in PARQUET_ROW_MUTATIONS if money or m not in ("extreme_decimal", "negative")]
        mutation = draw(st.sampled_from(applicable)) if hostile else None
        tag = ""
        if mutation == "null_key":
            row[key] = None
            tag = f"null_key:{key}"
        elif mutation == "missing_required":
            field = _pick(draw, [f for f in fields if f.required and f.name != key])
            row[field.name] = None
            tag = f"missing_required:{field.name}"
        elif mutation in ("huge_string", "control_chars"):
            target = draw(st.sampled_from(texts))
            if mutation == "huge_string":
                row[target] = "H" * draw(st.integers(1_000, 100_000))
            else:
                chars = "".join(draw(st.lists(st.sampled_from(_CONTROL), min_size=1, max_size=3)))
                row[target] = f"Ctl{chars}x"
            tag = f"{mutation}:{target}={row[target][:20]!r}"
        elif mutation in ("extreme_decimal", "negative"):
            target = draw(st.sampled_from(money))
            top = Decimal("9999999999.99") if kinds[target] == "money12" else Decimal("9999999999999999.99")
            row[target] = (
                draw(st.sampled_from([top, Decimal("0.00")])) if mutation == "extreme_decimal" else -top
            )
            tag = f"{mutation}:{target}={row[target]}"
        elif mutation == "extreme_timestamp":
            target = draw(st.sampled_from([f.name for f in fields if kinds[f.name] == "timestamp"]))
            row[target] = draw(
                st.sampled_from([dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(1, 1, 1)])
            )
            tag = f"extreme_timestamp:{target}={row[target]}"
        elif mutation == "extreme_key":
            row[key] = draw(st.sampled_from([2**63 - 1, -1, 0]))
            tag = f"extreme_key:{key}={row[key]}"
        rows.append(row)
        tags.append(tag)
    columns: list[ParquetColumn] = []
    for field in fields:
        kind = kinds[field.name]
        values = [row[field.name] for row in rows]
        arrow = _arrow_type(kind, field)
        columns.append(_column_variant(draw, variant, field, kind, arrow, values, key))
    if variant == "case_collision":
        columns.append(ParquetColumn(key.lower(), pa.int64(), tuple(range(len(rows)))))
    elif variant == "duplicate_column":
        columns.append(ParquetColumn(columns[1].name, columns[1].type, columns[1].values))
    elif variant == "added_column":
        columns.append(ParquetColumn("PROMO_CODE", pa.string(), tuple("SPRING" for _ in rows)))
    meanings = []
    for i, tag in enumerate(tags):
        delivered: dict[str, list[Any]] = {}
        for column in columns:
            delivered.setdefault(column.name, []).append(column.values[i])
        if variant == "duplicate_column":
            delivered[columns[1].name] = delivered[columns[1].name][:1]
        mutations = [t for t in (tag, f"file_{variant}" if variant else "") if t]
        preview = ", ".join(f"{c.name}={c.values[i]!r}"[:40] for c in columns[:4])
        meanings.append(record_meaning(source.qualified_name, delivered, mutations, preview))
    return ParquetFile(
        name,
        tuple(columns),
        tuple(meanings),
        damage="truncated" if variant == "truncated" else None,
        ambiguous_columns=variant in ("case_collision", "duplicate_column"),
    )


def _column_variant(
    draw: Draw,
    variant: str | None,
    field: SourceField,
    kind: Kind,
    arrow: pa.DataType,
    values: list[Any],
    key: str,
) -> ParquetColumn:
    """A column as the file variant delivers it; hostile strings where it turns a column to text."""

    def as_text(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.isoformat(sep=draw(st.sampled_from(["T", " "])))
        if draw(st.integers(0, 3)) == 0:
            return str(draw(st.sampled_from(_STRING_HOSTILE)))
        return str(value)

    if variant == "key_as_int32" and field.name == key:
        fits = all(v is None or -(2**31) <= v < 2**31 for v in values)
        return ParquetColumn(field.name, pa.int32() if fits else pa.int64(), tuple(values))
    if variant == "key_as_double" and field.name == key:
        return ParquetColumn(field.name, pa.float64(), tuple(None if v is None else float(v) for v in values))
    if (variant == "key_as_string" and field.name == key) or (
        (variant == "money_as_string" and kind in ("money12", "money18"))
        or (variant == "time_as_string" and kind == "timestamp")
    ):
        return ParquetColumn(field.name, pa.string(), tuple(as_text(v) for v in values))
    if variant == "money_as_double" and kind in ("money12", "money18"):
        doubles = [None if v is None else float(v) for v in values]
        if doubles and draw(st.booleans()):
            doubles[draw(st.integers(0, len(doubles) - 1))] = draw(
                st.sampled_from([math.nan, math.inf, -math.inf])
            )
        return ParquetColumn(field.name, pa.float64(), tuple(doubles))
    if variant == "money_as_decimal38" and kind in ("money12", "money18"):
        return ParquetColumn(field.name, pa.decimal128(38, 10), tuple(values))
    if variant == "time_as_epoch" and kind == "timestamp":
        micros = [
            None if v is None else (v - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
            for v in values
        ]
        return ParquetColumn(field.name, pa.int64(), tuple(micros))
    if variant == "time_with_zone" and kind == "timestamp":
        zoned = [None if v is None else v.replace(tzinfo=dt.UTC) for v in values]
        return ParquetColumn(field.name, pa.timestamp("us", tz="UTC"), tuple(zoned))
    if variant == "text_as_binary" and kind == "text":
        raw = [
            None if v is None else v.encode("utf-8") + draw(st.sampled_from([b"", b"", b"\xff"]))
            for v in values
        ]
        return ParquetColumn(field.name, pa.binary(), tuple(raw))
    return ParquetColumn(field.name, arrow, tuple(values))


# --- A whole landing -----------------------------------------------------------------------


@st.composite
def hostile_landings(draw: Draw, max_batches: int = 2, max_records: int = 8) -> HostileLanding:
    """One landing: 1..`max_batches` batches; every table in batch 0, most in later ones;
    one or two files per table and batch, up to `max_records` records each, about half mutated.

    The simplest landing Hypothesis can draw is one batch of two clean records per table:
    a baseline every value of which must reach Silver unchanged.
    """
    serial = 0
    batches = []
    for number in range(draw(st.integers(1, max_batches))):
        deliveries = []
        for source in SOURCE_TABLES:
            if number > 0 and draw(st.integers(0, 3)) == 0:
                continue
            files: list[LandingFile] = []
            for index in range(draw(st.integers(1, 2))):
                mutate = draw(st.lists(st.booleans(), min_size=2 if index == 0 else 0, max_size=max_records))
                serials = list(range(serial, serial + len(mutate)))
                serial += len(mutate)
                name = f"part-{index:05d}"
                if source.format == "json":
                    files.append(draw(json_file(source, f"{name}.json", serials, mutate)))
                elif source.format == "csv.gz":
                    files.append(draw(csv_file(source, f"{name}.csv.gz", serials, mutate)))
                else:
                    files.append(draw(parquet_file(source, f"{name}.parquet", serials, mutate)))
            deliveries.append(TableDelivery(source.qualified_name, tuple(files)))
        batches.append(HostileBatch(number, tuple(deliveries)))
    return HostileLanding(tuple(batches))
