"""The performance-tuning and cost-optimization guides, rendered from result records.

The prose that does not depend on figures lives here as templates; every number, table and
plot in the guides comes from the records under `docs/results/`, so `lakelab report --guides`
rebuilds `docs/performance-tuning.md`, `docs/cost-optimization.md` and `docs/img/` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.costs import PriceFile, load_prices, monthly, run_cost
from harness.report import (
    assumptions_text,
    cost_from,
    cost_table,
    deployment_cost_table,
    fmt_bytes,
    fmt_ratio,
    fmt_usd,
    load_line,
    markdown_table,
    order_text,
    plot_cost,
    plot_seconds,
    plot_stages,
    plot_throughput,
    prices_text,
    provenance_lines,
    resources_table,
    results_table,
    stages_table,
    start_text,
    throughput_text,
)
from harness.results import CostAssumptions, PointStats, Sweep, load_sweeps, point_stats
from harness.stats import FASTER, format_estimate
from lakelab.records import RecordKind, read_records, short_key

PERFORMANCE_GUIDE = "performance-tuning.md"
COST_GUIDE = "cost-optimization.md"
REBUILD = "lakelab report --guides"

# What each setting does, in words checked against the Spark and Delta documentation; shown
# next to the measured effect of the settings a sweep varied.
SETTING_NOTES = {
    "spark.sql.shuffle.partitions": (
        "Number of partitions a shuffle (join, aggregation, window) produces; Spark's default is 200. "
        "With adaptive query execution on (the default since Spark 3.2) Spark coalesces small "
        "post-shuffle partitions toward `spark.sql.adaptive.advisoryPartitionSizeInBytes` (64 MB), so "
        "this value is the starting point AQE coalesces from rather than the final task count. "
        "Too many partitions cost per-task scheduling and many tiny output files; too few give "
        "large tasks that spill and leave cores idle."
    ),
    "spark.sql.adaptive.enabled": (
        "Adaptive query execution re-plans at shuffle boundaries with real sizes: coalescing "
        "partitions, switching sort-merge joins to broadcast joins and splitting skewed partitions."
    ),
    "spark.sql.autoBroadcastJoinThreshold": (
        "Largest table size Spark broadcasts to every task instead of shuffling both join sides "
        "(default 10 MB; -1 turns broadcasting off)."
    ),
    "spark.sql.files.maxPartitionBytes": (
        "Most bytes packed into one partition when reading files (default 128 MB); smaller gives "
        "more, shorter read tasks."
    ),
    "pipeline.target_file_size_mb": (
        "Delta's `delta.targetFileSize` on the pipeline's tables: the size OPTIMIZE and optimized "
        "writes aim for."
    ),
    "pipeline.partition_facts_by_date": (
        "Partition fact tables by day (`dt`): prunes reads by date, but multiplies files when "
        "each day holds little data (at 100k records, 1,095 files of about 15 orders each)."
    ),
    "spark.databricks.delta.snapshotPartitions": (
        "Tasks Delta uses to replay a table's transaction log when it builds a snapshot (every "
        "read, MERGE and commit; default 50). Small logs need one or two."
    ),
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": (
        "Tasks Spark uses to list many paths at once; Delta's VACUUM lists a table's files with "
        "it (default 10000, about 27 s per table on 2 cores however small the table)."
    ),
    "spark.sql.codegen.hugeMethodLimit": (
        "Largest method (bytes of bytecode) whole-stage code generation may emit before Spark "
        "falls back to per-operator code (default 65535). HotSpot leaves methods over 8000 "
        "uncompiled, so a wide projection above that runs interpreted."
    ),
    "pipeline.optimize_write": (
        "Delta optimized writes: one extra shuffle before the write so each partition gets "
        "fewer, larger files."
    ),
    "pipeline.deletion_vectors": (
        "Deletion vectors on Silver's tables (the only ones MERGEd into): a MERGE marks the rows it "
        "replaces as removed instead of rewriting whole files; every reader then skips those rows."
    ),
}


def performance_findings(stats: Sequence[PointStats]) -> list[str]:
    """What the figures say, as sentences (pure; one list per sweep, largest scale)."""
    scale = max(s.scale for s in stats)
    points = [s for s in stats if s.scale == scale and s.failed < s.runs]
    if not points:
        return [f"Every run at {scale:,} records failed; see the sweep's report."]
    baseline = next((s for s in points if s.is_baseline), points[0])
    fastest = min(points, key=lambda s: s.median_seconds)
    slowest = max(points, key=lambda s: s.median_seconds)
    lines = []
    if fastest is baseline:
        lines.append(
            f"At {scale:,} records the baseline `{baseline.point}` was the fastest point "
            f"(median {baseline.median_seconds:.2f} s)."
        )
    else:
        estimate = fastest.estimate
        verdict = (
            f"established: {format_estimate(estimate)}"
            if estimate is not None and estimate.verdict == FASTER
            else (format_estimate(estimate) if estimate is not None else "not established")
            + ": do not act on this difference before more repeats"
        )
        lines.append(
            f"At {scale:,} records `{fastest.point}` had the lowest median: "
            f"{fastest.median_seconds:.2f} s against {baseline.median_seconds:.2f} s for the baseline "
            f"`{baseline.point}`; {verdict}."
        )
    if slowest is not fastest:
        lines.append(
            f"The slowest point was `{slowest.point}` at {slowest.median_seconds:.2f} s "
            f"({fmt_ratio(slowest.ratio_to_baseline)} the baseline)."
        )
    layer_share = {
        layer: seconds / baseline.median_seconds
        for layer, seconds in baseline.stage_median_seconds.items()
        if baseline.median_seconds > 0
    }
    # With one layer there is nothing to choose between.
    if len(layer_share) > 1:
        top = max(layer_share, key=lambda layer: layer_share[layer])
        lines.append(
            f"In the baseline, the {top} layer took {layer_share[top] * 100:.0f}% of the wall time "
            f"({baseline.stage_median_seconds[top]:.2f} s): tune that layer first."
        )
    scales = sorted({s.scale for s in stats})
    if len(scales) > 1:
        ends = [
            next(
                (s for s in stats if s.scale == scale and s.point == baseline.point and s.failed < s.runs),
                None,
            )
            for scale in (scales[0], scales[-1])
        ]
        small, large = ends
        if small is not None and large is not None and small.median_records_per_second > 0:
            growth = large.median_records_per_second / small.median_records_per_second
            data_ratio = large.scale / small.scale
            lines.append(
                f"The baseline's throughput went from {small.median_records_per_second:,.0f} records/s at "
                f"{small.scale:,} records to {large.median_records_per_second:,.0f} at {large.scale:,} "
                f"({growth:.1f}× for {large.scale / small.scale:g}× the data): "
                + (
                    "the larger data set took less wall time than the smaller one, which no cost model "
                    "explains: machine load or warm-up moved these figures; repeat before concluding."
                    if growth > data_ratio
                    else "fixed per-run costs (job scheduling, Delta commits) dominate the smaller data set."
                    if growth > 1.5
                    else "the job scales roughly linearly over this range."
                    if growth >= 1 / 1.5
                    else "throughput fell as data grew: some cost grows faster than the data "
                    "(spill, skew, GC); look at the resources table."
                )
            )
    most_files = max(points, key=lambda s: s.median_output_files)
    fewest_files = min(points, key=lambda s: s.median_output_files)
    if most_files.median_output_files != fewest_files.median_output_files:
        lines.append(
            f"Output files ranged from {fewest_files.median_output_files:.0f} (`{fewest_files.point}`) to "
            f"{most_files.median_output_files:.0f} (`{most_files.point}`) for the same rows: "
            "every later reader pays for each extra small file."
        )
    spilled = [s for s in points if s.median_spill_bytes > 0]
    if spilled:
        worst = max(spilled, key=lambda s: s.median_spill_bytes)
        lines.append(
            f"`{worst.point}` spilled {fmt_bytes(worst.median_spill_bytes)} per run: its tasks "
            "outgrew their execution memory."
        )
    else:
        lines.append("No point spilled to disk: execution memory was not the constraint at this scale.")
    gc_share = max(points, key=lambda s: s.median_gc_seconds / max(s.median_run_seconds, 1e-9))
    if gc_share.median_run_seconds > 0:
        gc_percent = gc_share.median_gc_seconds / gc_share.median_run_seconds * 100
        lines.append(
            f"Garbage collection took at most {gc_percent:.0f}% of executor run time "
            f"(`{gc_share.point}`); both are wall time inside tasks, so CPU contention inflates both."
        )
    return lines


def cost_findings(stats: Sequence[PointStats], cost: CostAssumptions) -> list[str]:
    """What the cost view says, as sentences (pure)."""
    scale = max(s.scale for s in stats)
    points = [s for s in stats if s.scale == scale and s.failed < s.runs]
    if not points:
        return [f"Every run at {scale:,} records failed; there is no cost to show."]
    baseline = next((s for s in points if s.is_baseline), points[0])
    cheapest = min(points, key=lambda s: s.usd_per_million_records(cost))
    dearest = max(points, key=lambda s: s.usd_per_million_records(cost))
    per_million = f"{fmt_usd(cheapest.usd_per_million_records(cost))} per million records"
    held = f"({cheapest.core_seconds:.1f} core-seconds per run)"
    dearest_text = f"{fmt_usd(dearest.usd_per_million_records(cost))} for `{dearest.point}`"
    if cheapest is baseline:
        first = (
            f"At {scale:,} records the baseline `{baseline.point}` was the cheapest point: "
            f"{per_million} {held}, against {dearest_text}."
        )
    else:
        estimate = cheapest.estimate
        first = (
            f"At {scale:,} records the cheapest point was `{cheapest.point}`: {per_million} {held}, "
            f"against {fmt_usd(baseline.usd_per_million_records(cost))} for the baseline "
            f"`{baseline.point}` and {dearest_text}; its time against the baseline's: "
            + (format_estimate(estimate) if estimate is not None else "no interval")
            + "."
        )
    lines = [first]
    compute = cheapest.core_seconds / 3600 * cost.usd_per_core_hour
    storage = cheapest.median_output_bytes / 1e9 * cost.usd_per_gb_month
    total = compute + storage
    if total > 0:
        lines.append(
            f"Compute is {compute / total * 100:.0f}% of that estimate and one month of storage "
            f"{storage / total * 100:.0f}% ({fmt_bytes(cheapest.median_output_bytes)} written)."
        )
    if cheapest.median_cpu_seconds > 0 and cheapest.core_seconds > 0:
        busy = cheapest.median_cpu_seconds / cheapest.core_seconds
        lines.append(
            f"The cores were busy with task CPU for {busy * 100:.0f}% of the time they were held; the rest "
            "is driver work, scheduling, Delta commits and I/O waits, billed all the same."
        )
    return lines


def _setting_notes(sweep: Sweep) -> list[str]:
    lines = []
    for key in sweep.summary["payload"]["axes"]:
        note = SETTING_NOTES.get(key)
        if note:
            lines.append(f"- `{short_key(key)}`: {note}")
    return lines


def _performance_section(number: int, sweep: Sweep, cost: CostAssumptions, docs: Path) -> str:
    stats = point_stats(sweep, cost)
    payload = sweep.summary["payload"]
    seconds_png = plot_seconds(stats, docs / "img" / f"tuning-{number}-seconds.png")
    stages_png = plot_stages(stats, docs / "img" / f"tuning-{number}-stages.png")
    throughput_png = plot_throughput(stats, docs / "img" / f"tuning-{number}-throughput.png")
    axes = ", ".join(f"`{short_key(key)}`" for key in payload["axes"])
    parts = [
        f"## {number}. {axes} on the `{payload['workload']}` workload",
        "",
        *provenance_lines(sweep),
        f"- {', '.join(f'{s:,}' for s in payload['scales'])} records; "
        f"{payload['repeats']} repeats per point, "
        f"{order_text(payload)}; layers {', '.join(payload['layers']) or 'n/a'}; "
        f"{start_text(payload)}",
        *[line for line in [load_line(stats, sweep.summary["provenance"]["machine"]["cpu_count"])] if line],
        "",
        "What the figures say:",
        "",
        *[f"- {line}" for line in performance_findings(stats)],
        "",
        *(["What the settings do:", "", *_setting_notes(sweep), ""] if _setting_notes(sweep) else []),
        results_table(stats),
        "",
        f"![wall seconds per point](img/{seconds_png.name})",
        "",
        stages_table(stats),
        "",
        f"![seconds per layer](img/{stages_png.name})",
        "",
        throughput_text(throughput_png, docs),
        "",
        resources_table(stats),
        "",
    ]
    return "\n".join(parts)


def _cost_section(number: int, sweep: Sweep, cost: CostAssumptions, docs: Path, prices: PriceFile) -> str:
    stats = point_stats(sweep, cost)
    payload = sweep.summary["payload"]
    cost_png = plot_cost(stats, cost, docs / "img" / f"cost-{number}-per-million.png")
    axes = ", ".join(f"`{short_key(key)}`" for key in payload["axes"])
    parts = [
        f"## {number}. {axes} on the `{payload['workload']}` workload",
        "",
        f"Sweep `{sweep.sweep_id}` ({payload['spark']['master']}, seed {sweep.summary['seed']}).",
        "",
        *[line for line in [load_line(stats, sweep.summary["provenance"]["machine"]["cpu_count"])] if line],
        *[f"- {line}" for line in cost_findings(stats, cost)],
        "",
        cost_table(stats, cost),
        "",
        f"![cost per million records](img/{cost_png.name})",
        "",
        "The same median runs on AWS's Spark services (prices below):",
        "",
        deployment_cost_table(stats, sweep, prices),
        "",
    ]
    return "\n".join(parts)


DAILY_RECORDS = 100_000_000


def monthly_section(sweep: Sweep, cost: CostAssumptions, prices: PriceFile) -> str:
    """A month's bill by component for `DAILY_RECORDS` a day, from the last sweep's fastest point at
    its largest scale."""
    stats = point_stats(sweep, cost)
    scale = max(s.scale for s in stats)
    ok = [s for s in stats if s.scale == scale and s.failed < s.runs and s.cores >= 1]
    if not ok:
        return ""
    baseline = min(ok, key=lambda s: s.median_seconds)
    run = run_cost(
        prices, baseline.median_seconds, baseline.cores, baseline.median_output_bytes,
        baseline.median_output_files, scale, 0,
    )  # fmt: skip
    runs_per_day = DAILY_RECORDS / scale
    month = monthly(run, runs_per_day)
    rows = [
        ["EMR on EC2 (compute)", fmt_usd(month["emr_ec2"])],
        ["EMR Serverless (compute)", fmt_usd(month["emr_serverless"])],
        ["Glue (compute)", fmt_usd(month["glue"])],
        ["S3 storage (a month of output kept)", fmt_usd(month["storage"])],
        ["S3 PUT requests", fmt_usd(month["put_requests"])],
        ["S3 GET requests", "not measured"],
    ]
    return "\n".join(
        [
            "## A month at 100M records a day",
            "",
            f"Sweep `{sweep.sweep_id}`'s fastest point `{baseline.point}` at {scale:,} records "
            f"({baseline.median_seconds:.1f} s on {baseline.cores} cores, median), run "
            f"{runs_per_day:,.0f} times a day for 30 days: {DAILY_RECORDS:,} records a day as batches of the "
            "measured size. Pick one compute line, then add S3. Larger batches pay the fixed costs "
            "fewer times, so this is an upper bound until a sweep measures the pipeline at 100M.",
            "",
            markdown_table(["component", "USD per month"], rows),
            "",
            prices_text(prices),
            "",
        ]
    )


PERFORMANCE_INTRO = """\
# Performance tuning

