"""`RateLimit`: never more than `max_calls` requests in any window of `per` seconds, retries and
many tasks included, as the server sees them; pauses on `Retry-After`; cancellation takes nothing."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import anyio
import pytest
from support.clients import CLIENT_ID, MD5, loopback_client, new_emulator
from support.stamps import RecordingLimit, StampedEmulator, busiest_window, check_window

from mailkit_async import InvalidParameterError, Mailkit, RateLimit, RetryPolicy, TransportError
from mailkit_async._service import BOUNCES, RESULTS
from mailkit_async.testing import Fault

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator() -> StampedEmulator:
    emu = new_emulator(StampedEmulator)
    emu.seed_bounces(400)
    emu.set_mass_results(7, [])
    return emu


def client(url: str, limit: RateLimit, protocol: str = "json", **kwargs: Any) -> Mailkit:
    kwargs.setdefault("retry", RetryPolicy(attempts=6, backoff=0, budget=None))
    return loopback_client(url, protocol, rate_limit=limit, timeout=None, **kwargs)  # the usual timeouts


def test_busiest_window_counts_a_burst_and_not_a_spread() -> None:
    assert busiest_window([0.0, 0.01, 0.02, 1.0], 0.2) == 3
    assert busiest_window([0.0, 0.25, 0.5, 0.75], 0.2) == 1
    assert busiest_window([], 0.2) == 0


@pytest.mark.parametrize(
    ("max_calls", "per"),
    [
        (0, 1.0),
        (-1, 1.0),
        (1.5, 1.0),
        (True, 1.0),
        ("3", 1.0),
        (1, 0),
        (1, -1.0),
        (1, math.inf),
        (1, math.nan),
        (1, "1"),
    ],
)
def test_invalid_arguments_are_refused(max_calls: Any, per: Any) -> None:
    with pytest.raises(InvalidParameterError):
        RateLimit(max_calls, per=per)


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf, "1", True])
def test_invalid_pause_is_refused(seconds: Any) -> None:
    with pytest.raises(InvalidParameterError):
        RateLimit(1, per=1).pause(seconds)


def test_a_client_refuses_something_that_is_not_a_rate_limit() -> None:
    with pytest.raises(InvalidParameterError, match="rate_limit"):
        Mailkit(CLIENT_ID, MD5, rate_limit=5)  # type: ignore[arg-type]


def test_repr_names_the_limit() -> None:
    assert repr(RateLimit(5, per=0.5)) == "RateLimit(5, per=0.5)"


async def test_the_taken_slots_never_crowd_a_window() -> None:
    # In-process, on the limiter's own clock: exact, no allowance for the network.
    limit = RateLimit(3, per=0.2)
    taken: list[float] = []

    async def take() -> None:
        await limit.acquire()
        taken.append(time.monotonic())

    async with anyio.create_task_group() as group:
        for _ in range(14):
            group.start_soon(take)
    assert len(taken) == 14
    assert busiest_window(taken, 0.2 - 1e-4) == 3
    assert limit.waiting == 0


async def test_many_tasks_and_retries_stay_under_the_limit_at_the_server(
    emulator: StampedEmulator, url: str
) -> None:
    emulator.faults.add(Fault.status(500), function=RESULTS, times=None, probability=0.3)
    limit = RecordingLimit(4, per=0.3)
    results: list[bool] = []

    async def work(mk: Mailkit) -> None:
        for _ in range(3):
            results.append((await mk.sendmail_mass.results(7)).ok)

    async with client(url, limit) as mk, anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(work, mk)
    times = emulator.times(RESULTS)
    assert results == [True] * 24
    assert len(times) > 24  # some attempts failed and were retried through the limiter too
    check_window(limit, times)


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_clients_sharing_one_limit_share_its_window(
    emulator: StampedEmulator, url: str, protocol: str
) -> None:
    limit = RecordingLimit(3, per=0.3)
    counts: list[int] = []

    async def stream(mk: Mailkit) -> None:
        n = 0
        async for page in mk.report.raw.bounce_pages(page_size=80):
            n += len(page)
        counts.append(n)

    async with (
        client(url, limit, protocol) as a,
        client(url, limit, protocol) as b,
        anyio.create_task_group() as group,
    ):
        group.start_soon(stream, a)
        group.start_soon(stream, b)
    assert counts == [400, 400]
    times = emulator.times(BOUNCES)
    assert len(times) == 2 * 6  # five full pages and the empty one that ends each stream
    check_window(limit, times)


async def test_a_retry_after_pauses_every_caller(emulator: StampedEmulator, url: str) -> None:
    # One call is told to come back in 0.5 s; a stream on the same limit must hold back too, though
    # the limit itself (1000 a second) would let it run freely.
    emulator.faults.add(Fault.status(429, retry_after=0.5), function=RESULTS)
    limit = RecordingLimit(1000, per=1.0)
    async with client(url, limit) as mk, anyio.create_task_group() as group:

        async def stream() -> None:
            async for _ in mk.report.raw.bounce_pages(page_size=2):
                pass

        group.start_soon(stream)
        await anyio.sleep(0.05)  # the stream is running
        assert (await mk.sendmail_mass.results(7)).ok
    # Judged on the client's side, from the moment the 429 reached it: the server's clock would
    # also count the requests that left while the refusal was on its way back.
    (paused_at,) = limit.paused
    before = [t for t in limit.taken if t < paused_at]
    during_pause = [t for t in limit.taken if paused_at < t < paused_at + 0.5 - 1e-3]
    assert len(before) > 3  # the stream was busy before the pause...
    assert during_pause == []  # ...and nothing, the stream's next page included, left during it
    assert len(emulator.times(RESULTS)) == 2


async def test_a_paused_limit_lets_nothing_through_until_the_pause_ends() -> None:
    limit = RateLimit(10, per=1.0)
    limit.pause(0.2)
    started = time.monotonic()
    taken: list[float] = []

    async def take() -> None:
        await limit.acquire()
        taken.append(time.monotonic() - started)

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(take)
    assert len(taken) == 3
    assert min(taken) >= 0.2 - 1e-3


async def test_cancelled_waiters_take_nothing_and_leave_no_place_behind() -> None:
    limit = RateLimit(2, per=0.2)
    taken: list[float] = []
    cancelled = 0

    async def take(patience: float) -> None:
        nonlocal cancelled
        with anyio.move_on_after(patience) as scope:
            await limit.acquire()
            taken.append(time.monotonic())
        if scope.cancelled_caught:
            cancelled += 1

    await take(10.0)
    await take(10.0)  # the window is full: every task below has to queue
    async with anyio.create_task_group() as group:
        for i in range(12):
            # Every third waiter gives up early, while queued among the others.
            group.start_soon(take, 0.05 if i % 3 == 2 else 10.0)
    assert cancelled == 4
    assert len(taken) == 2 + 8
    assert busiest_window(taken, 0.2 - 1e-4) == 2
    assert limit.waiting == 0  # no place is left booked for a caller that is gone


async def test_a_cancelled_waiter_does_not_free_the_slot_another_took() -> None:
    limit = RateLimit(1, per=30.0)
    await limit.acquire()
    with anyio.move_on_after(0.05):
        await limit.acquire()
    assert limit.waiting == 0
    # The one slot is still taken: a third caller still has to wait.
    with anyio.move_on_after(0.05) as scope:
        await limit.acquire()
    assert scope.cancelled_caught


async def test_waiting_for_a_slot_counts_against_the_deadline(emulator: StampedEmulator, url: str) -> None:
    limit = RateLimit(1, per=30.0)
    async with client(url, limit, retry=RetryPolicy(deadline=0.3)) as mk:
        assert (await mk.sendmail_mass.results(7)).ok
        with anyio.fail_after(10), pytest.raises(TransportError, match="deadline") as caught:
            await mk.sendmail_mass.results(7)
    assert caught.value.timed_out
    assert len(emulator.times(RESULTS)) == 1  # the second call never reached the service
    assert limit.waiting == 0


def test_one_limit_serves_loop_after_loop_and_backend_after_backend() -> None:
    # dlt runs each extraction on a fresh event loop: the limiter must not cling to the first one.
    limit = RateLimit(2, per=0.1)
    taken: list[float] = []

    async def take_three() -> None:
        for _ in range(3):
            await limit.acquire()
            taken.append(time.monotonic())

    for backend in ("asyncio", "trio", "asyncio"):
        anyio.run(take_three, backend=backend)
    assert len(taken) == 9
    assert busiest_window(taken, 0.1 - 1e-4) == 2


def test_threads_sharing_one_limit_stay_under_it() -> None:
    limit = RateLimit(3, per=0.15)
    taken: list[float] = []
    lock = threading.Lock()

    async def take_four() -> None:
        for _ in range(4):
            await limit.acquire()
            with lock:
                taken.append(time.monotonic())

    threads = [threading.Thread(target=anyio.run, args=(take_four,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(taken) == 12
    assert busiest_window(taken, 0.15 - 1e-4) == 3
