"""docs/MONITORING_SETUP.md tells what the code does: its alerts, metrics and settings."""

from __future__ import annotations

import re

import yaml

from lakelab import cloudwatch, dashboards
from lakelab.metrics import ALERTS, EXECUTOR_MEMORY_RATIO_THRESHOLD, METRICS, QUARANTINE_RATIO_THRESHOLD

from .tools import REPO

DOC = REPO / "docs" / "MONITORING_SETUP.md"
RUNBOOK = "### What each alert means and what to do"


def section(text: str, heading: str) -> str:
    """The text under `heading`, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    body = text.split(heading, 1)[1]
    stop = re.search(rf"^#{{1,{len(level)}}} ", body, flags=re.MULTILINE)
    return body[: stop.start()] if stop else body


def test_the_runbook_names_every_alert_and_no_other() -> None:
    runbook = section(DOC.read_text(), RUNBOOK)
    rows = re.findall(r"^\| `(Lakelab\w+)` \| (\w+) \|", runbook, flags=re.MULTILINE)
    assert sorted(rows) == sorted((alert.name, alert.severity) for alert in ALERTS)
    assert f"{QUARANTINE_RATIO_THRESHOLD:.0%}".replace("%", " %") in runbook
    assert f"{EXECUTOR_MEMORY_RATIO_THRESHOLD:.0%}".replace("%", " %") in runbook


def test_every_alert_or_alarm_the_doc_names_exists() -> None:
    named = set(re.findall(r"`(Lakelab[A-Z]\w+)`", DOC.read_text()))
    known = {alert.name for alert in ALERTS} | {alarm.name for alarm in cloudwatch.ALARMS}
    assert named <= known, f"the doc names alerts that do not exist: {sorted(named - known)}"
    assert {alarm.name for alarm in cloudwatch.ALARMS} <= named


def test_the_cloudwatch_table_is_what_the_publisher_sends() -> None:
    table = section(DOC.read_text(), "## CloudWatch")
    rows = re.findall(r"^\| `(lakelab_\w+)` \| ([\w/]+) \| ([\w, ]+) \|", table, flags=re.MULTILINE)
    assert sorted(rows) == sorted(
        (metric.name, metric.cloudwatch_unit, ", ".join(metric.labels)) for metric in cloudwatch.published()
    )
    assert cloudwatch.ENABLE_ENV in table and cloudwatch.NAMESPACE_ENV in table
    assert cloudwatch.DASHBOARD_NAME in table
    # The doc says there is no cost metric; the catalog must agree.
    assert "no cost metric" in table
    assert not [metric.name for metric in METRICS if "cost" in metric.name]


def test_settings_the_doc_quotes_are_the_generated_ones() -> None:
    text = DOC.read_text()
    datasource = yaml.safe_load((REPO / dashboards.DATASOURCE_FILE).read_text())["datasources"][0]
    assert datasource["jsonData"]["timeInterval"] == "15s"
    assert "of 15 s, the lab's scrape interval" in text
    assert dashboards.DEFAULT_WEBHOOK_URL in text
    route = dashboards.render_alertmanager()["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("30s", "5m", "4h")
    assert "waits 30 s, further ones 5 min, repeats every 4 h" in text


def test_no_doc_names_the_harness_scrape_job_lakelab() -> None:
    # The scrape job is `harness` (lakelab.metrics.Source.HARNESS); `lakelab` was a wrong name.
    wrong = re.compile(r'job="lakelab"|job: lakelab\b|scrape job `lakelab`|`lakelab` (scrape )?job')
    files = [*REPO.glob("docs/*.md"), REPO / "README.md", REPO / "tests/observability/alerts_test.yml"]
    hits = [f"{path.name}: {m.group(0)}" for path in files for m in wrong.finditer(path.read_text())]
    assert hits == []
