"""Build a layer's tables a few at a time, on threads sharing the one SparkSession.

At lab scales most of a small table's seconds are the driver's: planning, listing files,
reading and writing the Delta log, a job with one task. One table at a time leaves the
other core idle through all of that; two at a time fill it. Spark runs jobs from several
threads at once (its scheduler is thread-safe), and each table writes only its own Delta
table: what the tables share (quarantine, rule results, run log) is written once, at the
layer's commit, on the caller's thread.

A table that reads another table of the same layer (Silver's reference checks read the
Silver tables they refer to) starts only once that table is written, so the results equal
those of one table at a time, whatever the number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def build_all(
    items: Sequence[Item],
    build: Callable[[Item], Result],
    workers: int,
    waits_for: Callable[[int], Iterable[int]] = lambda _index: (),
    release: Callable[[Result], None] = lambda _result: None,
    interrupted: Callable[[], None] = lambda: None,
) -> list[Result]:
    """`build(item)` for every item, at most `workers` at once; the results in item order.

    Args:
        items: what to build, in the order a single thread would build them.
        build: builds one item (called on a worker thread).
        workers: how many items may be built at once (1: one after another, in order).
        waits_for: the indexes of earlier items an item must wait for.
        release: called on every finished result when the whole cannot be returned.
        interrupted: called on the caller's thread on Ctrl-C, before the running builds are
            waited for (to cancel their Spark jobs, so the wait is short).

    Raises:
        The exception of the earliest item (in item order) that failed. Once one fails, no
        other item starts; those running are waited for, and their results released.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    order = list(range(len(items)))
    needs = {i: set(waits_for(i)) for i in order}
    for i, earlier in needs.items():
        if any(j >= i or j < 0 for j in earlier):
            raise ValueError(f"item {i} may wait only for earlier items, not {sorted(earlier)}")
    done: dict[int, Result] = {}
    failed: dict[int, BaseException] = {}
    built: dict[int, Result] = {}  # written by the workers: complete even if Ctrl-C lands mid-submit

    def task(i: int) -> Result:
        result = build(items[i])
        built[i] = result
        return result

    waiting = list(order)
    running: dict[Future[Result], int] = {}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lakelab-table")
    try:
        while waiting or running:
            if not failed:
                for i in [i for i in waiting if needs[i] <= done.keys()]:
                    if len(running) >= workers:
                        break
                    waiting.remove(i)
                    running[pool.submit(task, i)] = i
            if not running:
                break  # a failure stopped the rest
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                i = running.pop(future)
                error = future.exception()
                if error is None:
                    done[i] = future.result()
                else:
                    failed[i] = error
    except BaseException:  # Ctrl-C while waiting: stop the Spark jobs, then the threads end
        interrupted()
        pool.shutdown(wait=True, cancel_futures=True)
        for result in built.values():
            release(result)
        raise
    pool.shutdown(wait=True)
    if failed:
        for result in done.values():
            release(result)
        raise failed[min(failed)]
    return [done[i] for i in order]
