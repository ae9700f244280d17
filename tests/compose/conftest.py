"""The compose lab, started for real once for the tests in this folder.

`compose_lab` finds a Docker engine or starts one (as root, Debian's docker.io), makes
the Debian base image CI builds on when no registry answers, brings the lab up with
`lakelab cluster up --mode compose` (which runs `docker compose up --build --wait`) on
ports no user's lab uses, and at the end takes it down with `down --volumes` and stops the
engine it started, restoring the host's firewall rules. Where no engine can be had, every
test here skips with the reason (in CI as root, where one can, that is a failure).

All compose tests live in one module so `pytest -n 2 --dist loadscope` runs them, and
this one lab, on one worker.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cluster import engine
from lakelab.paths import bin_dir

REPO = Path(__file__).resolve().parents[2]
PROJECT = "lakelab-test"
# Shifted from the defaults (9000 -> 29000, ...) so a user's own lab can keep running, and
# apart from the native lab's test ports (1xxxx) that another test worker may use meanwhile.
TEST_PORTS = {
    "spark_master": 27077,
    "spark_master_ui": 28080,
    "spark_worker_ui": 28081,
    "spark_connect": 25002,
    "spark_connect_ui": 24041,
    "minio": 29000,
    "minio_console": 29001,
    "prometheus": 29090,
    "alertmanager": 29093,
    "grafana": 23000,
    "driver_ui": 24040,
    "exporter": 29108,
}
HOST_CA_FOLDER = Path("/usr/local/share/ca-certificates")
# The uid that owns the reports folder the jobs write to: not root, not the image's user.
REPORTS_OWNER = 4321


@dataclass
class ComposeLab:
    """The running lab and what the tests need to talk to it."""

    config_file: Path
    env: dict[str, str]
    reports: Path
    state_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{TEST_PORTS['prometheus']}"

    @property
    def master_ui(self) -> str:
        return f"http://127.0.0.1:{TEST_PORTS['spark_master_ui']}"

    def run(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """`command` in the repository with the lab's environment, its output captured."""
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=REPO, check=False
        )

    def lakelab(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`lakelab --config <test config> ARGS` on the host, as a user types it."""
        lakelab = str(Path(sys.executable).with_name("lakelab"))
        return self.run([lakelab, "--config", str(self.config_file), *args], timeout)

    def shell(self, command: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """A command line exactly as the docs give it, run in the repository with the lab's env."""
        return subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=REPO
        )

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`docker compose ARGS` for the test project."""
        return self.run(["docker", "compose", *args], timeout)

    def popen(self, command: list[str]) -> subprocess.Popen[str]:
        """A command in the background, its output read line by line."""
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=REPO,
        )

    def container(self, service: str) -> str:
        """The container name compose gives a service's first replica."""
        return f"{PROJECT}-{service}-1"


def _config_text(state_dir: Path) -> str:
    ports = "\n".join(f"{key} = {value}" for key, value in TEST_PORTS.items())
    return (
        "# The compose tests' lab: its own project name, ports and state dir.\n"
        "[cluster]\n"
        'mode = "compose"\n'
        f'compose_project = "{PROJECT}"\n'
        f'state_dir = "{state_dir}"\n'
        "health_timeout_s = 300.0\n"
        "[cluster.ports]\n"
        f"{ports}\n"
    )


