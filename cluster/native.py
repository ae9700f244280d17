"""The native lab: the compose topology as local processes on loopback.

Spark's master and workers run through pyspark's own `bin/spark-class`, the Spark
Connect server through `bin/spark-submit`, MinIO from the binary that
`cluster/install-services.sh` builds with `go install`, Prometheus and Alertmanager from
Debian's packages. Each process gets its own process group, so `down` stops executors and
any other children with their service; pid files and logs live in the state dir.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

from cluster import s3
from cluster.scrape import write_native_config
from cluster.state import StateDir, group_members, process_if_alive
from lakelab.config import LakelabConfig
from lakelab.errors import UserError
from lakelab.paths import bin_dir

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
INSTALL_HINT = "run `make services` (bash cluster/install-services.sh)"


@dataclass(frozen=True)
class NativeService:
    """One process of the lab: how to start it and how to tell it is ready."""

    name: str
    port: int
    command: tuple[str, ...]
    health: Callable[[], bool]
    # Every port it binds on loopback; checked free before anything starts.
    ports: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceStatus:
    """One line of `cluster status`."""

    name: str
    pid: int | None
    port: int
    state: str  # healthy | unhealthy | stopped


def spark_home() -> Path:
    """pyspark's install folder, which is a complete SPARK_HOME (found without importing pyspark)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("pyspark is not installed in this environment; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def minio_binary() -> Path:
    """The MinIO server built by the install script, or a UserError saying how to build it."""
    binary = bin_dir() / "minio"
    if not os.access(binary, os.X_OK):
        raise UserError(f"MinIO binary not found at {binary}: {INSTALL_HINT}")
    return binary


def prometheus_binary() -> str:
    """Debian's prometheus on PATH, or a UserError."""
    found = shutil.which("prometheus")
    if not found:
        raise UserError(f"prometheus not found on PATH: {INSTALL_HINT}")
    return found


def alertmanager_binary() -> str:
    """Debian's prometheus-alertmanager on PATH, or a UserError."""
    found = shutil.which("prometheus-alertmanager")
    if not found:
        raise UserError(f"prometheus-alertmanager not found on PATH: {INSTALL_HINT}")
    return found


def _http_ok(url: str, check: Callable[[requests.Response], bool] | None = None) -> bool:
    try:
        response = requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200 and (check is None or check(response))


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def _master_lists_worker(master_ui: int, worker_ui: int) -> bool:
    def alive(response: requests.Response) -> bool:
        return any(
            worker.get("state") == "ALIVE" and str(worker.get("webuiaddress", "")).endswith(f":{worker_ui}")
            for worker in response.json().get("workers", [])
        )

    return _http_ok(f"http://{LOOPBACK}:{master_ui}/json/", alive)


def _metrics_properties() -> str:
    """SPARK_CONF_DIR/metrics.properties from the session factory's settings (one source)."""
    from lakelab.spark import METRICS_CONF

    prefix = "spark.metrics.conf."
    lines = [f"{key[len(prefix) :]}={value}" for key, value in METRICS_CONF.items() if key.startswith(prefix)]
    header = (
        "# Spark's PrometheusServlet sinks, from lakelab/spark.py METRICS_CONF. The native lab\n"
        "# writes this file into its SPARK_CONF_DIR; cluster/metrics.properties is the compose\n"
        "# image's copy, which a test keeps equal.\n"
    )
    return header + "\n".join(lines) + "\n"


def check_endpoint(config: LakelabConfig) -> None:
    """The S3 endpoint Spark uses must be the MinIO this lab starts."""
    parts = urlsplit(config.s3.endpoint)
    if parts.hostname in (LOOPBACK, "localhost") and parts.port != config.cluster.ports.minio:
        raise UserError(
            f"s3.endpoint is {config.s3.endpoint} but cluster.ports.minio is "
            f"{config.cluster.ports.minio}: make them the same port"
        )


def master_url(config: LakelabConfig) -> str:
    """The standalone master jobs connect to."""
    return f"spark://{LOOPBACK}:{config.cluster.ports.spark_master}"


