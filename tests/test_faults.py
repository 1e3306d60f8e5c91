"""Fault injection over real loopback sockets: the client keeps working, never repeats a harmful
call, never loses or repeats a bounce record, never hangs and never leaks a pooled connection.

Every test serves a `MailkitEmulator` on 127.0.0.1 (`emu.serve()`) and scripts its faults: resets
before and after processing, bodies cut short, slow headers and slow bodies past the read timeout,
5xx and 429 bursts. The counted results are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest
from support.calls import CALLS, EVERY_CALL, GENERIC
from support.clients import MD5, PROTOCOLS, loopback_client, new_emulator, timeout
from support.leaks import assert_no_secret, assert_typed
from support.pool import checked_out
from support.stamps import StampedEmulator

import mailkit_async._retry as retry_module
from mailkit_async import (
    MailkitError,
    MassSendResults,
    NotUnsubscribedError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    Revalidation,
    ScheduleResult,
    ServerError,
    TransportError,
    Unsubscription,
)
from mailkit_async._service import BOUNCES, RESULTS, REVALIDATE, SCHEDULE, UNSUBSCRIBE
from mailkit_async.testing import Fault, FaultRule, MailkitEmulator

pytestmark = pytest.mark.anyio

ADDRESS = "someone@example.com"
ADDRESS_ID = 42
REQUEST_ID = 77  # a mass send with one failed recipient


def add_rules(
    emu: MailkitEmulator, faults: list[tuple[Fault, float]], function: str | None = None
) -> list[FaultRule]:
    return [emu.faults.add(f, times=None, function=function, probability=p) for f, p in faults]


def fired(rules: list[FaultRule]) -> int:
    """How many times these rules fired (a rule spent with `times=` drops out of `emu.faults.rules`,
    so keep the rules `add()` returned)."""
    return sum(rule.fired for rule in rules)


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for real: bound, never listening (ECONNREFUSED)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


class RefusingTransport(httpx.AsyncHTTPTransport):
    """A real pooled transport whose first `refusals` requests go to a port that refuses the
    connection: the kernel answers RST to the SYN, so those requests provably never reached the
    service. Every later request goes where it was addressed."""

    def __init__(self, refusals: int, refused_port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusals = refusals
        self.refused_port = refused_port
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.refusals > 0:
            self.refusals -= 1
            request = httpx.Request(
                request.method,
                request.url.copy_with(port=self.refused_port),
                headers=request.headers,
                stream=request.stream,
                extensions=request.extensions,
            )
        return await super().handle_async_request(request)


# --- the counted soak -----------------------------------------------------------------------------

SOAK_CALLS = 400
SOAK_CONCURRENCY = 25
# Each request meets at most one fault; together they fire on ~30 % of requests.
SOAK_FAULTS: list[tuple[Fault, float]] = [
    (Fault.drop(), 0.05),  # reset before any answer
    (Fault.drop().after_processing(), 0.03),  # reset after the function ran
    (Fault.truncate(7), 0.05),  # headers, then 7 bytes of the body, then EOF
    (Fault.status(500), 0.04),
    (Fault.status(502).after_processing(), 0.02),
    (Fault.status(503), 0.03),
    (Fault.status(503, retry_after=0), 0.03),
    (Fault.status(429, retry_after=0), 0.04),
    (Fault.delay(1.5), 0.02),  # slow headers, past the 0.5 s read timeout
    (Fault.slow_body(8, 0.8), 0.02),  # the body stalls past the read timeout
    (Fault.html(), 0.01),  # a 200 HTML error page
]
SOAK_KINDS = ("unsubscribe", "results", "revalidate", "cancel", "schedule")
IDEMPOTENT_KINDS = ("unsubscribe", "results", "revalidate", "cancel")
TYPED_FAILURES = (TransportError, ServerError, RateLimitError, ResponseDecodeError)


def soak_emulator(n: int) -> MailkitEmulator:
    emu = new_emulator()
    for i in range(n):
        emu.add_subscriber(f"u{i}@example.com", email_id=100_000 + i)
        emu.add_subscriber(f"r{i}@example.com", email_id=200_000 + i, unsubscribed=True)
        emu.add_campaign(10_000 + i)
    emu.add_mass_error(REQUEST_ID, 4, email="mail@mail.cz", date="2020-09-07 14:24:13")
    return emu


async def soak_call(mk: Any, i: int, kind: str) -> None:
    """One call of the soak; raises AssertionError if a result is not the right one."""
    if kind == "unsubscribe":
        unsubscribed = await mk.email.unsubscribe(f"u{i}@example.com")
        assert type(unsubscribed) is Unsubscription
        assert unsubscribed.email_id == 100_000 + i
    elif kind == "results":
        results = await mk.sendmail_mass.results(REQUEST_ID)
        assert type(results) is MassSendResults
        assert results.status == "ERROR"
        assert [(e.code, e.email) for e in results.errors] == [(4, "mail@mail.cz")]
    elif kind == "revalidate":
        revalidated = await mk.email.revalidate(f"r{i}@example.com", agreement=True)
        assert type(revalidated) is Revalidation
        assert revalidated.revalidated is True
        assert revalidated.email == f"r{i}@example.com"
    elif kind == "cancel":
        assert await mk.campaigns.single.cancel(10_000 + i) is None
    else:
        scheduled = await mk.campaigns.single.schedule(10_000 + i, "now")
        assert type(scheduled) is ScheduleResult


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_soak_every_call_completes_or_fails_typed(
    anyio_backend: str, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailkit_async")
    emu = soak_emulator(SOAK_CALLS)
    rules = add_rules(emu, SOAK_FAULTS)
    outcomes: Counter[tuple[str, str]] = Counter()
    errors: list[MailkitError] = []
    others: list[BaseException] = []
    wrong: list[str] = []
    settled: list[int] = []
    policy = RetryPolicy(attempts=6, backoff=0.001, max_backoff=0.01, budget=None, deadline=20)
    queue = iter(range(SOAK_CALLS))
    started = time.monotonic()

    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=policy) as mk:

            async def worker() -> None:
                for i in queue:
                    kind = SOAK_KINDS[i % len(SOAK_KINDS)]
                    try:
                        await soak_call(mk, i, kind)
                    except AssertionError as exc:
                        wrong.append(f"{kind} #{i}: {exc}")
                        outcomes[kind, "wrong result"] += 1
                    except NotUnsubscribedError as exc:
                        # The first attempt revalidated, its answer was lost; the retry finds
                        # nothing left to do. Typed, and the end state is right (checked below).
                        errors.append(exc)
                        settled.append(i)
                        outcomes[kind, type(exc).__name__] += 1
                    except MailkitError as exc:
                        errors.append(exc)
                        outcomes[kind, type(exc).__name__] += 1
                    except Exception as exc:
                        others.append(exc)
                        outcomes[kind, f"UNTYPED {type(exc).__name__}"] += 1
                    else:
                        outcomes[kind, "ok"] += 1

            with anyio.fail_after(45):
                async with anyio.create_task_group() as tg:
                    for _ in range(SOAK_CONCURRENCY):
                        tg.start_soon(worker)
            assert checked_out(mk) == 0
    elapsed = time.monotonic() - started

    requests = sum(emu.requests.values())
    faults = fired(rules)
    by_outcome: Counter[str] = Counter()
    for (_, outcome), count in outcomes.items():
        by_outcome[outcome] += count
    print(
        f"\nsoak[{protocol}]: {SOAK_CALLS} calls, {requests} requests, {faults} faults injected "
        f"({faults / requests:.0%} of requests) in {elapsed:.1f} s; outcomes {dict(by_outcome)}"
    )
    assert sum(outcomes.values()) == SOAK_CALLS
    assert others == []
    assert wrong == []
    assert faults / requests >= 0.20
    for error in errors:
        assert_typed(error)
        allowed: tuple[type[MailkitError], ...] = TYPED_FAILURES
        if error.function == REVALIDATE:
            allowed = (*allowed, NotUnsubscribedError)
        assert isinstance(error, allowed), repr(error)
        if isinstance(error, NotUnsubscribedError):
            # Every address started unsubscribed: only a re-send can find it subscribed, and the
            # error says so.
            assert error.attempts > 1, repr(error)
    for i in settled:
        assert not emu.is_unsubscribed(f"r{i}@example.com")
    # Retries carry the idempotent calls through: only a 200 HTML page (not transient) or six
    # faults in a row may fail one.
    idempotent = sum(outcomes[kind, outcome] for kind, outcome in outcomes if kind in IDEMPOTENT_KINDS)
    idempotent_ok = sum(outcomes[kind, "ok"] for kind in IDEMPOTENT_KINDS) + len(settled)
    assert idempotent_ok >= 0.95 * idempotent
    # Zero repeated sends: no campaign was scheduled twice, and each success scheduled exactly once.
    for i in range(4, SOAK_CALLS, len(SOAK_KINDS)):
        assert len(emu.scheduled_sends(10_000 + i)) <= 1
    assert (
        sum(len(emu.scheduled_sends(10_000 + i)) for i in range(4, SOAK_CALLS, 5))
        >= outcomes["schedule", "ok"]
    )
    for record in caplog.records:
        assert MD5 not in record.getMessage()


# --- the bounce stream under faults ----------------------------------------------------------------


def add_bounce_faults(emu: MailkitEmulator, cut: int, *, stalls: int = 2) -> list[FaultRule]:
    """Faults on ~40 % of page requests, wherever they fall in the stream (seeded dice)."""
    rules = [
        emu.faults.add(Fault.drop(), times=None, function=BOUNCES, probability=0.12),  # reset
        # The page cut off after `cut` bytes of its body.
        emu.faults.add(Fault.truncate(cut), times=None, function=BOUNCES, probability=0.12),
        emu.faults.add(Fault.status(503, retry_after=0), times=None, function=BOUNCES, probability=0.1),
        emu.faults.add(Fault.status(500), times=None, function=BOUNCES, probability=0.1),
    ]
    if stalls:  # the page stalls past the read timeout (each costs a read timeout)
        rules.append(
            emu.faults.add(Fault.slow_body(256 * 1024, 0.8), times=stalls, function=BOUNCES, probability=0.1)
        )
    return rules


def seeded(records: int) -> MailkitEmulator:
    """An emulator holding a stream of `records` bounces, with a gap in the IDs every 37."""
    emu = new_emulator()
    emu.seed_bounces(records, gap_every=37)
    return emu


BOUNCE_CASES = [
    pytest.param("json", 100_000, 5_000, 200_000, id="json-100k"),
    pytest.param("xmlrpc", 30_000, 2_000, 100_000, id="xmlrpc-30k"),
]


def faulted_mid_stream(emu: MailkitEmulator) -> list[Any]:
    return [
        r
        for r in emu.request_log
        if r.fault is not None and r.function == BOUNCES and int(r.params["ID_undelivered_log"]) > 0
    ]


@pytest.mark.parametrize(("protocol", "records", "page_size", "cut"), BOUNCE_CASES)
async def test_bounce_stream_under_faults_loses_and_repeats_nothing(
    anyio_backend: str, protocol: str, records: int, page_size: int, cut: int
) -> None:
    emu = seeded(records)
    rules = add_bounce_faults(emu, cut)
    policy = RetryPolicy(attempts=10, backoff=0, budget=None)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=policy) as mk:
            with anyio.fail_after(40):
                ids = [b.undelivered_log_id async for b in mk.report.raw.bounces(page_size=page_size)]
            assert checked_out(mk) == 0
    expected = list(emu.bounce_ids())
    pages = -(-records // page_size) + 1  # and the empty page that ends the stream
    print(
        f"\nbounces[{protocol}]: {len(ids)} records checked, {fired(rules)} faults injected over "
        f"{emu.requests[BOUNCES]} page requests ({pages} pages)"
    )
    assert len(expected) == records
    assert ids == expected  # nothing lost, nothing repeated, in order
    # A cut or a stall longer than the short last page is no fault: the page arrives whole.
    last = expected[-1]
    effective = [
        r
        for r in emu.request_log
        if r.fault is not None
        and not (r.fault.kind in ("truncate", "slow_body") and int(r.params["ID_undelivered_log"]) == last)
    ]
    assert emu.requests[BOUNCES] == pages + len(effective)
    assert len(effective) >= 4
    assert faulted_mid_stream(emu)


@pytest.mark.parametrize(("protocol", "records", "page_size", "cut"), BOUNCE_CASES)
async def test_bounce_stream_resumed_from_the_error_cursor_is_complete(
    anyio_backend: str, protocol: str, records: int, page_size: int, cut: int
) -> None:
    emu = seeded(records)
    faults = [(Fault.drop(), 0.35), (Fault.status(500), 0.25), (Fault.truncate(cut), 0.15)]
    rules = add_rules(emu, faults, BOUNCES)
    # Two attempts a page: a page that fails twice ends the stream with the cursor to resume at.
    policy = RetryPolicy(attempts=2, backoff=0, budget=None)
    ids: list[int] = []
    # Each stream that ended early: its error, the last ID yielded before it, the pool's checkouts.
    ended: list[tuple[MailkitError, int, int]] = []
    after_id: int | None = None
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=policy) as mk:
            with anyio.fail_after(40):
                while len(ended) < 200:
                    try:
                        async for bounce in mk.report.raw.bounces(after_id=after_id, page_size=page_size):
                            ids.append(bounce.undelivered_log_id)
                        break
                    except MailkitError as error:
                        ended.append((error, ids[-1] if ids else 0, checked_out(mk)))
                        after_id = error.cursor
    resumed_at = [error.cursor for error, _, _ in ended]
    for error, last_seen, checked in ended:
        assert_typed(error)
        assert isinstance(error, (TransportError, ServerError)), repr(error)
        assert error.cursor == last_seen
        assert f"after_id={error.cursor}" in str(error)
        assert checked == 0
    print(
        f"\nbounces-resumed[{protocol}]: {len(ids)} records checked, {fired(rules)} faults injected, "
        f"{len(resumed_at)} resumes"
    )
    assert ids == list(emu.bounce_ids())
    assert len(ids) == records
    assert resumed_at  # the seeded dice do end the stream mid-way
    assert any(cursor > 0 for cursor in resumed_at)


async def test_bounce_pages_with_prefetch_under_faults_lose_and_repeat_nothing(anyio_backend: str) -> None:
    emu = new_emulator()
    emu.seed_bounces(50_000, gap_every=11)
    rules = add_bounce_faults(emu, 150_000, stalls=0)
    with emu.serve() as server:
        async with loopback_client(server.url, retry=RetryPolicy(attempts=10, backoff=0, budget=None)) as mk:
            ids: list[int] = []
            with anyio.fail_after(30):
                async with mk.report.raw.bounce_pages(page_size=5_000, prefetch=1) as pages:
                    async for page in pages:
                        ids.extend(b.undelivered_log_id for b in page)
            assert checked_out(mk) == 0
    assert ids == list(emu.bounce_ids())
    assert fired(rules) >= 2


# --- harmful calls: zero repeated sends ------------------------------------------------------------

# name: (fault, error raised, whether the service ran the function; None: not known in time)
HARMFUL_FAULTS: dict[str, tuple[Fault, type[MailkitError], bool | None]] = {
    "reset": (Fault.drop(), TransportError, False),
    "reset-after": (Fault.drop().after_processing(), TransportError, True),
    "500": (Fault.status(500), ServerError, False),
    "500-after": (Fault.status(500).after_processing(), ServerError, True),
    "503-retry-after": (Fault.status(503, retry_after=0), RateLimitError, False),
    "503-retry-after-after": (Fault.status(503, retry_after=0).after_processing(), RateLimitError, True),
    "truncated": (Fault.truncate(5), TransportError, True),
    "slow-headers": (Fault.delay(0.8), TransportError, None),
    "slow-headers-after": (Fault.delay(0.8).after_processing(), TransportError, True),
    "slow-body": (Fault.slow_body(4, 0.8), TransportError, True),
    "html-200": (Fault.html(), ResponseDecodeError, False),
    "html-200-after": (Fault.html().after_processing(), ResponseDecodeError, True),
}


# The timeouts behave the same whatever the protocol: those cases (slow to run) use JSON only.
HARMFUL_CASES = [
    pytest.param(name, protocol, id=f"{name}-{protocol}")
    for name in HARMFUL_FAULTS
    for protocol in PROTOCOLS
    if protocol == "json" or not name.startswith("slow")
]


@pytest.mark.parametrize(("name", "protocol"), HARMFUL_CASES)
async def test_harmful_calls_are_never_sent_twice(anyio_backend: str, name: str, protocol: str) -> None:
    fault, error_type, processed = HARMFUL_FAULTS[name]
    emu = new_emulator()
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID, unsubscribed=True)
    emu.faults.add(fault, function=SCHEDULE)
    emu.faults.add(fault, function=REVALIDATE)
    policy = RetryPolicy(attempts=5, backoff=0, budget=None)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=policy, read=0.3) as mk:
            with pytest.raises(error_type) as scheduled:
                await mk.campaigns.single.schedule(2, "now")
            with pytest.raises(error_type) as mailed:
                await mk.email.revalidate(ADDRESS, agreement=False)
            assert checked_out(mk) == 0
        for info in (scheduled, mailed):
            assert type(info.value) is error_type
            assert_typed(info.value)
        sends = len(emu.scheduled_sends(2))
        mails = emu.verification_mails(ADDRESS)
        assert emu.schedule_calls == 1
        assert emu.requests[REVALIDATE] == 1
    assert sends <= 1
    assert mails <= 1
    if processed is not None:
        assert (sends, mails) == (int(processed), int(processed))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("how", ["429", "429-retry-after", "refused", "refused-then-429"])
async def test_harmful_calls_retry_what_provably_never_reached_the_service(
    anyio_backend: str, protocol: str, how: str
) -> None:
    emu = new_emulator()
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID, unsubscribed=True)
    refusals = {"429": 0, "429-retry-after": 0, "refused": 2, "refused-then-429": 1}[how]
    busy = {"429": 2, "429-retry-after": 2, "refused": 0, "refused-then-429": 1}[how]
    fault = Fault.status(429, retry_after=0) if how == "429-retry-after" else Fault.status(429)
    for function in (SCHEDULE, REVALIDATE):
        if busy:
            emu.faults.add(fault, times=busy, function=function)
    with emu.serve() as server, refused_port() as port:
        transport = RefusingTransport(0, port)
        async with httpx.AsyncClient(transport=transport, timeout=timeout()) as http:
            mk = loopback_client(
                server.url, protocol, http_client=http, retry=RetryPolicy(attempts=3, backoff=0)
            )
            transport.refusals = refusals
            scheduled = await mk.campaigns.single.schedule(2, "now")
            transport.refusals = refusals
            mailed = await mk.email.revalidate(ADDRESS, agreement=False)
            assert checked_out(mk) == 0
    assert type(scheduled) is ScheduleResult
    assert mailed == Revalidation(email=ADDRESS, email_id=mailed.email_id, revalidated=False)
    assert transport.attempts == 2 * 3  # each call: two refusals/429s, then the success
    assert emu.schedule_calls == emu.requests[REVALIDATE] == 1 + busy  # refused ones never arrived
    assert len(emu.scheduled_sends(2)) == 1
    assert emu.verification_mails(ADDRESS) == 1


# --- the pool: nothing stays checked out ------------------------------------------------------------


async def test_no_connection_stays_checked_out(anyio_backend: str) -> None:
    emu = new_emulator()
    emu.seed_bounces(3_000)
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID)
    emu.add_mass_error(REQUEST_ID, 2, email="x@example.com")
    # One connection and a 1 s pool timeout: a leaked checkout makes the next call fail.
    limits = httpx.Limits(max_connections=1)
    http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(2.0, read=0.3, pool=1.0))
    policy = RetryPolicy(attempts=4, backoff=0, budget=None)
    steps: list[str] = []

    with emu.serve() as server:
        async with http:
            mk = loopback_client(server.url, http_client=http, retry=policy)
            tight = loopback_client(
                server.url, http_client=http, retry=RetryPolicy(attempts=4, backoff=0, deadline=0.4)
            )

            async def next_call_works(step: str) -> None:
                steps.append(step)
                assert checked_out(mk) == 0, step
                with anyio.fail_after(3):
                    result = await mk.email.unsubscribe(ADDRESS)
                assert result.email_id == ADDRESS_ID

            # Faults retried to a success.
            emu.faults.extend([Fault.drop(), Fault.truncate(5), Fault.slow_body(4, 0.6)], function=RESULTS)
            assert (await mk.sendmail_mass.results(REQUEST_ID)).status == "ERROR"
            await next_call_works("retried to success")

            # Retries spent.
            emu.faults.add(Fault.status(500), times=4, function=RESULTS)
            with pytest.raises(ServerError):
                await mk.sendmail_mass.results(REQUEST_ID)
            await next_call_works("retries spent")

            # A harmful call's fault, raised at once.
            emu.faults.add(Fault.drop().after_processing(), function=SCHEDULE)
            with pytest.raises(TransportError):
                await mk.campaigns.single.schedule(2, "now")
            await next_call_works("harmful call not retried")

            # A break out of the bounce stream (a page had to be fetched twice).
            emu.faults.add(Fault.truncate(1_000), function=BOUNCES)
            seen = 0
            async for _ in mk.report.raw.bounces(page_size=500):
                seen += 1
                if seen == 750:
                    break
            await next_call_works("break out of the bounce stream")

            # Cancellation while a page is slow to come.
            emu.faults.add(Fault.delay(30), function=BOUNCES)
            with anyio.move_on_after(0.2) as scope:
                async for _ in mk.report.raw.bounces(page_size=500):
                    pass
            assert scope.cancelled_caught
            await next_call_works("cancelled during a slow page")

            # Cancellation in the middle of a slow body (chunks come faster than the read timeout).
            emu.faults.add(Fault.slow_body(4, 0.2), function=RESULTS)
            with anyio.move_on_after(0.3) as scope:
                await mk.sendmail_mass.results(REQUEST_ID)
            assert scope.cancelled_caught
            await next_call_works("cancelled during a slow body")

            # Cancellation during the wait before a retry.
            emu.faults.add(Fault.status(503, retry_after=30), function=RESULTS)
            with anyio.move_on_after(0.2) as scope:
                await mk.sendmail_mass.results(REQUEST_ID)
            assert scope.cancelled_caught
            await next_call_works("cancelled during the retry wait")

            # The call's deadline expires while the server is silent.
            rule = emu.faults.add(Fault.delay(30), times=None, function=RESULTS)
            with pytest.raises(TransportError) as info:
                await tight.sendmail_mass.results(REQUEST_ID)
            assert info.value.timed_out
            rule.remaining = 0
            await next_call_works("deadline expired")
    assert len(steps) == 8


# --- the deadline and cancellation -----------------------------------------------------------------

# The server stays silent, so what each call asks for does not matter.
DEADLINE_CALLS = {name: CALLS[name] for name in ("unsubscribe", "schedule", "bounces")}


@pytest.mark.parametrize("call", list(DEADLINE_CALLS))
async def test_deadline_bounds_a_call_to_a_silent_server(anyio_backend: str, call: str) -> None:
    function, invoke, _ = DEADLINE_CALLS[call]
    emu = new_emulator()
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID)
    emu.faults.add(Fault.delay(30), times=None)
    # Four attempts at a 10 s read timeout would take 40 s without the deadline.
    policy = RetryPolicy(attempts=4, backoff=0, deadline=0.3)
    with emu.serve() as server:
        async with loopback_client(server.url, retry=policy, read=10.0) as mk:
            started = time.monotonic()
            with pytest.raises(TransportError) as info:
                await invoke(mk)
            elapsed = time.monotonic() - started
            assert checked_out(mk) == 0
        # The server counts a request once it has read it: on a busy machine, maybe only after
        # the client gave up.
        for _ in range(100):
            if emu.requests[function]:
                break
            await anyio.sleep(0.05)
    assert 0.28 <= elapsed < 2.5
    assert info.value.timed_out
    assert "deadline" in str(info.value)
    assert info.value.attempts == 1
    assert emu.requests[function] == 1
    assert_typed(info.value)


async def test_deadline_spans_all_attempts(anyio_backend: str) -> None:
    emu = new_emulator()
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID)
    emu.faults.add(Fault.delay(30), times=None)
    # Ten attempts of 0.3 s reads are 3 s; the deadline ends the call after 1 s, mid-attempt.
    policy = RetryPolicy(attempts=10, backoff=0, deadline=1.0, budget=None)
    with emu.serve() as server:
        async with loopback_client(server.url, retry=policy, read=0.3) as mk:
            started = time.monotonic()
            with pytest.raises(TransportError) as info:
                await mk.email.unsubscribe(ADDRESS)
            elapsed = time.monotonic() - started
            assert checked_out(mk) == 0
    assert 0.95 <= elapsed < 2.0
    assert info.value.timed_out
    assert 2 <= emu.requests[UNSUBSCRIBE] <= 5


@pytest.mark.parametrize("wait", ["retry-after", "jittered-backoff", "slow-headers"])
async def test_cancellation_from_outside_propagates_and_sends_nothing_more(
    anyio_backend: str, wait: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = new_emulator()
    # An idempotent call waits before its retry; a harmful one is cancelled during its slow read.
    function, invoke = RESULTS, lambda mk: mk.sendmail_mass.results(REQUEST_ID)
    if wait == "retry-after":
        emu.faults.add(Fault.status(503, retry_after=30), times=None)
        policy = RetryPolicy(attempts=4, backoff=0)
    elif wait == "jittered-backoff":
        monkeypatch.setattr(retry_module.random, "uniform", lambda low, high: high)
        emu.faults.add(Fault.status(500), times=None)
        policy = RetryPolicy(attempts=4, backoff=30, max_backoff=30)
    else:
        function, invoke = SCHEDULE, lambda mk: mk.campaigns.single.schedule(2, "now")
        emu.faults.add(Fault.delay(30), times=None)
        policy = RetryPolicy(attempts=4, backoff=0)
    scope = anyio.CancelScope()
    caught: list[BaseException] = []
    with emu.serve() as server:
        async with loopback_client(server.url, retry=policy, read=10.0) as mk:

            async def worker() -> None:
                with scope:
                    try:
                        await invoke(mk)
                    except BaseException as exc:
                        caught.append(exc)
                        raise

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(worker)
                    while emu.requests[function] < 1:  # noqa: ASYNC110 (counted in the server's thread)
                        await anyio.sleep(0.01)
                    await anyio.sleep(0.1)  # now in the wait (or the read) before anything else
                    scope.cancel()
            await anyio.sleep(0.2)
            assert checked_out(mk) == 0
        assert scope.cancelled_caught
        assert len(caught) == 1
        assert isinstance(caught[0], anyio.get_cancelled_exc_class()), repr(caught[0])
        assert emu.requests[function] == 1  # nothing sent after the cancellation


# --- the retry budget -------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", ["503", "silent"])
async def test_retry_budget_keeps_a_fleet_from_storming_an_outage(anyio_backend: str, outage: str) -> None:
    fleet = 50
    emu = new_emulator()
    emu.add_mass_error(REQUEST_ID, 2, email="x@example.com")
    if outage == "503":
        emu.faults.add(Fault.status(503), times=None)
        expected_error: type[MailkitError] = ServerError
    else:
        emu.faults.add(Fault.delay(5), times=None)
        expected_error = TransportError
    policy = RetryPolicy(attempts=4, backoff=0, budget=50, retry_cost=5)
    assert policy.budget is not None
    # A timeout costs twice the tokens of another retry.
    cost = policy.retry_cost * (2 if outage == "silent" else 1)
    errors: list[BaseException] = []
    with emu.serve() as server:
        async with loopback_client(server.url, retry=policy, read=0.3) as mk:

            async def one() -> None:
                try:
                    await mk.sendmail_mass.results(REQUEST_ID)
                except BaseException as exc:
                    errors.append(exc)

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    for _ in range(fleet):
                        tg.start_soon(one)
            assert checked_out(mk) == 0
    total = emu.requests[RESULTS]
    retries = policy.budget // cost
    print(
        f"\nbudget[{outage}]: {fleet} calls made {total} requests ({fleet * policy.attempts} without a budget)"
    )
    assert len(errors) == fleet
    assert all(type(e) is expected_error for e in errors)
    assert total <= fleet + retries
    assert total == fleet + retries  # the bucket is spent, then every failure is raised at once


# --- Retry-After -------------------------------------------------------------------------------------


def http_date(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "retry_after", "cap", "low", "high"),
    [
        pytest.param(503, 30, 0.4, 0.35, 5.0, id="seconds-capped"),
        pytest.param(429, 1, 60.0, 0.95, None, id="seconds-honoured"),
        pytest.param(429, "date+30", 0.4, 0.35, 5.0, id="http-date-capped"),
        pytest.param(503, "date+1.5", 60.0, 0.4, 5.0, id="http-date-honoured"),
    ],
)
async def test_retry_after_is_honoured_and_capped(
    anyio_backend: str, status: int, retry_after: Any, cap: float, low: float, high: float | None
) -> None:
    emu = new_emulator(StampedEmulator)
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID)
    if isinstance(retry_after, str):
        retry_after = http_date(float(retry_after.removeprefix("date+")))
    emu.faults.add(Fault.status(status, retry_after=retry_after), function=UNSUBSCRIBE)
    # No backoff of its own: any wait is the server's Retry-After, capped at max_retry_after.
    policy = RetryPolicy(attempts=2, backoff=0, max_retry_after=cap)
    with emu.serve() as server:
        async with loopback_client(server.url, retry=policy) as mk:
            result = await mk.email.unsubscribe(ADDRESS)
    assert result.email_id == ADDRESS_ID
    stamps = emu.stamps
    assert [function for _, function in stamps] == [UNSUBSCRIBE, UNSUBSCRIBE]
    gap = stamps[1][0] - stamps[0][0]
    assert gap >= low
    if high is not None:
        assert gap < high


# --- secrets under faults -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_errors_out_of_faults_carry_no_secret(anyio_backend: str, protocol: str) -> None:
    emu = new_emulator()
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID)
    faults = [
        Fault.drop(),
        Fault.truncate(3),
        Fault.status(500),
        Fault.status(429, retry_after=0),
        Fault.html(),
        # A proxy that echoes the request body (credentials included) in its error page.
        Fault.body(f'{{"echo": "md5={MD5}"}} <html>'.encode(), status=200),
        Fault.body(f"<html>{MD5}</html>".encode(), status=502),
    ]
    caught: list[MailkitError] = []
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=RetryPolicy(attempts=1), read=0.3) as mk:
            for fault in faults:
                emu.faults.add(fault)
                try:
                    await mk.email.unsubscribe(ADDRESS)
                except MailkitError as error:
                    caught.append(error)
    assert len(caught) == len(faults)
    for error in caught:
        assert_no_secret(error)


async def test_pagination_error_is_typed_and_resumable_over_loopback(anyio_backend: str) -> None:
    # A page that does not advance (the service re-sends the first page whatever the cursor).
    emu = new_emulator()
    emu.seed_bounces(10)
    page = emu.bounce_records(0, limit=10)
    emu.register_function(BOUNCES, lambda call: page)
    with emu.serve() as server:
        async with loopback_client(server.url) as mk:
            seen: list[int] = []
            with anyio.fail_after(5), pytest.raises(PaginationError) as info:
                async for bounce in mk.report.raw.bounces():
                    seen.append(bounce.undelivered_log_id)
            assert checked_out(mk) == 0
    assert seen == list(range(1, 11))
    assert info.value.cursor == 10
    assert emu.requests[BOUNCES] == 2


# --- the idempotency rule, decided in one place -----------------------------------------------------------

# Whether each call may be sent again once it may have reached the service, as the design's table
# gives it. Every call meets a 429 first, so what it is asked never reaches the function.
IDEMPOTENT = {
    "schedule": False,
    "cancel": True,
    "results": True,
    "revalidate": True,
    "revalidate-mail": False,
    "unsubscribe": True,
    "bounces": True,
    "call": False,
}
RULE_CALLS = [
    *(
        (name, EVERY_CALL[name].function, idempotent, EVERY_CALL[name].invoke)
        for name, idempotent in IDEMPOTENT.items()
    ),
    ("call-idempotent", GENERIC, True, lambda mk: mk.call(GENERIC, {}, idempotent=True)),
]


async def test_the_idempotency_rule_is_decided_in_one_place(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every call's retry decision goes through RetryPolicy.may_retry, with the call's class as the
    # design table gives it; refuse there, and nothing else retries anything.
    asked: list[tuple[str | None, bool]] = []

    def never(self: RetryPolicy, error: BaseException, *, idempotent: bool) -> bool:
        asked.append((getattr(error, "function", None), idempotent))
        return False

    monkeypatch.setattr(RetryPolicy, "may_retry", never)
    emu = new_emulator()
    emu.add_subscriber(ADDRESS, email_id=ADDRESS_ID, unsubscribed=True)
    emu.register_function(GENERIC, lambda call: {"error_status": 0})
    emu.faults.add(Fault.status(429, retry_after=0), times=None)  # retryable for every call
    with emu.serve() as server:
        async with loopback_client(server.url, retry=RetryPolicy(attempts=4, backoff=0)) as mk:
            for _, function, idempotent, invoke in RULE_CALLS:
                before = sum(emu.requests.values())
                with pytest.raises(RateLimitError):
                    await invoke(mk)
                assert sum(emu.requests.values()) == before + 1
                assert asked[-1] == (function, idempotent)
    assert len(asked) == len(RULE_CALLS)
