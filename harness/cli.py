"""Subcommands of the `harness` package: `sweep`, `scale`, `lifecycle`, `report`, `compare`, `demo`.

Only argparse here; each handler imports its module when it runs, so `lakelab --help`
never loads pyspark, pandas or matplotlib.
"""

from __future__ import annotations

import argparse
from typing import Any


def _sweep(config: Any, args: argparse.Namespace) -> int:
    from harness.commands import run_sweep_command

    return run_sweep_command(config, args)


def _report(config: Any, args: argparse.Namespace) -> int:
    from harness.commands import run_report_command

    return run_report_command(config, args)


def _compare(config: Any, args: argparse.Namespace) -> int:
    from harness.compare import run_compare_command

    return run_compare_command(config, args)


def _scale(config: Any, args: argparse.Namespace) -> int:
    from harness.commands import run_scale_command

    return run_scale_command(config, args)


def _lifecycle(config: Any, args: argparse.Namespace) -> int:
    from harness.lifecycle import run_lifecycle_command

    return run_lifecycle_command(config, args)


def _demo(config: Any, args: argparse.Namespace) -> int:
    from harness.commands import run_demo_command

    return run_demo_command(config, args)


def _add_exporter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exporter-port",
        type=int,
        metavar="PORT",
        help="serve the harness's Prometheus metrics on PORT while running, e.g. 9108 "
        "(default: metrics.exporter_port, unset = off; address: metrics.exporter_host)",
    )


