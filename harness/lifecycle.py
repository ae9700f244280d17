"""`lakelab lifecycle`: the tables' life at laptop scale, one CDC batch after another.

A landing of `--records` records in `--batches` incremental batches (generated once, reused
after) is shown to the pipeline one batch at a time, through a view of it whose completion
markers appear in order, the way batches arrive. After each batch it measures:

- each layer's seconds (Silver's are its MERGEs; Gold is rebuilt from Silver);
- each Silver and Gold table's files, bytes, Delta version and rows;
- read latency: a fixed set of queries (the BI dashboard's four on Gold, two on Silver),
  with the same filters every time, `--reads` rounds.

Then OPTIMIZE (ZORDER BY the contracts' columns) and the same reads again, as a ratio to the
last batch's with a bootstrap interval; time-travel reads of every Silver table at the
versions the batches of `--versions` left, checked against the rows each held then; and
VACUUM (`--retain-hours`, default 0: the lab owns this warehouse), what it deleted, and
which of those versions can still be read after it.

The warehouse and the landing view are this command's own: local folders, rebuilt each run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from lakelab.sources import BATCH_MARKERS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakelab.config import LakelabConfig
    from loadtest.queries import Bounds

LAYERS = ("silver", "gold")
"""The layers whose tables are measured (Bronze only appends)."""


@dataclass(frozen=True)
class LifecyclePlan:
    """What one `lakelab lifecycle` does, checked before Spark starts."""

    records: int
    batches: int
    reads: int
    versions: tuple[int, ...]
    retain_hours: float
    seed: int
    landing: Path
    view: Path
    warehouse: Path
    out: Path
    results: str


def parse_versions(text: str | None, batches: int) -> tuple[int, ...]:
    """`--versions`: the batches whose table versions are read back (default: first, middle, last)."""
    if text is None:
        return tuple(sorted({0, batches // 2, batches}))
    values = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise UserError(f"--versions {text}: '{part}' is not a batch number")
        if int(part) > batches:
            raise UserError(f"--versions {text}: batch {part} is past the last one, {batches}")
        values.add(int(part))
    return tuple(sorted(values))


def _local(path: str, option: str) -> Path:
    if "://" in path:
        raise UserError(f"{option} {path}: lifecycle runs on local folders (it links batches into a view)")
    return Path(path).resolve()


def plan_lifecycle(config: LakelabConfig, args: argparse.Namespace) -> LifecyclePlan:
    """The options, checked: a one-line UserError for any that cannot work."""
    from lakelab.counts import parse_count

    records = parse_count(args.records, "--records") if args.records else config.datagen.records
    batches = args.batches
    if not 1 <= batches <= 99:
        raise UserError(f"--batches {batches}: give 1 to 99 incremental batches")
    if args.reads < 1:
        raise UserError(f"--reads {args.reads}: give 1 or more rounds")
    if args.retain_hours < 0:
        raise UserError(f"--retain-hours {args.retain_hours:g}: a retention cannot be negative")
    seed = config.datagen.seed if args.seed is None else args.seed

    def root() -> Path:  # only for what the options leave out
        return _local(config.paths.sweep, "paths.sweep") / "lifecycle"

    landing = (
        _local(args.landing, "--landing")
        if args.landing
        else root() / f"landing-{records}-{batches}b-seed{seed}"
    )
    if args.warehouse:
        warehouse = _local(args.warehouse, "--warehouse")
        if warehouse.exists() and (not warehouse.is_dir() or any(warehouse.iterdir())):
            raise UserError(
                f"--warehouse {args.warehouse}: not empty; lifecycle builds its tables from batch 0 "
                "(give a new folder, or leave the option out for its own)"
            )
    else:
        warehouse = root() / "warehouse"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (
        Path(args.out).resolve() if args.out else Path(config.paths.reports).resolve() / f"lifecycle-{stamp}"
    )
    return LifecyclePlan(
        records=records,
        batches=batches,
        reads=args.reads,
        versions=parse_versions(args.versions, batches),
        retain_hours=float(args.retain_hours),
        seed=seed,
        landing=landing,
        view=landing.parent / f"{landing.name}-view",
        warehouse=warehouse,
        out=out,
        results=args.results or config.paths.results,
    )


def start_view(landing: Path, view: Path) -> None:
    """A landing view with every folder of `landing` but no batch complete yet."""
    if view.exists() or view.is_symlink():
        shutil.rmtree(view)
    view.mkdir(parents=True)
    for entry in landing.iterdir():
        if entry.name != BATCH_MARKERS:
            (view / entry.name).symlink_to(entry.resolve())
    (view / BATCH_MARKERS).mkdir()


def reveal_batch(landing: Path, view: Path, batch: int) -> None:
    """Batch `batch` arrives: its completion marker appears in the view."""
    marker = landing / BATCH_MARKERS / f"{batch:04d}.json"
    if not marker.exists():
        raise UserError(f"{landing}: batch {batch} is not complete (no {marker.name})")
    (view / BATCH_MARKERS / marker.name).symlink_to(marker)


def _quoted(path: str) -> str:
    return path.replace("`", "``")


def read_queries(warehouse: str, bounds: Bounds, seed: int, order_id: int) -> dict[str, str]:
    """The reads timed after every batch, filters drawn once (pure): the dashboard's queries on
    Gold, a month-by-month scan of Silver orders in a date range, and one order's lines by key
    (Silver order lines are Z-ordered by it)."""
    from loadtest.queries import DASHBOARD, draw_filters
    from pipeline.contracts import contract

    rng = random.Random(f"{seed}-lifecycle")
    queries = {
        name: query(warehouse, draw_filters(rng, bounds)) for name, (query, _weight) in DASHBOARD.items()
    }
    f = draw_filters(rng, bounds)
    orders = _quoted(contract("silver.orders").path(warehouse))
    lines = _quoted(contract("silver.order_lines").path(warehouse))
    queries["silver_orders_by_month"] = (
        "SELECT date_trunc('MONTH', dt) AS month, count(*) AS orders, sum(order_total_usd) AS usd "
        f"FROM delta.`{orders}` WHERE dt BETWEEN DATE'{f.start}' AND DATE'{f.end}' GROUP BY 1 ORDER BY 1"
    )
    queries["silver_lines_of_one_order"] = (
        f"SELECT * FROM delta.`{lines}` WHERE order_id = {int(order_id)} ORDER BY line_number"
    )
    return queries


def measure_reads(run_rows: Callable[[str], int], queries: Mapping[str, str], rounds: int) -> dict[str, Any]:
    """`rounds` rounds of every query: milliseconds per round and the rows each returned.

    `round_ms` is each round's total over the queries, the figure the drift is told by.
    """
    figures: dict[str, Any] = {name: {"ms": [], "rows": None} for name in queries}
    totals = []
    for _ in range(rounds):
        total = 0.0
        for name, sql in queries.items():
            started = time.perf_counter()
            rows = run_rows(sql)
            ms = (time.perf_counter() - started) * 1000.0
            figures[name]["ms"].append(round(ms, 1))
            figures[name]["rows"] = rows
            total += ms
        totals.append(round(total, 1))
    return {"queries": figures, "round_ms": totals, "median_round_ms": statistics.median(totals)}


def table_states(spark: SparkSession, warehouse: str) -> list[dict[str, Any]]:
    """Each existing Silver and Gold table's files, bytes, latest version and rows."""
    from pipeline import io
    from pipeline.contracts import ALL_CONTRACTS

    states = []
    for table in ALL_CONTRACTS:
        path = table.path(warehouse)
        if table.layer not in LAYERS or not io.is_delta_table(spark, path):
            continue
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{_quoted(path)}`").collect()[0]
        version = spark.sql(f"DESCRIBE HISTORY delta.`{_quoted(path)}` LIMIT 1").collect()[0]["version"]
        states.append(
            {
                "table": table.qualified_name,
                "layer": table.layer,
                "files": int(detail["numFiles"]),
                "bytes": int(detail["sizeInBytes"]),
                "version": int(version),
                "rows": spark.read.format("delta").load(path).count(),
            }
        )
    return states


def layer_totals(states: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Files and bytes summed per layer (pure)."""
    totals: dict[str, dict[str, int]] = {}
    for state in states:
        layer = totals.setdefault(state["layer"], {"files": 0, "bytes": 0})
        layer["files"] += state["files"]
        layer["bytes"] += state["bytes"]
    return totals


def files_on_disk(warehouse: Path) -> dict[str, int]:
    """Data files (Parquet and deletion vectors) under the Silver and Gold folders, and bytes:
    what VACUUM can delete, which the Delta log no longer counts."""
    files = size = 0
    for layer in LAYERS:
        for folder, dirs, names in os.walk(warehouse / layer):
            dirs[:] = [d for d in dirs if d != "_delta_log"]
            for name in names:
                if name.endswith((".parquet", ".bin")):
                    files += 1
                    size += (Path(folder) / name).stat().st_size
    return {"files": files, "bytes": size}


def read_version(spark: SparkSession, path: str, version: int, key: Sequence[str]) -> tuple[int, int]:
    """Rows and a checksum (XOR of the keys' hashes) of a table at `version`: a read of its files."""
    from pyspark.sql import functions as F  # noqa: N812

    row = (
        spark.read.format("delta")
        .option("versionAsOf", version)
        .load(path)
        .agg(
            F.count(F.lit(1)).alias("rows"), F.expr(f"bit_xor(xxhash64({', '.join(key)}))").alias("checksum")
        )
        .collect()[0]
    )
    return int(row["rows"]), int(row["checksum"] or 0)


def time_travel(
    spark: SparkSession,
    warehouse: str,
    states: Mapping[int, Sequence[Mapping[str, Any]]],
    versions: Sequence[int],
) -> list[dict[str, Any]]:
    """Every Silver table read at the version each batch of `versions` left it at."""
    from lakelab.cli import spark_failure
    from loadtest.server import first_line
    from pipeline.contracts import contract

    reads = []
    for batch in versions:
        for state in states[batch]:
            if state["layer"] != "silver":
                continue
            table = contract(state["table"])
            entry: dict[str, Any] = {
                "batch": batch,
                "table": state["table"],
                "version": state["version"],
                "expected_rows": state["rows"],
            }
            started = time.perf_counter()
            try:
                rows, checksum = read_version(spark, table.path(warehouse), state["version"], table.key)
            except Exception as error:
                entry.update(readable=False, error=(spark_failure(error) or first_line(error))[:300])
            else:
                entry.update(readable=True, rows=rows, checksum=checksum, matches=rows == state["rows"])
            entry["ms"] = round((time.perf_counter() - started) * 1000.0, 1)
            reads.append(entry)
    return reads


def current_reads(
    spark: SparkSession, warehouse: str, states: Sequence[Mapping[str, Any]]
) -> dict[str, list[int]]:
    """Rows and key checksum of each Silver table's version in `states` (a full read)."""
    from pipeline.contracts import contract

    reads = {}
    for state in states:
        if state["layer"] == "silver":
            table = contract(state["table"])
            reads[state["table"]] = list(
                read_version(spark, table.path(warehouse), state["version"], table.key)
            )
    return reads


def ratios(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """After OPTIMIZE over before, per query and per round, with bootstrap intervals (pure)."""
    from harness.stats import format_estimate, ratio_of_medians

    def estimate(new: Sequence[float], old: Sequence[float]) -> dict[str, Any]:
        e = ratio_of_medians(new, old)
        return {
            "ratio": e.ratio,
            "low": e.low,
            "high": e.high,
            "verdict": e.verdict,
            "text": format_estimate(e),
        }

    figures = {
        name: estimate(after["queries"][name]["ms"], before["queries"][name]["ms"])
        for name in before["queries"]
    }
    figures["all queries (per round)"] = estimate(after["round_ms"], before["round_ms"])
    return figures


@contextmanager
def jvm_console_to(path: Path) -> Iterator[None]:
    """The JVM's standard output (it shares this process's) appended to `path` meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with path.open("a", encoding="utf-8") as target:
            os.dup2(target.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def _batch_line(entry: Mapping[str, Any], batches: int) -> str:
    layers = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in entry["layer_seconds"].items())
    totals = entry["layer_totals"]
    files = ", ".join(f"{layer} {totals[layer]['files']}" for layer in LAYERS if layer in totals)
    return (
        f"lifecycle: batch {entry['batch']}/{batches}: {layers}; files {files}; "
        f"reads {entry['reads']['median_round_ms']:.0f} ms a round; load {entry['load_average_1m']:.1f}"
    )


def run_lifecycle(
    spark: SparkSession, config: LakelabConfig, plan: LifecyclePlan, say: Callable[[str], None]
) -> dict[str, Any]:
    """Every batch, then OPTIMIZE, time travel and VACUUM; the record's payload."""
    from datagen.generate import generate
    from loadtest.queries import Bounds, bounds_sql
    from pipeline.contracts import ALL_CONTRACTS, contract
    from pipeline.maintain import maintenance_conf, optimize_table, vacuum_table
    from pipeline.result import PipelineError
    from pipeline.run import run_pipeline

    say(
        f"lifecycle: data set of {plan.records:,} records, batch 0 and {plan.batches} CDC batches, "
        f"in {plan.landing}"
    )
    datagen = config.datagen.model_copy(
        update={"records": plan.records, "batches": plan.batches, "seed": plan.seed}
    )
    summary = generate(spark, datagen, str(plan.landing), progress=lambda line: say(f"  {line}"))
    say(f"lifecycle: data set {'reused' if summary.already_complete else 'generated'}")
    if plan.warehouse.exists():
        shutil.rmtree(plan.warehouse)
    plan.out.mkdir(parents=True, exist_ok=True)
    start_view(plan.landing, plan.view)
    warehouse = str(plan.warehouse)
    log = plan.out / "pipeline.log"

    def rows_of(sql: str) -> int:
        return len(spark.sql(sql).collect())

    batches: list[dict[str, Any]] = []
    states: dict[int, list[dict[str, Any]]] = {}
    queries: dict[str, str] = {}
    with log.open("w", encoding="utf-8") as pipeline_log:
        for batch in range(plan.batches + 1):
            reveal_batch(plan.landing, plan.view, batch)
            try:
                result = run_pipeline(
                    spark,
                    config,
                    str(plan.view),
                    warehouse,
                    progress=lambda line: print(line, file=pipeline_log, flush=True),
                )
            except PipelineError as error:
                raise UserError(
                    f"lifecycle: batch {batch}: the pipeline failed: {error}; see {log}"
                ) from None
            if not queries:
                bounds_row = spark.sql(bounds_sql(warehouse)).collect()[0]
                bounds = Bounds(bounds_row["first_day"], bounds_row["last_day"], tuple(bounds_row["regions"]))
                lines = _quoted(contract("silver.order_lines").path(warehouse))
                order_id = spark.sql(
                    f"SELECT percentile_approx(order_id, 0.5) FROM delta.`{lines}`"
                ).collect()[0][0]
                queries = read_queries(warehouse, bounds, plan.seed, order_id)
                for sql in queries.values():  # warm-up, not measured
                    rows_of(sql)
            states[batch] = table_states(spark, warehouse)
            entry = {
                "batch": batch,
                "run_id": result.run_id,
                "reconciled": result.reconciled,
                "layer_seconds": {k: round(v, 3) for k, v in result.layer_seconds.items()},
                "stages": [
                    {
                        "layer": s.layer,
                        "table": s.table,
                        "seconds": round(s.seconds, 3),
                        "rows_in": s.rows_in,
                        "rows_out": s.rows_out,
                        "rows_quarantined": s.rows_quarantined,
                    }
                    for s in result.stages
                ],
                "tables": states[batch],
                "layer_totals": layer_totals(states[batch]),
                "reads": measure_reads(rows_of, queries, plan.reads),
            }
            # The machine is shared: a batch measured while something else ran says so.
            entry["load_average_1m"] = round(os.getloadavg()[0], 2)
            batches.append(entry)
            say(_batch_line(entry, plan.batches))

    measured = [
        t
        for t in ALL_CONTRACTS
        if t.layer in LAYERS and t.qualified_name in {s["table"] for s in states[plan.batches]}
    ]
    with maintenance_conf(spark, config.pipeline, plan.retain_hours):
        started = time.perf_counter()
        optimized = [optimize_table(spark, table, warehouse, config.pipeline) for table in measured]
        optimize_seconds = time.perf_counter() - started
        after_states = table_states(spark, warehouse)
        after_reads = measure_reads(rows_of, queries, plan.reads)
        optimize: dict[str, Any] = {
            "seconds": round(optimize_seconds, 2),
            "tables": optimized,
            "states": after_states,
            "layer_totals": layer_totals(after_states),
            "reads": after_reads,
            "ratios": ratios(after_reads, batches[-1]["reads"]),
        }
        totals = optimize["layer_totals"]
        say(
            f"lifecycle: OPTIMIZE in {optimize_seconds:.1f}s: files "
            + ", ".join(
                f"{layer} {batches[-1]['layer_totals'][layer]['files']} -> {totals[layer]['files']}"
                for layer in LAYERS
                if layer in totals
            )
            + f"; reads {after_reads['median_round_ms']:.0f} ms a round "
            f"({optimize['ratios']['all queries (per round)']['text']})"
        )
        travel = time_travel(spark, warehouse, states, plan.versions)
        good = sum(1 for t in travel if t.get("matches"))
        say(f"lifecycle: time travel: {good} of {len(travel)} reads returned the rows the version held")
        current_before = current_reads(spark, warehouse, after_states)
        disk_before = files_on_disk(plan.warehouse)
        started = time.perf_counter()
        with jvm_console_to(log):  # Delta prints "Deleted N files ..." per table
            for table in measured:
                vacuum_table(spark, table, warehouse, plan.retain_hours)
        vacuum_seconds = time.perf_counter() - started
        disk_after = files_on_disk(plan.warehouse)
    travel_after = time_travel(spark, warehouse, states, plan.versions)
    readable = sum(1 for t in travel_after if t["readable"])
    current_after = current_reads(spark, warehouse, after_states)
    kept = current_after == current_before
    say(
        f"lifecycle: VACUUM (retain {plan.retain_hours:g} h) in {vacuum_seconds:.1f}s: "
        f"{disk_before['files']} data files -> {disk_after['files']}; "
        f"{readable} of {len(travel_after)} time-travel reads still possible; the current versions "
        + ("read the same rows and keys as before it" if kept else "CHANGED")
    )
    return {
        "records": plan.records,
        "batches": plan.batches,
        "seed": plan.seed,
        "landing": str(plan.landing),
        "warehouse": warehouse,
        "reads_per_measure": plan.reads,
        "queries": queries,
        "spark_master": config.spark.master,
        "per_batch": batches,
        "optimize": optimize,
        "time_travel": travel,
        "vacuum": {
            "retain_hours": plan.retain_hours,
            "seconds": round(vacuum_seconds, 2),
            "disk_before": disk_before,
            "disk_after": disk_after,
            "time_travel_after": travel_after,
            "current_before": current_before,
            "current_after": current_after,
            "current_kept": kept,
        },
    }


def run_lifecycle_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab lifecycle`: the run, a report with PNGs and a `lifecycle` record."""
    from harness.lifecycle_report import write_report
    from lakelab.records import RecordKind, git_commit, new_record, write_record
    from lakelab.spark import get_session

    plan = plan_lifecycle(config, args)
    # The record's provenance is taken when it is written; a commit made during a run this long
    # would stand for code the run never loaded.
    commit = git_commit()
    started = time.perf_counter()
    spark = get_session(config, app_name=f"{config.spark.app_name}-lifecycle")
    payload = run_lifecycle(spark, config, plan, lambda line: print(line, flush=True))
    payload["seconds"] = round(time.perf_counter() - started, 1)
    payload["git_commit_at_start"] = commit
    report = write_report(payload, plan.out)
    record = write_record(new_record(RecordKind.LIFECYCLE, payload, plan.seed), plan.results)
    print(f"report: {report}; record: {record}", flush=True)
    if not payload["vacuum"]["current_kept"]:
        raise UserError(f"VACUUM changed what the current Silver versions hold; see {report}")
    wrong = [t for t in payload["time_travel"] if not t.get("matches")]
    if wrong:
        first = wrong[0]
        raise UserError(
            f"time travel: {first['table']} at version {first['version']} (after batch {first['batch']}) "
            f"returned {first.get('rows', 'no')} rows, not {first['expected_rows']:,}; see {report}"
        )
    return 0
