"""Helpers for the observability tests: external tools and free loopback ports."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = Path("/usr/bin/promtool")
PROMETHEUS = Path("/usr/bin/prometheus")
MINIO = Path.home() / ".cache" / "lakelab" / "bin" / "minio"


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
