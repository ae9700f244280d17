"""Which points a sweep runs: the whole grid, a seeded random sample of it, or a ladder of
successive halving.

Everything here is pure (no Spark, no files), so the selection rules are tested on values:

- `random`: the baseline and `sample - 1` other grid points, picked by a seeded hash order.
- `halving`: the first rung runs the points (the grid, or a sample of it) at the smallest
  scale; the best third of a rung by median total seconds (at least one point) is promoted to
  the next scale, and the baseline is kept in every rung so that ratios stay meaningful. With a
  budget in run-seconds, the ladder stops promoting when the next rung's estimated cost, the
  promoted points' measured seconds scaled by the ratio of the scales, exceeds what is left.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lakelab.errors import UserError

# The share of a rung promoted to the next: one in PROMOTE_EVERY (the best third).
PROMOTE_EVERY = 3
STOP_TOP_SCALE = "top_scale"
STOP_BUDGET = "budget"
STOP_NO_POINT = "no_point_finished"


def _draw(seed: int, settings: Mapping[str, str]) -> str:
    # A hash of seed and settings rather than `random.Random(seed).sample`: Python promises a
    # stable stream only for `random()`, not for `sample`, and this order is also independent of
    # the axis order, and nested (a sample of N is a sample of N + 1 minus one point).
    text = json.dumps([seed, sorted(settings.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sample_points(
    points: Sequence[Mapping[str, str]], baseline: int, size: int, seed: int, option: str = "sample"
) -> list[int]:
    """Indices, in grid order, of `size` points: the baseline and `size - 1` others, seeded.

    Raises:
        UserError: `size` is below 1 or more than the grid has points.
    """
    if not 0 <= baseline < len(points):
        raise ValueError(f"baseline index {baseline} is not one of {len(points)} points")
    if size < 1:
        raise UserError(f"{option}: {size} is not a positive number of points")
    if size > len(points):
        raise UserError(f"{option}: {size} is more than the grid's {len(points)} points")
    others = sorted((i for i in range(len(points)) if i != baseline), key=lambda i: _draw(seed, points[i]))
    return sorted([baseline, *others[: size - 1]])


def promoted_count(points: int) -> int:
    """How many of a rung's `points` the best third is: `points // 3`, at least 1."""
    if points < 1:
        raise ValueError("a rung has at least one point")
    return max(1, points // PROMOTE_EVERY)


def rank(medians: Mapping[int, float | None]) -> list[int]:
    """Point indices fastest first by median seconds; ties in grid order; points without an ok run last."""
    return sorted(medians, key=lambda point: (medians[point] is None, medians[point] or 0.0, point))


@dataclass(frozen=True)
class Promotion:
    """Why a point goes on to the next rung."""

    point: int
    rank: int  # 1 = fastest of the rung
    reason: str


def promote(medians: Mapping[int, float | None], baseline: int) -> list[Promotion]:
    """The points the next rung runs, in grid order: the best third by median, plus the baseline.

    A point with no ok run (median None) is never among the best; the baseline is kept even
    then, since every other point's ratio is to it. With no ok run at all, nothing is promoted.
    """
    if baseline not in medians:
        raise ValueError(f"the baseline (point {baseline}) did not run in this rung")
    ranked = rank(medians)
    places = {point: place + 1 for place, point in enumerate(ranked)}
    finished = [point for point in ranked if medians[point] is not None]
    if not finished:
        return []
    best = finished[: promoted_count(len(medians))]
    chosen = [
        Promotion(point, places[point], f"best third: rank {places[point]} of {len(medians)}")
        for point in best
    ]
    if baseline not in best:
        chosen.append(
            Promotion(
                baseline,
                places[baseline],
                f"baseline, kept for ratios: rank {places[baseline]} of {len(medians)}",
            )
        )
    return sorted(chosen, key=lambda promotion: promotion.point)


def next_rung_estimate(
    run_seconds: Mapping[int, float], promoted: Sequence[int], scale: int, next_scale: int
) -> float:
    """Seconds the next rung is expected to take: the promoted points' measured run-seconds in
    this rung (every repeat, failed ones by their elapsed time), times `next_scale / scale`.

    Linear in records: where fixed costs dominate (small scales), this overestimates, so the
    ladder stops early rather than overrunning its budget.
    """
    if scale <= 0 or next_scale <= 0:
        raise ValueError("scales are positive record counts")
    return sum(run_seconds[point] for point in promoted) * next_scale / scale


def budget_left(budget_s: float | None, spent_s: float) -> float:
    """Run-seconds still to spend (infinite without a budget; negative once overspent)."""
    return math.inf if budget_s is None else budget_s - spent_s


def within_budget(estimate_s: float, budget_s: float | None, spent_s: float) -> bool:
    """True when a rung estimated at `estimate_s` fits in what is left of `budget_s`."""
    return estimate_s <= budget_left(budget_s, spent_s)


def ladder_upper_bound(points: int, rungs: int) -> list[int]:
    """Points per rung when every rung is run and the baseline is never among the best: the
    most runs a ladder can plan (per repeat)."""
    sizes = [points]
    for _rung in range(rungs - 1):
        kept = promoted_count(sizes[-1])
        sizes.append(min(sizes[-1], kept + 1))
    return sizes


def count_text(records: int) -> str:
    """A record count as people write it: `100k`, `1M`, `2.5M`; others with thousands separators."""
    for suffix, size in (("M", 1_000_000), ("k", 1_000)):
        if records >= size and records % (size // 10) == 0:
            return f"{records / size:g}{suffix}"
    return f"{records:,}"
