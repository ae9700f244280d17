"""`lakelab lifecycle`'s report: the drift batch by batch, what OPTIMIZE recovered, time travel
and VACUUM, as Markdown with three PNGs (pure apart from writing them)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.report import fmt_bytes, markdown_table, new_figure, save_png

LAYER_COLOURS = {"bronze": "#8c6d31", "silver": "#6b6ecf", "gold": "#e7ba52"}


def drift(per_batch: Sequence[Mapping[str, Any]], figure: str) -> tuple[float, float] | None:
    """`figure` ("silver", "gold" seconds or "reads") at the first and the last incremental batch
    (batch 0 is the initial load, not a MERGE); None with no incremental batch."""
    incremental = [b for b in per_batch if b["batch"] > 0]
    if not incremental:
        return None

    def value(entry: Mapping[str, Any]) -> float:
        if figure == "reads":
            return float(entry["reads"]["median_round_ms"])
        return float(entry["layer_seconds"].get(figure, 0.0))

    return value(incremental[0]), value(incremental[-1])


def _batch_ticks(axes: Any, batches: Sequence[int], optimize_at: int | None = None) -> None:
    """Whole batch numbers on the x axis (about 10 of them), and OPTIMIZE's position named."""
    step = max(1, len(batches) // 10)
    ticks = list(batches[::step])
    labels = [str(b) for b in ticks]
    if optimize_at is not None:
        ticks.append(optimize_at)
        labels.append("OPTIMIZE")
    axes.set_xticks(ticks, labels)


def plot_seconds(per_batch: Sequence[Mapping[str, Any]], path: Path) -> Path:
    figure = new_figure()
    axes = figure.subplots()
    incremental = [b for b in per_batch if b["batch"] > 0]
    for layer, colour in LAYER_COLOURS.items():
        axes.plot(
            [b["batch"] for b in incremental],
            [b["layer_seconds"].get(layer, 0.0) for b in incremental],
            marker="o",
            color=colour,
            label=layer + (" (MERGE)" if layer == "silver" else ""),
        )
    _batch_ticks(axes, [b["batch"] for b in incremental])
    axes.set_xlabel("CDC batch")
    axes.set_ylabel("seconds")
    axes.set_ylim(bottom=0)
    axes.set_title("Each incremental batch's time per layer (batch 0, the initial load, left out)")
    axes.legend()
    axes.grid(alpha=0.3)
    return save_png(figure, path)


def plot_files(per_batch: Sequence[Mapping[str, Any]], optimize: Mapping[str, Any], path: Path) -> Path:
    figure = new_figure()
    axes = figure.subplots()
    last = per_batch[-1]["batch"]
    for layer in ("silver", "gold"):
        colour = LAYER_COLOURS[layer]
        axes.plot(
            [b["batch"] for b in per_batch],
            [b["layer_totals"].get(layer, {}).get("files", 0) for b in per_batch],
            marker="o",
            color=colour,
            label=f"{layer}: files after each batch",
        )
        axes.scatter(
            [last + 1],
            [optimize["layer_totals"].get(layer, {}).get("files", 0)],
            marker="*",
            s=160,
            color=colour,
            edgecolor="black",
            label=f"{layer}: after OPTIMIZE",
            zorder=3,
        )
    _batch_ticks(axes, [b["batch"] for b in per_batch], last + 1)
    axes.set_xlabel("batch")
    axes.set_ylabel("files in the tables' current versions")
    axes.set_ylim(bottom=0)
    axes.set_title("Files per layer, batch by batch, and after OPTIMIZE")
    axes.legend()
    axes.grid(alpha=0.3)
    return save_png(figure, path)


def plot_reads(per_batch: Sequence[Mapping[str, Any]], optimize: Mapping[str, Any], path: Path) -> Path:
    figure = new_figure(9.0, 5.0)
    axes = figure.subplots()
    names = list(per_batch[0]["reads"]["queries"])
    last = per_batch[-1]["batch"]
    colours = [f"C{i}" for i in range(len(names))]
    for name, colour in zip(names, colours, strict=True):
        medians = [statistics.median(b["reads"]["queries"][name]["ms"]) for b in per_batch]
        axes.plot([b["batch"] for b in per_batch], medians, marker=".", color=colour, label=name)
        after = optimize["reads"]["queries"][name]["ms"]
        axes.scatter(
            [last + 1],
            [statistics.median(after)],
            marker="*",
            s=140,
            color=colour,
            edgecolor="black",
            zorder=3,
        )
    _batch_ticks(axes, [b["batch"] for b in per_batch], last + 1)
    axes.set_xlabel("batch (stars: after OPTIMIZE)")
    axes.set_ylabel("median ms")
    axes.set_yscale("log")
    axes.set_title("Read latency of each query, batch by batch, and after OPTIMIZE")
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3, which="both")
    return save_png(figure, path)


