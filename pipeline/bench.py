"""A benchmark program (not a test): run the pipeline over a landing and record rows/s per stage.

    python -m pipeline.bench --landing data/landing-1m --warehouse data/wh-1m [--config FILE]
    python -m pipeline.bench --landing data/landing-1m --baseline ../lakelab-main --repeats 3
    python -m pipeline.bench --landing data/landing-10m --baseline ../lakelab-main --incremental

The first form runs once, prints one line per stage and writes a `pipeline_benchmark`
result record (see `lakelab.records`) with every stage, the reconciliation outcome and the
data set marker. With `--baseline TREE` it runs this checkout and another lakelab checkout
(the baseline) into empty warehouses, interleaved, each run in its own process, and writes
one `pipeline_ab_benchmark` record with every run, the machine's load and each side's peak
memory during it, medians per layer and candidate / baseline ratios (`pipeline.bench_ab`).
`--incremental` times only the landing's last batch, on top of the batches before it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from lakelab.records import RecordKind
from lakelab.sources import DATASET_MARKER

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.result import PipelineRunResult

RECORD_KIND = RecordKind.PIPELINE_BENCHMARK
AB_RECORD_KIND = RecordKind.PIPELINE_AB_BENCHMARK


def benchmark_payload(result: PipelineRunResult, dataset: dict[str, Any], landing: str) -> dict[str, Any]:
    """The record's payload: the run, per-layer totals and the data set it ran on."""
    layers = {}
    for layer in result.layers:
        total = result.layer_totals(layer)
        layers[layer] = {
            "rows_in": total.rows_in,
            "rows_out": total.rows_out,
            "rows_quarantined": total.rows_quarantined,
            "seconds": round(total.seconds, 3),
            "rows_per_second": round(total.rows_per_second, 1),
        }
    return {"landing": landing, "dataset": dataset, "layers": layers, "run": result.to_dict()}


def _dataset_marker(spark: SparkSession, landing: str) -> dict[str, Any]:
    from pipeline import io

    path = f"{landing.rstrip('/')}/{DATASET_MARKER}"
    if not io.path_exists(spark, path):
        return {}
    data = json.loads(io.read_text_file(spark, path))
    return data if isinstance(data, dict) else {}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 2 on bad input, 1 when the pipeline fails a check."""
    from lakelab.config import load_config
    from lakelab.records import new_record, write_record
    from lakelab.spark import get_session
    from pipeline.result import PipelineError
    from pipeline.run import run_pipeline

    parser = argparse.ArgumentParser(prog="python -m pipeline.bench", description=__doc__)
    parser.add_argument("--landing", required=True)
    parser.add_argument("--warehouse", help="the warehouse of a single run (required without --baseline)")
    parser.add_argument("--config")
    parser.add_argument("--layers")
    parser.add_argument("--baseline", metavar="TREE", help="another lakelab checkout to run against, A/B")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side with --baseline (default 3)")
    parser.add_argument("--work", default="data/bench-ab", help="warehouses and logs of the A/B runs")
    parser.add_argument("--incremental", action="store_true", help="A/B: time only the last batch")
    args = parser.parse_args(argv)
    if args.baseline:
        return _main_ab(args)
    if not args.warehouse:
        parser.error("--warehouse is required (or give --baseline TREE for an A/B run)")
    try:
        config = load_config(args.config)
        spark = get_session(config, app_name="lakelab-pipeline-bench")
        result = run_pipeline(
            spark,
            config,
            args.landing,
            args.warehouse,
            args.layers.split(",") if args.layers else None,
            progress=lambda line: print(line, flush=True),
        )
        dataset = _dataset_marker(spark, args.landing)
    except UserError as error:
        print(f"pipeline.bench: error: {error}", file=sys.stderr)
        return 2
    except PipelineError as error:
        print(f"pipeline.bench: pipeline failed: {error}", file=sys.stderr)
        return 1
    payload = benchmark_payload(result, dataset, args.landing)
    for layer, total in payload["layers"].items():
        print(
            f"{layer:<6} total: in {total['rows_in']:,}, out {total['rows_out']:,}, quarantined "
            f"{total['rows_quarantined']:,}, {total['seconds']:.1f}s, {total['rows_per_second']:,.0f} rows/s"
        )
    path = write_record(new_record(RECORD_KIND, payload, dataset.get("seed")), config.paths.results)
    print(f"reconciled: {'yes' if result.reconciled else 'NO'}; record: {path}")
    return 0


def _main_ab(args: argparse.Namespace) -> int:
    """The A/B form: both sides interleaved, one record, a table of medians and ratios."""
    from pathlib import Path

    from lakelab.config import load_config
    from lakelab.records import new_record, write_record
    from pipeline import bench_ab

    try:
        config = load_config(args.config)
        pair = bench_ab.sides(args.baseline, Path(__file__).resolve().parent.parent)
        payload = bench_ab.run_ab(
            pair,
            args.landing,
            Path(args.work),
            args.repeats,
            str(Path(args.config).resolve()) if args.config else None,
            args.layers,
            args.incremental,
            say=lambda line: print(line, flush=True),
        )
        # Read here without Spark (unlike `_dataset_marker`): the A/B parent starts no
        # session, and `run_ab` has checked that the landing is a local folder.
        dataset_path = Path(args.landing) / DATASET_MARKER
        dataset = json.loads(dataset_path.read_text(encoding="utf-8")) if dataset_path.is_file() else {}
    except UserError as error:
        print(f"pipeline.bench: error: {error}", file=sys.stderr)
        return 2
    payload["dataset"] = dataset
    for line in bench_ab.summary_lines(payload):
        print(line)
    path = write_record(new_record(AB_RECORD_KIND, payload, dataset.get("seed")), config.paths.results)
    failed = [r for r in payload["runs"] if not r["reconciled"]]
    print(f"record: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
