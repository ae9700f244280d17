"""Result records: data with a version, so any report can be rebuilt from them.

Every record says which format it is in (`api_version`), which code produced it
(git commit), which Spark, Delta and Python, which machine and which seed.
Records are JSON files, one per run, never edited after they are written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import uuid
from collections.abc import Mapping
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

API_VERSION = 1


def git_commit(cwd: str | Path | None = None) -> str:
    """The commit of the code that ran, with `-dirty` when the tree had changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


# platform.machine() spells one architecture several ways: Windows says AMD64, Linux aarch64
# and macOS arm64. Records use one name each, so runs on the same kind of CPU group together.
_ARCHITECTURE_NAMES = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def normalised_architecture(machine: str) -> str:
    """`x86_64` or `arm64` for the spellings of those two; any other `platform.machine()` as given."""
    return _ARCHITECTURE_NAMES.get(machine.lower(), machine)


def provenance() -> dict[str, Any]:
    """Who and what produced a result: code, versions and machine."""
    return {
        "git_commit": git_commit(),
        "lakelab_version": _version("lakelab"),
        "spark_version": _version("pyspark"),
        "delta_version": _version("delta-spark"),
        "python_version": platform.python_version(),
        "machine": {
            "hostname": platform.node(),
            "platform": platform.platform(),
            "architecture": normalised_architecture(platform.machine()),
            "cpu_count": os.cpu_count() or 0,
            "memory_bytes": _memory_bytes(),
        },
    }


# The version of the sweep records' payloads (`harness_schema` in each), apart from the
# envelope's `api_version`: a reader refuses a sweep written in another.
SWEEP_SCHEMA = 1


class RecordKind(StrEnum):
    """Every kind of result record, declared once: writers name theirs here, readers filter by it."""

    SWEEP_PLAN = "sweep_plan"  # a sweep's plan, before its first run (`lakelab sweep --resume`)
    SWEEP_RUN = "sweep_run"  # one measured run of one point at one scale
    SWEEP_SUMMARY = "sweep_summary"  # a finished sweep: its points, order and run record ids
    PIPELINE_BENCHMARK = "pipeline_benchmark"  # python -m pipeline.bench
    PIPELINE_AB_BENCHMARK = "pipeline_ab_benchmark"  # python -m pipeline.bench --baseline
    DATAGEN_BENCHMARK = "datagen_benchmark"  # benchmarks/datagen_bench.py
    FLOOR_BENCHMARK = "floor_benchmark"  # benchmarks/floor_bench.py
    DV_BENCHMARK = "dv_benchmark"  # benchmarks/dv_bench.py
    MAINTAIN_BENCHMARK = "maintain_benchmark"  # benchmarks/maintain_bench.py
    HARNESS_OVERHEAD_BENCHMARK = "harness_overhead_benchmark"  # benchmarks/harness_overhead.py
    GOLD_ENGINES_BENCHMARK = "gold_engines_benchmark"  # benchmarks/gold_engines.py
    LOADTEST = "loadtest"  # lakelab loadtest: Locust's figures on the Gold layer
    LIFECYCLE = "lifecycle"  # lakelab lifecycle: CDC batches, OPTIMIZE, time travel, VACUUM


def short_key(key: str) -> str:
    """`spark.sql.shuffle.partitions` → `shuffle.partitions`, for labels and plots."""
    for prefix in ("spark.sql.", "spark."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def point_label(settings: Mapping[str, object]) -> str:
    """A sweep point's one name, in records, reports and Prometheus labels alike: its
    settings with short keys, in axis order (`shuffle.partitions=8, adaptive.enabled=false`)."""
    return ", ".join(f"{short_key(key)}={value}" for key, value in settings.items()) or "default"


def new_record(kind: str, payload: Mapping[str, Any], seed: int | None) -> dict[str, Any]:
    """A result record of `kind`, one of `RecordKind` (an undeclared kind is a ValueError)."""
    if kind not in set(RecordKind):
        raise ValueError(f"record kind {kind!r} is not declared in lakelab.records.RecordKind")
    return {
        "api_version": API_VERSION,
        "kind": str(kind),
        "record_id": uuid.uuid4().hex,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "provenance": provenance(),
        "payload": dict(payload),
    }


def write_record(record: Mapping[str, Any], directory: str | Path) -> Path:
    """Write one record as `<dir>/<kind>-<created>-<id>.json`, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = str(record["created_at"]).replace(":", "").replace("-", "")
    path = directory / f"{record['kind']}-{stamp}-{str(record['record_id'])[:8]}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_records(directory: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    """All records in `directory` (of one `kind`), oldest first; unknown versions are errors."""
    records = []
    for path in sorted(Path(directory).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        version = record.get("api_version")
        if version != API_VERSION:
            raise ValueError(f"{path}: api_version {version!r} is not {API_VERSION}; migrate it first")
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return sorted(records, key=lambda r: str(r["created_at"]))
