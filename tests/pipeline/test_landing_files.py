"""Damaged and foreign files in a landing batch: set aside whole, named, the rest ingested.

The hand-built landing's batch 0, plus four files a messy source delivers beside the good
ones: a truncated Parquet unload, a gzip CSV cut short mid-stream, a Parquet file named
`.json`, a valid CSV (CRLF, a BOM) whose quoted field holds a newline (RFC 4180), an
empty CSV unload, and a JSON-lines file with CRLF ends and a CR inside a record.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import pipeline_config
from pipeline_landing import LANDING_ROWS, ORDER_LINES_HEADER, contact, write_landing

from pipeline import io
from pipeline.contracts import QUARANTINE, QUARANTINED_FILES, RUN_LOG, contract
from pipeline.io import format_problem
from pipeline.result import PipelineRunResult
from pipeline.run import run_pipeline

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

B0 = "batch=0000"
# Three records; the second's UNIT_PRICE holds a quoted newline, so it is one record (a
# type mismatch), not two malformed fragments. CRLF line ends and a UTF-8 BOM, as Windows
# tools and Snowflake unloads write them.
QUOTED_NEWLINE_CSV = (
    "\ufeff"
    + ",".join(ORDER_LINES_HEADER)
    + "\r\n"
    + "200,1,10,1,10.00,10.00,2024-03-01 12:00:00\r\n"
    + '201,1,10,1,"10.\r\n00",10.00,2024-03-01 12:00:00\r\n'
    + "202,1,10,2,10.00,20.00,2024-03-01 12:00:00\r\n"
)


@pytest.mark.parametrize(
    ("head", "tail", "size", "file_format", "expected"),
    [
        (b"PAR1\x15\x04", b"PAR1", 900, "parquet", None),
        (b"PAR1\x15\x04", b"\x00\x01\x02\x03", 900, "parquet", "no PAR1 magic at tail"),
        (b'{"Id": 1}', b"", 9, "parquet", "no PAR1 magic at head"),
        (b"PAR1", b"PAR1", 8, "parquet", "not a Parquet file (8 bytes"),
        (b"\x1f\x8b\x08", b"", 40, "csv.gz", None),
        (b"ORDER_ID,LINE", b"", 40, "csv.gz", "not a gzip file"),
        (b"", b"", 0, "csv.gz", None),
        (b'{"Id": "A1"}\n', b"", 13, "json", None),
        (b"PAR1\x15", b"", 900, "json", "a Parquet file"),
        (b"\x1f\x8b\x08", b"", 40, "json", "gzip-compressed"),
        (b'{"a": 1}\x00\x00', b"", 10, "json", "NUL byte at offset 8"),
    ],
)
def test_format_problem_reads_the_bytes_a_reader_trips_on(
    head: bytes, tail: bytes, size: int, file_format: str, expected: str | None
) -> None:
    problem = format_problem(head, tail, size, file_format)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def _damage(landing: Path) -> dict[str, str]:
    """Add the four files; returns table → the added bad file's name."""
    orders = landing / "snowflake/orders" / B0
    good = (orders / "part-00000.parquet").read_bytes()
    (orders / "part-00001.parquet").write_bytes(good[: len(good) // 2])
    lines = landing / "snowflake/order_lines" / B0
    whole = gzip.compress(
        ("\n".join([",".join(ORDER_LINES_HEADER)] + ["300,1,10,1,1.00,1.00,x"] * 5000)).encode()
    )
    (lines / "part-00001.csv.gz").write_bytes(whole[: len(whole) - 200])
    (lines / "part-00002.csv.gz").write_bytes(gzip.compress(QUOTED_NEWLINE_CSV.encode("utf-8")))
    # An empty unload: no records, not a damaged file.
    (lines / "part-00003.csv.gz").write_bytes(b"")
    # CRLF line ends, and a CR between two members of one record (JSON whitespace).
    crlf = json.dumps(contact("C7", "A1", "c7@example.com", None)).replace(', "FirstName"', ',\r"FirstName"')
    (landing / "crm/contact" / B0 / "part-00001.json").write_bytes(f"{crlf}\r\n\r\n".encode())
    campaign = landing / "crm/campaign" / B0
    pq.write_table(pq.read_table(orders / "part-00000.parquet"), campaign / "part-00001.json")
    return {
        "snowflake_orders": "part-00001.parquet",
        "snowflake_order_lines": "part-00001.csv.gz",
        "crm_campaign": "part-00001.json",
    }


@pytest.fixture(scope="module")
def damaged_run(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str], PipelineRunResult, list[str]]:
    root = tmp_path_factory.mktemp("damaged")
    landing = write_landing(root / "landing", batches=1)
    bad = _damage(landing)
    warehouse = str(root / "warehouse")
    lines: list[str] = []
    result = run_pipeline(spark, pipeline_config(), str(landing), warehouse, ["bronze"], lines.append)
    return warehouse, bad, result, lines


def test_damaged_files_are_set_aside_whole_and_named(
    spark: SparkSession, damaged_run: tuple[str, dict[str, str], PipelineRunResult, list[str]]
) -> None:
    warehouse, bad, result, lines = damaged_run
    assert result.reconciled
    rows = io.read_table(spark, QUARANTINED_FILES.path(warehouse)).collect()
    by_table = {r["table_name"]: r for r in rows}
    assert sorted(by_table) == sorted(bad)
    for table, name in bad.items():
        row = by_table[table]
        assert row["source_file"].endswith(f"/{B0}/{name}") and row["batch_id"] == 0
        assert row["size_bytes"] > 0 and row["layer"] == "bronze"
        # The console names the file too, in one line.
        assert any(name in line and "set aside" in line and table in line for line in lines), lines
    assert "no PAR1 magic at tail" in by_table["snowflake_orders"]["reason"]
    assert "a Parquet file" in by_table["crm_campaign"]["reason"]
    assert by_table["snowflake_order_lines"]["reason"].startswith("unreadable: ")


def test_the_rest_of_the_batch_is_ingested_and_reconciled(
    spark: SparkSession, damaged_run: tuple[str, dict[str, str], PipelineRunResult, list[str]]
) -> None:
    warehouse, _bad, result, _lines = damaged_run
    stages = {s.table: s for s in result.stages if s.layer == "bronze"}
    # The good files' rows, exactly: the damaged files add none.
    assert stages["snowflake_orders"].rows_in == LANDING_ROWS[("snowflake.orders", 0)]
    assert stages["crm_campaign"].rows_in == LANDING_ROWS[("crm.campaign", 0)]
    # The record with a CR inside is one record, ingested (the blank CRLF line is no record).
    assert stages["crm_contact"].rows_in == LANDING_ROWS[("crm.contact", 0)] + 1
    contacts = io.read_table(spark, contract("bronze.crm_contact").path(warehouse))
    assert [r["FirstName"] for r in contacts.where("Id = 'C7'").collect()] == ["Pat"]
    # The quoted-newline CSV is three records: two accepted, one quarantined (type mismatch).
    lines_stage = stages["snowflake_order_lines"]
    assert lines_stage.rows_in == LANDING_ROWS[("snowflake.order_lines", 0)] + 3
    assert "1 file(s) quarantined" in lines_stage.detail
    quarantine = io.read_table(spark, QUARANTINE.path(warehouse))
    mine = quarantine.where("table_name = 'snowflake_order_lines' AND source_file LIKE '%part-00002.csv.gz'")
    reasons = [r["reason"] for r in mine.collect()]
    assert len(reasons) == 1 and "UNIT_PRICE" in reasons[0], reasons
    logged = io.read_table(spark, RUN_LOG.path(warehouse)).where("layer = 'bronze'").collect()
    assert all(r["reconciled"] for r in logged if r["table_name"] != "(layer commit)")


def test_a_rerun_records_no_file_twice(
    spark: SparkSession,
    damaged_run: tuple[str, dict[str, str], PipelineRunResult, list[str]],
    tmp_path: Path,
) -> None:
    warehouse, bad, _result, _lines = damaged_run
    # Forget the ledger, as a run killed after the file commit but before its run log would.
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, RUN_LOG.path(warehouse)).delete("layer = 'bronze'")
    landing = str(Path(warehouse).parent / "landing")
    again = run_pipeline(spark, pipeline_config(), landing, warehouse, ["bronze"], lambda _l: None)
    assert again.reconciled
    assert io.read_table(spark, QUARANTINED_FILES.path(warehouse)).count() == len(bad)


def test_a_file_gone_mid_read_fails_the_read_instead_of_being_set_aside(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A read that fails for the environment (here the file vanished after listing; in the
    lab a store that stopped answering) is raised: setting a good file aside as "unreadable"
    would quarantine it for good once the store answered again."""
    from lakelab.sources import source_table

    landing = write_landing(tmp_path / "landing", batches=1)
    for name in ("crm.contact", "snowflake.order_lines"):
        source = source_table(name)
        files = io.landing_files(spark, source, str(landing), [0])
        assert files, name
        # Read alone, a present file passes: the check itself is sound.
        assert io.unreadable_files(spark, source, files) == []
        Path(files[0].path.removeprefix("file:")).unlink()
        with pytest.raises(Exception, match=r"FileNotFound|PATH_NOT_FOUND") as raised:
            io.unreadable_files(spark, source, files)
        from cluster.failures import environment_failure

        assert environment_failure(raised.value) is not None
    gone = io.LandingFile(str(landing / "snowflake/order_lines" / B0 / "gone.csv.gz"), 0, 10)
    with pytest.raises(Exception, match="FileNotFound") as header_error:
        io.csv_header(spark, gone)
    assert not isinstance(header_error.value, ValueError)  # ValueError would set the file aside