How to make the lakelab pipeline (datagen's CRM and Snowflake sources → Bronze → Silver → Gold
on Delta Lake) faster, with figures measured by the harness rather than folklore.

> This file is generated by `{rebuild}` from the result records in `docs/results/`.
> Edit the prose in `harness/guides.py`, never here.

## Method

- **Measure, then change one thing.** `lakelab sweep` runs every combination of the settings in
  `[sweep.grid]` at every scale in `[sweep.scales]`, `repeats` times, each run into an empty
  warehouse from the same landing, and writes one versioned record per run.
- **Interleave repeats.** Runs go round-robin (every point once, then every point again), so a
  noisy neighbour on a shared machine slows all points alike instead of one.
- **Read medians, trust intervals.** Reports show the median and the min–max of the repeats, and
  each point's time against the baseline's with a 95% bootstrap interval (`harness/stats.py`):
  a difference is established only when that interval excludes 1, and never from fewer than 3
  repeats a side. Otherwise repeat more before acting.
- **Look where the time goes.** The per-layer breakdown and the task metrics (executor CPU, GC,
  shuffle, spill) say whether a run is bound by CPU, shuffle, memory or fixed per-commit costs.
- **Check at the scale you run.** Small data sets are dominated by fixed costs (job scheduling,
  Delta commits, file listing); settings that win at 100k records can lose at 100M.

