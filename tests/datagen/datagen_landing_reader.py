"""Read a generated landing back with the standard library and pyarrow, not Spark.

Independent of the generator's own code, so the tests check what really landed.
Every row comes back as (batch, raw, parsed): `raw` is the JSON line or CSV row as text,
`parsed` a dict, or None for a JSON line that does not parse.
"""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from lakelab.sources import DIRTY_MANIFEST, SOURCE_TABLES, SourceTable


@dataclass(frozen=True)
class LandedRow:
    """One row as it landed."""

    batch: int
    raw: str
    parsed: dict[str, Any] | None


def _batches(root: Path, table: SourceTable) -> list[tuple[int, Path]]:
    folder = Path(table.landing_path(str(root)))
    return sorted((int(p.name.split("=")[1]), p) for p in folder.glob("batch=*"))


def read_table(root: Path, table: SourceTable) -> list[LandedRow]:
    """Every row of a table over all batches."""
    rows: list[LandedRow] = []
    for batch, folder in _batches(root, table):
        if table.format == "json":
            for path in sorted(folder.glob("part-*.json")):
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        parsed = json.loads(line)
                    except ValueError:
                        parsed = None
                    rows.append(LandedRow(batch, line, parsed))
        elif table.format == "parquet":
            for path in sorted(folder.glob("part-*.parquet")):
                for record in pq.read_table(path).to_pylist():
                    rows.append(LandedRow(batch, repr(sorted(record.items())), record))
        else:
            for path in sorted(folder.glob("part-*.csv.gz")):
                with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
                    for record in csv.DictReader(handle):
                        values = {k: (v if v != "" else None) for k, v in record.items()}
                        rows.append(LandedRow(batch, ",".join(record.values()), values))
    return rows


def read_landing(root: Path) -> dict[str, list[LandedRow]]:
    """All tables by qualified name."""
    return {table.qualified_name: read_table(root, table) for table in SOURCE_TABLES}


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """The dirty manifest entries."""
    lines = (root / DIRTY_MANIFEST).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def key_of(table: SourceTable, parsed: dict[str, Any]) -> str:
    """The manifest's key form: key values as strings joined by '|'."""
    return "|".join(str(parsed[k]) for k in table.key)
