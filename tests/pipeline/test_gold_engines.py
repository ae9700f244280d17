"""The Gold engines benchmark: bad input refused in one line, exit 2, before Spark starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_programs import load_benchmark


def _warehouse(kind: str, root: Path) -> str:
    """A warehouse argument: missing, remote, empty, or with a Silver table but no run log."""
    if kind == "missing":
        return str(root / "no-such-warehouse")
    if kind == "remote":
        return "s3a://bucket/warehouse"
    if kind == "silver without run log":
        (root / "silver" / "orders" / "_delta_log").mkdir(parents=True)
    return str(root)


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        ("missing", [], "no-such-warehouse: no such warehouse folder"),
        ("remote", [], "s3a://bucket/warehouse: DuckDB's Gold reads local warehouses only"),
        ("empty", [], "no Silver Delta table"),
        ("silver without run log", [], "no run log"),
        ("silver without run log", ["--repeats", "0"], "--repeats 0: must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    kind: str, extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--warehouse", _warehouse(kind, tmp_path), *extra]
    assert load_benchmark("gold_engines").main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gold_engines: error: ") and message in err[0]
