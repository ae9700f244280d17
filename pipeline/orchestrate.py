"""Runs the layers in order: wires the pure transforms to `pipeline.io`.

Crash safety (a run can be killed at any instant, and the next run must end where an
uninterrupted one would):
- Bronze appends skip the batches the target table already holds, so re-ingesting a
  batch adds nothing. Into a table that existed before the run they also carry Delta's
  `txnAppId`/`txnVersion`; a table the run created gets a plain append (it can hold no
  transaction yet, and the lookup costs seconds: see `io.append_idempotent`).
- Silver MERGEs replace a row only with a newer one, so re-merging changes nothing.
- Each layer writes its quarantine rows, rule results and run-log rows once, at its end
  (one commit each: on a busy machine every Delta commit costs seconds). The run log is
  the ledger: a table's next batch is the one after the highest `batch_to` logged, so
  a layer killed before its run log is simply done again.
- Gold is rebuilt whenever Silver has reached a batch Gold has not.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cluster.failures import environment_failure
from lakelab.sources import SOURCE_TABLES, SourceTable
from pipeline import gold, io, lineage, parallel
from pipeline.bronze import (
    BronzeParams,
    addable_columns,
    bronze_columns,
    to_bronze_json,
    to_bronze_tabular,
)
from pipeline.contracts import (
    BATCH_ID,
    GOLD,
    GOLD_COHORT_RETENTION,
    GOLD_CUSTOMER_360,
    GOLD_DAILY_REVENUE,
    GOLD_REVENUE_ATTRIBUTION,
    GOLD_RFM,
    QUALITY_RESULTS,
    QUARANTINE,
    QUARANTINED_FILES,
    RAW_RECORD,
    RECORD_HASH,
    RUN_LOG,
    SILVER,
    SOURCE_FILE,
    UNEXPECTED_COLUMNS,
    GoldParams,
    QualityRule,
    TableContract,
    bronze_for,
    contract,
    silver_for,
)
from pipeline.quality import (
    QuarantineParams,
    RuleCount,
    Tally,
    accepted_rows,
    evaluate_rules,
    fail_rule_violations,
    quarantine_rows,
    raw_record_of_rejected,
    tally,
)
from pipeline.result import PipelineError, PipelineRunResult, StageResult
from pipeline.silver import latest_per_key, silver_columns, to_silver, version_order

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakelab.config import LakelabConfig
    from pipeline.config import PipelineConfig

Progress = Callable[[str], None]
COMMIT_STAGE = "(layer commit)"
Item = TypeVar("Item")
_Built = TypeVar("_Built")


def _layer_cache() -> Any:
    """Where a layer keeps each table's checked rows until its one commit: on local disk.

    Every table of the layer stays cached until the quarantine is written at the end; at 10M
    records nine tables' rows outgrew a 4 GB driver heap when cached in memory (local mode).
    """
    from pyspark import StorageLevel

    return StorageLevel.DISK_ONLY


def _cancel_jobs(spark: SparkSession) -> None:
    """Stop the session's running jobs (classic and Spark Connect sessions alike)."""
    try:
        spark.sparkContext.cancelAllJobs()
    except Exception:  # Spark Connect has no SparkContext
        spark.interruptAll()


def _release(built: object) -> None:
    """Free what a table's part of a layer cached, when the layer will not commit it."""
    if isinstance(built, _TableWork):
        built.evaluated.unpersist()


def _checked(rows: DataFrame, rules: Sequence[QualityRule]) -> DataFrame:
    """Rows with their rule results, cached for the layer: the write, the tally and the
    quarantine read them (the raw record only where the quarantine will)."""
    return raw_record_of_rejected(evaluate_rules(rows, rules), RAW_RECORD).persist(_layer_cache())


