"""The `[datagen]` section of lakelab.toml."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from lakelab.model import StrictModel


class DatagenConfig(StrictModel):
    """What to generate: `records` is the total across all source tables."""

    records: int = Field(default=100_000, gt=0)
    seed: int = 42
    dirty_rate: float = Field(default=0.01, ge=0.0, le=0.5)
    batches: int = Field(default=0, ge=0, le=99)
    start_date: dt.date = dt.date(2023, 1, 1)
    end_date: dt.date = dt.date(2025, 12, 31)

    @model_validator(mode="after")
    def _dates_in_order(self) -> DatagenConfig:
        if self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self
