"""The compose lab: `docker compose` over compose.yaml, sized for this machine, and whether an engine answers.

compose.yaml takes every published port from a `LAKELAB_PORT_*` variable and every memory
limit from a `LAKELAB_MEM_*` variable. `up` passes them in the process environment (which
compose reads before `--env-file`), from `compose_env`:

- ports from `[cluster.ports]`, so lakelab.toml moves the compose lab as it moves the
  native one; a variable set to another value in the environment or .env is an error,
  not a silent second truth;
- memory limits from the host's RAM (`host_memory_bytes`: the engine's, which is the VM's
  under Docker Desktop), unless the user set the variable (environment or .env).

`check_memory` and `check_ports_free` refuse, in one line, what would fail later inside a
container (an executor that never starts, an OOM kill, a port taken by something else).

What Docker reports after an OOM kill (read in moby's daemon/monitor.go and
container/state.go, not reproduced here): `State.OOMKilled` is recorded with the exit of a
container the kernel killed for memory; newer engines also set it on the OOM event itself,
so a child killed for memory (an executor JVM in a worker) marks the container while its
main process lives on. A restart by the restart policy (the workers' `on-failure`) counts
in `RestartCount`, and starting a container does not clear `OOMKilled`: it stays true on
the restarted container until its next exit is recorded, so `status` still shows such a
worker `oom-killed`. Recreating the container (`up` after a change, `down`) starts clean.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster.native import LOOPBACK, REPO_ROOT, ServiceStatus, _port_free
from cluster.state import StateDir
from lakelab.config import LakelabConfig
from lakelab.errors import UserError

MIB = 1024**2
GIB = 1024**3

# Variable -> key of [cluster.ports]. Worker `n`'s UI (from 1) is WORKER_UI_VARIABLE,
# published on spark_worker_ui + n - 1.
PORT_VARIABLES = {
    "LAKELAB_PORT_MINIO": "minio",
    "LAKELAB_PORT_MINIO_CONSOLE": "minio_console",
    "LAKELAB_PORT_SPARK_MASTER": "spark_master",
    "LAKELAB_PORT_SPARK_MASTER_UI": "spark_master_ui",
    "LAKELAB_PORT_SPARK_CONNECT": "spark_connect",
    "LAKELAB_PORT_SPARK_CONNECT_UI": "spark_connect_ui",
    "LAKELAB_PORT_DRIVER_UI": "driver_ui",
    "LAKELAB_PORT_EXPORTER": "exporter",
    "LAKELAB_PORT_PROMETHEUS": "prometheus",
    "LAKELAB_PORT_ALERTMANAGER": "alertmanager",
    "LAKELAB_PORT_GRAFANA": "grafana",
}
WORKER_UI_VARIABLE = "LAKELAB_PORT_SPARK_WORKER_{n}_UI"
# spark-worker-1 and -2 in compose.yaml; `up` refuses a [cluster] workers that differs.
COMPOSE_WORKERS = 2

MEM_MINIO = "LAKELAB_MEM_MINIO"
MEM_MASTER = "LAKELAB_MEM_MASTER"
MEM_WORKER = "LAKELAB_MEM_WORKER"
MEM_CONNECT = "LAKELAB_MEM_CONNECT"
MEM_JOB = "LAKELAB_MEM_JOB"
MEM_PROMETHEUS = "LAKELAB_MEM_PROMETHEUS"
MEM_GRAFANA = "LAKELAB_MEM_GRAFANA"
MEM_ALERTMANAGER = "LAKELAB_MEM_ALERTMANAGER"
WORKER_MEMORY = "LAKELAB_WORKER_MEMORY"
WORKER_CORES = "LAKELAB_WORKER_CORES"
EXTRA_CA_CERTS = "LAKELAB_EXTRA_CA_CERTS"
MINIO_BINARY = "LAKELAB_MINIO_BINARY"

# The share of the host's RAM the derived limits may take; the rest is the OS's (and, under
# Docker Desktop, the VM's own).
MEMORY_BUDGET = 0.75
# Containers of one size whatever the host: JVM daemons (Spark's default daemon heap is 1g),
# the Connect server (a 1g driver, cluster/native.py connect_conf) and Go/Prometheus.
FIXED_LIMITS = {
    MEM_MINIO: 1 * GIB,
    MEM_MASTER: 1 * GIB,
    MEM_CONNECT: 1536 * MIB,
    # Prometheus and Alertmanager share the 1 GiB Prometheus alone had before Alertmanager
    # joined the lab, so a 16 GiB host still fits two workers that hold a 1g executor.
    MEM_PROMETHEUS: 768 * MIB,
    MEM_ALERTMANAGER: 256 * MIB,
    MEM_GRAFANA: 512 * MIB,
}
# The job container holds the driver's heap plus its off-heap, metaspace and Python.
JOB_BEYOND_DRIVER = 1 * GIB
# A worker container holds what it offers executors plus the worker's own JVM (compose.yaml
# caps its heap at SPARK_DAEMON_MEMORY=512m; the rest is its metaspace and threads).
WORKER_JVM = 768 * MIB
WORKER_JVM_MINIMUM = 512 * MIB
WORKER_LIMIT_CAP = 8 * GIB
# Spark's minimum spark.executor.memoryOverhead: an executor's JVM is its heap plus this.
EXECUTOR_OVERHEAD = 384 * MIB
# Below this no sizing runs MinIO, a master, two workers, Connect, Prometheus and a driver.
MINIMUM_HOST_MEMORY = 6 * GIB
# Derived worker limits are rounded down to this, so they read as plain numbers.
SIZE_STEP = 256 * MIB

CA_CERTS_DIR = REPO_ROOT / "cluster" / "ca-certificates"
JOB_CONFIG = REPO_ROOT / "cluster" / "compose.lakelab.toml"
# Copies `up` makes carry this prefix, so it can replace them and leave hand-placed files alone.
CA_COPY_PREFIX = "extra-"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"k": 1024, "m": MIB, "g": GIB, "t": 1024 * GIB}


# --- sizes --------------------------------------------------------------------------------


def parse_size(text: str, name: str) -> int:
    """Bytes of a Spark/Docker size (`512m`, `1536m`, `2g`, `2gb`); UserError naming `name` otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise UserError(f"{name}={text}: not a size; write a number with k, m or g (e.g. 1536m, 2g)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(size: int) -> str:
    """`2g` for whole GiB, else whole MiB (`1536m`), else KiB: the form parse_size reads back."""
    if size % GIB == 0:
        return f"{size // GIB}g"
    if size % MIB == 0:
        return f"{size // MIB}m"
    return f"{size // 1024}k"


def _gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"


def _user_value(environ: Mapping[str, str], name: str) -> str | None:
    """The user's value of `name`; empty counts as unset, as compose's `${VAR:-default}` does."""
    value = environ.get(name, "").strip()
    return value or None


# --- the variables `up` passes ------------------------------------------------------------


def compose_env(config: LakelabConfig, environ: Mapping[str, str], host_memory_bytes: int) -> dict[str, str]:
    """The variables `up` passes to `docker compose` (merged over os.environ).

    Args:
        config: Ports from `[cluster.ports]`, worker count and cores from `[cluster]`,
            the driver's memory from `[spark]`.
        environ: The environment with .env in it; a `LAKELAB_MEM_*` or
            `LAKELAB_WORKER_MEMORY` set there is kept as it is.
        host_memory_bytes: RAM the containers share (`host_memory_bytes()`).

    Raises:
        UserError: A variable disagrees with lakelab.toml or is no size, or this machine's
            RAM cannot hold the lab once the sizes not set by the user are derived.
    """
    binary = _user_value(environ, MINIO_BINARY)
    if binary is not None and binary not in ("source", "prebuilt"):
        raise UserError(f"{MINIO_BINARY}={binary}: must be `source` or `prebuilt`")
    return {**_port_env(config, environ), **_memory_env(config, environ, host_memory_bytes)}


def port_variables(config: LakelabConfig) -> dict[str, int]:
    """Each LAKELAB_PORT_* variable and its port from `[cluster.ports]`."""
    ports = config.cluster.ports
    values = {variable: int(getattr(ports, key)) for variable, key in PORT_VARIABLES.items()}
    for index in range(config.cluster.workers):
        values[WORKER_UI_VARIABLE.format(n=index + 1)] = ports.spark_worker_ui + index
    return values


def _port_env(config: LakelabConfig, environ: Mapping[str, str]) -> dict[str, str]:
    env = {}
    for variable, port in port_variables(config).items():
        user = _user_value(environ, variable)
        if user is not None and user != str(port):
            key = PORT_VARIABLES.get(variable, "spark_worker_ui")
            raise UserError(
                f"{variable}={user} (environment or .env) differs from [cluster.ports] {key} = {port}: "
                f"`lakelab cluster up` publishes lakelab.toml's ports; remove {variable} or change "
                f"[cluster.ports] {key}"
            )
        env[variable] = str(port)
    cores = str(config.cluster.worker_cores)
    user_cores = _user_value(environ, WORKER_CORES)
    if user_cores is not None and user_cores != cores:
        raise UserError(
            f"{WORKER_CORES}={user_cores} (environment or .env) differs from [cluster] worker_cores = "
            f"{cores}: remove {WORKER_CORES} or change worker_cores"
        )
    env[WORKER_CORES] = cores
    return env


def grafana_enabled(environ: Mapping[str, str]) -> bool:
    """True when COMPOSE_PROFILES turns on Grafana's profile (`up` passes no `--profile` itself)."""
    profiles = {name.strip() for name in environ.get("COMPOSE_PROFILES", "").split(",")}
    return bool(profiles & {"grafana", "*"})


def job_config() -> LakelabConfig:
    """The config jobs run with inside the lab (cluster/compose.lakelab.toml, baked into the image).

    Its driver and executor sizes, not the host's lakelab.toml, are what the job container
    and the workers must hold.
    """
    from lakelab.config import load_config

    return load_config(JOB_CONFIG)


def _memory_env(config: LakelabConfig, environ: Mapping[str, str], host_memory_bytes: int) -> dict[str, str]:
    job = job_config().spark
    driver = parse_size(job.driver_memory, "spark.driver_memory")
    defaults = {**FIXED_LIMITS, MEM_JOB: driver + JOB_BEYOND_DRIVER}
    limits = {}
    for variable, default in defaults.items():
        user = _user_value(environ, variable)
        limits[variable] = parse_size(user, variable) if user is not None else default
    env = {variable: _user_value(environ, variable) or format_size(size) for variable, size in limits.items()}

    user_limit = _user_value(environ, MEM_WORKER)
    user_offer = _user_value(environ, WORKER_MEMORY)
    if user_limit is not None:
        env[MEM_WORKER] = user_limit
        offer = max(parse_size(user_limit, MEM_WORKER) - WORKER_JVM, 0)
        env[WORKER_MEMORY] = user_offer or format_size(offer)
        return env
    if user_offer is not None:
        env[WORKER_MEMORY] = user_offer
        env[MEM_WORKER] = format_size(parse_size(user_offer, WORKER_MEMORY) + WORKER_JVM)
        return env

    workers = config.cluster.workers
    in_budget = [MEM_MINIO, MEM_MASTER, MEM_CONNECT, MEM_PROMETHEUS, MEM_ALERTMANAGER, MEM_JOB]
    if grafana_enabled(environ):
        in_budget.append(MEM_GRAFANA)
    fixed = sum(limits[variable] for variable in in_budget)
    budget = int(host_memory_bytes * MEMORY_BUDGET)
    share = min((budget - fixed) // workers // SIZE_STEP * SIZE_STEP, WORKER_LIMIT_CAP)
    smallest_worker = parse_size(job.executor_memory, "spark.executor_memory") + EXECUTOR_OVERHEAD
    smallest_worker += WORKER_JVM
    if share < smallest_worker:
        needed = math.ceil((fixed + workers * smallest_worker) / MEMORY_BUDGET / GIB)
        raise UserError(
            f"this machine has {_gib(host_memory_bytes)} of RAM; the compose lab needs at least {needed} GiB "
            f"(a {format_size(limits[MEM_JOB])} job container for spark.driver_memory = "
            f"{job.driver_memory}, {workers} workers of {format_size(smallest_worker)}, in "
            f"{MEMORY_BUDGET:.0%} of RAM); use `--mode native` or set LAKELAB_MEM_* in .env"
        )
    env[MEM_WORKER] = format_size(share)
    env[WORKER_MEMORY] = format_size(share - WORKER_JVM)
    return env


def check_memory(env: Mapping[str, str], host_memory_bytes: int, executor_memory: str) -> None:
    """Refuse memory sizes that cannot work, before anything starts.

    Args:
        env: The environment compose will see (compose_env's values over os.environ).
        host_memory_bytes: RAM the containers share.
        executor_memory: `spark.executor_memory` of the config.

    Raises:
        UserError: Naming the variable and its value.
    """
    if host_memory_bytes < MINIMUM_HOST_MEMORY:
        raise UserError(
            f"this machine has {_gib(host_memory_bytes)} of RAM; the compose lab needs at least "
            f"{MINIMUM_HOST_MEMORY // GIB} GiB; use `--mode native`"
        )
    counts = lab_memory_counts(env)
    for name in [*counts, WORKER_MEMORY]:
        if not env.get(name):
            raise UserError(f"{name} is not set (cluster.compose.compose_env sets it)")
    sizes = {name: parse_size(env[name], name) for name in [*counts, WORKER_MEMORY]}
    limit, offer = sizes[MEM_WORKER], sizes[WORKER_MEMORY]
    if limit < offer + WORKER_JVM_MINIMUM:
        raise UserError(
            f"{MEM_WORKER}={env[MEM_WORKER]} leaves the worker's own JVM less than "
            f"{format_size(WORKER_JVM_MINIMUM)} beside {WORKER_MEMORY}={env[WORKER_MEMORY]}: the kernel "
            f"would kill executors the master counts on; raise {MEM_WORKER} or lower {WORKER_MEMORY}"
        )
    executor = parse_size(executor_memory, "spark.executor_memory")
    if executor + EXECUTOR_OVERHEAD > offer:
        raise UserError(
            f"executors would never start: spark.executor_memory = {executor_memory} plus "
            f"{format_size(EXECUTOR_OVERHEAD)} overhead is more than {WORKER_MEMORY}={env[WORKER_MEMORY]} "
            f"offers them; raise {WORKER_MEMORY} (and {MEM_WORKER}) or lower spark.executor_memory"
        )
    total = sum(sizes[name] * count for name, count in counts.items())
    if total > host_memory_bytes:
        listed = ", ".join(
            f"{name}={env[name]}" + (f" x{count}" if count > 1 else "") for name, count in counts.items()
        )
        raise UserError(
            f"the compose lab's memory limits add up to {_gib(total)} ({listed}) but this machine has "
            f"{_gib(host_memory_bytes)}: lower LAKELAB_MEM_* in .env or use `--mode native`"
        )


def lab_memory_counts(env: Mapping[str, str]) -> dict[str, int]:
    """Each container limit variable of the running lab and a job, and how many containers use it."""
    workers = sum(1 for name in env if re.fullmatch(WORKER_UI_VARIABLE.format(n=r"\d+"), name))
    workers = workers or COMPOSE_WORKERS
    counts = {
        MEM_MINIO: 1,
        MEM_MASTER: 1,
        MEM_WORKER: workers,
        MEM_CONNECT: 1,
        MEM_PROMETHEUS: 1,
        MEM_ALERTMANAGER: 1,
        MEM_JOB: 1,
    }
    if grafana_enabled(env):
        counts[MEM_GRAFANA] = 1
    return counts


def host_memory_bytes() -> int:
    """RAM the containers share: the engine's (Docker Desktop's VM) when it answers, else this machine's."""
    if shutil.which("docker") is not None:
        try:
            result = subprocess.run(
                ["docker", "info", "--format", "{{.MemTotal}}"],
                capture_output=True,
                text=True,
                timeout=15,
                check=False,
            )
            reported = result.stdout.strip()
            if result.returncode == 0 and reported.isdigit() and int(reported) > 0:
                return int(reported)
        except subprocess.TimeoutExpired:
            pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


# --- ports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedPort:
    """A host port compose publishes, with the service that publishes it and the variable that sets it."""

    port: int
    service: str
    variable: str


def published_ports(rendered: Mapping[str, Any], env: Mapping[str, str]) -> list[PublishedPort]:
    """Every host port of `docker compose config --format json` output (the services `up` starts).

    Args:
        rendered: The interpolated model; services of inactive profiles are not in it.
        env: compose_env's values, to name the variable that set each port.
    """
    variables = {value: name for name, value in env.items() if name.startswith("LAKELAB_PORT_")}
    result = []
    for service, spec in sorted(rendered.get("services", {}).items()):
        for mapping in spec.get("ports") or []:
            published = str(mapping.get("published", ""))
            if published.isdigit():
                result.append(PublishedPort(int(published), service, variables.get(published, "?")))
    return result


def check_ports_free(ports: Iterable[PublishedPort], own_ports: set[int]) -> None:
    """Fail when a port is taken on 127.0.0.1 by anything but this project's running containers."""
    for published in ports:
        if published.port in own_ports or _port_free(published.port):
            continue
        key = PORT_VARIABLES.get(published.variable, "spark_worker_ui")
        raise UserError(
            f"port {published.port} ({published.service}, {published.variable}) is already in use on "
            f"{LOOPBACK}: stop what holds it or set [cluster.ports] {key} in lakelab.toml "
            f"({published.variable} follows it)"
        )


# --- status -------------------------------------------------------------------------------


def parse_ps(text: str) -> list[dict[str, Any]]:
    """Containers of `docker compose ps --format json`: one JSON object a line (a JSON array before 2.21)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def one_shot_services(model: Mapping[str, Any]) -> set[str]:
    """Services declared `restart: "no"`: they run once and exit (minio-init)."""
    return {name for name, spec in model.get("services", {}).items() if spec.get("restart") == "no"}


def lab_services(model: Mapping[str, Any]) -> list[str]:
    """Services `up` starts without COMPOSE_PROFILES: those in no profile."""
    return sorted(name for name, spec in model.get("services", {}).items() if not spec.get("profiles"))


def container_state(container: Mapping[str, Any], one_shot: bool, oom_killed: bool) -> str:
    """`healthy`, `starting`, `unhealthy`, `completed`, `exited (code N)`, `restarting (code N)`,
    `oom-killed`, or Docker's own word (`created`, `paused`, `dead`)."""
    if oom_killed:
        return "oom-killed"
    state = str(container.get("State", ""))
    health = str(container.get("Health") or "")
    code = int(container.get("ExitCode") or 0)
    if state == "running":
        if health:
            return health  # healthy | starting | unhealthy
        # No healthcheck: a one-shot still has its work to do; anything else has nothing to check.
        return "starting" if one_shot else "healthy"
    if state == "exited":
        return "completed" if one_shot and code == 0 else f"exited (code {code})"
    if state == "restarting":
        return f"restarting (code {code})"
    return state or "unknown"


@dataclass(frozen=True)
class Inspected:
    """What `docker inspect` adds to a `ps` row."""

    pid: int | None
    oom_killed: bool


INSPECT_FORMAT = "{{.Name}} {{.State.Pid}} {{.State.OOMKilled}}"


def parse_inspect(text: str) -> dict[str, Inspected]:
    """Lines of `docker inspect --format INSPECT_FORMAT`, by container name (without Docker's `/`)."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        name, pid, oom = fields
        result[name.lstrip("/")] = Inspected(int(pid) or None, oom == "true")
    return result


def _is_one_off(container: Mapping[str, Any]) -> bool:
    """A `docker compose run` container (a job), which is no service of the lab."""
    return "com.docker.compose.oneoff=True" in str(container.get("Labels", ""))


def _main_port(spec: Mapping[str, Any], publishers: list[dict[str, Any]]) -> int:
    """The host port of the service's first declared port (Connect's 15002, not its UI's 4041)."""
    declared = (spec.get("ports") or [None])[0]
    # Uninterpolated, a port is `127.0.0.1:${VAR:-9000}:9000`; interpolated, a mapping.
    target = declared.get("target") if isinstance(declared, dict) else str(declared).rsplit(":", 1)[-1]
    ports = [p for p in publishers if p.get("PublishedPort")]
    main = [p for p in ports if str(p.get("TargetPort")) == str(target)]
    return int((main or ports or [{"PublishedPort": 0}])[0]["PublishedPort"])


def service_statuses(
    model: Mapping[str, Any], containers: list[dict[str, Any]], inspected: Mapping[str, Inspected]
) -> list[ServiceStatus]:
    """One row for each lab service (`stopped` without a container) and each profile service that ran."""
    one_shot = one_shot_services(model)
    by_service = {str(c.get("Service")): c for c in containers if not _is_one_off(c)}
    names = lab_services(model) + sorted(set(by_service) - set(lab_services(model)))
    rows = []
    for name in names:
        container = by_service.get(name)
        if container is None:
            rows.append(ServiceStatus(name, None, 0, "stopped"))
            continue
        details = inspected.get(str(container.get("Name")), Inspected(None, False))
        port = _main_port(model.get("services", {}).get(name, {}), container.get("Publishers") or [])
        state = container_state(container, name in one_shot, details.oom_killed)
        pid = details.pid if container.get("State") == "running" else None
        rows.append(ServiceStatus(name, pid, port, state))
    return rows


# --- extra CA certificates ----------------------------------------------------------------


def install_extra_ca_certs(environ: Mapping[str, str], folder: Path = CA_CERTS_DIR) -> list[Path]:
    """Copy LAKELAB_EXTRA_CA_CERTS (a .crt/.pem file or a folder of *.crt) into `folder` as *.crt.

    Copies of an earlier run are replaced, so the images trust what the variable names now.

    Raises:
        UserError: The path is missing, of another kind, or holds no PEM certificate.
    """
    value = _user_value(environ, EXTRA_CA_CERTS)
    sources: list[Path] = []
    if value is not None:
        path = Path(value).expanduser()
        if path.is_dir():
            sources = sorted(path.glob("*.crt"))
            if not sources:
                raise UserError(f"{EXTRA_CA_CERTS}={value}: the folder holds no *.crt file")
        elif path.is_file():
            if path.suffix not in (".crt", ".pem"):
                raise UserError(f"{EXTRA_CA_CERTS}={value}: not a .crt or .pem file (or a folder of *.crt)")
            sources = [path]
        else:
            raise UserError(f"{EXTRA_CA_CERTS}={value}: no such file or folder")
        for source in sources:
            if "-----BEGIN CERTIFICATE-----" not in source.read_text(encoding="utf-8", errors="replace"):
                raise UserError(f"{EXTRA_CA_CERTS}={value}: {source.name} holds no PEM certificate")
    folder.mkdir(parents=True, exist_ok=True)
    copies = [folder / f"{CA_COPY_PREFIX}{source.stem}.crt" for source in sources]
    for stale in set(folder.glob(f"{CA_COPY_PREFIX}*.crt")) - set(copies):
        stale.unlink()
    for source, target in zip(sources, copies, strict=True):
        # Rewritten only when it changed: an untouched file keeps the image build cached.
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
    return copies


# --- docker compose -----------------------------------------------------------------------


def engine_answers(timeout_s: float = 3.0) -> bool:
    """True when a Docker engine answers (cluster/engine.py's check, which the tests use too)."""
    from cluster.engine import answers

    return answers(timeout_s)


def _compose_command(config: LakelabConfig, *args: str) -> list[str]:
    if shutil.which("docker") is None:
        raise UserError("docker CLI not found on PATH; install Docker or use `--mode native`")
    compose_file = Path(config.cluster.compose_file)
    if not compose_file.is_absolute():
        compose_file = REPO_ROOT / compose_file
    if not compose_file.exists():
        raise UserError(f"{compose_file}: compose file not found (cluster.compose_file)")
    command = ["docker", "compose", "--ansi", "never", "-f", str(compose_file)]
    command += ["-p", config.cluster.compose_project]
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        command += ["--env-file", str(env_file)]
    return [*command, *args]


def _run(
    config: LakelabConfig, args: list[str], env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        _compose_command(config, *args),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env} if env is not None else None,
    )
    if check and result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
        raise UserError(f"`docker compose {' '.join(args)}` failed: {reason}")
    return result


def render_config(config: LakelabConfig, env: Mapping[str, str]) -> dict[str, Any]:
    """`docker compose config --format json` with `env` over os.environ: the model `up` would run."""
    rendered: dict[str, Any] = json.loads(_run(config, ["config", "--format", "json"], env).stdout)
    return rendered


def declared_model(config: LakelabConfig) -> dict[str, Any]:
    """compose.yaml's services as declared, every profile, nothing interpolated (needs no secrets)."""
    model: dict[str, Any] = json.loads(
        _run(config, ["config", "--no-interpolate", "--format", "json"]).stdout
    )
    return model


def _own_published_ports(config: LakelabConfig, env: Mapping[str, str]) -> set[int]:
    """Host ports this project's running containers publish (re-running `up` must not trip on them)."""
    containers = parse_ps(_run(config, ["--profile", "*", "ps", "--format", "json"], env).stdout)
    return {
        int(publisher["PublishedPort"])
        for container in containers
        for publisher in container.get("Publishers") or []
        if publisher.get("PublishedPort")
    }


def _inspect(names: list[str]) -> dict[str, Inspected]:
    if not names:
        return {}
    # A container removed between `ps` and here fails alone; the others still print.
    result = subprocess.run(
        ["docker", "inspect", "--format", INSPECT_FORMAT, *names], capture_output=True, text=True, check=False
    )
    return parse_inspect(result.stdout)


def _check_worker_services(config: LakelabConfig, rendered: Mapping[str, Any]) -> None:
    workers = [name for name in rendered.get("services", {}) if re.fullmatch(r"spark-worker-\d+", name)]
    if len(workers) != config.cluster.workers:
        raise UserError(
            f"[cluster] workers = {config.cluster.workers} but {config.cluster.compose_file} runs "
            f"{len(workers)} workers ({', '.join(sorted(workers))}): set workers = {len(workers)} "
            "or use `--mode native`"
        )


def _check_build_inputs(environ: Mapping[str, str]) -> None:
    if _user_value(environ, MINIO_BINARY) == "prebuilt" and not (REPO_ROOT / "build" / "minio").is_file():
        raise UserError(
            f"{MINIO_BINARY}=prebuilt but {REPO_ROOT / 'build' / 'minio'} does not exist: "
            "run `make services` or unset it to compile MinIO in the image"
        )


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no output"


def up(config: LakelabConfig, progress: Callable[[str], None] = print) -> list[ServiceStatus]:
    """`docker compose up --build --wait`, sized and checked first: returns when every healthcheck passes.

    Raises:
        UserError: A size or port check failed, or compose did (its whole output is in
            `<state>/logs/compose-up.log`).
    """
    host_memory = host_memory_bytes()
    env = compose_env(config, os.environ, host_memory)
    seen = {**os.environ, **env}
    check_memory(seen, host_memory, job_config().spark.executor_memory)
    _check_build_inputs(seen)
    rendered = render_config(config, env)
    _check_worker_services(config, rendered)
    check_ports_free(published_ports(rendered, env), _own_published_ports(config, env))
    copies = install_extra_ca_certs(seen)
    if copies:
        progress(f"cluster: {len(copies)} extra CA certificate(s) from {EXTRA_CA_CERTS} in {CA_CERTS_DIR}")
    state = StateDir(config.cluster)
    log = state.log("compose-up")
    sizes = ", ".join(f"{name}={env[name]}" for name in (MEM_WORKER, WORKER_MEMORY, MEM_JOB))
    progress(
        f"cluster: docker compose up (builds the images the first time; {sizes} of "
        f"{_gib(host_memory)}); output in {log}"
    )
    timeout = str(int(config.cluster.health_timeout_s * 3))
    command = _compose_command(config, "up", "--detach", "--build", "--wait", "--wait-timeout", timeout)
    with log.open("a", encoding="utf-8") as sink:
        sink.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        sink.flush()
        result = subprocess.run(
            command, stdout=sink, stderr=subprocess.STDOUT, env=seen, check=False, stdin=subprocess.DEVNULL
        )
    if result.returncode != 0:
        raise UserError(
            f"`docker compose up` failed (exit code {result.returncode}): {_last_line(log)}; "
            f"compose's whole output is in {log}"
        )
    state.mode_file.write_text("compose\n", encoding="utf-8")
    return status(config)


def down(config: LakelabConfig, volumes: bool = False, progress: Callable[[str], None] = print) -> int:
    """`docker compose down` over every profile, so job and Grafana containers go too.

    Args:
        config: The project and compose file.
        volumes: Also remove the lab's named volumes (MinIO's data, Prometheus's TSDB).

    Returns:
        How many containers were running.
    """
    running = len(parse_ps(_run(config, ["--profile", "*", "ps", "--format", "json"]).stdout))
    args = ["--profile", "*", "down", "--remove-orphans"]
    if volumes:
        args.append("--volumes")
    _run(config, args)
    StateDir(config.cluster).mode_file.unlink(missing_ok=True)
    removed = "; volumes removed" if volumes else "; volumes kept"
    progress(f"cluster: docker compose down ({running} containers were running{removed})")
    return running


def _oom_killed_ids(container_ids: list[str]) -> set[str]:
    """Containers of `container_ids` whose cgroup saw the kernel's OOM killer (`oom` events).

    `State.OOMKilled` says so only when the container's main process was the one killed;
    a worker's executor or a job's Python process killed for memory shows up only as an
    `oom` event of the container, which the engine keeps for `docker events --since`.
    """
    if not container_ids:
        return set()
    now = int(time.time())
    week_ago = str(now - 7 * 24 * 3600)
    result = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            week_ago,
            "--until",
            str(now),
            "--filter",
            "event=oom",
            "--format",
            "{{.ID}}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    events = {line.strip() for line in result.stdout.splitlines() if line.strip()}
    # `ps` may print short IDs, events full ones.
    return {cid for cid in container_ids if any(event.startswith(cid) for event in events)}


def status(config: LakelabConfig) -> list[ServiceStatus]:
    """Each service with its container's pid, first published port and state (see container_state)."""
    model = declared_model(config)
    containers = parse_ps(_run(config, ["--profile", "*", "ps", "--all", "--format", "json"]).stdout)
    inspected = dict(_inspect([str(c["Name"]) for c in containers if c.get("Name")]))
    oom_killed = _oom_killed_ids([str(c["ID"]) for c in containers if c.get("ID")])
    for container in containers:
        if str(container.get("ID", "")) in oom_killed:
            name = str(container.get("Name"))
            known = inspected.get(name, Inspected(None, False))
            inspected[name] = Inspected(known.pid, True)
    return service_statuses(model, containers, inspected)
