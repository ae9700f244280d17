"""Property-based hostile input: a drawn landing full of mutated records, run through the pipeline.

Properties, after a real Bronze + Silver run over each drawn landing:

1. Nothing crashes: `run_pipeline` returns (a `PipelineError` counts only when it is a
   declared `fail` rule stopping the run).
2. Every record is accounted for: for every table and batch, the landing records (counted
   by `independent_count`, CSV as RFC 4180 defines a record) equal the Bronze rows plus
   the Bronze quarantine rows. Only a damaged file (or one whose columns are named
   ambiguously) may be set aside whole instead; a damaged one must be.
3. Silver keeps meaning: an unmutated record is in Silver with exactly the delivered
   values (amounts as decimals, times to the microsecond, keys); a mutated record is
   either absent (quarantined) or carries exactly what it delivered: never a changed value.
4. Everything written is readable: every Parquet file by pyarrow, every Delta table by
   delta-rs (Silver may be declined for deletion vectors).

Gold is built once, over the most hostile Silver the first test leaves behind.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings

from lakelab.sources import source_table

from .independent_count import FileCount, count_landing
from .landing_writer import (
    HostileLanding,
    LandingFile,
    Meaning,
    expected_records,
    file_bytes,
    file_is_damaged,
    file_may_be_set_aside,
    write_landing,
)
from .strategies import CHECKS, SILVER_TABLES, hostile_landings
from .warehouse_reader import (
    DeletionVectorsError,
    current_files,
    deltalake_problems,
    read_delta,
    unreadable_parquet,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@dataclass
class Findings:
    """Every property violation of one example, by property."""

    by_property: dict[str, list[str]] = field(default_factory=dict)

    def add(self, prop: str, message: str) -> None:
        self.by_property.setdefault(prop, []).append(message)

    def report(self, landing: HostileLanding, where: Path, seconds: float) -> str:
        lines = [
            f"hostile landing at {where} ({seconds:.0f} s); mutations drawn: {landing.mutation_counts()}",
        ]
        for prop, messages in self.by_property.items():
            lines.append(f"PROPERTY {prop}: {len(messages)} violation(s)")
            lines.extend(f"  - {m}" for m in messages[:25])
            if len(messages) > 25:
                lines.append(f"  ... and {len(messages) - 25} more")
        return "\n".join(lines)


# Where the most hostile Silver of this module's runs is kept, for the Gold test.
_MOST_HOSTILE: dict[str, Any] = {}


def _bronze_table(table: str) -> str:
    source = source_table(table)
    return f"{source.system}_{source.name}"


def _fail_rules() -> set[str]:
    from pipeline.contracts import ALL_CONTRACTS

    return {f"{t.layer}.{t.name}:{r.name}" for t in ALL_CONTRACTS for r in t.all_rules if r.action == "fail"}


def _documented_stop(error: Exception) -> bool:
    """A `PipelineError` raised by a declared `fail` rule (`<layer>.<table>: rule 'x' (action fail)`)."""
    match = re.match(r"^(\w+)\.(\w+): rule '(\w+)' \(action fail\)", str(error))
    return match is not None and f"{match[1]}.{match[2]}:{match[3]}" in _fail_rules()


def run_layers(
    spark: SparkSession, landing: Path, warehouse: Path, layers: list[str], findings: Findings
) -> bool:
    """Run the pipeline; a crash is a finding. True when the run returned."""
    from pipeline.run import PipelineError, run_pipeline

    progress: list[str] = []
    try:
        run_pipeline(spark, _config(), str(landing), str(warehouse), layers=layers, progress=progress.append)
    except PipelineError as error:
        if _documented_stop(error):
            findings.add("documented stop (not a violation)", str(error)[:400])
        else:
            findings.add("nothing crashes", f"{'+'.join(layers)}: PipelineError: {str(error)[:1500]}")
        return False
    except Exception as error:
        last = "; ".join(progress[-3:])
        findings.add(
            "nothing crashes",
            f"{'+'.join(layers)}: {type(error).__name__}: {_first_line(error)} (last progress: {last})",
        )
        return False
    return True


def _config() -> Any:
    from lakelab.config import parse_config

    return parse_config({"pipeline": {}}, "tests/hostile")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:600]


# --- Property 2: every record accounted for --------------------------------------------------


def _bronze_rows(warehouse: Path, table: str) -> Counter[int]:
    """Batch → rows of a landing table's Bronze table."""
    path = warehouse / "bronze" / _bronze_table(table)
    if not (path / "_delta_log").is_dir():
        return Counter()
    return Counter(int(r["_batch_id"]) for r in read_delta(path, ["_batch_id"]).to_pylist())


