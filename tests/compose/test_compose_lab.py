"""The compose lab, running: services, a sweep inside it, Prometheus, faults, teardown.

The tests run in file order against one lab (conftest.py `compose_lab`); each leaves it as
it found it, and the last one takes it down and checks nothing is left.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import PROJECT, REPO, REPORTS_OWNER, TEST_PORTS, ComposeLab

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOCS = REPO / "docs" / "cluster.md"
# The sweep's landing (100k records, seed 42) is on MinIO after the sweep test; the fault
# tests run Bronze from it and strike after its first table is committed, with eight tables
# and the layer's commit still to write (Silver and Gold would add only time: their writes
# are Delta commits like Bronze's).
SWEEP_LANDING = "s3a://lakelab/sweep/landing/records-10000"
FAULT_RUN = ("pipeline", "run", "--landing", SWEEP_LANDING, "--layers", "bronze")
# Bronze prints "ingesting" as it starts each table and appends the table before it starts
# the next; its per-table result lines come only at the layer's commit, the run's end here.
# So the second "ingesting" line means: the first table is appended, the layer is mid-way.
INGESTING = r"^bronze\s+\w+\s*: ingesting batches "


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _alive_workers(lab: ComposeLab) -> list[dict[str, Any]]:
    return [w for w in _json(f"{lab.master_ui}/json/")["workers"] if w["state"] == "ALIVE"]


def documented_command(marker: str) -> str:
    """The command in docs/cluster.md's fenced block after `<!-- marker -->` (tested verbatim)."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {re.escape(marker)} -->\s*```(?:bash|sh)?\n(.*?)```", text, flags=re.DOTALL)
    assert match, f"docs/cluster.md has no block marked <!-- {marker} -->"
    lines = [line for line in match.group(1).splitlines() if line.strip() and not line.startswith("#")]
    return " ".join(line.rstrip("\\").strip() for line in lines)


class Job:
    """A `docker compose run` job in the background; its output lines as they come."""

    def __init__(self, lab: ComposeLab, *args: str) -> None:
        self.process = lab.popen(["docker", "compose", "run", "--rm", "lakelab", "lakelab", *args])
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def saw(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in self.stdout)

    def mid_bronze(self) -> bool:
        """The first Bronze table is appended and the layer has not committed."""
        return sum(1 for line in self.stdout if re.search(INGESTING, line)) >= 2

    def wait(self, timeout_s: float) -> int:
        code = self.process.wait(timeout=timeout_s)
        time.sleep(0.5)  # let the readers drain
        return code


