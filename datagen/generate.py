"""`generate`: plan, build and write one data set into a landing, batch by batch.

Order of writes, so that an interrupted run is recognisable and never mistaken for a
complete one: the dataset marker first with `complete: false`, then for each batch every
table and then `_batches/NNNN.json`, then the dirty manifest, then the marker again with
`complete: true` and the row counts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from datagen.config import DatagenConfig
from datagen.plan import DRIFT_COLUMN, DRIFT_TABLE, DRIFT_TYPE, DatasetPlan, plan_dataset
from lakelab.errors import UserError
from lakelab.sources import BATCH_MARKERS, DATASET_MARKER, DIRTY_MANIFEST

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from datagen.writer import LandingFS

MARKER_FORMAT = 1
# Folders of a data set under the landing root (removed when a run is redone).
DATASET_ENTRIES = ("crm", "snowflake", "_manifest", BATCH_MARKERS, DATASET_MARKER)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TableSummary:
    """What one table cost."""

    table: str
    rows: int
    bytes: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Rows written per second of wall time."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class GenerationSummary:
    """The result of `generate`: per-table figures, or that the landing was already complete."""

    landing: str
    tables: tuple[TableSummary, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    already_complete: bool = False

    @property
    def rows(self) -> int:
        """Rows over all tables."""
        return sum(t.rows for t in self.tables)

    @property
    def bytes(self) -> int:
        """Bytes over all tables."""
        return sum(t.bytes for t in self.tables)

    @property
    def rows_per_second(self) -> float:
        """Rows over all tables per second of the whole run."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def dataset_options(config: DatagenConfig) -> dict[str, Any]:
    """The options that make a data set what it is (compared against an existing landing)."""
    return {
        "seed": config.seed,
        "records": config.records,
        "dirty_rate": config.dirty_rate,
        "batches": config.batches,
        "start_date": config.start_date.isoformat(),
        "end_date": config.end_date.isoformat(),
    }


def marker_payload(plan: DatasetPlan, complete: bool) -> dict[str, Any]:
    """The content of `_lakelab_dataset.json`."""
    try:
        version = metadata.version("lakelab")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "format": MARKER_FORMAT,
        "complete": complete,
        "lakelab_version": version,
        **dataset_options(plan.config),
        "schema_drift": None
        if plan.drift_batch is None
        else {"table": DRIFT_TABLE, "batch": plan.drift_batch, "column": DRIFT_COLUMN, "type": DRIFT_TYPE},
        "tables": {
            t.name: {"rows": t.total_landed_rows, "batches": [t.landed_rows(b.batch) for b in t.batches]}
            for t in plan.tables
        },
        "total_rows": plan.total_landed_rows,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds") if complete else None,
    }


def _java_message(error: Exception) -> str:
    java = getattr(error, "java_exception", None)
    text = str(java.toString()) if java is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _check_writable(fs: LandingFS) -> None:
    probe = fs.join("_lakelab_write_probe")
    try:
        fs.mkdirs(fs.root)
        fs.write_text(probe, "probe\n")
        fs.delete(probe)
    except Exception as error:  # py4j wraps every Java IOException in its own type
        raise UserError(f"landing {fs.root} is not writable: {_java_message(error)}") from None


def _existing_marker(fs: LandingFS) -> dict[str, Any] | None:
    import json

    path = fs.join(DATASET_MARKER)
    if not fs.exists(path):
        return None
    try:
        data = json.loads(fs.read_text(path))
    except ValueError:
        raise UserError(f"{path}: not a lakelab dataset marker (not JSON)") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a lakelab dataset marker")
    return data


