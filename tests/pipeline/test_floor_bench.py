"""The I/O floor benchmark: bad input refused before Spark starts, and a tiny run whose record
holds every source table with the rows its raw reader sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pipeline_landing as pl
import pytest
from benchmark_programs import load_benchmark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--landing", "no-such-landing"], "no-such-landing: not a lakelab landing"),
        (["--landing", ".", "--repeats", "0"], "--repeats 0: must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_benchmark("floor_bench").main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("floor_bench: error: ") and message in err[0]


@pytest.mark.slow
def test_tiny_run_writes_every_table_with_its_rows(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelab.sources import SOURCE_TABLES

    bench = load_benchmark("floor_bench")
    landing = tmp_path / "landing"
    pl.write_batch(landing, 0)  # the hand-built landing: every table, every file format
    monkeypatch.chdir(tmp_path)  # the program's scratch folder is ./data
    results = tmp_path / "results"
    config = tmp_path / "lakelab.toml"
    config.write_text(f'[paths]\nresults = "{results}"\n', encoding="utf-8")
    assert bench.main(["--landing", str(landing), "--repeats", "1", "--config", str(config)]) == 0
    (path,) = results.glob("floor_benchmark-*.json")
    payload = json.loads(path.read_text(encoding="utf-8"))["payload"]
    assert payload["records"] == 38 and len(payload["seconds"]) == 1
    expected = {t.qualified_name: bench.read_raw(spark, t, str(landing)).count() for t in SOURCE_TABLES}
    assert {name: table["rows"] for name, table in payload["tables"].items()} == expected
    assert all(rows > 0 for rows in expected.values())
    assert list((tmp_path / "data").iterdir()) == []  # the scratch warehouses are gone
