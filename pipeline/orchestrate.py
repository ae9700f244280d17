"""Runs the layers in order (filled in layer by layer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.result import PipelineRunResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakelab.config import LakelabConfig


def execute(
    spark: SparkSession,
    config: LakelabConfig,
    landing: str,
    warehouse: str,
    layers: tuple[str, ...],
    progress: Callable[[str], None],
) -> PipelineRunResult:
    """Run the selected layers; see `pipeline.run.run_pipeline`."""
    raise NotImplementedError("the pipeline layers land in the next commits")
