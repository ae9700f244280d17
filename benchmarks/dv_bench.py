"""Benchmark of deletion vectors on Silver (a program, not a test): the MERGE with them on and off.

    python benchmarks/dv_bench.py [--records 1M] [--repeats 3] [--seed 42]

Silver is the one layer MERGEd into, so it is where deletion vectors can pay: a MERGE that
updates a few rows of a file marks them deleted instead of rewriting the file. Readers pay
for it: every scan has to read the vectors and drop the rows they mark.

The benchmark generates `--records` records in two batches (the initial load, 70 %, then an
incremental batch, a third of it updates of earlier keys), and builds one warehouse per
setting (not measured): Bronze and Silver over batch 0 with Silver's tables created with
deletion vectors off (the baseline) or on, then Bronze over batch 1. Then, for each repeat
and each setting in turn (alternating, so a noisy minute hurts both), it copies the built
warehouse, times the Silver layer over batch 1 (the MERGEs that update rows) and then the
readers of the Silver tables: Spark's full scan (row count and a hash of every column),
Spark's aggregate (revenue per order day and currency) and DuckDB's full scan through its
delta extension. Prints medians and ratios to the baseline, and writes a `dv_benchmark`
result record under the results folder.
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

RECORD_KIND = RecordKind.DV_BENCHMARK
SETTINGS = {"off": False, "on": True}  # baseline first
MEASURES = (
    "silver_seconds",
    "merge_seconds",
    "spark_scan_seconds",
    "spark_aggregate_seconds",
    "duckdb_scan_seconds",
)
AGGREGATE_SQL = (
    "SELECT dt, currency, count(*) AS orders, sum(order_total) AS total "
    "FROM delta.`{path}` GROUP BY dt, currency"
)


def duckdb_delta_extension() -> Path:
    """The delta extension bundled by the `duckdb-extension-delta` package for this DuckDB."""
    import duckdb
    import duckdb_extension_delta

    folder = Path(duckdb_extension_delta.__file__).parent / "extensions"
    return folder / f"v{duckdb.__version__}" / "delta.duckdb_extension"


def silver_paths(warehouse: str) -> dict[str, str]:
    """Every Silver table's path, by qualified name."""
    from pipeline.contracts import SILVER

    return {table.qualified_name: table.path(warehouse) for table in SILVER}


def merge_metrics(spark: Any, paths: dict[str, str]) -> dict[str, int]:
    """Totals over each table's last commit (the MERGE): time, files, bytes, vectors written."""
    from delta.tables import DeltaTable

    totals = {"merge_ms": 0, "files_added": 0, "files_removed": 0, "bytes_added": 0, "vectors_added": 0}
    names = {
        "merge_ms": "executionTimeMs",
        "files_added": "numTargetFilesAdded",
        "files_removed": "numTargetFilesRemoved",
        "bytes_added": "numTargetBytesAdded",
        "vectors_added": "numTargetDeletionVectorsAdded",
    }
    for path in paths.values():
        last = DeltaTable.forPath(spark, path).history(1).collect()[0]
        if last["operation"] != "MERGE":
            continue
        metrics = last["operationMetrics"] or {}
        for total, metric in names.items():
            totals[total] += int(metrics.get(metric, 0))
    return totals


def time_readers(spark: Any, paths: dict[str, str]) -> dict[str, float]:
    """Seconds of Spark's full scan, Spark's aggregate and DuckDB's full scan of Silver."""
    import duckdb

    started = time.perf_counter()
    for path in paths.values():
        # A hash of every column forces every column to be read; decimal, so the sum cannot overflow.
        spark.sql(f"SELECT count(*), sum(CAST(xxhash64(*) AS DECIMAL(38, 0))) FROM delta.`{path}`").collect()
    scan = time.perf_counter() - started
    started = time.perf_counter()
    spark.sql(AGGREGATE_SQL.format(path=paths["silver.orders"])).collect()
    aggregate = time.perf_counter() - started
    started = time.perf_counter()
    connection = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    try:
        connection.execute(f"LOAD '{duckdb_delta_extension()}'")
        for path in paths.values():
            connection.execute(f"SELECT count(*), sum(hash(t)) FROM delta_scan('{path}') AS t").fetchall()
    finally:
        connection.close()
    return {
        "spark_scan_seconds": scan,
        "spark_aggregate_seconds": aggregate,
        "duckdb_scan_seconds": time.perf_counter() - started,
    }


def time_silver(spark: Any, config: Any, landing: str, warehouse: str) -> dict[str, float]:
    """Run the Silver layer over the pending batch, then the readers; seconds and MERGE totals."""
    from pipeline.run import run_pipeline

    started = time.perf_counter()
    run = run_pipeline(spark, config, landing, warehouse, layers=["silver"])
    seconds = time.perf_counter() - started
    paths = silver_paths(warehouse)
    metrics = merge_metrics(spark, paths)
    rows_out = sum(s.rows_out for s in run.stages if s.layer == "silver")
    return {
        "silver_seconds": seconds,
        "merge_seconds": metrics.pop("merge_ms") / 1000,
        "rows_out": rows_out,
        **{k: float(v) for k, v in metrics.items()},
        **time_readers(spark, paths),
    }


