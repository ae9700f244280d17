"""`lakelab doctor`: a preflight, one line per check and, for a failing one, what to do.

Every check asks the module that owns the fact (Java and the jars: `lakelab.jvm`; S3:
`cluster.s3` and the session factory's credentials; the lab: `cluster`), so the doctor
cannot drift from what `setup`, a session or `cluster up` will actually do. Only a
failed check fails the command; a skipped or informational one (`--`) does not.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lakelab import jvm
from lakelab.errors import UserError
from lakelab.paths import ivy_dir

if TYPE_CHECKING:
    from cluster.config import ClusterConfig
    from cluster.native import ServiceStatus
    from lakelab.config import LakelabConfig

LOOPBACK = "127.0.0.1"
# A loopback connect() is refused or accepted at once; the timeout only guards a firewall
# that drops packets instead.
PORT_TIMEOUT_S = 0.5
S3_CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    """One line of the report: `ok` is True, False, or None for skipped or informational."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def register(commands: Any) -> None:
    """Add `doctor` to the command tree."""
    parser = commands.add_parser(
        "doctor", help="check Java, the jars, S3, the lab's ports and Docker, one line each"
    )
    parser.add_argument("--s3", action="store_true", help="check the S3 store even when the paths are local")
    parser.set_defaults(handler=run)


_LABELS = {True: "ok", False: "FAIL", None: "--"}


def format_line(check: Check) -> str:
    """`ok    java       OpenJDK 17.0.15 at /usr/bin/java`, with ` -> fix` unless the check passed."""
    line = f"{_LABELS[check.ok]:<6}{check.name:<11}{check.detail}"
    return f"{line} -> {check.fix}" if check.fix and check.ok is not True else line


def exit_code(checks: list[Check]) -> int:
    """0 when no check failed (skipped and informational ones do not count), else 1."""
    return 1 if any(check.ok is False for check in checks) else 0


# --- java ---------------------------------------------------------------------------------


def java_description(version_output: str) -> str:
    """`OpenJDK 17.0.15` from what `java -version` prints (`Java 21.0.2` for other vendors)."""
    match = re.search(r'^(\S+) version "([^"]+)"', version_output, re.MULTILINE)
    if not match:
        return "Java of unknown version"
    vendor = "OpenJDK" if match.group(1).lower() == "openjdk" else "Java"
    return f"{vendor} {match.group(2)}"


