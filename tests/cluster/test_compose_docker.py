"""Checks that need a Docker engine; each skips with the reason where none answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cluster.compose import engine_answers

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers (docker SDK ping failed)"),
]


def _image(service: str) -> str:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    return str(compose["services"][service]["image"])


def test_pinned_prometheus_accepts_the_lab_config() -> None:
    """The compose Prometheus (3.x) loads prometheus.yml and the alert rules beside it."""
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(_image("prometheus"))
        .with_volume_mapping(str(REPO / "prometheus"), "/etc/prometheus", "ro")
        .with_kwargs(entrypoint="/bin/promtool")
        .with_command("check config /etc/prometheus/prometheus.yml")
    )
    with container:
        result = container.get_wrapped_container().wait(timeout=120)
        logs = container.get_wrapped_container().logs().decode()
    assert result["StatusCode"] == 0, logs
    assert "SUCCESS" in logs
