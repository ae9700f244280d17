"""Fixtures for the pipeline tests: the hand-built landing, run batch by batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pipeline_landing as pl
import pytest
from pipeline_helpers import IncrementalRuns, pipeline_config, table_snapshot

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def incremental_runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> IncrementalRuns:
    """Run all layers after batch 0, then again after batch 1 lands."""
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("incremental")
    landing = root / "landing"
    warehouse = str(root / "warehouse")
    config = pipeline_config()
    pl.write_batch(landing, 0)
    first = run_pipeline(spark, config, str(landing), warehouse)
    pl.write_batch(landing, 1)
    second = run_pipeline(spark, config, str(landing), warehouse)
    return IncrementalRuns(landing, warehouse, first, second, table_snapshot(spark, warehouse))
