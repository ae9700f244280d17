"""What a sweep runs: a workload prepares a landing once per scale, then runs into a warehouse.

`pipeline` is the real job (datagen's sources → Bronze → Silver → Gold). `spark-aggregation`
is a small Spark job (a generated fact table, an aggregation, a join, a Delta write) for smoke
runs and for tests of the harness itself; its numbers are real, just of a smaller job.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lakelab.errors import UserError
from lakelab.paths import is_remote

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakelab.config import LakelabConfig

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StageTiming:
    """One table of one layer in one run."""

    layer: str
    table: str
    rows_in: int
    rows_out: int
    rows_quarantined: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a record."""
        return {
            "layer": self.layer,
            "table": self.table,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_quarantined": self.rows_quarantined,
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class WorkloadResult:
    """What one run of a workload did."""

    stages: list[StageTiming] = field(default_factory=list)
    reconciled: bool | None = None
    run_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # Wall seconds per layer (stages of a layer overlap when it builds tables in parallel);
    # empty for a workload without layers, whose stages run one after another.
    layer_seconds: dict[str, float] = field(default_factory=dict)

    def seconds_by_layer(self) -> dict[str, float]:
        """Each layer's wall seconds, or its stages' sum where the workload did not time it."""
        totals: dict[str, float] = {}
        for stage in self.stages:
            totals[stage.layer] = totals.get(stage.layer, 0.0) + stage.seconds
        return {layer: round(self.layer_seconds.get(layer, s), 4) for layer, s in totals.items()}


@dataclass(frozen=True)
class LandingInfo:
    """The landing a scale runs from, and what preparing it cost (0 s when reused)."""

    path: str
    records: int
    generated: bool
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


class Workload(Protocol):
    """A job the harness can sweep."""

    name: str
    # Whether `layers` means anything to it (the pipeline's Bronze, Silver, Gold).
    uses_layers: bool

    def prepare(
        self, spark: SparkSession, config: LakelabConfig, landing: str, records: int, progress: Progress
    ) -> LandingInfo:
        """Make sure `landing` holds the data set of `records` records (reuse when it does)."""
        ...

    def run(
        self,
        spark: SparkSession,
        config: LakelabConfig,
        landing: str,
        warehouse: str,
        layers: Sequence[str],
        progress: Progress,
    ) -> WorkloadResult:
        """Run once into an empty `warehouse`."""
        ...


class PipelineWorkload:
    """datagen's CRM and Snowflake sources through Bronze → Silver → Gold."""

    name = "pipeline"
    uses_layers = True

    def prepare(
        self, spark: SparkSession, config: LakelabConfig, landing: str, records: int, progress: Progress
    ) -> LandingInfo:
        """Generate `records` records into `landing` unless that data set is already there."""
        try:
            from datagen.generate import generate
        except ImportError:
            raise UserError("the pipeline workload needs datagen.generate, which is not installed") from None
        datagen_config = config.datagen.model_copy(update={"records": records})
        started = time.perf_counter()
        summary = generate(spark, datagen_config, landing, progress=progress)
        seconds = time.perf_counter() - started
        detail = {
            "rows": summary.rows,
            "bytes": summary.bytes,
            "tables": [dataclasses.asdict(table) for table in summary.tables],
        }
        return LandingInfo(landing, records, not summary.already_complete, seconds, detail)

    def run(
        self,
        spark: SparkSession,
        config: LakelabConfig,
        landing: str,
        warehouse: str,
        layers: Sequence[str],
        progress: Progress,
    ) -> WorkloadResult:
        """One pipeline run; stages as the pipeline reports them."""
        try:
            from pipeline.run import run_pipeline
        except ImportError:
            raise UserError("the pipeline workload needs pipeline.run, which is not installed") from None
        result = run_pipeline(spark, config, landing, warehouse, layers=list(layers), progress=progress)
        stages = [
            StageTiming(s.layer, s.table, s.rows_in, s.rows_out, s.rows_quarantined, s.seconds)
            for s in result.stages
        ]
        return WorkloadResult(
            stages=stages,
            reconciled=result.reconciled,
            run_id=result.run_id,
            layer_seconds=dict(result.layer_seconds),
        )


class SparkAggregationWorkload:
    """A generated fact table (Parquet) read, aggregated, joined to a dimension, written to Delta."""

    name = "spark-aggregation"
    uses_layers = False
    keys = 1_000

    def prepare(
        self, spark: SparkSession, config: LakelabConfig, landing: str, records: int, progress: Progress
    ) -> LandingInfo:
        """Write `records` rows of `events` once; reuse them when the count matches."""
        marker = f"{landing.rstrip('/')}/events"
        if not is_remote(landing) and (Path(landing) / "events" / "_SUCCESS").exists():
            existing = spark.read.parquet(marker).count()
            if existing == records:
                progress(f"landing {landing}: reusing {records:,} events")
                return LandingInfo(landing, records, generated=False, seconds=0.0)
        from pyspark.sql import functions as F  # noqa: N812

        started = time.perf_counter()
        seed = config.datagen.seed
        events = spark.range(records).select(
            F.col("id").alias("event_id"),
            # Every customer gets events (when records >= keys), so the output row count is known.
            (F.col("id") % self.keys).alias("customer_id"),
            (F.abs(F.xxhash64(F.lit(seed), "id")) % 100_000 / 100).alias("amount"),
        )
        events.write.mode("overwrite").parquet(marker)
        seconds = time.perf_counter() - started
        progress(f"landing {landing}: wrote {records:,} events in {seconds:.1f}s")
        return LandingInfo(landing, records, generated=True, seconds=seconds)

    def run(
        self,
        spark: SparkSession,
        config: LakelabConfig,
        landing: str,
        warehouse: str,
        layers: Sequence[str],
        progress: Progress,
    ) -> WorkloadResult:
        """Aggregate events per customer, join customer tiers, write the result as Delta."""
        from pyspark.sql import functions as F  # noqa: N812

        events = spark.read.parquet(f"{landing.rstrip('/')}/events")
        started = time.perf_counter()
        rows_in = events.count()
        totals = events.groupBy("customer_id").agg(
            F.count("*").alias("events"), F.sum("amount").alias("revenue")
        )
        tiers = spark.range(self.keys).select(
            F.col("id").alias("customer_id"), (F.col("id") % 5).alias("tier")
        )
        joined = totals.join(tiers, "customer_id")
        target = f"{warehouse.rstrip('/')}/customer_revenue"
        joined.write.format("delta").mode("overwrite").save(target)
        rows_out = spark.read.format("delta").load(target).count()
        seconds = time.perf_counter() - started
        progress(f"  aggregate customer_revenue: {rows_in:,} rows in, {rows_out:,} out, {seconds:.2f}s")
        stage = StageTiming("aggregate", "customer_revenue", rows_in, rows_out, 0, seconds)
        return WorkloadResult(stages=[stage], reconciled=None)


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "pipeline": PipelineWorkload,
    "spark-aggregation": SparkAggregationWorkload,
}


def get_workload(name: str) -> Workload:
    """The workload called `name`, or a UserError listing the known ones."""
    try:
        return WORKLOADS[name]()
    except KeyError:
        raise UserError(f"unknown workload '{name}' (choose from {', '.join(WORKLOADS)})") from None
