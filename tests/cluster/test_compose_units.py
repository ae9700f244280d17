"""The compose lab's sizing, checks and status parsing, without a Docker engine.

Only the last tests run the real `docker compose config` (the CLI alone, no engine); they
skip where `docker compose version` fails.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import compose
from cluster.compose import (
    GIB,
    MIB,
    PublishedPort,
    check_memory,
    check_ports_free,
    compose_env,
    container_state,
    format_size,
    parse_inspect,
    parse_ps,
    parse_size,
    published_ports,
    service_statuses,
)
from cluster.native import ServiceStatus
from lakelab.cli import main
from lakelab.config import LakelabConfig, parse_config
from lakelab.errors import UserError

SHIFTED_PORTS = {
    "minio": 19000,
    "minio_console": 19001,
    "spark_master": 17077,
    "spark_master_ui": 18080,
    "spark_worker_ui": 18081,
    "spark_connect": 25002,
    "spark_connect_ui": 14041,
    "driver_ui": 14040,
    "exporter": 19108,
    "prometheus": 19090,
    "grafana": 13000,
}


def _config(**spark: str) -> LakelabConfig:
    return parse_config({"spark": spark, "cluster": {"ports": SHIFTED_PORTS}}, "test")


def _memory(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if "MEM" in name}


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 * MIB), ("1536m", 1536 * MIB), ("2g", 2 * GIB), ("2GB", 2 * GIB), ("1.5g", 1536 * MIB)],
)
def test_sizes_parse_to_bytes(text: str, size: int) -> None:
    assert parse_size(text, "X") == size


@pytest.mark.parametrize(("size", "text"), [(2 * GIB, "2g"), (1536 * MIB, "1536m"), (4352 * MIB, "4352m")])
def test_sizes_format_as_parse_size_reads_them(size: int, text: str) -> None:
    assert format_size(size) == text
    assert parse_size(format_size(size), "X") == size


@pytest.mark.parametrize("text", ["2048", "2 gigs", "", "-1g"])
def test_a_bad_size_names_its_variable(text: str) -> None:
    with pytest.raises(UserError, match=rf"^LAKELAB_MEM_WORKER={text}: not a size"):
        parse_size(text, "LAKELAB_MEM_WORKER")


# --- compose_env --------------------------------------------------------------------------


def test_ports_follow_cluster_ports() -> None:
    env = compose_env(_config(), {}, 24 * GIB)
    ports = {name: value for name, value in env.items() if name.startswith("LAKELAB_PORT_")}
    assert ports == {
        "LAKELAB_PORT_MINIO": "19000",
        "LAKELAB_PORT_MINIO_CONSOLE": "19001",
        "LAKELAB_PORT_SPARK_MASTER": "17077",
        "LAKELAB_PORT_SPARK_MASTER_UI": "18080",
        "LAKELAB_PORT_SPARK_WORKER_1_UI": "18081",
        "LAKELAB_PORT_SPARK_WORKER_2_UI": "18082",
        "LAKELAB_PORT_SPARK_CONNECT": "25002",
        "LAKELAB_PORT_SPARK_CONNECT_UI": "14041",
        "LAKELAB_PORT_DRIVER_UI": "14040",
        "LAKELAB_PORT_EXPORTER": "19108",
        "LAKELAB_PORT_PROMETHEUS": "19090",
        "LAKELAB_PORT_ALERTMANAGER": "9093",
        "LAKELAB_PORT_GRAFANA": "13000",
    }
    assert env["LAKELAB_WORKER_CORES"] == "2"


def test_a_port_variable_that_disagrees_with_lakelab_toml_is_refused() -> None:
    assert compose_env(_config(), {"LAKELAB_PORT_MINIO": "19000"}, 24 * GIB)["LAKELAB_PORT_MINIO"] == "19000"
    with pytest.raises(UserError, match=r"^LAKELAB_PORT_MINIO=9000 .*\[cluster.ports\] minio = 19000"):
        compose_env(_config(), {"LAKELAB_PORT_MINIO": "9000"}, 24 * GIB)
    with pytest.raises(UserError, match=r"^LAKELAB_WORKER_CORES=4 .*worker_cores = 2"):
        compose_env(_config(), {"LAKELAB_WORKER_CORES": "4"}, 24 * GIB)


def test_memory_on_a_24_gib_host() -> None:
    # 18 GiB budget; 7.5 GiB fixed (1g + 1g + 1536m + 768m + 256m + a 3g job for the job config's
    # 2g driver); 10.5 GiB left for two workers, each offering executors all but 768m.
    assert _memory(compose_env(_config(), {}, 24 * GIB)) == {
        "LAKELAB_MEM_MINIO": "1g",
        "LAKELAB_MEM_MASTER": "1g",
        "LAKELAB_MEM_CONNECT": "1536m",
        "LAKELAB_MEM_PROMETHEUS": "768m",
        "LAKELAB_MEM_ALERTMANAGER": "256m",
        "LAKELAB_MEM_GRAFANA": "512m",
        "LAKELAB_MEM_JOB": "3g",
        "LAKELAB_MEM_WORKER": "5376m",
        "LAKELAB_WORKER_MEMORY": "4608m",
    }


@pytest.mark.parametrize("profiles", ["grafana", "jobs,grafana", "*"])
def test_grafanas_share_comes_out_of_the_workers_when_its_profile_is_on(profiles: str) -> None:
    env = compose_env(_config(), {"COMPOSE_PROFILES": profiles}, 24 * GIB)
    assert (env["LAKELAB_MEM_WORKER"], env["LAKELAB_WORKER_MEMORY"]) == ("5g", "4352m")


def test_worker_limits_are_capped_on_a_large_host() -> None:
    env = compose_env(_config(), {}, 64 * GIB)
    assert (env["LAKELAB_MEM_WORKER"], env["LAKELAB_WORKER_MEMORY"]) == ("8g", "7424m")


def test_the_job_container_follows_the_job_config_not_the_hosts() -> None:
    """Jobs run with cluster/compose.lakelab.toml; the host's driver_memory sizes nothing here."""
    from cluster.compose import job_config

    assert job_config().spark.driver_memory == "2g"
    env = compose_env(_config(driver_memory="8g"), {}, 24 * GIB)
    assert env["LAKELAB_MEM_JOB"] == "3g"


