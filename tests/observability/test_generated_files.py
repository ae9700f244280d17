"""The committed dashboards, provisioning, alert rules and doc table equal what the catalog renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lakelab import dashboards
from lakelab.metrics import DASHBOARDS, METRICS

from .tools import REPO, compose_mounts


def test_committed_files_match_the_catalog() -> None:
    stale = dashboards.stale_files(REPO)
    assert stale == [], f"stale generated files {stale}: run `python -m lakelab.dashboards`"


def test_check_mode_reports_a_hand_edit(tmp_path: Path) -> None:
    assert dashboards.main(["--root", str(tmp_path)]) == 0
    assert dashboards.main(["--root", str(tmp_path), "--check"]) == 0
    alerts = tmp_path / dashboards.ALERTS_FILE
    alerts.write_text(alerts.read_text() + "# edited\n")
    assert dashboards.stale_files(tmp_path) == [dashboards.ALERTS_FILE]
    assert dashboards.main(["--root", str(tmp_path), "--check"]) == 1


def test_dashboard_json_is_wired_to_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((REPO / dashboards.DATASOURCE_FILE).read_text())["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "${PROMETHEUS_URL}"
    for dashboard in DASHBOARDS:
        model = json.loads((REPO / dashboards.dashboard_file(dashboard)).read_text())
        assert model["uid"] == dashboard.uid
        ids = [panel["id"] for panel in model["panels"]]
        assert len(ids) == len(set(ids))
        for panel in model["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"]
                assert target["expr"].strip()
        assert [p["title"] for p in model["panels"]] == [p.title for p in dashboard.panels]


def test_provider_loads_the_dashboards_folder() -> None:
    provider = yaml.safe_load((REPO / dashboards.PROVIDER_FILE).read_text())["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == dashboards.GRAFANA_DASHBOARDS_PATH


def test_doc_lists_every_metric_once() -> None:
    doc = (REPO / dashboards.DOC_FILE).read_text()
    table = doc.split(dashboards.DOC_CATALOG_BEGIN)[1].split(dashboards.DOC_CATALOG_END)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [metric.name for metric in METRICS]


def test_compose_mounts_the_provisioning_and_dashboards() -> None:
    if not (REPO / "compose.yaml").exists():
        pytest.skip("compose.yaml does not exist yet (the cluster lab's file)")
    mounts = compose_mounts("grafana")
    assert mounts.get("/etc/grafana/provisioning") == (REPO / "grafana/provisioning").resolve(), mounts
    assert mounts.get(dashboards.GRAFANA_DASHBOARDS_PATH) == (REPO / "grafana/dashboards").resolve(), mounts
    environment = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["grafana"].get(
        "environment", {}
    )
    names = set(environment) if isinstance(environment, dict) else {e.split("=")[0] for e in environment}
    assert "PROMETHEUS_URL" in names, "the datasource reads ${PROMETHEUS_URL}"
