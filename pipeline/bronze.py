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

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

FIELDS = "_fields"
CORRUPT_RECORD = "_corrupt_record"
HELPER_COLUMNS = (PARSE_ERROR, TYPE_ERRORS, UNEXPECTED_COLUMNS, RAW_RECORD)


@dataclass(frozen=True)
class BronzeParams:
    """What Bronze stamps on every record of one run."""

    run_id: str
    ingested_at: dt.datetime


def _blank_to_null(text: Column) -> Column:
    from pyspark.sql import functions as sf

    return sf.when(sf.trim(text) != "", text)


def _typed(text: Column, type_: str) -> Column:
    """Delivered text → the delivered type (NULL when it does not convert)."""
    from pyspark.sql import functions as sf

    return text if type_ == "string" else sf.trim(text).try_cast(type_)


def _type_error(source: SourceTable, name: str, value_sql: str) -> Column:
    """The field's name when its value is present but does not convert to its conformed type.

    Uses the contract's own conversion (`conform_sql`), so what Bronze accepts is exactly
    what Silver can convert.
    """
    from pyspark.sql import functions as sf

    text = sf.expr(f"CAST({value_sql} AS STRING)")
    converts = sf.expr(conform_sql(value_sql, conformed_type(source, name))).isNotNull()
    return sf.when(_blank_to_null(text).isNotNull() & ~converts, sf.lit(name))


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

    Each line is parsed once into a map of field → text, so a value of the wrong type is
    caught per field (named in `_type_errors`) instead of spoiling the whole record, and
    keys beyond the contract are listed in `_unexpected_columns`. Blank lines are not
    records and are dropped (the landing count skips them too).
    """
    from pyspark.sql import functions as sf

    declared = [f.name for f in source.fields]
    parsed = lines.where(sf.trim(sf.col("value")) != "").withColumn(
        FIELDS, sf.from_json(sf.col("value"), "map<string,string>")
    )
    fields = sf.col(FIELDS)
    columns: list[Column] = []
    type_errors: list[Column] = []
    for field in source.fields:
        text = fields.getItem(field.name)
        columns.append(_typed(_blank_to_null(text), field.type).alias(field.name))
        type_errors.append(_type_error(source, field.name, f"{FIELDS}['{field.name}']"))
    extras = [fields.getItem(name).alias(name) for name in added_columns]
    raw = sf.col("value")
    return parsed.select(
        *columns,
        *extras,
        *_lineage(params, raw),
        sf.when(fields.isNull(), sf.lit("unparseable JSON line")).alias(PARSE_ERROR),
        sf.filter(sf.array(*type_errors), lambda name: name.isNotNull()).alias(TYPE_ERRORS),
        sf.coalesce(
            sf.array_except(sf.map_keys(fields), sf.array(*[sf.lit(n) for n in declared])),
            sf.array().cast("array<string>"),
        ).alias(UNEXPECTED_COLUMNS),
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
    A CSV row Spark could not split (`_corrupt_record`) is a parse error.
    """
    from pyspark.sql import functions as sf

    lineage = {SOURCE_FILE, BATCH_ID, CORRUPT_RECORD}
    delivered = [c for c in rows.columns if c not in lineage]
    declared = {f.name for f in source.fields}
    present = set(delivered)
    unexpected = [c for c in delivered if c not in declared]
    columns: list[Column] = []
    type_errors: list[Column] = []
    for field in source.fields:
        value_sql = f"`{field.name}`" if field.name in present else "CAST(NULL AS STRING)"
        # A column of another type than delivered (drift) converts like text would.
        typed = sf.expr(conform_sql(value_sql, field.type))
        columns.append(typed.alias(field.name))
        type_errors.append(_type_error(source, field.name, value_sql))
    extras = [sf.col(f"`{name}`").cast("string").alias(name) for name in added_columns]
    record = sf.to_json(sf.struct(*[sf.col(f"`{c}`") for c in delivered]))
    corrupt = sf.col(CORRUPT_RECORD) if CORRUPT_RECORD in rows.columns else sf.lit(None).cast("string")
    raw = sf.coalesce(corrupt, record)
    return rows.select(
        *columns,
        *extras,
        *_lineage(params, raw),
        sf.when(corrupt.isNotNull(), sf.lit("malformed CSV row")).alias(PARSE_ERROR),
        sf.filter(sf.array(*type_errors), lambda name: name.isNotNull()).alias(TYPE_ERRORS),
        sf.array(*[sf.lit(c) for c in unexpected]).cast("array<string>").alias(UNEXPECTED_COLUMNS),
        raw.alias(RAW_RECORD),
    )


def bronze_columns(source: SourceTable, added_columns: Sequence[str] = ()) -> list[str]:
    """The columns a Bronze table stores: the contract's, then allowed added columns."""
    return [*bronze_for(source).column_names, *added_columns]