def test_a_16_gib_laptop_gets_a_lab_that_passes_its_check() -> None:
    env = compose_env(_config(), {}, 16 * GIB)
    assert (env["LAKELAB_MEM_WORKER"], env["LAKELAB_WORKER_MEMORY"]) == ("2304m", "1536m")
    check_memory(env, 16 * GIB, "1g")  # a 1g executor + 384m fits 1536m


def test_an_8_gib_host_cannot_derive_the_lab() -> None:
    # 6 GiB budget < 7.5 GiB fixed; a worker needs 1g + 384m + its 768m JVM.
    with pytest.raises(UserError) as error:
        compose_env(_config(), {}, 8 * GIB)
    message = str(error.value)
    assert message.startswith("this machine has 8.0 GiB of RAM; the compose lab needs at least 16 GiB")
    assert message.endswith("use `--mode native` or set LAKELAB_MEM_* in .env")


def test_user_set_sizes_are_kept_on_an_8_gib_host() -> None:
    environ = {
        "LAKELAB_MEM_MINIO": "512m",
        "LAKELAB_MEM_MASTER": "512m",
        "LAKELAB_MEM_CONNECT": "1g",
        "LAKELAB_MEM_PROMETHEUS": "512m",
        "LAKELAB_MEM_JOB": "1536m",
        "LAKELAB_MEM_WORKER": "1792m",
    }
    env = compose_env(_config(), environ, 8 * GIB)
    assert _memory(env) == {
        **environ,
        "LAKELAB_MEM_ALERTMANAGER": "256m",
        "LAKELAB_MEM_GRAFANA": "512m",
        "LAKELAB_WORKER_MEMORY": "1g",
    }
    check_memory(env, 8 * GIB, "512m")  # 7.75 GiB of limits fit 8 GiB; a 512m executor fits 1g


def test_setting_one_worker_size_derives_the_other() -> None:
    offered = compose_env(_config(), {"LAKELAB_WORKER_MEMORY": "6g"}, 24 * GIB)
    assert (offered["LAKELAB_MEM_WORKER"], offered["LAKELAB_WORKER_MEMORY"]) == ("6912m", "6g")
    limited = compose_env(_config(), {"LAKELAB_MEM_WORKER": "3g"}, 24 * GIB)
    assert (limited["LAKELAB_MEM_WORKER"], limited["LAKELAB_WORKER_MEMORY"]) == ("3g", "2304m")


def test_a_bad_minio_binary_is_refused() -> None:
    with pytest.raises(UserError, match=r"^LAKELAB_MINIO_BINARY=docker: must be `source` or `prebuilt`$"):
        compose_env(_config(), {"LAKELAB_MINIO_BINARY": "docker"}, 24 * GIB)


