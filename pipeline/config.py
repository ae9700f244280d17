"""The `[pipeline]` section of lakelab.toml: every physical-design choice the harness sweeps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lakelab.model import StrictModel

Layer = Literal["bronze", "silver", "gold"]
ALL_LAYERS: list[Layer] = ["bronze", "silver", "gold"]


class PipelineConfig(StrictModel):
    """Which layers run and how their tables are laid out."""

    layers: list[Layer] = Field(default_factory=lambda: list(ALL_LAYERS))
    partition_facts_by_date: bool = True
    zorder: bool = True
    vacuum_retention_hours: int = Field(default=168, ge=0)
