"""The handlers behind `lakelab sweep`, `lakelab report` and `lakelab demo`.

Each is `run_*(config, args) -> int`, callable from tests without the CLI. Spark and
matplotlib are imported by the functions they serve, when they run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.counts import parse_count
from lakelab.errors import UserError

if TYPE_CHECKING:
    from lakelab.config import LakelabConfig


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """`KEY=V1,V2` options into a grid; malformed items are UserErrors."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set: '{item}' is not KEY=V1,V2")
        if key.strip() in grid:
            raise UserError(f"--set: '{key.strip()}' given twice")
        grid[key.strip()] = [value.strip() for value in values.split(",") if value.strip()]
    return grid


def _print(line: str) -> None:
    print(line, flush=True)


@contextmanager
def exporter_hooks(
    host: str, port: int | None, target: str = ""
) -> Iterator[tuple[Callable[[dict[str, Any]], None] | None, Any]]:
    """An `on_run` callback feeding `lakelab.metrics.Exporter` on `host`:`port`, or nothing when port is None.

    `target` (the Spark master) labels `lakelab_run_info`. On the way out it waits for one
    more scrape when something scrapes the exporter, so the last run is not lost.

    Raises:
        UserError: the exporter cannot run here or cannot listen on `host`:`port`.
    """
    if port is None:
        yield None, None
        return
    try:
        from lakelab.metrics import Exporter

        exporter = Exporter(port=port, host=host)  # imports prometheus_client
    except ImportError as error:
        raise UserError(
            f"metrics exporter on {host}:{port}: cannot start it in this install ({error})"
        ) from None
    exporter.start()  # a UserError naming host and port when it cannot listen
    _print(f"metrics exporter: {exporter.url}")

    from lakelab.records import provenance

    made_by = provenance()

    def on_run(payload: dict[str, Any]) -> None:
        ok = payload["status"] == "ok"
        exporter.run_started(
            run_id=f"{payload['sweep_id']}/run-{int(payload['run_index']):03d}",
            git_commit=str(made_by["git_commit"]),
            spark_version=str(made_by["spark_version"]),
            delta_version=str(made_by["delta_version"]),
            target=target,
        )
        for stage in payload.get("stages", []):
            exporter.observe_stage(
                stage["layer"], stage["table"], stage["rows_out"], stage["rows_quarantined"], stage["seconds"]
            )
        if payload.get("reconciled") is not None:
            exporter.set_reconciliation(bool(payload["reconciled"]))
        exporter.sweep_point_done(payload["settings"], float(payload.get("total_seconds", 0.0)), ok=ok)

    try:
        yield on_run, exporter
        # The last point's figures must reach Prometheus before the process (and they) go.
        if not exporter.flush():
            _print(
                "metrics exporter: no final scrape within 35s; the last point may be missing in Prometheus"
            )
    finally:
        exporter.stop()


def feed_landing(exporter: Any, info: Any) -> None:
    """Count the rows a sweep generated (`lakelab_datagen_rows_total`); a reused landing adds none."""
    if not info.generated:
        return
    for table in info.detail.get("tables", []):
        exporter.datagen_done(str(table["table"]), int(table["rows"]))


def _sweep_config(config: LakelabConfig, args: argparse.Namespace) -> LakelabConfig:
    from lakelab.config import with_overrides

    scales = None
    if args.scales:
        scales = [parse_count(part, "--scales") for part in args.scales.split(",") if part.strip()]
    layers = [part.strip() for part in args.layers.split(",")] if args.layers else None
    return with_overrides(
        config,
        "sweep",
        scales=scales,
        repeats=args.repeats,
        grid=parse_grid(args.grid) if args.grid else None,
        warmup=args.warmup,
        time_limit_s=args.time_limit,
        layers=layers,
        workload=args.workload,
        strategy=args.strategy,
        sample=args.sample,
        budget_s=args.budget,
    )