def connect_conf(
    config: LakelabConfig, master: str, bind_address: str = LOOPBACK, driver_host: str = LOOPBACK
) -> dict[str, str]:
    """Every setting of the Spark Connect server: the session factory's, plus its own."""
    from lakelab import jvm
    from lakelab.paths import ivy_dir
    from lakelab.spark import s3a_conf, session_conf

    cluster = config.cluster
    return session_conf(
        config,
        app_name="lakelab-connect",
        # The jars `lakelab setup` resolved: no Ivy resolution (nor its writes to the cache,
        # which a non-root service user cannot make in the image) on every start.
        jars=jvm.resolved_jars(ivy_dir()),
        extra_conf={
            **s3a_conf(config.s3),
            "spark.master": master,
            "spark.driver.host": driver_host,
            "spark.driver.bindAddress": bind_address,
            "spark.ui.enabled": "true",
            "spark.ui.port": str(cluster.ports.spark_connect_ui),
            "spark.cores.max": str(cluster.spark_connect_cores),
            "spark.executor.cores": str(cluster.spark_connect_cores),
            "spark.executor.memory": cluster.spark_connect_memory,
            "spark.driver.memory": "1g",
            "spark.connect.grpc.binding.address": bind_address,
            "spark.connect.grpc.binding.port": str(cluster.ports.spark_connect),
        },
    )


