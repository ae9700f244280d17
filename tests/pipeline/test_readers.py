"""Every table a pipeline run writes reads alike with the tools analysts use: delta-rs and DuckDB.

A real run over the hand-built landing (batch 0, then batch 1, whose MERGEs update Silver
rows) is read table by table by Spark, by delta-rs (`deltalake`) and by DuckDB's delta
extension, and each reading is reduced to a row count and a checksum: the sum of a hash of
every row's canonical text (columns in name order, timestamps in UTC), so the readers'
different Arrow types for the same value do not matter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from pipeline_helpers import IncrementalRuns

from pipeline.contracts import ALL_CONTRACTS, QUALITY_RESULTS, QUARANTINE, RUN_LOG, TableContract

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

DELETION_VECTORS = "deletionVectors"
# Every table the hand-built landing's two runs must write rows to (`_ops/quarantined_files`
# holds whole files set aside, which this landing has none of: it may exist, empty).
WRITTEN = {t.qualified_name for t in ALL_CONTRACTS if t.layer != "ops"} | {
    t.qualified_name for t in (QUARANTINE, QUALITY_RESULTS, RUN_LOG)
}


def canonical(value: Any) -> str:
    """One value as text that every reader's Arrow type for it maps to alike."""
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return utc.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{canonical(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


def fingerprint(table: pa.Table) -> tuple[int, int]:
    """(rows, checksum): the sum, modulo 2**64, of a SHA-256 prefix of every row's canonical text."""
    columns = sorted(table.column_names)
    checksum = 0
    for row in table.select(columns).to_pylist():
        text = "\x1f".join(f"{c}={canonical(row[c])}" for c in columns)
        checksum += int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return table.num_rows, checksum % 2**64


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with the bundled delta extension loaded (no download), in UTC."""
    from harness.duckdb_gold import connect

    connection = connect()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def spark_fingerprints(spark: SparkSession, incremental_runs: IncrementalRuns) -> dict[str, tuple[int, int]]:
    """Spark's reading of every table the run wrote: the reference."""
    from pipeline import io

    return {
        t.qualified_name: fingerprint(io.read_table(spark, t.path(incremental_runs.warehouse)).toArrow())
        for t in ALL_CONTRACTS
        if io.is_delta_table(spark, t.path(incremental_runs.warehouse))
    }


def _delta_rs_table(path: str, _duck: Any) -> pa.Table:
    from deltalake import DeltaTable

    return DeltaTable(path).to_pyarrow_table()


def _delta_rs_scan(path: str, _duck: Any) -> pa.Table:
    from deltalake import DeltaTable

    # `scan()` returns an arro3 reader; pyarrow takes it through the Arrow C stream interface.
    return pa.table(DeltaTable(path).scan())


def _duckdb_delta_scan(path: str, duck: duckdb.DuckDBPyConnection) -> pa.Table:
    return duck.execute(f"SELECT * FROM delta_scan('{path}')").to_arrow_table()


def _duckdb_over_arrow(path: str, duck: duckdb.DuckDBPyConnection) -> pa.Table:
    from deltalake import DeltaTable

    dataset = DeltaTable(path).to_pyarrow_dataset()  # noqa: F841 (DuckDB finds it by name)
    return duck.execute("SELECT * FROM dataset").to_arrow_table()


READERS: dict[str, Callable[[str, Any], pa.Table]] = {
    "deltalake.DeltaTable.to_pyarrow_table": _delta_rs_table,
    "deltalake.DeltaTable.scan": _delta_rs_scan,
    "duckdb.delta_scan": _duckdb_delta_scan,
    "duckdb over deltalake.DeltaTable.to_pyarrow_dataset": _duckdb_over_arrow,
}

# delta-rs 1.6.6 applies deletion vectors in `scan()` only: its pyarrow calls refuse such a table.
REFUSE_DELETION_VECTORS = {
    "deltalake.DeltaTable.to_pyarrow_table",
    "duckdb over deltalake.DeltaTable.to_pyarrow_dataset",
}


def _contract(qualified_name: str) -> TableContract:
    return next(t for t in ALL_CONTRACTS if t.qualified_name == qualified_name)


def test_the_run_wrote_every_table(spark_fingerprints: dict[str, tuple[int, int]]) -> None:
    assert set(spark_fingerprints) >= WRITTEN
    assert all(spark_fingerprints[table][0] > 0 for table in WRITTEN)


def test_only_silver_tables_carry_deletion_vectors(incremental_runs: IncrementalRuns) -> None:
    from deltalake import DeltaTable

    with_vectors = {
        t.qualified_name
        for t in ALL_CONTRACTS
        if t.qualified_name in WRITTEN
        and DELETION_VECTORS
        in (DeltaTable(t.path(incremental_runs.warehouse)).protocol().reader_features or [])
    }
    assert with_vectors == {t.qualified_name for t in ALL_CONTRACTS if t.layer == "silver"}


def test_silver_merges_wrote_deletion_vectors(incremental_runs: IncrementalRuns) -> None:
    """The readers below read Silver tables whose rows were really marked deleted, not rewritten."""
    from deltalake import DeltaTable

    vectors = {}
    for name in ("account", "products", "orders"):
        history = DeltaTable(_contract(f"silver.{name}").path(incremental_runs.warehouse)).history()
        vectors[name] = sum(
            int(commit["operationMetrics"].get("numTargetDeletionVectorsAdded", 0))
            for commit in history
            if commit["operation"] == "MERGE"
        )
    # Batch 1 updates account A2, product 11 and order 101 (see pipeline_landing): each MERGE
    # marks the replaced row in its file with a deletion vector.
    assert vectors == {"account": 1, "products": 1, "orders": 1}


@pytest.mark.parametrize("reader", list(READERS))
def test_reader_matches_spark_on_every_table(
    reader: str,
    incremental_runs: IncrementalRuns,
    spark_fingerprints: dict[str, tuple[int, int]],
    duck: duckdb.DuckDBPyConnection,
) -> None:
    from deltalake.exceptions import DeltaProtocolError

    refuses_silver = reader in REFUSE_DELETION_VECTORS
    read, refused = {}, []
    for table in spark_fingerprints:
        path = _contract(table).path(incremental_runs.warehouse)
        if refuses_silver and _contract(table).layer == "silver":
            with pytest.raises(DeltaProtocolError, match=DELETION_VECTORS):
                READERS[reader](path, duck)
            refused.append(table)
        else:
            read[table] = fingerprint(READERS[reader](path, duck))
    assert read == {t: f for t, f in spark_fingerprints.items() if t not in refused}
    assert len(refused) == (9 if refuses_silver else 0)


def _legacy_table(spark: SparkSession, warehouse: str, layer: str) -> TableContract:
    """A table as lakelab wrote them before issue 11: deletion vectors on, and one in use."""
    table = TableContract(layer, "legacy", "", ())  # type: ignore[arg-type]
    path = table.path(warehouse)
    spark.sql(
        f"CREATE TABLE delta.`{path}` (id BIGINT, label STRING) USING delta "
        "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"
    )
    rows = spark.range(10).selectExpr("id", "concat('row ', id) AS label").coalesce(1)
    rows.write.format("delta").mode("append").save(path)
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id % 3 = 0")  # marks rows 0, 3, 6, 9 in a vector
    return table


def test_maintain_drops_deletion_vectors_only_where_the_config_does_not_want_them(
    spark: SparkSession, tmp_path: Any
) -> None:
    from deltalake import DeltaTable

    from pipeline.config import PipelineConfig
    from pipeline.maintain import drop_unwanted_deletion_vectors

    warehouse = str(tmp_path)
    gold, silver = (_legacy_table(spark, warehouse, layer) for layer in ("gold", "silver"))
    config = PipelineConfig(deletion_vectors=True)
    assert drop_unwanted_deletion_vectors(spark, gold, warehouse, config)
    assert not drop_unwanted_deletion_vectors(spark, gold, warehouse, config)  # nothing left to drop
    assert not drop_unwanted_deletion_vectors(spark, silver, warehouse, config)
    readable = DeltaTable(gold.path(warehouse))
    assert DELETION_VECTORS not in (readable.protocol().reader_features or [])
    assert sorted(readable.to_pyarrow_table()["id"].to_pylist()) == [1, 2, 4, 5, 7, 8]
    assert DELETION_VECTORS in (DeltaTable(silver.path(warehouse)).protocol().reader_features or [])
    # With deletion vectors off in the config, Silver's go too.
    assert drop_unwanted_deletion_vectors(spark, silver, warehouse, PipelineConfig(deletion_vectors=False))
    silver_ids = DeltaTable(silver.path(warehouse)).to_pyarrow_table()["id"].to_pylist()
    assert sorted(silver_ids) == [1, 2, 4, 5, 7, 8]


@pytest.fixture(scope="module")
def spark_gold(spark: SparkSession, incremental_runs: IncrementalRuns) -> dict[str, pa.Table]:
    """Spark's Gold tables, read back."""
    from pipeline import io
    from pipeline.contracts import GOLD

    return {t.name: io.read_table(spark, t.path(incremental_runs.warehouse)).toArrow() for t in GOLD}


def _arrow_type(type_: pa.DataType) -> pa.DataType:
    """Spark's and DuckDB's Arrow spellings of one SQL type made alike (large_string is string)."""
    return pa.string() if pa.types.is_large_string(type_) else type_


def test_duckdb_builds_the_same_gold_as_spark(
    incremental_runs: IncrementalRuns, spark_gold: dict[str, pa.Table], duck: duckdb.DuckDBPyConnection
) -> None:
    """DuckDB's SQL over the same Silver Delta tables gives Spark's Gold, row for row: every
    column exactly (decimals to the cent, dates, NULLs), but `attributed_orders`, a sum of
    doubles each engine adds in its own order, within 1e-9 (`harness.duckdb_gold.differences`)."""
    from harness.duckdb_gold import ATTRIBUTABLE_REVENUE, build_gold, differences
    from pipeline.contracts import GOLD

    built = build_gold(incremental_runs.warehouse, duck)
    assert list(built.tables) == [t.name for t in GOLD] + [ATTRIBUTABLE_REVENUE]
    assert set(built.seconds) == set(built.tables) and all(s >= 0 for s in built.seconds.values())
    for name, reference in spark_gold.items():
        assert reference.num_rows > 0, name  # a comparison of two empty tables would prove nothing
        candidate = built.tables[name]
        assert [(f.name, _arrow_type(f.type)) for f in candidate.schema] == [
            (f.name, _arrow_type(f.type)) for f in reference.schema
        ], name
        assert differences(name, reference, candidate) == []
    # Spark does not write the attributable revenue; its conservation check reports the totals.
    attributable = built.tables[ATTRIBUTABLE_REVENUE].to_pylist()
    orders = sum(row["attributable_orders"] for row in attributable)
    cents = sum(row["attributable_cents"] for row in attributable)
    (stage,) = [s for s in incremental_runs.second.stages if s.table == "revenue_attribution"]
    assert stage.detail == f"revenue conserved: {orders:,} orders, {cents / 100:,.2f} USD attributable"
    # And DuckDB's attribution conserves it: every model and dimension sums to it, month by month.
    by_month = {row["month"]: row["attributable_cents"] for row in attributable}
    attributed: dict[tuple[str, str, dt.date], int] = {}
    for row in built.tables["revenue_attribution"].to_pylist():
        group = (row["model"], row["dimension"], row["month"])
        attributed[group] = attributed.get(group, 0) + int(row["attributed_revenue_usd"] * 100)
    assert attributed and all(cents == by_month[month] for (_, _, month), cents in attributed.items())
    assert {month for _, _, month in attributed} == set(by_month)


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [(201, 2, 101), (-201, 2, -101), (199, 2, 100), (200, 3, 67), (100, 3, 33), (0, 7, 0)],
)
def test_duckdb_rounds_quotients_half_up_as_spark_decimals(
    numerator: int, denominator: int, quotient: int, duck: duckdb.DuckDBPyConnection
) -> None:
    """2.01 USD over 2 orders is 1.01 in Spark (decimal, HALF_UP); a DuckDB double would say 1.00."""
    from harness.duckdb_gold import half_up_quotient

    sql = half_up_quotient(f"CAST({numerator} AS HUGEINT)", f"CAST({denominator} AS BIGINT)")
    assert duck.execute(f"SELECT {sql}").fetchone() == (quotient,)
