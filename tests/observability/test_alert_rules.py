"""The alert rules are valid for the real promtool and fire exactly where they should."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from lakelab import dashboards
from lakelab.metrics import ALERTS, METRICS, Source

from .tools import PROMTOOL, REPO, host_path, require

UNIT_TESTS = Path(__file__).with_name("alerts_test.yml")
HOW = "apt-get install prometheus, or `make services` (cluster/install-services.sh)"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require(PROMTOOL, HOW)
    return subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(REPO / dashboards.ALERTS_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests() -> None:
    result = promtool("test", "rules", str(UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fires, silent = set(), set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else silent).add(check["alertname"])
    names = {alert.name for alert in ALERTS}
    assert names <= fires, f"no firing case for {sorted(names - fires)}"
    assert names <= silent, f"no silent case for {sorted(names - silent)}"


def test_promtool_check_config_of_the_lab() -> None:
    config = REPO / "prometheus" / "prometheus.yml"
    if not config.exists():
        pytest.skip("prometheus/prometheus.yml does not exist yet (the cluster lab's file)")
    result = promtool("check", "config", "--syntax-only", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_lab_config_scrapes_every_source_and_loads_the_rules() -> None:
    config_file = REPO / "prometheus" / "prometheus.yml"
    if not config_file.exists():
        pytest.skip("prometheus/prometheus.yml does not exist yet (the cluster lab's file)")
    config = yaml.safe_load(config_file.read_text())
    paths = {job.get("metrics_path", "/metrics").rstrip("/") for job in config["scrape_configs"]}
    for source in {metric.source for metric in METRICS} - {Source.PROMETHEUS}:
        assert source.metrics_path.rstrip("/") in paths, f"no scrape job for {source.endpoint}"
    rule_files = [
        host_path(pattern, config_file.parent, "prometheus") for pattern in config.get("rule_files", [])
    ]
    matched = {path.resolve() for pattern in rule_files for path in pattern.parent.glob(pattern.name)}
    assert (REPO / dashboards.ALERTS_FILE).resolve() in matched, (
        f"rule_files {config.get('rule_files')} do not load {dashboards.ALERTS_FILE}"
    )