def test_every_service_is_healthy_and_two_workers_registered(compose_lab: ComposeLab) -> None:
    status = compose_lab.lakelab("cluster", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    states = {line.split()[0]: line.split()[-1] for line in status.stdout.splitlines()[2:] if line.strip()}
    assert states == {
        "minio": "healthy",
        "minio-init": "completed",
        "prometheus": "healthy",
        "alertmanager": "healthy",
        "spark-connect": "healthy",
        "spark-master": "healthy",
        "spark-worker-1": "healthy",
        "spark-worker-2": "healthy",
    }, status.stdout
    workers = _alive_workers(compose_lab)
    assert len(workers) == 2
    # Each offers what compose_env sized it to, and its UI is published where the config says.
    offered = {int(worker["memory"]) for worker in workers}
    from cluster.compose import parse_size

    assert offered == {parse_size(compose_lab.env["LAKELAB_WORKER_MEMORY"], "") // 2**20}
    for index in range(2):
        assert _json(f"http://127.0.0.1:{TEST_PORTS['spark_worker_ui'] + index}/json/")["cores"] == 2


def test_up_again_is_a_no_op_that_exits_0(compose_lab: ComposeLab) -> None:
    """`lakelab cluster up` on a running lab: ports held by the lab itself are no conflict."""
    started = time.perf_counter()
    again = compose_lab.lakelab("cluster", "up", "--mode", "compose", timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Recreate" not in (compose_lab.state_dir / "logs" / "compose-up.log").read_text().split("---")[-1]
    compose_lab.timings["cluster up again"] = time.perf_counter() - started


def test_the_documented_sweep_runs_inside_the_lab(compose_lab: ComposeLab) -> None:
    command = documented_command("compose-sweep")
    assert command.startswith("docker compose run --rm lakelab lakelab sweep ")
    started = time.time()
    result = compose_lab.shell(command, timeout=1800)
    ended = time.time()
    compose_lab.windows["sweep"] = (started, ended)
    compose_lab.timings["documented sweep"] = ended - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report_line = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"report: /opt/lakelab/reports/(sweep-[\w-]+)/report\.md", report_line)
    assert match, report_line
    # Records and report are on the host, owned by the owner of the folder, not root or uid 185.
    reports = compose_lab.reports
    records = sorted((reports / "results").glob("*.json"))
    runs = [json.loads(path.read_text()) for path in records if path.name.startswith("sweep_run-")]
    assert len(runs) == 2 and all(run["payload"]["status"] == "ok" for run in runs)
    assert {run["payload"]["settings"]["spark.sql.shuffle.partitions"] for run in runs} == {"2", "8"}
    machine = runs[0]["provenance"]["machine"]
    assert machine["architecture"] in ("x86_64", "arm64")
    summary = next(json.loads(p.read_text()) for p in records if p.name.startswith("sweep_summary-"))
    assert summary["payload"]["spark"]["master"] == "spark://spark-master:7077"
    assert summary["payload"]["landings"][0]["path"] == SWEEP_LANDING
    report_dir = reports / match.group(1)
    written = [path for path in reports.rglob("*")]
    assert (report_dir / "report.md").is_file() and list(report_dir.glob("img/*.png"))
    assert {path.stat().st_uid for path in written} == {REPORTS_OWNER}
    # The data went to MinIO through s3a: the landing is there, the run warehouses are gone.
    from cluster import s3

    endpoint = s3.S3Endpoint(
        f"http://127.0.0.1:{TEST_PORTS['minio']}",
        "us-east-1",
        compose_lab.env["LAKELAB_S3_ACCESS_KEY"],
        compose_lab.env["LAKELAB_S3_SECRET_KEY"],
    )
    keys = s3.list_keys(endpoint, "lakelab", "sweep/landing/records-10000/")
    assert any(key.endswith("_SUCCESS") or key.endswith(".json") for key in keys), keys[:5]
    # (S3A leaves an empty folder's marker object, a key ending in "/")
    assert [
        key for key in s3.list_keys(endpoint, "lakelab", "sweep/warehouses/") if not key.endswith("/")
    ] == []


def _range(lab: ComposeLab, expr: str, start: float, end: float) -> list[float]:
    query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": "5"})
    answer = _json(f"{lab.prometheus_url}/api/v1/query_range?{query}")
    assert answer["status"] == "success", answer
    return [
        float(value)
        for series in answer["data"]["result"]
        for _, value in series["values"]
        if math.isfinite(float(value))
    ]


def test_prometheus_holds_every_panel_over_the_sweep(compose_lab: ComposeLab) -> None:
    """Real series from the master, workers, executors, MinIO and the harness exporter."""
    from lakelab.metrics import DASHBOARDS

    start, end = compose_lab.windows.get("sweep", (0.0, 0.0))
    if not end:
        pytest.skip("the sweep test did not run")
    end += 30  # the exporter's final scrape
    empty = [
        f"{dashboard.uid} / {panel.title}: {target.expr}"
        for dashboard in DASHBOARDS
        for panel in dashboard.panels
        for target in panel.targets
        if not _range(compose_lab, target.expr, start, end)
    ]
    assert empty == []
    # The job's driver and exporter were found through file_sd while it ran, then dropped.
    assert max(_range(compose_lab, 'up{job="harness"}', start, end)) == 1
    assert max(_range(compose_lab, 'up{job="spark-driver", on_demand="true"}', start, end)) == 1
    assert max(_range(compose_lab, "sum(lakelab_datagen_rows_total)", start, end)) > 0

    # Its target files went with it; Prometheus drops such targets within a refresh or two.
    def harness_targets() -> list[Any]:
        targets = _json(f"{compose_lab.prometheus_url}/api/v1/targets")["data"]["activeTargets"]
        return [t for t in targets if t["labels"]["job"] == "harness"]

    _wait_until(lambda: harness_targets() == [], 60, "the finished job's targets to leave Prometheus")


def test_a_worker_killed_mid_job_does_not_fail_the_job(compose_lab: ComposeLab) -> None:
    warehouse = "s3a://lakelab/tests/worker-killed"
    job = Job(compose_lab, *FAULT_RUN, "--warehouse", warehouse)
    worker_2 = f"http://127.0.0.1:{TEST_PORTS['spark_worker_ui'] + 1}/json/"
    _wait_until(job.mid_bronze, 600, "the job's second Bronze table")
    _wait_until(lambda: _json(worker_2)["executors"], 120, "an executor on spark-worker-2")
    killed = subprocess.run(["docker", "kill", compose_lab.container("spark-worker-2")], check=False)
    assert killed.returncode == 0
    code = job.wait(timeout_s=1200)
    assert code == 0, "\n".join(job.stdout[-20:] + job.stderr[-20:])
    assert job.saw(r"reconciled"), job.stdout[-5:]
    # Bring the worker back for the tests after this one.
    back = compose_lab.compose("up", "--detach", "--wait", "spark-worker-2")
    assert back.returncode == 0, back.stderr
    _wait_until(lambda: len(_alive_workers(compose_lab)) == 2, 120, "two ALIVE workers again")


def test_minio_stopped_mid_write_fails_in_one_line_without_a_partial_commit(
    compose_lab: ComposeLab,
) -> None:
    warehouse = "s3a://lakelab/tests/minio-stopped"
    job = Job(compose_lab, *FAULT_RUN, "--warehouse", warehouse)
    _wait_until(job.mid_bronze, 600, "the job's second Bronze table")
    stopped = compose_lab.compose("kill", "minio")
    assert stopped.returncode == 0, stopped.stderr
    try:
        code = job.wait(timeout_s=600)
    finally:
        restarted = compose_lab.compose("up", "--detach", "--wait", "minio")
    assert restarted.returncode == 0, restarted.stderr
    assert code != 0
    errors = [line for line in job.stderr if line.startswith("lakelab")]
    assert len(errors) == 1, job.stderr[-10:]
    assert "minio:9000" in errors[0] or "S3" in errors[0], errors[0]
    assert not [line for line in job.stderr if line.startswith("\tat ") or "Traceback" in line]
    # Every Delta table under the warehouse ends on a whole commit: each log entry is JSON
    # whose last action is `commitInfo`-complete, and re-running gets to the same tables.
    from cluster import s3

    endpoint = s3.S3Endpoint(
        f"http://127.0.0.1:{TEST_PORTS['minio']}",
        "us-east-1",
        compose_lab.env["LAKELAB_S3_ACCESS_KEY"],
        compose_lab.env["LAKELAB_S3_SECRET_KEY"],
    )
    logs = [key for key in s3.list_keys(endpoint, "lakelab", "tests/minio-stopped/") if "/_delta_log/" in key]
    assert not [key for key in logs if key.endswith(".tmp") or "/_delta_log/." in key]
    rerun = Job(compose_lab, *FAULT_RUN, "--warehouse", warehouse)
    assert rerun.wait(timeout_s=1200) == 0, "\n".join(rerun.stdout[-20:] + rerun.stderr[-20:])
    assert rerun.saw(r"reconciled")


def test_the_prometheus_image_checks_the_lab_config_with_testcontainers(compose_lab: ComposeLab) -> None:
    """testcontainers runs the lab's own Prometheus image's promtool on prometheus.yml."""
    # Ryuk, testcontainers' reaper, is an image on a registry; the container is removed by
    # the `with` block instead. testcontainers reads this when it is first imported.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer("lakelab/prometheus:2.42.0")
        .with_volume_mapping(str(REPO / "prometheus"), "/etc/prometheus", "ro")
        .with_kwargs(entrypoint="/usr/bin/promtool")
        .with_command("check config /etc/prometheus/prometheus.yml")
    )
    with container:
        result = container.get_wrapped_container().wait(timeout=120)
        logs = container.get_wrapped_container().logs().decode()
    assert result["StatusCode"] == 0, logs
    assert "SUCCESS" in logs and "alerts.yml" in logs


def test_a_container_killed_for_memory_is_reported(compose_lab: ComposeLab) -> None:
    """A process that outgrows spark-worker-1's limit is killed by the kernel; status says so."""
    limit = compose_lab.env["LAKELAB_MEM_WORKER"]
    from cluster.compose import parse_size

    grab = parse_size(limit, "LAKELAB_MEM_WORKER") + 2**30
    hog = compose_lab.compose(
        "exec", "-T", "spark-worker-1", "python", "-c", f"b = bytearray({grab}); print(len(b))"
    )
    assert hog.returncode == 137, (hog.returncode, hog.stdout, hog.stderr)

    def worker_state() -> str:
        status = compose_lab.lakelab("cluster", "status")
        line = next(line for line in status.stdout.splitlines() if line.startswith("spark-worker-1 "))
        return line.split()[-1] if status.returncode == 1 else "status exited 0"

    # The engine publishes the container's `oom` event a moment after the kill.
    _wait_until(lambda: worker_state() == "oom-killed", 60, "status to show spark-worker-1 oom-killed")


def test_down_volumes_leaves_nothing(compose_lab: ComposeLab) -> None:
    down = compose_lab.lakelab("cluster", "down", "--volumes")
    assert down.returncode == 0, down.stdout + down.stderr
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind in ("ps -a", "volume ls", "network ls"):
        left = subprocess.run(
            ["docker", *kind.split(), "--filter", label, "-q"], capture_output=True, text=True, check=False
        )
        assert left.stdout.strip() == "", f"docker {kind}: {left.stdout}"
    assert compose_lab.lakelab("cluster", "status").returncode == 1
