"""A/B runs for `python -m pipeline.bench --baseline TREE`: this checkout against another one.

Each run is a child process (`python -m pipeline.bench` in the tree's folder, so the tree's
own code runs) into an empty warehouse, with a fresh JVM. The sides alternate, and which
side goes first swaps every repeat (ABBA), so a slow spell on the shared machine lands on
both. A parent thread samples the machine's load and the child's memory (Python and its JVM)
while each run goes. The baseline only has to print the line `record: PATH` that
`pipeline.bench` prints, so any earlier lakelab commit can be the baseline.

`--incremental` times only the landing's last batch: each side first ingests the batches
before it (untimed, once per side, through a view of the landing whose batch markers stop
earlier), and every timed run starts from a copy of that warehouse.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakelab.errors import UserError
from lakelab.memory import process_tree_rss
from lakelab.records import git_commit
from lakelab.sources import BATCH_MARKERS

SIDES = ("baseline", "candidate")
LAYER_ORDER = ("bronze", "silver", "gold")
# How often the parent samples the machine's load and the child's memory.
SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a source tree and the commit it holds."""

    name: str
    tree: Path
    commit: str


@dataclass
class _Samples:
    load: list[float] = field(default_factory=list)
    peak_rss_bytes: int = 0


def _sample(pid: int, samples: _Samples, stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_SECONDS):
        samples.load.append(os.getloadavg()[0])
        samples.peak_rss_bytes = max(samples.peak_rss_bytes, sum(process_tree_rss(pid)))


def record_path_from_output(output: str) -> Path | None:
    """The record a `pipeline.bench` child wrote: its last `record: PATH`."""
    for line in reversed(output.splitlines()):
        if "record: " in line:
            return Path(line.rsplit("record: ", 1)[1].strip())
    return None


def run_child(
    side: Side,
    landing: str,
    warehouse: Path,
    config: str | None,
    layers: str | None,
    log: Path,
) -> dict[str, Any]:
    """One timed run of a side's pipeline; its layers, wall time, load and peak memory."""
    command = [sys.executable, "-m", "pipeline.bench", "--landing", landing, "--warehouse", str(warehouse)]
    if config:
        command += ["--config", config]
    if layers:
        command += ["--layers", layers]
    env = {**os.environ, "PYTHONPATH": str(side.tree)}
    samples = _Samples()
    stop = threading.Event()
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen(command, cwd=side.tree, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=_sample, args=(child.pid, samples, stop), daemon=True)
        sampler.start()
        code = child.wait()
        stop.set()
        sampler.join()
    wall = time.perf_counter() - started
    output = log.read_text(encoding="utf-8", errors="replace")
    path = record_path_from_output(output)
    if code != 0 or path is None:
        raise UserError(f"the {side.name} run ({side.tree}) exited with {code}; its output is in {log}")
    path = path if path.is_absolute() else side.tree / path
    record = json.loads(path.read_text(encoding="utf-8"))
    # Its content is kept in the A/B record; a loose copy would look like a run of its own.
    path.unlink()
    payload = record["payload"]
    layers_done = payload["layers"]
    load = samples.load or [os.getloadavg()[0]]
    return {
        "side": side.name,
        "commit": side.commit,
        "command_seconds": round(wall, 2),
        "run_seconds": round(float(payload["run"]["seconds"]), 2),
        "layers": {name: layers_done[name]["seconds"] for name in LAYER_ORDER if name in layers_done},
        "rows": {name: layers_done[name]["rows_in"] for name in LAYER_ORDER if name in layers_done},
        "reconciled": bool(payload["run"].get("reconciled", False)),
        "load_average": {"mean": round(statistics.fmean(load), 2), "max": round(max(load), 2)},
        "peak_rss_bytes": samples.peak_rss_bytes,
    }


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians per side of each layer, the run and the command, and candidate / baseline."""
    medians: dict[str, dict[str, float]] = {}
    for side in SIDES:
        mine = [r for r in runs if r["side"] == side]
        if not mine:
            continue
        figures: dict[str, float] = {}
        for layer in LAYER_ORDER:
            values = [r["layers"][layer] for r in mine if layer in r["layers"]]
            if values:
                figures[layer] = round(statistics.median(values), 2)
        figures["run"] = round(statistics.median(r["run_seconds"] for r in mine), 2)
        figures["command"] = round(statistics.median(r["command_seconds"] for r in mine), 2)
        figures["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in mine)
        medians[side] = figures
    ratios = {}
    if len(medians) == len(SIDES):
        for key, base in medians["baseline"].items():
            new = medians["candidate"].get(key)
            if new is not None and base:
                ratios[key] = round(new / base, 3)
    return {
        "medians": medians,
        "ratios": ratios,
        "repeats": {s: sum(r["side"] == s for r in runs) for s in SIDES},
    }


def landing_view(landing: Path, before_batch: int, view: Path) -> Path:
    """A landing that shows only batches `< before_batch` as complete (symbolic links)."""
    if view.exists():
        shutil.rmtree(view)
    view.mkdir(parents=True)
    for entry in landing.iterdir():
        if entry.name != BATCH_MARKERS:
            (view / entry.name).symlink_to(entry.resolve())
    markers = view / BATCH_MARKERS
    markers.mkdir()
    for marker in sorted((landing / BATCH_MARKERS).glob("*.json")):
        if marker.stem.isdigit() and int(marker.stem) < before_batch:
            (markers / marker.name).symlink_to(marker.resolve())
    return view


def last_complete_batch(landing: Path) -> int:
    """The highest batch with a completion marker."""
    batches = [int(p.stem) for p in (landing / BATCH_MARKERS).glob("*.json") if p.stem.isdigit()]
    if not batches:
        raise UserError(f"{landing}: no complete batch (no {BATCH_MARKERS}/NNNN.json marker)")
    return max(batches)


def sides(baseline_tree: str, candidate_tree: Path) -> tuple[Side, Side]:
    """The two trees, checked: the baseline must hold a `pipeline/bench.py`."""
    baseline = Path(baseline_tree).resolve()
    if not (baseline / "pipeline" / "bench.py").is_file():
        raise UserError(f"--baseline {baseline_tree}: no pipeline/bench.py there (give a lakelab checkout)")
    return (
        Side("baseline", baseline, git_commit(baseline)),
        Side("candidate", candidate_tree.resolve(), git_commit(candidate_tree)),
    )


def run_ab(
    pair: tuple[Side, Side],
    landing: str,
    work: Path,
    repeats: int,
    config: str | None,
    layers: str | None,
    incremental: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Interleaved runs of both sides; the record's payload."""
    if repeats < 1:
        raise UserError(f"--repeats {repeats}: give 1 or more")
    landing_path = Path(landing).resolve()
    # Absolute: each child runs in its own tree's folder, where a relative path means another place.
    work = work.resolve()
    if not landing_path.is_dir():
        raise UserError(f"--landing {landing}: not a local folder (A/B runs read a local landing)")
    work.mkdir(parents=True, exist_ok=True)
    primed: dict[str, Path] = {}
    timed_batch = None
    if incremental:
        timed_batch = last_complete_batch(landing_path)
        if timed_batch == 0:
            raise UserError(f"--incremental: {landing} has one batch; generate it with --batches 1 or more")
        view = landing_view(landing_path, timed_batch, work / "landing-before-last")
        for side in pair:
            target = work / f"primed-{side.name}"
            if target.exists():
                shutil.rmtree(target)
            say(f"{side.name}: ingesting batches 0..{timed_batch - 1} (untimed) into {target}")
            run_child(side, str(view), target, config, layers, work / f"prime-{side.name}.log")
            primed[side.name] = target
    runs = []
    for repeat in range(repeats):
        order = pair if repeat % 2 == 0 else pair[::-1]
        for side in order:
            warehouse = work / f"warehouse-{side.name}"
            if warehouse.exists():
                shutil.rmtree(warehouse)
            if side.name in primed:
                shutil.copytree(primed[side.name], warehouse, symlinks=True)
            log = work / f"{side.name}-{repeat}.log"
            say(f"repeat {repeat + 1}/{repeats} {side.name:<9} ({side.commit[:7]}): running (log {log})")
            run = run_child(side, str(landing_path), warehouse, config, layers, log)
            run["repeat"] = repeat
            runs.append(run)
            say(_run_line(run, repeat, repeats))
            shutil.rmtree(warehouse, ignore_errors=True)
    for target in primed.values():
        shutil.rmtree(target, ignore_errors=True)
    return {
        "landing": str(landing_path),
        "mode": "incremental" if incremental else "empty warehouse",
        "timed_batch": timed_batch,
        "layers": layers or "config",
        "sides": {side.name: {"tree": str(side.tree), "commit": side.commit} for side in pair},
        "runs": runs,
        "summary": summarize(runs),
    }


