"""`lakelab loadtest` end to end: a real Spark Connect server, real Locust, a small Gold layer."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lakelab.config import LakelabConfig, parse_config
from lakelab.errors import ServiceUnavailableError, UserError
from loadtest.queries import DASHBOARD
from loadtest.run import parse_duration, run_loadtest_command

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REGIONS = ("AMER", "APAC", "EMEA")


def _gold(spark: SparkSession, warehouse: str) -> None:
    """The four Gold tables the dashboard reads, a year of them, in the contracts' schemas."""
    from pipeline.contracts import contract

    months = [dt.date(2024, m, 1) for m in range(1, 13)]
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=d) for d in range(0, 366, 3)]
    rows: dict[str, list[tuple[Any, ...]]] = {
        "daily_revenue": [
            (day, region, "SMB", 3, 2, Decimal("120.50")) for day in days for region in REGIONS
        ],
        "customer_360": [
            (i, f"customer {i}", "US", REGIONS[i % 3], "SMB", None, None, days[i], days[i + 20], 4,
             Decimal(100 * i), Decimal(25 * i), 0, Decimal(0), 1)
            for i in range(60)
        ],
        "cohort_retention": [(month, k, 10, 10 - k, (10 - k) / 10) for month in months for k in range(4)],
        "revenue_attribution": [
            ("linear", "lead_source", source, month, Decimal("99.99"), 1.5)
            for month in months
            for source in ("Web", "Partner")
        ],
    }  # fmt: skip
    for table, values in rows.items():
        gold = contract(f"gold.{table}")
        spark.createDataFrame(values, gold.ddl()).write.format("delta").save(gold.path(warehouse))


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> LakelabConfig:
    root = tmp_path_factory.mktemp("loadtest")
    # One core for the server: the suite's other worker needs the other.
    return parse_config(
        {"spark": {"master": "local[1]"}, "paths": {"reports": str(root / "reports")}}, "test"
    )


@pytest.fixture(scope="module")
def warehouse(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("loadtest-gold") / "warehouse")
    _gold(spark, path)
    return path


@pytest.fixture(scope="module")
def server(config: LakelabConfig) -> Iterator[str]:
    from loadtest.server import local_server

    with local_server(config, progress=lambda _line: None) as remote:
        yield remote


def _args(tmp_path: Path, **options: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "users": 2,
        "spawn_rate": 2.0,
        "run_time": "12s",
        "connect": None,
        "warehouse": None,
        "step": None,
        "p95_limit_ms": 5000.0,
        "failure_limit": 0.01,
        "seed": 7,
        "single_user_rounds": 0,
        "out": str(tmp_path / "out"),
        "results": str(tmp_path / "results"),
    }
    return argparse.Namespace(**{**values, **options})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1m5s", 65)]
)
def test_durations_as_locust_writes_them(text: str, seconds: int) -> None:
    assert parse_duration(text, "--run-time") == seconds


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": 0}, "--users 0: needs at least 1"),
        ({"spawn_rate": 0.0}, "--spawn-rate 0: needs more than 0"),
        ({"run_time": "soon"}, "--run-time 'soon': not a duration"),
        ({"run_time": "0s"}, "--run-time '0s': needs more than 0 seconds"),
        ({"step": "2,30s"}, "--step '2,30s': needs USERS,SECONDS,MAX_USERS"),
        ({"step": "4,30s,2"}, "--step: at most 2 users, fewer than one step of 4: no step"),
        ({"connect": "http://127.0.0.1:15002"}, "not a Spark Connect URL"),
        ({"single_user_rounds": -1}, "--single-user-rounds -1: give 0"),
    ],
)
def test_bad_options_are_one_line_errors_before_anything_starts(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError, match=message) as raised:
        run_loadtest_command(parse_config({}, "test"), _args(tmp_path, **options))
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_server_that_does_not_answer_exits_1_naming_it_before_any_user(tmp_path: Path) -> None:
    remote = f"sc://127.0.0.1:{_free_port()}"
    with pytest.raises(ServiceUnavailableError, match=f"Spark Connect at {remote} does not answer") as raised:
        run_loadtest_command(parse_config({}, "test"), _args(tmp_path, connect=remote))
    assert raised.value.exit_code == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "results").exists()


