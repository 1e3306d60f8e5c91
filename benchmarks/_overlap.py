"""5. Overlap: does ``bounce_pages(prefetch=1)`` fetch the next page while the consumer works?

The server waits `fetch_seconds` (100 ms) before every bounce answer; the consumer spends
`consume_seconds` (50 ms) per page (``await anyio.sleep``). Pages are small (1 000 records), so
decoding is negligible next to the waits. A stream of P pages makes P + 1 requests (the last one
answers the empty page that ends it). `fetch` is measured, not assumed: a third contender streams
with no consumer work, and its time over P + 1 is what one fetch really takes (wait, transfer,
decode). Then:

- overlapped, the ideal: (P + 1) x max(fetch, consume);
- sequential, the sum: (P + 1) x fetch + P x consume.

Target: prefetch=1 takes <= 1.10 x the ideal. prefetch=0 is shown against the sum (it should match).
"""

from __future__ import annotations

from typing import Final

import anyio

from mailkit_async import Mailkit

from ._harness import Contender, Row, Stopwatch, Target, Timing, alternate, warm_up
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._settings import Settings

__all__ = ["consume_pages", "run"]

NAME: Final = "overlap"
PREFETCH: Final = "library: bounce_pages(prefetch=1)"
SEQUENTIAL: Final = "library: bounce_pages(prefetch=0)"
FETCH: Final = "fetch only (prefetch=0, no consumer work)"


async def consume_pages(mk: Mailkit, settings: Settings, prefetch: int, consume: float) -> Timing:
    """Stream every page, spending `consume` seconds on each; checks every record arrived."""
    expected = settings.overlap_pages * settings.overlap_page_size
    seen = 0
    with Stopwatch() as watch:
        async with mk.report.raw.bounce_pages(
            page_size=settings.overlap_page_size, prefetch=prefetch
        ) as pages:
            async for page in pages:
                seen += len(page)
                if consume:
                    await anyio.sleep(consume)
    if seen != expected:
        raise RuntimeError(f"prefetch={prefetch} streamed {seen} records, expected {expected}")
    return watch.timing


def _bounds(settings: Settings, fetch: float) -> tuple[float, float]:
    """(ideal, sum): the overlapped and the sequential time of one whole stream."""
    fetches, pages = settings.overlap_pages + 1, settings.overlap_pages
    ideal = fetches * max(fetch, settings.consume_seconds)
    return ideal, fetches * fetch + pages * settings.consume_seconds


def _rows(samples: dict[str, list[Timing]], settings: Settings) -> list[Row]:
    fetches = settings.overlap_pages + 1
    per_fetch = Row(NAME, FETCH, "s/fetch", [t.wall / fetches for t in samples[FETCH]])
    ideal, total = _bounds(settings, per_fetch.median)
    params = {
        "ideal": ideal,
        "sum": total,
        "pages": settings.overlap_pages,
        "fetch": per_fetch.median,
        "wait": settings.fetch_seconds,
        "consume": settings.consume_seconds,
    }
    overlapped, sequential = (
        Row(NAME, name, "s", [t.wall for t in samples[name]], params=params)
        for name in (PREFETCH, SEQUENTIAL)
    )
    nominal = settings.fetch_seconds
    return [
        per_fetch.judged(f"server wait {nominal:g} s", per_fetch.median / nominal, None),
        overlapped.judged(f"ideal {ideal:.2f} s", overlapped.median / ideal, Target("<=", 1.10)),
        overlapped.judged(f"sum {total:.2f} s", overlapped.median / total, None),
        sequential.judged(f"sum {total:.2f} s", sequential.median / total, None),
    ]


async def _measure(url: str, settings: Settings) -> list[Row]:
    async with Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        contenders: dict[str, Contender] = {
            PREFETCH: lambda: consume_pages(mk, settings, 1, settings.consume_seconds),
            SEQUENTIAL: lambda: consume_pages(mk, settings, 0, settings.consume_seconds),
            FETCH: lambda: consume_pages(mk, settings, 0, 0.0),
        }
        await warm_up(contenders)
        samples = await alternate(contenders, settings.repeats)
    return _rows(samples, settings)


def run(settings: Settings) -> list[Row]:
    records = settings.overlap_pages * settings.overlap_page_size
    with ServerProcess(records=records, delay=settings.fetch_seconds) as server:
        return anyio.run(_measure, server.url, settings)
