"""A hostile landing as data, and the code that writes it: standard library and pyarrow only.

A `HostileLanding` is what `strategies` draws: batches of files per landing table, each
record carrying its `Meaning` (what it says in Silver's terms, and how it was mutated).
`write_landing` lays it out as `lakelab.sources` describes, batch markers last, byte for
byte as drawn (invalid UTF-8, BOMs, CRLF, truncated files), without any pipeline code.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from lakelab.sources import BATCH_MARKERS, DATASET_MARKER, source_table

# A Silver value a delivered field may carry: the tuple of acceptable values, or NOTHING
# (the delivery has no faithful value in Silver's type, so the record must not reach Silver).
NOTHING: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Meaning:
    """What one delivered record says, in the terms of its Silver table.

    `values` maps a Silver column to the values the delivery may mean there (usually one;
    two when a field name is delivered twice; `NOTHING` when no value of the column's type
    says what was delivered). `key` is the record's Silver key when the delivery has one.
    """

    table: str  # qualified landing table, `crm.account`
    key: tuple[Any, ...] | None
    values: Mapping[str, tuple[Any, ...]]
    mutations: tuple[str, ...] = ()
    preview: str = ""  # a short rendering of what was delivered, for failure messages

    @property
    def mutated(self) -> bool:
        """True when some mutation was applied to the record or its file."""
        return bool(self.mutations)

    @property
    def faithful_in_silver(self) -> bool:
        """False when some checked column has no value that says what was delivered."""
        return all(allowed != NOTHING for allowed in self.values.values())

    def describe(self) -> str:
        """`crm.account key ('ACC00003',) [wrong_type:AnnualRevenue] {"Id": ...}`."""
        tags = ", ".join(self.mutations) or "unmutated"
        return f"{self.table} key {self.key} [{tags}] {self.preview}"


@dataclass(frozen=True)
class JsonLine:
    """One line of a JSON-lines file, without its terminator; `meaning` None: a blank line."""

    data: bytes
    meaning: Meaning | None


@dataclass(frozen=True)
class CsvRow:
    """One CSV record; fields may hold surrogate escapes, written as the raw (invalid) bytes."""

    fields: tuple[str, ...]
    meaning: Meaning


@dataclass(frozen=True)
class ParquetColumn:
    """One column of a Parquet file, in the type it is delivered with."""

    name: str
    type: pa.DataType
    values: tuple[Any, ...]


FileDamage = Literal["truncated", "not_gzip"]


@dataclass(frozen=True)
class JsonFile:
    """A JSON-lines file of a CRM table."""

    name: str
    lines: tuple[JsonLine, ...]
    crlf: bool = False
    bom: bool = False

    @property
    def meanings(self) -> tuple[Meaning, ...]:
        return tuple(line.meaning for line in self.lines if line.meaning is not None)


@dataclass(frozen=True)
class CsvFile:
    """A gzip CSV file of the Snowflake unload; `empty` writes zero bytes, `header` None none."""

    name: str
    header: tuple[str, ...] | None
    rows: tuple[CsvRow, ...]
    crlf: bool = False
    bom: bool = False
    quote_all: bool = False
    empty: bool = False
    damage: FileDamage | None = None
    ambiguous_columns: bool = False  # the header names a column twice (or twice but for case)

    @property
    def meanings(self) -> tuple[Meaning, ...]:
        return tuple(row.meaning for row in self.rows)


@dataclass(frozen=True)
class ParquetFile:
    """A Parquet file of the Snowflake unload; one `Meaning` per row."""

    name: str
    columns: tuple[ParquetColumn, ...]
    row_meanings: tuple[Meaning, ...]
    damage: FileDamage | None = None
    ambiguous_columns: bool = False

    @property
    def meanings(self) -> tuple[Meaning, ...]:
        return self.row_meanings


LandingFile = JsonFile | CsvFile | ParquetFile


def file_is_damaged(file: LandingFile) -> bool:
    """True when the generator broke the file as a whole (no reader can take its records)."""
    return not isinstance(file, JsonFile) and file.damage is not None


def file_may_be_set_aside(file: LandingFile) -> bool:
    """True when setting the whole file aside is a fair outcome: damaged, or its columns ambiguous."""
    return file_is_damaged(file) or (not isinstance(file, JsonFile) and file.ambiguous_columns)


@dataclass(frozen=True)
class TableDelivery:
    """The files one landing table delivers in one batch."""

    table: str
    files: tuple[LandingFile, ...]


@dataclass(frozen=True)
class HostileBatch:
    """One landing batch."""

    number: int
    deliveries: tuple[TableDelivery, ...]


@dataclass(frozen=True)
class HostileLanding:
    """A whole landing data set; its repr is a summary (a record per line), not the bytes."""

    batches: tuple[HostileBatch, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def files(self) -> Iterator[tuple[int, str, LandingFile]]:
        """(batch, table, file) for every file."""
        for batch in self.batches:
            for delivery in batch.deliveries:
                for file in delivery.files:
                    yield batch.number, delivery.table, file

    def meanings(self) -> Iterator[tuple[int, LandingFile, Meaning]]:
        """(batch, file, meaning) for every record."""
        for batch, _, file in self.files():
            for meaning in file.meanings:
                yield batch, file, meaning

    def mutation_counts(self) -> dict[str, int]:
        """How often each mutation kind (the part before `:`) occurs."""
        counts: dict[str, int] = {}
        for _, _, meaning in self.meanings():
            for tag in meaning.mutations:
                kind = tag.split(":")[0]
                counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints a falsifying example with this: the summary, not the dataclass."""
        printer.text(repr(self))

    def __repr__(self) -> str:
        lines = [f"HostileLanding({len(self.batches)} batch(es), {sum(1 for _ in self.meanings())} records)"]
        for batch, table, file in self.files():
            shape = _file_shape(file)
            lines.append(f"  batch {batch} {table} {file.name}{shape}: {len(file.meanings)} record(s)")
            lines.extend(f"    {meaning.describe()}" for meaning in file.meanings)
        return "\n".join(lines)