def check_java() -> Check:
    """The Java Spark will start (JAVA_HOME, then PATH) is there and is a supported major version."""
    supported = " or ".join(str(major) for major in jvm.SUPPORTED_JAVA)
    fix = (
        f"install Java {supported} (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    )
    try:
        java = jvm.java_executable()
        major = jvm.java_major_version(java)
    except UserError as error:
        return Check("java", False, str(error), fix)
    # A second `java -version` (some 50 ms) for the full version: jvm's parser keeps the major only.
    printed = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    found = f"{java_description(printed)} at {java}"
    if major not in jvm.SUPPORTED_JAVA:
        return Check("java", False, f"{found}: Spark {jvm.SPARK_VERSION} needs Java {supported}", fix)
    return Check("java", True, found)


# --- jars ---------------------------------------------------------------------------------


def _why_no_jars(manifest: Path) -> str:
    """What is wrong with a manifest `jvm.resolved_jars` rejected."""
    import json

    if not manifest.exists():
        return f"no jar manifest at {manifest}: every session would resolve the jars with Ivy again"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"{manifest} is unreadable: {error}"
    if not isinstance(data, dict):
        return f"{manifest} is not a jar manifest"
    if data.get("packages") != jvm.spark_packages() or data.get("excludes") != list(jvm.EXCLUDED_PACKAGES):
        return (
            f"{manifest} was written for other pins than Delta {jvm.DELTA_VERSION} and "
            f"hadoop-aws {jvm.HADOOP_VERSION}"
        )
    jars = data.get("jars")
    if not isinstance(jars, list) or not jars:
        return f"{manifest} lists no jars"
    gone = [str(jar) for jar in jars if not os.path.isfile(str(jar))]
    if not gone:
        return f"{manifest} lists jars in a form lakelab cannot use"
    return f"{len(gone)} of {len(jars)} jars listed in {manifest} are gone, e.g. {gone[0]}"


def check_jars() -> Check:
    """`lakelab setup`'s manifest exists, is for the current pins, and every jar it lists exists."""
    ivy = ivy_dir()
    manifest = ivy / jvm.JARS_MANIFEST
    jars = jvm.resolved_jars(ivy)
    if jars is None:
        return Check("jars", False, _why_no_jars(manifest), "run `lakelab setup`")
    return Check(
        "jars",
        True,
        f"{len(jars)} jars for Delta {jvm.DELTA_VERSION} and hadoop-aws {jvm.HADOOP_VERSION} ({manifest})",
    )


# --- s3 -----------------------------------------------------------------------------------


def s3_buckets(config: LakelabConfig) -> list[str]:
    """The buckets to check: `s3.buckets`, then those the landing and warehouse paths name."""
    buckets = list(config.s3.buckets)
    for path in (config.paths.landing, config.paths.warehouse):
        parts = urlsplit(path)
        if parts.scheme in ("s3a", "s3") and parts.netloc and parts.netloc not in buckets:
            buckets.append(parts.netloc)
    return buckets


def _start_hint(config: LakelabConfig) -> str:
    parts = urlsplit(config.s3.endpoint)
    if parts.hostname in (LOOPBACK, "localhost") and parts.port == config.cluster.ports.minio:
        return "start the lab's MinIO with `lakelab cluster up`"
    return "start the store, or set s3.endpoint to one that runs"


def check_s3(config: LakelabConfig, forced: bool = False) -> Check:
    """Endpoint reachable (TCP, then HTTP), credentials set and accepted, every bucket there.

    Only when the landing or warehouse path is on S3, or when `forced` (`--s3`). Stops at
    the first step that fails, since each later one needs it.
    """
    import requests

    from cluster import s3
    from lakelab.spark import s3_credentials, uses_object_store

    if not forced and not uses_object_store(config):
        return Check("s3", None, "not used: paths.landing and paths.warehouse are local (--s3 checks it)")
    settings = config.s3
    url = settings.endpoint
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Check(
            "s3", False, f"s3.endpoint {url!r} is not an http(s) URL", "set e.g. http://127.0.0.1:9000"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=S3_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or f"no answer within {S3_CONNECT_TIMEOUT_S:.0f} s"
        return Check("s3", False, f"cannot connect to s3.endpoint {url}: {reason}", _start_hint(config))
    try:
        requests.get(url, timeout=5)
    except requests.RequestException as error:
        return Check(
            "s3",
            False,
            f"{url} accepts connections but does not answer HTTP ({type(error).__name__})",
            "check the scheme and the port of s3.endpoint",
        )
    names = f"{settings.access_key_env} and {settings.secret_key_env}"
    try:
        access_key, secret_key = s3_credentials(settings)
    except UserError:
        unset = [
            name for name in (settings.access_key_env, settings.secret_key_env) if not os.environ.get(name)
        ]
        return Check(
            "s3",
            False,
            f"{url} answers, but {' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set",
            f"set {names} in the environment or in .env (see .env.example)",
        )
    buckets = s3_buckets(config)
    if not buckets:
        return Check("s3", None, f"{url} answers; no bucket to check (s3.buckets is empty, paths are local)")
    endpoint = s3.S3Endpoint(url, settings.region, access_key, secret_key)
    missing = []
    for bucket in buckets:
        try:
            if not s3.bucket_exists(endpoint, bucket):
                missing.append(bucket)
        except s3.CredentialsRefusedError as error:
            return Check(
                "s3",
                False,
                str(error),
                f"check {names} (for the lab's MinIO they are its root user and password)",
            )
        except UserError as error:
            return Check(
                "s3",
                False,
                str(error),
                f"check s3.region ({settings.region}) and that the store serves path-style requests",
            )
    if missing:
        undeclared = [bucket for bucket in missing if bucket not in settings.buckets]
        fix = "`lakelab cluster init-buckets` creates them"
        if undeclared:
            fix = f"add {', '.join(undeclared)} to s3.buckets, then `lakelab cluster init-buckets`"
        return Check("s3", False, f"bucket {', '.join(missing)} missing on {url}", fix)
    return Check(
        "s3",
        True,
        f"{url} answers; credentials from {names} accepted; bucket {', '.join(buckets)} present (path-style)",
    )


# --- ports --------------------------------------------------------------------------------


def lab_ports(cluster: ClusterConfig) -> dict[str, int]:
    """Every port of `[cluster.ports]` by its key; worker `i`'s UI is `spark_worker_ui+i`."""
    ports: dict[str, int] = cluster.ports.model_dump()
    first_worker_ui = ports.pop("spark_worker_ui")
    for index in range(cluster.workers):
        ports[f"spark_worker_ui+{index}"] = first_worker_ui + index
    return ports


def listens(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts a TCP connection on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=PORT_TIMEOUT_S):
            return True
    except OSError:
        return False


def _lab_status(config: LakelabConfig) -> tuple[str, list[ServiceStatus]] | None:
    """The mode and the rows `lakelab cluster status` would print, or None when it cannot tell."""
    from cluster.cli import _backend, _running_mode  # the status command's own logic

    if not Path(config.cluster.state_dir).is_dir():  # never started here; do not create the folder
        return None
    mode = _running_mode(config)
    try:
        return mode, list(_backend(mode).status(config))
    except UserError:
        return None


def _ports_up_binds(config: LakelabConfig, up_mode: str) -> set[int]:
    """The ports `lakelab cluster up` binds in `up_mode` (native starts no Grafana and no driver)."""
    if up_mode == "compose":
        return set(lab_ports(config.cluster).values())
    from cluster import native

    return {port for service in native.services(config) for port in service.ports}


def check_ports(config: LakelabConfig, up_mode: str) -> Check:
    """Which lab ports something listens on; informational unless the lab is up.

    Args:
        config: The config whose `[cluster]` names the ports and the state dir.
        up_mode: `compose` or `native`, the lab `lakelab cluster up` would start.
    """
    ports = lab_ports(config.cluster)
    in_use = {name: port for name, port in ports.items() if listens(port)}
    if not in_use:
        return Check("ports", None, f"all {len(ports)} ports of [cluster.ports] free on {LOOPBACK}")
    listed = ", ".join(f"{port} ({name})" for name, port in in_use.items())
    lab = _lab_status(config)
    from cluster.cli import all_ready

    if lab is not None and lab[1] and all_ready(lab[1]):
        return Check("ports", True, f"the lab is up ({lab[0]}): {len(in_use)} of {len(ports)} ports in use")
    if lab is not None and any(row.state != "stopped" for row in lab[1]):
        return Check(
            "ports",
            None,
            f"in use on {LOOPBACK}: {listed}; the lab is partly up",
            "`lakelab cluster status` names the service that is down; `lakelab cluster up` starts it",
        )
    needed = _ports_up_binds(config, up_mode)
    conflicts = [f"{port} ({name})" for name, port in in_use.items() if port in needed]
    if not conflicts:
        return Check(
            "ports", None, f"in use on {LOOPBACK}: {listed}; `lakelab cluster up` does not bind them"
        )
    return Check(
        "ports",
        None,
        f"in use on {LOOPBACK} while the lab is down: {listed}",
        f"`lakelab cluster up` ({up_mode}) will fail on {', '.join(conflicts)}: stop what holds "
        f"{'it or choose another port' if len(conflicts) == 1 else 'them or choose other ports'} "
        "under [cluster.ports]",
    )


# --- engine -------------------------------------------------------------------------------


def compose_major(version: str) -> int | None:
    """The major version in `docker compose version --short` output (`2.40.3`, `v2.1.0`)."""
    match = re.match(r"v?(\d+)\.", version.strip())
    return int(match.group(1)) if match else None


def check_engine(config: LakelabConfig) -> Check:
    """A Docker engine answers and `docker compose` is v2 (`up --wait`), when compose would be used."""
    from cluster.engine import answers, installed_compose_version

    if not answers():
        return Check("engine", None, "no Docker engine: `lakelab cluster up` will start the native lab")
    version = installed_compose_version()
    major = compose_major(version) if version else None
    if major is not None and major >= 2:
        used = "uses it" if config.cluster.mode != "native" else "does not use it (cluster.mode is native)"
        return Check("engine", True, f"Docker engine answers, Compose {version}: `lakelab cluster up` {used}")
    found = f"Compose {version}" if version else "no `docker compose` (CLI or plugin)"
    detail = f"Docker engine answers but {found}; the compose lab needs Compose v2 (`up --wait`)"
    if config.cluster.mode == "native":
        return Check("engine", None, f"{detail}; cluster.mode is native, so it is not used")
    return Check(
        "engine",
        False,
        detail,
        'install the Compose v2 plugin (docker-compose-plugin) or set cluster.mode = "native"',
    )


# --- the command --------------------------------------------------------------------------


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """Run one check; a UserError from the code it asks becomes its FAIL line, not the end of the run."""
    try:
        return check()
    except UserError as error:
        return Check(name, False, str(error))


def checks(config: LakelabConfig, s3: bool = False) -> list[Callable[[], Check]]:
    """The checks in report order, not yet run (`run` prints each as soon as it is done)."""

    def ports() -> Check:
        from cluster.cli import resolve_mode

        return check_ports(config, resolve_mode(config, None))

    return [
        lambda: _guarded("java", check_java),
        lambda: _guarded("jars", check_jars),
        lambda: _guarded("s3", lambda: check_s3(config, forced=s3)),
        lambda: _guarded("ports", ports),
        lambda: _guarded("engine", lambda: check_engine(config)),
    ]


def run(config: LakelabConfig, args: argparse.Namespace) -> int:
    """Print one line per check; exit 1 when any failed."""
    done = []
    for pending in checks(config, s3=bool(getattr(args, "s3", False))):
        done.append(pending())
        print(format_line(done[-1]), flush=True)
    return exit_code(done)
