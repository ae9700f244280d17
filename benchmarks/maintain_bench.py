"""Benchmark of `lakelab maintain` (a program, not a test): OPTIMIZE + VACUUM under two settings.

    python benchmarks/maintain_bench.py [--records 20k] [--layers gold] [--repeats 3] [--parallelism 10000,8]

Delta's VACUUM lists a table's files in `spark.sql.sources.parallelPartitionDiscovery.parallelism`
tasks, and Spark's default is 10,000. The benchmark builds one warehouse (generate, then all
three layers; not measured), then, for each repeat and each value in turn (alternating, so a
noisy minute hurts both), restores a fresh copy of it and times `maintain_warehouse` over
`--layers` (plus the ops tables) with VACUUM retaining 0 hours. Prints medians and the ratio
to the first value (the baseline), and writes a `maintain_benchmark` result record under the
results folder.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datagen.cli import parse_records
from lakelab.errors import UserError
from lakelab.records import RecordKind
from pipeline.run import parse_layers

RECORD_KIND = RecordKind.MAINTAIN_BENCHMARK
SETTING = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


def _values(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if len(values) < 2 or not all(v.isdigit() and int(v) > 0 for v in values):
        raise UserError(f"--parallelism {text!r}: give two or more positive integers, baseline first")
    return values


def time_maintain(spark: Any, warehouse: str, layers: list[str], value: str) -> dict[str, float]:
    """Run maintain over `layers` with SETTING=value; seconds in total, OPTIMIZE and VACUUM."""
    from pipeline.config import PipelineConfig
    from pipeline.maintain import maintain_warehouse

    spark.conf.set(SETTING, value)
    started = time.perf_counter()
    outcomes = maintain_warehouse(
        spark, PipelineConfig(vacuum_retention_hours=0), warehouse, layers, lambda _line: None
    )
    return {
        "seconds": time.perf_counter() - started,
        "optimize_seconds": sum(o["optimize_seconds"] for o in outcomes),
        "vacuum_seconds": sum(o["vacuum_seconds"] for o in outcomes),
        "tables": len(outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    from lakelab.config import load_config
    from lakelab.records import new_record, write_record
    from lakelab.spark import get_session

    parser = argparse.ArgumentParser(prog="maintain_bench", description=__doc__)
    parser.add_argument("--records", default="20k")
    parser.add_argument("--layers", default="gold", help="comma-separated; the ops tables always")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parallelism", default="10000,8", help="values of the setting, baseline first")
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        records = parse_records(args.records)
        values = _values(args.parallelism)
        try:
            layers = list(parse_layers(args.layers, ()))
        except UserError:
            raise UserError(f"--layers {args.layers!r}: choose from bronze, silver, gold") from None
        if args.repeats < 1:
            raise UserError(f"--repeats {args.repeats}: must be at least 1")
        config = load_config(args.config)
    except UserError as error:
        print(f"maintain_bench: error: {error}", file=sys.stderr)
        return 2

    from datagen.config import DatagenConfig
    from datagen.generate import generate
    from pipeline.run import run_pipeline

    spark = get_session(config, app_name="lakelab-maintain-bench")
    session_value = spark.conf.get(SETTING)
    Path("data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="maintain-bench-", dir="data")).resolve()
    try:
        landing, built, warehouse = scratch / "landing", scratch / "built", scratch / "warehouse"
        print(f"building the warehouse: {records:,} records, seed {args.seed} (not measured)", flush=True)
        generate(spark, DatagenConfig(records=records, seed=args.seed, batches=1), str(landing))
        run = run_pipeline(spark, config, str(landing), str(built))
        print(f"  {len(run.stages)} stages in {run.seconds:.1f}s, reconciled={run.reconciled}", flush=True)
        samples: dict[str, list[dict[str, float]]] = {v: [] for v in values}
        for repeat in range(1, args.repeats + 1):
            order = values if repeat % 2 else list(reversed(values))
            for value in order:
                shutil.rmtree(warehouse, ignore_errors=True)
                shutil.copytree(built, warehouse)
                sample = time_maintain(spark, str(warehouse), layers, value)
                samples[value].append(sample)
                print(
                    f"[repeat {repeat}/{args.repeats}] {SETTING}={value}: {sample['seconds']:.1f}s "
                    f"(OPTIMIZE {sample['optimize_seconds']:.1f}s, VACUUM {sample['vacuum_seconds']:.1f}s, "
                    f"{sample['tables']:.0f} tables)",
                    flush=True,
                )
    finally:
        spark.conf.set(SETTING, session_value)
        shutil.rmtree(scratch, ignore_errors=True)

    baseline = statistics.median(s["seconds"] for s in samples[values[0]])
    results = []
    print(f"\n{SETTING:<58}{'median s':>10}{'min..max':>16}{'VACUUM s':>10}{'ratio':>8}")
    for value in values:
        seconds = [s["seconds"] for s in samples[value]]
        median = statistics.median(seconds)
        vacuum = statistics.median(s["vacuum_seconds"] for s in samples[value])
        ratio = median / baseline
        print(
            f"{value:<58}{median:>10.1f}{f'{min(seconds):.1f}..{max(seconds):.1f}':>16}"
            f"{vacuum:>10.1f}{ratio:>7.2f}×"
        )
        results.append(
            {
                "value": value,
                "is_baseline": value == values[0],
                "median_seconds": round(median, 2),
                "seconds": [round(s, 2) for s in seconds],
                "median_vacuum_seconds": round(vacuum, 2),
                "median_optimize_seconds": round(
                    statistics.median(s["optimize_seconds"] for s in samples[value]), 2
                ),
                "ratio_to_baseline": round(ratio, 3),
            }
        )
    payload = {
        "setting": SETTING,
        "records": records,
        "layers": layers,
        "repeats": args.repeats,
        "vacuum_retention_hours": 0,
        "tables": int(samples[values[0]][0]["tables"]),
        "results": results,
    }
    path = write_record(new_record(RECORD_KIND, payload, args.seed), config.paths.results)
    print(f"record: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
