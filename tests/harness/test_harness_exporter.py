"""A sweep run's record payload feeds the harness's Prometheus exporter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.commands import exporter_hooks
from lakelab.errors import UserError


def test_run_payload_reaches_the_exporter(make_run_payload: Callable[..., dict[str, Any]]) -> None:
    payload = make_run_payload(
        "sweep-x", 0, 1_000, "shuffle.partitions=2", {"spark.sql.shuffle.partitions": "2"}, 0, 10.0,
        baseline=True,
    )  # fmt: skip
    with exporter_hooks("127.0.0.1", 0) as (on_run, exporter):
        assert on_run is not None and exporter is not None
        on_run(payload)
        text = exporter.exposition()
    assert 'lakelab_sweep_runs_total{outcome="ok"} 1.0' in text
    assert 'lakelab_reconciliation_ok{check="pipeline"} 1.0' in text
    assert 'lakelab_stage_last_seconds{layer="bronze",table="crm_accounts"} 5.0' in text


def test_no_port_means_no_exporter() -> None:
    with exporter_hooks("0.0.0.0", None) as (on_run, exporter):
        assert on_run is None and exporter is None


def test_a_port_taken_is_one_line_naming_the_configured_host() -> None:
    with exporter_hooks("127.0.0.1", 0) as (_on_run, first):
        taken = first.port
        with pytest.raises(UserError) as error, exporter_hooks("127.0.0.1", taken):
            pass
    assert str(error.value).startswith(f"metrics exporter: cannot listen on 127.0.0.1:{taken} (")
    assert "\n" not in str(error.value)
