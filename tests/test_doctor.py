"""`lakelab doctor`: each check against the real thing it checks (Java, files, sockets, HTTP).

The S3 checks that need a store talk to a small S3-shaped HTTP server started here: real
requests, signed by `cluster.s3`, over a real socket. MinIO itself is not started.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lakelab import doctor, jvm
from lakelab.cli import main
from lakelab.config import LakelabConfig, parse_config
from lakelab.doctor import Check

ACCESS_ENV = "DOCTOR_TEST_ACCESS_KEY"
SECRET_ENV = "DOCTOR_TEST_SECRET_KEY"
GOOD_ACCESS = "doctor-access"
SECRET = "doctor-secret-never-printed"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def config_with(tmp_path: Path, **sections: Any) -> LakelabConfig:
    """A config whose lab state lives in `tmp_path` (so no lab is ever up there)."""
    data: dict[str, Any] = {"cluster": {"state_dir": str(tmp_path / "state")}}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return parse_config(data, "tests/test_doctor.py")


# --- the report ---------------------------------------------------------------------------


def test_lines_are_label_name_detail_and_the_fix_only_when_not_ok() -> None:
    assert doctor.format_line(Check("java", True, "OpenJDK 17.0.15 at /usr/bin/java")) == (
        "ok    java       OpenJDK 17.0.15 at /usr/bin/java"
    )
    assert doctor.format_line(Check("s3", False, "cannot connect", "start it")) == (
        "FAIL  s3         cannot connect -> start it"
    )
    assert doctor.format_line(Check("ports", None, "9000 in use", "stop it")) == (
        "--    ports      9000 in use -> stop it"
    )
    assert doctor.format_line(Check("jars", True, "45 jars", "never shown")) == "ok    jars       45 jars"


def test_only_a_failed_check_fails_the_command() -> None:
    assert doctor.exit_code([Check("a", True, ""), Check("b", None, "")]) == 0
    assert doctor.exit_code([]) == 0
    assert doctor.exit_code([Check("a", True, ""), Check("b", False, ""), Check("c", None, "")]) == 1


# --- java ---------------------------------------------------------------------------------


def test_java_check_passes_on_this_machine_and_names_the_executable() -> None:
    check = doctor.check_java()
    assert check.ok is True
    assert re.fullmatch(r"OpenJDK (17|21)\.\S* at .+", check.detail)
    assert check.detail.endswith(f" at {jvm.java_executable()}")


def test_java_description_reads_the_vendor_and_full_version() -> None:
    openjdk = 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)\n'
    oracle = 'java version "21.0.2" 2024-01-16 LTS\nJava(TM) SE Runtime Environment\n'
    assert doctor.java_description(openjdk) == "OpenJDK 17.0.15"
    assert doctor.java_description(oracle) == "Java 21.0.2"
    assert doctor.java_description("Error: could not create the VM") == "Java of unknown version"


def test_an_unusable_java_home_fails_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    check = doctor.check_java()
    assert check.ok is False
    assert f"JAVA_HOME={tmp_path} has no bin/java" in check.detail
    assert "Java 17 or 21" in check.fix


# --- jars ---------------------------------------------------------------------------------


def test_missing_jar_manifest_fails_with_lakelab_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKELAB_CACHE", str(tmp_path))
    check = doctor.check_jars()
    assert check.ok is False
    assert check.detail.startswith(f"no jar manifest at {tmp_path / 'ivy' / jvm.JARS_MANIFEST}")
    assert check.fix == "run `lakelab setup`"


def test_jar_manifest_for_the_pins_passes_until_a_jar_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKELAB_CACHE", str(tmp_path))
    ivy = tmp_path / "ivy"
    (ivy / "jars").mkdir(parents=True)
    jars = [ivy / "jars" / "delta.jar", ivy / "jars" / "hadoop-aws.jar"]
    for jar in jars:
        jar.write_bytes(b"PK")
    jvm.write_jars_manifest(ivy, ",".join(f"file://{jar}" for jar in jars))

    check = doctor.check_jars()
    assert check.ok is True
    assert check.detail.startswith(
        f"2 jars for Delta {jvm.DELTA_VERSION} and hadoop-aws {jvm.HADOOP_VERSION}"
    )

    jars[1].unlink()
    check = doctor.check_jars()
    assert check.ok is False
    assert check.detail == f"1 of 2 jars listed in {ivy / jvm.JARS_MANIFEST} are gone, e.g. {jars[1]}"
    assert check.fix == "run `lakelab setup`"


def test_jar_manifest_for_other_pins_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKELAB_CACHE", str(tmp_path))
    jar = tmp_path / "old.jar"
    jar.write_bytes(b"PK")
    (tmp_path / "ivy").mkdir()
    manifest = {"packages": ["io.delta:delta-spark_4.0_2.13:4.0.0"], "excludes": [], "jars": [str(jar)]}
    (tmp_path / "ivy" / jvm.JARS_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    check = doctor.check_jars()
    assert check.ok is False
    assert "was written for other pins than Delta" in check.detail
    assert check.fix == "run `lakelab setup`"


# --- s3 -----------------------------------------------------------------------------------


class FakeS3(BaseHTTPRequestHandler):
    """Answers like an S3 store: 403 for an unknown access key, bucket `lakelab` only."""

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization", "")
        if self.path == "/" and not authorization:
            self._answer(403, "<Error><Code>AccessDenied</Code></Error>")
        elif f"Credential={GOOD_ACCESS}/" not in authorization:
            self._answer(403, "<Error><Code>InvalidAccessKeyId</Code></Error>")
        elif self.path.startswith("/lakelab?"):
            self._answer(200, "<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>")
        else:
            self._answer(404, "<Error><Code>NoSuchBucket</Code></Error>")

    def _answer(self, status: int, body: str) -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def fake_s3() -> Iterator[str]:
    """The endpoint URL of a FakeS3 server on an ephemeral loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def s3_config(tmp_path: Path, endpoint: str, buckets: list[str], **paths: str) -> LakelabConfig:
    s3 = {
        "endpoint": endpoint,
        "buckets": buckets,
        "access_key_env": ACCESS_ENV,
        "secret_key_env": SECRET_ENV,
    }
    return config_with(tmp_path, s3=s3, paths=paths)