A sweep of your own, in `lakelab.toml`:

```toml
[sweep]
scales = [1_000_000, 10_000_000]
repeats = 3
warmup = 1

[sweep.grid]
"spark.sql.shuffle.partitions" = ["8", "32", "200"]
"spark.sql.adaptive.enabled" = ["true", "false"]
"pipeline.target_file_size_mb" = ["32", "128"]
```

Settings Spark can change on a running session (`spark.conf.isModifiable`) are set per run;
settings that need a new JVM (`spark.driver.memory`, `spark.executor.cores`, ...) run each of
their runs in a fresh session in a child process; `pipeline.*` keys change the pipeline's
physical design for the run.

## lakelab's defaults, and why

Spark's and Delta's defaults are sized for data-centre clusters; lakelab starts from values
sized for a laptop or a small lab cluster (`lakelab/spark.py`, `[pipeline]` in lakelab.toml),
and any of them is one `[spark.conf]` or `--set` away from being swept:

| setting | Spark/Delta default | lakelab default | why |
|---|---|---|---|
| `spark.sql.shuffle.partitions` | 200 | 8 | a few cores; at 100k records 2 and 8 are within noise, \
8 leaves room for 10M-100M; AQE still coalesces and splits from there |
| `spark.databricks.delta.snapshotPartitions` | 50 | 4 | tasks per Delta log replay (every read, \
MERGE and commit); the logs here are kilobytes |
| `spark.sql.sources.parallelPartitionDiscovery.parallelism` | 10000 | 8 | tasks VACUUM lists files \
in; `lakelab maintain` over 8 small tables took 228.6 s with 10000 and 30.1 s with 8 (medians of 3, \
`benchmarks/maintain_bench.py`) |
| `pipeline.partition_facts_by_date` | (n/a) | false | a day of orders is kilobytes to a few MB here; \
Delta advises partitions of about 1 GB |

