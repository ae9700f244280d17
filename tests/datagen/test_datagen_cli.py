"""`lakelab generate`: bad input is one line on stderr and exit code 2, before any data lands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lakelab.cli import main
from lakelab.sources import DATASET_MARKER

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("records", ["0", "-3", "lots", "1.5q"])
def test_bad_records_exit_2_with_one_line(
    records: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["generate", "--records", records, "--landing", str(tmp_path / "l")]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("lakelab: error: --records") and repr(records) in line
    assert not (tmp_path / "l").exists()


def test_bad_dates_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["generate", "--records", "1k", "--landing", str(tmp_path / "l")]
    assert main([*args, "--start-date", "2025-13-01"]) == 2
    assert "--start-date" in _one_error_line(capsys)
    assert main([*args, "--start-date", "2025-01-01", "--end-date", "2024-01-01"]) == 2
    assert "before" in _one_error_line(capsys)


def _fake_dataset(landing: Path, **options: object) -> None:
    landing.mkdir(parents=True)
    marker = {
        "complete": True,
        "seed": 42,
        "records": 1000,
        "dirty_rate": 0.01,
        "batches": 0,
        "start_date": "2023-01-01",
        "end_date": "2025-12-31",
        **options,
    }
    (landing / DATASET_MARKER).write_text(json.dumps(marker))
    (landing / "crm").mkdir()


def test_landing_with_another_data_set_exit_2(
    spark: SparkSession, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    landing = tmp_path / "lake"
    _fake_dataset(landing, seed=41)
    assert main(["generate", "--records", "1000", "--seed", "42", "--landing", str(landing)]) == 2
    line = _one_error_line(capsys)
    assert "another data set" in line and "seed=41" in line
    assert (landing / "crm").exists()  # nothing of it was touched


def test_same_complete_data_set_is_left_alone(
    spark: SparkSession, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    landing = tmp_path / "lake"
    _fake_dataset(landing)
    assert main(["generate", "--records", "1k", "--seed", "42", "--landing", str(landing)]) == 0
    out = capsys.readouterr().out
    assert "already holds this data set" in out and "crm.account" in out  # the split is printed first


def test_non_empty_folder_without_marker_exit_2(
    spark: SparkSession, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    landing = tmp_path / "lake"
    landing.mkdir()
    (landing / "notes.txt").write_text("mine")
    assert main(["generate", "--records", "1k", "--landing", str(landing)]) == 2
    assert "not empty" in _one_error_line(capsys)


def test_unwritable_landing_exit_2(
    spark: SparkSession, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["generate", "--records", "1k", "--landing", str(blocker / "lake")]) == 2
    assert "not writable" in _one_error_line(capsys)