def resume_command(args: argparse.Namespace, sweep_id: str) -> str:
    """The `lakelab sweep` command line that finishes `sweep_id`: the options given, plus `--resume`.

    The same options give the same plan, which `--resume` requires, and the same folders.
    """
    words = ["lakelab"]
    if getattr(args, "config", None):
        words += ["--config", args.config]
    words.append("sweep")
    options = (
        ("--scales", args.scales),
        ("--repeats", args.repeats),
        ("--warmup", args.warmup),
        ("--time-limit", args.time_limit),
        ("--layers", args.layers),
        ("--workload", args.workload),
        ("--strategy", args.strategy),
        ("--sample", args.sample),
        ("--budget", args.budget),
        ("--landing-root", args.landing_root),
        ("--work-dir", args.work_dir),
        ("--results", args.results),
        ("--exporter-port", args.exporter_port),
    )
    for option, value in options:
        if value is not None:
            words += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    for axis in args.grid or []:
        words += ["--set", axis]
    if args.no_report:
        words.append("--no-report")
    return shlex.join([*words, "--resume", sweep_id])


def sweep_locations(
    config: LakelabConfig, landing_root: str | None, work_dir: str | None
) -> tuple[dict[int, str], str]:
    """Each scale's landing and the root of the run warehouses: the options, else below `paths.sweep`."""
    from harness.sweep import scale_landing, sweep_landing_root, sweep_work_dir

    landing_root = landing_root or sweep_landing_root(config.paths.sweep)
    landings = {scale: scale_landing(landing_root, scale) for scale in config.sweep.scales}
    return landings, work_dir or sweep_work_dir(config.paths.sweep)


