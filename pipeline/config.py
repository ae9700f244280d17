"""The `[pipeline]` section of lakelab.toml: every physical-design choice the harness sweeps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lakelab.model import StrictModel

Layer = Literal["bronze", "silver", "gold"]
ALL_LAYERS: list[Layer] = ["bronze", "silver", "gold"]
# Below Jackson's 20,000,000-character limit on one JSON string, which would otherwise turn a
# larger record into an unexplained "unparseable JSON line".
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024


class PipelineConfig(StrictModel):
    """Which layers run and how their tables are laid out.

    Every field is a physical-design or run choice, never a business rule (those live in
    `pipeline.contracts`), so a sweep can vary any of them without changing results; the
    one exception is `max_record_bytes`, a safety limit on what Bronze will parse.
    """

    layers: list[Layer] = Field(default_factory=lambda: list(ALL_LAYERS))
    # Fact tables whose contract names a date partition (`dt`) are partitioned by it. Off by
    # default: at lab scales a day holds kilobytes (100k records: 1,095 files of ~15 orders
    # for silver.orders), and writing those files cost more than pruning by date saves.
    partition_facts_by_date: bool = False
    # `lakelab maintain` runs OPTIMIZE ... ZORDER BY the contract's columns (else plain OPTIMIZE).
    zorder: bool = True
    # Delta table properties set on every table the pipeline creates.
    target_file_size_mb: int = Field(default=128, ge=1)
    optimize_write: bool = False
    auto_compact: bool = False
    # `delta.checkpointInterval`: commits between checkpoints of the transaction log.
    checkpoint_interval: int = Field(default=10, ge=1)
    # VACUUM keeps files younger than this; below 168 h Delta's safety check is turned off
    # for the VACUUM only (a lab choice: nothing reads old versions here).
    vacuum_retention_hours: int = Field(default=168, ge=0)
    # `delta.enableDeletionVectors` on Silver's tables, the only ones MERGEd into: a MERGE marks
    # replaced rows instead of rewriting their files (at 1M records a third of the bytes, 0.67x
    # the MERGE time: docs/pipeline.md). Bronze, Gold and `_ops` never get them, so delta-rs's
    # `to_pyarrow_table()` reads those; `lakelab maintain` drops them where this says no.
    deletion_vectors: bool = True
    # A JSON line longer than this (in bytes) is quarantined with its size, not parsed. A safety
    # limit, not a layout choice: it bounds what one record costs a task's memory.
    max_record_bytes: int = Field(default=DEFAULT_MAX_RECORD_BYTES, ge=1)
    # Tables of a layer built at once, on threads sharing the SparkSession (1: one after
    # another). A small table's seconds are mostly the driver's (planning, listing, the Delta
    # log); a second table in flight uses the core that would idle. Results do not depend on
    # it: a table waits for the tables of its layer it reads (`pipeline.parallel`). The
    # default stays 1 until a hostile-suite failure seen once with 2, under load 30, is
    # explained (docs/pipeline.md, "Tables in parallel").
    parallel_tables: int = Field(default=1, ge=1, le=16)
    # An OpenLineage event per table written, appended to `<warehouse>/_ops/lineage/<run id>.jsonl`
    # (docs/lineage.md). A JSON line per table, written by the driver: no Spark work.
    lineage: bool = True
