"""Every dashboard panel's PromQL answers with data from a real Prometheus.

Grafana cannot run on this machine, so the dashboards are checked against what
Grafana would ask. A real Prometheus (1 s scrape interval, temporary storage, the
generated alert rules loaded) scrapes:

- the harness `Exporter`, fed with two pipeline runs and a sweep;
- a Spark standalone master and one worker started here with the same
  PrometheusServlet settings as `lakelab.spark`;
- a driver started in a subprocess by `lakelab.spark.get_session` with its UI on a free
  port, connected to that master, running a small cached job (so there is a real
  executor, not only the local driver);
- MinIO from ~/.cache/lakelab/bin/minio when it is there (on CI it must be).

Then each panel query runs through `/api/v1/query` and must answer `success` with at
least one series and finite values. Nothing is skipped silently: a panel that cannot
be checked is a skip with its reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import queue
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakelab import dashboards
from lakelab.metrics import ALERTS, DASHBOARDS, METRICS_BY_NAME, Exporter, Panel, Source, metrics_in
from lakelab.spark import METRICS_CONF

from .tools import MINIO, PROMETHEUS, REPO, free_port, http_ok, in_ci, require, start, stop, wait_for

DRIVER_JOB = Path(__file__).with_name("spark_driver_job.py")
SLOW_SOURCES = {
    Source.SPARK_DRIVER,
    Source.SPARK_EXECUTORS,
    Source.SPARK_MASTER,
    Source.SPARK_APPLICATIONS,
    Source.SPARK_WORKER,
}


@dataclass
class Lab:
    """The processes the test started and how to query their Prometheus."""

    prometheus_url: str
    logs: Path
    skip_sources: dict[Source, str] = field(default_factory=dict)

    def query(self, expr: str) -> dict[str, Any]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(json.loads(response.read()))

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.prometheus_url}{path}", timeout=10) as response:
            return json.loads(response.read())["data"]

    def log_tails(self) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def spark_home() -> Path:
    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def metrics_properties() -> str:
    """The factory's PrometheusServlet settings in metrics.properties form, for master and worker."""
    prefix = "spark.metrics.conf."
    return "".join(
        f"{key[len(prefix) :]}={value}\n" for key, value in METRICS_CONF.items() if key.startswith(prefix)
    )


def feed_pipeline_run(exporter: Exporter, run: int) -> None:
    """One small pipeline run's figures, as the pipeline reports them."""
    exporter.run_started(f"honesty-{run}", "0" * 40, "4.2.0", "4.4.0", "spark-standalone")
    exporter.datagen_done("orders", rows=1000)
    exporter.datagen_done("customers", rows=200)
    exporter.observe_stage("bronze", "orders", rows_out=1000, rows_quarantined=0, seconds=2.0)
    exporter.observe_stage("silver", "orders", rows_out=900, rows_quarantined=100, seconds=4.0)
    exporter.observe_stage("gold", "revenue", rows_out=30, rows_quarantined=0, seconds=1.5)
    exporter.set_reconciliation(True, check="gold_revenue")
    exporter.sweep_point_done({"spark.sql.shuffle.partitions": 2 * run}, seconds=7.5 + run)


MINIO_PUTS = 2


