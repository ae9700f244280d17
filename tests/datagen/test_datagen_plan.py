"""The plan: pure counts and positions, checked without Spark."""

from __future__ import annotations

import pytest

from datagen.config import DatagenConfig
from datagen.plan import TABLE_KINDS, DirtyPositions, plan_dataset, split_records
from lakelab.sources import SOURCE_TABLES, DirtyKind


@pytest.mark.parametrize("records", [1_000, 2_000, 1_000_000, 100_000_000])
def test_split_covers_every_table_and_sums_to_records(records: int) -> None:
    split = split_records(records)
    assert set(split) == {t.qualified_name for t in SOURCE_TABLES}
    assert sum(split.values()) == records
    assert all(rows > 0 for rows in split.values())


def test_dirty_positions_count_like_brute_force() -> None:
    positions = DirtyPositions(every=7, offset=3, kind_shift=2, kinds=TABLE_KINDS["crm.opportunity"])
    for rows in (0, 3, 4, 10, 99, 1000):
        dirty = [i for i in range(rows) if i % 7 == 3]
        assert positions.count(rows) == len(dirty)
        kinds = [positions.kinds[(j + 2) % len(positions.kinds)] for j in range(len(dirty))]
        for kind in positions.kinds:
            assert positions.count_of(kind, rows) == kinds.count(kind)


def test_updates_pick_distinct_earlier_keys() -> None:
    plan = plan_dataset(DatagenConfig(records=50_000, batches=3))
    for table in plan.tables:
        for batch in table.batches[1:]:
            picked = {
                (u * batch.update_stride + batch.update_shift) % batch.entity_offset
                for u in range(batch.update_rows)
            }
            assert len(picked) == batch.update_rows  # no key updated twice in one batch
            assert max(picked, default=0) < batch.entity_offset


def test_every_kind_is_plantable_and_batches_add_up() -> None:
    plan = plan_dataset(DatagenConfig(records=10_000, batches=2, dirty_rate=0.02))
    plantable = {kind for kinds in TABLE_KINDS.values() for kind in kinds} | {DirtyKind.SCHEMA_DRIFT}
    assert plantable == set(DirtyKind)
    for table in plan.tables:
        assert sum(b.base_rows for b in table.batches) == table.rows
        assert table.batches[0].update_rows == 0
    assert plan.drift_batch == 2


def test_zero_dirty_rate_plants_nothing() -> None:
    plan = plan_dataset(DatagenConfig(records=10_000, batches=1, dirty_rate=0.0))
    assert all(t.total_landed_rows == t.rows for t in plan.tables)
    assert plan.drift_batch is None
