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

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# One-shot and on-demand services: no healthcheck, nothing waits for them to be healthy.
NOT_LONG_RUNNING = {"minio-init", "lakelab"}


PUBLISHED = re.compile(r"127\.0\.0\.1:\$\{(LAKELAB_PORT_[A-Z0-9_]+):-(\d+)\}:(\d+)")


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(mapping).rsplit(":", 1)[1]) for mapping in service.get("ports", [])}


def _published_defaults() -> dict[str, int]:
    """Each LAKELAB_PORT_* variable of compose.yaml and the host port it defaults to."""
    published = {}
    for service in SERVICES.values():
        for mapping in service.get("ports", []):
            match = PUBLISHED.fullmatch(str(mapping))
            assert match, f"{mapping}: not 127.0.0.1:${{LAKELAB_PORT_...:-N}}:N"
            published[match.group(1)] = int(match.group(2))
    return published


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
        "alertmanager",
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
    arg_defaults = dict(re.findall(r"^ARG\s+([A-Z_]+)=(\S+)", dockerfile, flags=re.MULTILINE))
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, flags=re.MULTILINE))
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases, "no FROM lines"
    external = []
    for base in bases:
        variable = re.fullmatch(r"\$\{([A-Z_]+)\}", base)
        if variable:
            external.append(arg_defaults[variable.group(1)])
        elif base not in stages and not re.fullmatch(r"[a-z-]+\$\{[A-Z_]+\}", base):
            external.append(base)
    for base in external:
        assert ":" in base and not base.endswith(":latest"), f"{base} is not pinned"
    # One Debian release for every image: users' official base and CI's debootstrap.
    assert arg_defaults["DEBIAN_IMAGE"] == "debian:bookworm-slim"
    from cluster.engine import BASE_IMAGE, DEBIAN_SUITE

    assert BASE_IMAGE.endswith(f":{DEBIAN_SUITE}") and DEBIAN_SUITE in arg_defaults["DEBIAN_IMAGE"]
    # The `minio-${MINIO_BINARY}` stage must exist for both values compose may pass.
    assert {"minio-source", "minio-prebuilt"} <= stages and arg_defaults["MINIO_BINARY"] == "source"
    # Spark comes from the project's own pyspark pin, in the Python the project requires.
    assert "python3.11" in dockerfile and "['project']['dependencies']" in dockerfile
    # MinIO is built from the same commit in the image as on a native machine.
    install = (REPO / "cluster" / "install-services.sh").read_text(encoding="utf-8")
    native_pin = re.search(r'MINIO_VERSION="(v[^"]+)"', install)
    image_pin = re.search(r"ARG MINIO_VERSION=(v\S+)", dockerfile)
    assert native_pin and image_pin and native_pin.group(1) == image_pin.group(1)
    # BuildKit would fetch a `# syntax=` frontend image from a registry.
    assert not re.search(r"^#\s*syntax=", dockerfile, flags=re.MULTILINE | re.IGNORECASE)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_ports_are_published_on_loopback_only(name: str) -> None:
    for mapping in SERVICES[name].get("ports", []):
        assert isinstance(mapping, str) and mapping.startswith("127.0.0.1:"), f"{name}: {mapping}"


def test_default_ports_match_the_native_lab() -> None:
    """`lakelab cluster up` gives the same addresses in both modes."""
    from cluster.compose import port_variables
    from lakelab.config import LakelabConfig

    # `lakelab cluster up` passes these from [cluster.ports]; compose's own defaults agree.
    assert _published_defaults() == port_variables(LakelabConfig())
    defaults = ClusterConfig().ports.model_dump()
    second_worker = defaults["spark_worker_ui"] + 1
    assert set(port_variables(LakelabConfig()).values()) == {*defaults.values(), second_worker}


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
    # Optional variables are documented commented out (`# LAKELAB_MEM_WORKER=...`).
    declared = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", env_example, flags=re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    assert used and used <= declared, f"not in .env.example: {sorted(used - declared)}"
    for name, service in SERVICES.items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY", key):
                from_env = re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value))
                assert from_env, f"{name}: {key} is not from .env"
    # And no secret is baked into an image.
    dockerfile = (REPO / "cluster" / "Dockerfile").read_text(encoding="utf-8")
    for variable in declared:
        if re.search(r"PASSWORD|SECRET|ACCESS_KEY", variable):
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
        for group in job.get("static_configs", []):
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
    dockerfile = (REPO / "cluster" / "Dockerfile").read_text(encoding="utf-8")
    conf_dir = re.search(r"SPARK_CONF_DIR=(\S+)", dockerfile)
    assert conf_dir, "the image sets no SPARK_CONF_DIR"
    assert f"COPY cluster/metrics.properties {conf_dir.group(1)}/metrics.properties" in dockerfile


def test_the_image_holds_every_package_the_project_installs() -> None:
    """A package left out of the image breaks `lakelab` in it: its CLI imports them all."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = (REPO / "cluster" / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (?!--from)(\S+?)(?:/\*\.py)? ", dockerfile, flags=re.MULTILINE))
    assert [p for p in packages if p not in copied] == []


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
        assert source in allowed or top in allowed, f"{source} is excluded from the build context"
        if top == "build":  # prepared before a build (build/minio: `lakelab cluster up`, the tests)
            continue
        assert list(REPO.glob(source)), source
