"""Gold built by Spark and by DuckDB from the same Silver (a program, not a test).

    python benchmarks/gold_engines.py --warehouse data/warehouse [--repeats 3] [--warmup 1]

The warehouse is one the pipeline built (local). Each side, interleaved ABBA after `--warmup`
unrecorded runs of each:

- spark: the pipeline's own Gold layer, `run_pipeline(..., layers=["gold"])`, on a fresh copy
  of the warehouse's Silver tables and run log (copied before the clock starts, Gold left
  out so it is built again): it reads Silver, builds the five tables, checks their rules and
  revenue conservation, and writes them and the run log as Delta tables;
- duckdb: `harness.duckdb_gold.build_gold`, the same tables by DuckDB SQL over the same
  Silver (`delta_scan`), fetched as Arrow tables in memory: no rules, no writes.

So the sides do not do the same work: the figure is what the pipeline's Gold costs against
what a single-process engine needs to compute the same numbers. Once, after the first Spark
build, Spark's Gold tables are read back and compared with DuckDB's
(`harness.duckdb_gold.differences`). Prints each run, the medians, duckdb/spark as a ratio of
medians with a 95% bootstrap interval (`harness.stats`), and writes a `gold_engines_benchmark`
result record. Exits 1 when the engines' Gold tables differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lakelab.errors import UserError

RECORD_KIND = "gold_engines_benchmark"
SIDES = ("spark", "duckdb")  # the baseline first


def order(repeats: int) -> list[str]:
    """spark, duckdb, duckdb, spark, ...: each engine goes first as often as the other."""
    return [side for repeat in range(repeats) for side in (SIDES if repeat % 2 == 0 else SIDES[::-1])]


def check_warehouse(warehouse: str) -> None:
    """Refuse a warehouse Spark's Gold layer would not build from, before any Spark work.

    Raises:
        UserError: no such folder, no Silver Delta table, or no run log (the ledger Gold reads).
    """
    from harness.duckdb_gold import silver_sources
    from pipeline.contracts import RUN_LOG

    silver_sources(warehouse)
    if not (Path(RUN_LOG.path(warehouse)) / "_delta_log").is_dir():
        raise UserError(f"{warehouse}: no run log at {RUN_LOG.path(warehouse)}; run the pipeline first")


def silver_copy(warehouse: str, scratch: Path) -> str:
    """A new warehouse under `scratch` holding the Silver tables and the operations tables only."""
    from pipeline.contracts import RUN_LOG, SILVER

    target = Path(tempfile.mkdtemp(prefix="gold-", dir=scratch))
    for folder in {Path(t.path(warehouse)).parent for t in (*SILVER, RUN_LOG)}:
        shutil.copytree(folder, target / folder.name)
    return str(target)


def spark_gold(spark: Any, config: Any, warehouse: str) -> tuple[float, dict[str, float]]:
    """Seconds of the pipeline's Gold layer on `warehouse`, and each table's stage seconds."""
    from pipeline.run import run_pipeline

    started = time.perf_counter()
    result = run_pipeline(spark, config, config.paths.landing, warehouse, layers=["gold"])
    seconds = time.perf_counter() - started
    stages = {s.table: s.seconds for s in result.stages if s.layer == "gold"}
    if not stages:
        raise UserError(f"{warehouse}: Spark's Gold layer built nothing: {'; '.join(result.notes)}")
    return seconds, stages


def spark_tables(spark: Any, warehouse: str) -> dict[str, Any]:
    """Spark's Gold tables of `warehouse`, read back as Arrow."""
    from pipeline import io
    from pipeline.contracts import GOLD

    return {t.name: io.read_table(spark, t.path(warehouse)).toArrow() for t in GOLD}


def summary(seconds: dict[str, list[float]], tables: dict[str, dict[str, list[float]]]) -> list[str]:
    """Median seconds per engine, the whole Gold then each table, and every run of the whole.

    Spark's table stages include their rules and writes; it has no attributable revenue stage
    (its conservation check is part of the revenue attribution's).
    """
    from harness.duckdb_gold import GOLD_SQL

    def median(values: list[float] | None) -> str:
        return f"{statistics.median(values):>10.3f}" if values else f"{'-':>10}"

    lines = [f"{'median seconds':<22}{'spark':>10}{'duckdb':>10}"]
    lines.append(f"{'Gold (whole)':<22}{median(seconds['spark'])}{median(seconds['duckdb'])}")
    lines += [
        f"{table:<22}{median(tables['spark'].get(table))}{median(tables['duckdb'].get(table))}"
        for table in GOLD_SQL
    ]
    lines += [f"runs, {side}: {', '.join(f'{s:.2f}' for s in seconds[side])}" for side in SIDES]
    return lines


