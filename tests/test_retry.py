"""Retries: what is retried, how often, how long it waits, and what is never re-sent."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from support.calls import CALLS, GENERIC, Call
from support.clients import MD5, answered, client, mock, refused, reply, route

import mailkit_async._retry as retry_module
from mailkit_async import (
    APIError,
    InvalidParameterError,
    Mailkit,
    NotUnsubscribedError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from mailkit_async._retry import parse_retry_after
from mailkit_async._service import BOUNCES, RESULTS, REVALIDATE, SCHEDULE, UNSUBSCRIBE

pytestmark = pytest.mark.anyio

# Answers that satisfy every typed call (each reads its own part); bounces end on "[]".
OK_ANSWERS = {
    SCHEDULE: {"error": "OK, send_date: 2030-01-02 10:05:00", "error_status": 0},
    RESULTS: {"error_status": 0, "status": "OK"},
    REVALIDATE: {"error_status": 0, "error": "Email has been revalidated", "email": "a@b.cz"},
    UNSUBSCRIBE: {"error_status": 0, "ID_email": "5", "status": "1"},
    BOUNCES: [],
    GENERIC: {"error_status": 0, "anything": 1},
}

ALL_CALLS: dict[str, Call] = {
    **CALLS,
    "call-idempotent": Call(GENERIC, lambda mk: mk.call(GENERIC, {"a": 1}, idempotent=True), (object,)),
    "call": Call(GENERIC, lambda mk: mk.call(GENERIC, {"a": 1}), (object,)),
}
IDEMPOTENT = ["unsubscribe", "results", "cancel", "revalidate", "bounces", "call-idempotent"]
HARMFUL = ["schedule", "revalidate-mail", "call"]


def ok(request: httpx.Request) -> httpx.Response:
    function = json.loads(request.content)["function"]
    return reply(OK_ANSWERS[function])


@dataclass(frozen=True)
class Failure:
    """A transient failure as respx plays it, and the error it must end in."""

    make: Callable[[httpx.Request], httpx.Response]
    error: type[Exception]
    attrs: dict[str, Any]
    never_reached: bool  # so even a harmful call may be re-sent


def _raise(kind: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def effect(request: httpx.Request) -> httpx.Response:
        raise kind(f"{kind.__name__} from the test", request=request)

    return effect


def _status(code: int, headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, headers=headers, text="<html>busy</html>")


FAULTS: dict[str, Failure] = {
    "500": Failure(_status(500), ServerError, {"status_code": 500}, False),
    "502": Failure(_status(502), ServerError, {"status_code": 502}, False),
    "504": Failure(_status(504), ServerError, {"status_code": 504}, False),
    "503": Failure(_status(503), ServerError, {"status_code": 503}, False),
    "503-retry-after": Failure(
        _status(503, {"Retry-After": "0"}), RateLimitError, {"status_code": 503, "retry_after": 0.0}, False
    ),
    "429": Failure(_status(429), RateLimitError, {"status_code": 429}, True),
    "429-retry-after": Failure(
        _status(429, {"Retry-After": "0"}), RateLimitError, {"status_code": 429, "retry_after": 0.0}, True
    ),
    "connect-error": Failure(
        _raise(httpx.ConnectError), TransportError, {"request_sent": False, "timed_out": False}, True
    ),
    "connect-timeout": Failure(
        _raise(httpx.ConnectTimeout), TransportError, {"request_sent": False, "timed_out": True}, True
    ),
    "read-timeout": Failure(
        _raise(httpx.ReadTimeout), TransportError, {"request_sent": True, "timed_out": True}, False
    ),
    "remote-protocol-error": Failure(
        _raise(httpx.RemoteProtocolError), TransportError, {"request_sent": True}, False
    ),
    "read-error": Failure(_raise(httpx.ReadError), TransportError, {"request_sent": True}, False),
}


def sequence(
    *effects: Callable[[httpx.Request], httpx.Response],
) -> Callable[[httpx.Request], httpx.Response]:
    """A side effect answering with each effect in turn, the last one for good."""
    count = 0

    def effect(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return effects[min(count, len(effects)) - 1](request)

    return effect


def check_error(error: BaseException, fault: Failure, function: str) -> None:
    assert type(error) is fault.error
    assert error.function == function  # type: ignore[attr-defined]
    for name, value in fault.attrs.items():
        assert getattr(error, name) == value, name


async def failed(call: str, fault: Failure, *, attempts: int) -> tuple[Any, Any]:
    """The error `call` ends in over JSON when every attempt meets `fault`, and its route."""
    invoke = ALL_CALLS[call].invoke
    return await refused(
        fault.error, "json", fault.make, invoke, retry=RetryPolicy(attempts=attempts, backoff=0)
    )


# --- what is retried, and how often --------------------------------------------------------------


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("call", IDEMPOTENT)
async def test_idempotent_calls_retry_every_transient_fault(
    anyio_backend: str, call: str, fault_name: str
) -> None:
    fault = FAULTS[fault_name]
    error, r = await failed(call, fault, attempts=3)
    assert r.call_count == 3
    check_error(error, fault, ALL_CALLS[call].function)
    assert error.attempts == 3
    assert "(after 3 attempts)" in str(error)


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("call", HARMFUL)
async def test_harmful_calls_are_resent_only_when_the_request_never_reached_the_service(
    anyio_backend: str, call: str, fault_name: str
) -> None:
    fault = FAULTS[fault_name]
    error, r = await failed(call, fault, attempts=3)
    assert r.call_count == (3 if fault.never_reached else 1)
    check_error(error, fault, ALL_CALLS[call].function)
    assert error.attempts == r.call_count


@pytest.mark.parametrize(
    ("fault_name", "calls"),
    [
        ("read-timeout", 1),
        ("500", 1),
        ("503-retry-after", 1),
        ("remote-protocol-error", 1),
        ("connect-error", 4),
        ("429", 4),
    ],
)
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_schedule_over_both_protocols(
    anyio_backend: str, protocol: str, fault_name: str, calls: int
) -> None:
    fault = FAULTS[fault_name]
    _, r = await refused(
        fault.error,
        protocol,
        fault.make,
        lambda mk: mk.campaigns.single.schedule(7, "now"),
        retry=RetryPolicy(attempts=4, backoff=0),
    )
    assert r.call_count == calls


@pytest.mark.parametrize("call", IDEMPOTENT)
async def test_idempotent_call_succeeds_after_transient_faults(anyio_backend: str, call: str) -> None:
    invoke = ALL_CALLS[call].invoke
    effects = [FAULTS[name].make for name in ("500", "connect-error", "read-timeout")]
    _, r = await answered("json", sequence(*effects, ok), invoke, retry=RetryPolicy(attempts=4, backoff=0))
    assert r.call_count == 4


@pytest.mark.parametrize("call", HARMFUL)
async def test_harmful_call_succeeds_after_connect_error_and_429(anyio_backend: str, call: str) -> None:
    invoke = ALL_CALLS[call].invoke
    _, r = await answered(
        "json",
        sequence(FAULTS["connect-error"].make, FAULTS["429"].make, ok),
        invoke,
        retry=RetryPolicy(attempts=3, backoff=0),
    )
    assert r.call_count == 3


@pytest.mark.parametrize("fault_name", ["500", "429", "503-retry-after", "connect-error", "read-timeout"])
@pytest.mark.parametrize("call", ["unsubscribe", "schedule"])
async def test_attempts_1_never_retries(anyio_backend: str, call: str, fault_name: str) -> None:
    _, r = await failed(call, FAULTS[fault_name], attempts=1)
    assert r.call_count == 1


async def test_refusals_are_not_retried(anyio_backend: str) -> None:
    _, r = await refused(
        APIError,
        "json",
        {"error_status": 1, "error": "Invalid ID_email"},
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=5, backoff=0),
    )
    assert r.call_count == 1


async def test_concurrent_calls_keep_separate_retry_state(anyio_backend: str) -> None:
    seen: Counter[int] = Counter()

    def effect(request: httpx.Request) -> httpx.Response:
        email_id = json.loads(request.content)["parameters"]["ID_email"]
        seen[email_id] += 1
        if seen[email_id] < 3:
            return httpx.Response(500)
        return reply({"error_status": 0, "ID_email": str(email_id), "status": "1"})

    results: dict[int, int | None] = {}
    with mock() as router:
        route(router, "json").mock(side_effect=effect)
        async with client("json", retry=RetryPolicy(attempts=3, backoff=0)) as mk:

            async def one(email_id: int) -> None:
                results[email_id] = (await mk.email.unsubscribe(email_id)).email_id

            async with anyio.create_task_group() as tg:
                for i in range(1, 11):
                    tg.start_soon(one, i)
    assert results == {i: i for i in range(1, 11)}
    assert seen == {i: 3 for i in range(1, 11)}


# --- how many attempts an error reports ----------------------------------------------------------


async def test_a_refusal_after_a_retry_says_how_many_attempts_it_took(anyio_backend: str) -> None:
    refusal = reply({"error_status": 1, "error": "Invalid ID_email"})
    error, r = await refused(
        APIError,
        "json",
        sequence(FAULTS["500"].make, lambda request: refusal),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=4, backoff=0),
    )
    assert r.call_count == 2
    assert error.attempts == 2
    assert str(error) == "mailkit.email.unsubscribe: Invalid ID_email (after 2 attempts)"


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_revalidate_resent_after_a_lost_answer_flags_the_not_unsubscribed_error(
    anyio_backend: str, protocol: str
) -> None:
    """The first attempt may have revalidated the address; the re-send then finds nothing to do.

    `attempts` is how users tell that apart from a plain "not unsubscribed" (see README).
    """
    if protocol == "json":
        answer = reply({"error_status": 0, "error": "Email is not unsubscribed"})
    else:
        answer = httpx.Response(
            200,
            content=b"<?xml version='1.0'?><methodResponse><params><param><value><string>"
            b"a@b.cz is not unsubscribed</string></value></param></params></methodResponse>",
        )
    with mock() as router:
        r = route(router, protocol).mock(
            side_effect=sequence(FAULTS["read-error"].make, lambda request: answer)
        )
        async with client(protocol, retry=RetryPolicy(attempts=4, backoff=0)) as mk:
            with pytest.raises(NotUnsubscribedError) as resent:
                await mk.email.revalidate("a@b.cz", agreement=True)
            with pytest.raises(NotUnsubscribedError) as plain:
                await mk.email.revalidate("a@b.cz", agreement=True)
    assert r.call_count == 3
    assert resent.value.attempts == 2
    assert plain.value.attempts == 1
    assert "attempts" not in str(plain.value)


async def test_an_undecodable_first_answer_is_one_attempt(anyio_backend: str) -> None:
    error, _ = await refused(
        ResponseDecodeError,
        "json",
        httpx.Response(200, text="<html>oops</html>"),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=4, backoff=0),
    )
    assert error.attempts == 1
    assert "attempts" not in str(error)


async def test_an_argument_refused_before_sending_is_zero_attempts(anyio_backend: str) -> None:
    error, r = await refused(InvalidParameterError, "json", ok, lambda mk: mk.email.unsubscribe(""))
    assert r.call_count == 0
    assert error.attempts == 0


async def test_a_stream_error_reports_the_attempts_of_its_page(anyio_backend: str) -> None:
    with mock() as router:
        route(router, "json").mock(side_effect=FAULTS["500"].make)
        async with client("json", retry=RetryPolicy(attempts=2, backoff=0)) as mk:
            with pytest.raises(ServerError) as info:
                async for _ in mk.report.raw.bounces(after_id=10):
                    pass
    assert info.value.attempts == 2
    assert info.value.cursor == 10
    assert str(info.value).endswith("(after 2 attempts) (resume with after_id=10)")


# --- how long it waits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers_status",
    [(503, {"Retry-After": "0"}), (429, {"Retry-After": "0"}), (500, {"Retry-After": "0"})],
    ids=["503", "429", "500"],
)
async def test_retry_after_zero_beats_a_huge_backoff(
    anyio_backend: str, headers_status: tuple[int, dict[str, str]]
) -> None:
    status, headers = headers_status
    busy = _status(status, headers)
    policy = RetryPolicy(attempts=3, backoff=1000.0, max_backoff=1000.0)
    started = time.monotonic()
    with mock() as router:
        r = route(router, "json").mock(side_effect=sequence(busy, busy, ok))
        async with client("json", retry=policy) as mk:
            with anyio.fail_after(10):
                await mk.email.unsubscribe(5)
    assert r.call_count == 3
    assert time.monotonic() - started < 5


async def test_retry_after_seconds_are_waited(anyio_backend: str, sleeps: list[float]) -> None:
    error, r = await refused(
        RateLimitError,
        "json",
        _status(503, {"Retry-After": "7"}),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.01),
    )
    assert r.call_count == 3
    assert sleeps == [7.0, 7.0]
    assert error.retry_after == 7.0


async def test_retry_after_is_capped_at_max_retry_after(anyio_backend: str, sleeps: list[float]) -> None:
    await refused(
        RateLimitError,
        "json",
        _status(429, {"Retry-After": "3600"}),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=2, backoff=0, max_retry_after=60),
    )
    assert sleeps == [60.0]


async def test_retry_after_http_date_is_waited(anyio_backend: str, sleeps: list[float]) -> None:
    moment = email.utils.formatdate(time.time() + 30, usegmt=True)
    await refused(
        RateLimitError,
        "json",
        _status(429, {"Retry-After": moment}),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=2, backoff=0),
    )
    (wait,) = sleeps
    assert 25 <= wait <= 31


async def test_exponential_backoff_ceilings(
    anyio_backend: str, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry_module.random, "uniform", lambda low, high: high)
    _, r = await refused(
        ServerError,
        "json",
        _status(500),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=6, backoff=0.5, max_backoff=3.0),
    )
    assert r.call_count == 6
    assert sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_backoff_zero_never_waits(anyio_backend: str, sleeps: list[float]) -> None:
    await refused(
        ServerError,
        "json",
        _status(500),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=4, backoff=0),
    )
    assert sleeps == [0.0, 0.0, 0.0]


# --- RetryPolicy.wait and parse_retry_after, directly ---------------------------------------------


def _error(retry_after: float | None = None) -> ServerError:
    return ServerError("HTTP 500", function="mailkit.x", status_code=500, retry_after=retry_after)


@pytest.mark.parametrize("retry_number", [1, 2, 3, 4, 5, 6, 7])
def test_wait_is_full_jitter_under_the_exponential_ceiling(retry_number: int) -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0)
    ceiling = min(4.0, 0.5 * 2 ** (retry_number - 1))
    waits = [policy.wait(_error(), retry_number) for _ in range(300)]
    assert all(0.0 <= w <= ceiling for w in waits)
    assert max(waits) > ceiling / 2  # spread over the range, not pinned at 0
    assert min(waits) < ceiling / 2  # and not pinned at the ceiling
    assert len(set(waits)) > 100


def test_wait_ceiling_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    policy = RetryPolicy(backoff=1.0, max_backoff=5.0)
    assert [policy.wait(_error(), n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert all(low == 0.0 for low, _ in calls)


@pytest.mark.parametrize(
    ("retry_after", "max_retry_after", "expected"),
    [(5.0, 60.0, 5.0), (0.0, 60.0, 0.0), (500.0, 60.0, 60.0), (61.0, 61.0, 61.0), (3.5, 0.0, 0.0)],
)
def test_wait_honours_retry_after_capped(retry_after: float, max_retry_after: float, expected: float) -> None:
    policy = RetryPolicy(backoff=100.0, max_backoff=100.0, max_retry_after=max_retry_after)
    assert policy.wait(_error(retry_after), 1) == expected
    assert policy.wait(_error(retry_after), 4) == expected


def test_wait_backoff_zero_is_zero() -> None:
    policy = RetryPolicy(backoff=0)
    assert [policy.wait(_error(), n) for n in range(1, 10)] == [0.0] * 9


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("Wed, 32 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    moment = "Wed, 21 Oct 2015 07:28:00 GMT"
    stamp = email.utils.parsedate_to_datetime(moment).timestamp()
    assert parse_retry_after(moment, now=stamp - 30) == pytest.approx(30.0)
    assert parse_retry_after(moment, now=stamp + 30) == 0.0  # already past
    assert parse_retry_after("Wed, 21 Oct 2015 09:28:00 +0200", now=stamp - 10) == pytest.approx(10.0)


# --- the retry budget ----------------------------------------------------------------------------


async def requests_per_failing_call(
    policy: RetryPolicy,
    effect: Callable[[httpx.Request], httpx.Response],
    error: type[Exception],
    *,
    calls: int,
) -> list[int]:
    """Make `calls` unsubscribes one after another against a failing service: requests each made."""
    per_call: list[int] = []
    with mock() as router:
        r = route(router, "json").mock(side_effect=effect)
        async with client("json", retry=policy) as mk:
            for _ in range(calls):
                before = r.call_count
                with pytest.raises(error):
                    await mk.email.unsubscribe(5)
                per_call.append(r.call_count - before)
    return per_call


async def test_budget_allows_only_two_retries_across_calls(anyio_backend: str) -> None:
    policy = RetryPolicy(attempts=4, backoff=0, budget=10, retry_cost=5)
    per_call = await requests_per_failing_call(policy, _status(500), ServerError, calls=3)
    # 10 tokens, 5 a retry: two retries in all, then every failure is raised at once.
    assert per_call == [3, 1, 1]


async def test_budget_is_charged_only_for_retries_actually_made(anyio_backend: str) -> None:
    # attempts=2: each failing call makes one retry (5 tokens), so 10 tokens pay for two calls' retries.
    policy = RetryPolicy(attempts=2, backoff=0, budget=10, retry_cost=5)
    per_call = await requests_per_failing_call(policy, _status(500), ServerError, calls=3)
    assert per_call == [2, 2, 1]


async def test_budget_timeouts_cost_double(anyio_backend: str) -> None:
    policy = RetryPolicy(attempts=4, backoff=0, budget=10, retry_cost=5)
    per_call = await requests_per_failing_call(policy, _raise(httpx.ReadTimeout), TransportError, calls=2)
    assert per_call == [2, 1]


async def test_budget_refills_on_success(anyio_backend: str) -> None:
    policy = RetryPolicy(attempts=2, backoff=0, budget=5, retry_cost=5)
    with mock() as router:
        r = route(router, "json").mock(side_effect=sequence(*[_status(500), ok] * 4))
        async with client("json", retry=policy) as mk:
            for _ in range(4):
                await mk.email.unsubscribe(5)  # fails once, then succeeds on the retry
    assert r.call_count == 8


async def test_budget_none_is_unlimited(anyio_backend: str) -> None:
    policy = RetryPolicy(attempts=3, backoff=0, budget=None)
    per_call = await requests_per_failing_call(policy, _status(500), ServerError, calls=10)
    assert sum(per_call) == 30


async def test_budget_is_per_client(anyio_backend: str) -> None:
    policy = RetryPolicy(attempts=2, backoff=0, budget=5, retry_cost=5)
    with mock() as router:
        r = route(router, "json").mock(side_effect=_status(500))
        for _ in range(2):
            async with client("json", retry=policy) as mk:
                with pytest.raises(ServerError):
                    await mk.email.unsubscribe(5)
    assert r.call_count == 4


# --- deadline and cancellation -------------------------------------------------------------------


def silent_server(calls: list[httpx.Request], started: anyio.Event | None = None) -> httpx.AsyncClient:
    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if started is not None:
            started.set()
        await anyio.sleep(10)
        return httpx.Response(200, json={"error_status": 0, "ID_email": "5", "status": "1"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("call", ["unsubscribe", "schedule"])
async def test_deadline_ends_a_call_to_a_server_that_never_answers(anyio_backend: str, call: str) -> None:
    invoke = ALL_CALLS[call].invoke
    calls: list[httpx.Request] = []
    policy = RetryPolicy(attempts=4, backoff=0, deadline=0.2)
    started = time.monotonic()
    async with Mailkit(4321, MD5, retry=policy, http_client=silent_server(calls)) as mk:
        with pytest.raises(TransportError) as info:
            await invoke(mk)
    assert time.monotonic() - started < 3
    assert info.value.timed_out is True
    assert len(calls) == 1
    assert info.value.attempts == 1


async def test_deadline_covers_the_waits_between_attempts(anyio_backend: str) -> None:
    # A wait that would pass the deadline is not slept: the rate limit itself is raised at once.
    policy = RetryPolicy(attempts=4, backoff=0, deadline=0.3)
    started = time.monotonic()
    error, r = await refused(
        RateLimitError,
        "json",
        _status(503, {"Retry-After": "30"}),
        lambda mk: mk.email.unsubscribe(5),
        retry=policy,
    )
    assert time.monotonic() - started < 3
    assert error.retry_after == 30.0
    assert r.call_count == 1


async def test_cancellation_during_a_retry_wait_propagates(anyio_backend: str) -> None:
    finished = False
    started = time.monotonic()
    with mock() as router:
        r = route(router, "json").mock(side_effect=_status(503, {"Retry-After": "30"}))
        async with client("json", retry=RetryPolicy(attempts=4, backoff=0)) as mk:
            with anyio.move_on_after(0.2) as scope:
                await mk.email.unsubscribe(5)
                finished = True
    assert scope.cancelled_caught
    assert not finished
    assert r.call_count == 1
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("call", ["unsubscribe", "schedule"])
async def test_cancellation_during_a_slow_request_propagates_and_is_not_retried(
    anyio_backend: str, call: str
) -> None:
    invoke = ALL_CALLS[call].invoke
    calls: list[httpx.Request] = []
    finished = False
    async with Mailkit(4321, MD5, retry=RetryPolicy(backoff=0), http_client=silent_server(calls)) as mk:
        with anyio.move_on_after(0.2) as scope:
            await invoke(mk)
            finished = True
    assert scope.cancelled_caught
    assert not finished
    assert len(calls) == 1


async def test_cancel_scope_cancelled_from_another_task(anyio_backend: str) -> None:
    calls: list[httpx.Request] = []
    started = anyio.Event()
    outcome: list[object] = []
    scope = anyio.CancelScope()
    async with Mailkit(
        4321, MD5, retry=RetryPolicy(backoff=0), http_client=silent_server(calls, started)
    ) as mk:

        async def worker() -> None:
            with scope:
                try:
                    outcome.append(await mk.email.unsubscribe(5))
                except Exception as exc:  # anything but cancellation is wrong
                    outcome.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(worker)
                await started.wait()
                scope.cancel()
    assert scope.cancelled_caught
    assert outcome == []
    assert len(calls) == 1


async def test_cancel_scope_cancelled_during_backoff_from_another_task(anyio_backend: str) -> None:
    first = anyio.Event()
    outcome: list[object] = []
    scope = anyio.CancelScope()

    def effect(request: httpx.Request) -> httpx.Response:
        first.set()
        return httpx.Response(500, headers={"Retry-After": "30"})

    with mock() as router:
        r = route(router, "json").mock(side_effect=effect)
        async with client("json", retry=RetryPolicy(attempts=4, backoff=0)) as mk:

            async def worker() -> None:
                with scope:
                    try:
                        outcome.append(await mk.sendmail_mass.results(55))
                    except Exception as exc:
                        outcome.append(exc)

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(worker)
                    await first.wait()
                    await anyio.sleep(0.05)
                    scope.cancel()
    assert scope.cancelled_caught
    assert outcome == []
    assert r.call_count == 1


# --- RetryPolicy validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": -1},
        {"attempts": True},
        {"attempts": 2.5},
        {"attempts": "3"},
        {"backoff": -0.1},
        {"backoff": "1"},
        {"backoff": True},
        {"max_backoff": -1},
        {"max_retry_after": -1},
        {"max_retry_after": None},
        {"deadline": 0},
        {"deadline": -1},
        {"deadline": True},
        {"deadline": "5"},
        {"budget": -1},
        {"budget": 2.5},
        {"retry_cost": -1},
        {"retry_cost": 1.5},
    ],
    ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()),
)
def test_retry_policy_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError) as info:
        RetryPolicy(**kwargs)
    assert isinstance(info.value, ValueError)
    assert next(iter(kwargs)) in str(info.value)


def test_retry_policy_accepts_edge_values() -> None:
    policy = RetryPolicy(attempts=1, backoff=0, max_backoff=0, max_retry_after=0, deadline=None, budget=None)
    assert policy.attempts == 1
    assert RetryPolicy(budget=0, retry_cost=0).budget == 0
    assert RetryPolicy() == RetryPolicy(attempts=4, backoff=0.5, max_backoff=30.0)
