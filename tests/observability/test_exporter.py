"""The harness exporter emits catalog metrics only, with the figures it was given."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lakelab.errors import UserError
from lakelab.metrics import METRICS, Exporter, Source

HARNESS_NAMES = {metric.name for metric in METRICS if metric.source is Source.HARNESS}


@pytest.fixture()
def exporter() -> Iterator[Exporter]:
    with Exporter(port=0) as started:
        yield started


def scrape(exporter: Exporter) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample the exporter serves over HTTP, keyed by name and labels."""
    with urllib.request.urlopen(exporter.url, timeout=5) as response:
        text = response.read().decode("utf-8")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_serves_on_loopback_only(exporter: Exporter) -> None:
    assert exporter.url.startswith("http://127.0.0.1:")
    assert exporter.port > 0


def test_stage_figures(exporter: Exporter) -> None:
    exporter.observe_stage("silver", "orders", rows_out=990, rows_quarantined=10, seconds=4.0)
    exporter.observe_stage("silver", "orders", rows_out=1800, rows_quarantined=200, seconds=5.0)
    samples = scrape(exporter)
    where = {"layer": "silver", "table": "orders"}
    assert value(samples, "lakelab_stage_rows_total", **where, outcome="out") == 2790
    assert value(samples, "lakelab_stage_rows_total", **where, outcome="quarantined") == 210
    assert value(samples, "lakelab_stage_last_rows", **where, outcome="quarantined") == 200
    assert value(samples, "lakelab_stage_last_seconds", **where) == 5.0
    assert value(samples, "lakelab_records_per_second", **where) == 2000 / 5.0
    assert value(samples, "lakelab_stage_seconds_count", **where) == 2
    assert value(samples, "lakelab_stage_seconds_sum", **where) == 9.0
    assert value(samples, "lakelab_stage_seconds_bucket", **where, le="5.0") == 2
    assert value(samples, "lakelab_stage_seconds_bucket", **where, le="2.5") == 0


def test_sweep_run_and_reconciliation(exporter: Exporter) -> None:
    before = scrape(exporter)
    # Both outcomes exist at 0 before the first point, so increase() sees the first failure.
    assert value(before, "lakelab_sweep_runs_total", outcome="failed") == 0
    exporter.sweep_started(planned_points=3)
    exporter.sweep_point_done({"spark.sql.shuffle.partitions": 8}, seconds=12.5)
    exporter.sweep_point_done({"spark.sql.shuffle.partitions": 16}, seconds=3.0, ok=False)
    exporter.set_reconciliation(False, check="gold_revenue")
    exporter.datagen_done("orders", rows=1000)
    exporter.datagen_done("orders", rows=500)
    exporter.run_started("run-1", "abc123", "4.2.0", "4.4.0", "local")
    exporter.run_started("run-2", "abc123", "4.2.0", "4.4.0", "local")
    samples = scrape(exporter)
    assert value(samples, "lakelab_sweep_points_planned") == 3
    assert value(samples, "lakelab_sweep_runs_total", outcome="ok") == 1
    assert value(samples, "lakelab_sweep_runs_total", outcome="failed") == 1
    assert value(samples, "lakelab_sweep_point_seconds", point="shuffle.partitions=8") == 12.5
    assert value(samples, "lakelab_reconciliation_ok", check="gold_revenue") == 0
    assert value(samples, "lakelab_datagen_rows_total", table="orders") == 1500
    info = [key for key in samples if key[0] == "lakelab_run_info"]
    assert len(info) == 1 and ("run_id", "run-2") in info[0][1]


def test_exposes_exactly_the_catalog(exporter: Exporter) -> None:
    exporter.observe_stage("gold", "revenue", rows_out=10, rows_quarantined=0, seconds=1.0)
    exporter.set_reconciliation(True)
    exporter.sweep_started(1)
    exporter.sweep_point_done({}, seconds=1.0)
    exporter.datagen_done("customers", rows=10)
    exporter.run_started("r", "c", "4.2.0", "4.4.0", "local")
    families = {family.name for family in text_string_to_metric_families(exporter.exposition())}
    # The parser strips `_total` from counter families; put it back to compare.
    exposed = {name + "_total" if name + "_total" in HARNESS_NAMES else name for name in families}
    assert exposed == HARNESS_NAMES


def test_undeclared_names_cannot_be_emitted(exporter: Exporter) -> None:
    with pytest.raises(AssertionError, match="not declared"):
        exporter._metric("lakelab_made_up_total")
    with pytest.raises(AssertionError, match="not a harness metric"):
        exporter._metric("spark_info")


def test_rejects_negative_figures(exporter: Exporter) -> None:
    with pytest.raises(ValueError, match="silver/orders"):
        exporter.observe_stage("silver", "orders", rows_out=-1, rows_quarantined=0, seconds=1.0)
    with pytest.raises(ValueError, match="orders"):
        exporter.datagen_done("orders", rows=-5)


def test_port_taken_is_a_user_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"127.0.0.1:{port}"):
            Exporter(port=port).start()


def test_stop_is_idempotent_and_frees_the_port() -> None:
    exporter = Exporter(port=0).start()
    port = exporter.port
    exporter.stop()
    exporter.stop()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_last_run_gauges_carry_when_they_were_set(exporter: Exporter) -> None:
    # Alert rules pick the latest run's figures by these times once the run's process is gone.
    before = time.time()
    exporter.observe_stage("silver", "orders", rows_out=9, rows_quarantined=1, seconds=1.0)
    exporter.set_reconciliation(False)
    exporter.sweep_started(planned_points=3)
    exporter.sweep_point_done({}, seconds=1.0, ok=False)
    exporter.sweep_point_done({}, seconds=1.0, ok=False)
    after = time.time()
    samples = scrape(exporter)
    stamps = [
        value(samples, "lakelab_stage_last_timestamp_seconds", layer="silver", table="orders"),
        value(samples, "lakelab_reconciliation_last_timestamp_seconds", check="pipeline"),
        value(samples, "lakelab_sweep_last_point_timestamp_seconds"),
    ]
    assert all(before <= stamp <= after for stamp in stamps), (before, stamps, after)
    assert value(samples, "lakelab_reconciliation_ok", check="pipeline") == 0
    assert value(samples, "lakelab_sweep_failed_points") == 2
    # A new sweep starts with no failed point; the counter keeps the total.
    exporter.sweep_started(planned_points=1)
    samples = scrape(exporter)
    assert value(samples, "lakelab_sweep_failed_points") == 0
    assert value(samples, "lakelab_sweep_runs_total", outcome="failed") == 2
