"""`process_tree_rss`: a sample of a process tree's memory that never fails on a process
that ended or that this user may not read."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil
import pytest

from lakelab.memory import process_tree_rss


@dataclass
class _FakeProcess:
    """A process whose memory and children are given, or whose reads raise."""

    rss: int | Exception
    kids: list[_FakeProcess] | Exception = field(default_factory=list)

    def memory_info(self) -> object:
        if isinstance(self.rss, Exception):
            raise self.rss
        return type("MemoryInfo", (), {"rss": self.rss})()

    def children(self, recursive: bool = False) -> list[_FakeProcess]:
        assert recursive
        if isinstance(self.kids, Exception):
            raise self.kids
        return self.kids


def _with_root(monkeypatch: pytest.MonkeyPatch, root: _FakeProcess | Exception) -> None:
    def process(pid: int | None = None) -> _FakeProcess:
        if isinstance(root, Exception):
            raise root
        return root

    monkeypatch.setattr(psutil, "Process", process)


def test_this_process_has_resident_memory() -> None:
    own, below = process_tree_rss(os.getpid())
    assert own > 0
    assert below >= 0


def test_children_are_summed_and_an_unreadable_child_counts_as_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    kids = [_FakeProcess(300), _FakeProcess(psutil.AccessDenied(7)), _FakeProcess(psutil.NoSuchProcess(8))]
    _with_root(monkeypatch, _FakeProcess(1_000, kids))
    assert process_tree_rss(1) == (1_000, 300)


@pytest.mark.parametrize("error", [psutil.AccessDenied(1), psutil.NoSuchProcess(1)])
def test_a_root_that_cannot_be_opened_counts_as_zero(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    _with_root(monkeypatch, error)
    assert process_tree_rss(1) == (0, 0)


def test_a_root_whose_memory_is_denied_still_sums_its_children(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_root(monkeypatch, _FakeProcess(psutil.AccessDenied(1), [_FakeProcess(200), _FakeProcess(50)]))
    assert process_tree_rss(1) == (0, 250)


def test_a_root_whose_children_are_denied_still_gives_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_root(monkeypatch, _FakeProcess(1_000, psutil.AccessDenied(1)))
    assert process_tree_rss(1) == (1_000, 0)


def test_a_root_that_ends_while_read_counts_as_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = psutil.NoSuchProcess(1)
    _with_root(monkeypatch, _FakeProcess(gone, gone))
    assert process_tree_rss(1) == (0, 0)
