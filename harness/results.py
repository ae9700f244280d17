"""Reading sweep records back: version checks, migration, and the figures reports show.

Everything here is pure over record dicts, so reports can be tested on hand-built records.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.stats import RatioEstimate, ratio_of_medians
from harness.sweep import HARNESS_SCHEMA, RUN_KIND, SUMMARY_KIND
from lakelab.errors import UserError
from lakelab.records import read_records


def migrate_payload(payload: dict[str, Any], source: str) -> dict[str, Any]:
    """Bring a payload to `HARNESS_SCHEMA`; a newer or unknown schema is a UserError.

    Only schema 1 exists so far; a future schema 2 adds its step here, so records written by
    older code keep rendering.
    """
    schema = payload.get("harness_schema")
    if schema == HARNESS_SCHEMA:
        return payload
    raise UserError(
        f"{source}: harness_schema {schema!r} is not {HARNESS_SCHEMA}; this lakelab cannot read it"
    )


@dataclass(frozen=True)
class Sweep:
    """One sweep's summary and its run records, in run order."""

    summary: dict[str, Any]
    runs: list[dict[str, Any]]

    @property
    def sweep_id(self) -> str:
        """The sweep's id."""
        return str(self.summary["payload"]["sweep_id"])


def load_sweeps(results_dir: str | Path) -> list[Sweep]:
    """Every complete sweep (one with a summary) under `results_dir`, oldest first."""
    directory = Path(results_dir)
    if not directory.is_dir():
        raise UserError(f"{directory}: no results folder; run `lakelab sweep` or `lakelab demo` first")
    try:
        summaries = read_records(directory, SUMMARY_KIND)
        runs = read_records(directory, RUN_KIND)
    except ValueError as error:  # an api_version this lakelab does not know
        raise UserError(str(error)) from None
    runs_by_id = {}
    for run in runs:
        run["payload"] = migrate_payload(run["payload"], f"{directory}/{run['record_id']}")
        runs_by_id[run["record_id"]] = run
    sweeps = []
    for summary in summaries:
        summary["payload"] = migrate_payload(summary["payload"], f"{directory}/{summary['record_id']}")
        ids = summary["payload"]["run_record_ids"]
        absent = [record_id for record_id in ids if record_id not in runs_by_id]
        if absent:
            raise UserError(
                f"{directory}: sweep {summary['payload']['sweep_id']} misses run record {absent[0]}"
            )
        chosen = [runs_by_id[record_id] for record_id in ids]
        sweeps.append(Sweep(summary, sorted(chosen, key=lambda r: int(r["payload"]["run_index"]))))
    if not sweeps:
        raise UserError(f"{directory}: no sweep records; run `lakelab sweep` or `lakelab demo` first")
    return sweeps


def select_sweep(sweeps: Sequence[Sweep], sweep_id: str | None) -> Sweep:
    """The sweep called `sweep_id`, or the newest."""
    if sweep_id is None:
        return sweeps[-1]
    for sweep in sweeps:
        if sweep.sweep_id == sweep_id:
            return sweep
    known = ", ".join(s.sweep_id for s in sweeps)
    raise UserError(f"no sweep '{sweep_id}' in the results (found: {known})")


@dataclass(frozen=True)
class CostAssumptions:
    """Prices and cores the cost view assumes."""

    usd_per_core_hour: float
    usd_per_gb_month: float
    cores: int = 0  # 0: what the run record says Spark used


@dataclass(frozen=True)
class PointStats:
    """The repeats of one point at one scale, summarized."""

    scale: int
    point: str
    settings: dict[str, str]
    is_baseline: bool
    runs: int
    failed: int
    median_seconds: float
    min_seconds: float
    max_seconds: float
    median_records_per_second: float
    stage_median_seconds: dict[str, float]
    median_cpu_seconds: float
    median_gc_seconds: float
    median_run_seconds: float
    median_shuffle_bytes: float
    median_spill_bytes: float
    median_peak_rss_bytes: float
    median_output_bytes: float
    median_output_files: float
    cores: int
    # The machine's 1-minute load average over the runs (mean of before and after, median).
    median_load_average: float | None = None
    ratio_to_baseline: float | None = None
    # The ok runs' seconds, and the point against its scale's baseline with a 95% interval
    # (None for the baseline itself): a difference is stated only when that interval excludes 1.
    seconds: tuple[float, ...] = ()
    estimate: RatioEstimate | None = None

    @property
    def core_seconds(self) -> float:
        """Cores held for the median run's wall time: what a cloud bill counts."""
        return self.median_seconds * self.cores

    def usd_per_run(self, cost: CostAssumptions) -> float:
        """Compute for one run plus one month of storing its output."""
        compute = self.core_seconds / 3600 * cost.usd_per_core_hour
        storage = self.median_output_bytes / 1e9 * cost.usd_per_gb_month
        return compute + storage

    def usd_per_million_records(self, cost: CostAssumptions) -> float:
        """`usd_per_run` over the run's records, per million."""
        return self.usd_per_run(cost) / (self.scale / 1e6)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _median_load(runs: Sequence[Mapping[str, Any]]) -> float | None:
    loads = [
        (r["load_average"]["before"] + r["load_average"]["after"]) / 2 for r in runs if "load_average" in r
    ]
    return _median(loads) if loads else None


