"""`lakelab loadtest`: Locust, headless, against the Gold layer through Spark Connect.

The order matters for a clear failure: the options are checked, then the server (started
here, or `--connect`'s) must answer a query and the Gold layer must have rows, all before
Locust starts a single user. Locust runs in its own process (`python -m locust -f
loadtest/locustfile.py --headless ...`), where gevent patches the standard library; its CSVs,
a result record (`loadtest`) and a report with PNGs go to the output folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.errors import UserError
from loadtest.server import first_line

if TYPE_CHECKING:
    from lakelab.config import LakelabConfig

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CSV_PREFIX = "locust"
LOCUST_GRACE_S = 180.0
"""How long past its planned end Locust may take to stop its users and write its CSVs."""
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


def parse_duration(text: str, option: str) -> int:
    """`90`, `90s`, `2m`, `1h30m` → seconds > 0; anything else a one-line UserError."""
    match = DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise UserError(f"{option} {text!r}: not a duration (e.g. 60s, 2m, 1h30m)")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UserError(f"{option} {text!r}: needs more than 0 seconds")
    return total


def step_plan(args: argparse.Namespace, out: Path) -> Any:
    """`--step USERS,SECONDS,MAX` and the limits as a `StepPlan`, or None without `--step`."""
    from loadtest.shape import StepPlan

    if args.step is None:
        return None
    parts = [part.strip() for part in args.step.split(",")]
    if len(parts) != 3:
        raise UserError(f"--step {args.step!r}: needs USERS,SECONDS,MAX_USERS, e.g. 2,30s,16")
    try:
        users, max_users = int(parts[0]), int(parts[2])
    except ValueError:
        raise UserError(f"--step {args.step!r}: USERS and MAX_USERS are whole numbers") from None
    seconds = parse_duration(parts[1], "--step")
    try:
        return StepPlan(
            users, seconds, max_users, args.p95_limit_ms, args.failure_limit, str(out / "steps.json")
        )
    except ValueError as error:
        raise UserError(str(error)) from None


def check_options(args: argparse.Namespace) -> None:
    """Users and spawn rate, before anything starts."""
    if args.step is None and args.users < 1:
        raise UserError(f"--users {args.users}: needs at least 1")
    if args.spawn_rate <= 0:
        raise UserError(f"--spawn-rate {args.spawn_rate:g}: needs more than 0 users per second")
    if args.single_user_rounds < 0:
        raise UserError(f"--single-user-rounds {args.single_user_rounds}: give 0 (skip) or more")


def read_bounds(session: Any, warehouse: str) -> Any:
    """The Gold layer's dates and regions, read through the server; a UserError when it has none."""
    from loadtest.queries import Bounds, bounds_sql

    try:
        row = session.sql(bounds_sql(warehouse)).collect()[0]
    except Exception as error:
        raise UserError(
            f"{warehouse}: gold.daily_revenue cannot be read ({first_line(error)[:200]}); "
            "run `lakelab pipeline run` first"
        ) from None
    if row["first_day"] is None or not row["regions"]:
        raise UserError(f"{warehouse}: gold.daily_revenue is empty; run `lakelab pipeline run` first")
    return Bounds(row["first_day"], row["last_day"], tuple(row["regions"]))


def warm_up(session: Any, warehouse: str, bounds: Any, seed: int) -> None:
    """Run each dashboard query once before the users start (not measured).

    A server's first queries pay for its JIT and for reading each table's Delta log; without
    this, the first seconds of a test (the first step in step mode) measure the start-up.
    """
    import random

    from loadtest.queries import DASHBOARD, draw_filters

    rng = random.Random(f"{seed}-warm-up")
    print(f"loadtest: warming the server up: {len(DASHBOARD)} queries, not measured", flush=True)
    for name, (query, _weight) in DASHBOARD.items():
        try:
            session.sql(query(warehouse, draw_filters(rng, bounds))).collect()
        except Exception as error:
            raise UserError(
                f"{warehouse}: the dashboard query {name} failed: {first_line(error)[:200]}"
            ) from None