@dataclass
class _Run:
    """State shared by the steps of one run."""

    spark: SparkSession
    config: PipelineConfig
    landing: str
    warehouse: str
    progress: Progress
    run_id: str
    started_at: dt.datetime
    stages: list[StageResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reconciled: bool = True
    # The run log's highest finished batch per (layer, table): read once, then kept up to
    # date by `_write_run_log` (each read of a table just appended to costs Delta a state
    # reconstruction).
    finished: dict[tuple[str, str], int] | None = None
    # Writes an OpenLineage event per table the run log records (`[pipeline] lineage`).
    lineage_writer: lineage.LineageWriter | None = None

    def ensure(self, table: TableContract, extra_columns: Sequence[str] = ()) -> str:
        return io.ensure_table(self.spark, table, self.warehouse, self.config, extra_columns)

    def create_if_missing(self, table: TableContract) -> tuple[str, bool]:
        """Create the table if missing: its path, and True when this call created it (so it
        holds nothing yet, and a plain append needs no transaction lookup)."""
        created = io.create_table(self.spark, table, self.warehouse, self.config)
        return table.path(self.warehouse), created

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress(f"note: {text}")

    def build_all(
        self,
        items: Sequence[Item],
        build: Callable[[Item], _Built],
        waits_for: Callable[[int], Iterable[int]] = lambda _index: (),
    ) -> list[_Built]:
        """Each table's part of a layer, `parallel_tables` at a time (see `pipeline.parallel`);
        on a failure, the cached rows of the tables that finished are released."""
        return parallel.build_all(
            items,
            build,
            self.config.parallel_tables,
            waits_for,
            release=lambda built: _release(built),
            interrupted=lambda: _cancel_jobs(self.spark),
        )


@dataclass
class _TableWork:
    """One table's part of a layer, kept until the layer commits its shared tables."""

    table: TableContract
    batch_from: int
    batch_to: int
    started: float
    evaluated: DataFrame
    counts: Tally
    seconds: float = 0.0
    rows_out: int = 0
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    rejected_files: list[io.RejectedFile] = field(default_factory=list)


def execute(
    spark: SparkSession,
    config: LakelabConfig,
    landing: str,
    warehouse: str,
    layers: tuple[str, ...],
    progress: Progress,
) -> PipelineRunResult:
    """Run the selected layers; see `pipeline.run.run_pipeline`."""
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run = _Run(
        spark=spark,
        config=config.pipeline,
        landing=landing.rstrip("/"),
        warehouse=warehouse.rstrip("/"),
        progress=progress,
        run_id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        started_at=now,
    )
    if config.pipeline.lineage:
        folder = lineage.lineage_folder(run.warehouse, config.paths.reports)
        run.lineage_writer = lineage.LineageWriter(folder, run.run_id, run.warehouse, run.landing)
    progress(f"run {run.run_id}: layers {', '.join(layers)}; landing {landing}; warehouse {warehouse}")
    layer_seconds: dict[str, float] = {}
    for name, layer in (("bronze", _bronze_layer), ("silver", _silver_layer), ("gold", _gold_layer)):
        if name in layers:
            layer_started = time.perf_counter()
            layer(run)
            layer_seconds[name] = time.perf_counter() - layer_started
    return PipelineRunResult(
        run_id=run.run_id,
        stages=list(run.stages),
        reconciled=run.reconciled,
        layers=layers,
        seconds=time.perf_counter() - started,
        notes=tuple(run.notes),
        layer_seconds=layer_seconds,
    )


def _stage_line(stage: StageResult) -> str:
    batches = "" if stage.batch_from is None else f" batches {stage.batch_from}..{stage.batch_to}"
    rate = f"{stage.rows_per_second:,.0f} rows/s" if stage.rows_in else "-"
    detail = f" ({stage.detail})" if stage.detail else ""
    return (
        f"{stage.layer:<6} {stage.table:<22}{batches}: in {stage.rows_in:,}, out {stage.rows_out:,}, "
        f"quarantined {stage.rows_quarantined:,}, {stage.seconds:.1f}s, {rate}{detail}"
    )


def _ledger(run: _Run) -> dict[tuple[str, str], int]:
    """(layer, table) → the highest batch the run log says was finished."""
    if run.finished is None:
        run.finished = _read_ledger(run)
    return dict(run.finished)


def _read_ledger(run: _Run) -> dict[tuple[str, str], int]:
    from pyspark.sql import functions as sf

    path = RUN_LOG.path(run.warehouse)
    if not io.is_delta_table(run.spark, path):
        return {}
    rows = (
        io.read_table(run.spark, path)
        .where(sf.col("batch_to").isNotNull())
        .groupBy("layer", "table_name")
        .agg(sf.max("batch_to").alias("last"))
        .collect()
    )
    return {(str(r["layer"]), str(r["table_name"])): int(r["last"]) for r in rows}


def _write_run_log(run: _Run, stages: Sequence[tuple[StageResult, bool | None]]) -> None:
    """Record finished stages in the run log (the ledger), then in the result."""
    if not stages:
        return
    logged_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        (
            run.run_id,
            s.layer,
            s.table,
            s.batch_from,
            s.batch_to,
            s.rows_in,
            s.rows_out,
            s.rows_quarantined,
            reconciled,
            s.detail,
            float(s.seconds),
            logged_at,
        )
        for s, reconciled in stages
    ]
    path = run.ensure(RUN_LOG)
    io.append(run.spark.createDataFrame(rows, RUN_LOG.ddl()), path)
    if run.finished is not None:
        for s, _ in stages:
            if s.batch_to is not None:
                key = (s.layer, s.table)
                run.finished[key] = max(s.batch_to, run.finished.get(key, s.batch_to))
    for stage, _ in stages:
        run.stages.append(stage)
        run.progress(_stage_line(stage))
    if run.lineage_writer is not None:
        run.lineage_writer.emit(
            lineage.WrittenTable(s.layer, s.table, s.rows_out, s.batch_from, s.batch_to)
            for s, _ in stages
            if s.table != COMMIT_STAGE
        )
        if run.lineage_writer.error is not None:
            run.note(run.lineage_writer.error)
            run.lineage_writer = None