The sweeps below that vary these settings are the evidence (for VACUUM, the maintain benchmark
record in `docs/results/`).

## Measured sweeps
"""

COST_INTRO = """\
# Cost optimization

What a pipeline run costs in compute and storage, estimated from the harness's measurements
under stated prices, and which settings move it.

> This file is generated by `{rebuild}` from the result records in `docs/results/`.
> Edit the prose in `harness/guides.py`, never here.

## The cost model

- **Compute** is billed for cores held, not cores busy: core-seconds = wall seconds of a run ×
  cores allocated to Spark. A setting that makes a run faster on the same cores makes it cheaper
  in direct proportion.
- **Storage** is the bytes the run left in the warehouse (data files and Delta logs), priced per
  GB-month; small files also cost in requests and in every later read, which this estimate does
  not price.
- {assumptions}
- **On AWS**: each sweep below also prices its median runs on EMR on EC2, EMR Serverless and
  Glue, plus S3 storage and PUT requests, from the dated list prices in `harness/prices.toml`
  (source, date, region and confidence of each; `harness/costs.py` applies each service's
  billing rules). The last section is a month's bill by component at 100M records a day.
- **Not measured yet**, so not priced here: S3 GET requests (reads), compression codecs
  against each other, and the storage effect of an OPTIMIZE/VACUUM schedule over weeks (the
  maintain benchmark in `docs/pipeline.md` times VACUUM; a `lakelab lifecycle` record, where
  there is one, adds a last section: one life cycle of CDC batches, not a schedule). There is no
  budget alert yet: no cost figure is exported to Prometheus.

