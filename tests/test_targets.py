"""A running command's file_sd target files: there while it runs, gone after, however it ends."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from lakelab.cli import main
from lakelab.config import LakelabConfig, parse_config
from lakelab.targets import (
    ADVERTISE_HOST_ENV,
    DRIVER_PREFIX,
    HARNESS_PREFIX,
    command_exporter_port,
    registered_targets,
    scrape_target,
    target_files,
)

HOST = "10.1.2.3"


@pytest.fixture(autouse=True)
def advertised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADVERTISE_HOST_ENV, HOST)


def config_with(targets: Path | None, **metrics: Any) -> LakelabConfig:
    section: dict[str, Any] = dict(metrics)
    if targets is not None:
        section["scrape_targets_dir"] = str(targets)
    return parse_config({"metrics": section, "spark": {"ui_port": 4050}}, "test")


def contents(folder: Path) -> dict[str, Any]:
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.iterdir())}


def stem() -> str:
    return f"{socket.gethostname()}-{os.getpid()}.json"


def groups(target: str, command: str, instance: str | None = None) -> list[dict[str, Any]]:
    labels = {"lakelab_command": command, "instance_name": instance or socket.gethostname()}
    return [{"targets": [target], "labels": labels}]


def test_files_are_there_inside_and_gone_after(tmp_path: Path) -> None:
    folder = tmp_path / "targets"  # created when missing
    config = config_with(folder, exporter_host="0.0.0.0")
    with registered_targets(config, "sweep", 9108) as written:
        assert sorted(path.name for path in written) == [DRIVER_PREFIX + stem(), HARNESS_PREFIX + stem()]
        assert contents(folder) == {
            DRIVER_PREFIX + stem(): groups(f"{HOST}:4050", "sweep"),
            HARNESS_PREFIX + stem(): groups(f"{HOST}:9108", "sweep"),
        }
        # Prometheus runs as another user; nothing half-written is left beside the files.
        assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o644}
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError("run failed"), KeyboardInterrupt()])
def test_files_are_gone_after_an_exception_or_ctrl_c(tmp_path: Path, error: BaseException) -> None:
    config = config_with(tmp_path)
    with pytest.raises(type(error)), registered_targets(config, "pipeline") as written:
        assert [path.name for path in written] == [DRIVER_PREFIX + stem()]
        raise error
    assert list(tmp_path.iterdir()) == []


def test_sigterm_ends_the_command_and_removes_the_files(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with pytest.raises(SystemExit) as exit_info, registered_targets(config, "sweep"):
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # else the kill below ends pytest
        os.kill(os.getpid(), signal.SIGTERM)
    assert exit_info.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_no_setting_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = config_with(None, exporter_port=9108)
    assert config.metrics.scrape_targets_dir is None
    with registered_targets(config, "sweep", 9108) as written:
        assert written == []
        assert list(tmp_path.iterdir()) == []


def test_harness_file_only_for_a_command_running_the_exporter(tmp_path: Path) -> None:
    # [metrics] exporter_port is set, but `pipeline run` starts no exporter: no harness target.
    config = config_with(tmp_path, exporter_port=9108, exporter_host="0.0.0.0")
    with registered_targets(config, "pipeline", None):
        assert list(contents(tmp_path)) == [DRIVER_PREFIX + stem()]
    sweep = argparse.Namespace(exporter_port=None)
    with registered_targets(config, "sweep", command_exporter_port(config, sweep)):
        assert contents(tmp_path)[HARNESS_PREFIX + stem()] == groups(f"{HOST}:9108", "sweep")


def test_exporter_port_option_wins_over_the_config() -> None:
    config = config_with(None, exporter_port=9108)
    assert command_exporter_port(config, argparse.Namespace(exporter_port=9200)) == 9200
    assert command_exporter_port(config, argparse.Namespace(exporter_port=None)) == 9108
    assert command_exporter_port(config_with(None), argparse.Namespace(exporter_port=None)) is None
    assert command_exporter_port(config, argparse.Namespace()) is None  # a command without the option


def test_advertised_address_is_the_host_names_unless_the_env_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADVERTISE_HOST_ENV)
    own = socket.gethostbyname(socket.gethostname())
    with registered_targets(config_with(tmp_path), "sweep"):
        assert contents(tmp_path) == {DRIVER_PREFIX + stem(): groups(f"{own}:4050", "sweep")}
    monkeypatch.setenv(ADVERTISE_HOST_ENV, "lakelab-run-1")
    with registered_targets(config_with(tmp_path), "sweep"):
        assert contents(tmp_path) == {DRIVER_PREFIX + stem(): groups("lakelab-run-1:4050", "sweep")}


def test_an_exporter_on_one_address_is_advertised_there() -> None:
    config = config_with(None, exporter_host="127.0.0.1")
    files = target_files(config, "demo", HOST, "box", 7, 9108)
    assert files == {
        "driver-box-7.json": groups(f"{HOST}:4050", "demo", "box"),
        "harness-box-7.json": groups("127.0.0.1:9108", "demo", "box"),
    }


def test_no_driver_file_without_a_ui_and_no_harness_file_for_port_0() -> None:
    config = parse_config({"spark": {"ui_enabled": False}})
    assert target_files(config, "sweep", HOST, "box", 7, 0) == {}


def test_ipv6_addresses_are_bracketed() -> None:
    assert scrape_target("fd00::5", 4040) == "[fd00::5]:4040"
    assert scrape_target("172.18.0.9", 4040) == "172.18.0.9:4040"


def test_an_unwritable_folder_is_one_warning_and_the_command_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    ran = False
    with registered_targets(config_with(blocker / "targets"), "sweep", 9108) as written:
        ran = True
        assert written == []
    assert ran
    err = capsys.readouterr().err
    assert err.startswith(f"lakelab: warning: cannot register scrape targets in {blocker / 'targets'}: ")
    assert err.count("\n") == 1


def test_main_registers_every_command_while_its_handler_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "targets"
    config_file = tmp_path / "lakelab.toml"
    config_file.write_text(f'[metrics]\nexporter_host = "0.0.0.0"\nscrape_targets_dir = "{folder}"\n')
    seen: dict[str, dict[str, Any]] = {}

    def fake(name: str) -> Any:
        def handler(config: LakelabConfig, args: argparse.Namespace) -> int:
            seen[name] = contents(folder)
            return 0

        return handler

    monkeypatch.setattr("harness.cli._sweep", fake("sweep"))
    monkeypatch.setattr("harness.cli._report", fake("report"))
    assert main(["--config", str(config_file), "sweep", "--exporter-port", "9200"]) == 0
    assert main(["--config", str(config_file), "report"]) == 0
    assert seen["sweep"] == {
        DRIVER_PREFIX + stem(): groups(f"{HOST}:4040", "sweep"),
        HARNESS_PREFIX + stem(): groups(f"{HOST}:9200", "sweep"),
    }
    assert seen["report"] == {DRIVER_PREFIX + stem(): groups(f"{HOST}:4040", "report")}
    assert list(folder.iterdir()) == []
