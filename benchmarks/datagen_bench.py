"""Benchmark of the synthetic data generator (a program, not a test).

    python benchmarks/datagen_bench.py --scales 1M,10M

Side by side in one run, on one Spark session (local[2] unless --master):
  * ours: `datagen.generate` of the whole data set at each scale -> records/s, and the
    per-table rows/s it reports;
  * orders only, ours vs dbldatagen 0.4.0: the orders table (same columns, same row and
    customer counts) built and written to Parquet the same way -> rows/s and the ratio;
  * per-row Faker for the accounts table on a small sample -> rows/s, vs our accounts rows/s;
  * peak RSS of the driver (the JVM, in local mode) and of the whole process tree,
    sampled with psutil while each step runs.
Medians of --repeats runs (at least 3 below 5M records; one run above, it takes minutes).
Writes a `datagen_benchmark` result record under reports/results.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datagen.cli import parse_records
from datagen.config import DatagenConfig
from lakelab.errors import UserError
from lakelab.records import RecordKind

SMALL_SCALE = 5_000_000


class PeakRss:
    """Samples RSS of this process, its children (the JVM) and the whole tree."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.python = self.children = self.tree = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                mine = self._process.memory_info().rss
                kids = sum(c.memory_info().rss for c in self._process.children(recursive=True))
            except psutil.Error:
                continue
            self.python = max(self.python, mine)
            self.children = max(self.children, kids)
            self.tree = max(self.tree, mine + kids)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that receives the elapsed seconds."""
    out: list[float] = []
    started = time.perf_counter()
    yield out
    out.append(time.perf_counter() - started)


def faker_accounts_rows_per_second(rows: int, seed: int) -> float:
    """Per-row Faker, the design the issue ruled out, for the accounts table's fields."""
    import datetime as dt

    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    started = time.perf_counter()
    out = []
    for i in range(rows):
        created = fake.date_time_between(dt.datetime(2023, 1, 1), dt.datetime(2025, 12, 31))
        out.append(
            {
                "Id": f"001{i:015d}",
                "Name": fake.company(),
                "Industry": fake.random_element(("Technology", "Retail", "Energy", "Media")),
                "Type": fake.random_element(("Customer", "Prospect", "Partner")),
                "BillingCountry": fake.country(),
                "BillingCity": fake.city(),
                "AnnualRevenue": round(fake.pyfloat(min_value=1e4, max_value=1e9), 2),
                "NumberOfEmployees": fake.random_int(1, 100_000),
                "Website": fake.url(),
                "External_Id__c": f"EXT-{i:010d}",
                "CreatedDate": created.isoformat(),
                "LastModifiedDate": created.isoformat(),
                "IsDeleted": False,
            }
        )
    return len(out) / (time.perf_counter() - started)


def dbldatagen_orders(spark: Any, rows: int, customers: int, seed: int) -> Any:
    """The orders table in dbldatagen: same columns, types, row and customer counts."""
    import dbldatagen as dg

    return (
        dg.DataGenerator(spark, rows=rows, partitions=spark.sparkContext.defaultParallelism, randomSeed=seed)
        .withColumn("ORDER_ID", "long", expr="id + 1")
        .withColumn("CUSTOMER_ID", "long", minValue=1, maxValue=customers, random=True)
        .withColumn(
            "ORDER_TS",
            "timestamp",
            begin="2023-01-01 00:00:00",
            end="2025-12-31 23:59:59",
            interval="1 second",
            random=True,
        )
        .withColumn(
            "STATUS",
            "string",
            values=["placed", "shipped", "delivered", "returned", "cancelled"],
            weights=[30, 30, 30, 6, 4],
            random=True,
        )
        .withColumn(
            "CHANNEL",
            "string",
            values=["web", "mobile", "partner", "sales"],
            weights=[5, 3, 1, 1],
            random=True,
        )
        .withColumn(
            "CURRENCY",
            "string",
            values=["USD", "EUR", "GBP", "CAD", "AUD"],
            weights=[6, 2, 1, 1, 1],
            random=True,
        )
        .withColumn("ORDER_TOTAL", "decimal(18,2)", minValue=1, maxValue=5000, random=True)
        .withColumn("UPDATED_AT", "timestamp", expr="ORDER_TS + interval 1 hour", baseColumn="ORDER_TS")
        .build()
    )


