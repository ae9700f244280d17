"""Prometheus scrape jobs of the lab, declared once for both of its forms.

`scrape_jobs(hosts)` lists what Prometheus scrapes; the native lab renders it with
127.0.0.1 addresses into the state dir, and `prometheus/prometheus.yml` (compose)
holds the same jobs with container names, which a test compares against this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cluster.config import ClusterConfig

# Rule files are the observability package's; Prometheus accepts a glob that matches nothing.
RULES_GLOB = "rules/*.yml"


@dataclass(frozen=True)
class ScrapeJob:
    """One Prometheus job: a metrics path on some targets.

    `on_demand` targets answer only while something runs there (a pipeline or harness
    driver's UI, the harness exporter), so a healthy idle lab shows them down.
    """

    name: str
    metrics_path: str
    targets: tuple[str, ...]
    on_demand: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hosts:
    """Host names of each service: 127.0.0.1 natively, container names in compose."""

    spark_master: str
    spark_workers: tuple[str, ...]
    spark_connect: str
    driver: str
    exporter: str
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
    """Container names of compose.yaml; the host's exporter and drivers via host-gateway."""
    return Hosts(
        spark_master="spark-master",
        spark_workers=tuple(f"spark-worker-{index + 1}" for index in range(config.workers)),
        spark_connect="spark-connect",
        driver="host.docker.internal",
        exporter="host.docker.internal",
        minio="minio",
        prometheus="localhost",
    )


def scrape_jobs(config: ClusterConfig, hosts: Hosts, worker_ports_shared: bool = False) -> list[ScrapeJob]:
    """The lab's scrape jobs.

    Args:
        config: The cluster section (ports, number of workers).
        hosts: Where each service is reached from Prometheus.
        worker_ports_shared: True in compose, where every worker container serves its
            UI on the same port; natively worker `i` uses `spark_worker_ui + i`.
    """
    ports = config.ports
    worker_targets = tuple(
        f"{host}:{ports.spark_worker_ui + (0 if worker_ports_shared else index)}"
        for index, host in enumerate(hosts.spark_workers)
    )
    connect = f"{hosts.spark_connect}:{ports.spark_connect_ui}"
    driver = f"{hosts.driver}:{ports.driver_ui}"
    # The master's paths need their trailing slash: without it Spark answers 301.
    return [
        ScrapeJob(
            "spark-master", "/metrics/master/prometheus/", (f"{hosts.spark_master}:{ports.spark_master_ui}",)
        ),
        ScrapeJob(
            "spark-applications",
            "/metrics/applications/prometheus/",
            (f"{hosts.spark_master}:{ports.spark_master_ui}",),
        ),
        ScrapeJob("spark-workers", "/metrics/prometheus", worker_targets),
        ScrapeJob("spark-driver", "/metrics/prometheus", (connect,), on_demand=(driver,)),
        ScrapeJob("spark-executors", "/metrics/executors/prometheus", (connect,), on_demand=(driver,)),
        ScrapeJob("minio", "/minio/v2/metrics/cluster", (f"{hosts.minio}:{ports.minio}",)),
        ScrapeJob("lakelab-exporter", "/metrics", (), on_demand=(f"{hosts.exporter}:{ports.exporter}",)),
        ScrapeJob("prometheus", "/metrics", (f"{hosts.prometheus}:{ports.prometheus}",)),
    ]


def render(jobs: list[ScrapeJob], scrape_interval: str, rules_dir: str) -> dict[str, Any]:
    """A prometheus.yml as a mapping."""
    scrape_configs = []
    for job in jobs:
        static_configs: list[dict[str, Any]] = []
        if job.targets:
            static_configs.append({"targets": list(job.targets)})
        if job.on_demand:
            static_configs.append({"targets": list(job.on_demand), "labels": {"on_demand": "true"}})
        scrape_configs.append(
            {"job_name": job.name, "metrics_path": job.metrics_path, "static_configs": static_configs}
        )
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [f"{rules_dir.rstrip('/')}/{RULES_GLOB}"],
        "scrape_configs": scrape_configs,
    }


def write_native_config(config: ClusterConfig, target: Path, repo_prometheus_dir: Path) -> Path:
    """Render the native lab's prometheus.yml into `target` and return it."""
    document = render(
        scrape_jobs(config, native_hosts(config)),
        config.prometheus_scrape_interval,
        str(repo_prometheus_dir),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    header = "# Rendered by `lakelab cluster up` from cluster/scrape.py; edits are overwritten.\n"
    target.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target
