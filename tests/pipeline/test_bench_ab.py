"""`python -m pipeline.bench --baseline`: medians and ratios, the landing view of an
incremental run, the child's record line, and bad input (no Spark: the A/B runs themselves
are a benchmark, run by hand; their record is docs/results/pipeline_ab_benchmark-*)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lakelab.errors import UserError
from pipeline import bench, bench_ab


def _run(side: str, bronze: float, silver: float, run: float, rss: int = 1) -> dict[str, Any]:
    return {
        "side": side,
        "layers": {"bronze": bronze, "silver": silver},
        "run_seconds": run,
        "command_seconds": run + 10,
        "peak_rss_bytes": rss,
    }


def test_summary_takes_medians_per_side_and_candidate_over_baseline() -> None:
    runs = [
        _run("baseline", 100, 50, 160, rss=3),
        _run("candidate", 40, 30, 75),
        _run("candidate", 30, 20, 55, rss=2),
        _run("baseline", 120, 70, 200),
        _run("baseline", 90, 60, 150),
        _run("candidate", 50, 25, 80),
    ]
    summary = bench_ab.summarize(runs)
    assert summary["medians"]["baseline"] == {
        "bronze": 100,
        "silver": 60,
        "run": 160,
        "command": 170,
        "peak_rss_bytes": 3,
    }
    assert summary["medians"]["candidate"]["bronze"] == 40
    assert summary["medians"]["candidate"]["run"] == 75
    assert summary["ratios"]["bronze"] == 0.4
    assert summary["ratios"]["silver"] == round(25 / 60, 3)
    assert summary["ratios"]["run"] == round(75 / 160, 3)
    assert summary["repeats"] == {"baseline": 3, "candidate": 3}
    lines = bench_ab.summary_lines(
        {
            "summary": summary,
            "mode": "empty warehouse",
            "sides": {"baseline": {"commit": "aaaaaaa1"}, "candidate": {"commit": "bbbbbbb2"}},
        }
    )
    assert "baseline aaaaaaa" in lines[0] and "candidate bbbbbbb" in lines[0]
    assert lines[1].split() == ["bronze", "100.0", "s", "40.0", "s", "0.40x"]
    assert lines[-1].startswith("medians of 3 and 3 runs (empty warehouse)")


def test_landing_view_shows_only_the_earlier_batches(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for batch in range(3):
        (landing / "crm" / "account" / f"batch={batch:04d}").mkdir(parents=True)
        (landing / "_batches").mkdir(exist_ok=True)
        (landing / "_batches" / f"{batch:04d}.json").write_text("{}", encoding="utf-8")
    (landing / "_lakelab_dataset.json").write_text('{"seed": 1}', encoding="utf-8")
    assert bench_ab.last_complete_batch(landing) == 2
    view = bench_ab.landing_view(landing, 2, tmp_path / "view")
    assert sorted(p.name for p in (view / "_batches").iterdir()) == ["0000.json", "0001.json"]
    assert sorted(p.name for p in (view / "crm" / "account").iterdir()) == [
        "batch=0000",
        "batch=0001",
        "batch=0002",
    ]
    assert json.loads((view / "_lakelab_dataset.json").read_text(encoding="utf-8")) == {"seed": 1}
    assert not (landing / "_batches" / "0002.json").is_symlink()  # the landing itself is untouched
    with pytest.raises(UserError, match="no complete batch"):
        bench_ab.last_complete_batch(tmp_path / "view-empty")


def test_the_record_line_is_the_last_one_printed() -> None:
    output = "bronze total: ...\nreconciled: yes; record: reports/results/a.json\n"
    assert bench_ab.record_path_from_output(output) == Path("reports/results/a.json")
    assert bench_ab.record_path_from_output("pipeline failed\n") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "/nonexistent-tree"], "no pipeline/bench.py there"),
        (["--baseline", ".", "--repeats", "0"], "--repeats 0: give 1 or more"),
        (["--landing", "/nonexistent-landing", "--baseline", "."], "not a local folder"),
    ],
)
def test_bad_ab_input_is_one_line_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--landing", str(tmp_path), "--work", str(tmp_path / "work"), *args]
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pipeline.bench: error: ") and message in err[0]
