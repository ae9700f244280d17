"""`pipeline.parallel.build_all`: a layer's tables a few at a time, with the results and the
failures of one table at a time (no Spark: the builds are plain functions)."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from pipeline.parallel import build_all


class Recorder:
    """Builds that log when they start and end and how many ran at once."""

    def __init__(self, seconds: dict[int, float] | None = None, fail: set[int] | None = None) -> None:
        self.seconds = seconds or {}
        self.fail = fail or set()
        self.events: list[tuple[str, int]] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, item: int) -> str:
        with self.lock:
            self.events.append(("start", item))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds.get(item, 0.01))
        with self.lock:
            self.running -= 1
            self.events.append(("end", item))
        if item in self.fail:
            raise RuntimeError(f"table {item} failed")
        return f"built {item}"

    def started(self) -> list[int]:
        return [item for event, item in self.events if event == "start"]

    def index(self, event: str, item: int) -> int:
        return self.events.index((event, item))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_in_item_order_whatever_finishes_first(workers: int) -> None:
    # Item 0 is the slowest, so with 2+ workers it finishes last.
    build = Recorder(seconds={0: 0.3})
    assert build_all([0, 1, 2, 3], build, workers) == ["built 0", "built 1", "built 2", "built 3"]
    assert build.most == min(workers, 4)


def test_one_worker_builds_one_item_at_a_time_in_order() -> None:
    build = Recorder()
    build_all([0, 1, 2], build, 1)
    assert build.events == [("start", 0), ("end", 0), ("start", 1), ("end", 1), ("start", 2), ("end", 2)]


def test_an_item_starts_only_after_the_items_it_waits_for() -> None:
    # Item 2 reads item 0 (a slow one); item 1 is free to run beside item 0.
    build = Recorder(seconds={0: 0.3})
    build_all([0, 1, 2], build, 3, waits_for=lambda i: [0] if i == 2 else [])
    assert build.index("start", 2) > build.index("end", 0)
    assert build.index("start", 1) < build.index("end", 0)


def test_waiting_for_a_later_item_is_refused() -> None:
    with pytest.raises(ValueError, match="item 0 may wait only for earlier items"):
        build_all([0, 1], Recorder(), 2, waits_for=lambda i: [1] if i == 0 else [])


def test_zero_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        build_all([0], Recorder(), 0)


def test_a_failure_raises_the_earliest_failed_item_and_starts_nothing_more() -> None:
    # Items 1 and 2 fail; 2 fails first (1 is slower), yet 1's error is the one raised, as
    # one table at a time would raise it.
    released: list[str] = []
    build = Recorder(seconds={1: 0.3, 2: 0.01}, fail={1, 2})
    with pytest.raises(RuntimeError, match="table 1 failed"):
        build_all([0, 1, 2, 3, 4], build, 2, release=released.append)
    assert 3 not in build.started() and 4 not in build.started()
    assert released == ["built 0"]  # the finished table's cache is freed, nothing else


def test_a_failed_item_stops_the_items_waiting_for_it() -> None:
    build = Recorder(fail={0})
    with pytest.raises(RuntimeError, match="table 0 failed"):
        build_all([0, 1], build, 2, waits_for=lambda i: [0] if i == 1 else [])
    assert build.started() == [0]


def test_ctrl_c_cancels_the_jobs_waits_for_the_running_builds_and_releases_them() -> None:
    main = threading.get_ident()
    cancelled = threading.Event()
    released: list[str] = []

    def build(item: int) -> str:
        if item == 1:
            # The user presses Ctrl-C while item 1 runs; its Spark job ends when cancelled.
            signal.pthread_kill(main, signal.SIGINT)
            cancelled.wait(5)
        else:
            time.sleep(0.5)  # still running when Ctrl-C comes
        return f"built {item}"

    with pytest.raises(KeyboardInterrupt):
        build_all([0, 1, 2, 3], build, 2, release=released.append, interrupted=cancelled.set)
    assert cancelled.is_set()
    # Both running builds were waited for (not abandoned mid-write) and released; the items
    # not yet started never start.
    assert sorted(released) == ["built 0", "built 1"]
