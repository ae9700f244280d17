"""The cluster package's pure parts and its CLI, without starting any service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cluster import cli, native, s3
from cluster.config import ClusterConfig
from cluster.failures import environment_failure, explain
from cluster.resources import _container_figures, sample
from cluster.scrape import native_hosts, render, scrape_jobs
from lakelab.cli import main
from lakelab.config import parse_config
from lakelab.errors import UserError


def test_two_services_on_one_port_is_a_config_error() -> None:
    with pytest.raises(UserError, match=r"ports\.minio and ports\.spark_master are both 7077"):
        parse_config({"cluster": {"ports": {"minio": 7077}}}, "lakelab.toml")
    # Worker i takes spark_worker_ui + i, so the third worker would collide with 8083 here.
    with pytest.raises(UserError, match="8083"):
        parse_config({"cluster": {"workers": 3, "ports": {"minio": 8083}}}, "lakelab.toml")


def test_native_scrape_config_lists_each_worker_on_its_own_port() -> None:
    config = ClusterConfig(workers=3)
    document = render(
        scrape_jobs(config, native_hosts(config)), "5s", "/repo/prometheus/alerts.yml", "127.0.0.1:9093"
    )
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    assert jobs["spark-worker"]["static_configs"] == [
        {"targets": ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"]}
    ]
    assert jobs["spark-master"]["metrics_path"] == "/metrics/master/prometheus/"
    assert jobs["spark-driver"]["static_configs"][1] == {
        "targets": ["127.0.0.1:4040"],
        "labels": {"on_demand": "true"},
    }
    assert document["rule_files"] == ["/repo/prometheus/alerts.yml"]
    assert document["global"]["scrape_interval"] == "5s"
    assert document["alerting"] == {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]}


def test_endpoint_must_be_the_labs_minio() -> None:
    config = parse_config(
        {"s3": {"endpoint": "http://127.0.0.1:9000"}, "cluster": {"ports": {"minio": 19000}}}
    )
    with pytest.raises(
        UserError, match=r"s3\.endpoint is http://127\.0\.0\.1:9000 but cluster\.ports\.minio is 19000"
    ):
        native.check_endpoint(config)


def test_sigv4_signature_depends_on_every_signed_part() -> None:
    endpoint = s3.S3Endpoint("http://127.0.0.1:9000", "us-east-1", "lakelab", "secret-one")
    at = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.UTC)
    base = s3.sign_headers(endpoint, "GET", "/bucket", {"prefix": "a/b"}, now=at)
    assert base["X-Amz-Date"] == "20261126T120000Z"
    assert base["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=lakelab/20261126/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
    )
    assert s3.sign_headers(endpoint, "GET", "/bucket", {"prefix": "a/b"}, now=at) == base
    other_secret = s3.S3Endpoint("http://127.0.0.1:9000", "us-east-1", "lakelab", "secret-two")
    variants = [
        s3.sign_headers(other_secret, "GET", "/bucket", {"prefix": "a/b"}, now=at),
        s3.sign_headers(endpoint, "PUT", "/bucket", {"prefix": "a/b"}, now=at),
        s3.sign_headers(endpoint, "GET", "/other", {"prefix": "a/b"}, now=at),
        s3.sign_headers(endpoint, "GET", "/bucket", {"prefix": "a/c"}, now=at),
        s3.sign_headers(endpoint, "GET", "/bucket", {"prefix": "a/b"}, now=at + dt.timedelta(seconds=1)),
    ]
    signatures = {headers["Authorization"].rsplit("=", 1)[1] for headers in [base, *variants]}
    assert len(signatures) == 6


def test_unreachable_store_is_one_clear_line() -> None:
    error = RuntimeError(
        "An error occurred while calling o123.save.\n: org.apache.spark.SparkException: Job aborted\n"
        "Caused by: org.apache.hadoop.fs.s3a.AWSClientIOException: PUT 0-0: "
        "software.amazon.awssdk.core.exception.SdkClientException: Unable to execute HTTP request: "
        "Connect to 127.0.0.1:19000 [/127.0.0.1] failed: Connection refused"
    )
    message = explain(error, "http://127.0.0.1:19000")
    assert message == (
        "the S3 store at http://127.0.0.1:19000 stopped answering during the job (Connection refused); "
        "the Delta commit did not happen, so readers still see the table's previous version"
    )
    assert explain(ValueError("\n  bad column x\nmore"), "http://e") == "bad column x"


class _JavaThrowable:
    def __init__(self, text: str, cause: _JavaThrowable | None = None) -> None:
        self.text, self.cause = text, cause

    def toString(self) -> str:  # noqa: N802 (the Java method's name)
        return self.text

    def getCause(self) -> _JavaThrowable | None:  # noqa: N802
        return self.cause


class Py4JJavaError(Exception):
    """Stands in for py4j's class: the classifier goes by the class name and the Java causes."""

    def __init__(self, java: _JavaThrowable) -> None:
        super().__init__("An error occurred while calling o77.collectToPython.")
        self.java_exception = java


