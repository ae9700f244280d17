"""Resident memory of a process and of the processes it started (a driver and its JVM)."""

from __future__ import annotations


def process_tree_rss(pid: int | None = None) -> tuple[int, int]:
    """(RSS of process `pid`, summed RSS of its descendants), in bytes; this process by default.

    A process that ended while being read counts as 0 bytes: the sum is a sample, and
    samplers call this while the processes come and go.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        own = int(root.memory_info().rss)
        children = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    below = 0
    for child in children:
        try:
            below += int(child.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return own, below