# --- check_memory -------------------------------------------------------------------------


def _derived(**overrides: str) -> dict[str, str]:
    return {**compose_env(_config(), {}, 24 * GIB), **overrides}


def test_the_derived_sizes_pass_their_own_check() -> None:
    check_memory(_derived(), 24 * GIB, "1g")


def test_a_worker_limit_without_room_for_the_workers_jvm_is_refused() -> None:
    env = _derived(LAKELAB_MEM_WORKER="3g", LAKELAB_WORKER_MEMORY="2816m")
    with pytest.raises(UserError, match=r"^LAKELAB_MEM_WORKER=3g leaves the worker's own JVM less than 512m"):
        check_memory(env, 24 * GIB, "1g")


def test_executors_larger_than_a_worker_offers_are_refused() -> None:
    env = _derived(LAKELAB_MEM_WORKER="2g", LAKELAB_WORKER_MEMORY="1g")
    with pytest.raises(UserError) as error:
        check_memory(env, 24 * GIB, "1g")
    assert str(error.value).startswith(
        "executors would never start: spark.executor_memory = 1g plus 384m overhead is more than "
        "LAKELAB_WORKER_MEMORY=1g offers them"
    )


def test_limits_above_the_hosts_ram_are_refused() -> None:
    env = _derived(LAKELAB_MEM_WORKER="9g", LAKELAB_WORKER_MEMORY="8g")
    with pytest.raises(UserError) as error:
        check_memory(env, 24 * GIB, "1g")
    message = str(error.value)
    assert message.startswith("the compose lab's memory limits add up to 25.5 GiB (")
    assert "LAKELAB_MEM_WORKER=9g x2" in message and "LAKELAB_MEM_JOB=3g" in message
    assert "but this machine has 24.0 GiB" in message


def test_a_host_below_the_minimum_is_refused() -> None:
    with pytest.raises(
        UserError, match=r"^this machine has 4.0 GiB of RAM; the compose lab needs at least 6 GiB"
    ):
        check_memory(_derived(), 4 * GIB, "1g")


def test_a_user_size_that_is_no_size_is_named() -> None:
    with pytest.raises(UserError, match=r"^LAKELAB_MEM_JOB=lots: not a size"):
        check_memory(_derived(LAKELAB_MEM_JOB="lots"), 24 * GIB, "1g")


# --- ports --------------------------------------------------------------------------------


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_taken_port_names_the_port_service_and_variable(listening_port: int) -> None:
    taken = PublishedPort(listening_port, "minio", "LAKELAB_PORT_MINIO")
    with pytest.raises(UserError) as error:
        check_ports_free([taken], own_ports=set())
    assert str(error.value).startswith(
        f"port {listening_port} (minio, LAKELAB_PORT_MINIO) is already in use on 127.0.0.1: stop what holds "
        "it or set [cluster.ports] minio in lakelab.toml (LAKELAB_PORT_MINIO follows it)"
    )
    # Our own running lab holds it: re-running `up` goes on.
    check_ports_free([taken], own_ports={listening_port})


def test_published_ports_are_named_by_service_and_variable() -> None:
    rendered = {
        "services": {
            "minio": {
                "ports": [
                    {"host_ip": "127.0.0.1", "target": 9000, "published": "19000", "protocol": "tcp"},
                    {"host_ip": "127.0.0.1", "target": 9001, "published": "19001", "protocol": "tcp"},
                ]
            },
            "minio-init": {"restart": "no"},
        }
    }
    env = {"LAKELAB_PORT_MINIO": "19000", "LAKELAB_PORT_MINIO_CONSOLE": "19001", "LAKELAB_MEM_JOB": "19000"}
    assert published_ports(rendered, env) == [
        PublishedPort(19000, "minio", "LAKELAB_PORT_MINIO"),
        PublishedPort(19001, "minio", "LAKELAB_PORT_MINIO_CONSOLE"),
    ]


# --- status -------------------------------------------------------------------------------