def write_parquet(frame: Any, path: str) -> None:
    """The same Parquet write for both generators."""
    frame.write.mode("overwrite").parquet(path)


def write_noop(frame: Any) -> None:
    """Run the whole plan and discard the rows (Spark's `noop` data source)."""
    frame.write.format("noop").mode("overwrite").save()


def median_of(repeats: int, run: Callable[[], float]) -> tuple[float, list[float]]:
    """Median and all values of `repeats` runs."""
    values = [run() for _ in range(repeats)]
    return statistics.median(values), values


def bench_scale(spark: Any, records: int, seed: int, repeats: int, scratch: Path) -> dict[str, Any]:
    """All figures at one scale."""
    from datagen.generate import generate
    from datagen.plan import plan_dataset
    from datagen.pools import build_pools
    from datagen.tables import FAULT_COLUMN, build_batch, build_context

    config = DatagenConfig(records=records, seed=seed, dirty_rate=0.01, batches=0)
    plan = plan_dataset(config)
    runs = repeats if records < SMALL_SCALE else 1
    landing = scratch / f"landing-{records}"

    summaries = []
    with PeakRss() as peak:
        for _ in range(runs):
            shutil.rmtree(landing, ignore_errors=True)
            summaries.append(generate(spark, config, str(landing)))
    shutil.rmtree(landing, ignore_errors=True)
    full = sorted(summaries, key=lambda s: s.seconds)[len(summaries) // 2]
    rate = full.rows_per_second
    print(f"  ours, whole data set: {full.rows:,} rows in {full.seconds:.1f} s, {rate:,.0f} rows/s")

    orders_rows = plan.table("snowflake.orders").rows
    customers = plan.table("snowflake.customers").rows
    ctx = build_context(spark, plan, build_pools(seed))

    def ours_orders() -> float:
        with timed() as took:
            write_parquet(
                build_batch(spark, ctx, "snowflake.orders", 0).drop(FAULT_COLUMN), str(scratch / "ours")
            )
        return orders_rows / took[0]

    def dbl_orders() -> float:
        with timed() as took:
            write_parquet(dbldatagen_orders(spark, orders_rows, customers, seed), str(scratch / "dbl"))
        return orders_rows / took[0]

    # The same rows into Spark's `noop` sink: generation alone, without the Parquet write that
    # both generators pay alike.
    def ours_noop() -> float:
        with timed() as took:
            write_noop(build_batch(spark, ctx, "snowflake.orders", 0).drop(FAULT_COLUMN))
        return orders_rows / took[0]

    def dbl_noop() -> float:
        with timed() as took:
            write_noop(dbldatagen_orders(spark, orders_rows, customers, seed))
        return orders_rows / took[0]

    ours_rps, ours_all = median_of(runs, ours_orders)
    dbl_rps, dbl_all = median_of(runs, dbl_orders)
    ours_noop_rps, _ = median_of(runs, ours_noop)
    dbl_noop_rps, _ = median_of(runs, dbl_noop)
    for name in ("ours", "dbl"):
        shutil.rmtree(scratch / name, ignore_errors=True)
    print(f"  orders ({orders_rows:,} rows): ours {ours_rps:,.0f} rows/s, dbldatagen {dbl_rps:,.0f} rows/s")
    print(
        f"  orders, generation alone (noop sink): ours {ours_noop_rps:,.0f} rows/s, "
        f"dbldatagen {dbl_noop_rps:,.0f} rows/s"
    )
    # What the Parquet write alone costs (ours to Parquet minus ours to noop), and so the
    # best ratio any generator could reach against dbldatagen's Parquet time if generating
    # cost nothing at all.
    write_seconds = orders_rows / ours_rps - orders_rows / ours_noop_rps
    ceiling = (orders_rows / dbl_rps) / write_seconds if write_seconds > 0 else None
    print(
        f"  the Parquet write alone takes ~{write_seconds:.2f} s of ours' {orders_rows / ours_rps:.2f} s: "
        f"a generator that cost nothing would reach {ceiling or float('inf'):.2f}x dbldatagen"
    )
    return {
        "records": records,
        "repeats": runs,
        "generate": {
            "rows": full.rows,
            "bytes": full.bytes,
            "seconds": round(full.seconds, 2),
            "rows_per_second": round(full.rows_per_second),
            "all_seconds": [round(s.seconds, 2) for s in summaries],
            "tables": {
                t.table: {
                    "rows": t.rows,
                    "bytes": t.bytes,
                    "seconds": round(t.seconds, 2),
                    "rows_per_second": round(t.rows_per_second),
                }
                for t in full.tables
            },
        },
        "orders": {
            "rows": orders_rows,
            "ours_rows_per_second": round(ours_rps),
            "dbldatagen_rows_per_second": round(dbl_rps),
            "ratio": round(ours_rps / dbl_rps, 2) if dbl_rps else None,
            "ours_all": [round(v) for v in ours_all],
            "dbldatagen_all": [round(v) for v in dbl_all],
            "noop": {
                "ours_rows_per_second": round(ours_noop_rps),
                "dbldatagen_rows_per_second": round(dbl_noop_rps),
                "ratio": round(ours_noop_rps / dbl_noop_rps, 2) if dbl_noop_rps else None,
            },
            "parquet_write_seconds": round(write_seconds, 3),
            "ratio_ceiling_with_free_generation": round(ceiling, 2) if ceiling else None,
        },
        "peak_rss_bytes": {"python": peak.python, "driver_jvm": peak.children, "process_tree": peak.tree},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its record."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="1M,10M", help="comma-separated record counts (default 1M,10M)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per step below 5M records (median)")
    parser.add_argument("--faker-rows", type=int, default=20_000, help="rows for the per-row Faker baseline")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warmup-records", type=int, default=10_000, help="untimed first run (0: none)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--scratch", default="/tmp/lakelab-datagen-bench", help="folder for throwaway output")
    parser.add_argument("--results", default="reports/results", help="where the result record goes")
    args = parser.parse_args(argv)
    try:
        scales = [parse_records(s) for s in args.scales.split(",")]
    except UserError as error:
        print(f"datagen_bench: error: {error}", file=sys.stderr)
        return 2

    from lakelab.config import parse_config
    from lakelab.records import new_record, write_record
    from lakelab.spark import get_session

    spark_section = {
        "master": args.master,
        "ui_enabled": False,
        "log_level": "ERROR",
        "conf": {"spark.ui.showConsoleProgress": "false"},
    }
    config = parse_config({"spark": spark_section})
    spark = get_session(config, app_name="lakelab-datagen-bench")
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)

    # Warm the JVM (JIT, codegen caches) so the first measured step is not penalised.
    from datagen.generate import generate

    if args.warmup_records > 0:
        generate(spark, DatagenConfig(records=args.warmup_records, seed=args.seed), str(scratch / "warmup"))
        shutil.rmtree(scratch / "warmup", ignore_errors=True)

    print(f"per-row Faker, accounts, {args.faker_rows:,} rows ...")
    faker_rps = faker_accounts_rows_per_second(args.faker_rows, args.seed)
    print(f"  {faker_rps:,.0f} rows/s")
    results = []
    for records in scales:
        print(f"scale {records:,} records ...")
        results.append(bench_scale(spark, records, args.seed, max(1, args.repeats), scratch))
    shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"{'records':>12}{'ours rows/s':>14}{'orders ours':>14}{'orders dbl':>13}{'ratio':>7}"
          f"{'noop ratio':>11}{'accounts ours':>15}{'vs Faker':>10}"
          f"{'driver RSS':>12}{'tree RSS':>10}")  # fmt: skip
    for r in results:
        accounts = r["generate"]["tables"]["crm.account"]["rows_per_second"]
        rss = r["peak_rss_bytes"]
        print(
            f"{r['records']:>12,}{r['generate']['rows_per_second']:>14,}{r['orders']['ours_rows_per_second']:>14,}"
            f"{r['orders']['dbldatagen_rows_per_second']:>13,}{r['orders']['ratio']:>7}"
            f"{r['orders']['noop']['ratio']:>11}"
            f"{accounts:>15,}{accounts / faker_rps:>9.1f}x"
            f"{rss['driver_jvm'] / 2**20:>10,.0f}MB{rss['process_tree'] / 2**20:>8,.0f}MB"
        )
    payload = {
        "master": args.master,
        "faker_accounts_rows_per_second": round(faker_rps),
        "faker_rows": args.faker_rows,
        "scales": results,
        "spark_conf": {"spark.driver.memory": config.spark.driver_memory},
    }
    path = write_record(new_record(RecordKind.DATAGEN_BENCHMARK, payload, args.seed), args.results)
    print(f"record: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
