"""cluster/engine.py's pure parts: which mirror, what to restore, why no engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster import engine


def test_apt_mirror_reads_deb822_sources_and_skips_security(tmp_path: Path) -> None:
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n",
        encoding="utf-8",
    )
    assert engine.apt_mirror(tmp_path) == "http://mirror.example/debian"


def test_apt_mirror_reads_a_legacy_list_and_has_a_default(tmp_path: Path) -> None:
    assert engine.apt_mirror(tmp_path) == engine.DEFAULT_MIRROR
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://old.example/debian bookworm main\n", encoding="utf-8"
    )
    assert engine.apt_mirror(tmp_path) == "http://old.example/debian"


def test_restore_input_empties_the_tables_dockerd_fills_when_there_were_none() -> None:
    text = engine.iptables_restore_input("")
    assert "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" in text
    assert "*nat\n" in text and ":POSTROUTING ACCEPT [0:0]\n" in text


def test_restore_input_keeps_the_rules_that_were_there() -> None:
    before = (
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        "-A INPUT -i lo -j ACCEPT\nCOMMIT"
    )
    text = engine.iptables_restore_input(before)
    assert text.startswith(before + "\n")
    assert text.count("*filter") == 1 and "*nat\n" in text


def test_no_docker_cli_is_one_line_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not engine.answers()
    reason = engine.why_not_startable()
    assert reason is not None and "\n" not in reason and "docker" in reason
    with pytest.raises(engine.EngineUnavailableError, match="no `docker` CLI"):
        engine.find_or_start(tmp_path / "logs", progress=lambda line: None)


def test_a_docker_cli_without_dockerd_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert engine.why_not_startable() == (
        "no Docker engine answers and `dockerd` is not installed (Debian: apt-get install docker.io)"
    )