# `docker compose ps --all --format json` (Compose 2.40, one object a line), Labels shortened.
PS_OUTPUT = "\n".join(
    json.dumps(line)
    for line in [
        {
            "Command": '"tini -- /usr/local/…"',
            "CreatedAt": "2026-11-27 15:25:25 +0000 UTC",
            "ExitCode": 0,
            "Health": "healthy",
            "ID": "22d18e9440c3",
            "Image": "lakelab/minio:20260212-7aac2a2",
            "Labels": "com.docker.compose.oneoff=False,com.docker.compose.project=lakelab,"
            "com.docker.compose.service=minio",
            "Name": "lakelab-minio-1",
            "Names": "lakelab-minio-1",
            "Project": "lakelab",
            "Publishers": [
                {"URL": "127.0.0.1", "TargetPort": 9000, "PublishedPort": 9000, "Protocol": "tcp"},
                {"URL": "127.0.0.1", "TargetPort": 9001, "PublishedPort": 9001, "Protocol": "tcp"},
            ],
            "Service": "minio",
            "State": "running",
            "Status": "Up 15 seconds (healthy)",
        },
        {
            "Command": '"tini -- lakelab-ent…"',
            "ExitCode": 0,
            "Health": "",
            "ID": "c3011781baa3",
            "Labels": "com.docker.compose.oneoff=False,com.docker.compose.service=minio-init",
            "Name": "lakelab-minio-init-1",
            "Publishers": [],
            "Service": "minio-init",
            "State": "exited",
            "Status": "Exited (0) 9 seconds ago",
        },
        {
            "ExitCode": 137,
            "Health": "",
            "Labels": "com.docker.compose.oneoff=False,com.docker.compose.service=spark-worker-1",
            "Name": "lakelab-spark-worker-1-1",
            "Publishers": [{"URL": "127.0.0.1", "TargetPort": 8081, "PublishedPort": 0, "Protocol": "tcp"}],
            "Service": "spark-worker-1",
            "State": "exited",
            "Status": "Exited (137) 1 second ago",
        },
        {
            "ExitCode": 0,
            "Health": "healthy",
            "Labels": "com.docker.compose.oneoff=False,com.docker.compose.service=spark-worker-2",
            "Name": "lakelab-spark-worker-2-1",
            "Publishers": [
                {"URL": "127.0.0.1", "TargetPort": 8081, "PublishedPort": 8082, "Protocol": "tcp"}
            ],
            "Service": "spark-worker-2",
            "State": "running",
            "Status": "Up 3 seconds (healthy)",
        },
        {
            "ExitCode": 0,
            "Health": "starting",
            "Labels": "com.docker.compose.oneoff=False,com.docker.compose.service=spark-master",
            "Name": "lakelab-spark-master-1",
            "Publishers": [
                {"URL": "127.0.0.1", "TargetPort": 7077, "PublishedPort": 7077, "Protocol": "tcp"}
            ],
            "Service": "spark-master",
            "State": "running",
            "Status": "Up 2 seconds (health: starting)",
        },
        {
            "ExitCode": 0,
            "Health": "unhealthy",
            "Labels": "com.docker.compose.oneoff=False,com.docker.compose.service=spark-connect",
            "Name": "lakelab-spark-connect-1",
            "Publishers": [
                {"URL": "127.0.0.1", "TargetPort": 4041, "PublishedPort": 4041, "Protocol": "tcp"},
                {"URL": "127.0.0.1", "TargetPort": 15002, "PublishedPort": 15002, "Protocol": "tcp"},
            ],
            "Service": "spark-connect",
            "State": "running",
            "Status": "Up 2 minutes (unhealthy)",
        },
        {
            "ExitCode": 0,
            "Health": "",
            "Labels": "com.docker.compose.oneoff=True,com.docker.compose.service=lakelab",
            "Name": "lakelab-lakelab-run-5e1f0c2a7b3d",
            "Publishers": [],
            "Service": "lakelab",
            "State": "running",
            "Status": "Up 1 minute",
        },
    ]
)
# `docker compose config --no-interpolate --format json`, services only, trimmed.
DECLARED = {
    "services": {
        "grafana": {"profiles": ["grafana"]},
        "lakelab": {"profiles": ["jobs"]},
        "minio": {},
        "minio-init": {"restart": "no"},
        "prometheus": {},
        "spark-connect": {
            "ports": [
                "127.0.0.1:${LAKELAB_PORT_SPARK_CONNECT:-15002}:15002",
                "127.0.0.1:${LAKELAB_PORT_SPARK_CONNECT_UI:-4041}:4041",
            ]
        },
        "spark-master": {},
        "spark-worker-1": {"restart": "on-failure"},
        "spark-worker-2": {"restart": "on-failure"},
    }
}
# `docker inspect --format INSPECT_FORMAT`: worker 2 was OOM-killed and restarted by its policy.
INSPECT_OUTPUT = (
    "/lakelab-minio-1 4242 false\n"
    "/lakelab-minio-init-1 0 false\n"
    "/lakelab-spark-worker-1-1 0 false\n"
    "/lakelab-spark-worker-2-1 5151 true\n"
    "/lakelab-spark-master-1 6161 false\n"
    "/lakelab-spark-connect-1 7171 false\n"
)