def _write_rule_results(run: _Run, layer: str, work: Sequence[_TableWork]) -> None:
    recorded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        (
            run.run_id,
            layer,
            w.table.name,
            c.rule,
            c.action,
            c.rows_evaluated,
            c.rows_failed,
            w.batch_from,
            w.batch_to,
            recorded_at,
        )
        for w in work
        for c in w.counts.counts
    ]
    if rows:
        path = run.ensure(QUALITY_RESULTS)
        io.append(run.spark.createDataFrame(rows, QUALITY_RESULTS.ddl()), path)


def _stop_on_fail_rules(layer: str, table: str, counts: Sequence[RuleCount]) -> None:
    violations = fail_rule_violations(counts)
    if violations:
        first = violations[0]
        raise PipelineError(
            f"{layer}.{table}: rule '{first.rule}' (action fail) broken by {first.rows_failed:,} of "
            f"{first.rows_evaluated:,} rows; nothing was written for this table"
        )


def _held_batches(run: _Run, path: str, batch_column: str, batch_from: int) -> list[int]:
    """Batches ≥ `batch_from` a table already holds (written by a run that was killed later)."""
    from pyspark.sql import functions as sf

    held = io.read_table(run.spark, path).where(sf.col(batch_column) >= batch_from)
    return sorted(int(r[0]) for r in held.select(batch_column).distinct().collect())


def _commit_quarantine(run: _Run, layer: str, work: Sequence[_TableWork]) -> dict[str, int]:
    """Append every table's rejected rows in one commit; return rows held per table, read back."""
    from pyspark.sql import functions as sf

    path, created = run.create_if_missing(QUARANTINE)
    first = min(w.batch_from for w in work)

    def mine() -> DataFrame:
        return io.read_table(run.spark, path).where(
            (sf.col("layer") == layer) & (sf.col("batch_id") >= first)
        )

    already: set[tuple[str, int]] = set()
    if not created:  # a table made just now holds nothing: no read
        held = mine().select("table_name", "batch_id").distinct().collect()
        already = {(str(r["table_name"]), int(r["batch_id"])) for r in held}
    parts = []
    for w in work:
        if not w.counts.rejected:
            continue
        rejected = quarantine_rows(
            w.evaluated,
            QuarantineParams(layer, w.table.name, run.run_id, run.started_at),
            raw_record=w.evaluated[RAW_RECORD],
            batch_id=w.evaluated[BATCH_ID],
            source_file=w.evaluated[SOURCE_FILE],
            record_hash=w.evaluated[RECORD_HASH],
        )
        skip = sorted(b for t, b in already if t == w.table.name)
        if skip:
            run.note(f"quarantine already holds {layer}.{w.table.name} batches {skip}: not written again")
            rejected = rejected.where(~sf.col("batch_id").isin(skip))
        parts.append(rejected)
    if parts:
        combined = parts[0]
        for part in parts[1:]:
            combined = combined.unionByName(part)
        # mergeSchema: a quarantine created before a column was added (raw_bytes) takes it now.
        if created:
            io.append(combined, path, merge_schema=True)
        else:
            app_id = f"lakelab.{layer}.quarantine"
            io.append_idempotent(combined, path, app_id, max(w.batch_to for w in work), merge_schema=True)
    # Read back what the quarantine holds for these batches: what was committed counts.
    counts = mine().groupBy("table_name", "batch_id").count().collect()
    per_table: dict[str, int] = {}
    for w in work:
        per_table[w.table.name] = sum(
            int(r["count"])
            for r in counts
            if r["table_name"] == w.table.name and w.batch_from <= int(r["batch_id"]) <= w.batch_to
        )
    return per_table


