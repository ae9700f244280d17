"""The native lab end to end: up, jobs on the standalone master against MinIO,
Prometheus, failures (a worker lost, the store lost), and down.

The tests share one lab and one driver and run in this file's order; the last one
takes the lab down.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import requests
from labfixtures import BUCKET, ClusterDriver, lab_config_data

from cluster import native, s3
from cluster.state import StateDir
from lakelab.config import LakelabConfig

pytestmark = pytest.mark.cluster

ROWS = 1000


def _table(name: str) -> str:
    return f"s3a://{BUCKET}/tests/{name}"


def _delta_log(config: LakelabConfig, name: str) -> list[str]:
    keys = s3.list_keys(native.s3_endpoint(config), BUCKET, f"tests/{name}/_delta_log/")
    return [key.rsplit("/", 1)[1] for key in keys if key.endswith(".json")]


def test_status_reports_every_service_healthy(native_lab: LakelabConfig) -> None:
    rows = {row.name: row for row in native.status(native_lab)}
    ports = native_lab.cluster.ports
    assert set(rows) == {
        "minio",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-connect",
        "prometheus",
        "alertmanager",
    }
    assert {name: row.state for name, row in rows.items()} == dict.fromkeys(rows, "healthy")
    assert rows["spark-master"].port == ports.spark_master
    assert rows["spark-worker-2"].port == ports.spark_worker_ui + 1
    for row in rows.values():
        assert row.pid is not None and psutil.pid_exists(row.pid)
    # Every listening socket of the lab's processes is on loopback.
    for row in rows.values():
        assert row.pid is not None
        for conn in psutil.Process(row.pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                address = ipaddress.ip_address(conn.laddr.ip)
                mapped = getattr(address, "ipv4_mapped", None)
                assert (mapped or address).is_loopback, (row.name, conn.laddr)
    master = requests.get(f"http://127.0.0.1:{ports.spark_master_ui}/json/", timeout=5).json()
    assert sorted(worker["webuiaddress"] for worker in master["workers"] if worker["state"] == "ALIVE") == [
        f"http://127.0.0.1:{ports.spark_worker_ui}",
        f"http://127.0.0.1:{ports.spark_worker_ui + 1}",
    ]


def test_delta_table_round_trip_on_minio(native_lab: LakelabConfig, cluster_driver: ClusterDriver) -> None:
    answer = cluster_driver.call("write", path=_table("round_trip"), rows=ROWS, partitions=4)
    assert answer["ok"], answer
    read = cluster_driver.call("read", path=_table("round_trip"))
    assert read == {
        "ok": True,
        "count": ROWS,
        "sum_id": ROWS * (ROWS - 1) // 2,
        "sum_doubled": ROWS * (ROWS - 1),
    }
    # The table is really on MinIO, committed once.
    assert _delta_log(native_lab, "round_trip") == ["00000000000000000000.json"]
    # One executor per worker: the failure tests below rely on both being in use.
    assert len(cluster_driver.call("executors")["ids"]) == 2


def test_pipeline_on_the_cluster_writes_delta_tables_to_minio(
    native_lab: LakelabConfig, cluster_driver: ClusterDriver
) -> None:
    """datagen -> landing on MinIO -> Bronze on the standalone master -> Delta tables on MinIO.

    Bronze only: it reads the landing and writes nine Delta tables through S3A, which is
    what the cluster adds to the pipeline's own tests; all three layers over S3A take
    minutes even at this size on a 2-core machine (docs/cluster.md has the figures).
    """
    answer = cluster_driver.call(
        "pipeline",
        timeout_s=900,
        records=500,
        layers=["bronze"],
        landing=f"s3a://{BUCKET}/pipeline/landing",
        warehouse=f"s3a://{BUCKET}/pipeline/warehouse",
    )
    assert answer["ok"], answer
    assert answer["reconciled"] is True
    assert answer["layers"] == ["bronze"]
    bronze = [stage for stage in answer["stages"] if stage["layer"] == "bronze" and stage["rows_in"]]
    assert len(bronze) == len(answer["generated"]) == 9
    # Every generated row reached Bronze, accepted or quarantined: none lost, none invented.
    assert sum(stage["rows_in"] for stage in bronze) == answer["generated_rows"] > 0
    for stage in bronze:
        assert stage["rows_out"] + stage["rows_quarantined"] == stage["rows_in"], stage
        # What readers see on MinIO is what the run says it wrote.
        name = f"bronze.{stage['table']}"
        assert answer["tables"].get(name) == stage["rows_out"], (name, stage, answer["tables"])


def test_resource_sample_covers_every_service(
    native_lab: LakelabConfig, cluster_driver: ClusterDriver
) -> None:
    from cluster.resources import ResourceSampler, sample

    figures = sample(native_lab, interval_s=0.5)
    assert set(figures) == {row.name for row in native.status(native_lab)}
    for figure in figures.values():
        assert figure.processes >= 1 and figure.cpu_percent >= 0, figure
        # JVMs and MinIO hold tens of MB at least; Prometheus too.
        assert figure.rss_bytes > 20_000_000, figure
    # A worker's figures include its executor (a child JVM in its process group).
    assert max(figures[f"spark-worker-{i}"].processes for i in (1, 2)) >= 2
    sampler = ResourceSampler(native_lab, every_s=0.6).begin()
    time.sleep(1.5)
    summary = sampler.end()
    assert set(summary) == set(figures)
    assert all(
        entry["samples"] >= 2 and entry["rss_mb_peak"] >= entry["rss_mb_mean"] for entry in summary.values()
    )


def _targets(config: LakelabConfig) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{config.cluster.ports.prometheus}/api/v1/targets"
    targets: list[dict[str, object]] = requests.get(url, timeout=5).json()["data"]["activeTargets"]
    return targets


def test_prometheus_scrapes_every_target(native_lab: LakelabConfig, cluster_driver: ClusterDriver) -> None:
    """Every always-on target is up; so is the test driver's UI, an on-demand one."""
    driver_target = f"127.0.0.1:{native_lab.cluster.ports.driver_ui}"
    deadline = time.monotonic() + 60
    while True:
        targets = _targets(native_lab)
        required = [
            target
            for target in targets
            if target["labels"].get("on_demand") != "true"  # type: ignore[union-attr]
            or target["labels"]["instance"] == driver_target  # type: ignore[index]
        ]
        down = [
            f"{t['labels']['job']} {t['scrapeUrl']}: {t['lastError']}"
            for t in required
            if t["health"] != "up"
        ]  # type: ignore[index]
        if not down or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not down, down
    jobs = {target["labels"]["job"] for target in required}  # type: ignore[index]
    assert jobs == {
        "spark-master",
        "spark-applications",
        "spark-worker",
        "spark-driver",
        "spark-executors",
        "minio",
        "prometheus",
    }
    # The exporter is scraped too, when the harness runs it.
    exporter = [t for t in targets if t["labels"]["job"] == "harness"]  # type: ignore[index]
    assert [t["labels"]["instance"] for t in exporter] == [f"127.0.0.1:{native_lab.cluster.ports.exporter}"]  # type: ignore[index]


