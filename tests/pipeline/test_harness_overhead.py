"""The harness-overhead benchmark: bad input refused before Spark starts, and a tiny Bronze-only
run whose record holds both sides' runs in ABBA order."""

from __future__ import annotations

import json
from pathlib import Path

import pipeline_landing as pl
import pytest
from benchmark_programs import load_benchmark


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--landing", "no-such-landing"], "no-such-landing: not a lakelab landing"),
        (["--landing", ".", "--repeats", "0"], "--repeats 0: must be at least 1"),
        (["--landing", ".", "--warmup", "-1"], "--warmup -1: must be 0 or more"),
        (["--landing", ".", "--layers", "silver"], "--layers 'silver': layers from bronze"),
        (["--landing", ".", "--layers", "bronze,platinum"], "layers from bronze"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_benchmark("harness_overhead").main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness_overhead: error: ") and message in err[0]


def test_runs_alternate_so_each_side_goes_first_equally() -> None:
    order = load_benchmark("harness_overhead").order
    assert order(1) == ["plain", "measured"]
    assert order(4) == ["plain", "measured", "measured", "plain"] * 2


@pytest.mark.slow
def test_tiny_run_records_both_sides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    landing = tmp_path / "landing"
    pl.write_batch(landing, 0)
    monkeypatch.chdir(tmp_path)  # the program's scratch warehouses go under ./data
    results = tmp_path / "results"
    config = tmp_path / "lakelab.toml"
    config.write_text(f'[paths]\nresults = "{results}"\n', encoding="utf-8")
    bench = load_benchmark("harness_overhead")
    args = ["--landing", str(landing), "--repeats", "1", "--layers", "bronze", "--warmup", "0"]
    assert bench.main([*args, "--config", str(config)]) == 0
    (path,) = results.glob("harness_overhead_benchmark-*.json")
    payload = json.loads(path.read_text(encoding="utf-8"))["payload"]
    assert payload["order"] == ["plain", "measured"]
    assert [len(payload["seconds"][side]) for side in ("plain", "measured")] == [1, 1]
    assert all(s > 0 for side in ("plain", "measured") for s in payload["seconds"][side])
    # One run a side establishes nothing, and says so.
    assert payload["verdict"] == "not established" and payload["interval_95"] == [None, None]
    assert payload["goal_met"] is False
    assert list((tmp_path / "data").iterdir()) == []
