"""Results: the table printed after a run, the raw JSON file, and the machine they came from."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Final, TextIO

import msgspec

from ._harness import Row
from ._settings import Settings

__all__ = ["LATEST", "Results", "format_table", "machine", "save"]

RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"
LATEST: Final = RESULTS_DIR / "latest.json"
_PACKAGES: Final = ("mailkit-async", "httpx", "httpcore", "h11", "anyio", "msgspec", "tenacity", "pydantic")


@dataclasses.dataclass
class Results:
    """What `python -m benchmarks` measured, with where and how."""

    created: str
    settings: dict[str, object]
    machine: dict[str, object]
    rows: list[Row]

    @classmethod
    def load(cls, path: Path = LATEST) -> Results:
        data = json.loads(path.read_text())
        rows = msgspec.convert(data["rows"], list[Row])  # a row's "median" is only for readers
        return cls(data["created"], data["settings"], data["machine"], rows)


def new_results(settings: Settings, rows: list[Row]) -> Results:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return Results(now, dataclasses.asdict(settings), machine(), rows)


def save(results: Results, path: Path = LATEST) -> Path:
    """Write the raw results (every sample) as JSON; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**dataclasses.asdict(row), "median": row.median} for row in results.rows]
    document = {**dataclasses.asdict(results), "rows": rows}
    path.write_text(json.dumps(document, indent=1, allow_nan=True) + "\n")
    return path


def machine() -> dict[str, object]:
    """Cores, CPU model, OS, Python and the versions of everything on the measured path."""
    versions: dict[str, str] = {}
    for name in (*_PACKAGES, "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_average": _load_average(),
        "versions": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


# -- the table ------------------------------------------------------------------------------------

_HEADERS: Final = ("benchmark", "contender", "median", "unit", "vs", "ratio", "cpu ratio", "target", "met")


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2e}"


def _ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3f}" if abs(value) >= 0.01 else f"{value:.1e}"


def _cells(row: Row) -> tuple[str, ...]:
    met = "" if row.met is None else ("yes" if row.met else "NO")
    return (
        row.benchmark,
        row.contender,
        _number(row.median),
        row.unit,
        row.reference or "",
        _ratio(row.ratio),
        _ratio(row.cpu_ratio),
        row.target or "",
        met,
    )


def format_table(rows: Iterable[Row]) -> str:
    """The results as an aligned plain-text table (numbers right-aligned)."""
    lines = [_HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_HEADERS))]
    numeric = {2, 5, 6}
    out = []
    for index, line in enumerate(lines):
        pairs = enumerate(zip(line, widths, strict=True))
        cells = [cell.rjust(width) if i in numeric else cell.ljust(width) for i, (cell, width) in pairs]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def format_markdown(rows: Sequence[Row]) -> str:
    """The same table in Markdown (for benchmarks/README.md)."""
    lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    lines.extend("| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(row)) + " |" for row in rows)
    return "\n".join(lines)


def print_summary(results: Results, out: TextIO) -> None:
    info = results.machine
    print(f"\n{info['cpu']}, {info['cores']} cores, {info['python']}, load {info['load_average']}", file=out)
    print(format_table(results.rows), file=out)
    judged = [row for row in results.rows if row.met is not None]
    missed = [row for row in judged if not row.met]
    print(f"\n{len(judged) - len(missed)} of {len(judged)} targets met.", file=out)
