"""The `[sweep]` section of lakelab.toml."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lakelab.model import StrictModel

Layer = Literal["bronze", "silver", "gold"]
ALL_LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold")

# Grid keys are either Spark settings (`spark.*`) or fields of `[pipeline]` (`pipeline.*`),
# so one sweep can vary the engine and the physical design together.
SPARK_PREFIX = "spark."
PIPELINE_PREFIX = "pipeline."


class CostConfig(StrictModel):
    """Prices the cost view assumes; stated in every report next to the figures."""

    # Roughly an on-demand general-purpose cloud vCPU (memory included), per hour.
    usd_per_core_hour: float = Field(default=0.048, gt=0)
    # Roughly standard object storage, per GB and month.
    usd_per_gb_month: float = Field(default=0.023, ge=0)
    # Cores billed per run; 0 means the cores Spark used (from the record's master and machine).
    cores: int = Field(default=0, ge=0)


class SweepConfig(StrictModel):
    """A grid of settings, run at each scale, `repeats` times each.

    `grid` maps a setting to the values to try; the points are the cartesian product of the
    axes. The baseline point is the first value of every axis unless `baseline` names others.
    `strategy` says which of the points run (`harness.search`): all of them (`grid`), a
    seeded sample of `sample` points (`random`), or a successive-halving ladder over the
    scales, within `budget_s` run-seconds (`halving`).
    """

    scales: list[int] = Field(default_factory=lambda: [100_000])
    repeats: int = Field(default=2, ge=1)
    grid: dict[str, list[str]] = Field(
        default_factory=lambda: {"spark.sql.shuffle.partitions": ["2", "8", "32"]}
    )
    baseline: dict[str, str] = Field(default_factory=dict)
    # Unrecorded runs of the baseline point before the sweep, so JIT and class loading do not
    # land on whichever point happens to run first (with 0 that is always the baseline).
    warmup: int = Field(default=1, ge=0)
    # Seconds one run may take (a restart point's counts its JVM's start); a run over it is
    # stopped and recorded as failed, and the sweep goes on. Unset: no limit.
    time_limit_s: float | None = Field(default=None, gt=0)
    # Which pipeline layers each run executes. Runs start from an empty warehouse, or, when the
    # first layer is not Bronze, from a copy of the layers before it, built once per scale.
    layers: list[Layer] = Field(default_factory=lambda: list(ALL_LAYERS))
    # `pipeline` (the Bronze → Silver → Gold job) or `spark-aggregation` (a small Spark job).
    workload: Literal["pipeline", "spark-aggregation"] = "pipeline"
    # Keep each run's warehouse for inspection instead of deleting it after it was measured.
    keep_warehouses: bool = False
    cost: CostConfig = Field(default_factory=CostConfig)
    strategy: Literal["grid", "random", "halving"] = "grid"
    # Points to run, the baseline among them, picked by a hash seeded with `datagen.seed`:
    # required by `random`; for `halving`, the first rung's points (unset: the whole grid).
    sample: int | None = Field(default=None, ge=1, validate_default=True)
    # `halving` only: run-seconds (the recorded runs' total seconds) the ladder may spend;
    # unset: no budget, the ladder climbs to the largest scale.
    budget_s: float | None = Field(default=None, gt=0)

    @field_validator("scales")
    @classmethod
    def _scales_positive(cls, scales: list[int]) -> list[int]:
        if not scales:
            raise ValueError("needs at least one scale")
        bad = [scale for scale in scales if scale <= 0]
        if bad:
            raise ValueError(f"scale {bad[0]} is not a positive record count")
        if len(set(scales)) != len(scales):
            raise ValueError("scales repeat a value")
        return scales

    @field_validator("grid")
    @classmethod
    def _grid_well_formed(cls, grid: dict[str, list[str]]) -> dict[str, list[str]]:
        if not grid:
            raise ValueError("needs at least one setting")
        for key, values in grid.items():
            if not key.startswith((SPARK_PREFIX, PIPELINE_PREFIX)) or key in (SPARK_PREFIX, PIPELINE_PREFIX):
                raise ValueError(
                    f"setting '{key}' is neither a Spark setting (spark.*) nor a pipeline field (pipeline.*)"
                )
            if not values:
                raise ValueError(f"setting '{key}' has an empty list of values")
            if len(set(values)) != len(values):
                raise ValueError(f"setting '{key}' repeats a value")
        return grid

    @field_validator("sample")
    @classmethod
    def _sample_fits_the_grid(cls, sample: int | None, info: ValidationInfo) -> int | None:
        strategy, grid = info.data.get("strategy"), info.data.get("grid")
        if sample is None:
            if strategy == "random":
                raise ValueError("strategy 'random' needs a sample size (sweep.sample, --sample N)")
            return sample
        if strategy == "grid":
            raise ValueError("a sample is for strategy 'random' or 'halving', not 'grid'")
        if grid:
            points = math.prod(len(values) for values in grid.values())
            if sample > points:
                raise ValueError(f"{sample} is more than the grid's {points} points")
        return sample

    @field_validator("budget_s")
    @classmethod
    def _budget_is_for_halving(cls, budget_s: float | None, info: ValidationInfo) -> float | None:
        if budget_s is not None and info.data.get("strategy") != "halving":
            raise ValueError("a budget is for strategy 'halving'")
        return budget_s

    @field_validator("strategy")
    @classmethod
    def _halving_needs_a_ladder(cls, strategy: str, info: ValidationInfo) -> str:
        scales = info.data.get("scales")
        if strategy == "halving" and scales is not None and len(scales) < 2:
            raise ValueError("strategy 'halving' needs two or more scales, the rungs of its ladder")
        return strategy

    @model_validator(mode="after")
    def _baseline_on_the_grid(self) -> SweepConfig:
        for key, value in self.baseline.items():
            if key not in self.grid:
                raise ValueError(f"baseline setting '{key}' is not an axis of the grid")
            if value not in self.grid[key]:
                raise ValueError(f"baseline value '{value}' is not one of grid '{key}' values")
        return self

    def baseline_point(self) -> dict[str, str]:
        """The point every other point is compared with."""
        return {key: self.baseline.get(key, values[0]) for key, values in self.grid.items()}
