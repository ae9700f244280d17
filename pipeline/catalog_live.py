"""`lakelab catalog`: the data catalog with live facts from a warehouse's Delta tables.

The facts are read here, one table at a time, into `pipeline.catalog.TableFacts`; the
catalog and the drift check are rendered from them by the pure `pipeline.catalog`.
Nothing heavy at import time: pyspark loads when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from pipeline.catalog import LiveCatalog, TableFacts, render_catalog
from pipeline.contracts import ALL_CONTRACTS, TableContract

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Operations after which no file of the table keeps an earlier OPTIMIZE's Z-order.
_WHOLE_REWRITES = {"CREATE OR REPLACE TABLE AS SELECT", "REPLACE TABLE AS SELECT", "REPLACE TABLE"}


def register(commands: Any) -> None:
    """Add `catalog` to the command tree."""
    parser = commands.add_parser(
        "catalog",
        help="render the data catalog with live facts from the Delta tables; --check: exit 1 on drift",
    )
    parser.add_argument("--warehouse", metavar="PATH", help="warehouse root (default: paths.warehouse)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="print one line per drift between contract and table instead of the catalog; exit 1 on drift",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="write the Markdown catalog to FILE (default: stdout)"
    )
    parser.set_defaults(handler=run)


def zorder_from_history(entries: Iterable[tuple[str, Mapping[str, str]]]) -> tuple[str, ...]:
    """The Z-order columns in effect, from (operation, operationParameters) newest first.

    The last `OPTIMIZE ZORDER BY` counts unless a whole rewrite (an overwrite, a replace)
    came after it; appends and merges after it leave the optimized files as they were.
    """
    for operation, parameters in entries:
        if operation in _WHOLE_REWRITES or (operation == "WRITE" and parameters.get("mode") == "Overwrite"):
            return ()
        if operation == "OPTIMIZE":
            columns = json.loads(parameters.get("zOrderBy") or "[]")
            if columns:
                return tuple(str(c) for c in columns)
    return ()


def _disk_bytes(spark: SparkSession, path: str) -> int:
    jvm = spark._jvm  # the JVM's Hadoop FileSystem measures local folders and object stores alike
    assert jvm is not None, "needs a classic (not Spark Connect) session"
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration())
    return int(fs.getContentSummary(hadoop_path).getLength())


def table_facts(spark: SparkSession, table: TableContract, warehouse: str) -> TableFacts | None:
    """Read one contract table's facts from its Delta log; None when the table does not exist."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as sf

    from pipeline import io

    path = table.path(warehouse)
    if not io.is_delta_table(spark, path):
        return None
    delta_table = DeltaTable.forPath(spark, path)
    detail = delta_table.detail().select("numFiles", "sizeInBytes", "partitionColumns").collect()[0]
    history = (
        delta_table.history()
        .select("version", sf.unix_micros("timestamp").alias("micros"), "operation", "operationParameters")
        .orderBy(sf.desc("version"))
        .collect()
    )
    df = io.read_table(spark, path)
    latest = history[0]
    return TableFacts(
        qualified_name=table.qualified_name,
        path=path,
        version=int(latest["version"]),
        rows=df.count(),
        files=int(detail["numFiles"]),
        size_bytes=int(detail["sizeInBytes"]),
        disk_bytes=_disk_bytes(spark, path),
        partition_columns=tuple(detail["partitionColumns"] or ()),
        zorder_columns=zorder_from_history((r["operation"], r["operationParameters"] or {}) for r in history),
        last_operation=str(latest["operation"]),
        last_operation_at=datetime.fromtimestamp(int(latest["micros"]) / 1e6, UTC),
        columns=tuple((field.name, field.dataType.simpleString()) for field in df.schema.fields),
    )


def live_catalog(spark: SparkSession, warehouse: str, partition_facts_by_date: bool) -> LiveCatalog:
    """The facts of every contract table under `warehouse`.

    Raises:
        UserError: the warehouse holds none of the contracts' Delta tables.
    """
    facts = [table_facts(spark, table, warehouse) for table in ALL_CONTRACTS]
    tables = tuple(f for f in facts if f is not None)
    if not tables:
        raise UserError(
            f"{warehouse}: no Delta tables here (looked for the contracts' tables, e.g. "
            f"{ALL_CONTRACTS[0].path(warehouse)}); build them with `lakelab pipeline run`"
        )
    return LiveCatalog(warehouse, partition_facts_by_date, tables)


def run(config: Any, args: argparse.Namespace) -> int:
    """`lakelab catalog`: the Markdown catalog, or with --check the drift lines and exit 1 on drift."""
    from lakelab.spark import get_session

    warehouse = args.warehouse or config.paths.warehouse
    spark = get_session(config, app_name="lakelab-catalog")
    live = live_catalog(spark, warehouse, config.pipeline.partition_facts_by_date)
    if args.output:
        Path(args.output).write_text(render_catalog(live), encoding="utf-8")
    elif not args.check:
        print(render_catalog(live), end="")
    drifts = live.drifts
    if args.check:
        for drift in drifts:
            print(drift.line())
        print(
            f"{len(live.tables)} of {len(ALL_CONTRACTS)} contract tables built under {warehouse}: "
            + (f"{len(drifts)} drift{'' if len(drifts) == 1 else 's'}" if drifts else "no drift")
        )
        return 1 if drifts else 0
    if args.output:
        print(f"wrote {args.output}: {len(live.tables)} tables, {len(drifts)} drifts", file=sys.stderr)
    return 0
