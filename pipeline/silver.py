"""Silver transforms: typed, conformed, PII protected, one row per key. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lakelab.sources import source_table
from pipeline.contracts import (
    BATCH_ID,
    INGESTED_AT,
    LINEAGE_COLUMNS,
    RAW_RECORD,
    RECORD_HASH,
    SOURCE_FILE,
    TableContract,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_CARRIED = (BATCH_ID, RECORD_HASH, SOURCE_FILE, INGESTED_AT)


def to_silver(
    bronze: DataFrame,
    contract: TableContract,
    references: Mapping[str, DataFrame] | None = None,
) -> DataFrame:
    """Bronze rows → the Silver contract's columns, plus `_raw_record` and reference flags.

    Each column is the contract's SQL expression over the Bronze columns (conversions,
    upper-case ISO codes, lower-trimmed e-mails hashed, phones masked). For each declared
    reference, `_ref_ok_<column>` is TRUE when the value is NULL or exists in the
    referenced Silver table (`references` maps `ref_table` → that table's rows; a missing
    entry means "nothing delivered yet", so every non-NULL value is unknown).
    """
    from pyspark.sql import functions as sf

    assert contract.source is not None, contract.qualified_name
    source = source_table(contract.source)
    delivered = [f.name for f in source.fields]
    selected = [
        sf.expr(column.expr).cast(column.type).alias(column.name)
        for column in contract.columns
        if column.expr is not None
    ]
    carried = [sf.col(name) for name in _CARRIED if name in contract.column_names]
    raw = sf.to_json(sf.struct(*[sf.col(f"`{name}`") for name in delivered]))
    silver = bronze.select(*selected, *carried, raw.alias(RAW_RECORD))
    for reference in contract.references:
        ref_rows = (references or {}).get(reference.ref_table)
        key = f"__ref_{reference.column}"
        if ref_rows is None:
            known = sf.lit(None).cast("string").alias(key)
            silver = silver.withColumn(key, known)
        else:
            keys = ref_rows.select(sf.col(reference.ref_column).alias(key)).distinct()
            silver = silver.join(keys, silver[reference.column] == keys[key], "left")
        silver = silver.withColumn(
            reference.flag_column, sf.col(reference.column).isNull() | sf.col(key).isNotNull()
        ).drop(key)
    return silver


def version_order(updated_at: str) -> tuple[str, str, str]:
    """How versions of a key are ordered: update time, then the later batch, then record hash.

    Shared by `latest_per_key` and the MERGE guard, so both pick the same winner.
    """
    return (updated_at, BATCH_ID, RECORD_HASH)


def latest_per_key(rows: DataFrame, key: Sequence[str], updated_at: str) -> DataFrame:
    """The newest version of each key; ties (exact duplicates) keep one row, deterministically."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    order = Window.partitionBy(*key).orderBy(
        *[sf.col(c).desc_nulls_last() for c in version_order(updated_at)]
    )
    return rows.withColumn("__rank", sf.row_number().over(order)).where("__rank = 1").drop("__rank")


def silver_columns(contract: TableContract) -> list[str]:
    """The columns a Silver table stores."""
    return list(contract.column_names)


__all__ = ["LINEAGE_COLUMNS", "latest_per_key", "silver_columns", "to_silver", "version_order"]
