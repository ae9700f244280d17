"""A load test's figures from Locust's CSVs, its PNGs and its Markdown report (no Spark here)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.report import new_figure, save_png
from loadtest import baseline

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class QueryFigures:
    """One query's (or all queries', `Aggregated`) figures over the whole test, from `<prefix>_stats.csv`."""

    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    average_ms: float
    requests_per_second: float


@dataclass(frozen=True)
class Moment:
    """One line of the aggregated history (`<prefix>_stats_history.csv`), every second or so."""

    seconds: float
    users: int
    requests_per_second: float
    failures_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def _number(value: str | None) -> float | None:
    """Locust writes `N/A` for a percentile with no request yet; a line cut short (the file
    read while Locust writes it) has None for its missing fields."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def read_stats(path: Path) -> list[QueryFigures]:
    """Each query's row, then the `Aggregated` row, as Locust wrote them.

    Raises:
        ValueError: the file lacks a column this reader needs (another Locust's format).
    """
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    figures = []
    for row in rows:
        try:
            figures.append(
                QueryFigures(
                    name=row["Name"],
                    requests=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    p50_ms=_number(row["50%"]) or 0.0,
                    p95_ms=_number(row["95%"]) or 0.0,
                    p99_ms=_number(row["99%"]) or 0.0,
                    average_ms=_number(row["Average Response Time"]) or 0.0,
                    requests_per_second=_number(row["Requests/s"]) or 0.0,
                )
            )
        except KeyError as missing:
            raise ValueError(f"{path}: no column {missing} (not a Locust stats file)") from None
    return figures


def read_history(path: Path) -> list[Moment]:
    """The aggregated rows of the history, seconds counted from the first."""
    with path.open(newline="", encoding="utf-8") as file:
        # A last line still being written has fewer fields (None): it is left for the next read.
        rows = [
            row
            for row in csv.DictReader(file)
            if row.get("Name") == AGGREGATED and None not in row.values() and row.get("Timestamp")
        ]
    if not rows:
        return []
    start = int(rows[0]["Timestamp"])
    return [
        Moment(
            seconds=float(int(row["Timestamp"]) - start),
            users=int(row["User Count"]),
            requests_per_second=_number(row["Requests/s"]) or 0.0,
            failures_per_second=_number(row["Failures/s"]) or 0.0,
            p50_ms=_number(row["50%"]),
            p95_ms=_number(row["95%"]),
            p99_ms=_number(row["99%"]),
        )
        for row in rows
    ]


def plot_latency(history: Sequence[Moment], path: Path) -> Path:
    """p50, p95 and p99 over time (Locust's rolling window), the number of users behind."""
    figure = new_figure()
    ax = figure.subplots()
    seconds = [m.seconds for m in history]
    for label, values, color in (
        ("p50", [m.p50_ms for m in history], "#4c72b0"),
        ("p95", [m.p95_ms for m in history], "#dd8452"),
        ("p99", [m.p99_ms for m in history], "#c44e52"),
    ):
        ax.plot(seconds, [v if v is not None else float("nan") for v in values], label=label, color=color)
    ax.set_xlabel("seconds into the test")
    ax.set_ylabel("latency, ms (Locust's current window)")
    users = ax.twinx()
    users.step(
        seconds, [m.users for m in history], where="post", color="#999999", linestyle="--", label="users"
    )
    users.set_ylabel("users")
    users.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = users.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    ax.set_title("Query latency over time, all queries", fontsize=10)
    ax.grid(alpha=0.3)
    return save_png(figure, path)


def plot_throughput(history: Sequence[Moment], path: Path) -> Path:
    """Requests and failures per second over time."""
    figure = new_figure()
    ax = figure.subplots()
    seconds = [m.seconds for m in history]
    ax.plot(seconds, [m.requests_per_second for m in history], label="requests/s", color="#4c72b0")
    ax.plot(seconds, [m.failures_per_second for m in history], label="failures/s", color="#c44e52")
    ax.set_xlabel("seconds into the test")
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("Requests and failures per second, all queries", fontsize=10)
    ax.grid(alpha=0.3)
    return save_png(figure, path)


def plot_queries(figures: Sequence[QueryFigures], path: Path) -> Path:
    """Each query's p50, p95 and p99 over the whole test, side by side."""
    queries = [f for f in figures if f.name != AGGREGATED]
    figure = new_figure()
    ax = figure.subplots()
    width = 0.26
    for offset, (label, color) in enumerate((("p50", "#4c72b0"), ("p95", "#dd8452"), ("p99", "#c44e52"))):
        values = [getattr(f, f"{label}_ms") for f in queries]
        ax.bar(
            [i + (offset - 1) * width for i in range(len(queries))], values, width, label=label, color=color
        )
    ax.set_xticks(range(len(queries)), [f.name.replace("_", "\n", 2) for f in queries], fontsize=7)
    ax.set_ylabel("latency, ms (whole test)")
    ax.legend(fontsize=8)
    ax.set_title("Latency per dashboard query", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return save_png(figure, path)


def markdown(payload: dict[str, Any], images: dict[str, Path], out: Path) -> str:
    """The report's text: what ran, the figures per query, the saturation point if stepped."""
    rows = [
        f"| {f['name']} | {f['requests']:,} | {f['failures']:,} | {f['p50_ms']:.0f} | {f['p95_ms']:.0f} | "
        f"{f['p99_ms']:.0f} | {f['requests_per_second']:.2f} |"
        for f in payload["queries"]
    ]
    mode = payload["mode"]
    lines = [
        "# Load test: BI users on the Gold layer",
        "",
        f"- Spark Connect: `{payload['remote']}` ({payload['server']}); warehouse `{payload['warehouse']}`",
        f"- {mode['text']}; seed {payload['seed']}; {payload['seconds']:.0f} s in all",
        "- each user: its own Spark Connect session, a query every 0.5–1.5 s, picked by weight "
        f"({', '.join(f'{k} ×{v}' for k, v in payload['weights'].items())}), each with a region and "
        "date range of 30–365 days drawn for it",
        "",
        "| query | requests | failures | p50 ms | p95 ms | p99 ms | requests/s |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    steps = payload.get("steps")
    if steps:
        lines += [
            "## Steps",
            "",
            "| users | requests | failures | failure ratio | p95 ms | verdict |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {s['users']} | {s['requests']:,} | {s['failures']:,} | {s['failure_ratio']:.3f} | "
            f"{s['p95_ms']:.0f} | {s['reason'] or 'within the limits'} |"
            for s in steps
        ]
        lines += ["", payload["saturation_text"], ""]
    lines += baseline.markdown(payload.get("single_user") or {})
    for title, key in (
        ("Latency over time", "latency"),
        ("Throughput over time", "throughput"),
        ("Per query", "queries"),
    ):
        lines += [f"## {title}", "", f"![{title.lower()}]({images[key].relative_to(out).as_posix()})", ""]
    lines += [
        "Locust's own CSVs are beside this file "
        "(`locust_stats.csv`, `locust_stats_history.csv`, `locust_failures.csv`)."
    ]
    return "\n".join(lines) + "\n"


def figures_payload(figures: Sequence[QueryFigures]) -> list[dict[str, Any]]:
    """The figures as the record stores them."""
    return [asdict(f) for f in figures]
