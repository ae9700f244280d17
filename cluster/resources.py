"""CPU and memory of the lab's services while something runs on them.

`sample(config)` measures each service once: psutil over each process group in the
native lab (a worker's figures include its executors, which are its children),
the docker SDK's container stats in compose. `ResourceSampler` samples in a
background thread between `begin()` and `end()` and summarises peak and mean per
service, which is what the harness records next to its timings.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from cluster.state import StateDir, group_members, process_if_alive
from lakelab.config import LakelabConfig


@dataclass(frozen=True)
class ServiceResources:
    """One service at one moment.

    `cpu_percent` is in percent of one core (200 = two cores busy), summed over the
    service's processes; `rss_bytes` is resident memory (compose: the container's
    memory use without page cache).
    """

    service: str
    cpu_percent: float
    rss_bytes: int
    processes: int


def _group(pid: int) -> list[psutil.Process]:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return []
    return group_members(pgid)


def _native_sample(config: LakelabConfig, interval_s: float) -> dict[str, ServiceResources]:
    state = StateDir(config.cluster)
    groups: dict[str, list[psutil.Process]] = {}
    for record in state.pid_records():
        process = process_if_alive(record)
        if process is not None:
            groups[record.service] = _group(process.pid)
    # psutil's cpu_percent compares with the previous call on the same object: prime, wait, read.
    for members in groups.values():
        for member in members:
            try:
                member.cpu_percent(None)
            except psutil.NoSuchProcess:
                continue
    time.sleep(interval_s)
    result = {}
    for service, members in groups.items():
        cpu, rss, alive = 0.0, 0, 0
        for member in members:
            try:
                cpu += member.cpu_percent(None)
                rss += member.memory_info().rss
                alive += 1
            except psutil.NoSuchProcess:
                continue
        result[service] = ServiceResources(service, round(cpu, 1), rss, alive)
    return result


def _container_figures(stats: dict[str, Any]) -> tuple[float, int]:
    """CPU percent (of one core) and memory without page cache from one stats answer."""
    cpu = stats.get("cpu_stats", {})
    pre = stats.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    percent = 100.0 * cores * cpu_delta / system_delta if system_delta > 0 and cpu_delta > 0 else 0.0
    memory = stats.get("memory_stats", {})
    # cgroup v2 reports inactive_file, v1 total_inactive_file: page cache the kernel can drop.
    cache = memory.get("stats", {}).get(
        "inactive_file", memory.get("stats", {}).get("total_inactive_file", 0)
    )
    return round(percent, 1), max(0, int(memory.get("usage", 0)) - int(cache))


def _compose_sample(config: LakelabConfig) -> dict[str, ServiceResources]:
    import docker

    client = docker.from_env(timeout=10)
    try:
        label = f"com.docker.compose.project={config.cluster.compose_project}"
        result = {}
        for container in client.containers.list(filters={"label": label}):
            service = container.labels.get("com.docker.compose.service", container.name)
            cpu, memory = _container_figures(container.stats(stream=False))
            result[service] = ServiceResources(service, cpu, memory, 1)
        return result
    finally:
        client.close()


def sample(config: LakelabConfig, interval_s: float = 0.5) -> dict[str, ServiceResources]:
    """CPU and memory of every running service of the lab, by service name.

    Args:
        config: The whole config; `cluster.state_dir` says which lab (native or compose) is up.
        interval_s: How long CPU use is measured over (native lab).

    Returns:
        An empty mapping when no lab is up.
    """
    mode = StateDir(config.cluster).read_mode()
    if mode == "compose":
        return _compose_sample(config)
    if mode == "native":
        return _native_sample(config, interval_s)
    return {}


class ResourceSampler:
    """Samples the lab every `every_s` seconds in a thread between `begin()` and `end()`."""

    def __init__(self, config: LakelabConfig, every_s: float = 2.0) -> None:
        self.config = config
        self.every_s = every_s
        self.samples: list[tuple[float, dict[str, ServiceResources]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.samples.append((time.time(), sample(self.config, interval_s=min(0.5, self.every_s))))
            self._stop.wait(max(0.0, self.every_s - (time.monotonic() - started)))

    def begin(self) -> ResourceSampler:
        """Start sampling."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lakelab-resources", daemon=True)
        self._thread.start()
        return self

    def end(self) -> dict[str, dict[str, float]]:
        """Stop sampling and return the summary (see `summary`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.summary()

    def summary(self) -> dict[str, dict[str, float]]:
        """Per service: samples, mean and peak CPU percent, mean and peak RSS in MB."""
        by_service: dict[str, list[ServiceResources]] = {}
        for _, moment in self.samples:
            for service, figure in moment.items():
                by_service.setdefault(service, []).append(figure)
        summary = {}
        for service, series in sorted(by_service.items()):
            cpus = [figure.cpu_percent for figure in series]
            rss = [figure.rss_bytes / 1e6 for figure in series]
            summary[service] = {
                "samples": float(len(series)),
                "cpu_percent_mean": round(sum(cpus) / len(cpus), 1),
                "cpu_percent_peak": max(cpus),
                "rss_mb_mean": round(sum(rss) / len(rss), 1),
                "rss_mb_peak": round(max(rss), 1),
            }
        return summary

    def rows(self) -> list[dict[str, Any]]:
        """Every sample as a flat row (time, service, figures), e.g. for a DataFrame."""
        return [{"time": at, **asdict(figure)} for at, figures in self.samples for figure in figures.values()]