def _bronze_quarantine(warehouse: Path) -> Counter[tuple[str, int]]:
    """(Bronze table name, batch) → rows Bronze quarantined."""
    path = warehouse / "_ops" / "quarantine"
    if not (path / "_delta_log").is_dir():
        return Counter()
    rows = read_delta(path, ["layer", "table_name", "batch_id"]).to_pylist()
    return Counter((str(r["table_name"]), int(r["batch_id"])) for r in rows if r["layer"] == "bronze")


def _set_aside(warehouse: Path) -> dict[str, str]:
    """Landing file path → reason, for every file Bronze set aside whole."""
    table = warehouse / "_ops" / "quarantined_files"
    if not (table / "_delta_log").is_dir():
        return {}
    rows = read_delta(table, ["source_file", "reason"]).to_pylist()
    return {_local(str(r["source_file"])): str(r["reason"]) for r in rows}


def _local(uri: str) -> str:
    return re.sub(r"^file:(//)?", "", uri)


def _files_by_path(landing: Path, hostile: HostileLanding) -> dict[str, tuple[int, str, LandingFile]]:
    return {
        str(Path(source_table(table).landing_path(str(landing), batch)) / file.name): (batch, table, file)
        for batch, table, file in hostile.files()
    }


def check_accounting(landing: Path, warehouse: Path, hostile: HostileLanding, findings: Findings) -> set[str]:
    """Property 2; returns the paths of the files set aside (their records are not in Bronze)."""
    counted = count_landing(landing)
    generated = expected_records(hostile)
    by_path = _files_by_path(landing, hostile)
    set_aside = _set_aside(warehouse)
    for (table, batch), files in sorted(counted.items()):
        readable = sum(f.records or 0 for f in files if not file_is_damaged(by_path[f.path][2]))
        if readable != generated.get((table, batch), 0):
            findings.add(
                "suite self-check",
                f"{table} batch {batch}: the independent count {readable} != {generated.get((table, batch))} "
                "records the generator wrote (a bug in the suite, not the pipeline)",
            )
    for path, (batch, table, file) in by_path.items():
        count = next((f for f in counted.get((table, batch), []) if f.path == path), None)
        if path in set_aside and not file_may_be_set_aside(file):
            findings.add(
                "every record accounted for",
                f"{table} batch {batch}: readable file {Path(path).name} "
                f"({count.records if count else '?'} records, all readable by Python) set aside whole: "
                f"{set_aside[path][:300]}; its records: {_mutations_of(file)}",
            )
        if file_is_damaged(file) and path not in set_aside:
            findings.add(
                "every record accounted for",
                f"{table} batch {batch}: damaged file {Path(path).name} ({len(file_bytes(file))} bytes) "
                "was not set aside in _ops.quarantined_files",
            )
    quarantine = _bronze_quarantine(warehouse)
    for (table, batch), files in sorted(counted.items()):
        landing_records = sum(f.records or 0 for f in files if f.path not in set_aside)
        bronze = _bronze_rows(warehouse, table)[batch]
        quarantined = quarantine[(_bronze_table(table), batch)]
        if landing_records != bronze + quarantined:
            kept_files = [f for f in files if f.path not in set_aside]
            findings.add(
                "every record accounted for",
                f"{table} batch {batch}: landing {landing_records} (independent count over "
                f"{len(kept_files)} file(s), {len(files) - len(kept_files)} set aside) != bronze {bronze} "
                f"+ quarantined {quarantined}; files: {_file_summary(kept_files, by_path)}",
            )
    return set(set_aside)


