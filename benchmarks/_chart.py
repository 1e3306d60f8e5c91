"""``python -m benchmarks chart``: draw ``benchmarks/chart.png`` from the latest results.

One panel per benchmark: median figures as bars (whiskers span the repeats), the target drawn
where it applies, and the peak memory of a fresh process plotted against the records it streamed.
Benchmarks missing from the results file leave their panel empty, saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._harness import Row
from ._results import LATEST, Results

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CHART", "render"]

CHART: Final = Path(__file__).resolve().parent / "chart.png"
LIBRARY_COLOUR: Final = "#1f6fb4"
OTHER_COLOUR: Final = "#a0a0a0"
TARGET_COLOUR: Final = "#d62728"


def _unique(rows: list[Row], benchmark: str) -> list[Row]:
    """The rows of `benchmark`, one per contender (a contender judged twice appears once)."""
    seen: dict[str, Row] = {}
    for row in rows:
        if row.benchmark == benchmark and row.contender not in seen:
            seen[row.contender] = row
    return list(seen.values())


def _find(rows: list[Row], benchmark: str, prefix: str) -> Row | None:
    return next((r for r in rows if r.benchmark == benchmark and r.contender.startswith(prefix)), None)


def _colour(row: Row) -> str:
    return LIBRARY_COLOUR if row.contender.startswith(("library", "run_with_retries")) else OTHER_COLOUR


def _bars(ax: Axes, rows: list[Row], scale: float = 1.0) -> None:
    """Horizontal bars of medians, whiskers from the smallest to the largest sample, and each bar
    labelled with its median (and its ratio to its reference, named in the panel) past the whisker."""
    names = [row.contender for row in rows]
    medians = [row.median * scale for row in rows]
    low = [m - min(row.samples) * scale for m, row in zip(medians, rows, strict=True)]
    high = [max(row.samples) * scale - m for m, row in zip(medians, rows, strict=True)]
    ax.barh(names, medians, height=0.6, xerr=[low, high], color=[_colour(row) for row in rows], capsize=3)
    ax.invert_yaxis()
    for index, (row, median) in enumerate(zip(rows, medians, strict=True)):
        label = f"  {median:,.3g}" if median < 100 else f"  {median:,.0f}"
        if row.ratio is not None and row.reference is not None:
            label += f"  (x{row.ratio:.2f})"
        ax.text(max(row.samples) * scale, index, label, va="center", fontsize=8)
    ax.margins(x=0.3)
    ax.set_xlim(left=0)


def _target_line(ax: Axes, value: float, label: str) -> None:
    left, right = ax.get_xlim()
    ax.set_xlim(left, max(right, value * 1.25))
    ax.axvline(value, color=TARGET_COLOUR, linestyle="--", linewidth=1, label=label)
    ax.legend(loc="best", fontsize=8)


def _missing(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "not in these results", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _stream(ax: Axes, rows: list[Row]) -> None:
    chosen = _unique(rows, "stream-json")
    if not chosen:
        return _missing(ax, "1. Bounce stream, JSON")
    _bars(ax, chosen, 1e-3)
    floor = _find(rows, "stream-json", "floor")
    if floor is not None:
        _target_line(ax, 1.0 * floor.median * 1e-3, "target: bounces() 1.0 x floor")
    ax.set_title("1. Bounce stream, JSON, 25 000-record pages (x: vs floor)")
    ax.set_xlabel("thousand records/s (median; whiskers: min-max of repeats)")
    return None


def _xmlrpc(ax: Axes, rows: list[Row]) -> None:
    chosen = _unique(rows, "xmlrpc-decode") + _unique(rows, "xmlrpc-stream")
    if not chosen:
        return _missing(ax, "2. XML-RPC")
    _bars(ax, chosen, 1e-3)
    stdlib = _find(rows, "xmlrpc-decode", "xmlrpc.client")
    if stdlib is not None:
        _target_line(ax, 3 * stdlib.median * 1e-3, "target: 3 x loads (decode)")
    ax.set_title("2. XML-RPC: page decode (top 3), stream (x: vs stdlib)")
    ax.set_xlabel("thousand records/s (median)")
    return None


def _calls(ax: Axes, rows: list[Row]) -> None:
    benchmarks = sorted({row.benchmark for row in rows if row.benchmark.startswith("calls")})
    chosen = [
        dataclasses.replace(row, contender=f"{row.contender} @{row.params.get('concurrency', 0):g}")
        for benchmark in benchmarks
        for row in _unique(rows, benchmark)
    ]
    if not chosen:
        return _missing(ax, "3. Small calls")
    _bars(ax, chosen)
    ax.set_title("3. Small calls (unsubscribe) @concurrency (x: vs plain httpx)")
    ax.set_xlabel("calls/s (median)")
    return None


def _memory_series(rows: list[Row], prefix: str) -> tuple[list[float], list[float]]:
    points = sorted(
        (row.params["records"], row.median)
        for row in rows
        if row.benchmark == "memory" and row.contender.startswith(prefix) and "records" in row.params
    )
    return [p[0] for p in points], [p[1] for p in points]


def _memory(ax: Axes, rows: list[Row]) -> None:
    from matplotlib.ticker import FuncFormatter

    idle = _find(rows, "memory", "idle")
    if idle is None:
        return _missing(ax, "4. Peak memory")
    for prefix, colour in (("library", LIBRARY_COLOUR), ("floor", OTHER_COLOUR)):
        xs, ys = _memory_series(rows, prefix)
        ax.plot(xs, ys, marker="o", color=colour, label=prefix)
    one_page = _find(rows, "memory", "library: bounces() 25,000")
    ax.axhline(idle.median, color="black", linestyle=":", linewidth=1, label="idle process")
    if one_page is not None:
        bound = idle.median + 3 * (one_page.median - idle.median)
        ax.axhline(bound, color=TARGET_COLOUR, linestyle="--", linewidth=1, label="target: idle + 3 pages")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1e3:,.0f}k"))
    ax.set_title("4. Peak RSS of a fresh process vs records streamed")
    ax.set_xlabel("records streamed")
    ax.set_ylabel("peak RSS, MiB (median)")
    ax.legend(fontsize=8)
    return None


def _overlap(ax: Axes, rows: list[Row]) -> None:
    chosen = [r for r in _unique(rows, "overlap") if r.unit == "s"]
    if not chosen:
        return _missing(ax, "5. Fetch/consume overlap")
    _bars(ax, chosen)
    params = chosen[0].params
    ax.axvline(
        params["ideal"], color="black", linestyle="-.", linewidth=1, label="ideal: max(fetch, consume)"
    )
    ax.axvline(params["sum"], color="black", linestyle=":", linewidth=1, label="sum: fetch + consume")
    _target_line(ax, 1.1 * params["ideal"], "target: 1.1 x ideal")
    wait, consume = params.get("wait", 0.0) * 1e3, params.get("consume", 0.0) * 1e3
    ax.set_title(
        f"5. Overlap: {params['pages']:g} pages, {wait:g} ms fetch, {consume:g} ms work (x: vs ideal / sum)"
    )
    ax.set_xlabel("seconds for the whole stream (median)")
    return None


def _retry(ax: Axes, rows: list[Row]) -> None:
    chosen = [r for r in rows if r.benchmark == "retry" and r.contender.startswith("overhead")]
    if not chosen:
        return _missing(ax, "6. Retry overhead")
    shares = [
        Row(row.benchmark, row.contender.removeprefix("overhead: "), "%", [100 * (row.ratio or 0.0)])
        for row in chosen
    ]
    _bars(ax, shares)
    _target_line(ax, 2.0, "target: 2 %")
    ax.set_title("6. Retry machinery on a call that succeeds at once")
    ax.set_xlabel("% of one call's time (median)")
    return None


def _responsiveness(ax: Axes, rows: list[Row]) -> None:
    chosen = [
        dataclasses.replace(row, contender=row.contender.removesuffix(" bounces() asyncio: p99 gap"))
        for row in _unique(rows, "responsiveness")
        if row.contender.endswith(" bounces() asyncio: p99 gap")
    ]
    if not chosen:
        return _missing(ax, "7. Responsiveness")
    _bars(ax, chosen)
    _target_line(ax, 15.0, "target at max_blocking=0.005: 15 ms")
    ax.set_title("7. A 1 ms ticker next to bounces(): p99 gap by max_blocking (x: vs its bound)")
    ax.set_xlabel("ms between the ticker's wake-ups, p99 (median of repeats)")
    return None


PANELS: Final[tuple[Callable[[Axes, list[Row]], None], ...]] = (
    _stream,
    _xmlrpc,
    _calls,
    _memory,
    _overlap,
    _retry,
    _responsiveness,
)


def render(source: Path = LATEST, output: Path | None = None) -> Path:
    """Draw the chart from a results file; returns where it was written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Results.load(source)
    figure, axes = plt.subplots(4, 2, figsize=(15, 17))
    flat = list(axes.flat)
    for panel, ax in zip(PANELS, flat, strict=False):
        panel(ax, results.rows)
    for ax in flat[len(PANELS) :]:
        ax.set_axis_off()
    info = results.machine
    figure.suptitle(
        f"mailkit_async benchmarks: {info['cpu']}, {info['cores']} cores, {info['python']}, {results.created}",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    path = output or CHART
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
