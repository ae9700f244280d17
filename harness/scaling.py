"""How a run's time grows with the data: power-law fits over a sweep's scales (pure).

Each stage's seconds are fitted as `seconds = c * records ** b` by least squares on the logs
of every successful run of one point (the baseline), repeats included. `b` is the stage's
growth exponent: 1 is linear, below 1 means fixed costs still weigh (they do at small scales),
above 1 means the stage gets slower per record as the data grows. Its 95 % interval is the
t-interval of the regression slope, so it needs at least three runs over two scales or more.

Each scale with two or more smaller scales below it is also predicted from those alone, the
way a user would extrapolate, and the prediction is shown beside the measured median.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

STAGES = ("bronze", "silver", "gold", "run")
"""What is fitted: each layer's wall seconds (`layer_seconds`) and the whole run (`total_seconds`)."""

CONFIDENCE = 0.95

Points = dict[str, list[tuple[int, float]]]
"""Stage → (records, seconds) of every run that measured it."""


@dataclass(frozen=True)
class PowerFit:
    """`seconds = coefficient * records ** exponent`, fitted on `runs` runs at `scales`."""

    stage: str
    exponent: float
    coefficient: float
    interval: tuple[float, float] | None
    runs: int
    scales: tuple[int, ...]

    def predict(self, records: int) -> float:
        """The fitted seconds at `records`."""
        return float(self.coefficient * records**self.exponent)


@dataclass(frozen=True)
class Prediction:
    """One scale's median seconds predicted from the scales below it only."""

    stage: str
    scale: int
    from_scales: tuple[int, ...]
    predicted_s: float
    measured_s: float

    @property
    def ratio(self) -> float:
        """Measured over predicted: above 1, the stage grew faster than the smaller scales said."""
        return self.measured_s / self.predicted_s


def stage_points(payloads: Iterable[Mapping[str, Any]]) -> Points:
    """Each stage's (records, seconds) from run payloads that finished (`status` ok).

    Raises:
        ValueError: a finished run with no positive scale, or a non-positive time (a log of it
            would be meaningless).
    """
    points: Points = {stage: [] for stage in STAGES}
    for payload in payloads:
        if payload.get("status") != "ok":
            continue
        scale = int(payload.get("scale") or 0)
        if scale <= 0:
            raise ValueError(
                f"run {payload.get('run_index')}: scale {scale!r} is not a positive record count"
            )
        seconds = {**payload.get("layer_seconds", {}), "run": payload.get("total_seconds")}
        for stage in STAGES:
            value = seconds.get(stage)
            if value is None:
                continue  # a layer the run did not execute
            if float(value) <= 0:
                raise ValueError(f"run {payload.get('run_index')}: {stage} took {value} s")
            points[stage].append((scale, float(value)))
    return {stage: sorted(values) for stage, values in points.items() if values}


def baseline_points(runs: Iterable[Mapping[str, Any]]) -> Points:
    """`stage_points` of a sweep's baseline runs (records), the point growth is fitted on."""
    return stage_points(r["payload"] for r in runs if r["payload"].get("is_baseline"))


def _t_quantile(confidence: float, dof: int) -> float:
    from scipy.stats import t  # type: ignore[import-untyped]

    return float(t.ppf(0.5 + confidence / 2, dof))


def fit_power_law(
    stage: str, points: Sequence[tuple[int, float]], confidence: float = CONFIDENCE
) -> PowerFit | None:
    """Least squares of log(seconds) on log(records); None with fewer than two distinct scales."""
    scales = tuple(sorted({records for records, _ in points}))
    if len(scales) < 2:
        return None
    xs = [math.log(records) for records, _ in points]
    ys = [math.log(seconds) for _, seconds in points]
    n = len(xs)
    x_mean, y_mean = sum(xs) / n, sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    interval = None
    if n > 2:
        residual = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
        half = _t_quantile(confidence, n - 2) * math.sqrt(residual / (n - 2) / sxx)
        interval = (slope - half, slope + half)
    return PowerFit(stage, slope, math.exp(intercept), interval, n, scales)


def fits(points: Points) -> list[PowerFit]:
    """A fit per stage that has two or more scales, in `STAGES` order."""
    found = (fit_power_law(stage, points[stage]) for stage in STAGES if stage in points)
    return [fit for fit in found if fit is not None]


def predictions(points: Points) -> list[Prediction]:
    """Every scale with at least two smaller scales, predicted from those scales' runs alone."""
    made = []
    for stage in STAGES:
        runs = points.get(stage, [])
        for scale in sorted({records for records, _ in runs}):
            below = [(records, seconds) for records, seconds in runs if records < scale]
            fit = fit_power_law(stage, below)
            if fit is None:
                continue
            measured = median(seconds for records, seconds in runs if records == scale)
            made.append(Prediction(stage, scale, fit.scales, fit.predict(scale), measured))
    return made
