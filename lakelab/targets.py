"""Tell Prometheus where a running command's driver UI and harness exporter are (file_sd).

In the compose lab, jobs run in `docker compose run` containers: they have no DNS name that
Prometheus could be configured with in advance, and their IP changes with every run. So each
command, while it runs, writes Prometheus file_sd target files with its IP into
`[metrics] scrape_targets_dir` (a folder Prometheus watches) and removes them when it ends.
Prometheus's jobs select the files by prefix: `driver-*.json` for the driver's UI (jobs
`spark-driver` and `spark-executors`), `harness-*.json` for the exporter (job `harness`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakelab.config import LakelabConfig

DRIVER_PREFIX = "driver-"
"""File name prefix of a driver UI's target files (Prometheus jobs `spark-driver`, `spark-executors`)."""

HARNESS_PREFIX = "harness-"
"""File name prefix of a harness exporter's target files (Prometheus job `harness`)."""

ADVERTISE_HOST_ENV = "LAKELAB_ADVERTISE_HOST"
"""Overrides the address written into target files (default: this host name's address)."""

# An exporter bound to one of these listens everywhere: Prometheus reaches it by our address.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")

TargetGroups = list[dict[str, Any]]


def advertise_host() -> str:
    """The address other containers reach this one by: `$LAKELAB_ADVERTISE_HOST`, else the host name's.

    Raises:
        OSError: the host name does not resolve.
    """
    return os.environ.get(ADVERTISE_HOST_ENV) or socket.gethostbyname(socket.gethostname())


def scrape_target(host: str, port: int) -> str:
    """`host:port` as Prometheus takes it, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def target_groups(target: str, command: str, instance_name: str) -> TargetGroups:
    """One file_sd file's content: a single target with lakelab's labels."""
    return [{"targets": [target], "labels": {"lakelab_command": command, "instance_name": instance_name}}]


def target_files(
    config: LakelabConfig,
    command: str,
    host: str,
    hostname: str,
    pid: int,
    exporter_port: int | None,
) -> dict[str, TargetGroups]:
    """File name → content of the files that register this process; pure.

    Args:
        config: `spark.ui_port` (no driver file when the UI is off) and `metrics.exporter_host`.
        command: the lakelab subcommand, for the `lakelab_command` label.
        host: the address Prometheus reaches this process by (`advertise_host()`).
        hostname: this machine's (container's) name, in file names and the `instance_name` label.
        pid: this process's id, so two commands in one container do not share a file.
        exporter_port: the port of the harness exporter this command runs, None when it runs none.
    """
    stem = f"{re.sub(r'[^A-Za-z0-9._-]', '_', hostname)}-{pid}.json"
    files: dict[str, TargetGroups] = {}
    if config.spark.ui_enabled:
        files[DRIVER_PREFIX + stem] = target_groups(
            scrape_target(host, config.spark.ui_port), command, hostname
        )
    # Port 0 asks the OS for a free port, which is only known once the exporter listens.
    if exporter_port is not None and exporter_port > 0:
        bound = config.metrics.exporter_host
        exporter_host = host if bound in WILDCARD_HOSTS else bound
        files[HARNESS_PREFIX + stem] = target_groups(
            scrape_target(exporter_host, exporter_port), command, hostname
        )
    return files


def command_exporter_port(config: LakelabConfig, args: argparse.Namespace) -> int | None:
    """The port a command's harness exporter listens on, or None.

    Only commands with an `--exporter-port` option (sweep, demo) run the exporter; for them
    the option wins over `[metrics] exporter_port`.
    """
    if not hasattr(args, "exporter_port"):
        return None
    port: int | None = args.exporter_port
    return port if port is not None else config.metrics.exporter_port


def _warn(message: str) -> None:
    print(f"lakelab: warning: {message}", file=sys.stderr)


def _write_atomically(path: Path, groups: TargetGroups) -> Path:
    """Write via a hidden temporary file and a rename, so Prometheus never reads half a file."""
    # The temporary name starts with a dot and ends in .tmp: no job's `*-*.json` glob matches it.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(groups, file, indent=2)
            file.write("\n")
        # mkstemp makes the file private; Prometheus reads it as another user.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM (`docker stop`, `docker compose down`) into SystemExit while inside.

    Its default would end the process without running the cleanup below, or, for a
    container's PID 1, be ignored until Docker kills the process 10 s later.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # someone chose a handler already; leave it alone
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def registered_targets(
    config: LakelabConfig, command: str, exporter_port: int | None = None
) -> Iterator[list[Path]]:
    """Keep this process's file_sd target files in `metrics.scrape_targets_dir` while inside.

    A no-op when the setting is None. The files go on exit, an exception or Ctrl-C (and
    SIGTERM) included. Metrics are not worth failing a run for: when the folder cannot be
    written or the host name does not resolve, one warning line on stderr, and the command
    runs unregistered.

    Args:
        config: the command's config.
        command: the lakelab subcommand, for the `lakelab_command` label.
        exporter_port: the port of the harness exporter the command runs
            (`command_exporter_port`), None when it runs none.

    Yields:
        The files written.
    """
    directory = config.metrics.scrape_targets_dir
    if directory is None:
        yield []
        return
    written: list[Path] = []
    try:
        hostname = socket.gethostname()
        files = target_files(config, command, advertise_host(), hostname, os.getpid(), exporter_port)
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        for name, groups in files.items():
            written.append(_write_atomically(folder / name, groups))
    except OSError as error:
        _warn(f"cannot register scrape targets in {directory}: {error}; Prometheus will not see this run")
    try:
        with _sigterm_as_exit() if written else nullcontext():
            yield written
    finally:
        for path in written:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                _warn(f"cannot remove scrape target {path}: {error}")
