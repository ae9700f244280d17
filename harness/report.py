"""`lakelab report`: a Markdown report with PNG plots, rendered from result records only.

Nothing here reads the warehouse or asks Spark: every figure comes from `sweep_run` and
`sweep_summary` records, so any report can be rebuilt on another machine from the records.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.costs import PriceFile, load_prices, run_cost
from harness.results import CostAssumptions, PointStats, Sweep, point_stats
from harness.scaling import (
    CONFIDENCE,
    STAGES,
    Points,
    PowerFit,
    Prediction,
    baseline_points,
    fits,
    predictions,
)
from harness.search import STOP_BUDGET, count_text
from harness.stats import format_estimate
from lakelab.records import short_key

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LAYER_COLORS = {
    "bronze": "#b08d57",
    "silver": "#9ea7b3",
    "gold": "#d4a017",
    "aggregate": "#4c72b0",
    "run": "#333333",
}
BASELINE_COLOR = "#4c72b0"
OTHER_COLOR = "#8fb3de"
PROMOTED_COLOR = "#dd8452"
DROPPED_COLOR = "#9a9a9a"


def fmt_seconds(value: float) -> str:
    """Seconds with two decimals."""
    return f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio to the baseline (`1.00×` is the baseline itself)."""
    return "n/a" if value is None else f"{value:.2f}×"


def fmt_bytes(value: float) -> str:
    """Bytes in the largest unit that keeps the number readable."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def fmt_usd(value: float) -> str:
    """Dollars with enough digits for fractions of a cent."""
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _wrap(label: str) -> str:
    """One setting per line, long ones wrapped, so tick labels of neighbours do not collide."""
    lines = [line for part in label.split(", ") for line in textwrap.wrap(part, 24)]
    return "\n".join(lines) or label


def _width(points: int) -> float:
    """Figure width that leaves every point's label its own room."""
    return max(8.0, 1.25 * points + 2.0)


def _plain(text: str) -> str:
    """Dollar signs as text: matplotlib reads `$...$` as math."""
    return text.replace("$", r"\$")