def prepare_landing(fs: LandingFS, config: DatagenConfig, overwrite: bool) -> bool:
    """Check the landing may receive this data set; True when it already holds it, complete.

    Raises:
        UserError: not writable; holds files that are not a lakelab data set; holds a
            data set made with other options (unless `overwrite`).
    """
    existing = fs.list_names(fs.root) if fs.exists(fs.root) else []
    marker = _existing_marker(fs)
    if existing and marker is None:
        raise UserError(
            f"landing {fs.root} is not empty and holds no {DATASET_MARKER}; choose an empty folder"
        )
    if marker is not None:
        wanted = dataset_options(config)
        found = {key: marker.get(key) for key in wanted}
        if found != wanted and not overwrite:
            differing = ", ".join(
                f"{k}={found[k]!r} (asked {wanted[k]!r})" for k in wanted if found[k] != wanted[k]
            )
            raise UserError(
                f"landing {fs.root} already holds another data set: {differing}; "
                "use another --landing, or --overwrite to replace it"
            )
        if found == wanted and marker.get("complete") is True and not overwrite:
            return True
        # Same options but interrupted, or asked to overwrite: start again from nothing.
        for entry in DATASET_ENTRIES:
            fs.delete(fs.join(entry))
    _check_writable(fs)
    return False


def generate(
    spark: SparkSession,
    config: DatagenConfig,
    landing: str,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> GenerationSummary:
    """Generate the data set `config` describes into `landing`.

    Args:
        spark: The session to generate with.
        config: Records, seed, dirty rate, batches and date range.
        landing: A local folder or an `s3a://` URI.
        progress: Receives one line per stage (table and batch).
        overwrite: Replace a data set made with other options.

    Returns:
        Rows, bytes and seconds per table; `already_complete` when the landing already
        held exactly this data set (nothing was written).
    """
    from datagen.pools import build_pools
    from datagen.tables import build_batch, build_context, build_manifest
    from datagen.writer import LandingFS, write_batch, write_json, write_manifest

    say = progress or (lambda _line: None)
    started = time.perf_counter()
    plan = plan_dataset(config)
    fs = LandingFS(spark, landing)
    if prepare_landing(fs, config, overwrite):
        say(f"{landing} already holds this data set (complete); nothing to do")
        return GenerationSummary(landing=fs.root, already_complete=True)
    write_json(fs, fs.join(DATASET_MARKER), marker_payload(plan, complete=False))
    pools = build_pools(config.seed)
    ctx = build_context(spark, plan, pools)
    seconds = {t.name: 0.0 for t in plan.tables}
    wrong_type = {
        "crm.account": "AnnualRevenue",
        "crm.campaign": "BudgetedCost",
        "crm.opportunity": "Amount",
    }
    for batch in range(config.batches + 1):
        for tplan in plan.tables:
            table_started = time.perf_counter()
            frame = build_batch(spark, ctx, tplan.name, batch)
            write_batch(fs, frame, tplan.table, batch, wrong_type.get(tplan.name))
            took = time.perf_counter() - table_started
            seconds[tplan.name] += took
            rows = tplan.landed_rows(batch)
            say(
                f"batch {batch}/{config.batches} {tplan.name:<22} {rows:>12,} rows "
                f"{took:7.1f} s {rows / took if took else 0:>12,.0f} rows/s"
            )
        write_json(
            fs,
            fs.join(BATCH_MARKERS, f"{batch:04d}.json"),
            {"batch": batch, "tables": {t.name: t.landed_rows(batch) for t in plan.tables}},
        )
    manifest_started = time.perf_counter()
    write_manifest(fs, build_manifest(spark, ctx), fs.join(DIRTY_MANIFEST))
    say(f"dirty manifest written in {time.perf_counter() - manifest_started:.1f} s")
    summaries = tuple(
        TableSummary(t.name, t.total_landed_rows, fs.size(t.table.landing_path(fs.root)), seconds[t.name])
        for t in plan.tables
    )
    write_json(fs, fs.join(DATASET_MARKER), marker_payload(plan, complete=True))
    return GenerationSummary(landing=fs.root, tables=summaries, seconds=time.perf_counter() - started)