def run_sweep_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab sweep`: run the grid, write records, render the report.

    Ctrl-C leaves the runs recorded so far and prints the command that finishes the sweep
    (`--resume`), exit code 130.
    """
    from harness.sweep import SweepInterrupted, planned_runs, recorded_sweep, run_sweep, sweep_plan
    from harness.workloads import get_workload
    from lakelab.spark import get_session
    from lakelab.targets import command_exporter_port

    config = _sweep_config(config, args)
    results = args.results or config.paths.results
    landings, work_dir = sweep_locations(config, args.landing_root, args.work_dir)
    # A sample larger than the grid was refused with the config; this is where it is drawn.
    plan = sweep_plan(config.sweep, get_workload(config.sweep.workload), config.datagen.seed)
    # For a halving ladder, the most it can run: the exporter's progress is then a lower bound.
    runs = planned_runs(plan)
    if args.resume is not None:
        # An unknown or finished sweep, or another plan, is refused before Spark starts.
        runs -= len(recorded_sweep(results, args.resume, plan).runs)
    hooks = exporter_hooks(
        config.metrics.exporter_host, command_exporter_port(config, args), target=config.spark.master
    )
    try:
        with hooks as (on_run, exporter):
            spark = get_session(config, app_name=f"{config.spark.app_name}-sweep")
            if exporter is not None:
                exporter.sweep_started(runs)
            summary = run_sweep(
                spark,
                config,
                landings,
                work_dir,
                results,
                progress=_print,
                on_run=on_run,
                on_landing=(lambda info: feed_landing(exporter, info)) if exporter is not None else None,
                resume=args.resume,
            )
    except SweepInterrupted as interrupted:
        print(
            f"lakelab: {interrupted} (recorded in {results}); resume with: "
            f"{resume_command(args, interrupted.sweep_id)}",
            file=sys.stderr,
            flush=True,
        )
        return 130
    if not args.no_report:
        report = _render(config, results, summary.sweep_id, None, None, None)
        print(f"report: {report}")
    return 1 if summary.failed_runs else 0


SCALE_AXIS = "pipeline.parallel_tables"
"""The one-value grid axis `lakelab scale` runs with: the configured value, so every run is the baseline."""


def scale_sweep_args(config: LakelabConfig, args: argparse.Namespace) -> argparse.Namespace:
    """`lakelab scale`'s options as the `lakelab sweep` it runs: the given scales, one point.

    Raises:
        UserError: fewer than two scales (nothing to fit), or a malformed count.
    """
    scales = [parse_count(part, "--records") for part in args.records.split(",") if part.strip()]
    if len(set(scales)) < 2:
        raise UserError(f"--records {args.records}: needs two or more different scales, e.g. 1M,10M")
    return argparse.Namespace(
        config=getattr(args, "config", None),
        scales=",".join(str(scale) for scale in sorted(set(scales))),
        repeats=args.repeats,
        grid=[f"{SCALE_AXIS}={config.pipeline.parallel_tables}"],
        warmup=args.warmup,
        time_limit=args.time_limit,
        layers=None,
        workload="pipeline",
        strategy="grid",
        sample=None,
        budget=None,
        landing_root=args.landing_root,
        work_dir=args.work_dir,
        results=args.results,
        no_report=args.no_report,
        resume=None,
        exporter_port=args.exporter_port,
    )


def scale_config(config: LakelabConfig) -> LakelabConfig:
    """The config `lakelab scale` runs with: every layer, a grid of its one point.

    The configured sweep's strategy, sample, budget and layers are for `lakelab sweep`, and a
    command line cannot unset them.
    """
    from harness.config import ALL_LAYERS

    plain = config.sweep.model_copy(
        update={"strategy": "grid", "sample": None, "budget_s": None, "layers": list(ALL_LAYERS)}
    )
    return config.model_copy(update={"sweep": plain})


def growth_lines(sweep: Any) -> list[str]:
    """The console's summary of a sweep's growth: an exponent per stage, then each prediction."""
    from harness.scaling import baseline_points, fits, predictions
    from harness.search import count_text

    points = baseline_points(sweep.runs)
    lines = []
    for fit in fits(points):
        interval = "" if fit.interval is None else f" (95% {fit.interval[0]:.2f} to {fit.interval[1]:.2f})"
        lines.append(f"growth {fit.stage:<6}: seconds ~ records^{fit.exponent:.2f}{interval}")
    for p in predictions(points):
        lines.append(
            f"predicted {p.stage:<6} at {count_text(p.scale)}: {p.predicted_s:.1f} s from "
            f"{', '.join(count_text(s) for s in p.from_scales)}; measured {p.measured_s:.1f} s "
            f"({p.ratio:.2f}x)"
        )
    return lines


def run_scale_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab scale`: the pipeline at each scale with the configured settings, then how it grew.

    It is a sweep of one point (records, report and `--resume` as for `lakelab sweep`); the
    report's *Growth with the data* section holds the fits, the console a summary of them.
    """
    from harness.results import load_sweeps

    sweep_args = scale_sweep_args(config, args)
    results = sweep_args.results or config.paths.results
    before = {s.sweep_id for s in load_sweeps(results)} if Path(results).is_dir() else set()
    code = run_sweep_command(scale_config(config), sweep_args)
    if code == 130:
        return code
    new = [s for s in load_sweeps(results) if s.sweep_id not in before]
    if len(new) != 1:
        raise UserError(f"{results}: expected this scale run's sweep summary, found {len(new)} new ones")
    for line in growth_lines(new[0]):
        print(line, flush=True)
    return code


def _render(
    config: LakelabConfig,
    results: str,
    sweep_id: str | None,
    out: str | None,
    usd_per_core_hour: float | None,
    usd_per_gb_month: float | None,
) -> Path:
    from harness.report import cost_from, render_report
    from harness.results import load_sweeps, select_sweep

    sweep = select_sweep(load_sweeps(results), sweep_id)
    cost = cost_from(sweep, usd_per_core_hour, usd_per_gb_month)
    target = Path(out) if out else Path(config.paths.reports) / sweep.sweep_id
    return render_report(sweep, target, cost, results_dir=results)


def refuse_unfinished(results: str, sweep_id: str | None) -> None:
    """A UserError when the sweep to report (by default the one started last) has no summary yet.

    An unfinished sweep's figures would read like a finished one's, with points or repeats
    missing, and silently falling back to an older sweep would report something else.
    """
    from harness.sweep import unfinished_sweep

    unfinished = unfinished_sweep(results, sweep_id)
    if unfinished is None:
        return
    found, recorded, planned = unfinished
    raise UserError(
        f"sweep {found} is unfinished ({recorded} of {planned} runs recorded, no summary): "
        f"`lakelab sweep --resume {found}` with the options it started with runs the rest"
        + ("" if sweep_id else "; --sweep ID reports a finished sweep")
    )


def run_report_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab report`: render one sweep's report, or the guides, from records only."""
    for option, value in (
        ("--usd-per-core-hour", args.usd_per_core_hour),
        ("--usd-per-gb-month", args.usd_per_gb_month),
    ):
        if value is not None and value < 0:
            raise UserError(f"{option}: {value} is negative")
    if args.guides:
        from harness.guides import render_guides

        results = args.results or str(Path(args.docs) / "results")
        written = render_guides(results, args.docs, args.usd_per_core_hour, args.usd_per_gb_month)
        for path in written:
            print(f"guide: {path}")
        return 0
    results = args.results or config.paths.results
    refuse_unfinished(results, args.sweep)
    report = _render(
        config,
        results,
        args.sweep,
        args.out,
        args.usd_per_core_hour,
        args.usd_per_gb_month,
    )
    print(f"report: {report}")
    return 0


