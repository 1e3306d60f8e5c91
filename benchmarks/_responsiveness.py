"""7. Responsiveness: how long the bounce stream holds the event loop, and what pacing it costs.

A ticker task sleeps 1 ms at a time in the same event loop as the stream and records the gap
between its wake-ups; a loop that is never held longer than X shows gaps of at most about
1 ms + X. The stream reads every record of one loopback server (records with the four fields of
the English page), over JSON and XML-RPC, at three settings of ``Mailkit(max_blocking=...)``:

- ``default`` (0.05 s): JSON pages whole, XML-RPC pages decoded in slices of ~35 ms;
- ``0.005``: pages of both protocols decoded in slices of at most ~5 ms;
- ``None``: every page decoded whole, in the loop (the library before pacing).

``bounces()`` under asyncio is measured at each setting (gap p50 / p99 / max and records/s);
``bounce_pages()`` and ``bounce_pages(prefetch=1)``, and trio, at the default and at 0.005.
Targets: p99 gap <= 40 ms (JSON) / 60 ms (XML-RPC) at the default and <= 15 ms at 0.005;
records/s at 0.005 >= 0.7 x (JSON) / 0.8 x (XML-RPC) the default's; the default >= 0.95 x None.
"""

from __future__ import annotations

import dataclasses
from time import perf_counter, process_time
from typing import Final

import anyio

from mailkit_async import Mailkit
from mailkit_async._pacing import DEFAULT_MAX_BLOCKING

from ._harness import Row, Target, Timing, rate_row
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._settings import Settings

__all__ = ["Gaps", "run", "stream_with_ticker"]

NAME: Final = "responsiveness"
TICK: Final = 0.001
SETTINGS: Final[dict[str, float | None]] = {"default": DEFAULT_MAX_BLOCKING, "0.005": 0.005, "None": None}
MODES: Final = ("bounces()", "bounce_pages()", "prefetch=1")
BACKENDS: Final = ("asyncio", "trio")
# p99 gap bounds (ms), by (protocol, setting).
BOUNDS: Final = {("json", "default"): 40.0, ("xmlrpc", "default"): 60.0, ("json", "0.005"): 15.0}
BOUNDS[("xmlrpc", "0.005")] = 15.0
# records/s at 0.005, as a share of the default's.
SHARE: Final = {"json": 0.7, "xmlrpc": 0.8}


@dataclasses.dataclass(frozen=True)
class Gaps:
    """One run: the ticker's gaps (seconds) and the stream's timing."""

    gaps: list[float]
    timing: Timing

    def quantile(self, q: float) -> float:
        ordered = sorted(self.gaps)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


async def _stream(mk: Mailkit, mode: str, page_size: int) -> tuple[int, int]:
    """(records seen, last ID): the consumer does nothing but read each record's ID."""
    seen = last = 0
    if mode == "bounces()":
        async for bounce in mk.report.raw.bounces(page_size=page_size):
            last = bounce.undelivered_log_id
            seen += 1
        return seen, last
    async with mk.report.raw.bounce_pages(page_size=page_size, prefetch=int(mode == "prefetch=1")) as pages:
        async for page in pages:
            for bounce in page:
                last = bounce.undelivered_log_id
            seen += len(page)
    return seen, last


async def stream_with_ticker(mk: Mailkit, mode: str, page_size: int, expected: int) -> Gaps:
    """Stream every record while a task sleeping `TICK` s records how late it wakes up."""
    gaps: list[float] = []
    done = anyio.Event()

    async def ticker() -> None:
        last = perf_counter()
        while not done.is_set():
            await anyio.sleep(TICK)
            now = perf_counter()
            gaps.append(now - last)
            last = now

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        await anyio.sleep(0.01)
        started, cpu_started = perf_counter(), process_time()
        seen, last_id = await _stream(mk, mode, page_size)
        wall, cpu = perf_counter() - started, process_time() - cpu_started
        done.set()
    if seen != expected or last_id != expected:
        raise RuntimeError(f"{mode} streamed {seen} records up to ID {last_id}, expected {expected}")
    return Gaps(gaps, Timing(wall, cpu))


