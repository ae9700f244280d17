"""The `[sweep]` section of lakelab.toml."""

from __future__ import annotations

from pydantic import Field

from lakelab.model import StrictModel


class SweepConfig(StrictModel):
    """A grid of Spark settings, run at each scale, `repeats` times each."""

    scales: list[int] = Field(default_factory=lambda: [100_000])
    repeats: int = Field(default=2, ge=1)
    grid: dict[str, list[str]] = Field(
        default_factory=lambda: {"spark.sql.shuffle.partitions": ["2", "8", "32"]}
    )