def _batches_table(per_batch: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for b in per_batch:
        seconds = b["layer_seconds"]
        totals = b["layer_totals"]
        rows.append(
            [
                str(b["batch"]),
                *(f"{seconds.get(layer, 0.0):.1f}" for layer in ("bronze", "silver", "gold")),
                *(str(totals.get(layer, {}).get("files", 0)) for layer in ("silver", "gold")),
                fmt_bytes(totals.get("silver", {}).get("bytes", 0)),
                f"{b['reads']['median_round_ms']:.0f}",
            ]
        )
    header = [
        "batch",
        "bronze s",
        "silver s (MERGE)",
        "gold s",
        "silver files",
        "gold files",
        "silver size",
        "reads ms/round",
    ]
    return markdown_table(header, rows)


def _optimize_table(optimize: Mapping[str, Any]) -> str:
    rows = []
    for name, e in optimize["ratios"].items():
        rows.append([name, "-" if e["ratio"] is None else f"{e['ratio']:.2f}", e["text"]])
    return markdown_table(["reads", "after / before OPTIMIZE", "estimate"], rows)


def _travel_table(travel: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> str:
    later = {(t["batch"], t["table"]): t for t in after}
    rows = []
    for t in travel:
        then = later.get((t["batch"], t["table"]), {})
        if not t["readable"]:
            read_back = "unreadable: " + t["error"][:80]
        else:
            read_back = f"{t['rows']:,}" + ("" if t["matches"] else " (differs)")
        rows.append(
            [
                str(t["batch"]),
                t["table"],
                str(t["version"]),
                f"{t['expected_rows']:,}",
                read_back,
                f"{t['ms']:.0f}",
                "yes" if then.get("readable") else "no",
            ]
        )
    return markdown_table(
        ["batch", "table", "version", "rows then", "read back", "ms", "readable after VACUUM"], rows
    )


def _failure_lines(after: Sequence[Mapping[str, Any]]) -> list[str]:
    failed = [t for t in after if not t["readable"]]
    if not failed:
        return []
    first = failed[0]
    return [
        f"A read of a version whose files VACUUM deleted fails; the first ({first['table']} at version "
        f"{first['version']}): `{first['error']}`",
        "",
    ]


def markdown(payload: Mapping[str, Any], images: Mapping[str, Path], out: Path) -> str:
    per_batch = payload["per_batch"]
    optimize = payload["optimize"]
    vacuum = payload["vacuum"]
    lines = [
        f"# Table life cycle: {payload['records']:,} records, {payload['batches']} CDC batch"
        + ("" if payload["batches"] == 1 else "es"),
        "",
        f"Batch 0 (the initial load) and then each CDC batch through Bronze → Silver → Gold on "
        f"`{payload['spark_master']}`, one after another into one warehouse; after each, the tables' "
        f"files and the same {len(payload['queries'])} reads, {payload['reads_per_measure']} rounds. "
        "Then OPTIMIZE, time travel and VACUUM.",
        "",
        "Every batch reconciled (rows in = rows out + rows quarantined)."
        if all(b["reconciled"] for b in per_batch)
        else "**Some batch did not reconcile**: see the record's `per_batch`.",
        "",
    ]
    silver = drift(per_batch, "silver")
    reads = drift(per_batch, "reads")
    if silver and reads:
        lines += [
            f"From the first CDC batch to the last, Silver's MERGEs went from {silver[0]:.1f} s to "
            f"{silver[1]:.1f} s and a round of reads from {reads[0]:.0f} ms to {reads[1]:.0f} ms.",
            "",
        ]
    lines += [
        "## Batch by batch",
        "",
        f"![time per layer]({images['seconds'].relative_to(out)})",
        "",
        f"![files]({images['files'].relative_to(out)})",
        "",
        f"![reads]({images['reads'].relative_to(out)})",
        "",
        _batches_table(per_batch),
        "",
        "## What OPTIMIZE recovered",
        "",
        f"OPTIMIZE (ZORDER BY each contract's columns) of every Silver and Gold table took "
        f"{optimize['seconds']:.1f} s. The same reads, after it against after the last batch "
        "(medians; 95% bootstrap intervals of the ratio):",
        "",
        _optimize_table(optimize),
        "",
        "## Time travel and VACUUM",
        "",
        f"Each Silver table read at the version a batch left it at (a full read of its files, rows "
        f"compared with what the table held then). VACUUM with a retention of {vacuum['retain_hours']:g} h "
        f"then took {vacuum['seconds']:.1f} s: data files on disk {vacuum['disk_before']['files']:,} "
        f"({fmt_bytes(vacuum['disk_before']['bytes'])}) → {vacuum['disk_after']['files']:,} "
        f"({fmt_bytes(vacuum['disk_after']['bytes'])}); the last column says which versions can "
        "still be read after it. "
        + (
            "The current version of every Silver table read the same rows and keys before and after it."
            if vacuum["current_kept"]
            else "**The current versions read differently after it**: see the record."
        ),
        "",
        _travel_table(payload["time_travel"], vacuum["time_travel_after"]),
        "",
        *_failure_lines(vacuum["time_travel_after"]),
        "## The reads",
        "",
        *(f"- `{name}`: `{sql}`" for name, sql in payload["queries"].items()),
        "",
    ]
    return "\n".join(lines)


def write_report(payload: Mapping[str, Any], out: Path) -> Path:
    """`report.md` and its PNGs in `out`; the report's path."""
    images = {
        "seconds": plot_seconds(payload["per_batch"], out / "img" / "seconds.png"),
        "files": plot_files(payload["per_batch"], payload["optimize"], out / "img" / "files.png"),
        "reads": plot_reads(payload["per_batch"], payload["optimize"], out / "img" / "reads.png"),
    }
    path = out / "report.md"
    path.write_text(markdown(payload, images, out), encoding="utf-8")
    return path
