"""The Spark Connect server a load test talks to: one it starts itself, or one that runs already.

`local_server` starts pyspark's own Connect server (`spark-submit --class
SparkConnectServer`, as `lakelab cluster serve-connect` does for the lab) on a free loopback
port with the session factory's settings, and stops it afterwards. Its jobs run under the
FAIR scheduler in a pool that shares the cores between concurrent queries (`FAIR_POOLS`):
with Spark's default FIFO, one user's long query holds every core while the others wait.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from lakelab.errors import ServiceUnavailableError, UserError

if TYPE_CHECKING:
    from lakelab.config import LakelabConfig

FAIR_POOLS = """<?xml version="1.0"?>
<allocations>
  <!-- Jobs with no pool set (every Spark Connect query) run here: fair between each other. -->
  <pool name="default">
    <schedulingMode>FAIR</schedulingMode>
    <weight>1</weight>
    <minShare>0</minShare>
  </pool>
</allocations>
"""

START_TIMEOUT_S = 180.0
CONNECT_MODE_ENV = "SPARK_CONNECT_MODE_ENABLED"
ANSWER_TIMEOUT_S = 60.0


def first_line(error: BaseException) -> str:
    """An error's first line (Spark Connect's carry the server's plan and stack below it)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_conf(
    config: LakelabConfig, port: int, ui_port: int, pools: Path, log_file: Path
) -> dict[str, str]:
    """Every setting of a load test's own Connect server: the session factory's, on loopback, FAIR."""
    from lakelab import jvm
    from lakelab.paths import ivy_dir
    from lakelab.spark import s3a_conf, session_conf, uses_object_store

    extra = {
        "spark.master": config.spark.master,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "true",
        "spark.ui.port": str(ui_port),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.scheduler.mode": "FAIR",
        "spark.scheduler.allocation.file": str(pools),
    }
    if uses_object_store(config):
        extra.update(s3a_conf(config.s3))
    return session_conf(
        config, "lakelab-loadtest-connect", extra, jvm.resolved_jars(ivy_dir()), log_file=log_file
    )


def remote_address(remote: str) -> tuple[str, int]:
    """`sc://host:port[/;params]` → (host, port); a one-line UserError for anything else."""
    parsed = urlparse(remote)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise UserError(f"--connect {remote}: not a Spark Connect URL (sc://HOST:PORT)")
    try:
        port = parsed.port or 15002
    except ValueError:
        raise UserError(f"--connect {remote}: the port is not a number from 1 to 65535") from None
    return parsed.hostname, port


def connect_session(remote: str, timeout_s: float = ANSWER_TIMEOUT_S) -> Any:
    """A Spark Connect session on `remote` that has answered `SELECT 1`.

    Raises:
        UserError: nothing listens there, or it does not answer as a Connect server in time.
    """
    host, port = remote_address(remote)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        raise ServiceUnavailableError(
            f"Spark Connect at {remote} does not answer ({error.strerror or error}): start one with "
            "`lakelab cluster up`, or leave out --connect and loadtest starts its own"
        ) from None
    import queue
    import threading

    from pyspark.sql import SparkSession

    def ask() -> Any:
        before = os.environ.get(CONNECT_MODE_ENV)
        session = SparkSession.builder.remote(remote).create()
        # pyspark marks the whole process as a Spark Connect client in its environment, which
        # would turn every later classic session here, and every child process, into one too.
        if before is None:
            os.environ.pop(CONNECT_MODE_ENV, None)
        try:
            session.sql("SELECT 1").collect()
        except BaseException:
            # A session left open makes the client call the server again at exit, retrying
            # for minutes when it is gone.
            with contextlib.suppress(Exception):
                session.stop()
            raise
        return session

    answers: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue()

    def asking() -> None:
        try:
            answers.put((ask(), None))
        except BaseException as error:
            answers.put((None, error))

    # A daemon thread: a server that never answers must not keep this process from exiting.
    threading.Thread(target=asking, name="connect-check", daemon=True).start()
    try:
        session, failure = answers.get(timeout=timeout_s)
    except queue.Empty:
        raise ServiceUnavailableError(
            f"Spark Connect at {remote} accepts connections but did not answer in {timeout_s:.0f} s"
        ) from None
    if failure is not None:
        raise ServiceUnavailableError(
            f"Spark Connect at {remote} did not answer a query: {first_line(failure)}"
        ) from None
    return session


@contextmanager
def local_server(config: LakelabConfig, progress: Any = print) -> Iterator[str]:
    """Start a Connect server for this load test; yield its `sc://` URL; stop it at the end.

    Raises:
        UserError: it exited or did not listen within `START_TIMEOUT_S` (its log file is named).
    """
    from cluster import native
    from lakelab.spark import new_log_file

    log_file = new_log_file(config, "lakelab-loadtest-connect")
    folder = Path(tempfile.mkdtemp(prefix="lakelab-loadtest-"))
    pools = folder / "fairscheduler.xml"
    pools.write_text(FAIR_POOLS, encoding="utf-8")
    port = _free_port()
    conf = server_conf(config, port, _free_port(), pools, log_file)
    properties = native.write_properties(conf, folder / "connect.properties")
    home = Path(os.environ["SPARK_HOME"]) if os.environ.get("SPARK_HOME") else native.spark_home()
    command = native.connect_command(home, properties)
    remote = f"sc://127.0.0.1:{port}"
    progress(f"loadtest: starting a Spark Connect server on {remote} ({config.spark.master}, FAIR pool)")
    with log_file.open("ab") as log:
        process = subprocess.Popen(dying_with_parent(command), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise UserError(f"the Spark Connect server exited with {process.returncode}; see {log_file}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    waited = f"{START_TIMEOUT_S:.0f} s"
                    raise UserError(
                        f"the Spark Connect server did not listen within {waited}; see {log_file}"
                    ) from None
                time.sleep(0.5)
        yield remote
    finally:
        _stop(process)
        # Its properties file holds the S3 secret when the warehouse is on s3a.
        shutil.rmtree(folder, ignore_errors=True)


def dying_with_parent(command: list[str]) -> list[str]:
    """`command` under util-linux's `setpriv --pdeathsig TERM` where there is one: the kernel
    sends the server SIGTERM when loadtest's process ends, however it ends (a SIGKILL runs no
    `finally`). Not a `preexec_fn`: Python code between fork and exec can deadlock in a process
    with threads (a JVM gateway's, say)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", *command] if setpriv else command


def _stop(process: subprocess.Popen[bytes]) -> None:
    # spark-submit execs the JVM in its own process, so this is the server itself.
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
