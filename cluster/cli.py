"""`lakelab cluster up|status|down`: the lab in compose or as local processes."""

from __future__ import annotations

import argparse
import time
from typing import Any

MODES = ("auto", "compose", "native")
# A lab is up when every service is one of these: a one-shot (minio-init) ends `completed`.
READY_STATES = ("healthy", "completed")


def all_ready(rows: list[Any]) -> bool:
    """True when there are services and each is healthy or a one-shot that completed."""
    return bool(rows) and all(row.state in READY_STATES for row in rows)


def register(commands: Any) -> None:
    """Add `cluster` and its subcommands to the command tree."""
    parser = commands.add_parser(
        "cluster", help="the cluster lab: Spark standalone, MinIO, Prometheus, Spark Connect"
    )
    actions = parser.add_subparsers(dest="cluster_command", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    up = actions.add_parser("up", help="start the lab (compose when a Docker engine answers, else native)")
    up.add_argument("--mode", choices=MODES, help="force compose or native (default: cluster.mode)")
    up.set_defaults(handler=run_up)
    status = actions.add_parser("status", help="each service with its pid, port and health")
    status.set_defaults(handler=run_status)
    down = actions.add_parser("down", help="stop every service the lab started")
    down.add_argument(
        "--volumes",
        action="store_true",
        help="compose: also remove the lab's volumes (MinIO's data, Prometheus's TSDB)",
    )
    down.set_defaults(handler=run_down)
    # The two below are what compose's containers run; they work outside compose too.
    buckets = actions.add_parser("init-buckets", help="create s3.buckets on s3.endpoint (compose's init job)")
    buckets.set_defaults(handler=run_init_buckets)
    connect = actions.add_parser("serve-connect", help="run the Spark Connect server in the foreground")
    connect.add_argument("--master", required=True, help="spark://host:port of the standalone master")
    connect.add_argument("--bind", default="127.0.0.1", help="address the server and its UI bind to")
    connect.add_argument("--driver-host", default="127.0.0.1", help="name executors reach the driver by")
    connect.set_defaults(handler=run_serve_connect)


def resolve_mode(config: Any, requested: str | None) -> str:
    """`compose` or `native`: what `--mode`, the config and the Docker engine say."""
    mode = requested or config.cluster.mode
    if mode != "auto":
        return str(mode)
    from cluster.compose import engine_answers

    return "compose" if engine_answers() else "native"


def _running_mode(config: Any) -> str:
    from cluster.state import StateDir

    return StateDir(config.cluster).read_mode() or "native"


def _backend(mode: str) -> Any:
    if mode == "compose":
        from cluster import compose

        return compose
    from cluster import native

    return native


def _print_table(rows: list[Any]) -> None:
    print(f"{'service':<16} {'pid':>8} {'port':>6}  health")
    for row in rows:
        pid = str(row.pid) if row.pid else "-"
        port = str(row.port) if row.port else "-"
        print(f"{row.name:<16} {pid:>8} {port:>6}  {row.state}")


def run_up(config: Any, args: argparse.Namespace) -> int:
    """Start the lab and print its status."""
    mode = resolve_mode(config, args.mode)
    print(f"cluster: mode {mode}, state in {config.cluster.state_dir}")
    started = time.perf_counter()
    rows = _backend(mode).up(config)
    print(f"cluster: up in {time.perf_counter() - started:.1f}s")
    _print_table(rows)
    return 0 if all_ready(rows) else 1


def run_status(config: Any, args: argparse.Namespace) -> int:
    """Print each service; exit 0 only when all are healthy (or one-shots completed)."""
    mode = _running_mode(config)
    rows = _backend(mode).status(config)
    print(f"cluster: mode {mode}")
    _print_table(rows)
    return 0 if all_ready(rows) else 1


def run_down(config: Any, args: argparse.Namespace) -> int:
    """Stop the lab; succeed when nothing is running. `--volumes` also deletes the compose lab's data."""
    if args.volumes:
        from cluster import compose
        from cluster.state import StateDir
        from lakelab.errors import UserError

        state = StateDir(config.cluster)
        # Volumes are compose's; with no lab recorded, the compose project may still hold them.
        if (state.read_mode() or "compose") != "compose":
            raise UserError(
                "--volumes removes the compose lab's volumes, but the native lab is up; its data is in "
                f"{state.root / 'minio'} and {state.root / 'prometheus'} "
                "(delete them after `lakelab cluster down`)"
            )
        stopped = compose.down(config, volumes=True)
    else:
        stopped = _backend(_running_mode(config)).down(config)
    print(f"cluster: down ({stopped} services stopped)")
    return 0


def run_init_buckets(config: Any, args: argparse.Namespace) -> int:
    """Create every bucket of `s3.buckets`; succeed when they exist already."""
    from cluster import s3
    from lakelab.spark import s3_credentials

    access_key, secret_key = s3_credentials(config.s3)
    endpoint = s3.S3Endpoint(config.s3.endpoint, config.s3.region, access_key, secret_key)
    for bucket in config.s3.buckets:
        created = s3.ensure_bucket(endpoint, bucket)
        print(f"cluster: bucket {bucket} {'created' if created else 'present'} on {config.s3.endpoint}")
    return 0


def run_serve_connect(config: Any, args: argparse.Namespace) -> int:
    """Write the Connect server's settings (0600, they hold the S3 secret) and exec spark-submit."""
    import os
    import tempfile
    from pathlib import Path

    from cluster import native

    conf = native.connect_conf(config, args.master, bind_address=args.bind, driver_host=args.driver_host)
    properties = native.write_properties(
        conf, Path(tempfile.mkdtemp(prefix="lakelab-connect-")) / "connect.properties"
    )
    home = Path(os.environ["SPARK_HOME"]) if os.environ.get("SPARK_HOME") else native.spark_home()
    command = native.connect_command(home, properties)
    print(f"cluster: {' '.join(command)}", flush=True)
    os.execv(command[0], command)