# --- Bronze ------------------------------------------------------------------------------------


def _contiguous(batches: Sequence[int]) -> list[int]:
    """Complete batches up to the first gap: a later batch must not overtake an earlier one."""
    ordered: list[int] = []
    for expected, batch in enumerate(sorted(batches)):
        if batch != expected:
            break
        ordered.append(batch)
    return ordered


def _bronze_layer(run: _Run) -> None:
    complete = io.complete_batches(run.spark, run.landing)
    if not complete:
        run.note(f"{run.landing}: no complete batch (no _batches/NNNN.json marker); nothing to ingest")
        return
    ready = _contiguous(complete)
    if len(ready) < len(complete):
        run.note(f"batches {sorted(set(complete) - set(ready))} wait: batch {len(ready):04d} is not complete")
    ledger = _ledger(run)
    params = BronzeParams(run.run_id, run.started_at, run.config.max_record_bytes)
    todo: list[tuple[SourceTable, list[int]]] = []
    for source in SOURCE_TABLES:
        table = bronze_for(source)
        done = ledger.get(("bronze", table.name))
        pending = [b for b in ready if done is None or b > done]
        if not pending:
            run.progress(f"bronze {table.name:<22}: up to date")
            continue
        todo.append((source, pending))
    # Bronze tables read only their own landing files: none waits for another.
    work = run.build_all(todo, lambda item: _bronze_table(run, item[0], item[1], params))
    try:
        if work:
            _commit_bronze(run, work)
    finally:
        for w in work:
            w.evaluated.unpersist()


def _read_bronze_input(
    run: _Run,
    source: SourceTable,
    groups: Sequence[Sequence[io.LandingFile]],
    params: BronzeParams,
) -> tuple[DataFrame | None, Any]:
    """Bronze rows with diagnostics for some landing files; JSON lines too (to re-parse).

    Tabular files are read group by group (files of one layout, or a single file) and each
    group converted to Bronze's columns before the union, so groups may deliver their
    columns in other orders or types (drift) without spoiling each other.
    """
    files = [f for group in groups for f in group]
    if source.format == "json":
        lines = io.read_json_lines(run.spark, files)
        if lines is None:
            return None, None
        return to_bronze_json(lines, source, params), lines
    table = bronze_for(source)
    parts = []
    declared = {f.name for f in source.fields}
    lineage = {SOURCE_FILE, BATCH_ID, "_corrupt_record"}
    for group in groups:
        rows = io.read_tabular(run.spark, source, group)
        if rows is None:
            continue
        extra = [c for c in rows.columns if c not in declared | lineage] if table.allow_added_columns else []
        parts.append(to_bronze_tabular(rows, source, params, extra))
    if not parts:
        return None, None
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.unionByName(part, allowMissingColumns=True)
    return combined, None


def _evaluate_bronze(
    run: _Run, source: SourceTable, groups: Sequence[Sequence[io.LandingFile]], params: BronzeParams
) -> tuple[DataFrame | None, Any, DataFrame | None, Tally]:
    """Read, parse and check some files: (parsed, lines, evaluated and cached, counts)."""
    table = bronze_for(source)
    parsed, lines = _read_bronze_input(run, source, groups, params)
    if parsed is None:
        return None, None, None, Tally(0, 0, ())
    evaluated = _checked(parsed, table.rules)
    try:
        counts = tally(evaluated, table.rules, unexpected_column=UNEXPECTED_COLUMNS)
    except BaseException:
        evaluated.unpersist()
        raise
    return parsed, lines, evaluated, counts