def single_user(session: Any, warehouse: str, bounds: Any, seed: int, rounds: int) -> dict[str, Any]:
    """The single-user baseline (`loadtest.baseline`): Spark Connect against DuckDB, query by
    query; an empty summary for 0 rounds or a warehouse DuckDB cannot read here."""
    from harness.duckdb_gold import connect
    from lakelab.paths import is_remote
    from loadtest import baseline

    if rounds == 0:
        return {}
    if is_remote(warehouse):
        print(f"loadtest: single-user baseline skipped: DuckDB reads local tables, not {warehouse}")
        return {"skipped": f"{warehouse} is not a local folder"}
    duck = connect()

    def on_duckdb(sql: str) -> int:
        try:
            return len(duck.execute(sql).fetchall())
        except Exception as error:
            raise UserError(
                f"DuckDB could not run a dashboard query ({first_line(error)[:200]}): {sql}"
            ) from None

    def on_spark(sql: str) -> int:
        return len(session.sql(sql).collect())

    print(f"loadtest: one user, {rounds} rounds of each query on Spark Connect and on DuckDB", flush=True)
    try:
        timings = baseline.measure(on_spark, on_duckdb, warehouse, bounds, seed, rounds)
    except baseline.BaselineMismatchError as error:
        raise UserError(f"single-user baseline: the engines disagree: {error}") from None
    finally:
        duck.close()
    result = baseline.summary(timings)
    overall = result["all"]
    print(
        f"loadtest: one user, medians of {overall['n']}: Spark Connect {overall['spark_median_ms']:.0f} ms, "
        f"DuckDB {overall['duckdb_median_ms']:.0f} ms ({overall['duckdb_over_spark']:.3f} of Spark's time)",
        flush=True,
    )
    return result


def locust_command(
    args: argparse.Namespace, run_time_s: int, out: Path, log: Path, stepped: bool
) -> list[str]:
    """The Locust command line: headless, CSVs with the full history, its log to a file."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--only-summary",
        "--csv",
        str(out / CSV_PREFIX),
        "--csv-full-history",
        "--loglevel",
        "WARNING",
        "--logfile",
        str(log),
    ]
    if not stepped:  # a shape sets users itself; Locust warns about -u/-r/--run-time beside one
        command += [
            "--users",
            str(args.users),
            "--spawn-rate",
            f"{args.spawn_rate:g}",
            "--run-time",
            f"{run_time_s}s",
        ]
    return command


def _progress(history: Path, started: float, done: threading.Event, expected_s: float | None) -> None:
    """A line every 10 s from Locust's history file while it runs."""
    from loadtest.report import read_history

    while not done.wait(10):
        try:
            moments = read_history(history)
        except Exception:  # the file mid-write; a progress line is not worth a traceback
            continue
        if not moments:
            continue
        last = moments[-1]
        p95 = f"{last.p95_ms:.0f} ms" if last.p95_ms is not None else "n/a"
        of = f" of {expected_s:.0f}" if expected_s else ""
        print(
            f"loadtest: {time.monotonic() - started:.0f} s{of}, {last.users} users, "
            f"{last.requests_per_second:.1f} requests/s, p95 {p95}",
            flush=True,
        )


