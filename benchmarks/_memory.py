"""4. Memory: peak RSS while streaming N records stays near one page's, and flat as N grows.

Each figure comes from a fresh process (`_memory_child`), so no run inherits another's heap:

- idle: imports, a client, one small call: the baseline every process pays;
- one page: the library streaming 25 000 records (one page); page cost = one page - idle;
- the library streaming each N (100k ... 1M), and the floor (httpx + msgspec, body read whole
  into ``response.content``) for comparison.

Figures are peak MiB; a row's ratio is its peak in pages: (peak - idle) / page cost.
Targets: the library holds <= 3 pages at every N ("within a few pages"), and grows by <= 1 page
from the smallest to the largest N ("flat").
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Final

import anyio

from mailkit_async import Mailkit
from mailkit_async._service import MAX_PAGE_SIZE

from ._harness import Row, Target
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess, child_env
from ._settings import Settings

__all__ = ["run"]

NAME: Final = "memory"
PAGE: Final = MAX_PAGE_SIZE
UNIT: Final = "MiB"
IDLE: Final = "idle process"
LIBRARY: Final = "library: bounces()"
FLOOR: Final = "floor: httpx + msgspec"
MODES: Final = {LIBRARY: "library", FLOOR: "floor"}

Samples = dict[tuple[str, int], list[float]]


def measure(url: str, mode: str, records: int) -> float:
    """Peak RSS in MiB of a fresh process doing `mode` over `records` records."""
    command = [sys.executable, "-m", "benchmarks._memory_child", url, mode, str(records)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=child_env()).stdout
    result = json.loads(output.splitlines()[-1])
    if mode != "idle" and result["records"] != records:
        raise RuntimeError(f"{mode} streamed {result['records']} records, expected {records}")
    peak: float = result["peak_mib"]
    return peak


async def _warm(url: str) -> None:
    """Stream everything once so the server has every page rendered before any child runs."""
    async with Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        async for _ in mk.report.raw.bounce_pages(page_size=PAGE):
            pass


def _samples(url: str, settings: Settings) -> Samples:
    """Peaks per (contender, records), every configuration once per repeat, in turn."""
    totals = (PAGE, *settings.memory_records)
    plan = [(IDLE, 0)] + [(name, n) for n in totals for name in (LIBRARY, FLOOR)]
    samples: Samples = {key: [] for key in plan}
    for _ in range(settings.repeats):
        for name, records in plan:
            samples[name, records].append(measure(url, MODES.get(name, "idle"), records))
    return samples


def _series(samples: Samples, name: str, totals: tuple[int, ...], idle: float, page: float) -> list[Row]:
    """One row per total for contender `name`, each with its peak in pages held (library: judged)."""
    target = Target("<=", 3.0) if name == LIBRARY else None
    rows = []
    for records in totals:
        row = Row(NAME, f"{name} {records:,}", UNIT, samples[name, records], params={"records": records})
        rows.append(row.judged("pages held", (row.median - idle) / page, target))
    return rows


def _growth(samples: Samples, totals: tuple[int, ...], page: float) -> Row:
    """How much the library's peak grows from the smallest to the largest total, in pages."""
    low, high = min(totals), max(totals)
    pairs = zip(samples[LIBRARY, high], samples[LIBRARY, low], strict=True)
    row = Row(NAME, f"{LIBRARY} growth", UNIT, [big - small for big, small in pairs])
    return row.judged(f"pages, {low:,} to {high:,}", row.median / page, Target("<=", 1.0))


def _rows(samples: Samples, settings: Settings) -> list[Row]:
    idle = Row(NAME, IDLE, UNIT, samples[IDLE, 0], params={"records": 0})
    one_page = Row(NAME, f"{LIBRARY} {PAGE:,}", UNIT, samples[LIBRARY, PAGE], params={"records": PAGE})
    page = one_page.median - idle.median
    totals = settings.memory_records
    return [
        idle,
        one_page.judged(f"one page: {page:.1f} MiB over idle", 1.0, None),
        *_series(samples, LIBRARY, totals, idle.median, page),
        _growth(samples, totals, page),
        *_series(samples, FLOOR, (PAGE, *totals), idle.median, page),
    ]


def run(settings: Settings) -> list[Row]:
    records = max(settings.memory_records)
    with ServerProcess(records=records) as server:
        anyio.run(_warm, server.url)
        samples = _samples(server.url, settings)
    return _rows(samples, settings)