@pytest.fixture(scope="session")
def compose_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeLab]:
    """The compose lab, up for every test here, down (with its volumes) at the end."""
    root = tmp_path_factory.mktemp("compose")
    reason = None
    started_engine: engine.Engine | None = None
    try:
        started_engine = engine.find_or_start(root / "engine", progress=_say)
    except engine.EngineUnavailableError as error:
        reason = str(error)
    if reason is not None:
        if os.environ.get("CI") == "true" and os.geteuid() == 0 and shutil.which("apt-get"):
            pytest.fail(f"compose lab unavailable in CI (root, apt): {reason}")
        pytest.skip(f"compose lab: {reason}")
    assert started_engine is not None
    timings: dict[str, float] = {}
    try:
        env = dict(os.environ)
        env.update(
            COMPOSE_PROJECT_NAME=PROJECT,
            LAKELAB_S3_ACCESS_KEY="lakelab-test",
            LAKELAB_S3_SECRET_KEY=secrets.token_hex(16),
            GRAFANA_ADMIN_PASSWORD=secrets.token_hex(8),
        )
        if "LAKELAB_DEBIAN_IMAGE" not in env:
            started = time.perf_counter()
            # No registry here: the base is a debootstrap of the release the official image has.
            engine.ensure_base_image(progress=_say)
            timings["base image"] = time.perf_counter() - started
            env["LAKELAB_DEBIAN_IMAGE"] = engine.BASE_IMAGE
        prebuilt = bin_dir() / "minio"
        if "LAKELAB_MINIO_BINARY" not in env and prebuilt.is_file():
            (REPO / "build").mkdir(exist_ok=True)
            shutil.copy2(prebuilt, REPO / "build" / "minio")
            env["LAKELAB_MINIO_BINARY"] = "prebuilt"
        if "LAKELAB_EXTRA_CA_CERTS" not in env and any(HOST_CA_FOLDER.glob("*.crt")):
            # What this host trusts (a TLS-re-signing proxy's CA), the images trust too.
            env["LAKELAB_EXTRA_CA_CERTS"] = str(HOST_CA_FOLDER)
        reports = root / "reports"
        reports.mkdir()
        if os.geteuid() == 0:
            os.chown(reports, REPORTS_OWNER, REPORTS_OWNER)
        env["LAKELAB_REPORTS_DIR"] = str(reports)
        state_dir = root / "state"
        config_file = root / "lakelab.toml"
        config_file.write_text(_config_text(state_dir), encoding="utf-8")
        lab = ComposeLab(config_file, env, reports, state_dir, timings)
        # Everything `docker compose` needs beyond the secrets: the same values `up` derives.
        from cluster.compose import compose_env, host_memory_bytes
        from lakelab.config import load_config

        lab.env.update(compose_env(load_config(config_file), lab.env, host_memory_bytes()))
        # A run killed before its teardown leaves the project's volumes (a landing in MinIO
        # the sweep would reuse instead of generating): every lab here starts empty.
        _down_volumes()
        started = time.perf_counter()
        up = lab.lakelab("cluster", "up", "--mode", "compose", timeout=1800)
        timings["cluster up (build + up --wait)"] = time.perf_counter() - started
        _say(up.stdout + up.stderr)
        assert up.returncode == 0, f"lakelab cluster up failed:\n{up.stdout}\n{up.stderr}"
        yield lab
    finally:
        try:
            _teardown(root, timings)
        finally:
            engine.stop(started_engine)


def _teardown(root: Path, timings: dict[str, float]) -> None:
    """`down --volumes` whatever a test left; the last test checks that it leaves nothing."""
    _down_volumes()
    if timings:
        figures = ", ".join(f"{name} {seconds:.0f}s" for name, seconds in timings.items())
        _say(f"compose lab timings: {figures}")


def _down_volumes() -> None:
    subprocess.run(
        ["docker", "compose", "-p", PROJECT, "--profile", "*", "down", "--volumes", "--remove-orphans"],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, **_dummy_secrets()},
        check=False,
        timeout=300,
    )


def _dummy_secrets() -> dict[str, str]:
    # `down` interpolates the whole file, so `${VAR:?}` secrets must be set even to remove it.
    return {
        "LAKELAB_S3_ACCESS_KEY": "x" * 8,
        "LAKELAB_S3_SECRET_KEY": "x" * 8,
        "GRAFANA_ADMIN_PASSWORD": "x" * 8,
    }


def _say(text: Any) -> None:
    print(text, file=sys.stderr, flush=True)