def run_loadtest_command(config: LakelabConfig, args: argparse.Namespace) -> int:
    """`lakelab loadtest`: 0 when the test ran (failed queries are figures); a UserError when
    nothing could be measured."""
    from lakelab.records import RecordKind, new_record, write_record
    from loadtest import SETTINGS_ENV, report
    from loadtest.queries import DASHBOARD
    from loadtest.server import connect_session, dying_with_parent, local_server

    check_options(args)
    run_time_s = parse_duration(args.run_time, "--run-time")
    warehouse = args.warehouse or config.paths.warehouse
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out or Path(config.paths.reports) / f"loadtest-{stamp}")
    plan = step_plan(args, out)
    seed = config.datagen.seed if args.seed is None else args.seed
    server = nullcontext(args.connect) if args.connect else local_server(config)
    with server as remote:
        absolute = os.path.abspath(warehouse) if "://" not in warehouse else warehouse
        session = connect_session(remote)
        try:
            bounds = read_bounds(session, absolute)
            warm_up(session, absolute, bounds, seed)
            one_user = single_user(session, absolute, bounds, seed, args.single_user_rounds)
        finally:
            # Before the server stops: an open session calls it again when this process exits.
            session.stop()
        out.mkdir(parents=True, exist_ok=True)
        settings: dict[str, Any] = {
            "remote": remote,
            "warehouse": absolute,
            "seed": seed,
            "bounds": {
                "first_day": bounds.first_day.isoformat(),
                "last_day": bounds.last_day.isoformat(),
                "regions": list(bounds.regions),
            },
        }
        if plan is not None:
            settings["step"] = {
                "users": plan.users,
                "seconds": plan.seconds,
                "max_users": plan.max_users,
                "p95_ms": plan.p95_ms,
                "failure_ratio": plan.failure_ratio,
                "out": plan.out,
            }
        log = out / "locust.log"
        command = locust_command(args, run_time_s, out, log, stepped=plan is not None)
        expected = plan.steps * plan.seconds if plan is not None else run_time_s
        text = (
            f"steps of {plan.users} users every {plan.seconds:g} s up to {plan.max_users}, stopping "
            f"past p95 {plan.p95_ms:g} ms or failure ratio {plan.failure_ratio:g}"
            if plan is not None
            else f"{args.users} users, spawned {args.spawn_rate:g}/s, for {run_time_s} s"
        )
        print(f"loadtest: {text}; Locust's CSVs and log in {out}", flush=True)
        env = {**os.environ, SETTINGS_ENV: json.dumps(settings)}
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        started = time.monotonic()
        done = threading.Event()
        watcher = threading.Thread(
            target=_progress,
            args=(out / f"{CSV_PREFIX}_stats_history.csv", started, done, expected),
            daemon=True,
        )
        watcher.start()
        try:
            with log.with_suffix(".stderr").open("w") as stderr:
                finished = subprocess.run(
                    dying_with_parent(command),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    check=False,
                    # Locust stops itself at the end; a client stuck retrying a server that
                    # went away must not hold the command past it.
                    timeout=expected + LOCUST_GRACE_S,
                )
        except subprocess.TimeoutExpired:
            raise UserError(
                f"Locust did not finish within {expected + LOCUST_GRACE_S:.0f} s (the server may "
                f"have gone away mid-test); see {log} and {log.with_suffix('.stderr')}"
            ) from None
        finally:
            done.set()
        seconds = time.monotonic() - started
    stats_file = out / f"{CSV_PREFIX}_stats.csv"
    if finished.returncode != 0 or not stats_file.exists():
        raise UserError(
            f"Locust exited with {finished.returncode} (a user or the step shape raised, or it "
            f"wrote no figures); see {log}, {log.with_suffix('.stderr')} and "
            f"{out / 'locust_exceptions.csv'}"
        )
    figures = report.read_stats(stats_file)
    history = report.read_history(out / f"{CSV_PREFIX}_stats_history.csv")
    total = next(f for f in figures if f.name == report.AGGREGATED)
    payload: dict[str, Any] = {
        "remote": remote,
        "server": "given with --connect"
        if args.connect
        else f"started by loadtest, {config.spark.master}, FAIR pool",
        "warehouse": absolute,
        "seed": seed,
        "seconds": seconds,
        "mode": {"kind": "step" if plan is not None else "fixed", "text": text},
        "users": None if plan is not None else args.users,
        "weights": {name: weight for name, (_query, weight) in DASHBOARD.items()},
        "queries": report.figures_payload(figures),
        "history_points": len(history),
        "single_user": one_user,
    }
    if plan is not None:
        steps = json.loads(Path(plan.out).read_text(encoding="utf-8")) if Path(plan.out).exists() else []
        saturated = next((s for s in steps if s["saturated"]), None)
        payload["steps"] = steps
        payload["saturation"] = saturated
        payload["saturation_text"] = (
            f"Saturation: {saturated['users']} users ({saturated['reason']})."
            if saturated
            else f"Not saturated up to {steps[-1]['users'] if steps else 0} users within the limits."
        )
    images = {
        "latency": report.plot_latency(history, out / "img" / "latency.png"),
        "throughput": report.plot_throughput(history, out / "img" / "throughput.png"),
        "queries": report.plot_queries(figures, out / "img" / "queries.png"),
    }
    (out / "report.md").write_text(report.markdown(payload, images, out), encoding="utf-8")
    record = write_record(
        new_record(RecordKind.LOADTEST, payload, seed), args.results or config.paths.results
    )
    print(
        f"loadtest: {total.requests:,} queries, {total.failures:,} failed, p50 {total.p50_ms:.0f} ms, "
        f"p95 {total.p95_ms:.0f} ms, p99 {total.p99_ms:.0f} ms, {total.requests_per_second:.2f}/s",
        flush=True,
    )
    if plan is not None:
        print(f"loadtest: {payload['saturation_text']}", flush=True)
    print(f"report: {out / 'report.md'}; record: {record}", flush=True)
    if total.requests == 0:
        raise UserError(
            f"no query finished: the users could not start or the queries did not return; "
            f"see {out / 'locust_exceptions.csv'} and {log}"
        )
    if total.failures == total.requests:
        raise UserError(
            f"every query failed ({total.failures:,} of {total.requests:,}); "
            f"see {out / 'locust_failures.csv'}"
        )
    return 0
