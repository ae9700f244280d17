"""Prometheus scrape jobs of the lab, declared once for both of its forms.

`scrape_jobs(hosts)` lists what Prometheus scrapes; the native lab renders it with
127.0.0.1 addresses into the state dir, and `prometheus/prometheus.yml` (compose) is
the same rendering with container names (`python -m cluster.scrape` writes it; a test
checks it is current). Job names and metrics paths are the metric catalog's
`lakelab.metrics.Source`, so dashboards, alerts and scrapes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cluster.config import ClusterConfig
from lakelab.metrics import Source
from lakelab.targets import DRIVER_PREFIX, HARNESS_PREFIX

# The alert rules are the observability package's (generated from lakelab/metrics.py).
ALERTS_FILE = "alerts.yml"
COMPOSE_CONFIG = Path(__file__).resolve().parent.parent / "prometheus" / "prometheus.yml"
# The `scrape-targets` volume of compose.yaml, as mounted in Prometheus and the job container.
COMPOSE_TARGETS_DIR = "/opt/lakelab/targets"


@dataclass(frozen=True)
class ScrapeJob:
    """One Prometheus job: a metrics path on some targets.

    `on_demand` targets answer only while something runs there (a pipeline or harness
    driver's UI, the harness exporter), so a healthy idle lab shows them down.
    `discovered` are file_sd globs: in compose, running commands write their own targets
    there (lakelab/targets.py), because a `docker compose run` container has no DNS name
    known in advance; such targets exist only while their command runs.
    """

    name: str
    metrics_path: str
    targets: tuple[str, ...]
    on_demand: tuple[str, ...] = ()
    discovered: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hosts:
    """Host names of each service: 127.0.0.1 natively, container names in compose."""

    spark_master: str
    spark_workers: tuple[str, ...]
    spark_connect: str
    # None: discovered through file_sd (compose), not at a fixed address.
    driver: str | None
    exporter: str | None
    minio: str
    prometheus: str


def native_hosts(config: ClusterConfig) -> Hosts:
    """Every service on loopback."""
    loopback = "127.0.0.1"
    return Hosts(
        spark_master=loopback,
        spark_workers=(loopback,) * config.workers,
        spark_connect=loopback,
        driver=loopback,
        exporter=loopback,
        minio=loopback,
        prometheus=loopback,
    )


def compose_hosts(config: ClusterConfig) -> Hosts:
    """Container names of compose.yaml.

    Jobs run in `docker compose run lakelab ...` containers, which have no DNS alias: their
    driver UI and harness exporter are discovered (file_sd), not addressed by name.
    """
    return Hosts(
        spark_master="spark-master",
        spark_workers=tuple(f"spark-worker-{index + 1}" for index in range(config.workers)),
        spark_connect="spark-connect",
        driver=None,
        exporter=None,
        minio="minio",
        prometheus="localhost",
    )


def scrape_jobs(
    config: ClusterConfig,
    hosts: Hosts,
    worker_ports_shared: bool = False,
    targets_dir: str = COMPOSE_TARGETS_DIR,
) -> list[ScrapeJob]:
    """The lab's scrape jobs.

    Args:
        config: The cluster section (ports, number of workers).
        hosts: Where each service is reached from Prometheus.
        worker_ports_shared: True in compose, where every worker container serves its
            UI on the same port; natively worker `i` uses `spark_worker_ui + i`.
        targets_dir: Where running commands write file_sd targets, for hosts that are None.
    """
    ports = config.ports
    worker_targets = tuple(
        f"{host}:{ports.spark_worker_ui + (0 if worker_ports_shared else index)}"
        for index, host in enumerate(hosts.spark_workers)
    )
    connect = f"{hosts.spark_connect}:{ports.spark_connect_ui}"
    master = (f"{hosts.spark_master}:{ports.spark_master_ui}",)

    def job(source: Source, targets: tuple[str, ...], host: str | None, port: int, prefix: str) -> ScrapeJob:
        if host is None:
            return ScrapeJob(
                source.value, source.metrics_path, targets, discovered=(f"{targets_dir}/{prefix}*.json",)
            )
        return ScrapeJob(source.value, source.metrics_path, targets, on_demand=(f"{host}:{port}",))

    def fixed(source: Source, targets: tuple[str, ...]) -> ScrapeJob:
        return ScrapeJob(source.value, source.metrics_path, targets)

    # The master's paths keep their trailing slash: without it Spark answers 301.
    return [
        fixed(Source.SPARK_MASTER, master),
        fixed(Source.SPARK_APPLICATIONS, master),
        fixed(Source.SPARK_WORKER, worker_targets),
        job(Source.SPARK_DRIVER, (connect,), hosts.driver, ports.driver_ui, DRIVER_PREFIX),
        job(Source.SPARK_EXECUTORS, (connect,), hosts.driver, ports.driver_ui, DRIVER_PREFIX),
        fixed(Source.MINIO, (f"{hosts.minio}:{ports.minio}",)),
        job(Source.HARNESS, (), hosts.exporter, ports.exporter, HARNESS_PREFIX),
        ScrapeJob(Source.PROMETHEUS.value, "/metrics", (f"{hosts.prometheus}:{ports.prometheus}",)),
    ]


def render(jobs: list[ScrapeJob], scrape_interval: str, alerts_file: str) -> dict[str, Any]:
    """A prometheus.yml as a mapping."""
    scrape_configs = []
    for job in jobs:
        static_configs: list[dict[str, Any]] = []
        if job.targets:
            static_configs.append({"targets": list(job.targets)})
        if job.on_demand:
            static_configs.append({"targets": list(job.on_demand), "labels": {"on_demand": "true"}})
        scrape_config: dict[str, Any] = {"job_name": job.name, "metrics_path": job.metrics_path}
        if static_configs:
            scrape_config["static_configs"] = static_configs
        if job.discovered:
            scrape_config["file_sd_configs"] = [{"files": list(job.discovered), "refresh_interval": "5s"}]
            # Discovered targets are on demand like the native lab's fixed ones.
            scrape_config["relabel_configs"] = [
                {
                    "source_labels": ["__meta_filepath"],
                    "regex": ".+",
                    "target_label": "on_demand",
                    "replacement": "true",
                }
            ]
        scrape_configs.append(scrape_config)
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [alerts_file],
        "scrape_configs": scrape_configs,
    }


def write_native_config(config: ClusterConfig, target: Path, repo_prometheus_dir: Path) -> Path:
    """Render the native lab's prometheus.yml into `target` and return it."""
    document = render(
        scrape_jobs(config, native_hosts(config)),
        config.prometheus_scrape_interval,
        str(repo_prometheus_dir / ALERTS_FILE),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    header = "# Rendered by `lakelab cluster up` from cluster/scrape.py; edits are overwritten.\n"
    target.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


def compose_config_text(config: ClusterConfig | None = None) -> str:
    """prometheus/prometheus.yml for compose: container names, rules beside the file."""
    config = config or ClusterConfig()
    document = render(
        scrape_jobs(config, compose_hosts(config), worker_ports_shared=True),
        config.prometheus_scrape_interval,
        ALERTS_FILE,
    )
    header = (
        "# The compose lab's scrape config. Generated by `python -m cluster.scrape` from\n"
        "# cluster/scrape.py (the native lab renders the same jobs with 127.0.0.1 addresses);\n"
        "# tests/cluster/test_compose_static.py fails when this file is stale.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False)


if __name__ == "__main__":
    COMPOSE_CONFIG.write_text(compose_config_text(), encoding="utf-8")
    print(f"wrote {COMPOSE_CONFIG}")
