"""`lakelab setup`: check Java and resolve the jars into the cache, once."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

from lakelab import jvm
from lakelab.paths import ivy_dir

_RESOLVE_SCRIPT = """
import sys
from lakelab.config import LakelabConfig
from lakelab.spark import get_session
spark = get_session(LakelabConfig.model_validate({"spark": {"master": "local[1]", "ui_enabled": False}}))
print("delta-ok" if spark.range(3).count() == 3 else "bad")
print("spark.jars=" + spark.sparkContext.getConf().get("spark.jars", ""))
spark.stop()
"""


def register(commands: Any) -> None:
    """Add `setup` to the command tree."""
    parser = commands.add_parser("setup", help="check Java and fetch the Delta and S3A jars into the cache")
    parser.set_defaults(handler=run)


def resolve_jars() -> float:
    """Start Spark once in a child process so Ivy fetches the jars; record them; return seconds.

    A child process, because a JVM that failed to start leaves nothing reusable and
    because the resolver's own output is the best explanation of what went wrong. The old
    manifest goes first, so that the child resolves the packages rather than reusing it.
    """
    started = time.perf_counter()
    (ivy_dir() / jvm.JARS_MANIFEST).unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", _RESOLVE_SCRIPT], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or "delta-ok" not in result.stdout:
        reason = _first_reason((result.stderr + result.stdout).splitlines())
        from lakelab.errors import UserError

        raise UserError(
            f"could not fetch the jars ({', '.join(jvm.spark_packages())}) into {ivy_dir()}: "
            f"{reason}; check that Maven Central (repo1.maven.org) is reachable"
        )
    listed = [line for line in result.stdout.splitlines() if line.startswith("spark.jars=")]
    if listed and listed[-1] != "spark.jars=":
        jvm.write_jars_manifest(ivy_dir(), listed[-1].removeprefix("spark.jars="))
    return time.perf_counter() - started


# Ivy tries several repositories, so "not found" from one of them is normal; the line
# that names the unresolved artifact is the one that explains a failure.
_REASON_MARKERS = ("unresolved dependency", "UnknownHost", "Connection refused", "Error", "error")


def _first_reason(lines: list[str]) -> str:
    """The most telling line of the resolver's output."""
    for marker in _REASON_MARKERS:
        for line in lines:
            if marker in line:
                return line.strip()
    return "no resolver output; run the session start by hand to see it"


def run(config: Any, args: argparse.Namespace) -> int:
    """Check Java, then resolve jars; print what was found."""
    major = jvm.check_java()
    print(f"java: {jvm.java_executable()} (Java {major})")
    seconds = resolve_jars()
    jars = sorted((ivy_dir() / "jars").glob("*.jar"))
    size_mb = sum(jar.stat().st_size for jar in jars) / 1e6
    print(f"jars: {len(jars)} in {ivy_dir() / 'jars'} ({size_mb:.0f} MB), Spark started in {seconds:.1f}s")
    loaded = jvm.resolved_jars(ivy_dir())
    if loaded:
        print(f"sessions load these {len(loaded)} jars directly ({ivy_dir() / jvm.JARS_MANIFEST})")
    else:
        print("no jar manifest written: sessions resolve the packages with Ivy at each start")
    return 0
