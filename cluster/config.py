"""The `[cluster]` section of lakelab.toml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lakelab.model import StrictModel


class ClusterConfig(StrictModel):
    """Where the cluster lab keeps its state and how it starts."""

    mode: Literal["auto", "compose", "native"] = "auto"
    state_dir: str = ".state/cluster"
    workers: int = Field(default=2, ge=1)
    worker_cores: int = Field(default=1, ge=1)
    worker_memory: str = "2g"