def test_s3_is_skipped_when_the_paths_are_local(tmp_path: Path) -> None:
    check = doctor.check_s3(config_with(tmp_path))
    assert check.ok is None
    assert check.detail.startswith("not used:")


def test_a_closed_s3_endpoint_fails_naming_it(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    check = doctor.check_s3(s3_config(tmp_path, endpoint, ["lakelab"]), forced=True)
    assert check.ok is False
    assert check.detail == f"cannot connect to s3.endpoint {endpoint}: Connection refused"
    assert check.fix == "start the store, or set s3.endpoint to one that runs"


def test_s3_paths_turn_the_check_on_and_the_lab_minio_gets_the_cluster_up_hint(tmp_path: Path) -> None:
    port = closed_port()
    config = config_with(
        tmp_path,
        s3={"endpoint": f"http://127.0.0.1:{port}"},
        paths={"warehouse": "s3a://lakelab/warehouse"},
        cluster={"ports": {"minio": port}},
    )
    check = doctor.check_s3(config)
    assert check.ok is False
    assert check.fix == "start the lab's MinIO with `lakelab cluster up`"


def test_missing_credentials_fail_naming_the_variables(
    tmp_path: Path, fake_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ACCESS_ENV, raising=False)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    check = doctor.check_s3(s3_config(tmp_path, fake_s3, ["lakelab"]), forced=True)
    assert check.ok is False
    assert check.detail == f"{fake_s3} answers, but {ACCESS_ENV} is not set"
    assert check.fix == f"set {ACCESS_ENV} and {SECRET_ENV} in the environment or in .env (see .env.example)"


def test_refused_credentials_fail_naming_endpoint_bucket_and_variables_never_the_secret(
    tmp_path: Path, fake_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACCESS_ENV, "someone-else")
    monkeypatch.setenv(SECRET_ENV, SECRET)
    check = doctor.check_s3(s3_config(tmp_path, fake_s3, ["lakelab"]), forced=True)
    assert check.ok is False
    assert check.detail == f"{fake_s3} refused the credentials for bucket 'lakelab': InvalidAccessKeyId"
    assert ACCESS_ENV in check.fix
    assert SECRET_ENV in check.fix
    assert SECRET not in doctor.format_line(check)


def test_missing_buckets_fail_with_how_to_create_them(
    tmp_path: Path, fake_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACCESS_ENV, GOOD_ACCESS)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    declared = doctor.check_s3(s3_config(tmp_path, fake_s3, ["lakelab", "absent"]), forced=True)
    assert declared.ok is False
    assert declared.detail == f"bucket absent missing on {fake_s3}"
    assert declared.fix == "`lakelab cluster init-buckets` creates them"

    from_a_path = doctor.check_s3(s3_config(tmp_path, fake_s3, ["lakelab"], landing="s3a://other/landing"))
    assert from_a_path.ok is False
    assert from_a_path.detail == f"bucket other missing on {fake_s3}"
    assert from_a_path.fix == "add other to s3.buckets, then `lakelab cluster init-buckets`"


def test_s3_passes_when_every_bucket_answers(
    tmp_path: Path, fake_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACCESS_ENV, GOOD_ACCESS)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    check = doctor.check_s3(s3_config(tmp_path, fake_s3, ["lakelab"]), forced=True)
    assert check.ok is True
    assert check.detail == (
        f"{fake_s3} answers; credentials from {ACCESS_ENV} and {SECRET_ENV} accepted; "
        "bucket lakelab present (path-style)"
    )


def test_the_buckets_checked_are_the_declared_ones_then_those_of_the_paths(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        s3={"buckets": ["lakelab"]},
        paths={"landing": "s3a://raw/landing", "warehouse": "s3a://lakelab/warehouse"},
    )
    assert doctor.s3_buckets(config) == ["lakelab", "raw"]


# --- ports --------------------------------------------------------------------------------


def test_lab_ports_expand_the_worker_uis(tmp_path: Path) -> None:
    ports = doctor.lab_ports(config_with(tmp_path, cluster={"workers": 3}).cluster)
    assert "spark_worker_ui" not in ports
    assert [ports[f"spark_worker_ui+{index}"] for index in range(3)] == [8081, 8082, 8083]
    assert ports["minio"] == 9000 and ports["alertmanager"] == 9093
    assert len(ports) == 14


def test_a_listening_port_is_reported_in_use_with_the_service_it_belongs_to(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        config = config_with(tmp_path, cluster={"ports": {"minio": port}})
        assert doctor.listens(port) is True
        check = doctor.check_ports(config, "native")
    assert doctor.listens(closed_port()) is False
    assert check.ok is None
    assert check.detail.startswith("in use on 127.0.0.1 while the lab is down: ")
    assert f"{port} (minio)" in check.detail
    assert check.fix.startswith("`lakelab cluster up` (native) will fail on ")
    assert f"{port} (minio)" in check.fix


def test_a_port_the_native_lab_does_not_bind_is_no_conflict(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        config = config_with(tmp_path, cluster={"ports": {"driver_ui": port}})
        native = doctor.check_ports(config, "native")
        compose = doctor.check_ports(config, "compose")
    assert f"{port} (driver_ui)" in native.detail
    assert f"{port} (driver_ui)" not in native.fix
    assert f"{port} (driver_ui)" in compose.fix


# --- engine -------------------------------------------------------------------------------


def test_compose_major_reads_both_spellings() -> None:
    assert doctor.compose_major("2.40.3") == 2
    assert doctor.compose_major("v2.1.0\n") == 2
    assert doctor.compose_major("1.29.2") == 1
    assert doctor.compose_major("unknown") is None


def test_engine_check_says_what_cluster_up_will_use(tmp_path: Path) -> None:
    from cluster.compose import engine_answers

    check = doctor.check_engine(config_with(tmp_path))
    if not engine_answers():
        assert check == Check(
            "engine", None, "no Docker engine: `lakelab cluster up` will start the native lab"
        )
    elif check.ok:
        assert re.fullmatch(
            r"Docker engine answers, Compose v?2\.\S+: `lakelab cluster up` uses it", check.detail
        )
    else:
        assert check.fix.startswith("install the Compose v2 plugin")


# --- the command --------------------------------------------------------------------------


def test_cli_prints_one_line_per_check_and_exits_1_when_one_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    config = tmp_path / "lakelab.toml"
    config.write_text(f'[s3]\nendpoint = "{endpoint}"\n[cluster]\nstate_dir = "{tmp_path / "state"}"\n')
    assert main(["--config", str(config), "doctor", "--s3"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line[6:17].strip() for line in lines] == ["java", "jars", "s3", "ports", "engine"]
    assert lines[2].startswith(f"FAIL  s3         cannot connect to s3.endpoint {endpoint}: ")
