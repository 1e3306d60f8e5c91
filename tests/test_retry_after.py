"""Retry-After in every form HTTP defines, the deadline rule, and what a retry logs."""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from support.clients import client, mock, refused, route

from mailkit_async import RateLimitError, RetryPolicy, ServerError
from mailkit_async._retry import parse_retry_after
from mailkit_async._service import UNSUBSCRIBE

pytestmark = pytest.mark.anyio

# 1994-11-06 08:49:37 GMT, RFC 9110's own example, in its three forms.
MOMENT = calendar.timegm((1994, 11, 6, 8, 49, 37))
FORMS = {
    "imf-fixdate": "Sun, 06 Nov 1994 08:49:37 GMT",
    "rfc850": "Sunday, 06-Nov-94 08:49:37 GMT",
    "asctime": "Sun Nov  6 08:49:37 1994",
}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_http_date_form(form: str) -> None:
    assert parse_retry_after(FORMS[form], now=MOMENT - 42) == 42.0
    assert parse_retry_after(FORMS[form], now=MOMENT + 42) == 0.0  # already past: retry now


def test_asctime_with_a_two_digit_day_and_loose_case() -> None:
    assert (
        parse_retry_after("Thu Dec 31 23:59:59 2026", now=calendar.timegm((2026, 12, 31, 23, 59, 0))) == 59.0
    )
    assert parse_retry_after("sun, 06 nov 1994 08:49:37 gmt", now=MOMENT - 1) == 1.0


@pytest.mark.parametrize(
    ("two_digits", "year"),
    [("94", 1994), ("30", 2030), ("76", 2076), ("77", 1977), ("00", 2000)],
)
def test_rfc850_years_more_than_50_years_ahead_are_last_century(two_digits: str, year: int) -> None:
    now = calendar.timegm((2026, 6, 1, 0, 0, 0))
    moment = calendar.timegm((year, 11, 6, 8, 49, 37))
    expected = max(0.0, float(moment - now))
    assert parse_retry_after(f"Sunday, 06-Nov-{two_digits} 08:49:37 GMT", now=now) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("2.5", 2.5), ("inf", None), ("1e3", None), ("-", None)],
)
def test_delta_seconds(value: str, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 31 Nov 1994 08:49:37 GMT",  # no 31 November
        "Sun Nov 31 08:49:37 1994",
        "Sun Nov  6 25:49:37 1994",
        "Sunday, 06-Nov-94 08:49:37",  # no zone
        "Sun Nov  6 08:49:37",  # no year
        "tomorrow",
    ],
)
def test_bad_dates_are_ignored(value: str) -> None:
    assert parse_retry_after(value, now=MOMENT) is None


# --- end to end ------------------------------------------------------------------------------------------


def _in(seconds: float, form: str) -> str:
    """An HTTP date `seconds` from now, in `form`."""
    moment = time.gmtime(time.time() + seconds)
    if form == "imf-fixdate":
        return time.strftime("%a, %d %b %Y %H:%M:%S GMT", moment)
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", moment)
    day = f"{moment.tm_mday:2d}"
    return time.strftime(f"%a %b {day} %H:%M:%S %Y", moment)


def _answer(status: int, retry_after: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, headers={"Retry-After": retry_after})


@pytest.mark.parametrize("form", [*FORMS, "seconds"])
async def test_every_form_is_waited(anyio_backend: str, sleeps: list[float], form: str) -> None:
    header = "30" if form == "seconds" else _in(30, form)
    error, r = await refused(
        RateLimitError,
        "json",
        _answer(429, header),
        lambda mk: mk.email.unsubscribe(5),
        retry=RetryPolicy(attempts=2, backoff=0),
    )
    assert r.call_count == 2
    (wait,) = sleeps
    assert 27 <= wait <= 30
    assert error.retry_after is not None and 27 <= error.retry_after <= 30


@pytest.mark.parametrize(
    ("status", "kind"), [(429, RateLimitError), (503, RateLimitError), (500, ServerError)]
)
@pytest.mark.parametrize("form", ["seconds", "imf-fixdate", "asctime"])
async def test_a_wait_past_the_deadline_raises_at_once(
    anyio_backend: str, sleeps: list[float], status: int, kind: type[Exception], form: str
) -> None:
    header = "120" if form == "seconds" else _in(120, form)
    policy = RetryPolicy(attempts=4, backoff=0, max_retry_after=600, deadline=10)
    started = time.monotonic()
    with mock() as router:
        r = route(router, "json").mock(side_effect=_answer(status, header))
        async with client("json", retry=policy) as mk:
            with pytest.raises(kind) as info:
                await mk.email.unsubscribe(5)
    assert time.monotonic() - started < 5
    assert sleeps == []  # not slept, not even partly
    assert r.call_count == 1
    error = info.value
    assert isinstance(error, (RateLimitError, ServerError))
    assert error.retry_after is not None and 115 <= error.retry_after <= 120
    assert error.status_code == status
    assert error.attempts == 1


async def test_the_deadline_counts_what_is_left_of_it(anyio_backend: str) -> None:
    # Real waits: 0.3 s fits a 0.5 s deadline once; the second 0.3 s would pass what is left.
    policy = RetryPolicy(attempts=4, backoff=0, deadline=0.5)
    # the rate limit, not a timeout
    error, r = await refused(
        RateLimitError, "json", _answer(429, "0.3"), lambda mk: mk.email.unsubscribe(5), retry=policy
    )
    assert r.call_count == 2
    assert error.attempts == 2


async def test_a_wait_that_fits_is_slept(anyio_backend: str, sleeps: list[float]) -> None:
    policy = RetryPolicy(attempts=3, backoff=0, deadline=100)
    await refused(RateLimitError, "json", _answer(429, "2"), lambda mk: mk.email.unsubscribe(5), retry=policy)
    assert sleeps == [2.0, 2.0]


# --- what a retry logs -----------------------------------------------------------------------------------


async def test_a_retry_is_logged_at_info_with_function_attempt_cause_and_wait(
    anyio_backend: str, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    await refused(
        RateLimitError,
        "json",
        _answer(503, "4"),
        lambda mk: mk.email.unsubscribe("someone@example.com"),
        retry=RetryPolicy(attempts=2, backoff=0),
    )
    (record,) = [
        r for r in caplog.records if r.levelno == logging.INFO and r.name.startswith("mailkit_async")
    ]
    assert record.name == "mailkit_async.retry"
    text = record.getMessage()
    assert UNSUBSCRIBE in text
    assert "attempt 1 of 2" in text
    assert "RateLimitError" in text and "HTTP 503" in text
    assert "4.00 s" in text
    # The address is personal data: DEBUG only.
    ours = [r for r in caplog.records if r.name.startswith("mailkit_async")]
    assert any("someone@example.com" in r.getMessage() for r in ours if r.levelno == logging.DEBUG)
    assert not any("someone@example.com" in r.getMessage() for r in ours if r.levelno > logging.DEBUG)
    assert {r.name for r in ours} <= {"mailkit_async.calls", "mailkit_async.http", "mailkit_async.retry"}
