"""The CLI: instant help (no heavy imports), one-line usage errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lakelab.cli import main

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HEAVY_MODULES = ("pyspark", "pandas", "matplotlib", "delta", "faker", "numpy")


def test_building_the_command_tree_imports_nothing_heavy() -> None:
    code = (
        "import sys, lakelab.cli; lakelab.cli.build_parser(); "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_help_lists_the_subcommands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lakelab.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("setup", "generate", "pipeline", "sweep", "report", "demo", "cluster"):
        assert command in result.stdout


def test_unknown_option_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["setup", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--no-such-option" in err


def test_bad_config_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "lakelab.toml"
    config.write_text("[sweep]\nrepeats = 0\n")
    assert main(["--config", str(config), "setup"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lakelab: error: {config}: sweep.repeats:")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--time-limit", "0"], "command line: sweep.time_limit_s: {positive} (got 0.0)"),
        (["--time-limit", "-5"], "command line: sweep.time_limit_s: {positive} (got -5.0)"),
        (["--resume", "sweep-none"], "--resume sweep-none: no sweep of that id was started in {results}"),
    ],
)
def test_bad_sweep_options_are_one_line_exit_2_before_spark_starts(
    no_spark: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no lakelab.toml or .env of the repository's
    results = tmp_path / "results"
    assert main(["sweep", "--results", str(results), *options]) == 2
    expected = message.format(results=results, positive="Input should be greater than 0")
    assert capsys.readouterr().err == f"lakelab: error: {expected}\n"
    assert not results.exists()


def test_jar_failure_reason_prefers_the_unresolved_artifact() -> None:
    from lakelab.setup_cmd import _first_reason

    lines = [
        "Host repos.spark-packages.org not found. url=https://repos.spark-packages.org/x.pom",
        "Exception in thread main: [unresolved dependency: io.delta#delta-spark_4.2_2.13;9.9.9: not found]",
    ]
    assert _first_reason(lines).endswith(
        "[unresolved dependency: io.delta#delta-spark_4.2_2.13;9.9.9: not found]"
    )


def test_a_failure_inside_the_jvm_is_one_line_naming_the_java_error(spark: SparkSession) -> None:
    from py4j.protocol import Py4JJavaError

    from lakelab.cli import spark_failure

    jvm = spark._jvm
    assert jvm is not None
    # A Java error pyspark does not convert arrives as py4j's own error...
    with pytest.raises(Py4JJavaError) as raw:
        jvm.java.lang.Class.forName("no.such.Klass")
    assert spark_failure(raw.value) == "Spark failed: java.lang.ClassNotFoundException: no.such.Klass"
    # ... one it converts as one of pyspark's.
    with pytest.raises(Exception) as converted:
        jvm.java.lang.Integer.parseInt("forty-two")
    assert spark_failure(converted.value) == (
        'Spark failed: NumberFormatException: For input string: "forty-two"'
    )
    assert spark_failure(ValueError("not from Spark")) is None
