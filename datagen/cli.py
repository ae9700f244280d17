"""`lakelab generate`: the synthetic CRM and Snowflake sources into a landing.

No pyspark here at module level: `lakelab --help` must stay instant.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any

from lakelab.counts import parse_count
from lakelab.errors import UserError

if TYPE_CHECKING:
    from datagen.generate import GenerationSummary
    from datagen.plan import DatasetPlan


def parse_records(text: str) -> int:
    """`--records`: see `lakelab.counts.parse_count`."""
    return parse_count(text, "--records")


def parse_date(option: str, text: str) -> dt.date:
    """YYYY-MM-DD or a UserError naming the option."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option}: {text!r} is not a date (use YYYY-MM-DD)") from None


def register(commands: Any) -> None:
    """Add `generate` to the command tree."""
    parser = commands.add_parser(
        "generate",
        help="generate the synthetic CRM and Snowflake sources into a landing",
        description="Generate the synthetic CRM (JSON lines) and Snowflake (Parquet, gzip CSV) "
        "sources, deterministically from a seed. --records is the total over all tables.",
    )
    parser.add_argument("--records", help="rows over all tables: 100k, 1M, 10M, 1_000_000 (default: config)")
    parser.add_argument("--seed", type=int, help="random seed (default: config, 42)")
    parser.add_argument("--landing", help="local folder or s3a:// URI (default: config paths.landing)")
    parser.add_argument("--dirty-rate", type=float, help="share of dirty records, 0..0.5 (default 0.01)")
    parser.add_argument("--batches", type=int, help="incremental batches after the initial load (default 0)")
    parser.add_argument("--start-date", help="first day of the data, YYYY-MM-DD")
    parser.add_argument("--end-date", help="last day of the data, YYYY-MM-DD")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a data set made with other options in the landing"
    )
    parser.set_defaults(handler=run)


def print_plan(plan: DatasetPlan) -> None:
    """The split of --records over tables and batches, before any work starts."""
    config = plan.config
    print(
        f"lakelab generate: {config.records:,} records, seed {config.seed}, dirty rate {config.dirty_rate}, "
        f"{config.batches} incremental batch(es), {config.start_date} .. {config.end_date}"
    )
    print(f"{'table':<24}{'share':>8}{'rows':>14}{'+dirty copies':>15}  per batch")
    for table in plan.tables:
        landed = [table.landed_rows(b.batch) for b in table.batches]
        extra = table.total_landed_rows - table.rows
        print(
            f"{table.name:<24}{table.rows / config.records:>8.2%}{table.rows:>14,}{extra:>15,}  "
            + " ".join(f"{n:,}" for n in landed)
        )
    print(f"{'total':<24}{'':>8}{sum(t.rows for t in plan.tables):>14,}{plan.total_landed_rows:>15,} landed")


def print_summary(summary: GenerationSummary) -> None:
    """Rows, bytes, seconds and rows/s per table."""
    print(f"{'table':<24}{'rows':>14}{'bytes':>16}{'seconds':>10}{'rows/s':>14}")
    for table in summary.tables:
        print(
            f"{table.table:<24}{table.rows:>14,}{table.bytes:>16,}{table.seconds:>10.1f}"
            f"{table.rows_per_second:>14,.0f}"
        )
    print(
        f"{'total':<24}{summary.rows:>14,}{summary.bytes:>16,}{summary.seconds:>10.1f}"
        f"{summary.rows_per_second:>14,.0f}  (wall time, Spark start excluded)"
    )


def run(config: Any, args: argparse.Namespace) -> int:
    """Validate options, print the split, generate, print the summary."""
    from lakelab.config import with_overrides

    start = parse_date("--start-date", args.start_date) if args.start_date else config.datagen.start_date
    end = parse_date("--end-date", args.end_date) if args.end_date else config.datagen.end_date
    if end < start:
        raise UserError(f"--end-date {end} is before --start-date {start}")
    config = with_overrides(
        config,
        "datagen",
        records=parse_records(args.records) if args.records is not None else None,
        seed=args.seed,
        dirty_rate=args.dirty_rate,
        batches=args.batches,
        start_date=start,
        end_date=end,
    )
    landing = args.landing or config.paths.landing
    from datagen.generate import generate
    from datagen.plan import plan_dataset
    from lakelab.spark import get_session

    print_plan(plan_dataset(config.datagen))
    # Our own per-table progress lines; Spark's console bar would garble them.
    spark = get_session(
        config, app_name="lakelab-generate", extra_conf={"spark.ui.showConsoleProgress": "false"}
    )
    summary = generate(spark, config.datagen, landing, progress=print, overwrite=args.overwrite)
    if not summary.already_complete:
        print_summary(summary)
        print(f"landing: {summary.landing}")
    return 0