def test_prometheus_sends_alerts_to_the_labs_alertmanager(native_lab: LakelabConfig) -> None:
    """Alertmanager answers on loopback with the repository's routing, and Prometheus lists it."""
    ports = native_lab.cluster.ports
    base = f"http://127.0.0.1:{ports.alertmanager}"
    status = requests.get(f"{base}/api/v2/status", timeout=5).json()
    assert "lakelab-webhook" in status["config"]["original"]
    assert status["cluster"]["status"] == "disabled"  # no gossip port
    url = f"http://127.0.0.1:{ports.prometheus}/api/v1/alertmanagers"
    _wait_until(
        lambda: bool(requests.get(url, timeout=5).json()["data"]["activeAlertmanagers"]),
        30,
        "Prometheus to discover the Alertmanager",
    )
    data = requests.get(url, timeout=5).json()["data"]
    assert data["activeAlertmanagers"] == [{"url": f"{base}/api/v2/alerts"}]
    assert data["droppedAlertmanagers"] == []


def _wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.5)


def test_worker_killed_mid_job_completes_on_the_other(
    native_lab: LakelabConfig, cluster_driver: ClusterDriver
) -> None:
    rows, partitions = 6000, 9
    worker = StateDir(native_lab.cluster).live_process("spark-worker-2")
    assert worker is not None
    # Nine tasks of four seconds on three slots: about twelve seconds of work.
    cluster_driver.send("slow_sum", rows=rows, partitions=partitions, sleep=4)
    time.sleep(3)
    assert cluster_driver.pending(), "the job ended before the worker could be killed"
    # SIGKILL to the worker's process group: the worker and its executor die at once.
    assert native.stop_service(native_lab, "spark-worker-2", sig=signal.SIGKILL, grace_s=5)
    answer = cluster_driver.receive(timeout_s=180)
    assert answer == {"ok": True, "sum": rows * (rows - 1) // 2}
    assert not worker.is_running()
    # `up` is idempotent: it starts the missing worker and nothing else.
    lines: list[str] = []
    native.up(native_lab, progress=lines.append)
    assert [line.split(" (")[0] for line in lines if "started" in line] == ["cluster: started spark-worker-2"]
    _wait_until(
        lambda: len(cluster_driver.call("executors")["ids"]) == 2, 60, "an executor on the restarted worker"
    )


def test_minio_stopped_during_write_leaves_no_partial_table(
    native_lab: LakelabConfig, cluster_driver: ClusterDriver
) -> None:
    table = _table("interrupted")
    assert cluster_driver.call("write", path=table, rows=ROWS, partitions=2)["ok"]
    # An append whose tasks take six seconds before they write; MinIO dies meanwhile.
    cluster_driver.send("write", path=table, rows=5 * ROWS, partitions=3, sleep=6, mode="append")
    time.sleep(3)
    assert cluster_driver.pending(), "the append ended before MinIO could be stopped"
    assert native.stop_service(native_lab, "minio", sig=signal.SIGKILL, grace_s=5)
    answer = cluster_driver.receive(timeout_s=240)
    assert answer["ok"] is False
    endpoint = native_lab.s3.endpoint
    assert answer["error"].startswith(f"the S3 store at {endpoint} stopped answering during the job ("), (
        answer
    )
    assert "\n" not in answer["error"]
    lines: list[str] = []
    native.up(native_lab, progress=lines.append)
    assert [line.split(" (")[0] for line in lines if "started" in line] == ["cluster: started minio"]
    # Readers see version 0 only: no new commit, no rows of the failed append.
    assert _delta_log(native_lab, "interrupted") == ["00000000000000000000.json"]
    assert cluster_driver.call("read", path=table) == {
        "ok": True,
        "count": ROWS,
        "sum_id": ROWS * (ROWS - 1) // 2,
        "sum_doubled": ROWS * (ROWS - 1),
    }


def test_up_again_starts_nothing(native_lab: LakelabConfig) -> None:
    lines: list[str] = []
    started = time.perf_counter()
    rows = native.up(native_lab, progress=lines.append)
    assert [line for line in lines if "started" in line] == []
    assert all(row.state == "healthy" for row in rows)
    assert time.perf_counter() - started < 30


def test_port_taken_is_one_line_error(
    services_installed: None, lab_credentials: None, tmp_path: Path
) -> None:
    """A second lab whose master port is taken fails before starting anything."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        data = lab_config_data(tmp_path / "state")
        data["cluster"]["ports"] = {key: value + 1000 for key, value in data["cluster"]["ports"].items()}
        data["cluster"]["ports"]["spark_master"] = taken
        data["s3"]["endpoint"] = f"http://127.0.0.1:{data['cluster']['ports']['minio']}"
        config_file = tmp_path / "lakelab.toml"
        config_file.write_text(_to_toml(data), encoding="utf-8")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "lakelab.cli",
                "--config",
                str(config_file),
                "cluster",
                "up",
                "--mode",
                "native",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {taken}" in lines[0] and "spark-master" in lines[0]
    assert "started" not in result.stdout
    assert StateDir(LakelabConfig.model_validate(data).cluster).pid_records() == []


def _to_toml(data: dict[str, object], prefix: str = "") -> str:
    """Just enough TOML for the test config (tables of scalars, lists and tables)."""
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(_to_toml(value, f"{prefix}{key}."))
        else:
            bare = key.replace("_", "").replace("-", "").isalnum()
            scalars.append(f"{key if bare else _toml_value(key)} = {_toml_value(value)}")
    head = f"[{prefix.rstrip('.')}]\n" if prefix and scalars else ""
    body = head + "".join(line + "\n" for line in scalars)
    return body + "".join(tables)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return str(value)


def test_down_leaves_no_process_behind(native_lab: LakelabConfig, cluster_driver: ClusterDriver) -> None:
    cluster_driver.close()
    state = StateDir(native_lab.cluster)
    pids = [record.pid for record in state.pid_records()]
    assert len(pids) == 7
    stopped = native.down(native_lab, progress=lambda line: None)
    assert stopped == 7
    assert [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"] == []
    # Nothing that runs out of the state dir is left (executors, Python workers, children).
    root = str(state.root)
    leftovers = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if root in cmdline and process.pid != os.getpid():
            leftovers.append(f"{process.pid}: {cmdline[:120]}")
    assert leftovers == []
    assert all(row.state == "stopped" for row in native.status(native_lab))
    assert native.down(native_lab, progress=lambda line: None) == 0
