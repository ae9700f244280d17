"""A failed run's alert reaches a webhook through a real Prometheus and Alertmanager.

Prometheus (1 s scrape and evaluation, the generated `prometheus/alerts.yml`) scrapes a run
that fails in its own process (`failing_run.py`: a failed reconciliation and a failed sweep
point); Alertmanager, configured by `lakelab.dashboards.render_alertmanager` with 1 s grouping,
posts to a webhook server this test runs. The run's process exits right after Prometheus
has scraped the failure: the alert must be delivered, stay firing, and not be resolved.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakelab import dashboards

from .tools import ALERTMANAGER, PROMETHEUS, REPO, free_port, http_ok, require, start, stop, wait_for

FAILING_RUN = Path(__file__).with_name("failing_run.py")
HOW = "apt-get install prometheus prometheus-alertmanager, or `make services`"


@dataclass(frozen=True)
class Delivery:
    """One webhook POST and when it arrived (Unix time)."""

    at: float
    body: dict[str, Any]


class Webhook:
    """A webhook receiver on 127.0.0.1 that keeps what Alertmanager posts."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                delivery = Delivery(time.time(), json.loads(self.rfile.read(length)))
                with receiver.arrived:
                    receiver.deliveries.append(delivery)
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/lakelab-alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, alertname: str, status: str, timeout: float) -> Delivery | None:
        """The first delivery holding `alertname` with `status`, waiting up to `timeout` s (else None)."""

        def found() -> Delivery | None:
            for delivery in self.deliveries:
                for alert in delivery.body["alerts"]:
                    if alert["labels"]["alertname"] == alertname and alert["status"] == status:
                        return delivery
            return None

        with self.arrived:
            self.arrived.wait_for(found, timeout=timeout)
            return found()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def prometheus_alerts(url: str) -> dict[str, str]:
    """alertname -> state of every active alert Prometheus holds."""
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=5) as response:
        alerts = json.loads(response.read())["data"]["alerts"]
    return {alert["labels"]["alertname"]: alert["state"] for alert in alerts}


@pytest.fixture()
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


def test_a_failed_run_is_delivered_to_the_webhook_and_stays_firing(
    tmp_path: Path, webhook: Webhook, capsys: pytest.CaptureFixture[str]
) -> None:
    prometheus_bin = require(PROMETHEUS, HOW)
    alertmanager_bin = require(ALERTMANAGER, HOW)
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen[str]] = []
    try:
        am_port, prometheus_port, exporter_port = free_port(), free_port(), free_port()
        am_config = tmp_path / "alertmanager.yml"
        am_config.write_text(
            yaml.safe_dump(
                dashboards.render_alertmanager(
                    webhook.url, group_wait="1s", group_interval="1s", repeat_interval="1h"
                )
            )
        )
        processes.append(
            start(
                [
                    str(alertmanager_bin),
                    f"--config.file={am_config}",
                    f"--storage.path={tmp_path / 'alertmanager'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",  # no gossip port: one Alertmanager, loopback only
                    "--log.level=warn",
                ],
                logs / "alertmanager.log",
            )
        )
        prometheus_config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(REPO / dashboards.ALERTS_FILE)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [
                {
                    # As in the lab: the harness exporter is an on-demand target.
                    "job_name": "harness",
                    "static_configs": [
                        {"targets": [f"127.0.0.1:{exporter_port}"], "labels": {"on_demand": "true"}}
                    ],
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config, sort_keys=False))
        prometheus_url = f"http://127.0.0.1:{prometheus_port}"
        processes.append(
            start(
                [
                    str(prometheus_bin),
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    "--log.level=warn",
                ],
                logs / "prometheus.log",
            )
        )
        wait_for("Alertmanager to be ready", lambda: http_ok(f"http://127.0.0.1:{am_port}/-/ready"), logs)
        wait_for("Prometheus to be ready", lambda: http_ok(f"{prometheus_url}/-/ready"), logs)

        run = start(
            [sys.executable, str(FAILING_RUN), str(exporter_port)],
            logs / "failing-run.log",
            stdout=subprocess.PIPE,
        )
        processes.append(run)
        assert run.stdout is not None
        line = run.stdout.readline()
        failed_at = float(json.loads(line)["failed_at"])

        delivery = webhook.first("LakelabReconciliationFailed", "firing", timeout=40)
        assert delivery is not None, "no LakelabReconciliationFailed notification in 40 s"
        delay = delivery.at - failed_at
        alert = next(
            a for a in delivery.body["alerts"] if a["labels"]["alertname"] == "LakelabReconciliationFailed"
        )
        assert delivery.body["receiver"] == dashboards.ALERTMANAGER_RECEIVER
        assert delivery.body["status"] == "firing"
        assert alert["labels"] == {
            "alertname": "LakelabReconciliationFailed",
            "check": "pipeline",
            "severity": "critical",
            "job": "harness",
            "instance": f"127.0.0.1:{exporter_port}",
            "on_demand": "true",
        }
        assert alert["annotations"]["summary"] == "Reconciliation check pipeline failed"
        with capsys.disabled():
            print(
                f"\nalert delivery: failure at {failed_at:.3f}, webhook at {delivery.at:.3f}: {delay:.2f} s"
            )
        assert 0 < delay < 30

        # The run's process exits once Prometheus has scraped the failure...
        assert run.wait(timeout=40) == 0, (logs / "failing-run.log").read_text()
        exited_at = time.time()
        # ...and the failure stays: still firing after several evaluations without its exporter,
        # never resolved, and the on-demand target's absence is no alert of its own.
        sweep = webhook.first("LakelabSweepPointFailed", "firing", timeout=20)
        assert sweep is not None, "no LakelabSweepPointFailed notification"
        assert webhook.first("LakelabReconciliationFailed", "resolved", timeout=6) is None
        assert time.time() - exited_at >= 5
        states = prometheus_alerts(prometheus_url)
        assert states.get("LakelabReconciliationFailed") == "firing", states
        assert states.get("LakelabSweepPointFailed") == "firing", states
        assert "LakelabScrapeTargetDown" not in states, states
        with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?query=up", timeout=5) as response:
            up = json.loads(response.read())["data"]["result"]
        assert [float(series["value"][1]) for series in up] == [0], "the run's exporter is gone"
    finally:
        for process in reversed(processes):
            stop(process)
