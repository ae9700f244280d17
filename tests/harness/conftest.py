"""Hand-built sweep records, written through lakelab.records like the harness writes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.sweep import HARNESS_SCHEMA, RUN_KIND, SUMMARY_KIND
from lakelab.records import new_record, write_record

SweepBuilder = Callable[..., str]


def run_payload(
    sweep_id: str,
    index: int,
    scale: int,
    point: str,
    settings: Mapping[str, str],
    repeat: int,
    seconds: float,
    *,
    baseline: bool,
    output_bytes: int = 1_000_000,
    output_files: int = 4,
    status: str = "ok",
) -> dict[str, Any]:
    """A `sweep_run` payload as `harness.sweep.run_sweep` writes it."""
    payload: dict[str, Any] = {
        "harness_schema": HARNESS_SCHEMA,
        "sweep_id": sweep_id,
        "run_index": index,
        "scale": scale,
        "repeat": repeat,
        "point": point,
        "point_index": 0,
        "settings": dict(settings),
        "needs_restart": False,
        "is_baseline": baseline,
        "workload": "pipeline",
        "layers": ["bronze", "silver", "gold"],
        "status": status,
        "error": None if status == "ok" else "PipelineError: reconciliation failed",
    }
    if status != "ok":
        return payload
    payload.update(
        total_seconds=seconds,
        records=scale,
        records_per_second=round(scale / seconds, 2),
        stages=[
            {
                "layer": "bronze",
                "table": "crm_accounts",
                "rows_in": scale,
                "rows_out": scale,
                "rows_quarantined": 0,
                "seconds": seconds * 0.5,
            },
            {
                "layer": "silver",
                "table": "accounts",
                "rows_in": scale,
                "rows_out": scale,
                "rows_quarantined": 0,
                "seconds": seconds * 0.25,
            },
        ],
        layer_seconds={"bronze": seconds * 0.5, "silver": seconds * 0.25},
        reconciled=True,
        workload_run_id="run-1",
        task_metrics={
            "executor_cpu_time_ms": seconds * 1000,
            "jvm_gc_time_ms": seconds * 100,
            "shuffle_write_bytes": 2_000_000,
            "memory_bytes_spilled": 0,
            "disk_bytes_spilled": 0,
            "tasks": 10,
        },
        memory={"peak_driver_rss_bytes": 1_500_000_000},
        load_average={"before": 3.0, "after": 5.0},
        tables={"bronze/crm_accounts": {"files": output_files, "bytes": output_bytes, "log_bytes": 0}},
        output_bytes=output_bytes,
        output_files=output_files,
        spark={"master": "local[2]", "default_parallelism": 2},
        detail={},
    )
    return payload


@pytest.fixture
def make_sweep() -> SweepBuilder:
    """Write a sweep's run records and summary; `points` maps label → (settings, seconds per repeat)."""

    def build(
        results: Path,
        points: Mapping[str, tuple[Mapping[str, str], Sequence[float]]],
        scale: int = 1_000,
        sweep_id: str = "sweep-test",
        failed: Sequence[str] = (),
        cost: Mapping[str, float] | None = None,
        scales: Sequence[int] = (),
    ) -> str:
        """`scales` (several) runs every point at each, its seconds times scale / first scale."""
        labels = list(points)
        axes = list(next(iter(points.values()))[0])
        repeats = max(len(seconds) for _settings, seconds in points.values())
        ids = []
        index = 0
        every_scale = list(scales) or [scale]
        for at in every_scale:
            for repeat in range(repeats):
                for label in labels:
                    settings, seconds = points[label]
                    if repeat >= len(seconds):
                        continue
                    status = "failed" if label in failed and repeat == 0 else "ok"
                    payload = run_payload(
                        sweep_id, index, at, label, settings, repeat,
                        seconds[repeat] * at / every_scale[0],
                        baseline=label == labels[0], status=status,
                    )  # fmt: skip
                    record = new_record(RUN_KIND, payload, seed=42)
                    write_record(record, results)
                    ids.append(record["record_id"])
                    index += 1
        summary = {
            "harness_schema": HARNESS_SCHEMA,
            "sweep_id": sweep_id,
            "workload": "pipeline",
            "scales": every_scale,
            "repeats": repeats,
            "warmup": 0,
            "layers": ["bronze", "silver", "gold"],
            "axes": axes,
            "grid": {axis: [points[label][0][axis] for label in labels] for axis in axes},
            "baseline": {"point": labels[0], "settings": dict(points[labels[0]][0])},
            "points": [
                {"point": label, "settings": dict(points[label][0]), "needs_restart": False}
                for label in labels
            ],
            "order": [],
            "run_record_ids": ids,
            "landings": [],
            "failed_runs": len(failed),
            "seconds": 100.0,
            "spark": {"master": "local[2]", "default_parallelism": 2},
            "pipeline": {},
            "cost": dict(cost or {"usd_per_core_hour": 0.048, "usd_per_gb_month": 0.023, "cores": 0}),
        }
        write_record(new_record(SUMMARY_KIND, summary, seed=42), results)
        return sweep_id

    return build


@pytest.fixture
def make_run_payload() -> Callable[..., dict[str, Any]]:
    """`run_payload` itself, for tests that need one run's payload."""
    return run_payload