def main(argv: list[str] | None = None) -> int:
    from lakelab.config import load_config

    parser = argparse.ArgumentParser(prog="gold_engines", description=__doc__)
    parser.add_argument("--warehouse", required=True, help="a local warehouse the pipeline built")
    parser.add_argument("--repeats", type=int, default=3, help="runs per engine (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded runs per engine first (default 1)")
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        for option, value, least in (("--repeats", args.repeats, 1), ("--warmup", args.warmup, 0)):
            if value < least:
                raise UserError(f"{option} {value}: must be at least {least}")
        check_warehouse(args.warehouse)
        config = load_config(args.config)
    except UserError as error:
        print(f"gold_engines: error: {error}", file=sys.stderr)
        return 2
    try:
        return measure(args, config)
    except UserError as error:
        print(f"gold_engines: error: {error}", file=sys.stderr)
        return 1


def measure(args: argparse.Namespace, config: Any) -> int:
    """The runs, the equality check, the figures and the record (the input is checked)."""
    from harness.duckdb_gold import build_gold, connect, differences
    from harness.stats import format_estimate, ratio_of_medians
    from lakelab.records import new_record, write_record
    from lakelab.spark import get_session

    warehouse = str(Path(args.warehouse).resolve())
    spark = get_session(config, app_name="lakelab-gold-engines")
    duck = connect()
    Path("data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gold-engines-", dir="data")).resolve()
    seconds: dict[str, list[float]] = {side: [] for side in SIDES}
    tables: dict[str, dict[str, list[float]]] = {side: {} for side in SIDES}
    runs = [f"warm-up {side}" for _ in range(args.warmup) for side in SIDES] + order(args.repeats)
    found: list[str] | None = None
    loads: list[float] = []
    try:
        for number, run in enumerate(runs):
            side = run.removeprefix("warm-up ")
            if side == "spark":
                copy = silver_copy(warehouse, scratch)
                took, per_table = spark_gold(spark, config, copy)
                if found is None:
                    reference = spark_tables(spark, copy)
                    built = build_gold(warehouse, duck).tables
                    found = [
                        d for name, table in reference.items() for d in differences(name, table, built[name])
                    ]
                shutil.rmtree(copy, ignore_errors=True)
            else:
                started = time.perf_counter()
                per_table = build_gold(warehouse, duck).seconds
                took = time.perf_counter() - started
            load = os.getloadavg()[0]
            if run == side:
                seconds[side].append(took)
                loads.append(load)
                for table, table_seconds in per_table.items():
                    tables[side].setdefault(table, []).append(table_seconds)
            label = f"[{run}, not recorded]" if run != side else f"[{number + 1}/{len(runs)}] {side}"
            print(f"{label}: {took:.2f}s, load {load:.1f}", flush=True)
    finally:
        duck.close()
        shutil.rmtree(scratch, ignore_errors=True)

    estimate = ratio_of_medians(seconds["duckdb"], seconds["spark"])
    medians = {side: statistics.median(values) for side, values in seconds.items()}
    print()
    for line in summary(seconds, tables):
        print(line)
    print(f"duckdb / spark, the whole Gold: {format_estimate(estimate)}")
    equal = not found
    print("gold tables equal: " + ("yes, all five" if equal else "NO"))
    for line in found or []:
        print(f"  {line}")
    payload = {
        "warehouse": str(args.warehouse),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "order": runs,
        "seconds": {side: [round(s, 4) for s in values] for side, values in seconds.items()},
        "median_seconds": {side: round(value, 4) for side, value in medians.items()},
        "table_median_seconds": {
            side: {table: round(statistics.median(values), 4) for table, values in per_side.items()}
            for side, per_side in tables.items()
        },
        "ratio": estimate.ratio,
        "interval_95": [estimate.low, estimate.high],
        "verdict": estimate.verdict,
        "equal": equal,
        "differences": found or [],
        "load_1m": [round(x, 2) for x in loads],
    }
    path = write_record(new_record(RECORD_KIND, payload, None), config.paths.results)
    print(f"record: {path}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
