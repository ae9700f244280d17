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
    machine = new_record("test_kind", {"figure": 1}, seed=7)["provenance"]["machine"]
    assert set(machine) == {"hostname", "platform", "architecture", "cpu_count", "memory_bytes"}
    assert machine["architecture"] == normalised_architecture(platform.machine())
