"""Reading what a pipeline run wrote, with pyarrow and delta-rs only (no Spark, no pipeline code).

A Delta table's current files are read from its `_delta_log` (JSON commits, and a
checkpoint when there is one), so a table is read as of its last version even where
delta-rs declines it (deletion vectors on Silver); a file with a deletion vector cannot
be read that way and is reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]


class DeletionVectorsError(Exception):
    """A current file of the table has a deletion vector: its Parquet rows are not the table's."""


def delta_tables(warehouse: Path) -> list[Path]:
    """Every Delta table under a warehouse (a folder with a `_delta_log`)."""
    return sorted(log.parent for log in warehouse.rglob("_delta_log") if log.is_dir())


def _log_actions(table: Path) -> Iterator[dict[str, Any]]:
    log = table / "_delta_log"
    start = -1
    last_checkpoint = log / "_last_checkpoint"
    if last_checkpoint.exists():
        start = int(json.loads(last_checkpoint.read_text())["version"])
        for part in sorted(log.glob(f"{start:020d}.checkpoint*.parquet")):
            for row in pq.ParquetFile(part).read(columns=["add", "remove"]).to_pylist():
                yield {name: value for name, value in row.items() if value is not None}
    for commit in sorted(log.glob("*.json")):
        if int(commit.name.split(".")[0]) > start:
            # Split on LF only: `splitlines` also splits on U+2028, U+0085 ... inside JSON strings.
            for line in commit.read_text(encoding="utf-8").split("\n"):
                if line.strip():
                    yield json.loads(line)


def current_files(table: Path) -> list[Path]:
    """The data files of the table's latest version.

    Raises:
        DeletionVectorsError: some current file has a deletion vector.
    """
    files: dict[str, dict[str, Any]] = {}
    for action in _log_actions(table):
        if "add" in action:
            files[action["add"]["path"]] = action["add"]
        elif "remove" in action:
            files.pop(action["remove"]["path"], None)
    with_dv = [path for path, add in files.items() if add.get("deletionVector")]
    if with_dv:
        raise DeletionVectorsError(f"{table}: {len(with_dv)} current file(s) carry deletion vectors")
    return [table / path for path in sorted(files)]


def read_delta(table: Path, columns: list[str] | None = None) -> pa.Table:
    """The table's latest version (its current files' rows), with pyarrow's default reading.

    Files written before a schema change may lack later columns; those read as nulls.
    """
    parts = []
    for path in current_files(table):
        parquet = pq.ParquetFile(path)
        names = set(parquet.schema_arrow.names)
        wanted = [c for c in columns if c in names] if columns is not None else None
        part = parquet.read(columns=wanted)
        for missing in [c for c in columns or [] if c not in names]:
            part = part.append_column(missing, pa.nulls(part.num_rows))
        parts.append(part)
    if not parts:
        return pa.table({c: pa.array([]) for c in columns or []})
    return pa.concat_tables(parts, promote_options="permissive")


def unreadable_parquet(warehouse: Path) -> list[str]:
    """Every Parquet file under the warehouse that pyarrow cannot read and validate, with why."""
    problems = []
    for path in sorted(warehouse.rglob("*.parquet")):
        try:
            pq.ParquetFile(path).read().validate(full=True)
        except (pa.ArrowException, OSError, ValueError) as error:
            problems.append(f"{path.relative_to(warehouse)}: {type(error).__name__}: {str(error)[:200]}")
    return problems


def deltalake_problems(warehouse: Path) -> tuple[list[str], list[str]]:
    """(tables delta-rs cannot read, tables it declined for deletion vectors) under a warehouse."""
    from deltalake import DeltaTable

    problems, declined = [], []
    for table in delta_tables(warehouse):
        name = str(table.relative_to(warehouse))
        try:
            DeltaTable(str(table)).to_pyarrow_table().validate(full=True)
        except Exception as error:  # delta-rs raises its own and pyarrow's errors
            text = f"{name}: {type(error).__name__}: {str(error)[:200]}"
            if "deletionVectors" in str(error) or "deletion vector" in str(error).lower():
                declined.append(text)
            else:
                problems.append(text)
    return problems, declined