## Levers, in the order they usually pay

1. **Run time on the same cores**: every setting in the performance guide that shortens a run
   lowers compute cost by the same ratio.
2. **Cores that are held but idle**: on small data, fixed costs (scheduling, Delta commits)
   dominate and extra cores mostly wait; compare executor CPU seconds with core-seconds.
3. **Files and bytes written**: fewer, larger files (`pipeline.target_file_size_mb`, optimized
   writes, OPTIMIZE in `lakelab maintain`) and a VACUUM retention that matches how far back you
   query.
4. **Scale**: fixed costs shrink per record as data grows; price per million records at the scale
   you run, not at the demo's.

## Measured sweeps
"""


def commit_text(record: Mapping[str, Any]) -> str:
    """`, commit abc1234`: the code a run loaded at its start where the payload says, else the
    commit when the record was written; nothing when it was not known."""
    commit = str(
        record.get("payload", {}).get("git_commit_at_start")
        or record.get("provenance", {}).get("git_commit")
        or "unknown"
    )
    return "" if commit == "unknown" else f", commit `{commit[:7]}`"


def lifecycle_section(record: Mapping[str, Any], docs: Path, usd_per_gb_month: float) -> str:
    """OPTIMIZE, VACUUM and retention over a table's life, from a `lakelab lifecycle` record."""
    from harness.lifecycle_report import drift, plot_files

    payload = record["payload"]
    per_batch, optimize, vacuum = payload["per_batch"], payload["optimize"], payload["vacuum"]
    first, last = per_batch[0]["layer_totals"]["silver"], per_batch[-1]["layer_totals"]["silver"]
    optimized = optimize["layer_totals"]["silver"]
    image = plot_files(per_batch, optimize, docs / "img" / "cost-lifecycle-files.png")
    before, after = vacuum["disk_before"], vacuum["disk_after"]
    held = before["bytes"] - after["bytes"]
    merges = drift(per_batch, "silver")
    reads = drift(per_batch, "reads")
    readable = sum(1 for t in vacuum["time_travel_after"] if t["readable"])
    lines = [
        "## A table's life: CDC batches, OPTIMIZE and VACUUM",
        "",
        f"`lakelab lifecycle` (record `{record['record_id'][:8]}`, {record['created_at'][:10]}"
        f"{commit_text(record)}): {payload['records']:,} records, "
        f"the initial load and {payload['batches']} CDC batches merged one after another on "
        f"`{payload['spark_master']}`; [docs/loadtest.md](loadtest.md#lakelab-lifecycle) says what it does.",
        "",
        f"![files]({image.relative_to(docs)})",
        "",
        f"- **Files.** Silver's current versions went from {first['files']:,} files "
        f"({fmt_bytes(first['bytes'])}) after the initial load to {last['files']:,} "
        f"({fmt_bytes(last['bytes'])}) after the last batch; OPTIMIZE took {optimize['seconds']:.1f} s "
        f"and left {optimized['files']:,} ({fmt_bytes(optimized['bytes'])}).",
    ]
    if merges and reads:
        lines.append(
            f"- **Time.** Silver's MERGEs took {merges[0]:.1f} s for the first CDC batch and "
            f"{merges[1]:.1f} s for the last; a round of the six reads {reads[0]:.0f} ms and "
            f"{reads[1]:.0f} ms. After OPTIMIZE, the reads: "
            f"{optimize['ratios']['all queries (per round)']['text']}."
        )
    lines += [
        f"- **Retention.** Before VACUUM the Silver and Gold folders held {before['files']:,} data "
        f"files ({fmt_bytes(before['bytes'])}); VACUUM with a retention of "
        f"{vacuum['retain_hours']:g} h left {after['files']:,} ({fmt_bytes(after['bytes'])}). The "
        f"{fmt_bytes(held)} it deleted are what keeping every version of this life costs, "
        f"{fmt_usd(held / 1e9 * usd_per_gb_month)} a month at the storage price above, and what time "
        f"travel needs: {readable} of {len(vacuum['time_travel_after'])} time-travel reads could still "
        "run after it.",
        "- **A schedule.** These figures are one cycle on a laptop, not weeks of a schedule: OPTIMIZE "
        "pays when reads outnumber batches; a retention is the time travel you want to keep, priced "
        "by the bytes above per cycle.",
        "",
    ]
    return "\n".join(lines)


