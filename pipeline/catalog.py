"""The data catalog (`docs/data-catalog.md`), rendered from the contracts.

`render_catalog()` alone renders the contracts and nothing else (the committed file).
Given a `LiveCatalog` (facts that `pipeline.catalog_live` read from the Delta tables of a
warehouse) it adds, per table, what the table holds now and where it drifted from its
contract. Everything here is pure: no Spark, no files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lakelab.sources import SOURCE_TABLES
from pipeline.contracts import ALL_CONTRACTS, BRONZE, GOLD, OPS, SILVER, TableContract

CATALOG_PATH = "docs/data-catalog.md"

_ABOUT_STATIC = """Rendered from `pipeline/contracts.py` and `lakelab/sources.py` by
`pipeline.catalog.render_catalog()`; a test checks this file equals the rendering, so
edit the contracts, then run `python -m pipeline.catalog > docs/data-catalog.md`.
`lakelab catalog` renders the same catalog with live facts from a warehouse's Delta
tables (rows, size, files, partitioning, Z-order, last operation) and any drift between
contract and table; `lakelab catalog --check` exits 1 on drift."""

_RULES = """Rules are SQL expressions that must be TRUE for a row to pass; NULL counts as a
failure. Actions: `warn` keeps the row and counts it, `drop` sends the row to
`_ops/quarantine` with the reason, `fail` stops the run. Partitioning applies when
`pipeline.partition_facts_by_date` is on; Z-ordering when `pipeline.zorder` is on.
"""

_HEADER = f"# Data catalog\n\n{_ABOUT_STATIC}\n\n{_RULES}"

NO_COLUMN = "no such column"


@dataclass(frozen=True)
class TableFacts:
    """What one Delta table holds now, as read from its log (`pipeline.catalog_live`)."""

    qualified_name: str
    path: str
    version: int
    rows: int
    files: int
    size_bytes: int  # the current version's data files (DESCRIBE DETAIL)
    disk_bytes: int  # everything under the table's folder: the log, versions not vacuumed yet
    partition_columns: tuple[str, ...]
    zorder_columns: tuple[str, ...]  # of the last OPTIMIZE ZORDER BY since the last full rewrite
    last_operation: str
    last_operation_at: datetime
    columns: tuple[tuple[str, str], ...]  # (name, Spark type as `simpleString`), in table order


@dataclass(frozen=True)
class Drift:
    """One difference between a contract and its table; `column` None means the partitioning."""

    table: str
    column: str | None
    expected: str
    found: str

    def line(self) -> str:
        """`drift silver.customers.tier: expected no such column, found string`."""
        where = f"{self.table}.{self.column}" if self.column else f"{self.table} (partitioning)"
        return f"drift {where}: expected {self.expected}, found {self.found}"


@dataclass(frozen=True)
class LiveCatalog:
    """The facts of every contract table that exists under `warehouse`."""

    warehouse: str
    partition_facts_by_date: bool  # the config the tables are checked against
    tables: tuple[TableFacts, ...]

    def facts(self, qualified_name: str) -> TableFacts | None:
        """The facts of one table, None when it was not built."""
        return next((t for t in self.tables if t.qualified_name == qualified_name), None)

    @property
    def drifts(self) -> tuple[Drift, ...]:
        """Every drift, in catalog order."""
        found: list[Drift] = []
        for table in ALL_CONTRACTS:
            facts = self.facts(table.qualified_name)
            if facts is not None:
                found += find_drift(table, facts, self.partition_facts_by_date)
        return tuple(found)


def _type(text: str) -> str:
    return text.replace(" ", "").lower()


def _partitioning(columns: tuple[str, ...]) -> str:
    return f"partitioned by {', '.join(columns)}" if columns else "not partitioned"


def find_drift(table: TableContract, facts: TableFacts, partition_facts_by_date: bool) -> tuple[Drift, ...]:
    """Columns missing, extra or of another type, and partitioning unlike the contract's.

    A Bronze table that allows added columns evolves by taking them as text, so an extra
    `string` column there is the contract at work, not drift.
    """
    live = {name: _type(type_) for name, type_ in facts.columns}
    drifts = []
    for column in table.columns:
        found = live.get(column.name)
        if found != _type(column.type):
            drifts.append(Drift(table.qualified_name, column.name, _type(column.type), found or NO_COLUMN))
    declared = set(table.column_names)
    for name, found in live.items():
        if name in declared or (table.allow_added_columns and found == "string"):
            continue
        drifts.append(Drift(table.qualified_name, name, NO_COLUMN, found))
    expected_partitions = table.partition_columns(partition_facts_by_date)
    if facts.partition_columns != expected_partitions:
        drifts.append(
            Drift(
                table.qualified_name,
                None,
                _partitioning(expected_partitions),
                _partitioning(facts.partition_columns),
            )
        )
    return tuple(drifts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _live_lines(table: TableContract, live: LiveCatalog) -> list[str]:
    facts = live.facts(table.qualified_name)
    if facts is None:
        return [f"**Live:** not built (no Delta table at `{table.path(live.warehouse)}`).", ""]
    parts = [
        _plural(facts.rows, "row"),
        f"{_plural(facts.files, 'file')} of {_size(facts.size_bytes)} ({_size(facts.disk_bytes)} on disk)",
        f"partitioned by `{', '.join(facts.partition_columns)}`"
        if facts.partition_columns
        else "not partitioned",
        f"Z-order: `{', '.join(facts.zorder_columns)}`" if facts.zorder_columns else "not Z-ordered",
        f"version {facts.version}, last operation {facts.last_operation} at "
        f"{facts.last_operation_at:%Y-%m-%d %H:%M:%S} UTC",
    ]
    lines = ["**Live:** " + "; ".join(parts) + ".", ""]
    drifts = find_drift(table, facts, live.partition_facts_by_date)
    added = [
        f"`{name}`"
        for name, type_ in facts.columns
        if name not in table.column_names and _type(type_) == "string"
    ]
    if table.allow_added_columns and added:
        lines += [f"Columns added by schema evolution (as text): {', '.join(added)}.", ""]
    if drifts:
        lines += ["**Drift** from the contract:", ""]
        lines += [f"- {drift.line().removeprefix('drift ')}" for drift in drifts]
        lines.append("")
    return lines


def _table_section(table: TableContract, live: LiveCatalog | None) -> list[str]:
    lines = [f"### `{table.qualified_name}`", "", _cell(table.description), ""]
    facts = []
    if table.source:
        facts.append(f"source: `{table.source}`")
    if table.key:
        facts.append(f"key: `{', '.join(table.key)}`")
    if table.updated_at:
        facts.append(f"version column: `{table.updated_at}`")
    facts.append(
        f"partitioned by: `{', '.join(table.partition_by)}`" if table.partition_by else "not partitioned"
    )
    if table.zorder_by:
        facts.append(f"Z-order: `{', '.join(table.zorder_by)}`")
    if table.layer == "bronze":
        facts.append(
            "added columns: " + ("evolve the table (as text)" if table.allow_added_columns else "quarantined")
        )
    lines += ["; ".join(facts), ""]
    if live is not None:
        lines += _live_lines(table, live)
    lines += ["| column | type | PII | description |", "|---|---|---|---|"]
    for column in table.columns:
        pii = column.pii if column.pii != "none" else ""
        lines.append(f"| `{column.name}` | {column.type} | {pii} | {_cell(column.description)} |")
    rules = table.all_rules
    if rules:
        lines += ["", "| rule | action | must hold | description |", "|---|---|---|---|"]
        for rule in rules:
            lines.append(
                f"| `{rule.name}` | {rule.action} | `{_cell(rule.expression)}` | {_cell(rule.description)} |"
            )
    lines.append("")
    return lines


def _live_header(live: LiveCatalog) -> str:
    built = len(live.tables)
    drifts = len(live.drifts)
    checked = (
        " (partitioning as with `pipeline.partition_facts_by_date` on)"
        if live.partition_facts_by_date
        else ""
    )
    return (
        f"# Data catalog of `{live.warehouse}`\n\n"
        "Rendered by `lakelab catalog` from `pipeline/contracts.py`, `lakelab/sources.py` and the\n"
        f"Delta tables under `{live.warehouse}`: {built} of {len(ALL_CONTRACTS)} contract tables built, "
        f"{_plural(drifts, 'drift')} from the contracts{checked}. Sizes are the current version's\n"
        "files; on disk adds the log and files not vacuumed yet. Z-order is the last\n"
        "`OPTIMIZE ZORDER BY` since the table was last rewritten whole.\n\n" + _RULES
    )


def render_catalog(live: LiveCatalog | None = None) -> str:
    """The whole catalog as Markdown: the contracts, plus each table's live facts when given."""
    lines = [_HEADER if live is None else _live_header(live), "## Landing (source contracts)", ""]
    lines += ["| table | format | key | version column | fields |", "|---|---|---|---|---|"]
    for source in SOURCE_TABLES:
        lines.append(
            f"| `{source.qualified_name}` | {source.format} | `{', '.join(source.key)}` | "
            f"`{source.updated_at}` | {len(source.fields)} |"
        )
    lines.append("")
    for title, tables in (("Bronze", BRONZE), ("Silver", SILVER), ("Gold", GOLD), ("Operations", OPS)):
        lines += [f"## {title}", ""]
        for table in tables:
            lines += _table_section(table, live)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(render_catalog(), end="")
