"""Landing records per table and batch, counted without any pipeline code.

Only the layout comes from `lakelab.sources` (the declaration both sides share); the
counting is Python's own json-lines reading, `csv`, `gzip` and pyarrow:

- JSON lines: after a UTF-8 BOM opening the file, a record is a line (ended by LF; a CR
  before it belongs to the terminator) that holds something other than blanks. A bare CR
  inside a line does not end it: JSON counts CR as white space between tokens, and JSON
  Lines separates records by LF only.
- gzip CSV: a record is what RFC 4180 calls one (a quoted field may hold line breaks),
  after the header line; a UTF-8 BOM is not part of the header; an empty file holds none.
- Parquet: the rows of a file pyarrow reads whole.

A file that cannot be read as its format at all (a gzip stream cut short, a Parquet file
without its footer) has no countable records: it is reported as unreadable instead.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from lakelab.sources import BATCH_MARKERS, SOURCE_TABLES, SourceTable

_MARKER = re.compile(r"^(\d{4,})\.json$")
_JSON_BLANKS = b" \t\r"


@dataclass(frozen=True)
class FileCount:
    """One landing file: its records, or None when it cannot be read as its format."""

    path: str
    batch: int
    records: int | None
    problem: str = ""


def count_json_lines(data: bytes) -> int:
    """Records in a JSON-lines file's bytes (a UTF-8 BOM opening the file is a signature, not data)."""
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    return sum(1 for line in lines if line.strip(_JSON_BLANKS))


def count_csv_gz(data: bytes) -> int:
    """RFC 4180 records after the header in a gzip CSV file's bytes (an empty file: 0).

    Raises:
        ValueError: the bytes are not a complete gzip stream.
    """
    if not data:
        return 0
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"not a complete gzip stream: {error}") from None
    text = raw.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    return max(len(rows) - 1, 0)


def count_parquet(path: Path) -> int:
    """Rows of a Parquet file, every column decoded.

    Raises:
        ValueError: pyarrow cannot read the file.
    """
    try:
        return int(pq.ParquetFile(path).read().num_rows)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"pyarrow cannot read it: {error}") from None


def count_file(path: Path, source: SourceTable, batch: int) -> FileCount:
    """Count one landing file of `source`."""
    try:
        if source.format == "json":
            records = count_json_lines(path.read_bytes())
        elif source.format == "csv.gz":
            records = count_csv_gz(path.read_bytes())
        else:
            records = count_parquet(path)
    except ValueError as error:
        return FileCount(str(path), batch, None, str(error))
    return FileCount(str(path), batch, records)


def complete_batches(landing: Path) -> list[int]:
    """Batches with a `_batches/NNNN.json` marker."""
    folder = landing / BATCH_MARKERS
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _MARKER.match(p.name)))


def count_landing(landing: Path) -> dict[tuple[str, int], list[FileCount]]:
    """(qualified table, batch) → its files counted, for every complete batch.

    Data files are the entries of a batch folder whose names do not start with `_` or `.`.
    """
    counts: dict[tuple[str, int], list[FileCount]] = {}
    for batch in complete_batches(landing):
        for source in SOURCE_TABLES:
            folder = Path(source.landing_path(str(landing), batch))
            if not folder.is_dir():
                continue
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
            counts[(source.qualified_name, batch)] = [count_file(p, source, batch) for p in files]
    return counts
