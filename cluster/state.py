"""The cluster lab's state directory: pid files, logs, rendered configs, data.

One folder (`cluster.state_dir`) holds everything a running lab leaves on disk, so
`down` knows what to stop and a user knows where to look:

    pids/<service>.json   pid, its start time and port (a pid alone can be reused)
    logs/<service>.log    each process's stdout and stderr
    spark-conf/           SPARK_CONF_DIR: metrics.properties for PrometheusServlet
    connect.properties    Spark Connect's settings, mode 0600 (it holds the S3 secret)
    prometheus/           rendered prometheus.yml and its TSDB
    alertmanager/         Alertmanager's silences and notification log
    minio/                MinIO's data
    work/<worker>/        Spark workers' work dirs (executor logs)
    mode                  `native` or `compose`: which lab `status` and `down` talk to
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from cluster.config import ClusterConfig


@dataclass(frozen=True)
class PidRecord:
    """What `up` wrote about one started process."""

    service: str
    pid: int
    create_time: float
    port: int


class StateDir:
    """Paths inside the state directory, and the pid files."""

    def __init__(self, config: ClusterConfig) -> None:
        self.root = Path(config.state_dir).resolve()

    def path(self, *parts: str) -> Path:
        """A path under the state dir (parents created)."""
        target = self.root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def log(self, service: str) -> Path:
        """The log file of `service`."""
        return self.path("logs", f"{service}.log")

    def _pid_file(self, service: str) -> Path:
        return self.path("pids", f"{service}.json")

    def write_pid(self, service: str, pid: int, port: int) -> PidRecord:
        """Record a started process."""
        record = PidRecord(service, pid, psutil.Process(pid).create_time(), port)
        self._pid_file(service).write_text(json.dumps(record.__dict__), encoding="utf-8")
        return record

    def read_pid(self, service: str) -> PidRecord | None:
        """The record of `service`, or None when it was never started or was stopped."""
        try:
            data = json.loads(self._pid_file(service).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return PidRecord(**data)

    def forget_pid(self, service: str) -> None:
        """Remove the record of `service`."""
        self._pid_file(service).unlink(missing_ok=True)

    def pid_records(self) -> list[PidRecord]:
        """Every recorded process."""
        folder = self.root / "pids"
        if not folder.is_dir():
            return []
        records = [self.read_pid(path.stem) for path in sorted(folder.glob("*.json"))]
        return [record for record in records if record is not None]

    def live_process(self, service: str) -> psutil.Process | None:
        """The recorded process of `service` if it is still the same process and alive."""
        record = self.read_pid(service)
        if record is None:
            return None
        return process_if_alive(record)

    @property
    def mode_file(self) -> Path:
        """Which lab is up: `native` or `compose`."""
        return self.path("mode")

    def read_mode(self) -> str | None:
        """The mode recorded by the last `up`, if any."""
        try:
            return self.mode_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None


def process_if_alive(record: PidRecord) -> psutil.Process | None:
    """The process of `record`, unless it ended or its pid now belongs to another process."""
    try:
        process = psutil.Process(record.pid)
        # Start times are floats rounded differently across reads; a second is plenty.
        if abs(process.create_time() - record.create_time) > 1.0:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.NoSuchProcess:
        return None


def group_members(pgid: int) -> list[psutil.Process]:
    """Every live process in process group `pgid` (a service and the children it started)."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members
