"""The deletion-vector benchmark program: bad input refused before Spark starts, and a tiny run
that writes a well-formed record (its figures at 1M records are in docs/pipeline.md)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from benchmark_programs import load_benchmark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _bench() -> ModuleType:
    return load_benchmark("dv_bench")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--records", "-5"], "--records"),
        (["--records", "lots"], "--records: 'lots' is not a record count"),
        (["--repeats", "0"], "--repeats 0: must be at least 1"),
        (["--config", "no-such.toml"], "no-such.toml: config file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bench().main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dv_bench: error: ") and message in err[0]


@pytest.mark.slow
def test_tiny_run_writes_a_record_with_both_settings(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the program's scratch folder is ./data
    results = tmp_path / "results"
    config = tmp_path / "lakelab.toml"
    config.write_text(f'[paths]\nresults = "{results}"\n', encoding="utf-8")
    assert _bench().main(["--records", "1000", "--repeats", "1", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "deletion vectors off: Silver" in out and "deletion vectors on: Silver" in out
    (path,) = results.glob("dv_benchmark-*.json")
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["kind"] == "dv_benchmark" and record["seed"] == 42
    payload = record["payload"]
    assert payload["records"] == 1000 and payload["repeats"] == 1
    off, on = payload["results"]
    assert (off["deletion_vectors"], off["is_baseline"], on["deletion_vectors"]) == (False, True, True)
    assert off["ratio_silver_seconds"] == 1.0 and on["ratio_silver_seconds"] > 0
    # The same input, so the same rows; only the setting that writes vectors writes any.
    assert on["silver_rows_out"] == off["silver_rows_out"] > 0
    assert off["merge_vectors_added"] == 0 < on["merge_vectors_added"]
    assert list(tmp_path.joinpath("data").iterdir()) == []  # the scratch warehouses are gone
