"""Bronze transforms: a landing batch as delivered, plus lineage and parse diagnostics.

Pure: DataFrames in, DataFrame out. The I/O module reads the landing files into the
shapes these functions take and writes what they return.

Every function returns the Bronze contract's columns (the fields as delivered, lineage),
any allowed added columns (as text), and helper columns for the Bronze rules:
`_parse_error`, `_type_errors`, `_unexpected_columns`, `_raw_record`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakelab.sources import SourceTable
from pipeline.config import DEFAULT_MAX_RECORD_BYTES
from pipeline.contracts import (
    BATCH_ID,
    INGESTED_AT,
    PARSE_ERROR,
    RAW_RECORD,
    RECORD_HASH,
    RUN_ID,
    SOURCE_FILE,
    TYPE_ERRORS,
    UNEXPECTED_COLUMNS,
    bronze_for,
    conform_sql,
    conformed_type,
)
from pipeline.quality import non_null_elements

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

FIELDS = "_fields"
CORRUPT_RECORD = "_corrupt_record"
HELPER_COLUMNS = (PARSE_ERROR, TYPE_ERRORS, UNEXPECTED_COLUMNS, RAW_RECORD)
# A value longer than this is cut in a quarantine reason (the whole record is in raw_record).
REASON_VALUE_CHARS = 40
# Levels of nested objects and arrays the trailing-characters check looks through; a record
# nested deeper is not checked (Salesforce records are flat, or two levels with `attributes`).
_NESTING_CHECKED = 8
# A JSON string literal, escapes included; possessive, so a long string cannot overflow the stack.
_JSON_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_INNERMOST_GROUP = r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]"
# A flat object, the usual record: one `}` and no `{`, `[` or `]` after the first `{`, so
# nothing can follow the object; the level-by-level check runs only on other lines.
# `\z`, not `$`, which also matches before a last U+2028 or U+0085 (text Jackson leaves unread).
_FLAT_OBJECT = r"^[\s\x{FEFF}]*+\{[^{}\[\]]*+\}\s*+\z"
# Joins a record's keys to lower-case them in one call (see `_name_problems`).
_KEY_SEPARATOR = "\u0001"


@dataclass(frozen=True)
class BronzeParams:
    """What Bronze stamps on every record of one run, and the largest JSON line it parses."""

    run_id: str
    ingested_at: dt.datetime
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


def _blank_to_null(text: Column) -> Column:
    from pyspark.sql import functions as sf

    return sf.when(sf.trim(text) != "", text)


def _typed(text: Column, type_: str) -> Column:
    """Delivered text → the delivered type (NULL when it does not convert)."""
    from pyspark.sql import functions as sf

    return text if type_ == "string" else sf.trim(text).try_cast(type_)


def quoted_value(text: Column) -> Column:
    """A value for a one-line reason: quoted, cut after `REASON_VALUE_CHARS` characters."""
    from pyspark.sql import functions as sf

    length = sf.char_length(text)
    cut = sf.concat(
        sf.left(text, sf.lit(REASON_VALUE_CHARS)),
        sf.lit("...' ("),
        sf.format_number(length, 0),
        sf.lit(" characters)"),
    )
    return sf.concat(
        sf.lit("'"),
        sf.when(length > REASON_VALUE_CHARS, cut).otherwise(sf.concat(text, sf.lit("'"))),
    )


def _type_error(source: SourceTable, name: str, value_sql: str) -> Column:
    """`Name = 'value'` when the field's value is present but does not convert to its conformed type.

    Uses the contract's own conversion (`conform_sql`), so what Bronze accepts is exactly
    what Silver can convert.
    """
    from pyspark.sql import functions as sf

    text = sf.expr(f"CAST({value_sql} AS STRING)")
    converts = sf.expr(conform_sql(value_sql, conformed_type(source, name))).isNotNull()
    return sf.when(
        _blank_to_null(text).isNotNull() & ~converts,
        sf.concat(sf.lit(f"{name} = "), quoted_value(text)),
    )


def _listed(messages: Sequence[Column]) -> Column:
    """The messages that are not NULL, as an array (empty when none can be given)."""
    from pyspark.sql import functions as sf

    if not messages:
        return sf.array().cast("array<string>")
    return non_null_elements(sf.array(*messages))


def addable_columns(source: SourceTable, unexpected: Sequence[str]) -> list[str]:
    """The added fields Bronze may keep as columns: those whose names differ, also ignoring
    case, from the declared fields and from each other (the first in sorted order wins).

    Spark resolves names ignoring case, so `id` next to `Id`, or `tier__c` next to
    `Tier__c`, would make every later reference ambiguous. Records that carry a left-out
    name are quarantined by `to_bronze_json` (a name clash), so nothing is lost.
    """
    taken = {f.name.lower() for f in source.fields}
    kept = []
    for name in sorted(set(unexpected)):
        if name.lower() not in taken:
            taken.add(name.lower())
            kept.append(name)
    return kept


def _name_problems(keys: Column, known: Sequence[str]) -> Column:
    """Why a record's field names cannot become columns, or NULL: a name delivered twice, two
    names that differ only in case, or a name that differs only in case from a known column.

    A cheap test runs on every record; the reason, built with higher-order functions (which
    Spark cannot compile into its generated code), only where that test fires.
    """
    from pyspark.sql import functions as sf

    distinct = sf.array_distinct(keys)
    # Lower-casing each key without a lambda: join, lower, split. A key holding the separator
    # splits into more parts, which makes the test fire and the exact check below decide.
    joined = sf.array_join(distinct, _KEY_SEPARATOR)
    lowered = sf.array_distinct(sf.split(sf.lower(joined), _KEY_SEPARATOR))
    known_exact = sf.array(*[sf.lit(name) for name in known])
    known_lower = sf.array(*[sf.lit(name.lower()) for name in known])
    suspicious = (
        (sf.size(distinct) < sf.size(keys))
        | (sf.size(lowered) != sf.greatest(sf.size(distinct), sf.lit(1)))
        | (
            sf.size(sf.array_intersect(lowered, known_lower))
            > sf.size(sf.array_intersect(distinct, known_exact))
        )
    )
    return sf.when(suspicious, _name_problems_detail(keys, known))


def _name_problems_detail(keys: Column, known: Sequence[str]) -> Column:
    """The reason `_name_problems` gives (higher-order functions: run on few records)."""
    from pyspark.sql import functions as sf

    distinct = sf.array_distinct(keys)
    canonical = sf.create_map(*[sf.lit(x) for name in known for x in (name.lower(), name)])

    def known_as(key: Column) -> Column:
        return sf.try_element_at(canonical, sf.lower(key))

    twice = sf.filter(distinct, lambda k: sf.size(sf.filter(keys, lambda j: j == k)) > 1)
    case_pairs = sf.filter(
        distinct, lambda k: sf.size(sf.filter(distinct, lambda j: sf.lower(j) == sf.lower(k))) > 1
    )
    miscased = sf.filter(distinct, lambda k: known_as(k).isNotNull() & (known_as(k) != k))
    problems = sf.concat_ws(
        "; ",
        sf.when(
            sf.size(distinct) < sf.size(keys),
            sf.concat(sf.lit("duplicate field names: "), sf.array_join(sf.array_sort(twice), ", ")),
        ),
        sf.when(
            sf.size(sf.array_distinct(sf.transform(distinct, sf.lower))) < sf.size(distinct),
            sf.concat(
                sf.lit("field names differ only in case: "), sf.array_join(sf.array_sort(case_pairs), ", ")
            ),
        ).otherwise(
            sf.when(
                sf.size(miscased) > 0,
                sf.concat(
                    sf.lit("field names differ only in case: "),
                    sf.array_join(
                        sf.transform(
                            sf.array_sort(miscased),
                            lambda k: sf.concat(k, sf.lit(" (the column is "), known_as(k), sf.lit(")")),
                        ),
                        ", ",
                    ),
                ),
            )
        ),
    )
    return sf.nullif(problems, sf.lit(""))


def _trailing_characters(value: Column) -> Column:
    """TRUE when something follows the first JSON object of the line (which Jackson ignores).

    Strings are blanked first, then innermost objects and arrays are collapsed to `0`, level
    by level: one object with nothing after it ends as `0`. A record nested deeper than
    `_NESTING_CHECKED` levels is not collapsed and so never flagged.
    """
    from pyspark.sql import functions as sf

    collapsed = sf.regexp_replace(value, _JSON_STRING, '""')
    for _ in range(_NESTING_CHECKED):
        collapsed = sf.regexp_replace(collapsed, _INNERMOST_GROUP, "0")
    checked = ~value.rlike(_FLAT_OBJECT) & collapsed.rlike(r"^[\s\x{FEFF}]*0\s*\S")
    return sf.when(_bare_flat_object(value), sf.lit(False)).otherwise(checked)


def _bare_flat_object(value: Column) -> Column:
    """TRUE when the line is `{`, text without `{`, `}`, `[` or `]`, then `}` as its last byte.

    The usual record, recognised by byte searches alone: every such line also matches
    `_FLAT_OBJECT`, so the regular expressions run only on the others (the checks of a
    10M-record landing spent about half their time in them; see docs/pipeline.md).
    """
    from pyspark.sql import functions as sf

    return (
        value.startswith("{")
        & value.endswith("}")
        & (sf.locate("{", value, 2) == 0)
        & (sf.locate("}", value) == sf.char_length(value))
        & (sf.instr(value, "[") == 0)
        & (sf.instr(value, "]") == 0)
    )


def _invalid_utf8(value: Column, fields: Column, names: Sequence[str]) -> Column:
    """Where a line that is not valid UTF-8 holds the bad bytes, or NULL when it is valid.

    The JSON parser turns bad bytes into U+FFFD, so the columns holding one are named.
    """
    from pyspark.sql import functions as sf

    bad_fields = sf.concat_ws(
        ", ",
        *[sf.when(sf.instr(fields.getField(name), "\ufffd") > 0, sf.lit(name)) for name in sorted(names)],
    )
    return sf.when(
        ~sf.is_valid_utf8(value),
        sf.when(bad_fields != "", sf.concat(sf.lit("invalid UTF-8 in field "), bad_fields)).otherwise(
            sf.lit("invalid UTF-8 in the record")
        ),
    )


def _lineage(params: BronzeParams, raw_record: Column) -> list[Column]:
    from pyspark.sql import functions as sf

    return [
        sf.col(SOURCE_FILE).cast("string").alias(SOURCE_FILE),
        sf.col(BATCH_ID).cast("int").alias(BATCH_ID),
        sf.lit(params.ingested_at).cast("timestamp").alias(INGESTED_AT),
        sf.sha2(raw_record, 256).alias(RECORD_HASH),
        sf.lit(params.run_id).alias(RUN_ID),
    ]


def to_bronze_json(
    lines: DataFrame,
    source: SourceTable,
    params: BronzeParams,
    added_columns: Sequence[str] = (),
) -> DataFrame:
    """JSON lines (`value`, `_source_file`, `_batch_id`) → Bronze rows with diagnostics.

    Each line is parsed twice, both streaming: its keys as delivered (NULL when the line is
    not one JSON object), then a struct of the declared and added fields, every one as text,
    so a value of the wrong type is caught per field (named in `_type_errors`) instead of
    spoiling the whole record. Keys beyond the contract are listed in `_unexpected_columns`.
    A struct rather than a map: a map's lookups scan its keys, once per field and use, and
    were the largest cost of a batch. Blank lines are not records and are dropped (the
    landing count skips them too).

    `_parse_error` says every reason a line cannot be taken as one record: over
    `params.max_record_bytes` (then it is not parsed at all), not valid UTF-8, not one JSON
    object, something after the object, a field name delivered twice or differing from
    another (or from a column) only in case. `added_columns` should come from
    `addable_columns`; a case-insensitive duplicate among them is left out.
    """
    from pyspark.sql import functions as sf

    added = addable_columns(source, added_columns)
    declared = [f.name for f in source.fields]
    value = sf.col("value")
    size = sf.octet_length(value)
    fits = size <= params.max_record_bytes
    # Any key can be an added column's name: a backtick in it is doubled, as DDL quotes it.
    as_text = ", ".join("`" + name.replace("`", "``") + "`: string" for name in [*declared, *added])
    keys = sf.col("__keys")
    # The usual record: exactly the declared keys, in their order. It can have no name problem
    # and no unexpected key (declared names differ even ignoring case, and `addable_columns`
    # keeps added names apart from them), so the array checks below run only on other lines.
    declared_keys = sf.array(*[sf.lit(n) for n in declared])
    as_declared = keys == declared_keys
    if len({n.lower() for n in declared}) < len(declared):  # not so in any contract, but if it were
        as_declared = sf.lit(False)
    parsed = (
        lines.where(sf.trim(value) != "")
        .withColumn("__keys", sf.when(fits, sf.json_object_keys(value)))
        .withColumn(FIELDS, sf.when(keys.isNotNull(), sf.from_json(value, f"struct<{as_text}>")))
    )
    fields = sf.col(FIELDS)
    columns: list[Column] = []
    type_errors: list[Column] = []
    for field in source.fields:
        text = fields.getField(field.name)
        columns.append(_typed(_blank_to_null(text), field.type).alias(field.name))
        if conformed_type(source, field.name) != "string":  # any text is a string
            type_errors.append(_type_error(source, field.name, f"{FIELDS}.`{field.name}`"))
    extras = [fields.getField(name).alias(name) for name in added]
    too_large = sf.concat(
        sf.lit("record is "),
        sf.format_number(size, 0),
        sf.lit(f" bytes, over the {params.max_record_bytes:,}-byte limit (pipeline.max_record_bytes)"),
    )
    parse_error = sf.when(~fits, too_large).otherwise(
        sf.nullif(
            sf.concat_ws(
                "; ",
                _invalid_utf8(value, fields, [*declared, *added]),
                sf.when(keys.isNull(), sf.lit("unparseable JSON line")),
                sf.when(
                    keys.isNotNull() & _trailing_characters(value),
                    sf.lit("unparseable JSON line: trailing characters after the JSON object"),
                ),
                sf.when(keys.isNotNull() & ~as_declared, _name_problems(keys, [*declared, *added])),
            ),
            sf.lit(""),
        )
    )
    none = sf.array().cast("array<string>")
    unexpected = sf.when(as_declared, none).otherwise(sf.coalesce(sf.array_except(keys, declared_keys), none))
    raw = sf.col("value")
    return parsed.withColumn(PARSE_ERROR, parse_error).select(
        *columns,
        *extras,
        *_lineage(params, raw),
        sf.col(PARSE_ERROR),
        _listed(type_errors).alias(TYPE_ERRORS),
        # A record that is not taken as one brings no columns (its names may clash).
        sf.when(sf.col(PARSE_ERROR).isNull(), unexpected)
        .otherwise(sf.array().cast("array<string>"))
        .alias(UNEXPECTED_COLUMNS),
        raw.alias(RAW_RECORD),
    )


def to_bronze_tabular(
    rows: DataFrame,
    source: SourceTable,
    params: BronzeParams,
    added_columns: Sequence[str] = (),
) -> DataFrame:
    """Parquet or CSV rows (delivered columns, `_source_file`, `_batch_id`) → Bronze rows.

    A declared column that is missing becomes NULL; one of another type is converted
    value by value, and values that do not convert are named in `_type_errors` (an
    incompatible type quarantines the rows with that reason). Columns beyond the
    contract are listed in `_unexpected_columns`; the allowed ones are kept as text.
    Parse errors: a CSV row Spark could not split (`_corrupt_record`), a string that is
    not valid UTF-8, and a delivered column whose name differs only in case from a
    declared one (Spark would take them for one column).
    """
    from pyspark.sql import functions as sf

    lineage = {SOURCE_FILE, BATCH_ID, CORRUPT_RECORD}
    delivered = [c for c in rows.columns if c not in lineage]
    declared = {f.name for f in source.fields}
    present = set(delivered)
    declared_as = {name.lower(): name for name in declared}
    miscased = sorted(c for c in delivered if c not in declared and c.lower() in declared_as)
    unexpected = [c for c in delivered if c not in declared and c not in miscased]
    columns: list[Column] = []
    type_errors: list[Column] = []
    for field in source.fields:
        value_sql = f"`{field.name}`" if field.name in present else "CAST(NULL AS STRING)"
        # A column of another type than delivered (drift) converts like text would.
        typed = sf.expr(conform_sql(value_sql, field.type))
        columns.append(typed.alias(field.name))
        if conformed_type(source, field.name) != "string":  # any value converts to text
            type_errors.append(_type_error(source, field.name, value_sql))
    added = addable_columns(source, [c for c in added_columns if c not in miscased])
    extras = [sf.col(f"`{name}`").cast("string").alias(name) for name in added]
    record = sf.to_json(sf.struct(*[sf.col(f"`{c}`") for c in delivered]))
    corrupt = sf.col(CORRUPT_RECORD) if CORRUPT_RECORD in rows.columns else sf.lit(None).cast("string")
    raw = sf.coalesce(corrupt, record)
    problems = [sf.when(corrupt.isNotNull(), sf.lit("malformed CSV row"))]
    for field in source.fields:
        if field.type == "string" and field.name in present:
            problems.append(
                sf.when(
                    ~sf.is_valid_utf8(sf.col(f"`{field.name}`").cast("string")),
                    sf.lit(f"invalid UTF-8 in field {field.name}"),
                )
            )
    if miscased:
        names = ", ".join(f"{c} (the column is {declared_as[c.lower()]})" for c in miscased)
        problems.append(sf.lit(f"field names differ only in case: {names}"))
    return rows.select(
        *columns,
        *extras,
        *_lineage(params, raw),
        sf.nullif(sf.concat_ws("; ", *problems), sf.lit("")).alias(PARSE_ERROR),
        _listed(type_errors).alias(TYPE_ERRORS),
        sf.array(*[sf.lit(c) for c in unexpected]).cast("array<string>").alias(UNEXPECTED_COLUMNS),
        raw.alias(RAW_RECORD),
    )


def bronze_columns(source: SourceTable, added_columns: Sequence[str] = ()) -> list[str]:
    """The columns a Bronze table stores: the contract's, then allowed added columns."""
    return [*bronze_for(source).column_names, *added_columns]
