"""Helpers for the observability tests: external tools and free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakelab.paths import bin_dir

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = Path("/usr/bin/promtool")
PROMETHEUS = Path("/usr/bin/prometheus")
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
STARTUP_TIMEOUT = 120.0
# Where cluster/install-services.sh puts the MinIO it builds (LAKELAB_CACHE moves it).
MINIO = bin_dir() / "minio"


def in_ci() -> bool:
    """True on CI, where a missing tool is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def require(tool: Path, how_to_get: str) -> Path:
    """Return `tool`, or fail on CI / skip elsewhere with a reason naming how to get it."""
    if tool.exists():
        return tool
    reason = f"{tool} is missing ({how_to_get})"
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose_mounts(service: str) -> dict[str, Path]:
    """Container path -> repo path of a compose service's bind mounts ({} without compose.yaml)."""
    compose = REPO / "compose.yaml"
    if not compose.exists():
        return {}
    spec = yaml.safe_load(compose.read_text()).get("services", {}).get(service, {})
    mounts = {}
    for volume in spec.get("volumes", []):
        if isinstance(volume, str) and volume.count(":") >= 1:
            source, target = volume.split(":")[:2]
        elif isinstance(volume, dict) and volume.get("type") == "bind":
            source, target = volume["source"], volume["target"]
        else:
            continue
        if source.startswith("."):
            mounts[target.rstrip("/")] = (REPO / source).resolve()
    return mounts


def host_path(path: str, relative_to: Path, service: str) -> Path:
    """Where a path in a service's config lives in the repo (via its compose bind mounts)."""
    if not path.startswith("/"):
        return relative_to / path
    for target, source in compose_mounts(service).items():
        if path.startswith(target + "/"):
            return source / path[len(target) + 1 :]
    return Path(path)


def start(
    command: list[str], log: Path, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """Start a process in its own session (so its children stop with it), output to `log`."""
    handle = log.open("w")
    return subprocess.Popen(
        command,
        stdout=kwargs.pop("stdout", handle),
        stderr=handle,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        text=True,
        **kwargs,
    )


def stop(process: subprocess.Popen[str], grace: float = 15.0) -> None:
    """Terminate a process group this test started, then kill it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for(what: Any, check: Any, lab_logs: Path, timeout: float = STARTUP_TIMEOUT) -> Any:
    """Poll `check()` until it returns something truthy; fail naming `what` (or what it returns)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # services answer with errors while they start
            last_error = error
        time.sleep(0.5)
    tails = "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        for log in sorted(lab_logs.glob("*.log"))
    )
    name = what() if callable(what) else what
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {name} (last error: {last_error})\n{tails}")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)