def make_s3_requests(endpoint: str, user: str, password: str) -> None:
    """A bucket, MINIO_PUTS objects and a listing, so `minio_s3_requests_total` has series."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=user,
        aws_secret_access_key=password,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="honesty")
    for index in range(MINIO_PUTS):
        s3.put_object(Bucket="honesty", Key=f"object-{index}", Body=b"lakelab")
    s3.list_objects_v2(Bucket="honesty")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    prometheus_bin = require(PROMETHEUS, "apt-get install prometheus, or `make services`")
    root = tmp_path_factory.mktemp("honesty")
    logs = root / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen[str]] = []
    exporter = Exporter(port=free_port())
    skip_sources: dict[Source, str] = {}
    driver: subprocess.Popen[str] | None = None
    try:
        # Spark standalone master and worker, with the factory's sink settings.
        conf_dir = root / "spark-conf"
        conf_dir.mkdir()
        (conf_dir / "metrics.properties").write_text(metrics_properties())
        spark_env = {
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(conf_dir),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_WORKER_DIR": str(root / "spark-work"),
            "SPARK_DAEMON_MEMORY": "256m",
        }
        spark_class = str(spark_home() / "bin" / "spark-class")
        master_port, master_ui, worker_ui, driver_ui = free_port(), free_port(), free_port(), free_port()
        master_url = f"spark://127.0.0.1:{master_port}"
        processes.append(
            start(
                [
                    spark_class,
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(master_port),
                    "--webui-port",
                    str(master_ui),
                ],
                logs / "spark-master.log",
                spark_env,
            )
        )
        # Worker and driver start at once with the master: both retry until it answers.
        processes.append(
            start(
                [
                    spark_class,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "-c",
                    "1",
                    "-m",
                    "768m",
                    "--webui-port",
                    str(worker_ui),
                    master_url,
                ],
                logs / "spark-worker.log",
                spark_env,
            )
        )
        # The driver in a subprocess: the suite's shared session has its UI off.
        driver = start(
            [sys.executable, str(DRIVER_JOB), master_url, str(driver_ui)],
            logs / "spark-driver.log",
            {"SPARK_LOCAL_IP": "127.0.0.1"},
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
        )
        processes.append(driver)
        driver_lines: queue.Queue[str] = queue.Queue()
        assert driver.stdout is not None
        stdout = driver.stdout
        threading.Thread(target=lambda: [driver_lines.put(line) for line in stdout], daemon=True).start()

        # MinIO, when its binary is there.
        minio_port = free_port()
        minio_password = secrets.token_hex(16)
        if MINIO.exists():
            processes.append(
                start(
                    [
                        str(MINIO),
                        "server",
                        "--address",
                        f"127.0.0.1:{minio_port}",
                        "--console-address",
                        f"127.0.0.1:{free_port()}",
                        str(root / "minio-data"),
                    ],
                    logs / "minio.log",
                    {
                        "MINIO_ROOT_USER": "lakelab-test",
                        "MINIO_ROOT_PASSWORD": minio_password,
                        "MINIO_PROMETHEUS_AUTH_TYPE": "public",
                        "MINIO_BROWSER": "off",
                    },
                )
            )
        elif in_ci():
            pytest.fail(f"{MINIO} is missing on CI (cluster/install-services.sh builds it)")
        else:
            skip_sources[Source.MINIO] = f"{MINIO} is missing (`make services` builds it)"

        # The harness exporter, with a first pipeline run already in it.
        exporter.start()
        exporter.sweep_started(planned_points=4)
        feed_pipeline_run(exporter, run=1)

        # Prometheus. Paths without their trailing slash on purpose: Spark answers 301
        # and Prometheus must follow it, as the lab's own scrape config relies on.
        targets = {
            Source.HARNESS: f"127.0.0.1:{exporter.port}",
            Source.SPARK_DRIVER: f"127.0.0.1:{driver_ui}",
            Source.SPARK_EXECUTORS: f"127.0.0.1:{driver_ui}",
            Source.SPARK_MASTER: f"127.0.0.1:{master_ui}",
            Source.SPARK_APPLICATIONS: f"127.0.0.1:{master_ui}",
            Source.SPARK_WORKER: f"127.0.0.1:{worker_ui}",
            Source.MINIO: f"127.0.0.1:{minio_port}",
        }
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(REPO / dashboards.ALERTS_FILE)],
            "scrape_configs": [
                {
                    "job_name": source.value,
                    "metrics_path": source.metrics_path.rstrip("/"),
                    "static_configs": [{"targets": [target]}],
                    # A JVM on a loaded 2-core machine can take over a second to render
                    # its metrics; the other targets keep the 1 s interval.
                    **({"scrape_interval": "3s", "scrape_timeout": "3s"} if source in SLOW_SOURCES else {}),
                }
                for source, target in targets.items()
                if source not in skip_sources
            ],
        }
        config_file = root / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        prometheus_port = free_port()
        processes.append(
            start(
                [
                    str(prometheus_bin),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={root / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    "--log.level=warn",
                ],
                logs / "prometheus.log",
            )
        )
        lab = Lab(f"http://127.0.0.1:{prometheus_port}", logs, skip_sources)
        wait_for("Prometheus to be ready", lambda: http_ok(f"{lab.prometheus_url}/-/ready"), logs)

        def driver_ready() -> bool:
            if driver.poll() is not None:
                pytest.fail(f"the Spark driver exited with {driver.returncode}\n{lab.log_tails()}")
            try:
                line = driver_lines.get(timeout=0.5)
            except queue.Empty:
                return False
            return bool(json.loads(line).get("ready"))

        wait_for("the Spark driver's job", driver_ready, logs)

        target_health: dict[str, str] = {}

        def all_targets_up() -> bool:
            active = lab.api("/api/v1/targets")["activeTargets"]
            target_health.clear()
            target_health.update({t["scrapePool"]: f"{t['health']} {t['lastError']}" for t in active})
            return len(active) == len(config["scrape_configs"]) and all(t["health"] == "up" for t in active)

        wait_for(lambda: f"every scrape target up: {target_health}", all_targets_up, logs, timeout=60)
        if Source.MINIO not in skip_sources:
            # MinIO counts authenticated S3 calls only, and has no request series before the first.
            make_s3_requests(f"http://127.0.0.1:{minio_port}", "lakelab-test", minio_password)
        # A second run after Prometheus has seen the first, so rates over counters and
        # the histogram have two samples to work with; then a few more scrapes.
        time.sleep(2)
        feed_pipeline_run(exporter, run=2)
        time.sleep(7)
        if Source.MINIO not in skip_sources:
            # MinIO renders its v2 metrics from a cache that lives 10 s, so a scrape just
            # before the calls hides them that long: wait until Prometheus holds two samples
            # of the put counter (what a rate needs) rather than for a fixed time.
            wait_for(
                "two scraped samples of MinIO's putobject counter",
                lambda: lab.query('count_over_time(minio_s3_requests_total{api="putobject"}[1m]) >= 2')[
                    "data"
                ]["result"],
                logs,
                timeout=60,
            )
        yield lab
    finally:
        if driver is not None and driver.stdin is not None:
            driver.stdin.close()  # lets the driver stop its SparkContext cleanly
            with contextlib.suppress(subprocess.TimeoutExpired):
                driver.wait(timeout=20)
        for process in reversed(processes):
            stop(process)
        exporter.stop()


def panel_cases() -> list[Any]:
    cases = []
    for dashboard in DASHBOARDS:
        for panel in dashboard.panels:
            for index, target in enumerate(panel.targets):
                case_id = f"{dashboard.uid}/{panel.title}/{chr(ord('A') + index)}"
                cases.append(pytest.param(panel, target.expr, id=case_id))
    return cases


def sources_of(panel: Panel, expr: str) -> set[Source]:
    return {METRICS_BY_NAME[name].source for name in metrics_in(expr)}


@pytest.mark.slow
@pytest.mark.parametrize(("panel", "expr"), panel_cases())
def test_panel_query_returns_data(lab: Lab, panel: Panel, expr: str) -> None:
    missing = {
        source: reason for source, reason in lab.skip_sources.items() if source in sources_of(panel, expr)
    }
    if missing:
        pytest.skip("; ".join(missing.values()))
    answer = lab.query(expr)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert result, f"{panel.title}: {expr!r} returned no series"
    values = [float(series["value"][1]) for series in result]
    assert all(math.isfinite(value) for value in values), f"{panel.title}: {expr!r} -> {values}"


@pytest.mark.slow
def test_harness_panels_show_the_figures_fed(lab: Lab) -> None:
    def by(expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        result = lab.query(expr)["data"]["result"]
        return {tuple(s["metric"].get(label, "") for label in labels): float(s["value"][1]) for s in result}

    quarantine = by(dashboards_expr("Pipeline run", "Quarantine ratio (latest run)"), "layer", "table")
    assert quarantine[("silver", "orders")] == pytest.approx(0.1)
    assert quarantine[("bronze", "orders")] == 0
    assert by("lakelab_records_per_second", "layer", "table")[("silver", "orders")] == pytest.approx(250)
    assert by("min by (check) (lakelab_reconciliation_ok)", "check") == {("gold_revenue",): 1}
    rows = by("sum by (layer, outcome) (lakelab_stage_rows_total)", "layer", "outcome")
    assert rows[("silver", "quarantined")] == 200  # two runs of 100
    progress = by(dashboards_expr("Harness sweep", "Progress"))
    assert progress[()] == pytest.approx(2 / 4)
    assert by("lakelab_run_info", "run_id") == {("honesty-2",): 1}


@pytest.mark.slow
def test_spark_panels_see_the_real_cluster(lab: Lab) -> None:
    executors = {
        s["metric"]["executor_id"] for s in lab.query("metrics_executor_totalCores")["data"]["result"]
    }
    assert executors == {"driver", "0"}, "one executor on the worker beside the driver"
    assert float(lab.query("metrics_master_aliveWorkers_Value")["data"]["result"][0]["value"][1]) == 1
    assert float(lab.query("metrics_worker_executors_Value")["data"]["result"][0]["value"][1]) == 1
    used = lab.query("sum(metrics_executor_memoryUsed_bytes)")["data"]["result"]
    assert float(used[0]["value"][1]) > 0, "the cached frame holds storage memory"


@pytest.mark.slow
def test_minio_panel_counts_the_requests_made(lab: Lab) -> None:
    if Source.MINIO in lab.skip_sources:
        pytest.skip(lab.skip_sources[Source.MINIO])
    result = lab.query('sum by (api) (minio_s3_requests_total{api=~"putobject|putbucket"})')["data"]["result"]
    assert {s["metric"]["api"]: float(s["value"][1]) for s in result} == {
        "putobject": MINIO_PUTS,
        "putbucket": 1,
    }


@pytest.mark.slow
def test_alert_rules_evaluate_without_errors(lab: Lab) -> None:
    rules = [rule for group in lab.api("/api/v1/rules")["groups"] for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == {alert.name for alert in ALERTS}
    assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]
    firing = {alert["labels"]["alertname"] for alert in lab.api("/api/v1/alerts")["alerts"]}
    # The fed silver/orders stage quarantined 10 %, above the 5 % threshold.
    assert "LakelabQuarantineRateHigh" in firing
    assert "LakelabReconciliationFailed" not in firing


def dashboards_expr(dashboard_title: str, panel_title: str) -> str:
    """The first query of a panel, as the generated dashboard holds it."""
    for dashboard in DASHBOARDS:
        if dashboard.title == dashboard_title:
            for panel in dashboard.panels:
                if panel.title == panel_title:
                    return panel.targets[0].expr
    raise KeyError(f"{dashboard_title} / {panel_title}")