def ran_points(payload: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(scale, point label) of every point a sweep ran at each scale, in grid order: all points
    at all scales, or for a halving ladder each rung's points at its scale."""
    ladder = payload.get("ladder")
    if ladder:
        return [
            (int(rung["scale"]), str(entry["point"])) for rung in ladder["rungs"] for entry in rung["points"]
        ]
    return [(int(scale), str(point["point"])) for scale in payload["scales"] for point in payload["points"]]


def point_stats(sweep: Sweep, cost: CostAssumptions) -> list[PointStats]:
    """Median, min and max over repeats per (scale, point), in grid order, with baseline ratios."""
    payload = sweep.summary["payload"]
    baseline = payload["baseline"]["point"]
    groups: dict[tuple[int, str], list[Mapping[str, Any]]] = {key: [] for key in ran_points(payload)}
    for run in sweep.runs:
        run_payload = run["payload"]
        groups[(int(run_payload["scale"]), run_payload["point"])].append(run_payload)
    settings = {point["point"]: point["settings"] for point in payload["points"]}
    stats = []
    for (scale, point), runs in groups.items():
        ok = [r for r in runs if r["status"] == "ok"]
        seconds = [float(r["total_seconds"]) for r in ok]
        layers: dict[str, list[float]] = {}
        for ok_run in ok:
            for layer, value in ok_run["layer_seconds"].items():
                layers.setdefault(layer, []).append(float(value))
        cores = cost.cores or max((int(r["spark"]["default_parallelism"]) for r in ok), default=0)
        stats.append(
            PointStats(
                scale=scale,
                point=point,
                settings=dict(settings[point]),
                is_baseline=point == baseline,
                runs=len(runs),
                failed=len(runs) - len(ok),
                median_seconds=_median(seconds),
                min_seconds=min(seconds, default=0.0),
                max_seconds=max(seconds, default=0.0),
                median_records_per_second=_median([float(r["records_per_second"]) for r in ok]),
                stage_median_seconds={layer: _median(values) for layer, values in layers.items()},
                median_cpu_seconds=_median([r["task_metrics"]["executor_cpu_time_ms"] / 1000 for r in ok]),
                median_gc_seconds=_median([r["task_metrics"]["jvm_gc_time_ms"] / 1000 for r in ok]),
                median_run_seconds=_median(
                    [r["task_metrics"].get("executor_run_time_ms", 0) / 1000 for r in ok]
                ),
                median_shuffle_bytes=_median([float(r["task_metrics"]["shuffle_write_bytes"]) for r in ok]),
                median_spill_bytes=_median(
                    [
                        float(
                            r["task_metrics"]["memory_bytes_spilled"]
                            + r["task_metrics"]["disk_bytes_spilled"]
                        )
                        for r in ok
                    ]
                ),
                median_peak_rss_bytes=_median([float(r["memory"]["peak_driver_rss_bytes"]) for r in ok]),
                median_output_bytes=_median([float(r["output_bytes"]) for r in ok]),
                median_output_files=_median([float(r["output_files"]) for r in ok]),
                cores=cores,
                median_load_average=_median_load(ok),
                seconds=tuple(seconds),
            )
        )
    baselines = {s.scale: s for s in stats if s.is_baseline}
    result = []
    for s in stats:
        base = baselines.get(s.scale)
        ratio = (
            s.median_seconds / base.median_seconds
            if base is not None and base.median_seconds > 0 and s.failed < s.runs
            else None
        )
        estimate = (
            ratio_of_medians(s.seconds, base.seconds)
            if base is not None and not s.is_baseline and s.seconds and base.seconds
            else None
        )
        result.append(replace(s, ratio_to_baseline=ratio, estimate=estimate))
    return result
