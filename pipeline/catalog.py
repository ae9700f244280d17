"""The data catalog (`docs/data-catalog.md`), rendered from the contracts and nothing else."""

from __future__ import annotations

from lakelab.sources import SOURCE_TABLES
from pipeline.contracts import BRONZE, GOLD, OPS, SILVER, TableContract

CATALOG_PATH = "docs/data-catalog.md"

_HEADER = """# Data catalog

Rendered from `pipeline/contracts.py` and `lakelab/sources.py` by
`pipeline.catalog.render_catalog()`; a test checks this file equals the rendering, so
edit the contracts, then run `python -m pipeline.catalog > docs/data-catalog.md`.

Rules are SQL expressions that must be TRUE for a row to pass; NULL counts as a
failure. Actions: `warn` keeps the row and counts it, `drop` sends the row to
`_ops/quarantine` with the reason, `fail` stops the run. Partitioning applies when
`pipeline.partition_facts_by_date` is on; Z-ordering when `pipeline.zorder` is on.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table_section(table: TableContract) -> list[str]:
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
    lines += ["; ".join(facts), "", "| column | type | PII | description |", "|---|---|---|---|"]
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


def render_catalog() -> str:
    """The whole catalog as Markdown."""
    lines = [_HEADER, "## Landing (source contracts)", ""]
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
            lines += _table_section(table)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(render_catalog(), end="")
