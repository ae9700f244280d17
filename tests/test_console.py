"""What a user sees on the console: lakelab's lines, no library warnings, a failure in one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

# The JVM itself prints this for the module Spark 4 adds; no logging setting reaches it.
JVM_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"
LAKELAB = Path(sys.executable).with_name("lakelab")


def _lakelab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAKELAB), *args], capture_output=True, text=True, cwd=cwd, timeout=600, check=False
    )


def _noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and line != JVM_NOTICE]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("console")
    return root, _lakelab(root, "generate", "--records", "2k", "--landing", str(root / "landing"))


@pytest.mark.slow
def test_a_normal_run_prints_no_spark_or_hadoop_warnings(
    generated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _root, result = generated
    assert result.returncode == 0, result.stderr[-2000:]
    assert _noise(result.stderr) == []
    assert "landing: " in result.stdout and "total" in result.stdout


@pytest.mark.slow
def test_a_failure_inside_spark_is_one_line_naming_the_log_with_the_trace(
    generated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _result = generated
    bronze = _lakelab(
        root, "pipeline", "run", "--landing", "landing", "--warehouse", "wh", "--layers", "bronze"
    )
    assert bronze.returncode == 0, bronze.stderr[-2000:]
    # A data file the Delta log still lists disappears (a disk cleaned by hand, a bad sync).
    gone = sorted((root / "wh" / "bronze" / "crm_account").glob("*.parquet"))[0]
    gone.unlink()
    silver = _lakelab(
        root, "pipeline", "run", "--landing", "landing", "--warehouse", "wh", "--layers", "silver"
    )
    assert silver.returncode == 1
    lines = _noise(silver.stderr)
    assert len(lines) == 1, silver.stderr[-3000:]
    match = re.fullmatch(r"lakelab: pipeline: Spark failed: (.+); Spark's log: (\S+\.log)", lines[0])
    assert match, lines[0]
    assert gone.name in match.group(1) and "FileNotFoundException" in match.group(1)
    log = Path(match.group(2)).read_text(encoding="utf-8")
    # The whole Java stack trace is in the file the line names, and nowhere on the console.
    assert "\tat org.apache.spark." in log and gone.name in log
    assert "\tat " not in silver.stdout + silver.stderr
