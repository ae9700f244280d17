"""What a run will write, worked out before Spark starts: pure Python, no I/O.

`--records` is split over the nine source tables by fixed shares; each table's rows are
split over the batches (batch 0 the initial load, 1..N incremental); each incremental
batch holds new keys and updates of earlier keys. Dirty rows sit at arithmetic positions
(every M-th row of a batch, M = 1/dirty_rate) so that their number is known exactly here
and the manifest can be built from those positions alone, without a second pass over the
data.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from datagen.config import DatagenConfig
from lakelab.sources import SOURCE_TABLES, DirtyKind, SourceTable

# Share of `--records` per table (sums to 1; order_lines takes the rounding remainder).
TABLE_SHARES: dict[str, float] = {
    "crm.account": 0.04,
    "crm.contact": 0.10,
    "crm.campaign": 0.0005,
    "crm.campaign_member": 0.15,
    "crm.opportunity": 0.08,
    "snowflake.customers": 0.05,
    "snowflake.products": 0.0005,
    "snowflake.orders": 0.16,
    "snowflake.order_lines": 0.419,
}
# Small dimension tables still need enough rows to pick from.
MIN_ROWS: dict[str, int] = {"crm.campaign": 8, "snowflake.products": 8}

# Of all rows, the initial load holds this share when there are incremental batches.
INITIAL_SHARE = 0.7
# Of an incremental batch, this share is updates of earlier keys, the rest new keys.
UPDATE_SHARE = 0.3

# The table and column that carry the one schema drift (in the last batch).
DRIFT_TABLE = "crm.account"
DRIFT_COLUMN = "Rating"
DRIFT_TYPE = "string"

# Which kinds each table can carry (schema drift is planted separately, once).
_ALL_ROW_KINDS = (
    DirtyKind.MISSING_REQUIRED,
    DirtyKind.EXACT_DUPLICATE,
    DirtyKind.LATE_UPDATE,
)
TABLE_KINDS: dict[str, tuple[DirtyKind, ...]] = {
    "crm.account": (*_ALL_ROW_KINDS, DirtyKind.MALFORMED_JSON, DirtyKind.WRONG_TYPE, DirtyKind.OUT_OF_RANGE),
    "crm.contact": (*_ALL_ROW_KINDS, DirtyKind.MALFORMED_JSON, DirtyKind.UNKNOWN_FOREIGN_KEY),
    "crm.campaign": (*_ALL_ROW_KINDS, DirtyKind.MALFORMED_JSON, DirtyKind.WRONG_TYPE, DirtyKind.OUT_OF_RANGE),
    "crm.campaign_member": (
        *_ALL_ROW_KINDS,
        DirtyKind.MALFORMED_JSON,
        DirtyKind.OUT_OF_RANGE,
        DirtyKind.UNKNOWN_FOREIGN_KEY,
    ),
    "crm.opportunity": (
        *_ALL_ROW_KINDS,
        DirtyKind.MALFORMED_JSON,
        DirtyKind.WRONG_TYPE,
        DirtyKind.OUT_OF_RANGE,
        DirtyKind.UNKNOWN_FOREIGN_KEY,
    ),
    "snowflake.customers": (*_ALL_ROW_KINDS, DirtyKind.OUT_OF_RANGE),
    "snowflake.products": (*_ALL_ROW_KINDS, DirtyKind.OUT_OF_RANGE),
    "snowflake.orders": (*_ALL_ROW_KINDS, DirtyKind.OUT_OF_RANGE, DirtyKind.UNKNOWN_FOREIGN_KEY),
    "snowflake.order_lines": (
        *_ALL_ROW_KINDS,
        DirtyKind.WRONG_TYPE,
        DirtyKind.OUT_OF_RANGE,
        DirtyKind.UNKNOWN_FOREIGN_KEY,
    ),
}

# Rows per Spark partition when writing (a few files per batch, not thousands).
ROWS_PER_PARTITION = 4_000_000


def stable_int(*parts: object, modulo: int) -> int:
    """A deterministic integer in [0, modulo) from `parts` (Python's hash() is salted per run)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


@dataclass(frozen=True)
class DirtyPositions:
    """Dirty rows of one batch block: row i is dirty when i ≡ offset (mod every).

    The j-th dirty row (i = offset + j * every) is of kind `kinds[(j + kind_shift) % len(kinds)]`.
    """

    every: int
    offset: int
    kind_shift: int
    kinds: tuple[DirtyKind, ...]

    def count(self, rows: int) -> int:
        """How many of `rows` rows are dirty."""
        if self.every <= 0 or rows <= self.offset:
            return 0
        return (rows - self.offset + self.every - 1) // self.every

    def kind_start(self, kind: DirtyKind) -> int:
        """The first j whose kind is `kind` (then every len(kinds)-th)."""
        return (self.kinds.index(kind) - self.kind_shift) % len(self.kinds)

    def count_of(self, kind: DirtyKind, rows: int) -> int:
        """How many dirty rows of `kind` among `rows` rows."""
        if kind not in self.kinds:
            return 0
        dirty = self.count(rows)
        start = self.kind_start(kind)
        return 0 if dirty <= start else (dirty - start + len(self.kinds) - 1) // len(self.kinds)


@dataclass(frozen=True)
class BatchPlan:
    """One table's rows in one batch."""

    batch: int
    new_rows: int  # new keys: entities entity_offset .. entity_offset + new_rows - 1
    update_rows: int  # later versions of keys delivered in earlier batches
    entity_offset: int  # entities delivered in batches before this one
    update_stride: int  # coprime with entity_offset: update u -> entity (u*stride + shift) % offset
    update_shift: int
    dirty: DirtyPositions
    stale_from: tuple[int, ...]  # batches whose late-update rows land in this batch

    @property
    def base_rows(self) -> int:
        """New plus updated rows (before duplicates and late copies)."""
        return self.new_rows + self.update_rows


@dataclass(frozen=True)
class TablePlan:
    """One table across all batches."""

    table: SourceTable
    rows: int  # share of --records (new + update rows over all batches)
    batches: tuple[BatchPlan, ...]

    @property
    def name(self) -> str:
        """`crm.account`."""
        return self.table.qualified_name

    @property
    def entities(self) -> int:
        """Distinct keys over all batches."""
        return sum(b.new_rows for b in self.batches)

    def entities_through(self, batch: int) -> int:
        """Distinct keys delivered in batches 0..batch."""
        return sum(b.new_rows for b in self.batches if b.batch <= batch)

    def extra_rows(self, batch: int) -> int:
        """Exact duplicates in this batch plus late (stale) copies landing in it."""
        plan = self.batches[batch]
        dups = plan.dirty.count_of(DirtyKind.EXACT_DUPLICATE, plan.base_rows)
        stale = sum(
            self.batches[source].dirty.count_of(DirtyKind.LATE_UPDATE, self.batches[source].base_rows)
            for source in plan.stale_from
        )
        return dups + stale

    def landed_rows(self, batch: int) -> int:
        """Rows that land in the batch folder."""
        return self.batches[batch].base_rows + self.extra_rows(batch)

    @property
    def total_landed_rows(self) -> int:
        """Rows that land over all batches."""
        return sum(self.landed_rows(b.batch) for b in self.batches)


@dataclass(frozen=True)
class DatasetPlan:
    """The whole run."""

    config: DatagenConfig
    tables: tuple[TablePlan, ...]
    batch_fractions: tuple[float, ...]  # cumulative share of the date range at each batch's end

    def table(self, qualified_name: str) -> TablePlan:
        """The plan of one table."""
        for plan in self.tables:
            if plan.name == qualified_name:
                return plan
        raise KeyError(qualified_name)

    @property
    def drift_batch(self) -> int | None:
        """The batch whose `DRIFT_TABLE` rows carry `DRIFT_COLUMN` (none for clean data)."""
        return self.config.batches if self.config.dirty_rate > 0 else None

    @property
    def total_landed_rows(self) -> int:
        """Every row written, dirty extras included."""
        return sum(t.total_landed_rows for t in self.tables)


def split_records(records: int) -> dict[str, int]:
    """Rows per table for `records` in total; the shares are documented in docs/datagen.md."""
    rows = {name: max(MIN_ROWS.get(name, 1), int(records * share)) for name, share in TABLE_SHARES.items()}
    rows["snowflake.order_lines"] = max(
        1, records - sum(v for k, v in rows.items() if k != "snowflake.order_lines")
    )
    return rows


def _batch_rows(rows: int, batches: int) -> list[int]:
    if batches == 0:
        return [rows]
    initial = max(1, round(rows * INITIAL_SHARE))
    rest = rows - initial
    per = [rest // batches + (1 if b < rest % batches else 0) for b in range(batches)]
    return [initial, *per]


def _coprime_stride(n: int, seed_parts: tuple[object, ...]) -> int:
    """A stride near n/φ that is coprime with n, so u -> (u*stride) % n is a bijection."""
    if n <= 1:
        return 1
    stride = max(1, int(n * 0.6180339887)) + stable_int(*seed_parts, modulo=7)
    while math.gcd(stride, n) != 1:
        stride += 1
    return stride


def plan_dataset(config: DatagenConfig) -> DatasetPlan:
    """Work out every count and dirty position of a run from its config."""
    split = split_records(config.records)
    every = 0 if config.dirty_rate <= 0 else max(2, round(1 / config.dirty_rate))
    nb = config.batches
    fractions = [INITIAL_SHARE if nb else 1.0]
    for b in range(1, nb + 1):
        fractions.append(INITIAL_SHARE + (1 - INITIAL_SHARE) * b / nb)
    tables = []
    for table in SOURCE_TABLES:
        name = table.qualified_name
        per_batch = _batch_rows(split[name], nb)
        plans: list[BatchPlan] = []
        offset = 0
        for b, rows in enumerate(per_batch):
            updates = 0 if b == 0 else min(offset, round(rows * UPDATE_SHARE))
            new = rows - updates
            stale_from = (b - 1,) if b >= 1 else ()
            if b == nb:
                stale_from = (*stale_from, b)
            plans.append(
                BatchPlan(
                    batch=b,
                    new_rows=new,
                    update_rows=updates,
                    entity_offset=offset,
                    update_stride=_coprime_stride(offset, (config.seed, name, b, "stride")),
                    update_shift=stable_int(config.seed, name, b, "shift", modulo=max(1, offset)),
                    dirty=DirtyPositions(
                        every=every,
                        offset=stable_int(config.seed, name, b, "dirty", modulo=max(1, every)),
                        kind_shift=stable_int(config.seed, name, b, "kind", modulo=len(TABLE_KINDS[name])),
                        kinds=TABLE_KINDS[name],
                    ),
                    stale_from=stale_from,
                )
            )
            offset += new
        tables.append(TablePlan(table, split[name], tuple(plans)))
    return DatasetPlan(config, tuple(tables), tuple(fractions))
