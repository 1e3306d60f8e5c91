"""The bounce stream over real sockets: leaving the loop frees the connection; memory stays flat."""

from __future__ import annotations

import subprocess
import sys
import time

import anyio
import pytest
from support.clients import new_emulator, pooled_once
from support.pool import checked_out

from mailkit_async import Mailkit
from mailkit_async._service import BOUNCES
from mailkit_async.testing import EmulatorProcess, Fault, MailkitEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator() -> MailkitEmulator:
    emu = new_emulator()
    emu.seed_bounces(2_000)
    emu.add_subscriber("someone@example.com", email_id=42)
    return emu


async def next_call_works(mk: Mailkit) -> None:
    assert checked_out(mk) == 0
    result = await mk.email.unsubscribe("someone@example.com")
    assert result.email_id is not None or result.email == "someone@example.com"


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_break_releases_the_connection(anyio_backend: str, url: str, protocol: str) -> None:
    mk = pooled_once(url, protocol)
    async with mk, mk._transport.http:
        seen = 0
        async for _ in mk.report.raw.bounces(page_size=500):
            seen += 1
            if seen == 750:  # in the middle of the second page
                break
        await next_call_works(mk)


async def test_aclose_of_the_generator_releases_the_connection(anyio_backend: str, url: str) -> None:
    mk = pooled_once(url)
    async with mk, mk._transport.http:
        stream = mk.report.raw.bounces(page_size=500)
        await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
        await next_call_works(mk)


async def test_consumer_exception_releases_the_connection(anyio_backend: str, url: str) -> None:
    mk = pooled_once(url)
    async with mk, mk._transport.http:
        with pytest.raises(ZeroDivisionError):
            async with mk.report.raw.bounce_pages(page_size=500, prefetch=1) as pages:
                async for _ in pages:
                    1 / 0  # noqa: B018
        await next_call_works(mk)


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_cancellation_during_a_slow_page_returns_at_once(
    anyio_backend: str, emulator: MailkitEmulator, url: str, prefetch: int
) -> None:
    mk = pooled_once(url)
    async with mk, mk._transport.http:
        emulator.faults.add(Fault.delay(30), function=BOUNCES)
        started = time.monotonic()
        with anyio.move_on_after(0.3) as scope:
            async with mk.report.raw.bounce_pages(prefetch=prefetch) as pages:
                async for _ in pages:
                    pass
        elapsed = time.monotonic() - started
        assert scope.cancelled_caught
        # A generous bound against a 30 s page: the response was abandoned, not awaited.
        assert elapsed < 5
        await next_call_works(mk)


async def test_break_with_prefetch_in_flight_releases_the_connection(
    anyio_backend: str, emulator: MailkitEmulator, url: str
) -> None:
    mk = pooled_once(url)
    async with mk, mk._transport.http:
        async with mk.report.raw.bounce_pages(page_size=500, prefetch=1) as pages:
            async for _ in pages:
                # The next page is being fetched right now, slowly.
                emulator.faults.add(Fault.delay(30), function=BOUNCES)
                await anyio.sleep(0.1)
                break
        await next_call_works(mk)


# --- memory -----------------------------------------------------------------------------------

_STREAM = """
import sys, tracemalloc, anyio
from mailkit_async import Mailkit

async def main(url, protocol):
    async with Mailkit(1, "memory-md5", base_url=url, protocol=protocol) as mk:
        count = last = 0
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        async for bounce in mk.report.raw.bounces():
            assert bounce.undelivered_log_id > last
            last = bounce.undelivered_log_id
            count += 1
        peak = tracemalloc.get_traced_memory()[1] - base
        print(count, peak)

anyio.run(main, sys.argv[1], sys.argv[2])
"""


def _stream_in_child(records: int, protocol: str) -> tuple[int, int]:
    """Serve `records` from an emulator process; stream them in another; (count, peak bytes)."""
    with EmulatorProcess(
        "--port", "0", "--records", str(records), "--client-id", "1", "--client-md5", "memory-md5"
    ) as server:  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", _STREAM, server.url, protocol],
            capture_output=True, text=True, timeout=600, check=True,
        )  # fmt: skip
        count, peak = map(int, out.stdout.split())
        return count, peak


@pytest.mark.slow
def test_memory_stays_flat_over_a_million_records() -> None:
    small_count, small_peak = _stream_in_child(100_000, "json")
    big_count, big_peak = _stream_in_child(1_000_000, "json")
    assert (small_count, big_count) == (100_000, 1_000_000)
    # Peak traced memory is that of a page or two (a 25 000-record page is ~8 MB of JSON and
    # ~10 MB of structs), and does not grow with the total: 10x the records, same peak.
    assert big_peak < 64 * 1024 * 1024
    assert big_peak < small_peak * 1.25 + 4 * 1024 * 1024
    print(
        f"streamed {small_count} records: peak {small_peak / 2**20:.1f} MiB; "
        f"{big_count} records: peak {big_peak / 2**20:.1f} MiB"
    )
