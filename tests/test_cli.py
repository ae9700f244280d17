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