def write_properties(conf: dict[str, str], path: Path) -> Path:
    """Spark settings as a properties file readable by its owner only: they hold the S3
    secret, which must not show in `ps` as `--conf` arguments would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("".join(f"{key}={value}\n" for key, value in conf.items()), encoding="utf-8")
    return path


def connect_command(spark_home_dir: Path, properties: Path) -> list[str]:
    """The spark-submit line that starts the Connect server (pyspark has no start script)."""
    return [
        str(spark_home_dir / "bin" / "spark-submit"),
        "--class",
        CONNECT_SERVER_CLASS,
        "--name",
        "lakelab-connect",
        "--properties-file",
        str(properties),
        "spark-internal",
    ]


def services(config: LakelabConfig, credentials: tuple[str, str] | None = None) -> list[NativeService]:
    """The lab's processes in start order (nothing is checked or written here).

    Args:
        config: The whole config (cluster ports, S3, Spark settings).
        credentials: MinIO's root user and password; only `up` needs them.
    """
    cluster = config.cluster
    ports = cluster.ports
    state = StateDir(cluster)
    home = spark_home()
    spark_env = {
        "SPARK_HOME": str(home),
        "SPARK_CONF_DIR": str(state.root / "spark-conf"),
        "SPARK_LOG_DIR": str(state.root / "logs"),
        "SPARK_LOCAL_IP": LOOPBACK,
        # Executors start Python workers with the driver's interpreter setting; this is the
        # fallback for drivers that do not set one.
        "PYSPARK_PYTHON": sys.executable,
    }
    master = master_url(config)
    access_key, secret_key = credentials or ("", "")
    result = [
        NativeService(
            name="minio",
            port=ports.minio,
            ports=(ports.minio, ports.minio_console),
            command=(
                str(bin_dir() / "minio"),
                "server",
                "--quiet",
                "--address",
                f"{LOOPBACK}:{ports.minio}",
                "--console-address",
                f"{LOOPBACK}:{ports.minio_console}",
                str(state.root / "minio"),
            ),
            env={
                "MINIO_ROOT_USER": access_key,
                "MINIO_ROOT_PASSWORD": secret_key,
                "MINIO_PROMETHEUS_AUTH_TYPE": "public",
                "MINIO_BROWSER": "on",
            },
            health=lambda: _http_ok(f"http://{LOOPBACK}:{ports.minio}/minio/health/live"),
        ),
        NativeService(
            name="spark-master",
            port=ports.spark_master,
            ports=(ports.spark_master, ports.spark_master_ui),
            command=(
                str(home / "bin" / "spark-class"),
                "org.apache.spark.deploy.master.Master",
                "--host",
                LOOPBACK,
                "--port",
                str(ports.spark_master),
                "--webui-port",
                str(ports.spark_master_ui),
            ),
            env=spark_env,
            health=lambda: _http_ok(
                f"http://{LOOPBACK}:{ports.spark_master_ui}/json/",
                lambda response: response.json().get("status") == "ALIVE",
            ),
        ),
    ]
    for index in range(cluster.workers):
        ui_port = ports.spark_worker_ui + index
        name = f"spark-worker-{index + 1}"
        result.append(
            NativeService(
                name=name,
                port=ui_port,
                ports=(ui_port,),
                command=(
                    str(home / "bin" / "spark-class"),
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    LOOPBACK,
                    "--cores",
                    str(cluster.worker_cores),
                    "--memory",
                    cluster.worker_memory,
                    "--webui-port",
                    str(ui_port),
                    "--work-dir",
                    str(state.root / "work" / name),
                    master,
                ),
                env=spark_env,
                health=lambda ui_port=ui_port: _master_lists_worker(ports.spark_master_ui, ui_port),  # type: ignore[misc]
            )
        )
    if cluster.spark_connect:
        result.append(
            NativeService(
                name="spark-connect",
                port=ports.spark_connect,
                ports=(ports.spark_connect, ports.spark_connect_ui),
                command=tuple(connect_command(home, state.root / "connect.properties")),
                env=spark_env,
                health=lambda: (
                    _tcp_open(ports.spark_connect)
                    and _http_ok(f"http://{LOOPBACK}:{ports.spark_connect_ui}/metrics/prometheus")
                ),
            )
        )
    result.append(
        _prometheus_project_service(
            "prometheus",
            ports.prometheus,
            f"--config.file={state.root / 'prometheus' / 'prometheus.yml'}",
            f"--storage.tsdb.path={state.root / 'prometheus' / 'data'}",
            "--storage.tsdb.retention.time=2d",
        )
    )
    # Routes the alert rules' firing alerts (prometheus/alertmanager.yml, generated by
    # lakelab.dashboards) to the webhook that file names.
    result.append(
        _prometheus_project_service(
            "alertmanager",
            ports.alertmanager,
            f"--config.file={REPO_ROOT / 'prometheus' / 'alertmanager.yml'}",
            f"--storage.path={state.root / 'alertmanager'}",
            # No gossip: one Alertmanager, and its default 0.0.0.0:9094 would leave loopback.
            "--cluster.listen-address=",
            binary="prometheus-alertmanager",
        )
    )
    return result


def _prometheus_project_service(name: str, port: int, *args: str, binary: str = "") -> NativeService:
    """Prometheus or Alertmanager from Debian's packages: the same flags for where they listen,
    the same readiness endpoint."""
    binary = binary or name
    return NativeService(
        name=name,
        port=port,
        ports=(port,),
        command=(shutil.which(binary) or binary, *args, f"--web.listen-address={LOOPBACK}:{port}"),
        health=lambda: _http_ok(f"http://{LOOPBACK}:{port}/-/ready"),
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEADDR a port in TIME_WAIT from our own last `down` reads as taken,
        # while the services themselves (Java, Go) bind with it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def check_ports(to_start: list[NativeService]) -> None:
    """Fail before starting anything when a port a service needs is taken."""
    for service in to_start:
        for port in service.ports:
            if not _port_free(port):
                raise UserError(
                    f"port {port} on {LOOPBACK} is already in use, needed by {service.name}: "
                    "stop what holds it or choose another port under [cluster.ports]"
                )


def _start(service: NativeService, state: StateDir) -> int:
    """Start `service` detached in its own process group; return its pid.

    A short-lived `sh` puts the service in the background and exits, so the service is
    re-parented to init: the caller (a CLI that exits, or a long test process) never has
    to reap it, and `down` finds it by pid file whoever started it.
    """
    log = state.log(service.name)
    with log.open("ab") as handle:
        handle.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {service.name}\n".encode())
    launcher = subprocess.run(
        ["/bin/sh", "-c", '"$@" >>"$0" 2>&1 </dev/null & echo $!', str(log), *service.command],
        env={**os.environ, **service.env},
        cwd=state.root,
        capture_output=True,
        text=True,
        start_new_session=True,
        check=True,
    )
    pid = int(launcher.stdout.strip())
    state.write_pid(service.name, pid, service.port)
    return pid


def _log_tail(state: StateDir, name: str) -> str:
    try:
        lines = [line for line in state.log(name).read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "(no log)"
    return lines[-1].strip()[:200] if lines else "(empty log)"


def _wait_healthy(service: NativeService, state: StateDir, timeout_s: float) -> float:
    """Seconds until `service` answered its health check; UserError if it died or timed out."""
    started = time.perf_counter()
    while True:
        if service.health():
            return time.perf_counter() - started
        if state.live_process(service.name) is None:
            raise UserError(
                f"{service.name} exited during start; see {state.log(service.name)} "
                f"(last line: {_log_tail(state, service.name)})"
            )
        if time.perf_counter() - started > timeout_s:
            raise UserError(
                f"{service.name} did not answer its health check within {timeout_s:.0f}s; "
                f"see {state.log(service.name)} (last line: {_log_tail(state, service.name)})"
            )
        time.sleep(0.5)


def s3_endpoint(config: LakelabConfig) -> s3.S3Endpoint:
    """The lab's MinIO as seen from this machine."""
    from lakelab.spark import s3_credentials

    access_key, secret_key = s3_credentials(config.s3)
    return s3.S3Endpoint(
        f"http://{LOOPBACK}:{config.cluster.ports.minio}", config.s3.region, access_key, secret_key
    )