def _mutations_of(file: LandingFile) -> str:
    tags = Counter(tag.split(":")[0] for meaning in file.meanings for tag in meaning.mutations)
    return ", ".join(f"{tag} x{n}" for tag, n in sorted(tags.items())) or "unmutated"


def _file_summary(files: list[FileCount], by_path: dict[str, tuple[int, str, LandingFile]]) -> str:
    return "; ".join(f"{Path(f.path).name}: {f.records} [{_mutations_of(by_path[f.path][2])}]" for f in files)


# --- Property 3: Silver keeps meaning --------------------------------------------------------


def _plain(value: Any) -> Any:
    """A pyarrow value as a plain Python one (UTC-naive datetimes)."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _silver_rows(
    warehouse: Path, table: str, findings: Findings
) -> dict[tuple[Any, ...], dict[str, Any]] | None:
    name, key = SILVER_TABLES[table]
    path = warehouse / "silver" / name
    if not (path / "_delta_log").is_dir():
        return {}
    columns = [c.column for c in CHECKS[table]]
    try:
        rows = read_delta(path, columns).to_pylist()
    except DeletionVectorsError as error:
        findings.add("silver keeps meaning", f"silver.{name} not checked: {error}")
        return None
    except (ValueError, OverflowError) as error:
        findings.add(
            "silver keeps meaning", f"silver.{name}: values pyarrow cannot turn into Python: {error}"
        )
        return None
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        plain = {c: _plain(v) for c, v in row.items()}
        row_key = tuple(plain[c] for c in key)
        if any(v is None for v in row_key):
            findings.add("silver keeps meaning", f"silver.{name} holds a row with a NULL key: {plain}")
        by_key[row_key] = plain
    return by_key


def _int96_note(warehouse: Path, table: str, column: str, key: tuple[Any, ...]) -> str:
    """What pyarrow reads for a timestamp when told INT96 holds microseconds (a hint for failures)."""
    name, key_columns = SILVER_TABLES[table]
    try:
        for path in current_files(warehouse / "silver" / name):
            rows = pq.read_table(path, columns=[*key_columns, column], coerce_int96_timestamp_unit="us")
            for row in rows.to_pylist():
                if tuple(_plain(row[c]) for c in key_columns) == key:
                    return f" (with coerce_int96_timestamp_unit='us' pyarrow reads {_plain(row[column])!r})"
    except Exception as error:  # a hint only
        return f" (re-read failed: {error})"
    return ""


def check_silver(
    warehouse: Path, landing_dir: Path, hostile: HostileLanding, set_aside: set[str], findings: Findings
) -> None:
    """Property 3 over every record whose Silver key is known."""
    by_path = _files_by_path(landing_dir, hostile)
    skipped = {
        id(file) for path, (_, _, file) in by_path.items() if path in set_aside or file_is_damaged(file)
    }
    for table in SILVER_TABLES:
        silver = _silver_rows(warehouse, table, findings)
        if silver is None:
            continue
        for batch, file, meaning in hostile.meanings():
            if meaning.table != table or meaning.key is None or id(file) in skipped:
                continue
            row = silver.get(meaning.key)
            if row is None:
                if not meaning.mutated:
                    findings.add(
                        "silver keeps meaning",
                        f"unmutated record missing from silver (batch {batch}): {meaning.describe()}",
                    )
                continue
            _compare(warehouse, table, batch, meaning, row, findings)


def _compare(
    warehouse: Path, table: str, batch: int, meaning: Meaning, row: dict[str, Any], findings: Findings
) -> None:
    for column, allowed in meaning.values.items():
        actual = row.get(column)
        if not allowed:
            findings.add(
                "silver keeps meaning",
                f"silver.{SILVER_TABLES[table][0]}.{column} = {actual!r}, but the delivery has no value of "
                f"that type (batch {batch}): {meaning.describe()}",
            )
        elif not any(_same(actual, expected) for expected in allowed):
            hint = (
                _int96_note(warehouse, table, column, meaning.key or ())
                if isinstance(actual, dt.datetime)
                else ""
            )
            findings.add(
                "silver keeps meaning",
                f"silver.{SILVER_TABLES[table][0]}.{column} = {actual!r} != delivered {allowed[0]!r}{hint} "
                f"(batch {batch}): {meaning.describe()}",
            )


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Decimal) and isinstance(actual, Decimal):
        return actual == expected
    if isinstance(expected, float) and isinstance(actual, float):
        return actual == expected
    return bool(type(actual) is type(expected) and actual == expected) or (
        actual is None and expected is None
    )


# --- Property 4: readable --------------------------------------------------------------------


def check_readable(warehouse: Path, findings: Findings) -> None:
    """Property 4."""
    for problem in unreadable_parquet(warehouse):
        findings.add("readable by pyarrow and delta-rs", f"pyarrow cannot read {problem}")
    problems, declined = deltalake_problems(warehouse)
    for problem in problems:
        findings.add("readable by pyarrow and delta-rs", f"delta-rs cannot read {problem}")
    for text in declined:
        if not text.startswith("silver"):
            findings.add("readable by pyarrow and delta-rs", f"delta-rs declines (deletion vectors) {text}")


# --- The tests -------------------------------------------------------------------------------


def _hostility(landing: HostileLanding) -> int:
    return sum(landing.mutation_counts().values())


@pytest.fixture(scope="module")
def examples_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for this module's landings and warehouses (the last three runs are kept by pytest)."""
    yield tmp_path_factory.mktemp("hostile")


