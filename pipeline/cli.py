"""Subcommands of the `pipeline` package: `lakelab pipeline run` and `lakelab maintain`.

Nothing heavy at import time: pyspark loads when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lakelab.errors import UserError


def register(commands: Any) -> None:
    """Add `pipeline run` and `maintain` to the command tree."""
    pipeline = commands.add_parser("pipeline", help="run the Bronze → Silver → Gold pipeline on Delta")
    actions = pipeline.add_subparsers(dest="pipeline_command", metavar="ACTION")
    actions.required = True
    run_parser = actions.add_parser("run", help="ingest complete landing batches and refresh the tables")
    run_parser.add_argument("--landing", metavar="PATH", help="landing root (default: paths.landing)")
    run_parser.add_argument("--warehouse", metavar="PATH", help="warehouse root (default: paths.warehouse)")
    run_parser.add_argument(
        "--layers", metavar="LIST", help="comma-separated subset of bronze,silver,gold (default: all)"
    )
    run_parser.set_defaults(handler=run)

    maintain_parser = commands.add_parser(
        "maintain", help="OPTIMIZE (ZORDER BY the contract's columns) and VACUUM the warehouse tables"
    )
    maintain_parser.add_argument(
        "--warehouse", metavar="PATH", help="warehouse root (default: paths.warehouse)"
    )
    maintain_parser.add_argument(
        "--layers", metavar="LIST", help="comma-separated subset of bronze,silver,gold (default: all)"
    )
    maintain_parser.set_defaults(handler=maintain)


def _print(line: str) -> None:
    print(line, flush=True)


def run(config: Any, args: argparse.Namespace) -> int:
    """`lakelab pipeline run`: one line per stage, then a summary; exit 1 if a check failed."""
    from lakelab.spark import get_session
    from pipeline.result import PipelineError
    from pipeline.run import parse_layers, run_pipeline

    landing = args.landing or config.paths.landing
    warehouse = args.warehouse or config.paths.warehouse
    layers = parse_layers(args.layers, config.pipeline.layers)  # bad names fail before Spark starts
    spark = get_session(config, app_name="lakelab-pipeline")
    try:
        result = run_pipeline(spark, config, landing, warehouse, layers, progress=_print)
    except PipelineError as error:
        print(f"lakelab: pipeline failed: {error}", file=sys.stderr)
        return error.exit_code
    print(
        f"run {result.run_id}: {len(result.stages)} stages in {result.seconds:.1f}s, "
        f"bronze reconciled: {'yes' if result.reconciled else 'NO'}"
    )
    for note in result.notes:
        print(f"note: {note}")
    return 0


def maintain(config: Any, args: argparse.Namespace) -> int:
    """`lakelab maintain`: OPTIMIZE and VACUUM every existing table, one line each."""
    from lakelab.spark import get_session
    from pipeline.maintain import maintain_warehouse
    from pipeline.run import parse_layers

    warehouse = args.warehouse or config.paths.warehouse
    layers = parse_layers(args.layers, ["bronze", "silver", "gold"])
    spark = get_session(config, app_name="lakelab-maintain")
    outcomes = maintain_warehouse(spark, config.pipeline, warehouse, layers, progress=_print)
    if not outcomes:
        raise UserError(f"{warehouse}: no pipeline tables found (run `lakelab pipeline run` first)")
    return 0
