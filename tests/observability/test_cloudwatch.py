"""The CloudWatch dashboard, alarms and publisher.

moto 5.2.5 only checks that a dashboard body is JSON, so the body's structure is checked here
against AWS's documented format ("Dashboard Body Structure and Syntax", CloudWatch API
Reference): a `widgets` array of 0-500 objects with `type`, `x` (0-23), `y` (>= 0), `width`
(1-24), `height` (1-1000) and `properties`; a metric widget's `properties` need `region` and
carry `metrics` (arrays `[Namespace, MetricName, DimName, DimValue, ..., {options}]` or
`[{"expression", "id", "label"}]`, ids starting with a lowercase letter), `view`, `stat`
and `period` (a multiple of 60); a text widget's carry `markdown`.
The publisher and the alarms are checked against moto's CloudWatch.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakelab import cloudwatch, dashboards
from lakelab.metrics import METRICS_BY_NAME, Exporter

from .tools import REPO

WIDGET_KEYS = {"type", "x", "y", "width", "height", "properties"}
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer"}
VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}
STATS = re.compile(r"^(SampleCount|Average|Sum|Minimum|Maximum|p\d{1,2}(\.\d+)?)$")
SERIES_OPTIONS = {"id", "label", "visible", "stat", "period", "color", "yAxis", "region", "accountId"}
SERIES_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
SEARCH = re.compile(
    r"^SEARCH\('\{(?P<schema>[^}]+)\} MetricName=\"(?P<name>\w+)\"(?P<terms>[^']*)', "
    r"'(?P<stat>\w+)', (?P<period>\d+)\)$"
)
PUBLISHED = {metric.name for metric in cloudwatch.published()}


def committed_dashboard() -> dict[str, Any]:
    return dict(json.loads((REPO / dashboards.CLOUDWATCH_DASHBOARD_FILE).read_text()))


def check_series(entry: list[Any], widget: dict[str, Any]) -> tuple[str, str | None]:
    """Check one `metrics` entry; return (kind, its id)."""
    assert isinstance(entry, list) and entry, entry
    if isinstance(entry[0], dict):
        assert len(entry) == 1, f"an expression entry holds one object: {entry}"
        expression = entry[0]
        assert set(expression) <= {"expression", "id", "label", "visible", "period", "region"}, expression
        assert isinstance(expression["expression"], str) and expression["expression"]
        search = SEARCH.match(expression["expression"])
        if search:
            namespace, *dimensions = search["schema"].split(",")
            assert namespace == cloudwatch.DEFAULT_NAMESPACE
            assert search["name"] in PUBLISHED, search["name"]
            assert sorted(dimensions) == sorted(METRICS_BY_NAME[search["name"]].labels), expression
            assert search["stat"] == widget["properties"]["stat"]
            assert int(search["period"]) % 60 == 0
            for term in re.findall(r'(\w+)="[^"]+"', search["terms"]):
                assert term in dimensions, f"search term on {term}, not a dimension: {expression}"
        return "expression", expression.get("id")
    namespace, name, *rest = entry
    options = rest.pop() if rest and isinstance(rest[-1], dict) else {}
    assert namespace == cloudwatch.DEFAULT_NAMESPACE
    assert name in PUBLISHED, f"{name} is not a published catalog metric"
    assert len(rest) % 2 == 0 and all(isinstance(part, str) and part for part in rest), entry
    assert rest[0::2] == list(METRICS_BY_NAME[name].labels), f"{name}: dimensions {rest[0::2]}"
    assert set(options) <= SERIES_OPTIONS, options
    return "metric", options.get("id")


def test_dashboard_body_follows_the_documented_structure() -> None:
    body = committed_dashboard()
    assert set(body) <= {"widgets", "variables", "start", "end", "periodOverride"}
    assert body.get("periodOverride", "auto") in {"auto", "inherit"}
    assert str(body.get("start", "-P")).startswith("-P")
    widgets = body["widgets"]
    assert isinstance(widgets, list) and 0 < len(widgets) <= 500
    cells: set[tuple[int, int]] = set()
    kinds = {"metric": 0, "text": 0}
    for widget in widgets:
        assert set(widget) == WIDGET_KEYS, widget
        assert widget["type"] in WIDGET_TYPES
        x, y, width, height = (widget[key] for key in ("x", "y", "width", "height"))
        assert all(isinstance(value, int) for value in (x, y, width, height)), widget
        assert 0 <= x <= 23 and y >= 0 and 1 <= width <= 24 and 1 <= height <= 1000, widget
        assert x + width <= 24, f"widget past the 24-column grid: {widget}"
        covered = {(column, row) for column in range(x, x + width) for row in range(y, y + height)}
        assert not covered & cells, f"widgets overlap at {sorted(covered & cells)[:3]}"
        cells |= covered
        properties = widget["properties"]
        assert isinstance(properties, dict)
        kinds[widget["type"]] += 1
        if widget["type"] == "text":
            assert isinstance(properties["markdown"], str) and properties["markdown"]
            continue
        assert widget["type"] == "metric"
        assert properties["region"] == cloudwatch.DEFAULT_REGION
        assert properties["view"] in VIEWS
        assert STATS.match(properties["stat"]), properties["stat"]
        assert isinstance(properties["period"], int) and properties["period"] >= 60
        assert properties["period"] % 60 == 0
        assert isinstance(properties["title"], str) and properties["title"]
        metrics = properties["metrics"]
        assert isinstance(metrics, list) and 1 <= len(metrics) <= 500
        ids = [check_series(entry, widget)[1] for entry in metrics]
        named = [series_id for series_id in ids if series_id]
        assert all(SERIES_ID.match(series_id) for series_id in named), named
        assert len(named) == len(set(named)), f"{properties['title']}: ids repeat {named}"
        for entry in metrics:
            if isinstance(entry[0], dict) and not entry[0]["expression"].startswith("SEARCH"):
                used = set(re.findall(r"\b[a-z][a-zA-Z0-9_]*\b", entry[0]["expression"]))
                assert used <= set(named), f"{entry[0]['expression']} uses ids not in the widget: {used}"
    assert kinds == {"metric": len(cloudwatch.WIDGETS), "text": 1}


def test_the_dashboard_covers_what_the_issue_asks_and_every_published_metric() -> None:
    text = json.dumps(committed_dashboard())
    titles = [widget.title for widget in cloudwatch.WIDGETS]
    assert any("duration" in title.lower() for title in titles)
    assert any("error rate" in title.lower() for title in titles)
    assert any("quarantine" in title.lower() for title in titles)
    for name in PUBLISHED:
        assert f'"{name}"' in text or f'\\"{name}\\"' in text, f"{name} is published but charted nowhere"
    # No cost metric in the catalog: no cost widget, and the dashboard says why.
    assert not [name for name in METRICS_BY_NAME if "cost" in name]
    assert "no cost metric" in text


def test_committed_cloudwatch_files_are_the_generators(tmp_path: Path) -> None:
    assert (REPO / dashboards.CLOUDWATCH_DASHBOARD_FILE).read_text() == dashboards._json(
        cloudwatch.render_dashboard()
    ), "cloudwatch/pipeline_metrics.json drifted: run `python -m lakelab.dashboards`"
    assert json.loads((REPO / dashboards.CLOUDWATCH_ALARMS_FILE).read_text()) == {
        "alarms": cloudwatch.render_alarms()
    }
    # A hand edit is caught by the generator's own check.
    assert dashboards.main(["--root", str(tmp_path)]) == 0
    body = tmp_path / dashboards.CLOUDWATCH_DASHBOARD_FILE
    body.write_text(body.read_text().replace('"period": 300', '"period": 60', 1))
    assert dashboards.stale_files(tmp_path) == [dashboards.CLOUDWATCH_DASHBOARD_FILE]


def test_alarms_name_every_dimension_of_a_published_metric() -> None:
    alarms = {alarm["AlarmName"]: alarm for alarm in cloudwatch.render_alarms()}
    assert set(alarms) == {"LakelabRunFailed", "LakelabReconciliationFailed"}
    for alarm in alarms.values():
        metric = METRICS_BY_NAME[alarm["MetricName"]]
        assert metric.cloudwatch_unit, alarm["MetricName"]
        assert [d["Name"] for d in alarm["Dimensions"]] == list(metric.labels)
        assert alarm["Period"] % 60 == 0
    assert alarms["LakelabRunFailed"]["Dimensions"] == [{"Name": "outcome", "Value": "failed"}]


def test_publishing_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cloudwatch.ENABLE_ENV, raising=False)
    assert cloudwatch.publisher_from_env() is None
    assert Exporter(port=0).cloudwatch is None
    assert cloudwatch.publisher_from_env({cloudwatch.ENABLE_ENV: "0"}) is None


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's CloudWatch, with fake credentials; nothing leaves the process."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDWATCH", raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("cloudwatch", region_name="us-east-1")


def statistic(client: Any, name: str, dimensions: dict[str, str], stat: str) -> float | None:
    now = dt.datetime.now(dt.UTC)
    answer = client.get_metric_statistics(
        Namespace=cloudwatch.DEFAULT_NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=cloudwatch.PERIOD_SECONDS,
        Statistics=[stat],
    )
    points = answer["Datapoints"]
    return float(points[0][stat]) if points else None


def breaches(client: Any, alarm: dict[str, Any]) -> bool:
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    value = statistic(client, alarm["MetricName"], dimensions, alarm["Statistic"])
    if value is None:  # TreatMissingData: notBreaching
        return False
    threshold = alarm["Threshold"]
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold,
    }[alarm["ComparisonOperator"]]


def feed_run(exporter: Exporter, ok: bool) -> None:
    exporter.sweep_started(planned_points=1)
    exporter.observe_stage("silver", "orders", rows_out=900, rows_quarantined=100, seconds=4.0)
    exporter.set_reconciliation(ok)
    exporter.sweep_point_done({"spark.sql.shuffle.partitions": 8}, seconds=12.5, ok=ok)


def test_a_failed_run_reaches_cloudwatch_and_breaches_both_alarms(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cloudwatch.ENABLE_ENV, "1")
    exporter = Exporter(port=0)  # publishing turned on by the environment alone
    assert exporter.cloudwatch is not None
    feed_run(exporter, ok=False)
    exporter.stop()
    assert exporter.cloudwatch.sent > 0 and exporter.cloudwatch.failed_sends == 0
    listed = {m["MetricName"] for m in aws.list_metrics(Namespace=cloudwatch.DEFAULT_NAMESPACE)["Metrics"]}
    assert listed == PUBLISHED - {"lakelab_datagen_rows_total"}  # the run generated no landing
    stage = {"layer": "silver", "table": "orders"}
    assert statistic(aws, "lakelab_stage_last_rows", {**stage, "outcome": "quarantined"}, "Sum") == 100
    assert statistic(aws, "lakelab_stage_last_seconds", stage, "Average") == 4.0
    assert statistic(aws, "lakelab_records_per_second", stage, "Average") == 250.0
    assert statistic(aws, "lakelab_sweep_point_seconds", {"point": "shuffle.partitions=8"}, "Maximum") == 12.5
    assert statistic(aws, "lakelab_sweep_runs_total", {"outcome": "failed"}, "Sum") == 1
    assert statistic(aws, "lakelab_sweep_runs_total", {"outcome": "ok"}, "Sum") is None
    assert statistic(aws, "lakelab_reconciliation_ok", {"check": "pipeline"}, "Minimum") == 0

    names = cloudwatch.apply(aws, cloudwatch.DEFAULT_NAMESPACE, "us-east-1")
    assert names == [
        "dashboard lakelab-pipeline",
        "alarm LakelabRunFailed",
        "alarm LakelabReconciliationFailed",
    ]
    body = json.loads(aws.get_dashboard(DashboardName=cloudwatch.DASHBOARD_NAME)["DashboardBody"])
    assert body == committed_dashboard()
    alarms = aws.describe_alarms(AlarmNamePrefix="Lakelab")["MetricAlarms"]
    assert {alarm["AlarmName"] for alarm in alarms} == {"LakelabRunFailed", "LakelabReconciliationFailed"}
    assert all(breaches(aws, alarm) for alarm in alarms), [a["AlarmName"] for a in alarms]


def test_a_passing_run_breaches_no_alarm(aws: Any) -> None:
    exporter = Exporter(port=0, cloudwatch=cloudwatch.CloudWatchPublisher(client=aws))
    feed_run(exporter, ok=True)
    exporter.stop()
    assert statistic(aws, "lakelab_sweep_runs_total", {"outcome": "ok"}, "Sum") == 1
    cloudwatch.apply(aws, cloudwatch.DEFAULT_NAMESPACE, "us-east-1")
    alarms = aws.describe_alarms(AlarmNamePrefix="Lakelab")["MetricAlarms"]
    assert len(alarms) == 2
    assert not any(breaches(aws, alarm) for alarm in alarms)


def test_a_failed_send_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    class Unreachable:
        def put_metric_data(self, **_: Any) -> None:
            raise ConnectionError("no route to CloudWatch")

    publisher = cloudwatch.CloudWatchPublisher(client=Unreachable())
    publisher.add(METRICS_BY_NAME["lakelab_reconciliation_ok"], {"check": "pipeline"}, 0)
    assert publisher.flush() == 0
    assert publisher.failed_sends == 1 and publisher.pending == []
    assert "cloudwatch: 1 figures not sent (no route to CloudWatch)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not published"):
        publisher.add(METRICS_BY_NAME["lakelab_run_info"], {}, 1)


def test_the_apply_command_puts_the_dashboard_and_alarms_for_its_namespace(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cloudwatch.main(["apply", "--region", "eu-west-1", "--namespace", "LakelabTest"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "put dashboard lakelab-pipeline",
        "put alarm LakelabRunFailed",
        "put alarm LakelabReconciliationFailed",
    ]
    import boto3

    client = boto3.client("cloudwatch", region_name="eu-west-1")
    body = json.loads(client.get_dashboard(DashboardName=cloudwatch.DASHBOARD_NAME)["DashboardBody"])
    assert body == cloudwatch.render_dashboard("LakelabTest", "eu-west-1")
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {"eu-west-1"}
    alarms = client.describe_alarms()["MetricAlarms"]
    assert {alarm["Namespace"] for alarm in alarms} == {"LakelabTest"}
    assert aws.describe_alarms()["MetricAlarms"] == []  # us-east-1 untouched