@pytest.mark.slow
def test_a_warehouse_without_gold_is_named_and_nothing_is_written(
    config: LakelabConfig, server: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    with pytest.raises(UserError, match=f"{empty}: gold.daily_revenue cannot be read .*PATH_NOT_FOUND"):
        run_loadtest_command(config, _args(tmp_path, connect=server, warehouse=str(empty)))
    assert not (tmp_path / "out").exists()
    # The Connect client it opened did not mark this process (nor its children) as one.
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ


@pytest.mark.slow
def test_users_query_gold_and_the_figures_reach_csvs_record_and_report(
    config: LakelabConfig, server: str, warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(tmp_path, connect=server, warehouse=warehouse, single_user_rounds=2)
    assert run_loadtest_command(config, args) == 0
    out = tmp_path / "out"
    with (out / "locust_stats.csv").open(newline="") as file:
        stats = {row["Name"]: row for row in csv.DictReader(file)}
    (record_file,) = (tmp_path / "results").glob("loadtest-*.json")
    record = json.loads(record_file.read_text())
    assert record["kind"] == "loadtest" and record["seed"] == 7
    payload = record["payload"]
    # Every query ran and none failed: the SQL is valid against the contracts' Gold.
    ran = {q["name"]: q for q in payload["queries"]}
    assert set(ran) <= set(DASHBOARD) | {"Aggregated"} and ran["Aggregated"]["failures"] == 0
    assert (
        ran["Aggregated"]["requests"] == sum(q["requests"] for n, q in ran.items() if n != "Aggregated") > 0
    )
    # The record holds Locust's own figures.
    assert ran["Aggregated"]["requests"] == int(stats["Aggregated"]["Request Count"])
    assert ran["Aggregated"]["p95_ms"] == float(stats["Aggregated"]["95%"])
    assert payload["remote"] == server and payload["users"] == 2 and payload["history_points"] > 5
    text = (out / "report.md").read_text()
    assert f"| Aggregated | {ran['Aggregated']['requests']:,} | 0 |" in text
    assert all(
        (out / "img" / f"{name}.png").stat().st_size > 10_000 for name in ("latency", "throughput", "queries")
    )
    printed = capsys.readouterr().out
    assert f"loadtest: {ran['Aggregated']['requests']:,} queries, 0 failed" in printed
    # The single-user baseline: every query twice on each engine, the same rows on both.
    one = payload["single_user"]
    assert one["rounds"] == 2 and set(one["queries"]) == set(DASHBOARD)
    assert all(
        q["n"] == 2 and q["spark_median_ms"] > 0 and q["duckdb_median_ms"] > 0
        for q in one["queries"].values()
    )
    assert one["all"]["n"] == 2 * len(DASHBOARD)
    # The share is of the unrounded medians; the record's medians are rounded to 0.1 ms.
    assert one["all"]["duckdb_over_spark"] == pytest.approx(
        one["all"]["duckdb_median_ms"] / one["all"]["spark_median_ms"], abs=0.002
    )
    cohort = one["queries"]["cohort_retention"]
    assert (
        f"| cohort_retention | 2 | {cohort['spark_median_ms']:.1f} | {cohort['duckdb_median_ms']:.1f} |"
        in text
    )
    assert f"loadtest: one user, medians of {2 * len(DASHBOARD)}: Spark Connect" in printed


@pytest.mark.slow
def test_step_mode_stops_at_the_first_step_over_the_p95_limit(
    config: LakelabConfig, server: str, warehouse: str, tmp_path: Path
) -> None:
    # No query on this machine answers in 1 ms: the first step is the saturation point.
    args = _args(tmp_path, connect=server, warehouse=warehouse, step="1,8s,3", p95_limit_ms=1.0)
    assert run_loadtest_command(config, args) == 0
    payload = json.loads(next((tmp_path / "results").glob("loadtest-*.json")).read_text())["payload"]
    (step,) = payload["steps"]
    assert step["users"] == 1 and step["saturated"] and step["requests"] > 0
    assert step["reason"].startswith(f"p95 {step['p95_ms']:.0f} ms over the limit of 1 ms")
    assert payload["saturation"] == step and payload["mode"]["kind"] == "step"
    assert "Saturation: 1 users (p95" in (tmp_path / "out" / "report.md").read_text()
