"""Result records' provenance: the machine's architecture under one name per CPU family."""

from __future__ import annotations

import platform

import pytest

from lakelab.records import new_record, normalised_architecture, provenance


@pytest.mark.parametrize(
    ("machine", "architecture"),
    [("x86_64", "x86_64"), ("AMD64", "x86_64"), ("aarch64", "arm64"), ("arm64", "arm64")],
)
def test_the_four_spellings_map_to_two_names(machine: str, architecture: str) -> None:
    assert normalised_architecture(machine) == architecture


def test_other_architectures_are_kept_as_given() -> None:
    assert normalised_architecture("riscv64") == "riscv64"
    assert normalised_architecture("") == ""


def test_provenance_records_this_machines_architecture() -> None:
    expected = {"AMD64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert provenance()["machine"]["architecture"] == expected


def test_a_new_record_carries_the_architecture_beside_the_other_machine_facts() -> None:
    machine = new_record("floor_benchmark", {"figure": 1}, seed=7)["provenance"]["machine"]
    assert set(machine) == {"hostname", "platform", "architecture", "cpu_count", "memory_bytes"}
    assert machine["architecture"] == normalised_architecture(platform.machine())


def test_an_undeclared_record_kind_is_refused() -> None:
    from lakelab.records import RecordKind

    with pytest.raises(ValueError, match="'sweep_runs' is not declared"):
        new_record("sweep_runs", {}, seed=None)
    record = new_record(RecordKind.SWEEP_RUN, {"x": 1}, seed=7)
    assert record["kind"] == "sweep_run" and type(record["kind"]) is str


def test_a_point_has_one_label_everywhere() -> None:
    from lakelab.records import point_label, short_key

    assert short_key("spark.sql.shuffle.partitions") == "shuffle.partitions"
    assert short_key("spark.driver.memory") == "driver.memory"
    assert short_key("pipeline.zorder") == "pipeline.zorder"
    assert point_label({"spark.sql.shuffle.partitions": 8, "pipeline.zorder": "true"}) == (
        "shuffle.partitions=8, pipeline.zorder=true"
    )
