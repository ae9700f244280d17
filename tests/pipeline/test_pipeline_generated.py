"""End to end on data from the generator (tiny): reconciliation, the dirty manifest, conservation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline_helpers import pipeline_config

from lakelab.sources import DIRTY_MANIFEST, DirtyKind
from pipeline import gold, io
from pipeline.contracts import QUARANTINE, GoldParams, bronze_name, contract
from pipeline.run import run_pipeline

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.mark.slow
def test_generated_landing_end_to_end(spark: SparkSession, tmp_path: Path) -> None:
    from datagen.config import DatagenConfig
    from datagen.generate import generate
    from lakelab.sources import source_table

    landing = tmp_path / "landing"
    warehouse = str(tmp_path / "warehouse")
    generate(spark, DatagenConfig(records=3000, batches=1, seed=7, dirty_rate=0.02), str(landing))
    result = run_pipeline(spark, pipeline_config(), str(landing), warehouse)

    assert result.reconciled
    bronze = [s for s in result.stages if s.layer == "bronze" and not s.table.startswith("(")]
    assert len(bronze) == 9
    assert sum(s.rows_in for s in bronze) > 2500
    for stage in bronze:
        assert stage.rows_in == stage.rows_out + stage.rows_quarantined, stage

    manifest = [
        json.loads(line)
        for line in (landing / DIRTY_MANIFEST).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    kinds = Counter(row["kind"] for row in manifest)
    assert set(kinds) == {k.value for k in DirtyKind}  # the generator planted every kind

    # Records that cannot be parsed or typed are exactly the ones Bronze quarantined.
    unparseable = Counter(
        bronze_name(source_table(row["table"]))
        for row in manifest
        if row["kind"] in (DirtyKind.MALFORMED_JSON.value, DirtyKind.WRONG_TYPE.value)
    )
    quarantine = io.read_table(spark, QUARANTINE.path(warehouse))
    in_bronze = Counter(
        {
            r["table_name"]: int(r["count"])
            for r in quarantine.where("layer = 'bronze'").groupBy("table_name").count().collect()
        }
    )
    assert in_bronze == unparseable

    # The drifted batch evolved crm_account with the added column.
    drift = [row for row in manifest if row["kind"] == DirtyKind.SCHEMA_DRIFT.value]
    if drift:
        account = io.read_table(spark, contract("bronze.crm_account").path(warehouse))
        assert set(account.columns) - set(contract("bronze.crm_account").column_names)

    # Silver quarantined something for every table the generator planted range or null faults in.
    planted = {
        row["table"].split(".")[1]
        for row in manifest
        if row["kind"] in (DirtyKind.OUT_OF_RANGE.value, DirtyKind.MISSING_REQUIRED.value)
    }
    in_silver = {
        r["table_name"]
        for r in quarantine.where("layer = 'silver'").select("table_name").distinct().collect()
    }
    assert planted <= in_silver

    # Gold: attribution conserves revenue; every gold table has rows.
    attribution = io.read_table(spark, contract("gold.revenue_attribution").path(warehouse))
    assert attribution.count() > 0
    silver = {
        name: io.read_table(spark, contract(f"silver.{name}").path(warehouse))
        for name in ("orders", "customers", "account", "contact", "campaign_member", "opportunity")
    }
    touches = gold.order_touches(
        silver["orders"],
        silver["customers"],
        silver["account"],
        silver["contact"],
        silver["campaign_member"],
        silver["opportunity"],
        GoldParams(),
    )
    assert gold.conservation_gaps(attribution, gold.attributable_revenue(touches)).count() == 0
    for name in ("customer_360", "rfm_segments", "cohort_retention", "daily_revenue"):
        assert io.read_table(spark, contract(f"gold.{name}").path(warehouse)).count() > 0, name
