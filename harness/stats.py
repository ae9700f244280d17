"""What a handful of repeats establishes: a ratio of medians with a bootstrap interval.

Pure functions over lists of seconds; no records, no Spark. `harness.compare` uses them for
NEW against OLD; the same call fits a point against its sweep's baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats  # type: ignore[import-untyped]

FASTER = "faster"
SLOWER = "slower"
NOT_ESTABLISHED = "not established"

CONFIDENCE = 0.95
# Fewer repeats establish nothing: the bootstrap distribution of a median of 2 takes three
# values, and its "95%" interval is then only the two runs' range.
MIN_RUNS = 3
RESAMPLES = 9999
# A fixed seed: the same records give the same interval, so a report or a CI gate can be rebuilt.
SEED = 20261128


@dataclass(frozen=True)
class RatioEstimate:
    """median(seconds) / median(baseline_seconds), its interval and what it establishes.

    `low` and `high` are None when there is no interval (fewer than two repeats on a side, or
    a baseline median of zero); the verdict is then `NOT_ESTABLISHED`.
    """

    ratio: float | None
    low: float | None
    high: float | None
    runs: int
    baseline_runs: int
    verdict: str
    confidence: float = CONFIDENCE

    def slower_beyond(self, threshold: float) -> bool:
        """True when the whole interval lies above `1 + threshold` (0.05: more than 5% slower)."""
        return self.low is not None and self.low > 1.0 + threshold


def _ratio_of_medians(seconds: Any, baseline_seconds: Any, axis: int = -1) -> Any:
    return np.median(seconds, axis=axis) / np.median(baseline_seconds, axis=axis)


def ratio_of_medians(
    seconds: Sequence[float],
    baseline_seconds: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> RatioEstimate:
    """The ratio of a point's median time to the baseline's, with a bootstrap interval.

    Each side is resampled on its own (the runs are not paired). The interval is the
    percentile one: with 3 to 5 repeats BCa's jackknife has too few values to estimate its
    acceleration, and the bootstrap distribution of a median of 3 only takes the sample's own
    values; the percentile interval for n=3 is then [min/max, max/min], the "ranges do not
    overlap" rule the reports already use, and it narrows as repeats are added.

    Args:
        seconds: the point's repeat timings.
        baseline_seconds: the baseline's repeat timings.
        confidence: the interval's confidence level.
        resamples: bootstrap resamples.
        seed: seed of the resampling, so the same timings give the same interval.

    Returns:
        The estimate; `FASTER` when the whole interval is below 1, `SLOWER` when above 1,
        `NOT_ESTABLISHED` otherwise, and always when a side has fewer than `MIN_RUNS` repeats.

    Raises:
        ValueError: a timing is negative or not finite.
    """
    for value in (*seconds, *baseline_seconds):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"a timing of {value!r} seconds is not a duration")
    runs, baseline_runs = len(seconds), len(baseline_seconds)
    if runs == 0 or baseline_runs == 0:
        return RatioEstimate(None, None, None, runs, baseline_runs, NOT_ESTABLISHED, confidence)
    point = [float(value) for value in seconds]
    baseline = [float(value) for value in baseline_seconds]
    if min(baseline) <= 0:
        # A resampled baseline median could be zero: the ratio is then not a number.
        return RatioEstimate(None, None, None, runs, baseline_runs, NOT_ESTABLISHED, confidence)
    ratio = float(_ratio_of_medians(point, baseline))
    if runs < MIN_RUNS or baseline_runs < MIN_RUNS:
        return RatioEstimate(ratio, None, None, runs, baseline_runs, NOT_ESTABLISHED, confidence)
    result = stats.bootstrap(
        (point, baseline),
        _ratio_of_medians,
        n_resamples=resamples,
        vectorized=True,
        paired=False,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low = float(result.confidence_interval.low)
    high = float(result.confidence_interval.high)
    if high < 1.0:
        verdict = FASTER
    elif low > 1.0:
        verdict = SLOWER
    else:
        verdict = NOT_ESTABLISHED
    return RatioEstimate(ratio, low, high, runs, baseline_runs, verdict, confidence)


def _runs(estimate: RatioEstimate) -> str:
    if estimate.runs == estimate.baseline_runs:
        return f"n={estimate.runs}"
    return f"n={estimate.runs} vs {estimate.baseline_runs}"


def format_estimate(estimate: RatioEstimate) -> str:
    """One line: `1.82× faster (95% CI 1.61–2.03, n=5)`, `not established (95% CI 0.90–1.20, n=3)`.

    A faster point is given as its speed-up (baseline time over its time) and the interval of
    that, so "2× faster" means half the time; a slower point or an open question as the ratio
    of times.
    """
    level = f"{estimate.confidence * 100:g}% CI"
    if estimate.low is None or estimate.high is None:
        if estimate.ratio is None:
            return f"not established (no ratio, {_runs(estimate)})"
        few = f"; needs {MIN_RUNS}+ repeats" if min(estimate.runs, estimate.baseline_runs) < MIN_RUNS else ""
        return f"not established ({estimate.ratio:.2f}× the time, {_runs(estimate)}{few})"
    if estimate.verdict == FASTER and estimate.ratio is not None:
        speedup, low, high = 1 / estimate.ratio, 1 / estimate.high, 1 / estimate.low
        return f"{speedup:.2f}× faster ({level} {low:.2f}–{high:.2f}, {_runs(estimate)})"
    if estimate.verdict == SLOWER:
        return (
            f"{estimate.ratio:.2f}× slower ({level} {estimate.low:.2f}–{estimate.high:.2f}, "
            f"{_runs(estimate)})"
        )
    return f"not established ({level} {estimate.low:.2f}–{estimate.high:.2f}, {_runs(estimate)})"