def test_status_rows_from_ps_and_inspect() -> None:
    rows = service_statuses(DECLARED, parse_ps(PS_OUTPUT), parse_inspect(INSPECT_OUTPUT))
    assert rows == [
        ServiceStatus("minio", 4242, 9000, "healthy"),
        ServiceStatus("minio-init", None, 0, "completed"),
        ServiceStatus("prometheus", None, 0, "stopped"),
        ServiceStatus("spark-connect", 7171, 15002, "unhealthy"),
        ServiceStatus("spark-master", 6161, 7077, "starting"),
        ServiceStatus("spark-worker-1", None, 0, "exited (code 137)"),
        ServiceStatus("spark-worker-2", 5151, 8082, "oom-killed"),
    ]


def test_ps_output_as_one_json_array_parses_too() -> None:
    lines = parse_ps(PS_OUTPUT)
    assert parse_ps(json.dumps(lines)) == lines


@pytest.mark.parametrize(
    ("container", "one_shot", "oom", "state"),
    [
        ({"State": "exited", "ExitCode": 0}, True, False, "completed"),
        ({"State": "exited", "ExitCode": 0}, False, False, "exited (code 0)"),
        ({"State": "exited", "ExitCode": 1}, True, False, "exited (code 1)"),
        ({"State": "exited", "ExitCode": 137}, False, True, "oom-killed"),
        ({"State": "running", "Health": ""}, True, False, "starting"),
        ({"State": "running", "Health": ""}, False, False, "healthy"),
        ({"State": "running", "Health": "unhealthy"}, False, False, "unhealthy"),
        ({"State": "restarting", "ExitCode": 137}, False, False, "restarting (code 137)"),
        ({"State": "created"}, False, False, "created"),
    ],
)
def test_container_states(container: dict[str, object], one_shot: bool, oom: bool, state: str) -> None:
    assert container_state(container, one_shot, oom) == state


def test_a_lab_is_ready_when_every_service_is_healthy_or_completed() -> None:
    from cluster.cli import all_ready

    healthy = ServiceStatus("minio", 1, 9000, "healthy")
    assert all_ready([healthy, ServiceStatus("minio-init", None, 0, "completed")])
    assert not all_ready([healthy, ServiceStatus("spark-worker-1", 2, 8081, "oom-killed")])
    assert not all_ready([])


# --- extra CA certificates ----------------------------------------------------------------

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_extra_ca_certificates_are_copied_as_crt(tmp_path: Path) -> None:
    target = tmp_path / "ca-certificates"
    source = tmp_path / "proxy.pem"
    source.write_text(PEM, encoding="utf-8")
    copies = compose.install_extra_ca_certs({"LAKELAB_EXTRA_CA_CERTS": str(source)}, target)
    assert copies == [target / "extra-proxy.crt"]
    assert copies[0].read_text(encoding="utf-8") == PEM
    folder = tmp_path / "corporate"
    folder.mkdir()
    (folder / "root.crt").write_text(PEM, encoding="utf-8")
    (folder / "notes.txt").write_text("not a certificate", encoding="utf-8")
    (target / "by-hand.crt").write_text(PEM, encoding="utf-8")
    compose.install_extra_ca_certs({"LAKELAB_EXTRA_CA_CERTS": str(folder)}, target)
    # The earlier copy is replaced; a file put there by hand stays.
    assert sorted(path.name for path in target.iterdir()) == ["by-hand.crt", "extra-root.crt"]
    assert compose.install_extra_ca_certs({}, target) == []
    assert sorted(path.name for path in target.iterdir()) == ["by-hand.crt"]


def test_a_missing_extra_ca_path_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.crt"
    with pytest.raises(UserError, match=rf"^LAKELAB_EXTRA_CA_CERTS={missing}: no such file or folder$"):
        compose.install_extra_ca_certs({"LAKELAB_EXTRA_CA_CERTS": str(missing)}, tmp_path / "target")
    der = tmp_path / "proxy.crt"
    der.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(UserError, match=r"proxy.crt holds no PEM certificate$"):
        compose.install_extra_ca_certs({"LAKELAB_EXTRA_CA_CERTS": str(der)}, tmp_path / "target")


