"""`lakelab loadtest`: argparse only; the handler imports its modules when it runs."""

from __future__ import annotations

import argparse
from typing import Any


def _loadtest(config: Any, args: argparse.Namespace) -> int:
    from loadtest.run import run_loadtest_command

    return run_loadtest_command(config, args)


def register(commands: Any) -> None:
    """Add `loadtest` to the command tree."""
    parser = commands.add_parser(
        "loadtest",
        help="concurrent BI users on the Gold layer through Spark Connect (Locust, headless)",
        description="Run Locust headless: each user opens its own Spark Connect session and runs a "
        "dashboard's queries on Gold (revenue by source and month, top customers by lifetime value, "
        "cohort retention, a region's revenue by segment), each with a region and date range. "
        "Without --connect it starts its own Connect server (spark.master, FAIR pool) and stops it "
        "after. Writes Locust's CSVs, a report with PNGs and a `loadtest` result record.",
    )
    parser.add_argument(
        "--users", "-u", type=int, default=4, metavar="N", help="concurrent users (default: 4)"
    )
    parser.add_argument(
        "--spawn-rate",
        "-r",
        type=float,
        default=1.0,
        metavar="N",
        help="users started per second (default: 1)",
    )
    parser.add_argument(
        "--run-time", "-t", default="60s", metavar="T", help="how long, e.g. 60s, 2m (default: 60s)"
    )
    parser.add_argument(
        "--connect",
        metavar="sc://HOST:PORT",
        help="a running Spark Connect server, e.g. the lab's sc://127.0.0.1:15002 (default: start one)",
    )
    parser.add_argument(
        "--warehouse", metavar="DIR", help="the warehouse whose Gold is queried (default: paths.warehouse)"
    )
    parser.add_argument(
        "--step",
        metavar="USERS,SECONDS,MAX",
        help="step mode: add USERS users every SECONDS up to MAX until p95 or failures cross the "
        "limits, and report that saturation point (replaces --users and --run-time), e.g. 2,30s,16",
    )
    parser.add_argument(
        "--p95-limit-ms",
        type=float,
        default=5000.0,
        metavar="MS",
        help="step mode: p95 latency limit (default: 5000)",
    )
    parser.add_argument(
        "--failure-limit",
        type=float,
        default=0.01,
        metavar="RATIO",
        help="step mode: failed share of a step's queries (default: 0.01)",
    )
    parser.add_argument(
        "--single-user-rounds",
        type=int,
        default=5,
        metavar="N",
        help="before the users: each query N times alone on Spark Connect and on DuckDB over the "
        "same Gold, the single-user baseline (default: 5; 0 skips it)",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="the users' filter draws (default: datagen.seed)"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="report folder (default: <paths.reports>/loadtest-<time>)"
    )
    parser.add_argument("--results", metavar="DIR", help="where the record goes (default: paths.results)")
    parser.set_defaults(handler=_loadtest)