def _bronze_files(
    run: _Run, source: SourceTable, pending: Sequence[int], params: BronzeParams
) -> tuple[tuple[DataFrame | None, Any, DataFrame | None, Tally], list[io.RejectedFile]]:
    """Evaluate the pending batches' files, setting aside whole any file that cannot be read.

    Byte checks first (format magic, NUL bytes, a CSV header); then, only when reading the
    batch fails, each file is read alone to find the damaged ones, and the rest is read
    file by file (which also copes with files whose column types disagree).
    """
    table = bronze_for(source)
    files = io.landing_files(run.spark, source, run.landing, pending)
    good, rejected = io.check_files(run.spark, files, source.format)
    try:
        return _evaluate_bronze(run, source, io.read_groups(run.spark, source.format, good), params), rejected
    except Exception as error:
        if environment_failure(error) is not None:
            raise  # the store, the disk or the JVM failed: no file is to blame
        failure = error
    run.progress(f"bronze {table.name:<22}: reading failed; checking its {len(good)} files one by one")
    damaged = io.unreadable_files(run.spark, source, good)
    damaged_paths = {r.file.path for r in damaged}
    readable = [[f] for f in good if f.path not in damaged_paths]
    try:
        evaluated = _evaluate_bronze(run, source, readable, params)
    except Exception:
        raise failure from None
    return evaluated, rejected + damaged


def _bronze_table(run: _Run, source: SourceTable, pending: Sequence[int], params: BronzeParams) -> _TableWork:
    """Parse, check and append one landing table's pending batches."""
    from pyspark.sql import functions as sf

    table = bronze_for(source)
    started = time.perf_counter()
    batch_from, batch_to = pending[0], pending[-1]
    run.progress(f"bronze {table.name:<22}: ingesting batches {batch_from}..{batch_to}")
    (parsed, lines, evaluated, counts), rejected_files = _bronze_files(run, source, pending, params)
    for rejected in rejected_files:
        run.note(
            f"bronze.{table.name} batch {rejected.file.batch}: file {rejected.file.path} set aside "
            f"({rejected.reason}); recorded in {QUARANTINED_FILES.qualified_name}"
        )
    files_detail = f"{len(rejected_files)} file(s) quarantined" if rejected_files else ""
    if parsed is None or evaluated is None:
        empty = run.spark.createDataFrame([], "_x int")
        return _TableWork(
            table,
            batch_from,
            batch_to,
            started,
            empty,
            Tally(0, 0, ()),
            seconds=time.perf_counter() - started,
            detail="; ".join(
                p
                for p in (
                    "empty: no readable landing file in these batches"
                    if rejected_files
                    else "empty: no landing file in these batches",
                    files_detail,
                )
                if p
            ),
            rejected_files=rejected_files,
        )
    added = [c for c in parsed.columns if c not in table.column_names and not c.startswith("_")]
    if lines is not None and table.allow_added_columns and counts.unexpected_columns:
        # Schema drift the contract allows: parse again keeping the added fields (as text).
        added = addable_columns(source, counts.unexpected_columns)
        evaluated.unpersist()
        parsed = to_bronze_json(lines, source, params, added)
        evaluated = _checked(parsed, table.rules)
    _stop_on_fail_rules("bronze", table.name, counts.counts)
    # A table this run creates holds no batch; reading it would cost a Delta scan.
    path, created = run.create_if_missing(table)
    held = [] if created else _held_batches(run, path, BATCH_ID, batch_from)
    accepted = accepted_rows(evaluated, bronze_columns(source, added))
    if held:
        run.note(f"bronze.{table.name} already holds batches {held}: not written again")
        accepted = accepted.where(~sf.col(BATCH_ID).isin(held))
    if created:
        io.append(accepted, path, merge_schema=bool(added))
    else:
        io.append_idempotent(
            accepted, path, f"lakelab.bronze.{table.name}", batch_to, merge_schema=bool(added)
        )
    detail = f"schema evolved, added columns: {', '.join(added)}" if added else ""
    return _TableWork(
        table,
        batch_from,
        batch_to,
        started,
        evaluated,
        counts,
        seconds=time.perf_counter() - started,
        detail="; ".join(p for p in (detail, files_detail) if p),
        rejected_files=rejected_files,
    )


