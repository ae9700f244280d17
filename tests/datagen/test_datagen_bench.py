"""The benchmark program runs on tiny input and writes a well-formed record (no speed asserted)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from benchmark_programs import load_benchmark

from lakelab.records import API_VERSION, read_records
from lakelab.sources import ORDERS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _bench() -> ModuleType:
    return load_benchmark("datagen_bench")


def test_dbldatagen_orders_have_the_contract_columns(spark: SparkSession) -> None:
    frame = _bench().dbldatagen_orders(spark, rows=200, customers=20, seed=1)
    assert [(f.name, f.dataType.simpleString()) for f in frame.schema.fields] == [
        (f.name, f.dataType.simpleString()) for f in ORDERS.spark_schema().fields
    ]
    rows = frame.collect()
    assert len(rows) == 200 and {r["ORDER_ID"] for r in rows} == set(range(1, 201))
    assert all(1 <= r["CUSTOMER_ID"] <= 20 for r in rows)


@pytest.mark.slow
def test_bench_writes_a_well_formed_record(spark: SparkSession, tmp_path: Path) -> None:
    args = ["--scales", "1k", "--repeats", "1", "--faker-rows", "50", "--warmup-records", "0"]
    code = _bench().main(
        [*args, "--scratch", str(tmp_path / "scratch"), "--results", str(tmp_path / "results")]
    )
    assert code == 0
    (record,) = read_records(tmp_path / "results", kind="datagen_benchmark")
    assert record["api_version"] == API_VERSION and record["seed"] == 42
    payload = record["payload"]
    assert payload["faker_accounts_rows_per_second"] > 0
    (scale,) = payload["scales"]
    assert scale["records"] == 1_000
    assert scale["generate"]["rows"] >= 1_000 and set(scale["generate"]["tables"]) >= {"crm.account"}
    assert scale["orders"]["ours_rows_per_second"] > 0 and scale["orders"]["dbldatagen_rows_per_second"] > 0
    noop = scale["orders"]["noop"]
    assert noop["ours_rows_per_second"] > 0 and noop["dbldatagen_rows_per_second"] > 0
    ratio = noop["ours_rows_per_second"] / noop["dbldatagen_rows_per_second"]
    assert abs(noop["ratio"] - ratio) <= 0.01
    orders = scale["orders"]
    with_write, without = orders["ours_rows_per_second"], noop["ours_rows_per_second"]
    write = orders["rows"] / with_write - orders["rows"] / without
    # Rows/s are recorded rounded to whole rows (±0.5), seconds to 3 decimals: the derived
    # write time can be off by up to rows × 0.5 / rate² per rate (more, the slower the machine).
    rounding = orders["rows"] * 0.5 * (1 / (with_write - 0.5) ** 2 + 1 / (without - 0.5) ** 2) + 0.0005
    assert orders["parquet_write_seconds"] == pytest.approx(write, abs=rounding)
    assert scale["peak_rss_bytes"]["process_tree"] >= scale["peak_rss_bytes"]["python"] > 0
    assert not (tmp_path / "scratch").exists()


def test_bad_scales_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench().main(["--scales", "0"]) == 2
    assert "--records" in capsys.readouterr().err