def with_deletion_vectors(config: Any, enabled: bool) -> Any:
    """The config with `[pipeline] deletion_vectors` set."""
    return config.model_copy(
        update={"pipeline": config.pipeline.model_copy(update={"deletion_vectors": enabled})}
    )


def build(spark: Any, config: Any, records: int, seed: int, scratch: Path) -> tuple[str, dict[str, Path]]:
    """Generate two batches and build one warehouse per setting, batch 1 pending in Silver."""
    from datagen.config import DatagenConfig
    from datagen.generate import generate
    from lakelab.sources import BATCH_MARKERS
    from pipeline.run import run_pipeline

    landing = scratch / "landing"
    print(f"building: {records:,} records in 2 batches, seed {seed} (not measured)", flush=True)
    generate(spark, DatagenConfig(records=records, seed=seed, batches=1), str(landing))
    # Bronze stops at the first batch without a marker: holding marker 1 back stages batch 0.
    marker = landing / BATCH_MARKERS / "0001.json"
    held = scratch / "0001.json"
    marker.rename(held)
    base = scratch / "base"
    run_pipeline(spark, config, str(landing), str(base), layers=["bronze"])
    built = {}
    for name, enabled in SETTINGS.items():
        built[name] = scratch / f"built-{name}"
        shutil.copytree(base, built[name])
        run_pipeline(
            spark, with_deletion_vectors(config, enabled), str(landing), str(built[name]), ["silver"]
        )
    held.rename(marker)
    for name in SETTINGS:
        run_pipeline(spark, config, str(landing), str(built[name]), layers=["bronze"])
        print(f"  warehouse with deletion vectors {name}: built", flush=True)
    shutil.rmtree(base)
    return str(landing), built


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def main(argv: list[str] | None = None) -> int:
    from lakelab.config import load_config
    from lakelab.records import new_record, write_record
    from lakelab.spark import get_session

    parser = argparse.ArgumentParser(prog="dv_bench", description=__doc__)
    parser.add_argument("--records", default="1M")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        records = parse_records(args.records)
        if args.repeats < 1:
            raise UserError(f"--repeats {args.repeats}: must be at least 1")
        config = load_config(args.config)
    except UserError as error:
        print(f"dv_bench: error: {error}", file=sys.stderr)
        return 2

    spark = get_session(config, app_name="lakelab-dv-bench")
    Path("data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="dv-bench-", dir="data")).resolve()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    try:
        landing, built = build(spark, config, records, args.seed, scratch)
        names = list(SETTINGS)
        for repeat in range(1, args.repeats + 1):
            for name in names if repeat % 2 else list(reversed(names)):
                # A fresh path each time: Delta caches a table's log by path.
                warehouse = scratch / f"run-{repeat}-{name}"
                shutil.copytree(built[name], warehouse)
                setting = with_deletion_vectors(config, SETTINGS[name])
                sample = time_silver(spark, setting, landing, str(warehouse))
                shutil.rmtree(warehouse)
                samples[name].append(sample)
                print(
                    f"[repeat {repeat}/{args.repeats}] deletion vectors {name}: Silver "
                    f"{sample['silver_seconds']:.1f}s (MERGEs {sample['merge_seconds']:.1f}s, "
                    f"{sample['files_added']:.0f} files / {sample['bytes_added'] / 1e6:.1f} MB written, "
                    f"{sample['vectors_added']:.0f} vectors); reads: Spark scan "
                    f"{sample['spark_scan_seconds']:.1f}s, "
                    f"aggregate {sample['spark_aggregate_seconds']:.1f}s, "
                    f"DuckDB scan {sample['duckdb_scan_seconds']:.1f}s",
                    flush=True,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    measures = MEASURES
    results = []
    print(f"\n{'deletion vectors':<18}" + "".join(f"{m.removesuffix('_seconds'):>18}" for m in measures))
    baseline = {m: statistics.median(s[m] for s in samples["off"]) for m in measures}
    for name in SETTINGS:
        medians = {m: statistics.median(s[m] for s in samples[name]) for m in measures}
        ratios = {m: medians[m] / baseline[m] if baseline[m] else None for m in measures}
        print(
            f"{name:<18}"
            + "".join(
                f"{f'{medians[m]:.1f}s ({ratios[m]:.2f}×)' if ratios[m] is not None else '-':>18}"
                for m in measures
            )
        )
        first = samples[name][0]
        results.append(
            {
                "deletion_vectors": SETTINGS[name],
                "is_baseline": name == "off",
                **{f"median_{m}": round(medians[m], 2) for m in measures},
                **{m: [round(s[m], 2) for s in samples[name]] for m in measures},
                **{f"ratio_{m}": _rounded(ratios[m], 3) for m in measures},
                "merge_files_added": int(first["files_added"]),
                "merge_files_removed": int(first["files_removed"]),
                "merge_bytes_added": int(first["bytes_added"]),
                "merge_vectors_added": int(first["vectors_added"]),
                "silver_rows_out": int(first["rows_out"]),
            }
        )
    payload = {
        "records": records,
        "batches": 2,
        "measured": "Silver layer over batch 1 (MERGE into batch 0's tables), then readers of Silver",
        "aggregate_sql": AGGREGATE_SQL,
        "repeats": args.repeats,
        "results": results,
    }
    path = write_record(new_record(RECORD_KIND, payload, args.seed), config.paths.results)
    print(f"record: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