def _commit_quarantined_files(run: _Run, work: Sequence[_TableWork]) -> dict[str, int]:
    """Record the files set aside (once each); return files held per table, read back."""
    from pyspark.sql import functions as sf

    rejected = [(w, r) for w in work for r in w.rejected_files]
    # Created on the first Bronze commit even when empty: "no file was set aside" is an answer.
    path, created = run.create_if_missing(QUARANTINED_FILES)
    first = min(w.batch_from for w in work)
    if created and not rejected:
        return {w.table.name: 0 for w in work}  # made just now and nothing to record: it is empty

    def mine() -> DataFrame:
        return io.read_table(run.spark, path).where(
            (sf.col("layer") == "bronze") & (sf.col("batch_id") >= first)
        )

    held = set() if created else {(str(r["table_name"]), str(r["source_file"])) for r in mine().collect()}
    rows = [
        (
            "bronze",
            w.table.name,
            r.file.batch,
            r.file.path,
            r.file.size,
            r.reason,
            run.run_id,
            run.started_at,
        )
        for w, r in rejected
        if (w.table.name, r.file.path) not in held
    ]
    if rows:
        frame = run.spark.createDataFrame(rows, QUARANTINED_FILES.ddl())
        if created:
            io.append(frame, path)
        else:
            io.append_idempotent(
                frame, path, "lakelab.bronze.quarantined_files", max(w.batch_to for w in work)
            )
    # Read back after the append: what was committed counts.
    counts = mine().groupBy("table_name", "batch_id").count().collect()
    return {
        w.table.name: sum(
            int(r["count"])
            for r in counts
            if r["table_name"] == w.table.name and w.batch_from <= int(r["batch_id"]) <= w.batch_to
        )
        for w in work
    }


def _commit_bronze(run: _Run, work: Sequence[_TableWork]) -> None:
    """Quarantine, rule results, reconciliation read back from the tables, run log."""
    from pyspark.sql import functions as sf

    started = time.perf_counter()
    quarantined = _commit_quarantine(run, "bronze", work)
    files_held = _commit_quarantined_files(run, work)
    _write_rule_results(run, "bronze", work)
    counted = [
        io.read_table(run.spark, w.table.path(run.warehouse))
        .where(sf.col(BATCH_ID).between(w.batch_from, w.batch_to))
        .agg(sf.lit(w.table.name).alias("t"), sf.count(sf.lit(1)).alias("n"))
        for w in work
        if io.is_delta_table(run.spark, w.table.path(run.warehouse))
    ]
    bronze_rows: dict[str, int] = {}
    if counted:
        union = counted[0]
        for part in counted[1:]:
            union = union.unionByName(part)
        bronze_rows = {str(r["t"]): int(r["n"]) for r in union.collect()}
    stages: list[tuple[StageResult, bool | None]] = []
    failures = []
    for w in work:
        landing_rows = w.counts.rows
        accepted = bronze_rows.get(w.table.name, 0)
        rejected = quarantined.get(w.table.name, 0)
        files_ok = files_held.get(w.table.name, 0) == len(w.rejected_files)
        reconciled = landing_rows == accepted + rejected and files_ok
        sign = "=" if landing_rows == accepted + rejected else "!="
        check = f"landing {landing_rows:,} {sign} bronze {accepted:,} + quarantined {rejected:,}"
        if w.rejected_files or not files_ok:
            check += (
                f"; files set aside {len(w.rejected_files)}, "
                f"{QUARANTINED_FILES.qualified_name} holds {files_held.get(w.table.name, 0)}"
            )
        if not reconciled:
            failures.append(f"{w.table.name} ({check})")
            check = "NOT RECONCILED: " + check
        detail = "; ".join(part for part in (check, w.detail) if part)
        stage = StageResult(
            "bronze",
            w.table.name,
            landing_rows,
            accepted,
            rejected,
            w.seconds,
            w.batch_from,
            w.batch_to,
            detail,
        )
        stages.append((stage, reconciled))
    stages.append((StageResult("bronze", COMMIT_STAGE, 0, 0, 0, time.perf_counter() - started), None))
    _write_run_log(run, stages)
    if failures:
        run.reconciled = False
        raise PipelineError(
            f"bronze reconciliation failed: {'; '.join(failures)} (see {RUN_LOG.path(run.warehouse)})"
        )


# --- Silver ------------------------------------------------------------------------------------