@settings(PROFILE)
@given(hostile=hostile_landings())
def test_hostile_landing_is_accounted_for_and_keeps_meaning(
    spark: SparkSession, examples_root: Path, hostile: HostileLanding
) -> None:
    started = time.perf_counter()
    root = Path(str(examples_root)) / f"example-{len(list(examples_root.iterdir())):03d}"
    landing, warehouse = root / "landing", root / "warehouse"
    write_landing(landing, hostile)
    findings = Findings()
    if run_layers(spark, landing, warehouse, ["bronze", "silver"], findings):
        set_aside = check_accounting(landing, warehouse, hostile, findings)
        check_silver(warehouse, landing, hostile, set_aside, findings)
        if _hostility(hostile) > _MOST_HOSTILE.get("mutations", -1):
            _MOST_HOSTILE.update(
                mutations=_hostility(hostile), warehouse=warehouse, landing=landing, hostile=hostile
            )
    if warehouse.exists():
        check_readable(warehouse, findings)
    violations = {p: m for p, m in findings.by_property.items() if not p.startswith("documented")}
    assert not violations, findings.report(hostile, root, time.perf_counter() - started)


def test_gold_builds_over_the_most_hostile_silver(spark: SparkSession, examples_root: Path) -> None:
    """Gold, once: over a copy of the warehouse of the most mutated landing the first test ran."""
    if "warehouse" not in _MOST_HOSTILE:
        pytest.skip("needs a Bronze + Silver run of test_hostile_landing_is_accounted_for_and_keeps_meaning")
    warehouse = examples_root / "gold-warehouse"
    shutil.copytree(_MOST_HOSTILE["warehouse"], warehouse)
    findings = Findings()
    run_layers(spark, _MOST_HOSTILE["landing"], warehouse, ["gold"], findings)
    check_readable(warehouse, findings)
    for name in ("revenue_attribution", "customer_360", "rfm_segments", "cohort_retention", "daily_revenue"):
        if not (warehouse / "gold" / name / "_delta_log").is_dir():
            findings.add("nothing crashes", f"gold.{name} was not written")
    violations = {p: m for p, m in findings.by_property.items() if not p.startswith("documented")}
    assert not violations, findings.report(_MOST_HOSTILE["hostile"], warehouse, 0.0)
