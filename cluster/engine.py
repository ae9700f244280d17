"""A Docker engine for the compose lab: one that answers, or one started here and stopped again.

On a laptop with Docker Desktop or a system dockerd, `find_or_start` only finds it. On a
machine where we are root and Debian's `docker.io` is installed but no daemon runs (CI
here), it starts `dockerd` in the background, and `stop` ends it by its pid and puts back
what the daemon changed on the host: iptables rules (it sets FORWARD to DROP and adds NAT
chains), IP forwarding and the `docker0` bridge. Where neither works, `EngineUnavailableError`
says why in one line, and the compose tests skip with that line.

The base image CI builds on (`local/debian:bookworm`) is made from Debian's packages with
debootstrap, because no image registry is reachable there (`ensure_base_image`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASE_IMAGE = "local/debian:bookworm"
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SOCKET = "/var/run/docker.sock"


class EngineUnavailableError(Exception):
    """No engine answers and none can be started here; the message says why."""


@dataclass
class Engine:
    """The engine in use; `pid` is set only when this process started it."""

    pid: int | None
    log: Path | None
    iptables_before: str | None = None
    ip_forward_before: str | None = None
    bridge_existed: bool = True

    @property
    def started_here(self) -> bool:
        """True when `stop` should end it."""
        return self.pid is not None


def answers(timeout_s: float = 3.0) -> bool:
    """True when `docker version` reaches a daemon."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def installed_compose_version() -> str | None:
    """`docker compose version --short` as printed (`2.40.3`, `v2.1.0`, `1.29.2`), or None."""
    if shutil.which("docker") is None:
        return None
    try:
        command = ["docker", "compose", "version", "--short"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def compose_version() -> str | None:
    """The Compose v2 version (e.g. `2.40.3`), or None without the v2 plugin."""
    version = (installed_compose_version() or "").lstrip("v")
    return version if re.match(r"^2\.\d+", version) else None


def why_not_startable() -> str | None:
    """None when `dockerd` can be started here, else the reason in one line."""
    if shutil.which("docker") is None:
        return "no `docker` CLI on PATH (install Docker, or use the native lab)"
    if shutil.which("dockerd") is None:
        return "no Docker engine answers and `dockerd` is not installed (Debian: apt-get install docker.io)"
    if os.geteuid() != 0:
        return "no Docker engine answers and starting `dockerd` needs root (start Docker yourself)"
    if compose_version() is None:
        return "`docker compose` v2 is not installed (make services builds it where it can)"
    return None


def _ip_forward() -> str | None:
    try:
        return Path("/proc/sys/net/ipv4/ip_forward").read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _iptables_save() -> str | None:
    if shutil.which("iptables-save") is None:
        return None
    result = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else None


def _bridge_exists(name: str = "docker0") -> bool:
    return Path("/sys/class/net", name).exists()


def find_or_start(log_dir: Path, timeout_s: float = 60.0, progress: Callable[[str], None] = print) -> Engine:
    """An engine that answers: the running one, or `dockerd` started here.

    Raises:
        EngineUnavailableError: None answers and one cannot be started (the reason in one line).
    """
    if answers():
        if compose_version() is None:
            raise EngineUnavailableError("a Docker engine answers but `docker compose` v2 is not installed")
        return Engine(pid=None, log=None)
    reason = why_not_startable()
    if reason:
        raise EngineUnavailableError(reason)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "dockerd.log"
    engine = Engine(
        pid=None,
        log=log,
        iptables_before=_iptables_save(),
        ip_forward_before=_ip_forward(),
        bridge_existed=_bridge_exists(),
    )
    progress(f"engine: starting dockerd (log {log})")
    with log.open("ab") as sink:
        process = subprocess.Popen(
            ["dockerd", "--host", f"unix://{SOCKET}"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    engine.pid = process.pid
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _last_line(log)
            stop(engine)
            raise EngineUnavailableError(f"dockerd exited with code {process.returncode}: {tail} (log {log})")
        if answers(timeout_s=2.0):
            progress(f"engine: dockerd {process.pid} answers")
            return engine
        time.sleep(0.5)
    stop(engine)
    raise EngineUnavailableError(f"dockerd did not answer within {timeout_s:.0f}s (log {log})")


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line]
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def iptables_restore_input(before: str) -> str:
    """What to feed `iptables-restore` to put back `before` (an `iptables-save` output).

    `iptables-restore` flushes every table it is given, user chains included; a table that
    had no rules before dockerd came is given empty, with ACCEPT policies.
    """
    defaults = {
        "filter": ":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
        "nat": (
            ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
        ),
    }
    text = before if not before or before.endswith("\n") else before + "\n"
    for table, chains in defaults.items():
        if not re.search(rf"^\*{table}$", before, flags=re.MULTILINE):
            text += f"*{table}\n{chains}COMMIT\n"
    return text


def _restore_iptables(before: str) -> None:
    restore = iptables_restore_input(before)
    subprocess.run(["iptables-restore"], input=restore, text=True, capture_output=True, check=False)


def stop(engine: Engine, timeout_s: float = 30.0) -> None:
    """End a dockerd started here (and its containerd) and restore the host; no-op otherwise."""
    if engine.pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(engine.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(engine.pid):
        time.sleep(0.3)
    if _alive(engine.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(engine.pid, signal.SIGKILL)
    # dockerd starts its own containerd in its process group; anything left there goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(engine.pid, signal.SIGKILL)
    if engine.iptables_before is not None:
        _restore_iptables(engine.iptables_before)
    if engine.ip_forward_before is not None:
        with contextlib.suppress(OSError):
            Path("/proc/sys/net/ipv4/ip_forward").write_text(
                engine.ip_forward_before + "\n", encoding="utf-8"
            )
    if not engine.bridge_existed and _bridge_exists():
        subprocess.run(["ip", "link", "delete", "docker0"], capture_output=True, check=False)
    engine.pid = None


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def image_exists(name: str) -> bool:
    """True when the engine has image `name`."""
    result = subprocess.run(["docker", "image", "inspect", name], capture_output=True, check=False)
    return result.returncode == 0


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (deb822 `URIs:` or a `deb` line)."""
    candidates = sorted((sources_dir / "sources.list.d").glob("*.sources"))
    for path in candidates:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^URIs:\s*(\S+)", line.strip())
            if match and "security" not in match.group(1):
                return match.group(1)
    legacy = [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob("*.list"))]
    for path in legacy:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
            if match and "security" not in match.group(1):
                return match.group(1)
    return DEFAULT_MIRROR


def ensure_base_image(name: str = BASE_IMAGE, progress: Callable[[str], None] = print) -> bool:
    """Build `name` from Debian's packages with debootstrap unless the engine has it.

    Returns True when it was built now.

    Raises:
        EngineUnavailableError: debootstrap is missing or failed.
    """
    if image_exists(name):
        return False
    if shutil.which("debootstrap") is None:
        raise EngineUnavailableError(f"base image {name} missing and debootstrap is not installed")
    mirror = apt_mirror()
    started = time.monotonic()
    progress(f"engine: building {name} with debootstrap from {mirror} (about a minute, once)")
    with tempfile.TemporaryDirectory(prefix="lakelab-rootfs-") as root:
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, root, mirror],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise EngineUnavailableError(f"debootstrap failed: {tail[0]}")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "-", name], stdin=tar.stdout, capture_output=True, text=True, check=False
        )
        tar.wait()
        if imported.returncode != 0:
            raise EngineUnavailableError(f"docker import of {name} failed: {imported.stderr.strip()[-200:]}")
    progress(f"engine: {name} built in {time.monotonic() - started:.0f}s")
    return True
