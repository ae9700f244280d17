"""`lakelab compare OLD NEW`: what changed between two sweeps, and whether it is established.

OLD and NEW are each a results folder (its newest complete sweep, as `lakelab report` picks)
or a sweep id looked up in `--results`. Points are matched by their settings and scale; for
each, every stage both sweeps timed and the run's total get NEW/OLD, the ratio of median
seconds, with a bootstrap 95% interval (`harness.stats`). Everything comes from the records,
so a CI job can gate on a sweep against one kept from an earlier commit.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.results import Sweep, load_sweeps, ran_points
from harness.stats import CONFIDENCE, FASTER, SLOWER, RatioEstimate, format_estimate, ratio_of_medians
from lakelab.errors import UserError

if TYPE_CHECKING:
    from lakelab.config import LakelabConfig

TOTAL = "total"


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the sweep, and the folder and argument it came from."""

    argument: str
    results_dir: Path
    sweep: Sweep


@dataclass(frozen=True)
class PointTimings:
    """The successful repeats of one point at one scale: total and per-stage seconds."""

    scale: int
    point: str
    total: list[float]
    stages: dict[str, list[float]]


@dataclass(frozen=True)
class ComparisonRow:
    """NEW against OLD for one point at one scale, for one stage or the total."""

    scale: int
    point: str
    stage: str
    old_median: float | None
    new_median: float | None
    estimate: RatioEstimate

    @property
    def is_total(self) -> bool:
        """True for the run's total, the row the gate looks at."""
        return self.stage == TOTAL


def resolve_side(argument: str, results_dir: str | Path, role: str) -> Side:
    """The sweep `argument` names: a results folder's newest sweep, else a sweep id in `results_dir`.

    Raises:
        UserError: no such folder, no complete sweep in it, or no such sweep id; the message
            names `role` (OLD or NEW) and the argument.
    """
    path = Path(argument)
    if path.is_dir():
        try:
            sweeps = load_sweeps(path)
        except UserError as error:
            raise UserError(f"{role} {error}") from None
        return Side(argument, path, sweeps[-1])
    if path.exists():
        raise UserError(f"{role} {argument}: not a folder of result records")
    if len(path.parts) > 1 or argument.startswith((".", "~")):
        raise UserError(f"{role} {argument}: no such results folder")
    directory = Path(results_dir)
    if not directory.is_dir():
        raise UserError(
            f"{role} '{argument}': not a folder, and no results folder {directory} to find "
            "a sweep of that id in (--results)"
        )
    sweeps = load_sweeps(directory)
    found = [sweep for sweep in sweeps if sweep.sweep_id == argument]
    if not found:
        known = ", ".join(sweep.sweep_id for sweep in sweeps)
        raise UserError(
            f"{role} '{argument}': not a folder, and no sweep of that id in {directory} (found: {known})"
        )
    return Side(argument, directory, found[0])


def _settings_key(scale: int, settings: Any) -> tuple[int, tuple[tuple[str, str], ...]]:
    # By settings, not by label: a label follows the axis order of its sweep's grid.
    return scale, tuple(sorted((str(key), str(value)) for key, value in dict(settings).items()))


def point_timings(sweep: Sweep) -> dict[tuple[int, tuple[tuple[str, str], ...]], PointTimings]:
    """Every point `sweep` ran at each scale (for a halving ladder, each rung's points at its
    scale only), in grid order, with its successful repeats' seconds."""
    payload = sweep.summary["payload"]
    settings = {str(point["point"]): point["settings"] for point in payload["points"]}
    timings: dict[tuple[int, tuple[tuple[str, str], ...]], PointTimings] = {}
    for scale, label in ran_points(payload):
        timings[_settings_key(scale, settings[label])] = PointTimings(scale, label, [], {})
    for run in sweep.runs:
        run_payload = run["payload"]
        if run_payload["status"] != "ok":
            continue
        entry = timings[_settings_key(int(run_payload["scale"]), run_payload["settings"])]
        entry.total.append(float(run_payload["total_seconds"]))
        for stage, seconds in run_payload["layer_seconds"].items():
            entry.stages.setdefault(stage, []).append(float(seconds))
    return timings


def _stage_order(sweep: Sweep, stages: set[str]) -> list[str]:
    """The sweep's layers in pipeline order (Bronze, Silver, Gold), then any other stage by name."""
    layers = [str(layer) for layer in sweep.summary["payload"].get("layers", [])]
    ordered = [layer for layer in layers if layer in stages]
    return ordered + sorted(stages - set(ordered))


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _row(scale: int, point: str, stage: str, old: list[float], new: list[float]) -> ComparisonRow:
    return ComparisonRow(scale, point, stage, _median(old), _median(new), ratio_of_medians(new, old))


