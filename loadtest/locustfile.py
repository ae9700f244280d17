"""The Locust side of `lakelab loadtest`: BI users querying Gold through Spark Connect.

Locust imports this file in its own process (`locust -f`), after gevent has patched the
standard library. grpc, which the Spark Connect client speaks, deadlocks under gevent unless
`grpc.experimental.gevent.init_gevent()` runs before anything imports grpc: hence the first
lines below. `lakelab loadtest` (`loadtest/run.py`) passes what a run needs in the
environment (`SETTINGS_ENV`, JSON).
"""
# ruff: noqa: E402  (grpc must be set up for gevent before the imports that load it)

from __future__ import annotations

from grpc.experimental import gevent as grpc_gevent

grpc_gevent.init_gevent()

import contextlib
import json
import os
import random
import time
from typing import Any

from locust import LoadTestShape, User, between, events, task
from locust.log import unhandled_greenlet_exception
from locust.stats import calculate_response_time_percentile, diff_response_time_dicts

from loadtest import SETTINGS_ENV
from loadtest.queries import DASHBOARD, Bounds, draw_filters, weighted_names
from loadtest.shape import StepPlan, step_verdict

SETTINGS: dict[str, Any] = json.loads(os.environ.get(SETTINGS_ENV, "{}"))


def _bounds() -> Bounds:
    raw = SETTINGS["bounds"]
    import datetime as dt

    return Bounds(
        dt.date.fromisoformat(raw["first_day"]), dt.date.fromisoformat(raw["last_day"]), tuple(raw["regions"])
    )


SESSIONS: list[Any] = []
"""Every user's session, closed when Locust quits."""


def _close(session: Any) -> None:
    """Close a session's channel without a call to the server.

    `session.stop()` asks the server to release the session, and pyspark's exit hook asks it
    again for any client still open. Under gevent, at Locust's exit, such a call can hang
    (once in a test run: Locust never exited), and a server that went away mid-test makes it
    retry for minutes. The server drops idle sessions itself, and the one loadtest started is
    stopped after the test anyway.
    """
    if session is not None:
        with contextlib.suppress(Exception):
            session.client.close()


class GoldDashboardUser(User):
    """One analyst: their own Spark Connect session, a dashboard's queries with a view's filters."""

    wait_time = between(0.5, 1.5)
    _next_id = 0

    def on_start(self) -> None:
        from pyspark.sql import SparkSession

        GoldDashboardUser._next_id += 1
        # Each user draws its own views, reproducibly from the run's seed.
        self.rng = random.Random(f"{SETTINGS['seed']}-{GoldDashboardUser._next_id}")
        self.bounds = _bounds()
        self.names = weighted_names()
        self.session = SparkSession.builder.remote(SETTINGS["remote"]).create()
        SESSIONS.append(self.session)

    def on_stop(self) -> None:
        _close(getattr(self, "session", None))

    @task
    def dashboard_query(self) -> None:
        name = self.rng.choice(self.names)
        query, _weight = DASHBOARD[name]
        sql = query(SETTINGS["warehouse"], draw_filters(self.rng, self.bounds))
        started = time.perf_counter()
        rows = 0
        error: Exception | None = None
        try:
            rows = len(self.session.sql(sql).collect())
        except Exception as failure:  # a failed query is a failed request, not a crashed user
            error = failure
        self.environment.events.request.fire(
            request_type="SQL",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=rows,
            exception=error,
            context={},
        )


if "step" in SETTINGS:

    class StepLoad(LoadTestShape):
        """More users every step until p95 latency or the failure ratio crosses its limit."""

        plan = StepPlan(**SETTINGS["step"])

        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.requests_before = 0
            self.failures_before = 0
            self.times_before: dict[int, int] = {}
            self.steps: list[dict[str, Any]] = []

        def tick(self) -> tuple[int, float] | None:
            step = int(self.get_run_time() // self.plan.seconds)
            # Close every step that ended since the last tick (a slow tick can pass two).
            while step > self.step:
                if self._close_step():
                    return None
                self.step += 1
            users = self.plan.users_at(self.step)
            if users is None:
                return None
            return users, float(self.plan.users)

        def _close_step(self) -> bool:
            """Record the step that just ended; True when the test stops here."""
            assert self.runner is not None  # Locust gives a shape its runner before the first tick
            total = self.runner.stats.total
            requests = total.num_requests - self.requests_before
            failures = total.num_failures - self.failures_before
            # The step's own p95: the response times recorded since the step began.
            times = diff_response_time_dicts(dict(total.response_times), self.times_before)
            finished = sum(times.values())
            p95 = float(calculate_response_time_percentile(times, finished, 0.95)) if finished else 0.0
            self.requests_before, self.failures_before = total.num_requests, total.num_failures
            self.times_before = dict(total.response_times)
            users = self.plan.users_at(self.step) or self.plan.max_users
            verdict = step_verdict(
                self.plan,
                users,
                requests,
                failures,
                p95,
                last=self.plan.users_at(self.step + 1) is None,
            )
            self.steps.append(verdict)
            with open(self.plan.out, "w", encoding="utf-8") as file:
                json.dump(self.steps, file, indent=2)
            return bool(verdict["stop"])


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _failed_queries_are_figures(environment: Any, **_kwargs: Any) -> None:
    """Exit 0 when queries failed but nothing crashed: `lakelab loadtest` reports failures
    as figures. A user's exception (a session that could not open) or a crashed greenlet
    (the shape) keeps Locust's own non-zero code, which `lakelab loadtest` reports."""
    for session in SESSIONS:
        _close(session)
    runner = environment.runner
    crashed = runner is not None and runner.exceptions
    if not crashed and not unhandled_greenlet_exception:
        environment.process_exit_code = 0