def workload_note(sweeps: Sequence[Sweep]) -> str:
    """Which workloads the committed records measured, and what that means for the reader."""
    workloads = sorted({str(sweep.summary["payload"]["workload"]) for sweep in sweeps})
    listed = ", ".join(f"`{name}`" for name in workloads)
    if "pipeline" in workloads:
        return f"The sweeps below ran the {listed} workload(s).\n"
    return (
        f"The sweeps below ran the {listed} workload only: a generated fact table read, aggregated, "
        "joined to a dimension and written to Delta. They show how each setting behaves on a small "
        "Spark job on this machine, not the pipeline's own figures: no committed sweep ran the pipeline "
        "yet. To add one, run `lakelab demo`, copy that sweep's records from `reports/results/` into "
        "`docs/results/` "
        f"and run `{REBUILD}`.\n"
    )


def render_guides(
    results_dir: str | Path,
    docs_dir: str | Path,
    usd_per_core_hour: float | None = None,
    usd_per_gb_month: float | None = None,
) -> list[Path]:
    """Write both guides and their plots from every sweep in `results_dir`; return the guides."""
    every_sweep = load_sweeps(results_dir)
    # The guides are about the pipeline: a smoke workload's sweep (a small Spark job reading
    # kilobytes) is not evidence for tuning it, whatever its ratios say.
    sweeps = [s for s in every_sweep if s.summary["payload"]["workload"] == "pipeline"] or every_sweep
    left_out = [s for s in every_sweep if s not in sweeps]
    docs = Path(docs_dir)
    docs.mkdir(parents=True, exist_ok=True)
    costs = [cost_from(sweep, usd_per_core_hour, usd_per_gb_month) for sweep in sweeps]
    performance = [PERFORMANCE_INTRO.format(rebuild=REBUILD)]
    cost_parts = [COST_INTRO.format(rebuild=REBUILD, assumptions=assumptions_text(costs[-1]))]
    coverage = workload_note(sweeps) + "".join(
        f"\nSweep `{s.sweep_id}` (the `{s.summary['payload']['workload']}` smoke workload) is in the "
        "records but not used here: it measures a small Spark job, not the pipeline.\n"
        for s in left_out
    )
    performance.append(coverage)
    cost_parts.append(coverage)
    prices = load_prices()
    for number, (sweep, cost) in enumerate(zip(sweeps, costs, strict=True), start=1):
        performance.append(_performance_section(number, sweep, cost, docs))
        cost_parts.append(_cost_section(number, sweep, cost, docs, prices))
    cost_parts.append(monthly_section(sweeps[-1], costs[-1], prices))
    lifecycles = read_records(results_dir, RecordKind.LIFECYCLE)
    if lifecycles:
        cost_parts.append(lifecycle_section(lifecycles[-1], docs, costs[-1].usd_per_gb_month))
    written = []
    for name, parts in ((PERFORMANCE_GUIDE, performance), (COST_GUIDE, cost_parts)):
        path = docs / name
        text = "\n".join(parts).rstrip("\n") + "\n"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    # The guides' own plots that no guide links any more (a sweep left out, a plot not drawn).
    linked = {p.read_text(encoding="utf-8") for p in written}
    for image in sorted((docs / "img").glob("*.png")):
        owned = image.name.startswith(("tuning-", "cost-"))
        if owned and not any(f"(img/{image.name})" in text for text in linked):
            image.unlink()
    return written
