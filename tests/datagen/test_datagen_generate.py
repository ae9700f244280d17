"""End to end at a tiny scale: what lands matches the plan, the contract and the manifest."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from datagen_landing_reader import LandedRow, key_of, read_landing, read_manifest

from datagen.config import DatagenConfig
from datagen.generate import GenerationSummary, generate
from datagen.plan import DRIFT_COLUMN, DatasetPlan, plan_dataset
from lakelab.sources import BATCH_MARKERS, DATASET_MARKER, SOURCE_TABLES, DirtyKind, source_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONFIG = DatagenConfig(records=2_000, seed=7, dirty_rate=0.05, batches=1)


@pytest.fixture(scope="module")
def generated(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, GenerationSummary]:
    landing = tmp_path_factory.mktemp("landing") / "lake"
    lines: list[str] = []
    summary = generate(spark, CONFIG, str(landing), progress=lines.append)
    assert any("crm.account" in line for line in lines)
    return landing, summary


@pytest.fixture(scope="module")
def landed(generated: tuple[Path, GenerationSummary]) -> dict[str, list[LandedRow]]:
    return read_landing(generated[0])


@pytest.fixture(scope="module")
def manifest(generated: tuple[Path, GenerationSummary]) -> list[dict[str, Any]]:
    return read_manifest(generated[0])


PLAN: DatasetPlan = plan_dataset(CONFIG)


def test_row_counts_match_the_plan(
    generated: tuple[Path, GenerationSummary], landed: dict[str, list[LandedRow]]
) -> None:
    _, summary = generated
    for table in PLAN.tables:
        per_batch = Counter(row.batch for row in landed[table.name])
        expected = {b.batch: table.landed_rows(b.batch) for b in table.batches}
        assert dict(per_batch) == expected, table.name
    assert {t.table: t.rows for t in summary.tables} == {t.name: t.total_landed_rows for t in PLAN.tables}
    assert sum(t.rows for t in PLAN.tables) == CONFIG.records
    assert all(t.bytes > 0 for t in summary.tables)


def test_markers_say_complete_and_name_the_options(generated: tuple[Path, GenerationSummary]) -> None:
    landing, _ = generated
    marker = json.loads((landing / DATASET_MARKER).read_text())
    assert marker["complete"] is True
    assert (marker["seed"], marker["records"], marker["batches"]) == (7, 2_000, 1)
    assert marker["tables"]["snowflake.orders"]["rows"] == PLAN.table("snowflake.orders").total_landed_rows
    for batch in (0, 1):
        assert json.loads((landing / BATCH_MARKERS / f"{batch:04d}.json").read_text())["batch"] == batch


def test_fields_and_types_follow_the_contract(landed: dict[str, list[LandedRow]]) -> None:
    for table in SOURCE_TABLES:
        expected = [f.name for f in table.fields]
        for row in landed[table.qualified_name]:
            if row.parsed is None:
                continue
            extra = [DRIFT_COLUMN] if table.qualified_name == "crm.account" and row.batch == 1 else []
            assert list(row.parsed) == expected + extra, table.qualified_name
    order = next(r.parsed for r in landed["snowflake.orders"] if r.parsed and r.parsed["ORDER_TS"])
    assert isinstance(order["ORDER_TS"], dt.datetime)
    assert isinstance(order["ORDER_ID"], int)
    account = next(r.parsed for r in landed["crm.account"] if r.parsed and r.parsed["AnnualRevenue"])
    assert isinstance(account["NumberOfEmployees"], int)
    assert account["CreatedDate"].endswith("+0000") and account["Id"].startswith("001")
    assert len(account["Id"]) == 18


def _dirty_keys(manifest: list[dict[str, Any]], table: str, kind: DirtyKind) -> set[str]:
    return {e["key"] for e in manifest if e["table"] == table and e["kind"] == kind.value}


def _parent_keys(landed: dict[str, list[LandedRow]], manifest: list[dict[str, Any]], table: str) -> set[str]:
    spec = source_table(table)
    keys = {key_of(spec, r.parsed) for r in landed[table] if r.parsed}
    # Malformed lines still delivered the key; the manifest remembers it.
    return keys | _dirty_keys(manifest, table, DirtyKind.MALFORMED_JSON)


def test_clean_rows_keep_referential_integrity(
    landed: dict[str, list[LandedRow]], manifest: list[dict[str, Any]]
) -> None:
    checked = 0
    for table in SOURCE_TABLES:
        unknown = _dirty_keys(manifest, table.qualified_name, DirtyKind.UNKNOWN_FOREIGN_KEY)
        for fk in table.foreign_keys:
            parents = _parent_keys(landed, manifest, f"{table.system}.{fk.ref_table}")
            for row in landed[table.qualified_name]:
                if row.parsed is None or row.parsed[fk.column] is None:
                    continue
                if key_of(table, row.parsed) in unknown:
                    continue  # its planted row is checked against the manifest below
                assert str(row.parsed[fk.column]) in parents, (table.qualified_name, fk.column)
                checked += 1
    assert checked > 1_000


def test_most_customers_and_orders_map_to_crm_accounts(landed: dict[str, list[LandedRow]]) -> None:
    external = {
        r.parsed["External_Id__c"] for r in landed["crm.account"] if r.parsed and r.parsed["External_Id__c"]
    }
    customers = [r.parsed for r in landed["snowflake.customers"] if r.parsed]
    mapped = {c["CUSTOMER_ID"] for c in customers if c["CRM_ACCOUNT_EXTERNAL_ID"] in external}
    assert 0.5 < len(mapped) / len(customers) < 0.95  # most, not all
    orders = [r.parsed for r in landed["snowflake.orders"] if r.parsed]
    share = sum(o["CUSTOMER_ID"] in mapped for o in orders) / len(orders)
    assert share > 0.5
    # Skew: the busiest tenth of customers places far more than a tenth of the orders.
    per_customer = Counter(o["CUSTOMER_ID"] for o in orders).most_common()
    top = per_customer[: max(1, len(customers) // 10)]
    assert sum(n for _, n in top) / len(orders) > 0.3


def test_every_dirty_kind_is_in_the_manifest(manifest: list[dict[str, Any]]) -> None:
    assert {e["kind"] for e in manifest} == {kind.value for kind in DirtyKind}
    drift = [e for e in manifest if e["kind"] == DirtyKind.SCHEMA_DRIFT.value]
    assert drift == [
        {
            "table": "crm.account",
            "batch": 1,
            "key": "*",
            "kind": "schema_drift",
            "detail": "added column Rating (string)",
        }
    ]


def _rows_with_key(rows: list[LandedRow], table: str, batch: int, key: str) -> list[LandedRow]:
    spec = source_table(table)
    out = []
    for row in rows:
        if row.batch != batch:
            continue
        matches = key_of(spec, row.parsed) == key if row.parsed is not None else key in row.raw
        if matches:
            out.append(row)
    return out


def _updated(table: str, parsed: dict[str, Any]) -> Any:
    return parsed[source_table(table).updated_at]


def test_each_manifest_entry_is_found_in_the_landing(
    landed: dict[str, list[LandedRow]], manifest: list[dict[str, Any]]
) -> None:
    for entry in manifest:
        table, batch, key, kind = entry["table"], entry["batch"], entry["key"], DirtyKind(entry["kind"])
        rows = landed[table]
        if kind is DirtyKind.SCHEMA_DRIFT:
            in_batch = [r.parsed for r in rows if r.batch == batch and r.parsed]
            assert in_batch and all(DRIFT_COLUMN in p for p in in_batch)
            assert not any(DRIFT_COLUMN in r.parsed for r in rows if r.batch != batch and r.parsed)
            continue
        found = _rows_with_key(rows, table, batch, key)
        assert found, entry
        spec = source_table(table)
        parsed = [r.parsed for r in found if r.parsed is not None]
        if kind is DirtyKind.MALFORMED_JSON:
            assert any(r.parsed is None for r in found), entry
        elif kind is DirtyKind.EXACT_DUPLICATE:
            assert max(Counter(r.raw for r in found).values()) >= 2, entry
        elif kind is DirtyKind.LATE_UPDATE:
            earlier = [
                _updated(table, r.parsed)
                for r in rows
                if r.parsed and r.batch <= batch and key_of(spec, r.parsed) == key
            ]
            assert min(_updated(table, p) for p in parsed) < max(earlier), entry
        elif kind is DirtyKind.MISSING_REQUIRED:
            field = entry["detail"].split(" ")[0]
            assert field in spec.required_fields
            assert any(p[field] is None for p in parsed), entry
        elif kind is DirtyKind.WRONG_TYPE:
            field = entry["detail"].split(" ")[0]
            assert any(isinstance(p[field], str) and not p[field].lstrip("-").isdigit() for p in parsed), (
                entry
            )
        elif kind is DirtyKind.OUT_OF_RANGE:
            field, value = entry["detail"].split(" = ", 1)
            assert any(str(p[field]).startswith(value[:4]) for p in parsed), entry
            assert value.startswith(("-", "2999")), entry
        elif kind is DirtyKind.UNKNOWN_FOREIGN_KEY:
            field, value = entry["detail"].split(" = ", 1)
            assert any(str(p[field]) == value for p in parsed), entry
            fk = next(f for f in spec.foreign_keys if f.column == field)
            assert value not in _parent_keys(landed, manifest, f"{spec.system}.{fk.ref_table}")


def test_dirty_share_is_near_the_rate(
    landed: dict[str, list[LandedRow]], manifest: list[dict[str, Any]]
) -> None:
    rows = sum(len(v) for v in landed.values())
    assert 0.6 * CONFIG.dirty_rate < len(manifest) / rows < 1.4 * CONFIG.dirty_rate


def test_same_seed_same_rows_other_seed_other_rows(spark: SparkSession) -> None:
    from datagen.pools import build_pools
    from datagen.tables import build_batch, build_context

    def frame(seed: int, table: str) -> Any:
        build_pools.cache_clear()  # rebuild the Faker pools too
        config = CONFIG.model_copy(update={"seed": seed})
        ctx = build_context(spark, plan_dataset(config), build_pools(seed))
        return build_batch(spark, ctx, table, 1)

    for table in ("crm.contact", "snowflake.order_lines"):
        first, again, other = frame(7, table), frame(7, table), frame(8, table)
        assert first.count() == again.count() > 0
        assert first.exceptAll(again).count() == 0 and again.exceptAll(first).count() == 0
        assert first.exceptAll(other).count() > 0


def test_empty_manifest_is_an_empty_file(spark: SparkSession, tmp_path: Path) -> None:
    from datagen.writer import LandingFS, write_manifest

    fs = LandingFS(spark, str(tmp_path))
    write_manifest(
        fs, spark.range(0).selectExpr("'crm.account' AS table"), fs.join("_manifest", "dirty.jsonl")
    )
    assert (tmp_path / "_manifest" / "dirty.jsonl").read_text() == ""
    assert sorted(p.name for p in (tmp_path / "_manifest").iterdir()) == ["dirty.jsonl"]


def test_touches_precede_closes_so_attribution_has_work(landed: dict[str, list[LandedRow]]) -> None:
    contact_account = {r.parsed["Id"]: r.parsed["AccountId"] for r in landed["crm.contact"] if r.parsed}
    touches: dict[str, list[str]] = {}
    for row in landed["crm.campaign_member"]:
        member = row.parsed
        if member and member["ContactId"] in contact_account and member["FirstRespondedDate"]:
            touches.setdefault(contact_account[member["ContactId"]], []).append(member["FirstRespondedDate"])
    opportunities = [r.parsed for r in landed["crm.opportunity"] if r.parsed and r.parsed["CloseDate"]]
    attributable = [
        o for o in opportunities if any(day < o["CloseDate"] for day in touches.get(o["AccountId"], []))
    ]
    assert len(attributable) > len(opportunities) / 4


@pytest.mark.parametrize("table_name", ["snowflake.order_lines", "snowflake.orders"])
def test_unloads_come_in_files_of_bounded_rows(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table_name: str
) -> None:
    from pyspark.sql import functions as sf

    from datagen import writer
    from datagen.tables import FAULT_COLUMN

    monkeypatch.setattr(writer, "MAX_ROWS_PER_UNLOAD_FILE", 100)
    table = source_table(table_name)
    columns = [sf.lit(None).cast(f.type).alias(f.name) for f in table.fields]
    frame = spark.range(0, 1_000, 1, 2).select(*columns, sf.lit(None).cast("string").alias(FAULT_COLUMN))
    folder = Path(writer.write_batch(writer.LandingFS(spark, str(tmp_path)), frame, table, 0, None))
    files = [p for p in folder.iterdir() if p.name.startswith("part-")]
    if table_name == "snowflake.order_lines":  # gzip CSV
        rows = spark.read.option("header", "true").csv(str(folder)).count()
    else:
        rows = spark.read.parquet(str(folder)).count()
    assert rows == 1_000
    assert len(files) >= 10  # two writer tasks of 500 rows, at most 100 rows per file
