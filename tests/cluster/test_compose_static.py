"""compose.yaml and its companions, checked without a Docker engine (every run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster.config import ClusterConfig
from cluster.native import _metrics_properties
from cluster.scrape import COMPOSE_CONFIG, compose_config_text
from lakelab import jvm

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# One-shot and on-demand services: no healthcheck, nothing waits for them to be healthy.
NOT_LONG_RUNNING = {"minio-init", "lakelab"}


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(mapping).rsplit(":", 1)[1]) for mapping in service.get("ports", [])}


def test_every_service_of_the_lab_is_there() -> None:
    assert set(SERVICES) == {
        "minio",
        "minio-init",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-connect",
        "lakelab",
        "prometheus",
        "grafana",
    }


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and tag, f"{name}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"


def test_dockerfile_bases_are_pinned_and_match_the_project() -> None:
    dockerfile = (REPO / "cluster" / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases, "no FROM lines"
    for base in bases:
        assert ":" in base and not base.endswith(":latest"), base
    spark_base = next(base for base in bases if base.startswith("apache/spark:"))
    assert spark_base.split(":")[1].startswith(f"{jvm.SPARK_VERSION}-scala{jvm.SCALA_BINARY}-")
    assert "python3" in spark_base
    # MinIO is built from the same commit in the image as on a native machine.
    install = (REPO / "cluster" / "install-services.sh").read_text(encoding="utf-8")
    native_pin = re.search(r'MINIO_VERSION="(v[^"]+)"', install)
    image_pin = re.search(r"ARG MINIO_VERSION=(v\S+)", dockerfile)
    assert native_pin and image_pin and native_pin.group(1) == image_pin.group(1)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_ports_are_published_on_loopback_only(name: str) -> None:
    for mapping in SERVICES[name].get("ports", []):
        assert isinstance(mapping, str) and mapping.startswith("127.0.0.1:"), f"{name}: {mapping}"


def test_default_ports_match_the_native_lab() -> None:
    """`lakelab cluster up` gives the same addresses in both modes."""
    published = {
        int(mapping.split(":")[1]) for service in SERVICES.values() for mapping in service.get("ports", [])
    }
    defaults = ClusterConfig().ports.model_dump()
    defaults["spark_worker_ui_2"] = defaults["spark_worker_ui"] + 1
    missing = {name: port for name, port in defaults.items() if port not in published}
    assert missing == {}


@pytest.mark.parametrize("name", sorted(set(SERVICES) - NOT_LONG_RUNNING))
def test_long_running_services_have_healthchecks(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert {"interval", "timeout", "retries"} <= set(check), name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health_or_completion(name: str) -> None:
    for dependency, spec in (SERVICES[name].get("depends_on") or {}).items():
        assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        condition = spec["condition"]
        assert condition in ("service_healthy", "service_completed_successfully"), (name, dependency)
        if condition == "service_healthy":
            assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck to wait for"
        else:
            assert SERVICES[dependency].get("restart") == "no", f"{dependency} is not a one-shot"


def test_credentials_come_only_from_env() -> None:
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    env_example = (REPO / ".env.example").read_text(encoding="utf-8")
    declared = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", env_example, flags=re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    assert used and used <= declared, f"not in .env.example: {sorted(used - declared)}"
    for name, service in SERVICES.items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY", key):
                from_env = re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value))
                assert from_env, f"{name}: {key} is not from .env"
    # And none is baked into an image.
    dockerfile = (REPO / "cluster" / "Dockerfile").read_text(encoding="utf-8")
    for variable in declared:
        assert variable not in dockerfile


def test_prometheus_config_is_current_and_mounted() -> None:
    assert COMPOSE_CONFIG.read_text(encoding="utf-8") == compose_config_text(), (
        "prometheus/prometheus.yml is stale: run `python -m cluster.scrape`"
    )
    mounts = [volume.split(":") for volume in SERVICES["prometheus"]["volumes"] if volume.startswith("./")]
    assert ["./prometheus", "/etc/prometheus", "ro"] in mounts
    assert "--config.file=/etc/prometheus/prometheus.yml" in SERVICES["prometheus"]["command"]


def test_prometheus_targets_are_compose_services() -> None:
    config = yaml.safe_load(COMPOSE_CONFIG.read_text(encoding="utf-8"))
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            for target in group["targets"]:
                host, port = target.rsplit(":", 1)
                service = "prometheus" if host == "localhost" else host
                assert service in SERVICES, f"{job['job_name']}: {target} is no compose service"
                assert int(port) in _container_ports(SERVICES[service]), f"{job['job_name']}: {target}"
    for pattern in config["rule_files"]:
        # Relative to the config file; the observability package writes the rules.
        matches = list((REPO / "prometheus").glob(pattern))
        if not matches:
            pytest.skip(f"prometheus/{pattern} does not exist yet (the observability package's)")
        assert all(match.is_file() for match in matches)


def test_grafana_mounts_point_at_the_repo() -> None:
    grafana = SERVICES["grafana"]
    binds = {
        target: REPO / source
        for source, target, *_ in (volume.split(":") for volume in grafana["volumes"])
        if source.startswith("./")
    }
    assert set(binds) == {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"}
    for target, source in binds.items():
        if not source.exists():
            pytest.skip(f"{source.relative_to(REPO)} does not exist yet (the observability package's)")
        assert source.is_dir(), target
    # The provisioned datasource reads PROMETHEUS_URL; it must name compose's Prometheus.
    url = grafana["environment"]["PROMETHEUS_URL"]
    assert re.fullmatch(r"http://prometheus:(\d+)", url)
    assert int(url.rsplit(":", 1)[1]) in _container_ports(SERVICES["prometheus"])


def test_spark_metrics_properties_match_the_session_factory() -> None:
    assert (REPO / "cluster" / "metrics.properties").read_text(encoding="utf-8") == _metrics_properties()
    assert "COPY cluster/metrics.properties /opt/spark/conf/metrics.properties" in (
        REPO / "cluster" / "Dockerfile"
    ).read_text(encoding="utf-8")


def test_dockerfile_copies_what_its_ignore_file_lets_through() -> None:
    dockerfile = (REPO / "cluster" / "Dockerfile").read_text(encoding="utf-8")
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / "cluster" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.MULTILINE)
    for source in copied:
        top = source.split("/")[0]
        assert top in allowed or top == "README.m[d]", f"{source} is excluded from the build context"
        assert (REPO / source.replace("README.m[d]", "README.md")).exists() or "[" in source, source