def new_figure(width: float = 8.0, height: float = 4.5) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def save_png(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the file, so the same records give the same bytes.
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def plot_seconds(stats: Sequence[PointStats], path: Path) -> Path:
    """Median wall seconds per point (bars) with the repeats' min–max (whiskers), per scale."""
    scales = sorted({s.scale for s in stats})
    per_scale = max(sum(1 for s in stats if s.scale == scale) for scale in scales)
    figure = new_figure(_width(per_scale), 1.0 + 3.4 * len(scales))
    axes = figure.subplots(len(scales), 1, squeeze=False)
    for row, scale in enumerate(scales):
        ax = axes[row][0]
        points = [s for s in stats if s.scale == scale]
        xs = range(len(points))
        medians = [p.median_seconds for p in points]
        lower = [p.median_seconds - p.min_seconds for p in points]
        upper = [p.max_seconds - p.median_seconds for p in points]
        colors = [BASELINE_COLOR if p.is_baseline else OTHER_COLOR for p in points]
        ax.bar(xs, medians, color=colors, yerr=[lower, upper], capsize=6, ecolor="#333333")
        for x, p in zip(xs, points, strict=True):
            ax.annotate(
                f"{p.median_seconds:.1f}s\n{fmt_ratio(p.ratio_to_baseline)}",
                (x, p.max_seconds),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(list(xs), [_wrap(p.point) for p in points], fontsize=8)
        ax.set_ylabel("wall seconds per run")
        ax.set_ylim(0, max((p.max_seconds for p in points), default=1.0) * 1.3 or 1.0)
        ax.set_title(f"{scale:,} records: median of repeats, whiskers min–max (dark = baseline)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    return save_png(figure, path)


def plot_stages(stats: Sequence[PointStats], path: Path) -> Path:
    """Median seconds per pipeline layer, stacked, per point, at the largest scale."""
    scale = max(s.scale for s in stats)
    points = [s for s in stats if s.scale == scale]
    layers: list[str] = []
    for p in points:
        layers += [layer for layer in p.stage_median_seconds if layer not in layers]
    figure = new_figure(_width(len(points)) + 1.5)
    ax = figure.subplots()
    bottoms = [0.0] * len(points)
    xs = list(range(len(points)))
    for index, layer in enumerate(layers):
        heights = [p.stage_median_seconds.get(layer, 0.0) for p in points]
        color = LAYER_COLORS.get(layer, f"C{index}")
        ax.bar(xs, heights, bottom=bottoms, label=layer, color=color, edgecolor="white")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    overhead = [max(p.median_seconds - b, 0.0) for p, b in zip(points, bottoms, strict=True)]
    ax.bar(xs, overhead, bottom=bottoms, label="outside stages", color="#dddddd", edgecolor="white")
    ax.set_xticks(xs, [_wrap(p.point) for p in points], fontsize=8)
    ax.set_ylabel("median seconds")
    ax.set_title(f"Where the time goes, per layer ({scale:,} records)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return save_png(figure, path)


def plot_throughput(stats: Sequence[PointStats], path: Path) -> Path | None:
    """Median records/s against scale, one line per point, log-log, min–max of the repeats as bars.

    None with fewer than two scales: one scale has no trend to draw, and a line between two
    points a decade apart is only honest on log axes.
    """
    scales = sorted({s.scale for s in stats})
    if len(scales) < 2:
        return None
    figure = new_figure()
    ax = figure.subplots()
    points = list(dict.fromkeys(s.point for s in stats))
    for index, point in enumerate(points):
        series = sorted(
            (s for s in stats if s.point == point and s.median_seconds > 0), key=lambda s: s.scale
        )
        if not series:
            continue
        medians = [s.median_records_per_second for s in series]
        # The slowest and fastest repeat bound the throughput: records / max s .. records / min s.
        low = [m - s.scale / s.max_seconds for m, s in zip(medians, series, strict=True)]
        high = [s.scale / s.min_seconds - m for m, s in zip(medians, series, strict=True)]
        ax.errorbar(
            [s.scale for s in series],
            medians,
            yerr=[[max(0.0, v) for v in low], [max(0.0, v) for v in high]],
            marker="o",
            capsize=3,
            label=point,
            color=f"C{index}",
            linewidth=2.5 if series[0].is_baseline else 1.5,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(scales, [count_text(scale) for scale in scales])
    ax.minorticks_off()
    ax.set_xlabel("records in the data set (log scale)")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    ax.set_ylabel("records per second (median; bars: min–max of repeats; log scale)")
    ax.set_title("Throughput against scale", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return save_png(figure, path)


def plot_growth(
    points: Points, fitted: Sequence[PowerFit], predicted: Sequence[Prediction], path: Path
) -> Path:
    """Seconds against records on log-log axes per stage: the runs, each stage's fit as a line
    (its exponent in the legend), and each prediction from smaller scales as a hollow marker."""
    figure = new_figure()
    ax = figure.subplots()
    by_stage = {fit.stage: fit for fit in fitted}
    scales = sorted({records for runs in points.values() for records, _ in runs})
    for stage in STAGES:
        runs = points.get(stage)
        fit = by_stage.get(stage)
        if not runs or fit is None:
            continue
        color = LAYER_COLORS[stage]
        ax.scatter([r for r, _ in runs], [s for _, s in runs], color=color, s=18, zorder=3)
        line = [min(scales), max(scales)]
        ax.plot(line, [fit.predict(r) for r in line], color=color, label=f"{stage}: b = {fit.exponent:.2f}")
        guesses = [p for p in predicted if p.stage == stage]
        ax.scatter(
            [p.scale for p in guesses],
            [p.predicted_s for p in guesses],
            facecolors="none",
            edgecolors=color,
            s=70,
            marker="D",
            zorder=4,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(scales, [count_text(scale) for scale in scales])
    ax.minorticks_off()
    ax.set_xlabel("records in the data set (log scale)")
    from matplotlib.ticker import FuncFormatter, LogLocator

    # Ticks at 1, 2 and 5 of each decade: runs within one decade would otherwise get none.
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.set_ylabel("wall seconds (log scale)")
    ax.set_title(
        "Seconds against records, baseline runs; lines: fitted seconds = c × records^b; "
        "hollow diamonds: predicted from the smaller scales",
        fontsize=8,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return save_png(figure, path)


def _interval(fit: PowerFit) -> str:
    if fit.interval is None:
        return "n/a (needs 3+ runs)"
    return f"{fit.interval[0]:.2f} to {fit.interval[1]:.2f}"


def growth_text(sweep: Sweep, out: Path) -> str:
    """The baseline point's growth exponents and predictions, or why there are none."""
    points = baseline_points(sweep.runs)
    fitted = fits(points)
    if not fitted:
        return (
            "No growth to fit: the baseline finished runs at fewer than two scales "
            "(`lakelab scale --records 1M,10M` runs two)."
        )
    predicted = predictions(points)
    image = plot_growth(points, fitted, predicted, out / "img" / "growth.png")
    lines = [
        "Each stage's seconds fitted as seconds = c × records^b over the baseline's runs "
        f"(least squares on logs; {CONFIDENCE:.0%} t-interval of b). b = 1 is linear; below 1, "
        "fixed costs still weigh; above 1, each record costs more as the data grows.",
        "",
        markdown_table(
            ["stage", "exponent b", f"{CONFIDENCE:.0%} interval", "runs", "scales"],
            [
                [
                    f.stage,
                    f"{f.exponent:.2f}",
                    _interval(f),
                    str(f.runs),
                    ", ".join(count_text(s) for s in f.scales),
                ]
                for f in fitted
            ],
        ),
        "",
    ]
    if predicted:
        lines += [
            "Each scale predicted from the smaller scales' runs alone, beside its measured median:",
            "",
            markdown_table(
                ["stage", "scale", "predicted from", "predicted s", "measured s", "measured / predicted"],
                [
                    [
                        p.stage,
                        count_text(p.scale),
                        ", ".join(count_text(s) for s in p.from_scales),
                        fmt_seconds(p.predicted_s),
                        fmt_seconds(p.measured_s),
                        fmt_ratio(p.ratio),
                    ]
                    for p in predicted
                ],
            ),
            "",
        ]
    else:
        lines += [
            "No prediction: a scale is predicted from two or more smaller ones (three scales or more).",
            "",
        ]
    lines.append(f"![seconds against records, fitted]({image.relative_to(out).as_posix()})")
    return "\n".join(lines)


def plot_cost(stats: Sequence[PointStats], cost: CostAssumptions, path: Path) -> Path:
    """Estimated dollars per million records per point, at the largest scale."""
    scale = max(s.scale for s in stats)
    points = [s for s in stats if s.scale == scale]
    values = [p.usd_per_million_records(cost) for p in points]
    figure = new_figure(_width(len(points)))
    ax = figure.subplots()
    xs = list(range(len(points)))
    ax.bar(xs, values, color=[BASELINE_COLOR if p.is_baseline else OTHER_COLOR for p in points])
    for x, value in zip(xs, values, strict=True):
        ax.annotate(
            _plain(fmt_usd(value)),
            (x, value),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(xs, [_wrap(p.point) for p in points], fontsize=8)
    ax.set_ylabel("USD per million records")
    ax.set_ylim(0, max(values, default=1.0) * 1.2 or 1.0)
    ax.set_title(
        f"Estimated cost per million records ({scale:,} records; "
        f"USD {cost.usd_per_core_hour}/core-hour, USD {cost.usd_per_gb_month}/GB-month)",
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    return save_png(figure, path)


def plot_ladder(ladder: dict[str, Any], path: Path) -> Path:
    """Each point's median seconds per rung of a halving ladder (log y), promoted ones marked."""
    rungs = ladder["rungs"]
    figure = new_figure(max(6.0, 2.2 * len(rungs) + 2.5), 4.8)
    ax = figure.subplots()
    series: dict[str, list[tuple[int, float]]] = {}
    baseline = ""
    for x, rung in enumerate(rungs):
        for entry in rung["points"]:
            if entry["is_baseline"]:
                baseline = entry["point"]
            if entry["median_seconds"] is not None:
                series.setdefault(entry["point"], []).append((x, float(entry["median_seconds"])))
    for point, values in series.items():
        is_baseline = point == baseline
        ax.plot(
            [x for x, _ in values],
            [y for _, y in values],
            color=BASELINE_COLOR if is_baseline else DROPPED_COLOR,
            linewidth=2.0 if is_baseline else 0.8,
            marker="s" if is_baseline else None,
            markersize=5,
            alpha=1.0 if is_baseline else 0.6,
            zorder=2 if is_baseline else 1,
            label="baseline" if is_baseline else None,
        )
    for x, rung in enumerate(rungs):
        timed = [entry for entry in rung["points"] if entry["median_seconds"] is not None]
        promoted = [float(entry["median_seconds"]) for entry in timed if entry["promoted"]]
        others = [float(entry["median_seconds"]) for entry in timed if not entry["promoted"]]
        ax.scatter(
            [x] * len(others),
            others,
            marker="o",
            facecolors="none",
            edgecolors=DROPPED_COLOR,
            s=30,
            zorder=3,
            label="not promoted" if x == 0 else None,
        )
        if promoted:
            ax.scatter(
                [x] * len(promoted),
                promoted,
                marker="*",
                color=PROMOTED_COLOR,
                edgecolors="#333333",
                s=140,
                zorder=4,
                label="promoted to the next rung" if x == 0 else None,
            )
    best = ladder.get("best") or {}
    if best.get("median_seconds") is not None:
        ax.annotate(
            _wrap(f"fastest: {best['point']}"),
            (len(rungs) - 1, float(best["median_seconds"])),
            textcoords="offset points",
            xytext=(10, 0),
            fontsize=8,
            va="center",
        )
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.tick_params(axis="y", which="both", labelsize=8)
    ax.set_xticks(
        range(len(rungs)),
        [
            f"rung {rung['rung']}: {count_text(int(rung['scale']))} records\n"
            f"{len(rung['points'])} point(s), {rung['promoted']} promoted"
            for rung in rungs
        ],
        fontsize=8,
    )
    ax.set_xlim(-0.5, len(rungs) - 0.1)
    ax.set_ylabel("median wall seconds per run (log scale)")
    ax.set_title("\n".join(textwrap.wrap(f"Successive halving: {ladder['stop']['message']}", 80)), fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3, which="both")
    return save_png(figure, path)


def ladder_text(ladder: dict[str, Any], image: Path, relative_to: Path) -> str:
    """The Ladder section: how points were promoted, a table per rung, why it stopped, the plot."""
    rungs = ladder["rungs"]
    budget = ladder.get("budget_s")
    planned = ", ".join(count_text(int(scale)) for scale in ladder["scales"])
    lines = [
        "## Ladder",
        "",
        f"Successive halving over the scales {planned}: at each rung the best third of the points "
        "by median total seconds (at least one; ties go to the earlier grid point; a point without "
        "an ok run never) went on to the next scale, and the baseline was kept in every rung for "
        "the ratios. "
        + (
            f"Budget {budget:g} run-seconds (the recorded runs' seconds; warm-up, landings and "
            "upstream builds not counted): a rung runs only when its estimate, the promoted points' "
            "seconds in the rung before times the ratio of the scales, fits in what is left. "
            if budget is not None
            else "No budget: the ladder climbs until the top scale or until no point finishes. "
        )
        + f"{ladder['spent_s']:.1f} run-seconds spent.",
        "",
        f"**Stopped:** {ladder['stop']['message']}.",
    ]
    for index, rung in enumerate(rungs):
        entries = sorted(rung["points"], key=lambda entry: int(entry["rank"]))
        rows = [
            [
                str(entry["rank"]),
                f"`{entry['point']}`" + (" (baseline)" if entry["is_baseline"] else ""),
                f"{entry['ok_runs']}/{entry['runs']}",
                "n/a (no ok run)"
                if entry["median_seconds"] is None
                else fmt_seconds(entry["median_seconds"]),
                fmt_seconds(float(entry["run_seconds"])),
                f"yes: {entry['reason']}" if entry["promoted"] else entry.get("reason") or "no",
            ]
            for entry in entries
        ]
        estimate = rung.get("estimate_next_s")
        stopped_here = index == len(rungs) - 1 and ladder["stop"]["reason"] == STOP_BUDGET
        lines += [
            "",
            f"### Rung {rung['rung']}: {int(rung['scale']):,} records",
            "",
            markdown_table(["rank", "point", "ok runs", "median s", "run-seconds", "promoted"], rows),
            "",
            f"{float(rung['run_seconds']):.1f} run-seconds in this rung, {float(rung['spent_s']):.1f} "
            "in the ladder so far"
            + (
                f"; the next rung was estimated at {float(estimate):.1f} s"
                + (" (over what was left, so it did not run)" if stopped_here else "")
                if estimate is not None
                else ""
            )
            + ".",
        ]
    lines += ["", f"![median seconds per rung]({image.relative_to(relative_to).as_posix()})"]
    return "\n".join(lines)


def strategy_line(sweep: Sweep) -> str:
    """How the sweep chose its points, for `What ran` (empty for a whole-grid sweep)."""
    payload = sweep.summary["payload"]
    strategy = payload.get("strategy", "grid")
    grid_points = math.prod(len(values) for values in payload["grid"].values())
    points = len(payload["points"])
    seed = sweep.summary["seed"]
    sampled = f"{points} of the {grid_points} grid points (the baseline among them), seeded with {seed}"
    if strategy == "random":
        return f"- strategy: random sample, {sampled}"
    if strategy == "halving":
        first = sampled if points < grid_points else f"all {grid_points} grid points"
        return f"- strategy: successive halving, the first rung over {first}; see Ladder"
    return ""


def provenance_lines(sweep: Sweep) -> list[str]:
    """Who and what produced the records, from the summary record."""
    record = sweep.summary
    prov = record["provenance"]
    machine = prov["machine"]
    payload = record["payload"]
    session = {key: value for key, value in payload["spark"].get("session_conf", {}).items() if value}
    session_line = (
        [f"- session settings: {', '.join(f'`{key}={value}`' for key, value in sorted(session.items()))}"]
        if session
        else []
    )
    return [
        f"- sweep `{sweep.sweep_id}`, finished {record['created_at']}, seed {record['seed']}",
        f"- code `{prov['git_commit']}`; Spark {prov['spark_version']}, Delta {prov['delta_version']}, "
        f"Python {prov['python_version']}",
        f"- machine `{machine['hostname']}`: {machine['cpu_count']} CPUs, "
        f"{fmt_bytes(float(machine['memory_bytes']))} memory, {machine['platform']}",
        f"- Spark master `{payload['spark']['master']}` "
        f"(default parallelism {payload['spark']['default_parallelism']})",
        *session_line,
    ]


def start_text(payload: dict[str, Any]) -> str:
    """Where each run of a sweep starts: an empty warehouse, or a copy of earlier layers."""
    upstream = payload.get("upstream_layers") or []
    if not upstream:
        return "every run starts from an empty warehouse"
    return f"every run starts from a copy of the {', '.join(upstream)} tables, built once and not measured"


def order_text(payload: dict[str, Any]) -> str:
    """How the runs were ordered, read off the summary's recorded order."""
    if payload.get("strategy") == "halving":
        return "rung by rung (one scale each), interleaved within a rung (each point once, then again, ...)"
    order = payload["order"]
    first_round = [entry for entry in order if entry["repeat"] == 0]
    if not first_round:
        return "interleaved"
    scales_interleaved = len(payload["scales"]) > 1 and any(
        entry["scale"] != first_round[0]["scale"] for entry in order[: len(first_round)]
    )
    if len(payload["scales"]) > 1 and not scales_interleaved:
        return "interleaved within each scale (scale by scale; each point once, then again, ...)"
    return "interleaved (every point at every scale once, then again, ...)"


def load_line(stats: Sequence[PointStats], cpus: int) -> str:
    """How busy the machine was during the runs, from the records (empty when not recorded)."""
    loads = [s.median_load_average for s in stats if s.median_load_average is not None]
    if not loads:
        return ""
    return (
        f"- machine load during the runs: 1-minute load average {min(loads):.1f} to {max(loads):.1f} "
        f"(median per point) on {cpus} CPUs; above {cpus} the runs shared the CPUs with other work, "
        "so wall times are pessimistic and noisy, and ratios between points matter more than absolutes"
    )


def cost_from(
    sweep: Sweep, usd_per_core_hour: float | None, usd_per_gb_month: float | None
) -> CostAssumptions:
    """The sweep's recorded prices, with any given override."""
    recorded = sweep.summary["payload"]["cost"]
    return CostAssumptions(
        usd_per_core_hour=usd_per_core_hour
        if usd_per_core_hour is not None
        else recorded["usd_per_core_hour"],
        usd_per_gb_month=usd_per_gb_month if usd_per_gb_month is not None else recorded["usd_per_gb_month"],
        cores=int(recorded.get("cores", 0)),
    )


def results_table(stats: Sequence[PointStats]) -> str:
    """Median, min, max, ratio and throughput per scale and point."""
    rows = [
        [
            f"{s.scale:,}",
            f"`{s.point}`" + (" (baseline)" if s.is_baseline else ""),
            f"{s.runs - s.failed}/{s.runs}",
            fmt_seconds(s.median_seconds),
            fmt_seconds(s.min_seconds),
            fmt_seconds(s.max_seconds),
            fmt_ratio(s.ratio_to_baseline),
            "" if s.is_baseline else format_estimate(s.estimate) if s.estimate else "n/a (no ok run)",
            f"{s.median_records_per_second:,.0f}",
        ]
        for s in stats
    ]
    header = [
        "records",
        "point",
        "ok runs",
        "median s",
        "min s",
        "max s",
        "vs baseline",
        "established? (95% bootstrap CI of the ratio)",
        "records/s",
    ]
    return markdown_table(header, rows)


def stages_table(stats: Sequence[PointStats]) -> str:
    """Median seconds per layer per point."""
    layers: list[str] = []
    for s in stats:
        layers += [layer for layer in s.stage_median_seconds if layer not in layers]
    rows = [
        [f"{s.scale:,}", f"`{s.point}`"]
        + [fmt_seconds(s.stage_median_seconds.get(layer, 0.0)) for layer in layers]
        + [fmt_seconds(max(s.median_seconds - sum(s.stage_median_seconds.values()), 0.0))]
        for s in stats
    ]
    return markdown_table(["records", "point", *layers, "outside stages"], rows)


def resources_table(stats: Sequence[PointStats]) -> str:
    """Task metrics, memory and output per point (medians)."""
    rows = [
        [
            f"{s.scale:,}",
            f"`{s.point}`",
            f"{s.median_cpu_seconds:.1f}",
            f"{s.median_gc_seconds:.2f}",
            fmt_bytes(s.median_shuffle_bytes),
            fmt_bytes(s.median_spill_bytes),
            fmt_bytes(s.median_peak_rss_bytes),
            fmt_bytes(s.median_output_bytes),
            f"{s.median_output_files:.0f}",
        ]
        for s in stats
    ]
    header = [
        "records",
        "point",
        "executor CPU s",
        "GC s",
        "shuffle written",
        "spilled",
        "peak driver RSS",
        "output on disk",
        "data files",
    ]
    return markdown_table(header, rows)


def cost_table(stats: Sequence[PointStats], cost: CostAssumptions) -> str:
    """Core-seconds and estimated dollars per run and per million records."""
    rows = [
        [
            f"{s.scale:,}",
            f"`{s.point}`",
            str(s.cores),
            f"{s.core_seconds:.1f}",
            fmt_usd(s.usd_per_run(cost)),
            fmt_usd(s.usd_per_million_records(cost)),
        ]
        for s in stats
    ]
    return markdown_table(
        ["records", "point", "cores", "core-seconds", "USD per run", "USD per million records"], rows
    )


def landing_bytes(sweep: Sweep) -> dict[int, int]:
    """Bytes of each scale's landing, as the sweep recorded it (0 when it did not)."""
    return {
        int(landing["scale"]): int((landing.get("detail") or {}).get("bytes") or 0)
        for landing in sweep.summary["payload"].get("landings", [])
    }


def deployment_cost_table(stats: Sequence[PointStats], sweep: Sweep, prices: PriceFile) -> str:
    """Each point's median run priced on EMR on EC2, EMR Serverless and Glue, plus S3."""
    read = landing_bytes(sweep)
    rows = []
    for s in stats:
        if s.failed == s.runs or s.cores < 1:
            continue
        cost = run_cost(
            prices, s.median_seconds, s.cores, s.median_output_bytes, s.median_output_files, s.scale,
            read.get(s.scale, 0),
        )  # fmt: skip
        cheapest = min(cost.emr_ec2, cost.emr_serverless, cost.glue)
        per_tb = cost.per_tb_read(cheapest)
        rows.append(
            [
                f"{s.scale:,}",
                f"`{s.point}`",
                fmt_usd(cost.emr_ec2),
                fmt_usd(cost.emr_serverless),
                fmt_usd(cost.glue),
                fmt_usd(cost.storage_month),
                fmt_usd(cost.put_requests),
                fmt_usd(cost.per_million_records(cheapest)),
                "n/a (landing size not recorded)" if math.isnan(per_tb) else fmt_usd(per_tb),
            ]
        )
    header = [
        "records",
        "point",
        "EMR on EC2",
        "EMR Serverless",
        "Glue",
        "S3, a month of output",
        "S3 PUTs",
        "cheapest compute per million records",
        "cheapest compute per TB read",
    ]
    return markdown_table(header, rows)


def prices_text(prices: PriceFile) -> str:
    """Where the deployment prices come from: a table of them, and how they are applied."""
    rows = [
        [price.unit, f"${price.usd:g}", price.source, price.checked, price.confidence]
        for price in prices.prices.values()
    ]
    return "\n".join(
        [
            f"Prices (`harness/prices.toml`, {prices.region}, checked {prices.checked}):",
            "",
            markdown_table(["price", "USD", "source", "checked", "confidence"], rows),
            "",
            "Billed per second with a one-minute minimum; EMR on EC2 bills whole m5.xlarge "
            "instances, Glue at least 2 DPUs, EMR Serverless 4 GB per vCPU. S3 GET requests "
            "(reads) are not measured, so not priced. The same core-seconds priced on each "
            "service: an estimate to compare settings, not a quote (`harness/costs.py`).",
        ]
    )


def assumptions_text(cost: CostAssumptions) -> str:
    """The cost model, in words, next to its figures."""
    cores = f"{cost.cores} cores" if cost.cores else "the cores Spark used (its default parallelism)"
    return (
        f"Assumptions: compute at ${cost.usd_per_core_hour} per core-hour for {cores} held for the run's "
        f"median wall time; storage at ${cost.usd_per_gb_month} per GB-month for one month of the run's "
        "output on disk. Prices are configurable (`[sweep.cost]`, `lakelab report --usd-per-core-hour`, "
        "`--usd-per-gb-month`); they are list-price-like assumptions, not a bill."
    )


def failures_section(sweep: Sweep) -> str:
    """Failed runs and their errors, or nothing."""
    failed = [r["payload"] for r in sweep.runs if r["payload"]["status"] != "ok"]
    if not failed:
        return ""
    lines = ["## Failed runs", ""]
    lines += [
        f"- run {r['run_index'] + 1} (`{r['point']}`, {r['scale']:,} records, "
        f"repeat {r['repeat'] + 1}): {r['error']}"
        for r in failed
    ]
    return "\n".join(lines) + "\n\n"


def throughput_text(image: Path | None, relative_to: Path) -> str:
    """The throughput plot's Markdown, or why there is none (a single scale)."""
    if image is None:
        return "One scale only: throughput against scale needs two or more (`--scales 1M,10M`)."
    return f"![records per second against scale]({image.relative_to(relative_to).as_posix()})"


def render_report(
    sweep: Sweep, out_dir: str | Path, cost: CostAssumptions, results_dir: str | Path | None = None
) -> Path:
    """Write `<out_dir>/report.md` and its PNGs under `<out_dir>/img/`; return the Markdown path."""
    out = Path(out_dir)
    stats = point_stats(sweep, cost)
    prices = load_prices()
    payload: dict[str, Any] = sweep.summary["payload"]
    throughput = plot_throughput(stats, out / "img" / "throughput-vs-scale.png")
    images = {
        "seconds": plot_seconds(stats, out / "img" / "seconds-by-point.png"),
        "stages": plot_stages(stats, out / "img" / "stages-by-point.png"),
        "cost": plot_cost(stats, cost, out / "img" / "cost-per-million-records.png"),
    }
    ladder = payload.get("ladder")
    ladder_image = plot_ladder(ladder, out / "img" / "ladder.png") if ladder else None
    grid = "; ".join(f"`{key}` ∈ {{{', '.join(payload['grid'][key])}}}" for key in payload["axes"])
    rebuild = f"lakelab report --results {results_dir} --sweep {sweep.sweep_id}" if results_dir else ""
    parts = [
        f"# Sweep report: {payload['workload']}",
        "",
        *provenance_lines(sweep),
        "",
        "## What ran",
        "",
        f"- grid: {grid}; baseline `{payload['baseline']['point']}`",
        *[line for line in [strategy_line(sweep)] if line],
        f"- scales: {', '.join(f'{s:,}' for s in payload['scales'])} records; {payload['repeats']} repeat(s) "
        f"per point, {order_text(payload)}; "
        f"{payload['warmup']} warm-up run(s) not recorded",
        f"- layers per run: {', '.join(payload['layers']) or 'n/a (not the pipeline)'}; "
        f"{start_text(payload)} and reads the same landing",
        f"- {len(sweep.runs)} runs, {payload['failed_runs']} failed, {payload['seconds']:.0f} s in all",
        *[line for line in [load_line(stats, sweep.summary["provenance"]["machine"]["cpu_count"])] if line],
        "",
        *([ladder_text(ladder, ladder_image, out), ""] if ladder and ladder_image else []),
        "## Wall time",
        "",
        results_table(stats),
        "",
        f"![wall seconds per point]({images['seconds'].relative_to(out).as_posix()})",
        "",
        "## Per stage",
        "",
        stages_table(stats),
        "",
        f"![seconds per layer]({images['stages'].relative_to(out).as_posix()})",
        "",
        "## Throughput against scale",
        "",
        throughput_text(throughput, out),
        "",
        "## Growth with the data",
        "",
        growth_text(sweep, out),
        "",
        "## Resources (medians)",
        "",
        resources_table(stats),
        "",
        "Executor CPU and GC are summed over tasks (Spark's status store); shuffle and spill over "
        "stages; peak driver RSS is the Python process plus its JVM, sampled every 0.25 s.",
        "",
        "## Cost",
        "",
        cost_table(stats, cost),
        "",
        assumptions_text(cost),
        "",
        "### On AWS's Spark services (median run)",
        "",
        deployment_cost_table(stats, sweep, prices),
        "",
        prices_text(prices),
        "",
        f"![cost per million records]({images['cost'].relative_to(out).as_posix()})",
        "",
        failures_section(sweep).rstrip("\n"),
    ]
    if rebuild:
        parts += ["", f"Rebuild this report from its records: `{rebuild}`"]
    text = "\n".join(parts).rstrip("\n") + "\n"
    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.md"
    report.write_text(text.replace("\n\n\n", "\n\n"), encoding="utf-8")
    return report


def axis_label(key: str) -> str:
    """A grid axis for prose: `shuffle.partitions`."""
    return short_key(key)