def _silver_layer(run: _Run) -> None:
    ledger = _ledger(run)
    todo: list[tuple[TableContract, TableContract, int, int]] = []
    for source in SOURCE_TABLES:
        table = silver_for(source)
        bronze_done = ledger.get(("bronze", bronze_for(source).name))
        silver_done = ledger.get(("silver", table.name))
        if bronze_done is None or (silver_done is not None and silver_done >= bronze_done):
            run.progress(f"silver {table.name:<22}: up to date")
            continue
        batch_from = 0 if silver_done is None else silver_done + 1
        todo.append((table, bronze_for(source), batch_from, bronze_done))

    def references(index: int) -> list[int]:
        """The earlier tables of this layer that table `index`'s reference checks read."""
        names = {reference.ref_table for reference in todo[index][0].references}
        return [j for j in range(index) if todo[j][0].name in names]

    work = run.build_all(todo, lambda item: _silver_table(run, *item), references)
    try:
        if work:
            _commit_silver(run, work)
    finally:
        for w in work:
            w.evaluated.unpersist()


def _references(run: _Run, table: TableContract) -> dict[str, DataFrame]:
    refs = {}
    for reference in table.references:
        path = contract(f"silver.{reference.ref_table}").path(run.warehouse)
        if io.is_delta_table(run.spark, path):
            refs[reference.ref_table] = io.read_table(run.spark, path)
    return refs


def _silver_table(
    run: _Run, table: TableContract, bronze: TableContract, batch_from: int, batch_to: int
) -> _TableWork:
    """Conform, check, fold to the latest version per key and MERGE one table."""
    from pyspark.sql import functions as sf

    started = time.perf_counter()
    if not io.is_delta_table(run.spark, bronze.path(run.warehouse)):
        # Every batch so far was empty for this table: nothing to conform, but the ledger moves on.
        empty = run.spark.createDataFrame([], "_x int")
        return _TableWork(
            table,
            batch_from,
            batch_to,
            started,
            empty,
            Tally(0, 0, ()),
            seconds=time.perf_counter() - started,
            detail="empty: no bronze rows in these batches",
        )
    run.progress(f"silver {table.name:<22}: conforming batches {batch_from}..{batch_to}")
    bronze_rows = io.read_table(run.spark, bronze.path(run.warehouse)).where(
        sf.col(BATCH_ID).between(batch_from, batch_to)
    )
    conformed = to_silver(bronze_rows, table, _references(run, table))
    rules = table.all_rules
    evaluated = _checked(conformed, rules)
    counts = tally(evaluated, rules, key=table.key)
    _stop_on_fail_rules("silver", table.name, counts.counts)
    assert table.updated_at is not None
    latest = latest_per_key(accepted_rows(evaluated, silver_columns(table)), table.key, table.updated_at)
    path, created = run.create_if_missing(table)
    if not created:
        run.progress(f"silver {table.name:<22}: MERGE into {path}")
        io.merge_latest(run.spark, latest, path, table.key, version_order(table.updated_at))
    else:
        # A table's first load: one row per key into an empty table, which is what the MERGE
        # would insert, without its two passes over the source. A run killed after this
        # commit finds the table next time and MERGEs, which changes nothing.
        run.progress(f"silver {table.name:<22}: first load, append to {path}")
        io.append(latest, path)
    warned = {c.rule: c.rows_failed for c in counts.counts if c.action == "warn" and c.rows_failed}
    detail = f"{counts.accepted - counts.accepted_keys:,} older or duplicate versions folded"
    if warned:
        detail += "; warnings: " + ", ".join(f"{rule} {n:,}" for rule, n in warned.items())
    return _TableWork(
        table,
        batch_from,
        batch_to,
        started,
        evaluated,
        counts,
        seconds=time.perf_counter() - started,
        rows_out=counts.accepted_keys,
        detail=detail,
    )


def _commit_silver(run: _Run, work: Sequence[_TableWork]) -> None:
    started = time.perf_counter()
    quarantined = _commit_quarantine(run, "silver", work)
    _write_rule_results(run, "silver", work)
    stages: list[tuple[StageResult, bool | None]] = []
    for w in work:
        rejected = quarantined.get(w.table.name, 0)
        stage = StageResult(
            "silver",
            w.table.name,
            w.counts.rows,
            w.rows_out,
            rejected,
            w.seconds,
            w.batch_from,
            w.batch_to,
            w.detail,
        )
        stages.append((stage, w.counts.rows == w.counts.accepted + rejected))
    stages.append((StageResult("silver", COMMIT_STAGE, 0, 0, 0, time.perf_counter() - started), None))
    _write_run_log(run, stages)


# --- Gold --------------------------------------------------------------------------------------


