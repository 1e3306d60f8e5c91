"""7. Export: `bounces export` into JSONL, CSV and SQLite, against the bare stream and each sink alone.

One loopback server; the same records (`stream_records`, 25 000-record pages) in every contender:

- stream: ``async for page in mk.report.raw.bounce_pages()``, nothing done with the pages;
- sink alone (jsonl, csv, sqlite): the same pages, fetched once beforehand and held in memory,
  written by the export's sink (each page flushed and synced, or one SQLite transaction);
- export (jsonl, csv, sqlite): the command's own loop (`export_pages`: fetch ahead with the
  command's ``prefetch=PREFETCH``, the sink writing in a worker thread), into a fresh file each time.

Rates are taken inside the process (no start-up). Target: each export >= 0.8 x min(stream rate,
that sink's own rate), the two taken in the same repeat.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import anyio

from mailkit_async import Bounce, Mailkit
from mailkit_async.cli._export import PREFETCH, export_pages
from mailkit_async.cli._sinks import open_sink

from ._harness import Contender, Row, Stopwatch, Target, Timing, alternate, rate_row, warm_up
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._settings import Settings

__all__ = ["run"]

NAME: Final = "export"
UNIT: Final = "records/s"
FORMATS: Final = ("jsonl", "csv", "sqlite")
STREAM: Final = "stream: bounce_pages()"
TARGET: Final = Target(">=", 0.8)


def sink_name(fmt: str) -> str:
    return f"sink alone: {fmt}"


def export_name(fmt: str) -> str:
    return f"export: {fmt}"


def _check(name: str, seen: int, expected: int) -> None:
    if seen != expected:
        raise RuntimeError(f"{name} handled {seen} records, expected {expected}")


async def stream(mk: Mailkit, size: int, expected: int) -> Timing:
    seen = 0
    with Stopwatch() as watch:
        async for page in mk.report.raw.bounce_pages(page_size=size):
            seen += len(page)
    _check(STREAM, seen, expected)
    return watch.timing


async def sink_alone(fmt: str, pages: Sequence[list[Bounce]], directory: Path, expected: int) -> Timing:
    path = directory / f"alone.{fmt}"
    sink = open_sink(fmt, path, resume=False)
    try:
        with Stopwatch() as watch:
            for page in pages:
                sink.write_page(page)
            sink.finish()
    finally:
        sink.close()
        path.unlink()
    _check(sink_name(fmt), sink.written, expected)
    return watch.timing


async def export(mk: Mailkit, fmt: str, directory: Path, size: int, expected: int) -> Timing:
    path = directory / f"export.{fmt}"
    sink = open_sink(fmt, path, resume=False)
    try:
        with Stopwatch() as watch:
            await export_pages(mk.report.raw.bounce_pages(page_size=size, prefetch=PREFETCH), sink)
            sink.finish()
    finally:
        sink.close()
        path.unlink()
    _check(export_name(fmt), sink.written, expected)
    return watch.timing


def _rows(samples: dict[str, list[Timing]], records: int) -> list[Row]:
    table = {name: rate_row(NAME, name, UNIT, records, timings) for name, timings in samples.items()}
    rows = [table[STREAM], *(table[sink_name(fmt)] for fmt in FORMATS)]
    for fmt in FORMATS:
        done, alone, bare = table[export_name(fmt)], table[sink_name(fmt)], table[STREAM]
        bound = [min(a, b) for a, b in zip(bare.samples, alone.samples, strict=True)]
        cpu_bound = [min(a, b) for a, b in zip(bare.cpu_samples, alone.cpu_samples, strict=True)]
        ratio = _median([x / y for x, y in zip(done.samples, bound, strict=True)])
        cpu = _median([x / y for x, y in zip(done.cpu_samples, cpu_bound, strict=True)])
        rows.append(done.judged(f"min(stream, sink alone: {fmt})", ratio, TARGET, cpu))
    return rows


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


async def _measure(url: str, settings: Settings) -> list[Row]:
    size, total = settings.page_size, settings.stream_records
    async with Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        pages = [page async for page in mk.report.raw.bounce_pages(page_size=size)]
        with tempfile.TemporaryDirectory(prefix="mailkit-export-") as name:
            directory = Path(name)
            contenders: dict[str, Contender] = {STREAM: lambda: stream(mk, size, total)}
            for fmt in FORMATS:
                contenders[sink_name(fmt)] = lambda fmt=fmt: sink_alone(fmt, pages, directory, total)  # type: ignore[misc]
                contenders[export_name(fmt)] = lambda fmt=fmt: export(mk, fmt, directory, size, total)  # type: ignore[misc]
            await warm_up(contenders)
            samples = await alternate(contenders, settings.repeats)
    return _rows(samples, total)


def run(settings: Settings) -> list[Row]:
    with ServerProcess(records=settings.stream_records) as server:
        return anyio.run(_measure, server.url, settings)