def _run_line(run: dict[str, Any], repeat: int, repeats: int) -> str:
    layer_text = ", ".join(f"{k} {v:.1f}s" for k, v in run["layers"].items())
    load = run["load_average"]["mean"]
    memory = run["peak_rss_bytes"] / 2**30
    side = f"{run['side']:<9} ({run['commit'][:7]})"
    return (
        f"repeat {repeat + 1}/{repeats} {side}: run {run['run_seconds']:.1f}s "
        f"[{layer_text}], command {run['command_seconds']:.1f}s, load {load:.1f}, memory {memory:.2f} GiB"
        + ("" if run["reconciled"] else ", NOT RECONCILED")
    )


def summary_lines(payload: dict[str, Any]) -> list[str]:
    """The printed comparison: one line per layer, medians and candidate / baseline."""
    summary = payload["summary"]
    medians, ratios = summary["medians"], summary["ratios"]
    base, cand = medians.get("baseline", {}), medians.get("candidate", {})
    sides_info = payload["sides"]
    lines = [
        f"{'':<9}{'baseline ' + sides_info['baseline']['commit'][:7]:>20}"
        f"{'candidate ' + sides_info['candidate']['commit'][:7]:>22}{'ratio':>9}"
    ]
    for key in (*LAYER_ORDER, "run", "command"):
        if key not in base and key not in cand:
            continue
        ratio = f"{ratios[key]:.2f}x" if key in ratios else "-"
        lines.append(
            f"{key:<9}{base.get(key, float('nan')):>18.1f} s{cand.get(key, float('nan')):>20.1f} s{ratio:>9}"
        )
    base_gib, cand_gib = (side.get("peak_rss_bytes", 0) / 2**30 for side in (base, cand))
    lines.append(f"{'memory':<9}{base_gib:>16.2f} GiB{cand_gib:>18.2f} GiB")
    repeats = summary["repeats"]
    lines.append(
        f"medians of {repeats['baseline']} and {repeats['candidate']} runs ({payload['mode']}); "
        "ratio < 1: the candidate is faster"
    )
    return lines
