"""The `[cluster]` section of lakelab.toml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lakelab.model import StrictModel


class ClusterPorts(StrictModel):
    """Loopback ports of the lab's services (compose.yaml publishes the same defaults).

    Worker `i` (from 0) serves its UI on `spark_worker_ui + i`.
    """

    spark_master: int = Field(default=7077, ge=1024, le=65535)
    spark_master_ui: int = Field(default=8080, ge=1024, le=65535)
    spark_worker_ui: int = Field(default=8081, ge=1024, le=65535)
    spark_connect: int = Field(default=15002, ge=1024, le=65535)
    # The Connect server is a long-running driver; its UI must not take 4040, which is
    # the port a pipeline or harness driver serves its metrics on.
    spark_connect_ui: int = Field(default=4041, ge=1024, le=65535)
    minio: int = Field(default=9000, ge=1024, le=65535)
    minio_console: int = Field(default=9001, ge=1024, le=65535)
    prometheus: int = Field(default=9090, ge=1024, le=65535)
    alertmanager: int = Field(default=9093, ge=1024, le=65535)
    grafana: int = Field(default=3000, ge=1024, le=65535)
    # Scraped, not started: a harness or pipeline driver's UI, and the harness exporter.
    driver_ui: int = Field(default=4040, ge=1024, le=65535)
    exporter: int = Field(default=9108, ge=1024, le=65535)


class ClusterConfig(StrictModel):
    """Where the cluster lab keeps its state and how it starts."""

    mode: Literal["auto", "compose", "native"] = "auto"
    state_dir: str = ".state/cluster"
    workers: int = Field(default=2, ge=1, le=8)
    # Task slots, not physical cores: two per worker leave room for the Connect server's
    # one core beside a job that still spans both workers.
    worker_cores: int = Field(default=2, ge=1)
    worker_memory: str = "2g"
    ports: ClusterPorts = Field(default_factory=ClusterPorts)
    # Start the Spark Connect server (the load tests' endpoint) with `up`.
    spark_connect: bool = True
    spark_connect_cores: int = Field(default=1, ge=1)
    spark_connect_memory: str = "512m"
    # Seconds `up` waits for one service to answer its health check.
    health_timeout_s: float = Field(default=120.0, gt=0)
    prometheus_scrape_interval: str = Field(default="15s", pattern=r"^\d+(ms|s|m)$")
    compose_file: str = "compose.yaml"
    compose_project: str = "lakelab"

    @model_validator(mode="after")
    def _ports_distinct(self) -> ClusterConfig:
        taken: dict[int, str] = {}
        ports = self.ports.model_dump()
        ports.pop("spark_worker_ui")
        for index in range(self.workers):
            ports[f"spark_worker_ui+{index}"] = self.ports.spark_worker_ui + index
        for name, port in ports.items():
            if port in taken:
                raise ValueError(f"ports.{name} and ports.{taken[port]} are both {port}")
            taken[port] = name
        return self