# --- CLI ----------------------------------------------------------------------------------


def test_down_volumes_refuses_the_native_lab(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "mode").write_text("native\n", encoding="utf-8")
    config_file = tmp_path / "lakelab.toml"
    config_file.write_text(f'[cluster]\nstate_dir = "{state}"\n', encoding="utf-8")
    assert main(["--config", str(config_file), "cluster", "down", "--volumes"]) == 2
    assert "--volumes removes the compose lab's volumes, but the native lab is up" in capsys.readouterr().err


# --- the real `docker compose config` (CLI only, no engine) -------------------------------


@pytest.fixture
def compose_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    from cluster.engine import compose_version

    if compose_version() is None:
        pytest.skip("`docker compose version` fails: no Compose v2 CLI")
    monkeypatch.setenv("LAKELAB_S3_ACCESS_KEY", "lakelab-test")
    monkeypatch.setenv("LAKELAB_S3_SECRET_KEY", "not-a-secret")
    monkeypatch.setenv("GRAFANA_ADMIN_PASSWORD", "not-a-secret")
    # Empty wins over a COMPOSE_PROFILES in a developer's .env: no profile, as `up` runs it.
    monkeypatch.setenv("COMPOSE_PROFILES", "")


def test_rendered_config_publishes_the_shifted_ports_and_sizes(compose_cli: None) -> None:
    config = _config()
    env = compose_env(config, {}, 24 * GIB)
    rendered = compose.render_config(config, env)
    ports = {(published.service, published.port) for published in published_ports(rendered, env)}
    assert ports == {
        ("minio", 19000),
        ("minio", 19001),
        ("spark-master", 17077),
        ("spark-master", 18080),
        ("spark-worker-1", 18081),
        ("spark-worker-2", 18082),
        ("spark-connect", 25002),
        ("spark-connect", 14041),
        ("prometheus", 19090),
        ("alertmanager", 9093),
    }
    assert {
        mapping["host_ip"] for spec in rendered["services"].values() for mapping in spec.get("ports", [])
    } == {"127.0.0.1"}
    worker = rendered["services"]["spark-worker-1"]
    assert int(worker["mem_limit"]) == 5376 * MIB
    assert worker["command"][worker["command"].index("--memory") + 1] == "4608m"
    assert int(rendered["services"]["minio"]["mem_limit"]) == GIB


def test_declared_model_names_the_one_shot_and_the_lab_services(compose_cli: None) -> None:
    model = compose.declared_model(_config())
    assert compose.one_shot_services(model) == {"minio-init"}
    assert compose.lab_services(model) == [
        "alertmanager",
        "minio",
        "minio-init",
        "prometheus",
        "spark-connect",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
    ]
    workers = [name for name in model["services"] if name.startswith("spark-worker-")]
    assert len(workers) == compose.COMPOSE_WORKERS


def test_a_missing_secret_makes_compose_refuse_and_name_it(
    compose_cli: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKELAB_S3_SECRET_KEY")
    result = subprocess.run(
        ["docker", "compose", "-f", str(compose.REPO_ROOT / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert result.returncode != 0
    assert "LAKELAB_S3_SECRET_KEY" in result.stderr and ".env.example" in result.stderr


def test_the_compose_command_is_the_same_in_every_doc() -> None:
    """README and QUICK_START give the sweep command the compose tests run from docs/cluster.md."""
    cluster_md = (compose.REPO_ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    marked = cluster_md.split("<!-- compose-sweep -->", 1)[1].split("```")[1].splitlines()[1]
    assert marked.startswith("docker compose run --rm lakelab lakelab sweep ")
    for doc in ("README.md", "QUICK_START.md"):
        assert marked in (compose.REPO_ROOT / doc).read_text(encoding="utf-8"), doc


def test_a_worker_is_registered_only_when_the_master_lists_it_alive() -> None:
    from cluster.healthcheck import worker_registered

    master = {
        "workers": [
            {"host": "172.18.0.5", "state": "ALIVE"},
            {"host": "172.18.0.6", "state": "DEAD"},
        ]
    }
    assert worker_registered(master, "172.18.0.5")
    assert not worker_registered(master, "172.18.0.6")
    assert not worker_registered(master, "172.18.0.7")
    assert not worker_registered({}, "172.18.0.5")