def compare_sweeps(old: Sweep, new: Sweep) -> list[ComparisonRow]:
    """NEW/OLD per shared point and scale: a row per stage both timed, then the total.

    Raises:
        UserError: the sweeps share no point (the same settings at the same scale).
    """
    old_points = point_timings(old)
    new_points = point_timings(new)
    shared = [key for key in new_points if key in old_points]
    if not shared:
        raise UserError(
            f"sweeps {old.sweep_id} and {new.sweep_id} share no point (the same settings at the same "
            f"scale): OLD has {_some(old_points.values())}; NEW has {_some(new_points.values())}"
        )
    rows = []
    for key in shared:
        before, after = old_points[key], new_points[key]
        for stage in _stage_order(new, set(before.stages) & set(after.stages)):
            rows.append(_row(after.scale, after.point, stage, before.stages[stage], after.stages[stage]))
        rows.append(_row(after.scale, after.point, TOTAL, before.total, after.total))
    return rows


def _some(points: Any) -> str:
    # Labels hold commas themselves, so each is quoted and two are enough to see the mismatch.
    names = [f"`{p.point}` at {p.scale:,}" for p in points]
    return ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")


def regressions(rows: Sequence[ComparisonRow], threshold: float) -> list[ComparisonRow]:
    """Totals whose whole interval lies above `1 + threshold`: points NEW made slower, established."""
    return [row for row in rows if row.is_total and row.estimate.slower_beyond(threshold)]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _describe(side: Side) -> str:
    summary = side.sweep.summary
    commit = str(summary.get("provenance", {}).get("git_commit", "unknown"))
    return (
        f"{side.sweep.sweep_id} in {side.results_dir} "
        f"(code {commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''}, "
        f"{summary.get('created_at', '?')})"
    )


def differences(old: Sweep, new: Sweep) -> list[str]:
    """What differs between the two sweeps besides the code: each makes the ratios say less."""
    notes = []
    old_payload, new_payload = old.summary["payload"], new.summary["payload"]
    for field in ("workload", "layers"):
        if old_payload.get(field) != new_payload.get(field):
            notes.append(f"{field} {old_payload.get(field)!r} vs {new_payload.get(field)!r}")
    old_master = old_payload.get("spark", {}).get("master")
    new_master = new_payload.get("spark", {}).get("master")
    if old_master != new_master:
        notes.append(f"Spark master {old_master} vs {new_master}")
    old_machine = old.summary.get("provenance", {}).get("machine", {})
    new_machine = new.summary.get("provenance", {}).get("machine", {})
    for field, name in (("hostname", "machine"), ("cpu_count", "CPUs")):
        if old_machine.get(field) != new_machine.get(field):
            notes.append(f"{name} {old_machine.get(field)} vs {new_machine.get(field)}")
    return notes


def render_table(rows: Sequence[ComparisonRow]) -> str:
    """The rows as an aligned text table: scale, point, stage, median seconds, NEW vs OLD."""
    header = ("scale", "point", "stage", "OLD s", "NEW s", "NEW vs OLD")
    cells = [
        (
            f"{row.scale:,}",
            row.point,
            row.stage,
            _seconds(row.old_median),
            _seconds(row.new_median),
            format_estimate(row.estimate),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *cells]) for column in range(len(header))]
    right = {0, 3, 4}
    lines = []
    for line in [header, *cells]:
        padded = [
            value.rjust(width) if column in right else value.ljust(width)
            for column, (value, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def run_compare(old: Side, new: Side, threshold: float) -> tuple[str, int]:
    """The comparison as text, and the exit code: 1 when a point's total is established slower."""
    rows = compare_sweeps(old.sweep, new.sweep)
    lines = [f"OLD {_describe(old)}", f"NEW {_describe(new)}"]
    notes = differences(old.sweep, new.sweep)
    if notes:
        lines.append(f"note: the sweeps differ in more than code: {'; '.join(notes)}")
    lines += ["", render_table(rows), ""]
    totals = [row for row in rows if row.is_total]
    faster = sum(1 for row in totals if row.estimate.verdict == FASTER)
    slower = sum(1 for row in totals if row.estimate.verdict == SLOWER)
    lines.append(
        f"{len(totals)} point(s) compared on their total: {faster} faster, {slower} slower, "
        f"{len(totals) - faster - slower} not established ({CONFIDENCE:.0%} intervals)"
    )
    limit = f"more than {threshold * 100:g}% slower"
    gated = regressions(rows, threshold)
    if gated:
        named = "; ".join(f"{row.point} at {row.scale:,}: {format_estimate(row.estimate)}" for row in gated)
        lines.append(f"REGRESSION: {len(gated)} point(s) {limit}: {named}")
        return "\n".join(lines), 1
    lines.append(f"no point is established {limit}")
    return "\n".join(lines), 0


def run_compare_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab compare OLD NEW`: print the table; 1 when NEW is established slower, else 0."""
    threshold = float(args.threshold)
    if not math.isfinite(threshold) or threshold < 0:
        raise UserError(f"--threshold: {args.threshold} is not a fraction of 0 or more (0.05 = 5%)")
    results = args.results or config.paths.results
    old = resolve_side(args.old, results, "OLD")
    new = resolve_side(args.new, results, "NEW")
    text, code = run_compare(old, new, threshold)
    print(text, flush=True)
    return code
