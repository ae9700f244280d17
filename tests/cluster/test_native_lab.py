"""The native lab end to end: up, jobs on the standalone master against MinIO,
Prometheus, failures (a worker lost, the store lost), and down.

The tests share one lab and one driver and run in this file's order; the last one
takes the lab down.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
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
    hosts = cluster_driver.call("executors")["hosts"]
    assert len(hosts) >= 2, f"the job ran on fewer than two executors: {hosts}"


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
        "spark-workers",
        "spark-driver",
        "spark-executors",
        "minio",
        "prometheus",
    }
    # The exporter is scraped too, when the harness runs it.
    exporter = [t for t in targets if t["labels"]["job"] == "lakelab-exporter"]  # type: ignore[index]
    assert [t["labels"]["instance"] for t in exporter] == [f"127.0.0.1:{native_lab.cluster.ports.exporter}"]  # type: ignore[index]


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
    assert len(pids) == 6
    stopped = native.down(native_lab, progress=lambda line: None)
    assert stopped == 6
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