def _write_configs(config: LakelabConfig, state: StateDir) -> None:
    state.path("spark-conf", "metrics.properties").write_text(_metrics_properties(), encoding="utf-8")
    write_native_config(config.cluster, state.path("prometheus", "prometheus.yml"), REPO_ROOT / "prometheus")
    if config.cluster.spark_connect:
        write_properties(connect_conf(config, master_url(config)), state.path("connect.properties"))


def up(config: LakelabConfig, progress: Callable[[str], None] = print) -> list[ServiceStatus]:
    """Start whatever is not running yet and wait until every service is healthy.

    Idempotent: running services are left alone, a dead one is started again.

    Raises:
        UserError: A binary is missing, a port is taken, or a service did not come up.
    """
    check_endpoint(config)
    state = StateDir(config.cluster)
    from lakelab.spark import s3_credentials

    credentials = s3_credentials(config.s3)
    minio_binary()
    prometheus_binary()
    alertmanager_binary()
    state.root.mkdir(parents=True, exist_ok=True)
    all_services = services(config, credentials)
    to_start = [service for service in all_services if state.live_process(service.name) is None]
    check_ports(to_start)
    _write_configs(config, state)
    state.mode_file.write_text("native\n", encoding="utf-8")
    by_name = {service.name: service for service in all_services}
    pending = {service.name for service in to_start}
    timeout = config.cluster.health_timeout_s

    def start(names: list[str]) -> None:
        for name in names:
            if name in pending:
                pid = _start(by_name[name], state)
                progress(f"cluster: started {name} (pid {pid}, port {by_name[name].port})")

    def wait(names: list[str]) -> None:
        for name in names:
            seconds = _wait_healthy(by_name[name], state, timeout)
            if name in pending:
                progress(f"cluster: {name} healthy after {seconds:.1f}s")

    # Independent services start together; dependants once what they need answers.
    workers = [name for name in by_name if name.startswith("spark-worker-")]
    start(["minio", "spark-master", "prometheus", "alertmanager"])
    wait(["minio"])
    for bucket in config.s3.buckets:
        created = s3.ensure_bucket(s3_endpoint(config), bucket)
        progress(f"cluster: bucket {bucket} {'created' if created else 'present'}")
    wait(["spark-master"])
    # The Connect server only registers with the master; it gets executors whenever the
    # workers arrive, so it starts beside them rather than after them.
    connect = ["spark-connect"] if "spark-connect" in by_name else []
    start([*workers, *connect])
    wait([*workers, *connect])
    wait(["prometheus", "alertmanager"])
    return status(config)


def stop_service(config: LakelabConfig, name: str, sig: int = signal.SIGTERM, grace_s: float = 15.0) -> bool:
    """Stop one service and every process in its group; True when something was running."""
    state = StateDir(config.cluster)
    record = state.read_pid(name)
    if record is None:
        return False
    process = process_if_alive(record)
    was_running = process is not None
    if process is not None:
        try:
            pgid = os.getpgid(process.pid)
        except ProcessLookupError:
            pgid = None
        members = group_members(pgid) if pgid is not None else [process]
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.send_signal(sig)
        _, alive = psutil.wait_procs(members, timeout=grace_s)
        for member in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(alive, timeout=5)
    state.forget_pid(name)
    return was_running


def down(config: LakelabConfig, progress: Callable[[str], None] = print) -> int:
    """Stop every service of the native lab (reverse start order); return how many ran.

    Idempotent: with nothing running it stops nothing and succeeds.
    """
    state = StateDir(config.cluster)
    names = [record.service for record in state.pid_records()]
    order = ["spark-connect", *sorted(n for n in names if n.startswith("spark-worker-")), "spark-master"]
    order += [name for name in ("prometheus", "alertmanager", "minio") if name in names]
    order += [name for name in names if name not in order]
    stopped = 0
    for name in order:
        if stop_service(config, name):
            stopped += 1
            progress(f"cluster: stopped {name}")
    state.mode_file.unlink(missing_ok=True)
    return stopped


def status(config: LakelabConfig) -> list[ServiceStatus]:
    """Each service with its pid, port and health (without starting anything)."""
    state = StateDir(config.cluster)
    rows = []
    for service in services(config):
        process = state.live_process(service.name)
        if process is None:
            rows.append(ServiceStatus(service.name, None, service.port, "stopped"))
            continue
        healthy = service.health()
        rows.append(
            ServiceStatus(service.name, process.pid, service.port, "healthy" if healthy else "unhealthy")
        )
    return rows
