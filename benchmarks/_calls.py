"""3. Small calls: ``mk.email.unsubscribe`` against plain httpx, at concurrency 1 and 64.

Both contenders send the identical JSON body (captured once from the library itself) to the same
loopback server, for a known subscriber, so every answer is the same; plain httpx posts it and
decodes the answer with one reused msgspec decoder. The library adds argument checks, encoding,
retries and the deadline, bounded body reading and typed parsing on top. At concurrency N, N
workers pull calls from one shared count until it runs out.

Target: library calls/s >= 0.9 x plain httpx, at each concurrency.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import httpx
import msgspec

from mailkit_async import Mailkit
from mailkit_async._service import JSON_CONTENT_TYPE, JSON_PATH

from ._harness import Contender, Row, Stopwatch, Target, Timing, alternate, rate_row, warm_up
from ._server import CLIENT_ID, CLIENT_MD5, SUBSCRIBER, ServerProcess
from ._settings import Settings

__all__ = ["Call", "capture_body", "library_call", "plain_call", "run", "run_calls"]

NAME: Final = "calls"
UNIT: Final = "calls/s"
PLAIN: Final = "plain httpx + msgspec"
LIBRARY: Final = "library: email.unsubscribe()"
JSON_HEADERS: Final = {"Content-Type": JSON_CONTENT_TYPE}

Call = Callable[[], Awaitable[object]]


async def run_calls(call: Call, total: int, concurrency: int) -> Timing:
    """Make `total` calls with `concurrency` workers pulling from one shared count."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    with Stopwatch() as watch:
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
    return watch.timing


async def capture_body(url: str) -> bytes:
    """The exact body `mk.email.unsubscribe(SUBSCRIBER)` sends, captured from one real call."""
    bodies: list[bytes] = []

    async def keep(request: httpx.Request) -> None:
        bodies.append(request.content)

    async with (
        httpx.AsyncClient(event_hooks={"request": [keep]}) as http,
        Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url, http_client=http) as mk,
    ):
        await mk.email.unsubscribe(SUBSCRIBER)
    return bodies[0]


def plain_call(http: httpx.AsyncClient, url: str, body: bytes) -> Call:
    decoder = msgspec.json.Decoder()

    async def call() -> object:
        response = await http.post(url, content=body, headers=JSON_HEADERS)
        return decoder.decode(response.content)

    return call


def library_call(mk: Mailkit) -> Call:
    async def call() -> object:
        return await mk.email.unsubscribe(SUBSCRIBER)

    return call


async def _measure_at(url: str, body: bytes, settings: Settings, concurrency: int) -> list[Row]:
    total = settings.calls
    async with httpx.AsyncClient() as http, Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        plain, library = plain_call(http, url + JSON_PATH, body), library_call(mk)
        contenders: dict[str, Contender] = {
            PLAIN: lambda: run_calls(plain, total, concurrency),
            LIBRARY: lambda: run_calls(library, total, concurrency),
        }
        await warm_up(contenders)
        samples = await alternate(contenders, settings.repeats)
    benchmark = f"{NAME} (concurrency {concurrency})"
    table = {name: rate_row(benchmark, name, UNIT, total, timings) for name, timings in samples.items()}
    for row in table.values():
        row.params = {"concurrency": concurrency}
    return [table[PLAIN], table[LIBRARY].against(table[PLAIN], Target(">=", 0.9))]


async def _measure(url: str, settings: Settings) -> list[Row]:
    body = await capture_body(url)
    rows: list[Row] = []
    for concurrency in settings.concurrency:
        rows.extend(await _measure_at(url, body, settings, concurrency))
    return rows


def run(settings: Settings) -> list[Row]:
    with ServerProcess() as server:
        return anyio.run(_measure, server.url, settings)
