"""Where a sweep writes: joined as text for URIs, below `paths.sweep` unless options say otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.commands import sweep_locations
from harness.sweep import scale_landing, sweep_landing_root, sweep_work_dir
from harness.workloads import LandingInfo, Progress, StageTiming, WorkloadResult
from lakelab.cli import build_parser
from lakelab.config import load_config, parse_config
from lakelab.paths import is_remote, join

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

COMPOSE_CONFIG = Path(__file__).resolve().parents[2] / "cluster" / "compose.lakelab.toml"


@pytest.mark.parametrize(
    ("root", "parts", "joined"),
    [
        ("s3a://lakelab/sweep", ("warehouses", "sweep-1"), "s3a://lakelab/sweep/warehouses/sweep-1"),
        ("s3a://lakelab/sweep/", ("landing",), "s3a://lakelab/sweep/landing"),
        ("s3a://lakelab", ("sweep",), "s3a://lakelab/sweep"),
        ("s3a://lakelab/", ("/sweep/", "run-000"), "s3a://lakelab/sweep/run-000"),
        ("s3a://lakelab/sweep", (), "s3a://lakelab/sweep"),
        ("file:///tmp/sweep", ("landing",), "file:///tmp/sweep/landing"),
        ("file:///", ("tmp",), "file:///tmp"),
        ("data/sweep", ("landing", "records-5"), "data/sweep/landing/records-5"),
        ("/abs/sweep/", ("warehouses",), "/abs/sweep/warehouses"),
    ],
)
def test_join_keeps_the_double_slash_of_uris(root: str, parts: tuple[str, ...], joined: str) -> None:
    assert join(root, *parts) == joined


def test_sweep_folders_derive_from_paths_sweep() -> None:
    assert sweep_landing_root("data/sweep") == "data/sweep/landing"
    assert sweep_work_dir("data/sweep") == "data/sweep/warehouses"
    assert scale_landing("s3a://lakelab/sweep/landing", 1_000) == "s3a://lakelab/sweep/landing/records-1000"


def test_default_locations_are_the_old_local_ones() -> None:
    config = parse_config({"sweep": {"scales": [100, 2_000]}})
    assert config.paths.sweep == "data/sweep"
    landings, work_dir = sweep_locations(config, None, None)
    assert landings == {100: "data/sweep/landing/records-100", 2_000: "data/sweep/landing/records-2000"}
    assert work_dir == "data/sweep/warehouses"


def test_options_win_over_paths_sweep() -> None:
    config = parse_config({"paths": {"sweep": "s3a://lakelab/sweep"}, "sweep": {"scales": [10]}})
    landings, work_dir = sweep_locations(config, "s3a://other/landing/", "/tmp/wh")
    assert landings == {10: "s3a://other/landing/records-10"}
    assert work_dir == "/tmp/wh"


def test_sweep_options_default_to_none_so_the_config_decides() -> None:
    args = build_parser().parse_args(["sweep"])
    assert args.landing_root is None and args.work_dir is None
    args = build_parser().parse_args(["sweep", "--landing-root", "s3a://b/l", "--work-dir", "s3a://b/w"])
    assert (args.landing_root, args.work_dir) == ("s3a://b/l", "s3a://b/w")


def test_compose_config_puts_everything_a_sweep_writes_on_s3a() -> None:
    config = load_config(COMPOSE_CONFIG)
    assert config.paths.sweep == "s3a://lakelab/sweep"
    landings, work_dir = sweep_locations(config, None, None)
    assert landings == {100_000: "s3a://lakelab/sweep/landing/records-100000"}
    assert work_dir == "s3a://lakelab/sweep/warehouses"
    assert all(is_remote(path) for path in [*landings.values(), work_dir])
    assert is_remote(config.paths.landing) and is_remote(config.paths.warehouse)


def test_compose_config_exports_metrics_to_other_containers() -> None:
    metrics = load_config(COMPOSE_CONFIG).metrics
    assert (metrics.exporter_port, metrics.exporter_host) == (9108, "0.0.0.0")
    assert metrics.scrape_targets_dir == "/opt/lakelab/targets"


class RecordingWorkload:
    """Touches no storage; remembers which warehouse each run was given."""

    name = "recording"
    uses_layers = True

    def __init__(self) -> None:
        self.warehouses: list[tuple[str, list[str]]] = []

    def prepare(
        self, spark: SparkSession, config: object, landing: str, records: int, progress: Progress
    ) -> LandingInfo:
        return LandingInfo(landing, records, generated=False, seconds=0.0)

    def run(
        self,
        spark: SparkSession,
        config: object,
        landing: str,
        warehouse: str,
        layers: Sequence[str],
        progress: Progress,
    ) -> WorkloadResult:
        self.work(spark, warehouse)
        self.warehouses.append((warehouse, list(layers)))
        return WorkloadResult(stages=[StageTiming("gold", "t", 1, 1, 0, 0.01)])

    def work(self, spark: SparkSession, warehouse: str) -> None:
        """What a run does before it is recorded: nothing here (tests' subclasses do more)."""


def test_a_sweep_on_s3a_keeps_its_uris_and_copies_and_deletes_through_storage(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import sweep as sweep_module

    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(sweep_module, "copy_tree", lambda _s, src, dst: calls.append(("copy", src, dst)))
    monkeypatch.setattr(sweep_module, "remove_tree", lambda _s, path: calls.append(("remove", path)))
    from harness import measure

    def footprint(warehouse: str, _spark: object = None) -> dict[str, dict[str, int]]:
        calls.append(("footprint", warehouse))
        return {}

    monkeypatch.setattr(measure, "table_footprint", footprint)
    sweep = {
        "scales": [100],
        "repeats": 1,
        "warmup": 0,
        "layers": ["gold"],
        "grid": {"spark.sql.shuffle.partitions": ["2", "3"]},
    }
    config = parse_config({"paths": {"sweep": "s3a://lakelab/sweep"}, "sweep": sweep})
    workload = RecordingWorkload()
    landings, work_dir = sweep_locations(config, None, None)
    summary = sweep_module.run_sweep(
        spark, config, landings, work_dir, tmp_path / "results", workload=workload, progress=lambda _l: None
    )
    assert summary.failed_runs == 0
    root = f"s3a://lakelab/sweep/warehouses/{summary.sweep_id}"
    assert workload.warehouses == [
        (f"{root}/upstream-100", ["bronze", "silver"]),
        (f"{root}/run-000", ["gold"]),
        (f"{root}/run-001", ["gold"]),
    ]
    assert calls == [
        ("copy", f"{root}/upstream-100", f"{root}/run-000"),
        ("footprint", f"{root}/run-000"),  # the copied tables, not charged to the run
        ("footprint", f"{root}/run-000"),
        ("remove", f"{root}/run-000"),
        ("copy", f"{root}/upstream-100", f"{root}/run-001"),
        ("footprint", f"{root}/run-001"),  # the copied tables, not charged to the run
        ("footprint", f"{root}/run-001"),
        ("remove", f"{root}/run-001"),
        ("remove", root),
    ]


def test_executors_lost_during_a_run_are_named_with_their_reason() -> None:
    from harness.measure import executors_lost_since

    executors = [
        {"id": "driver", "isActive": True, "hostPort": "10.0.0.9:4040"},
        {"id": "0", "isActive": True, "hostPort": "10.0.0.2:40000"},
        {
            "id": "1",
            "isActive": False,
            "hostPort": "10.0.0.3:40000",
            "removeTime": 900,
            "removeReason": "Worker shutting down",
        },
        {
            "id": "2",
            "isActive": False,
            "hostPort": "10.0.0.3:40001",
            "removeTime": 1_500,
            "removeReason": "Command exited with code 137",
        },
        {
            "id": "3",
            "isActive": False,
            "hostPort": "10.0.0.4:40000",
            "removeTime": 2_000,
            "removeReason": "Worker lost: Not receiving heartbeat for 60 seconds",
        },
    ]
    lost = executors_lost_since(executors, since_ms=1_000)
    assert lost == [
        {"id": "2", "host": "10.0.0.3", "reason": "Command exited with code 137", "killed": True},
        {
            "id": "3",
            "host": "10.0.0.4",
            "reason": "Worker lost: Not receiving heartbeat for 60 seconds",
            "killed": False,
        },
    ]