def run_demo_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab demo`: data set, one pipeline run, a tiny sweep, a report; prints where it is."""
    from harness.storage import copy_tree, remove_tree
    from harness.sweep import expand_grid, run_sweep, sweep_work_dir
    from harness.workloads import PipelineWorkload
    from lakelab.config import parse_config, with_overrides
    from lakelab.paths import absolute, join
    from lakelab.spark import get_session
    from lakelab.targets import command_exporter_port
    from pipeline.result import PipelineError

    started = time.perf_counter()
    records = parse_count(args.records, "--records") if args.records else config.datagen.records
    # One incremental batch on top of the initial load, so the demo runs the MERGE paths too.
    config = with_overrides(config, "datagen", records=records, batches=1)
    # The sweep rebuilds Gold only, each run over a copy of the Silver step 2 built: the
    # setting it varies is one that shapes Gold's joins and aggregations, and seven full
    # pipeline runs would take the demo from minutes to a quarter of an hour.
    # No warm-up: step 2 has just run the pipeline on this JVM. One scale and the whole grid: a
    # search strategy in lakelab.toml is for `lakelab sweep`.
    sweep = config.sweep.model_dump()
    sweep.update(scales=[records], layers=["gold"], warmup=0, strategy="grid", sample=None, budget_s=None)
    config = parse_config({**config.model_dump(), "sweep": sweep}, "demo")
    landing, warehouse = absolute(config.paths.landing), absolute(config.paths.warehouse)
    workload = PipelineWorkload()
    runs = len(expand_grid(config.sweep.grid)) * config.sweep.repeats
    hooks = exporter_hooks(
        config.metrics.exporter_host, command_exporter_port(config, args), target=config.spark.master
    )
    with hooks as (on_run, exporter):
        _print(f"[1/4] data set: {records:,} records into {landing}")
        spark = get_session(
            config,
            app_name=f"{config.spark.app_name}-demo",
        )
        info = workload.prepare(spark, config, landing, records, _print)
        if exporter is not None:
            feed_landing(exporter, info)
        _print(
            f"[1/4] data set {'generated' if info.generated else 'reused (already complete)'} "
            f"in {info.seconds:.1f}s"
        )
        _print(f"[2/4] Bronze -> Silver -> Gold into {warehouse}")
        try:
            result = workload.run(
                spark, config, landing, warehouse, config.pipeline.layers, lambda s: _print("  " + s)
            )
        except PipelineError as error:
            # The data broke a promise (reconciliation, a `fail` rule): a result, not a crash.
            print(f"lakelab: demo: pipeline failed: {error}", file=sys.stderr)
            return 1
        pipeline_seconds = sum(result.seconds_by_layer().values())
        _print(
            f"[2/4] pipeline: {len(result.stages)} stages in {pipeline_seconds:.1f}s, "
            f"reconciled={result.reconciled}"
        )
        if exporter is not None:
            exporter.sweep_started(runs)
        upstream = join(absolute(config.paths.sweep), "upstream", f"records-{records}")
        remove_tree(spark, upstream)
        copy_tree(spark, warehouse, upstream, skip=("gold",))
        _print(f"[3/4] sweep: {runs} runs of Gold, each over a fresh copy of the Silver above")
        summary = run_sweep(
            spark,
            config,
            {records: landing},
            sweep_work_dir(config.paths.sweep),
            config.paths.results,
            workload=workload,
            progress=_print,
            on_run=on_run,
            upstream={records: upstream},
        )
    _print("[4/4] report")
    report = _render(config, config.paths.results, summary.sweep_id, None, None, None)
    _print(f"demo finished in {time.perf_counter() - started:.0f}s; {summary.failed_runs} failed run(s)")
    print(f"report: {report}")
    return 1 if summary.failed_runs else 0