ABORTED = "org.apache.spark.SparkException: Job aborted"


@pytest.mark.parametrize(
    ("chain", "sign"),
    [
        # The data's fault: a gzip stream cut short, a Parquet footer that does not decode.
        ([ABORTED, "java.io.EOFException: Unexpected end of input stream"], None),
        ([ABORTED, "java.lang.RuntimeException: x.parquet is not a Parquet file"], None),
        # The environment's: found in a cause, however deep.
        ([ABORTED, "java.net.UnknownHostException: minio"], "UnknownHostException: minio"),
        ([ABORTED, "java.io.IOException: No space left on device"], "No space left on device"),
        (["java.io.FileNotFoundException: File file:/l/p.json does not exist"], "FileNotFoundException"),
        ([f"{ABORTED}: SparkContext was shut down"], "SparkContext was shut down"),
    ],
)
def test_a_read_failure_is_blamed_on_the_environment_only_on_its_signs(
    chain: list[str], sign: str | None
) -> None:
    java = None
    for text in reversed(chain):
        java = _JavaThrowable(text, java)
    assert java is not None
    assert environment_failure(Py4JJavaError(java)) == sign


def test_an_error_raised_in_python_is_never_a_files_fault() -> None:
    # The Py4J bridge gone (the JVM killed) reaches Python as a plain Python error.
    assert environment_failure(ConnectionRefusedError("[Errno 111] Connection refused")) is not None


def test_container_stats_give_cpu_of_one_core_and_memory_without_cache() -> None:
    stats = {
        "cpu_stats": {"cpu_usage": {"total_usage": 600}, "system_cpu_usage": 2000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 400}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 500_000, "stats": {"inactive_file": 100_000}},
    }
    assert _container_figures(stats) == (40.0, 400_000)
    assert _container_figures({}) == (0.0, 0)


def test_no_lab_no_figures(tmp_path: Path) -> None:
    config = parse_config({"cluster": {"state_dir": str(tmp_path / "state")}})
    assert sample(config) == {}


def test_auto_mode_is_native_without_a_docker_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({})
    monkeypatch.setattr("cluster.compose.engine_answers", lambda timeout_s=3.0: False)
    assert cli.resolve_mode(config, None) == "native"
    monkeypatch.setattr("cluster.compose.engine_answers", lambda timeout_s=3.0: True)
    assert cli.resolve_mode(config, None) == "compose"
    assert cli.resolve_mode(config, "native") == "native"


def test_status_and_down_of_a_lab_that_is_not_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = tmp_path / "lakelab.toml"
    config_file.write_text(
        f'[cluster]\nstate_dir = "{tmp_path / "state"}"\n'
        "[cluster.ports]\nminio = 29000\nspark_master = 27077\nspark_master_ui = 28080\n"
        "spark_worker_ui = 28081\nspark_connect = 25002\nprometheus = 29090\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config_file), "cluster", "status"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "cluster: mode native"
    assert [line.split()[0] for line in lines[2:]] == [
        "minio",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-connect",
        "prometheus",
        "alertmanager",
    ]
    assert lines[2].split() == ["minio", "-", "29000", "stopped"]
    assert all(line.split()[1] == "-" and line.split()[3] == "stopped" for line in lines[2:])
    assert main(["--config", str(config_file), "cluster", "down"]) == 0
    assert "down (0 services stopped)" in capsys.readouterr().out


def test_init_buckets_names_an_unreachable_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAKELAB_S3_ACCESS_KEY", "user")
    monkeypatch.setenv("LAKELAB_S3_SECRET_KEY", "password123")
    config_file = tmp_path / "lakelab.toml"
    # Port 9 (discard) on loopback: nothing listens there.
    config_file.write_text('[s3]\nendpoint = "http://127.0.0.1:9"\n', encoding="utf-8")
    assert main(["--config", str(config_file), "cluster", "init-buckets"]) == 2
    assert capsys.readouterr().err == (
        "lakelab: error: S3 endpoint http://127.0.0.1:9 is not reachable (is MinIO up?)\n"
    )


def test_a_store_gone_mid_job_is_one_line_naming_the_endpoint() -> None:
    from lakelab.cli import store_failure
    from lakelab.config import parse_config

    on_s3 = parse_config(
        {"s3": {"endpoint": "http://minio:9000"}, "paths": {"warehouse": "s3a://lakelab/warehouse"}}, "test"
    )
    line = store_failure(on_s3, "Spark failed: java.net.UnknownHostException: minio")
    assert line is not None and "\n" not in line
    assert line.startswith("the S3 store at http://minio:9000 stopped answering during the job (")
    assert "UnknownHostException: minio" in line and "lakelab doctor --s3" in line
    # Not an S3 failure, or no S3 in the config: the generic line stays.
    assert store_failure(on_s3, "Spark failed: java.lang.ArithmeticException: / by zero") is None
    assert store_failure(parse_config({}, "test"), "Spark failed: java.net.ConnectException: x") is None