def _contenders() -> list[tuple[str, str, str]]:
    """(setting, mode, backend): every setting for bounces() on asyncio, the rest where targeted."""
    chosen = [(setting, "bounces()", "asyncio") for setting in SETTINGS]
    for backend in BACKENDS:
        for mode in MODES:
            for setting in ("default", "0.005"):
                if (setting, mode, backend) not in chosen:
                    chosen.append((setting, mode, backend))
    return chosen


async def _measure(
    url: str, protocol: str, backend: str, settings: Settings, repeats: int
) -> dict[tuple[str, str], list[Gaps]]:
    size, total = settings.page_size, settings.xmlrpc_stream_records
    wanted = [(setting, mode) for setting, mode, b in _contenders() if b == backend]
    results: dict[tuple[str, str], list[Gaps]] = {key: [] for key in wanted}
    clients = {
        name: Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url, protocol=protocol, max_blocking=value)  # type: ignore[arg-type]
        for name, value in SETTINGS.items()
    }
    try:
        for setting, mode in wanted:  # warm-up: connections, the server's page cache, the rates
            await stream_with_ticker(clients[setting], mode, size, total)
        for _ in range(repeats):
            for setting, mode in wanted:
                results[setting, mode].append(await stream_with_ticker(clients[setting], mode, size, total))
    finally:
        for mk in clients.values():
            await mk.aclose()
    return results


def _label(protocol: str, setting: str, mode: str, backend: str) -> str:
    return f"{protocol} {setting} {mode} {backend}"


def _rows(protocol: str, runs: dict[tuple[str, str, str], list[Gaps]], records: int) -> list[Row]:
    rows: list[Row] = []
    rates = {
        key: rate_row(
            NAME, _label(protocol, *key) + ": rate", "records/s", records, [g.timing for g in gapss]
        )
        for key, gapss in runs.items()
    }
    for key, gapss in runs.items():
        setting, mode, backend = key
        label = _label(protocol, *key)
        p99 = Row(NAME, f"{label}: p99 gap", "ms", [g.quantile(0.99) for g in gapss])
        bound = BOUNDS.get((protocol, setting))
        if bound is not None:
            p99 = p99.judged(f"bound {bound:g} ms", p99.median / bound, Target("<=", 1.0))
        if mode == "bounces()" and backend == "asyncio":
            rows.append(Row(NAME, f"{label}: p50 gap", "ms", [g.quantile(0.5) for g in gapss]))
            rows.append(p99)
            rows.append(Row(NAME, f"{label}: max gap", "ms", [max(g.gaps) * 1e3 for g in gapss]))
        else:
            rows.append(p99)
        rate = rates[key]
        if setting == "0.005":
            rate = rate.against(rates["default", mode, backend], Target(">=", SHARE[protocol]))
        elif setting == "default" and ("None", mode, backend) in rates:
            rate = rate.against(rates["None", mode, backend], Target(">=", 0.95))
        rows.append(rate)
    return rows


def run(settings: Settings) -> list[Row]:
    total = settings.xmlrpc_stream_records
    repeats = min(settings.repeats, 3)
    rows: list[Row] = []
    with ServerProcess(records=total, extra_fields=True) as server:
        for protocol in ("json", "xmlrpc"):
            runs: dict[tuple[str, str, str], list[Gaps]] = {}
            for backend in BACKENDS:
                measured = anyio.run(
                    _measure, server.url, protocol, backend, settings, repeats, backend=backend
                )
                runs.update({(setting, mode, backend): gapss for (setting, mode), gapss in measured.items()})
            order = {key: index for index, key in enumerate(_contenders())}
            rows += _rows(protocol, dict(sorted(runs.items(), key=lambda item: order[item[0]])), total)
    return rows