def _file_shape(file: LandingFile) -> str:
    flags = [
        name
        for name in ("crlf", "bom", "quote_all", "empty", "ambiguous_columns")
        if getattr(file, name, False)
    ]
    damage = getattr(file, "damage", None)
    if damage:
        flags.append(f"damaged:{damage}")
    return f" ({', '.join(flags)})" if flags else ""


# --- Writing ---------------------------------------------------------------------------------


def json_file_bytes(file: JsonFile) -> bytes:
    """The bytes of a JSON-lines file, as drawn."""
    end = b"\r\n" if file.crlf else b"\n"
    body = end.join(line.data for line in file.lines) + (end if file.lines else b"")
    return (b"\xef\xbb\xbf" if file.bom else b"") + body


def csv_file_bytes(file: CsvFile) -> bytes:
    """The gzip bytes of a CSV file, as drawn (damage applied last)."""
    if file.empty:
        return b""
    text = io.StringIO()
    writer = csv.writer(
        text,
        lineterminator="\r\n" if file.crlf else "\n",
        quoting=csv.QUOTE_ALL if file.quote_all else csv.QUOTE_MINIMAL,
    )
    if file.header is not None:
        writer.writerow(file.header)
    writer.writerows(row.fields for row in file.rows)
    raw = ("\ufeff" if file.bom else "") + text.getvalue()
    data = raw.encode("utf-8", errors="surrogateescape")
    if file.damage == "not_gzip":
        return data
    compressed = gzip.compress(data, mtime=0)
    if file.damage == "truncated":
        return compressed[: max(12, len(compressed) * 2 // 3)]
    return compressed


def parquet_file_bytes(file: ParquetFile) -> bytes:
    """The bytes of a Parquet file, as drawn (duplicate column names allowed)."""
    arrays = [pa.array(list(column.values), column.type) for column in file.columns]
    table = pa.Table.from_arrays(arrays, names=[column.name for column in file.columns])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    data = sink.getvalue()
    if file.damage == "truncated":
        return data[: len(data) // 2]
    return data


def file_bytes(file: LandingFile) -> bytes:
    """A landing file's bytes."""
    if isinstance(file, JsonFile):
        return json_file_bytes(file)
    if isinstance(file, CsvFile):
        return csv_file_bytes(file)
    return parquet_file_bytes(file)


def write_landing(landing: Path, hostile: HostileLanding) -> Path:
    """Write every batch's files, then the data-set marker, then each batch's marker."""
    for batch, table, file in hostile.files():
        folder = Path(source_table(table).landing_path(str(landing), batch))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file.name).write_bytes(file_bytes(file))
    landing.mkdir(parents=True, exist_ok=True)
    records = sum(1 for _ in hostile.meanings())
    (landing / DATASET_MARKER).write_text(json.dumps({"seed": None, "records": records, "hostile": True}))
    markers = landing / BATCH_MARKERS
    markers.mkdir(parents=True, exist_ok=True)
    for batch_ in hostile.batches:
        (markers / f"{batch_.number:04d}.json").write_text(json.dumps({"batch": batch_.number}))
    return landing


def expected_records(hostile: HostileLanding) -> dict[tuple[str, int], int]:
    """(table, batch) → records the generator meant to deliver in files that are not damaged."""
    counts: dict[tuple[str, int], int] = {}
    for batch, table, file in hostile.files():
        if not file_is_damaged(file):
            counts[(table, batch)] = counts.get((table, batch), 0) + len(file.meanings)
    return counts
