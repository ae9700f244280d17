"""`lakelab cluster up|status|down`: the lab in compose or as local processes."""

from __future__ import annotations

import argparse
import time
from typing import Any

MODES = ("auto", "compose", "native")


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
    down.set_defaults(handler=run_down)


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
        print(f"{row.name:<16} {pid:>8} {row.port:>6}  {row.state}")


def run_up(config: Any, args: argparse.Namespace) -> int:
    """Start the lab and print its status."""
    mode = resolve_mode(config, args.mode)
    print(f"cluster: mode {mode}, state in {config.cluster.state_dir}")
    started = time.perf_counter()
    rows = _backend(mode).up(config)
    print(f"cluster: up in {time.perf_counter() - started:.1f}s")
    _print_table(rows)
    return 0 if all(row.state == "healthy" for row in rows) else 1


def run_status(config: Any, args: argparse.Namespace) -> int:
    """Print each service; exit 0 only when all are healthy."""
    mode = _running_mode(config)
    rows = _backend(mode).status(config)
    print(f"cluster: mode {mode}")
    _print_table(rows)
    return 0 if rows and all(row.state == "healthy" for row in rows) else 1


def run_down(config: Any, args: argparse.Namespace) -> int:
    """Stop the lab; succeed when nothing is running."""
    mode = _running_mode(config)
    stopped = _backend(mode).down(config)
    print(f"cluster: down ({stopped} services stopped)")
    return 0
