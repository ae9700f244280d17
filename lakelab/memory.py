"""Resident memory of a process and of the processes it started (a driver and its JVM)."""

from __future__ import annotations


def process_tree_rss(pid: int | None = None) -> tuple[int, int]:
    """(RSS of process `pid`, summed RSS of its descendants), in bytes; this process by default.

    A process that ended while being read, or that this user may not read, counts as 0
    bytes, the root as much as its children: the sum is a sample, and samplers call this
    while the processes come and go.
    """
    import psutil

    unreadable = (psutil.NoSuchProcess, psutil.AccessDenied)
    try:
        root = psutil.Process(pid)
    except unreadable:
        return 0, 0
    try:
        own = int(root.memory_info().rss)
    except unreadable:
        own = 0
    try:
        children = root.children(recursive=True)
    except unreadable:
        children = []
    below = 0
    for child in children:
        try:
            below += int(child.memory_info().rss)
        except unreadable:
            continue
    return own, below