def _gold_layer(run: _Run) -> None:
    from pyspark import StorageLevel
    from pyspark.sql import functions as sf

    ledger = _ledger(run)
    silver_marks = [ledger.get(("silver", t.name)) for t in SILVER]
    reached = max((m for m in silver_marks if m is not None), default=None)
    if reached is None:
        run.note("gold: silver has no data yet; nothing to build")
        return
    built = ledger.get(("gold", GOLD[0].name))
    if (
        built is not None
        and built >= reached
        and all(io.is_delta_table(run.spark, t.path(run.warehouse)) for t in GOLD)
    ):
        run.progress(f"gold: up to date (built from silver batch {built})")
        return
    silver = {t.name: _silver_or_empty(run, t) for t in SILVER}
    params = GoldParams()
    counted = [
        silver[name].agg(sf.lit(name).alias("t"), sf.count(sf.lit(1)).alias("n"))
        for name in ("orders", "customers")
    ]
    input_rows = {str(r["t"]): int(r["n"]) for r in counted[0].unionByName(counted[1]).collect()}
    touches = gold.order_touches(
        silver["orders"],
        silver["customers"],
        silver["account"],
        silver["contact"],
        silver["campaign_member"],
        silver["opportunity"],
        params,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    stages: list[tuple[StageResult, bool | None]] = []
    try:
        builds: list[tuple[TableContract, Callable[[], DataFrame], str]] = [
            (GOLD_REVENUE_ATTRIBUTION, lambda: gold.revenue_attribution(touches), "orders"),
            (
                GOLD_CUSTOMER_360,
                lambda: gold.customer_360(
                    silver["customers"],
                    silver["orders"],
                    silver["account"],
                    silver["contact"],
                    silver["campaign_member"],
                    silver["opportunity"],
                ),
                "customers",
            ),
            (GOLD_RFM, lambda: gold.rfm_segments(silver["orders"]), "orders"),
            (GOLD_COHORT_RETENTION, lambda: gold.cohort_retention(silver["orders"]), "orders"),
            (
                GOLD_DAILY_REVENUE,
                lambda: gold.daily_revenue(silver["orders"], silver["customers"]),
                "orders",
            ),
        ]

        def build_one(item: tuple[TableContract, Callable[[], DataFrame], str]) -> StageResult:
            table, build, input_table = item
            started = time.perf_counter()
            run.progress(f"gold   {table.name:<22}: building")
            result = build().persist(StorageLevel.MEMORY_AND_DISK)
            try:
                counts = tally(evaluate_rules(result, table.rules), table.rules)
                _stop_on_fail_rules("gold", table.name, counts.counts)
                path, created = run.create_if_missing(table)
                if created:
                    io.append(result, path)  # nothing to replace, and no file list to read
                else:
                    io.overwrite(result, path)
                detail = ""
                if table is GOLD_REVENUE_ATTRIBUTION:
                    detail = _check_conservation(run, result, touches)
            finally:
                result.unpersist()
            rows_in = input_rows[input_table]
            return StageResult(
                "gold",
                table.name,
                rows_in,
                counts.rows,
                0,
                time.perf_counter() - started,
                None,
                reached,
                detail,
            )

        # Gold tables read Silver and the shared touches, never each other.
        stages = [(stage, None) for stage in run.build_all(builds, build_one)]
    finally:
        touches.unpersist()
    _write_run_log(run, stages)


def _silver_or_empty(run: _Run, table: TableContract) -> DataFrame:
    path = table.path(run.warehouse)
    if io.is_delta_table(run.spark, path):
        return io.read_table(run.spark, path)
    return run.spark.createDataFrame([], table.ddl())


def _check_conservation(run: _Run, attribution: DataFrame, touches: DataFrame) -> str:
    """Attributed revenue must equal attributable revenue for every model, dimension, month."""
    from pyspark.sql import functions as sf

    attributable = gold.attributable_revenue(touches)
    gaps = gold.conservation_gaps(attribution, attributable).limit(5).collect()
    if gaps:
        first = gaps[0]
        raise PipelineError(
            f"gold.revenue_attribution does not conserve revenue: {first['model']}/{first['dimension']} "
            f"{first['month']}: attributed {first['attributed_cents']} cents != attributable "
            f"{first['attributable_cents']} cents"
        )
    total = attributable.agg(sf.sum("attributable_cents"), sf.sum("attributable_orders")).collect()[0]
    cents = int(total[0] or 0)
    return f"revenue conserved: {int(total[1] or 0):,} orders, {cents / 100:,.2f} USD attributable"
