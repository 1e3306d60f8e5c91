"""``python -m benchmarks profile TARGET``: where one library path spends its time (pyinstrument).

Same server process, same warm-up as the benchmarks; only the library side is profiled, and the
call tree is printed (frames under 1 % hidden). Targets: ``stream-json`` (records), ``stream-pages``,
``xmlrpc-decode`` (one in-memory page, decoded three times) and ``calls`` (unsubscribe).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from mailkit_async import Mailkit
from mailkit_async._codecs._xmlrpc import XMLRPC_CODEC
from mailkit_async._service import BOUNCES, MAX_PAGE_SIZE

from ._calls import library_call, run_calls
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._stream import library_pages, library_records
from ._xmlrpc import fetch_page

__all__ = ["profile"]

PAGE: Final = MAX_PAGE_SIZE
Job = Callable[[], Awaitable[object]]


def _job(target: str, mk: Mailkit, url: str, records: int, concurrency: int) -> Job:
    if target == "stream-json":
        return lambda: library_records(mk, PAGE, records)
    if target == "stream-pages":
        return lambda: library_pages(mk, PAGE, records)
    if target == "calls":
        return lambda: run_calls(library_call(mk), records, concurrency)

    async def decode() -> None:
        body = await fetch_page(url, PAGE)
        for _ in range(3):
            XMLRPC_CODEC.decode_bounces(BOUNCES, body)

    return decode


async def _profiled(url: str, target: str, records: int, concurrency: int) -> str:
    from pyinstrument import Profiler

    async with Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        job = _job(target, mk, url, records, concurrency)
        await job()  # warm-up: server page cache, connections
        profiler = Profiler(async_mode="enabled")
        with profiler:
            await job()
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    return text


def profile(target: str, *, records: int, concurrency: int = 1) -> int:
    """Profile `target` (see the module docstring) and print the call tree."""
    if target == "calls":
        records = min(records, 5_000)
    served = records if target.startswith("stream") else PAGE
    with ServerProcess(records=served) as server:
        print(anyio.run(_profiled, server.url, target, records, concurrency))
    return 0
