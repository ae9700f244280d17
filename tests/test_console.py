"""What a user sees on the console during a normal run: lakelab's lines, no library warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# The JVM itself prints this for the module Spark 4 adds; no logging setting reaches it.
JVM_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"


@pytest.mark.slow
def test_a_normal_run_prints_no_spark_or_hadoop_warnings(tmp_path: Path) -> None:
    lakelab = Path(sys.executable).with_name("lakelab")
    result = subprocess.run(
        [str(lakelab), "generate", "--records", "2k", "--landing", str(tmp_path / "landing")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    noise = [line for line in result.stderr.splitlines() if line.strip() and line != JVM_NOTICE]
    assert noise == []
    assert "landing: " in result.stdout and "total" in result.stdout
