"""Interrupted sweeps resumed from their records, refusals before any run, per-run time limits."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_harness_sweep_paths import RecordingWorkload

from harness import sweep as sweep_module
from harness.commands import refuse_unfinished, resume_command, run_report_command, run_sweep_command
from harness.config import SweepConfig
from harness.results import load_sweeps
from harness.sweep import (
    PLAN_KIND,
    RUN_KIND,
    OverTimeLimitError,
    SweepInterrupted,
    plan_point,
    recorded_sweep,
    run_in_child,
    run_sweep,
    sweep_plan,
    unfinished_sweep,
)
from lakelab.cli import build_parser
from lakelab.config import LakelabConfig, parse_config
from lakelab.errors import UserError
from lakelab.records import new_record, read_records, write_record

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

GRID = {"spark.sql.shuffle.partitions": ["2", "3"]}


class CountingWorkload(RecordingWorkload):
    """Touches no data; remembers each warehouse it was given and whether it was there already."""

    name = "counting"
    uses_layers = False

    def __init__(self, interrupt_at: int | None = None) -> None:
        super().__init__()
        self.interrupt_at = interrupt_at
        self.found_leftovers: list[str] = []

    def work(self, spark: SparkSession, warehouse: str) -> None:
        if len(self.warehouses) == self.interrupt_at:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a run
        if Path(warehouse).exists():
            self.found_leftovers.append(warehouse)


def runs_in_order(results: Path) -> list[dict[str, Any]]:
    """The run records by `run_index` (records written in the same second sort by their random id)."""
    return sorted(read_records(results, RUN_KIND), key=lambda record: int(record["payload"]["run_index"]))


def counting_config(warmup: int = 0, repeats: int = 2) -> LakelabConfig:
    return parse_config({"sweep": {"scales": [100], "repeats": repeats, "warmup": warmup, "grid": GRID}})


def test_an_interrupted_sweep_resumes_with_only_the_runs_it_lacks(
    spark: SparkSession, tmp_path: Path
) -> None:
    results, work = tmp_path / "results", tmp_path / "work"
    landings = {100: str(tmp_path / "landing")}
    first = CountingWorkload(interrupt_at=2)
    with pytest.raises(SweepInterrupted) as interrupted:
        run_sweep(spark, counting_config(), landings, work, results, workload=first, progress=lambda _l: None)
    sweep_id = interrupted.value.sweep_id
    assert (interrupted.value.recorded, interrupted.value.runs) == (2, 4)
    assert str(interrupted.value) == f"sweep {sweep_id} interrupted after 2 of 4 runs"
    kept_ids = [record["record_id"] for record in runs_in_order(results)]
    assert len(kept_ids) == 2 and len(read_records(results, PLAN_KIND)) == 1
    # The run in progress was interrupted and left its warehouse; it has no record.
    (work / sweep_id / "run-002").mkdir(parents=True)

    # No summary: the report says so in one line instead of reporting a partial sweep.
    assert unfinished_sweep(results, None) == (sweep_id, 2, 4)
    assert unfinished_sweep(results, "sweep-other") is None
    with pytest.raises(UserError) as refused:
        refuse_unfinished(str(results), None)
    assert str(refused.value) == (
        f"sweep {sweep_id} is unfinished (2 of 4 runs recorded, no summary): "
        f"`lakelab sweep --resume {sweep_id}` with the options it started with runs the rest; "
        "--sweep ID reports a finished sweep"
    )
    report = build_parser().parse_args(["report", "--results", str(results), "--sweep", sweep_id])
    unfinished = r"is unfinished \(2 of 4 runs recorded, no summary\): .* runs the rest$"
    with pytest.raises(UserError, match=unfinished):
        run_report_command(counting_config(), report)

    # A warm-up is not part of the plan: the resumed session warms its own fresh JVM.
    second = CountingWorkload()
    lines: list[str] = []
    summary = run_sweep(
        spark, counting_config(warmup=1), landings, work, results, workload=second, progress=lines.append,
        resume=sweep_id,
    )  # fmt: skip
    root = str(work / sweep_id)
    assert [warehouse for warehouse, _layers in second.warehouses] == [
        f"{root}/warmup-0", f"{root}/run-002", f"{root}/run-003",
    ]  # fmt: skip
    assert second.found_leftovers == []  # the interrupted run's warehouse was cleared first
    assert "resuming: 2 run(s) recorded earlier are kept, 2 to run" in lines
    assert (summary.sweep_id, summary.kept_runs, len(summary.run_records), summary.failed_runs) == (
        sweep_id, 2, 2, 0,
    )  # fmt: skip
    (sweep,) = load_sweeps(results)
    payload = sweep.summary["payload"]
    assert payload["run_record_ids"][:2] == kept_ids
    assert len(set(payload["run_record_ids"])) == 4
    assert payload["kept_runs"] == 2
    assert payload["plan_record_id"] == read_records(results, PLAN_KIND)[0]["record_id"]
    runs = [run["payload"] for run in sweep.runs]
    assert [(r["run_index"], r["settings"]["spark.sql.shuffle.partitions"], r["repeat"]) for r in runs] == [
        (0, "2", 0), (1, "3", 0), (2, "2", 1), (3, "3", 1),
    ]  # fmt: skip
    assert unfinished_sweep(results, None) is None
    refuse_unfinished(str(results), None)  # a finished sweep reports

    with pytest.raises(UserError, match=f"--resume {sweep_id}: that sweep finished"):
        run_sweep(spark, counting_config(), landings, work, results, workload=CountingWorkload(),
                  progress=lambda _l: None, resume=sweep_id)  # fmt: skip


def plan_of(sweep: dict[str, Any]) -> dict[str, Any]:
    return sweep_plan(SweepConfig.model_validate(sweep), CountingWorkload(), 42)


def write_plan(results: Path, sweep_id: str, sweep: dict[str, Any]) -> None:
    payload = {"harness_schema": 1, "sweep_id": sweep_id, **plan_of(sweep)}
    write_record(new_record(PLAN_KIND, payload, seed=42), results)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"repeats": 3}, "--resume sweep-a: it started with repeats 2, the config and options now give 3; "),
        ({"scales": [200]}, "it started with scales [100], the config and options now give [200]"),
        (
            {"grid": {"spark.sql.shuffle.partitions": ["2", "3", "4"]}},
            'it started with grid {"spark.sql.shuffle.partitions": ["2", "3"]}',
        ),
        ({"baseline": {"spark.sql.shuffle.partitions": "3"}}, "it started with baseline"),
    ],
)
def test_resume_refuses_another_plan(tmp_path: Path, changed: dict[str, Any], message: str) -> None:
    sweep = {"scales": [100], "repeats": 2, "grid": GRID}
    write_plan(tmp_path, "sweep-a", sweep)
    assert recorded_sweep(tmp_path, "sweep-a", plan_of(sweep)).runs == {}
    with pytest.raises(UserError) as error:
        recorded_sweep(tmp_path, "sweep-a", plan_of({**sweep, **changed}))
    assert message in str(error.value)
    assert str(error.value).endswith("resume with the options it started with")


def test_resume_refuses_an_unknown_sweep_before_spark_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lakelab.spark

    def no_session(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Spark started")

    monkeypatch.setattr(lakelab.spark, "get_session", no_session)
    write_plan(tmp_path, "sweep-a", {"scales": [100], "repeats": 2, "grid": GRID})
    args = build_parser().parse_args(["sweep", "--results", str(tmp_path), "--resume", "sweep-b"])
    unknown = f"^--resume sweep-b: no sweep of that id was started in {re.escape(str(tmp_path))}$"
    with pytest.raises(UserError, match=unknown):
        run_sweep_command(counting_config(), args)
    # The configured workload (`pipeline`) is not the one sweep-a started with.
    args = build_parser().parse_args(["sweep", "--results", str(tmp_path), "--resume", "sweep-a"])
    with pytest.raises(UserError, match='it started with workload "counting"'):
        run_sweep_command(counting_config(), args)
    assert len(list(tmp_path.iterdir())) == 1


def test_ctrl_c_prints_one_line_with_the_command_that_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lakelab.spark

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise SweepInterrupted("sweep-x", 1, 4)

    monkeypatch.setattr(lakelab.spark, "get_session", lambda *_a, **_k: None)
    monkeypatch.setattr(sweep_module, "run_sweep", interrupted)
    argv = ["--config", "my lab.toml", "sweep", "--scales", "1k", "--repeats", "2", "--time-limit", "90",
            "--set", "spark.sql.shuffle.partitions=2,8", "--results", str(tmp_path / "r")]  # fmt: skip
    args = build_parser().parse_args(argv)
    assert run_sweep_command(counting_config(), args) == 130
    captured = capsys.readouterr()
    command = (
        f"lakelab --config 'my lab.toml' sweep --scales 1k --repeats 2 --time-limit 90 "
        f"--results {tmp_path / 'r'} --set spark.sql.shuffle.partitions=2,8 --resume sweep-x"
    )
    assert captured.err == (
        f"lakelab: sweep sweep-x interrupted after 1 of 4 runs (recorded in {tmp_path / 'r'}); "
        f"resume with: {command}\n"
    )
    # The printed command parses to the same options, plus --resume.
    again = build_parser().parse_args(shlex.split(command)[1:])
    assert vars(again) == {**vars(args), "resume": "sweep-x"}
    assert resume_command(again, "sweep-x") == command


class SlowWorkload(CountingWorkload):
    """Per point (its shuffle.partitions): a Spark job that sleeps, Python that sleeps, or nothing."""

    name = "slow"

    def work(self, spark: SparkSession, warehouse: str) -> None:
        partitions = spark.conf.get("spark.sql.shuffle.partitions")
        if partitions == "3":
            spark.sparkContext.parallelize([0], 1).foreach(lambda _row: time.sleep(60))
        elif partitions == "4":
            time.sleep(1.5)  # no Spark job to cancel: it returns, past its limit


def test_a_run_over_its_time_limit_is_stopped_and_recorded_as_failed(
    spark: SparkSession, tmp_path: Path
) -> None:
    grid = {"spark.sql.shuffle.partitions": ["3", "4", "2"]}
    sweep = {"scales": [100], "repeats": 1, "warmup": 0, "time_limit_s": 1, "grid": grid}
    config = parse_config({"sweep": sweep})
    started = time.perf_counter()
    summary = run_sweep(
        spark, config, {100: str(tmp_path / "landing")}, tmp_path / "work", tmp_path / "results",
        workload=SlowWorkload(), progress=lambda _l: None,
    )  # fmt: skip
    # The sleeping job was cancelled, not waited for (60 s).
    assert time.perf_counter() - started < 45
    runs = [record["payload"] for record in runs_in_order(tmp_path / "results")]
    assert [(r["status"], r["error"]) for r in runs] == [
        ("failed", "over its time limit of 1 s"),
        ("failed", "over its time limit of 1 s"),
        ("ok", None),
    ]
    assert all(r["time_limit_s"] == 1 for r in runs)
    assert summary.failed_runs == 2
    # The session is usable after the cancellation, and its setting is back.
    assert spark.range(5).count() == 5
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"


def test_a_child_run_over_its_time_limit_is_killed_with_its_own_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for `python -m harness.child` that starts a process of its own, as pyspark
    # starts its JVM, says its pid, and sleeps.
    child = (
        "import subprocess, sys, time; "
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(grandchild.pid, flush=True); time.sleep(60)"
    )
    monkeypatch.setattr(sweep_module, "CHILD_COMMAND", ("-c", child))
    plan = plan_point({"spark.driver.memory": "1g"}, lambda _key: False)
    lines: list[str] = []
    started = time.perf_counter()
    with pytest.raises(OverTimeLimitError, match=r"^over its time limit of 2 s$"):
        run_in_child(parse_config({}), plan, CountingWorkload(), "landing", str(tmp_path), [], 10,
                     lines.append, time_limit_s=2)  # fmt: skip
    assert time.perf_counter() - started < 20
    grandchild = Path(f"/proc/{int(lines[0])}/status")
    deadline = time.monotonic() + 10
    while grandchild.exists() and "\nState:\tZ" not in grandchild.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not grandchild.exists() or "\nState:\tZ" in grandchild.read_text()  # gone (or a zombie)
