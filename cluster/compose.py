"""The compose lab: `docker compose` over compose.yaml, and whether an engine answers."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from cluster.native import REPO_ROOT, ServiceStatus
from cluster.state import StateDir
from lakelab.config import LakelabConfig
from lakelab.errors import UserError


def engine_answers(timeout_s: float = 3.0) -> bool:
    """True when a Docker engine answers a ping (through the docker SDK)."""
    try:
        import docker

        client = docker.from_env(timeout=int(max(1, timeout_s)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # the SDK raises several unrelated types when no engine is there
        return False


def _compose_command(config: LakelabConfig, *args: str) -> list[str]:
    if shutil.which("docker") is None:
        raise UserError("docker CLI not found on PATH; install Docker or use `--mode native`")
    compose_file = Path(config.cluster.compose_file)
    if not compose_file.is_absolute():
        compose_file = REPO_ROOT / compose_file
    if not compose_file.exists():
        raise UserError(f"{compose_file}: compose file not found (cluster.compose_file)")
    command = ["docker", "compose", "-f", str(compose_file), "-p", config.cluster.compose_project]
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        command += ["--env-file", str(env_file)]
    return [*command, *args]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
        raise UserError(f"`{' '.join(command[:2])} {' '.join(command[6:])}` failed: {reason}")
    return result


def up(config: LakelabConfig, progress: Callable[[str], None] = print) -> list[ServiceStatus]:
    """`docker compose up --build --wait`: returns when every healthcheck passes."""
    progress("cluster: docker compose up (builds the lakelab image the first time)")
    timeout = str(int(config.cluster.health_timeout_s * 3))
    _run(_compose_command(config, "up", "--detach", "--build", "--wait", "--wait-timeout", timeout))
    StateDir(config.cluster).mode_file.write_text("compose\n", encoding="utf-8")
    return status(config)


def down(config: LakelabConfig, progress: Callable[[str], None] = print) -> int:
    """`docker compose down` (volumes kept); return how many containers were running."""
    running = sum(1 for row in status(config) if row.state != "stopped")
    _run(_compose_command(config, "down"))
    StateDir(config.cluster).mode_file.unlink(missing_ok=True)
    progress(f"cluster: docker compose down ({running} containers were running)")
    return running


def status(config: LakelabConfig) -> list[ServiceStatus]:
    """Each compose service with its container's pid, first published port and health."""
    result = _run(_compose_command(config, "ps", "--all", "--format", "json"))
    rows = []
    for line in result.stdout.splitlines():
        if not line.strip():
            continue
        container = json.loads(line)
        publishers = container.get("Publishers") or []
        port = next((int(p["PublishedPort"]) for p in publishers if p.get("PublishedPort")), 0)
        health = container.get("Health") or ""
        running = container.get("State") == "running"
        state = "stopped" if not running else ("healthy" if health in ("", "healthy") else health)
        rows.append(ServiceStatus(container.get("Service", container.get("Name", "?")), None, port, state))
    return rows
