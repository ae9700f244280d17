"""The I/O floor of a landing (a program, not a test): read every file once, write it once to Delta.

    python benchmarks/floor_bench.py --landing data/landing [--repeats 2]

No parsing, typing, checks or merges: JSON lines are read as text, gzip CSV with its header
as strings, Parquet as it is, and each source table is appended to a fresh Delta table. This
is what any Bronze layer pays at least, whatever its logic, on this machine and these
settings; the pipeline writes every row at least twice (Bronze, Silver) and reads it at
least twice, so the floor says how far a time goal is from what the hardware allows.

Prints per-table and total seconds (medians of `--repeats`, each on a new scratch warehouse)
and the machine's load during each repeat, and writes a `floor_benchmark` result record.
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
from lakelab.records import RecordKind

RECORD_KIND = RecordKind.FLOOR_BENCHMARK


def read_raw(spark: Any, table: Any, landing: str) -> Any:
    """The table's landing files, every batch, with no parsing beyond the file format."""
    folder = table.landing_path(landing)
    if table.format == "json":
        return spark.read.text(folder)
    if table.format == "csv.gz":
        return spark.read.option("header", "true").csv(folder)
    return spark.read.option("mergeSchema", "true").parquet(folder)


def one_pass(spark: Any, landing: str, warehouse: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds per source table to read its landing and append it to a new Delta table, and
    the rows each table holds afterwards (counted outside the timing)."""
    from lakelab.sources import SOURCE_TABLES

    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    for table in SOURCE_TABLES:
        path = str(warehouse / table.system / table.name)
        started = time.perf_counter()
        read_raw(spark, table, landing).write.format("delta").mode("append").save(path)
        seconds[table.qualified_name] = time.perf_counter() - started
        rows[table.qualified_name] = spark.read.format("delta").load(path).count()
    return seconds, rows


def main(argv: list[str] | None = None) -> int:
    from lakelab.config import load_config
    from lakelab.records import new_record, write_record
    from lakelab.sources import local_dataset_marker
    from lakelab.spark import get_session

    parser = argparse.ArgumentParser(prog="floor_bench", description=__doc__)
    parser.add_argument("--landing", required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        if args.repeats < 1:
            raise UserError(f"--repeats {args.repeats}: must be at least 1")
        dataset = local_dataset_marker(args.landing)
        config = load_config(args.config)
    except UserError as error:
        print(f"floor_bench: error: {error}", file=sys.stderr)
        return 2

    spark = get_session(config, app_name="lakelab-floor-bench")
    Path("data").mkdir(exist_ok=True)
    samples: list[dict[str, float]] = []
    rows: dict[str, int] = {}
    loads: list[float] = []
    for repeat in range(1, args.repeats + 1):
        scratch = Path(tempfile.mkdtemp(prefix="floor-bench-", dir="data")).resolve()
        try:
            sample, rows = one_pass(spark, str(Path(args.landing).resolve()), scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        load = os.getloadavg()[0]
        samples.append(sample)
        loads.append(load)
        print(f"[repeat {repeat}/{args.repeats}] {sum(sample.values()):.1f}s, load {load:.1f}", flush=True)

    medians = {name: statistics.median(s[name] for s in samples) for name in samples[0]}
    totals = [sum(s.values()) for s in samples]
    print(f"\n{'source table':<28}{'rows':>14}{'median s':>10}")
    for name, value in medians.items():
        print(f"{name:<28}{rows[name]:>14,}{value:>10.1f}")
    print(f"{'total':<28}{statistics.median(totals):>10.1f}  ({min(totals):.1f}..{max(totals):.1f})")
    payload = {
        "landing": str(args.landing),
        "records": dataset.get("records"),
        "batches": dataset.get("batches"),
        "repeats": args.repeats,
        "median_seconds": round(statistics.median(totals), 2),
        "seconds": [round(t, 2) for t in totals],
        "load_1m": [round(x, 2) for x in loads],
        "tables": {
            name: {"median_seconds": round(value, 2), "rows": rows[name]} for name, value in medians.items()
        },
    }
    path = write_record(new_record(RECORD_KIND, payload, dataset.get("seed")), config.paths.results)
    print(f"record: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