def register(commands: Any) -> None:
    """Add `sweep`, `scale`, `lifecycle`, `report`, `compare` and `demo` to the command tree."""
    sweep = commands.add_parser(
        "sweep",
        help="run the configured sweep: scales x settings x repeats, one result record per run",
        description="Run every scale x grid point x repeat, interleaved; write one record per run.",
    )
    sweep.add_argument("--scales", metavar="N[,N...]", help="records per data set, e.g. 100k,1M")
    sweep.add_argument("--repeats", type=int, metavar="N", help="runs per point and scale")
    sweep.add_argument(
        "--set",
        dest="grid",
        action="append",
        metavar="KEY=V1,V2",
        help="a grid axis (repeatable; replaces the configured grid), e.g. spark.sql.shuffle.partitions=2,8",
    )
    sweep.add_argument(
        "--warmup", type=int, metavar="N", help="unrecorded baseline runs first (default: sweep.warmup, 1)"
    )
    sweep.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="stop a run past SECONDS and record it as failed; the sweep goes on "
        "(default: sweep.time_limit_s, unset = no limit)",
    )
    sweep.add_argument(
        "--strategy",
        choices=["grid", "random", "halving"],
        help="which points run: every one (grid), a seeded sample (random, needs --sample), or a "
        "successive-halving ladder over --scales, ascending, the best third promoted at each "
        "(default: sweep.strategy, grid)",
    )
    sweep.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="random: run N grid points, the baseline among them, picked with datagen.seed; "
        "halving: the first rung's points (default: sweep.sample; the whole grid for halving)",
    )
    sweep.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="halving: run-seconds the ladder may spend; it stops promoting when the next rung's "
        "estimate (this rung's seconds of the promoted points x the scale ratio) exceeds what is "
        "left (default: sweep.budget_s, unset = no budget)",
    )
    sweep.add_argument("--layers", metavar="L[,L...]", help="pipeline layers per run (bronze,silver,gold)")
    sweep.add_argument("--workload", choices=["pipeline", "spark-aggregation"], help="what each run does")
    # The defaults derive from paths.sweep, which is only known once the config is loaded.
    sweep.add_argument(
        "--landing-root",
        metavar="DIR",
        help="landing per scale under DIR/records-N, generated once; a folder or s3a:// URI "
        "(default: <paths.sweep>/landing, data/sweep/landing unless lakelab.toml says otherwise)",
    )
    sweep.add_argument(
        "--work-dir",
        metavar="DIR",
        help="fresh warehouse per run under DIR/<sweep id>; a folder or s3a:// URI "
        "(default: <paths.sweep>/warehouses, data/sweep/warehouses unless lakelab.toml says otherwise)",
    )
    sweep.add_argument("--results", metavar="DIR", help="where records go (default: paths.results)")
    sweep.add_argument("--no-report", action="store_true", help="do not render the report afterwards")
    sweep.add_argument(
        "--resume",
        metavar="SWEEP_ID",
        help="finish an interrupted sweep in --results: keep its recorded runs, run the rest "
        "(give the options it started with; a different plan is refused)",
    )
    _add_exporter(sweep)
    sweep.set_defaults(handler=_sweep)

    scale = commands.add_parser(
        "scale",
        help="the pipeline at each scale, configured settings: how its time grows, fitted and predicted",
        description="Run the pipeline at each of --records (landings generated once per scale and "
        "seed, then reused), --repeats times each, as a one-point sweep: records, report and "
        "--resume as for `lakelab sweep`. The report's 'Growth with the data' fits each layer's "
        "seconds as c x records^b with a 95%% interval for b, and predicts each scale from the "
        "smaller ones beside the measurement.",
    )
    scale.add_argument(
        "--records", required=True, metavar="N,N[,N...]", help="two or more scales, e.g. 1M,10M,100M"
    )
    scale.add_argument("--repeats", type=int, metavar="N", help="runs per scale (default: sweep.repeats, 2)")
    scale.add_argument(
        "--warmup", type=int, metavar="N", help="unrecorded runs first (default: sweep.warmup, 1)"
    )
    scale.add_argument("--time-limit", type=float, metavar="SECONDS", help="stop a run past SECONDS (failed)")
    scale.add_argument("--landing-root", metavar="DIR", help="as for `lakelab sweep`")
    scale.add_argument("--work-dir", metavar="DIR", help="as for `lakelab sweep`")
    scale.add_argument("--results", metavar="DIR", help="where records go (default: paths.results)")
    scale.add_argument("--no-report", action="store_true", help="do not render the report afterwards")
    _add_exporter(scale)
    scale.set_defaults(handler=_scale)

    lifecycle = commands.add_parser(
        "lifecycle",
        help="CDC batches merged one after another, then OPTIMIZE, time travel and VACUUM: the drift",
        description="Generate (or reuse) a landing of --records in --batches CDC batches, then run "
        "the pipeline one batch at a time into the command's own warehouse. After each batch it "
        "measures each layer's seconds (Silver's are MERGEs), each Silver and Gold table's files, "
        "bytes and version, and the same reads (the dashboard's queries on Gold, two on Silver). "
        "Then OPTIMIZE and the reads again, time-travel reads at --versions, and VACUUM. Writes a "
        "report with PNGs and a `lifecycle` record.",
    )
    lifecycle.add_argument(
        "--records", metavar="N", help="records of the data set, e.g. 1M (default: datagen.records)"
    )
    lifecycle.add_argument(
        "--batches",
        type=int,
        default=20,
        metavar="N",
        help="CDC batches after the initial load (default: 20)",
    )
    lifecycle.add_argument(
        "--reads", type=int, default=5, metavar="N", help="rounds of the reads after each batch (default: 5)"
    )
    lifecycle.add_argument(
        "--versions",
        metavar="B[,B...]",
        help="batches whose Silver versions are read back by time travel (default: first, middle, last)",
    )
    lifecycle.add_argument(
        "--retain-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="VACUUM's retention (default: 0, everything the current versions do not use)",
    )
    lifecycle.add_argument(
        "--seed", type=int, metavar="N", help="the data set's seed (default: datagen.seed)"
    )
    lifecycle.add_argument(
        "--landing",
        metavar="DIR",
        help="the data set's folder (default: under <paths.sweep>/lifecycle, by records, batches, seed)",
    )
    lifecycle.add_argument(
        "--warehouse",
        metavar="DIR",
        help="a new or empty folder for the tables (default: <paths.sweep>/lifecycle/warehouse, rebuilt)",
    )
    lifecycle.add_argument(
        "--out", metavar="DIR", help="report folder (default: <paths.reports>/lifecycle-<time>)"
    )
    lifecycle.add_argument("--results", metavar="DIR", help="where the record goes (default: paths.results)")
    lifecycle.set_defaults(handler=_lifecycle)

    report = commands.add_parser(
        "report",
        help="render a report (Markdown + PNG plots) from result records",
        description="Render a sweep's report from its records only; --guides regenerates the docs guides.",
    )
    report.add_argument("--results", metavar="DIR", help="records to read (default: paths.results)")
    report.add_argument("--out", metavar="DIR", help="report folder (default: <paths.reports>/<sweep id>)")
    report.add_argument("--sweep", metavar="ID", help="which sweep (default: the newest)")
    report.add_argument(
        "--guides",
        action="store_true",
        help="regenerate docs/performance-tuning.md and docs/cost-optimization.md "
        "from the records in --results (default there: docs/results)",
    )
    report.add_argument("--docs", default="docs", metavar="DIR", help="docs folder for --guides")
    report.add_argument("--usd-per-core-hour", type=float, metavar="USD", help="compute price assumed")
    report.add_argument("--usd-per-gb-month", type=float, metavar="USD", help="storage price assumed")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare",
        help="NEW against OLD sweep per point and stage, with 95%% intervals; exit 1 on a regression",
        description="Compare two sweeps from their records: NEW/OLD median seconds per shared point "
        "(same settings, same scale), per stage and in total, with a bootstrap 95% interval and a "
        "verdict. Exit 1 when a point's total is established slower by more than --threshold.",
    )
    compare.add_argument("old", metavar="OLD", help="a results folder (its newest sweep) or a sweep id")
    compare.add_argument("new", metavar="NEW", help="a results folder (its newest sweep) or a sweep id")
    compare.add_argument(
        "--results", metavar="DIR", help="where sweep ids are looked up (default: paths.results)"
    )
    compare.add_argument(
        "--threshold",
        type=float,
        default=0.05,
        metavar="FRACTION",
        help="slower than this fraction (the whole interval above 1 + FRACTION) fails the "
        "comparison (default: 0.05, i.e. 5%%)",
    )
    compare.set_defaults(handler=_compare)

    demo = commands.add_parser(
        "demo",
        help="the main job, small: generate ~100k records, Bronze -> Silver -> Gold, a tiny sweep, a report",
    )
    demo.add_argument("--records", metavar="N", help="records to generate (default: datagen.records)")
    _add_exporter(demo)
    demo.set_defaults(handler=_demo)
