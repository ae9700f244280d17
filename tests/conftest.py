"""One SparkSession per test process (each xdist worker): local[2], two shuffle partitions, UTC, UI off.

It is built by the project's own factory, so the suite runs with the same Delta and
jar settings as the CLI, and it is never stopped (stopping and restarting a JVM in
one process is slow and flaky).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from lakelab.config import parse_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TEST_SPARK_CONFIG = {
    "spark": {
        "master": "local[2]",
        "app_name": "lakelab-tests",
        "driver_memory": "2g",
        "ui_enabled": False,
        "log_level": "ERROR",
        "conf": {
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.databricks.delta.snapshotPartitions": "2",
            "spark.sql.adaptive.coalescePartitions.initialPartitionNum": "2",
            "spark.ui.showConsoleProgress": "false",
        },
    }
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The suite's SparkSession."""
    from lakelab.spark import get_session

    session = get_session(parse_config(TEST_SPARK_CONFIG, "tests/conftest.py"))
    yield session


@pytest.fixture
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lakelab.spark.get_session` fails the test: for errors that must come before Spark starts."""
    import lakelab.spark

    def no_session(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Spark started")

    monkeypatch.setattr(lakelab.spark, "get_session", no_session)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect the compose lab's module first.

    It is the longest single scope (the lab's build, a sweep and fault runs): with
    `--dist loadscope` the first scopes are handed out first, so one worker starts it at
    once while the other runs every other module meanwhile. The order within it is kept.
    """
    items.sort(key=lambda item: 0 if "compose" in item.path.parts[-2:-1] else 1)
