"""Retries: a small explicit policy object, executed through tenacity.

The one rule that matters, enforced here in `RetryPolicy.may_retry` and nowhere else:
a call whose repeat does harm is re-sent only when the request provably never reached the service
(the connection was never made, or the service answered 429: it refused before doing anything).
Every other call retries every transient fault. Each resource declares its call's class on the
`Request` it builds (`idempotent=`); which call is which is a fact about the service, in `_service`.
"""

from __future__ import annotations

import calendar
import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar, cast

import anyio
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from ._exceptions import InvalidParameterError, RateLimitError, TransientError, TransportError

__all__ = ["RetryBudget", "RetryPolicy", "parse_retry_after", "run_with_retries"]

T = TypeVar("T")
# INFO: each retry (function, attempt, cause, wait); DEBUG: the retry budget.
log = logging.getLogger("mailkit_async.retry")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a client retries transient faults (connect errors, timeouts, 429, 5xx).

    ```python
    Mailkit(retry=RetryPolicy(attempts=6, deadline=600.0))
    ```
    Waits are exponential with full jitter: uniform(0, min(max_backoff, backoff * 2**n)).
    A call whose repeat would do harm (`campaigns.single.schedule`, `email.revalidate` with
    `agreement=False`, `call()` unless `idempotent=True`) is re-sent only where the request
    provably never reached the service (a connect failure, a 429). Cancellation is never retried.

    Args:
        attempts: Tries per call, the first included; 1 never retries. Default 4.
        backoff: The first retry's wait ceiling in seconds, doubled for each retry after it;
            0 retries at once (handy in tests). Default 0.5.
        max_backoff: The largest wait between two attempts, in seconds. Default 30.
        max_retry_after: The longest `Retry-After` (seconds or an HTTP date) honoured, in
            seconds; a longer one is capped. Default 60.
        deadline: The most one call may take across all its attempts and waits, in seconds, so a
            silent server cannot cost attempts x read timeout; `None` lifts it. Default 300.
        budget: The size of the client's retry token bucket (AWS SDK "standard" mode): a retry
            costs `retry_cost` tokens (twice that after a timeout), a success returns one, and an
            empty bucket raises failures at once, so many coroutines cannot turn an outage into a
            retry storm. `None` disables the bucket. Default 500.
        retry_cost: Tokens a retry takes from the bucket. Default 5.

    Raises:
        InvalidParameterError: A value of the wrong type or out of range (`attempts` below 1, a
            negative wait, a `deadline` that is not positive).
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    deadline: float | None = 300.0
    budget: int | None = 500
    retry_cost: int = 5

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise InvalidParameterError(f"attempts must be an int >= 1, not {self.attempts!r}")
        for name in ("backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidParameterError(f"{name} must be a number >= 0, not {value!r}")
        if self.deadline is not None and (
            isinstance(self.deadline, bool)
            or not isinstance(self.deadline, (int, float))
            or self.deadline <= 0
        ):
            raise InvalidParameterError(f"deadline must be > 0 or None, not {self.deadline!r}")
        if self.budget is not None and (not isinstance(self.budget, int) or self.budget < 0):
            raise InvalidParameterError(f"budget must be an int >= 0 or None, not {self.budget!r}")
        if not isinstance(self.retry_cost, int) or self.retry_cost < 0:
            raise InvalidParameterError(f"retry_cost must be an int >= 0, not {self.retry_cost!r}")

    def may_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        """Whether `error` is transient and re-sending this call is safe.

        Args:
            error: What the last attempt raised; only a `TransientError` is ever retried.
            idempotent: Whether repeating the call does no harm. When `False`, the call is
                re-sent only if the request provably never reached the service (a connect
                failure, a 429).

        Returns:
            `True` to retry, `False` to raise `error`.
        """
        if not isinstance(error, TransientError):
            return False
        # 429 is the service refusing before it did anything; a connect failure never reached it.
        return (
            idempotent
            or not error.request_sent
            or (isinstance(error, RateLimitError) and error.status_code == 429)
        )

    def wait(self, error: BaseException, retry_number: int) -> float:
        """Seconds to wait before retry number `retry_number` (1 for the first retry).

        A `retry_after` on the error (from the answer's `Retry-After`) is honoured, capped at
        `max_retry_after`; otherwise the wait is full-jitter exponential backoff.

        Args:
            error: What the last attempt raised; its `retry_after`, if any, sets the wait.
            retry_number: Which retry this wait comes before, counting from 1.

        Returns:
            The wait in seconds, at least 0.
        """
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        if self.backoff == 0:
            return 0.0
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry_number - 1))
        return random.uniform(0.0, ceiling)  # full jitter


@dataclass(slots=True)
class RetryBudget:
    """A token bucket shared by every call of one client. No lock: it is only touched between
    awaits on one event loop, so each take/refund is atomic."""

    capacity: int | None
    cost: int
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity or 0)

    def take(self, error: BaseException) -> bool:
        if self.capacity is None:
            return True
        # A timeout costs double, as in the AWS SDKs: it also held a connection for the whole wait.
        cost = self.cost * (2 if isinstance(error, TransportError) and error.timed_out else 1)
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def refund(self, amount: float) -> None:
        if self.capacity is not None and self.tokens < self.capacity:
            self.tokens = min(float(self.capacity), self.tokens + amount)


_SECONDS: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?")
_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH: Final = "(" + "|".join(_MONTHS) + ")"
_DAY: Final = "(?:mon|tue|wed|thu|fri|sat|sun)"
_TIME: Final = "([0-9]{2}):([0-9]{2}):([0-9]{2})"
# The three HTTP-date forms every HTTP client must accept (RFC 9110, 5.6.7).
_IMF_FIXDATE: Final = re.compile(rf"{_DAY}, ([0-9]{{2}}) {_MONTH} ([0-9]{{4}}) {_TIME} GMT", re.I)
_RFC850: Final = re.compile(rf"{_DAY}[a-z]*, ([0-9]{{2}})-{_MONTH}-([0-9]{{2}}) {_TIME} GMT", re.I)
_ASCTIME: Final = re.compile(rf"{_DAY} {_MONTH} ( [0-9]|[0-9]{{2}}) {_TIME} ([0-9]{{4}})", re.I)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date (IMF-fixdate, RFC 850 or
    asctime, all GMT); ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return max(0.0, float(value))
    clock = time.time() if now is None else now
    moment = _http_date(value, clock)
    return None if moment is None else max(0.0, moment - clock)


def _http_date(value: str, now: float) -> float | None:
    """An HTTP date as a POSIX timestamp, or ``None``."""
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    elif match := _RFC850.fullmatch(value):
        day, month, short_year, hour, minute, second = match.groups()
        # RFC 9110: a two-digit year more than 50 years ahead is the same year a century earlier.
        this_year = time.gmtime(now).tm_year
        full = this_year - this_year % 100 + int(short_year)
        year = str(full - 100 if full > this_year + 50 else full)
    elif match := _ASCTIME.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
    else:
        return _other_date(value)
    try:
        moment = datetime(
            int(year), _MONTHS.index(month.lower()) + 1, int(day), int(hour), int(minute), int(second)
        )
    except ValueError:  # 32 Oct, 25:00:00...
        return None
    return float(calendar.timegm(moment.timetuple()))


def _other_date(value: str) -> float | None:
    """Dates a lenient server sends with an explicit zone ("+0200"); a zoneless one is refused."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return None if moment.tzinfo is None else moment.timestamp()


async def run_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    budget: RetryBudget,
    idempotent: bool,
    function: str,
    deadline: float = math.inf,
    redact: Callable[[str], str] = str,
) -> T:
    """Run `attempt` until it succeeds or the policy says stop; raise the last error.

    tenacity owns every decision: whether to retry (`RetryPolicy.may_retry`), how long to wait
    (`RetryPolicy.wait`), when to stop, the sleep and the INFO line before it. It stops at the
    policy's attempts, at a wait that would end past `deadline` (in `anyio.current_time()`: not
    slept, so a long `Retry-After` surfaces as itself, not as a timeout), or at an empty retry
    budget (charged last, so only for retries really made). The first try runs before tenacity
    and hands it its failure as attempt 1: a call that succeeds at once pays nothing for the
    machinery (about 30 µs, 3 % of a loopback call). A fresh `AsyncRetrying` per call: its state
    must never be shared between concurrent calls. Cancellation is a BaseException that
    `may_retry` never accepts, so it passes straight through. `redact` cleans the logged cause.
    """
    try:
        result = await attempt()
    except TransientError as error:
        first = error
    else:
        budget.refund(1)
        return result
    retrying = _retrying(policy, budget, idempotent, function, deadline, redact)
    result = await retrying(_after(first, attempt))
    budget.refund(policy.retry_cost)
    return result


def _retrying(
    policy: RetryPolicy,
    budget: RetryBudget,
    idempotent: bool,
    function: str,
    deadline: float,
    redact: Callable[[str], str],
) -> AsyncRetrying:
    def retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        return (
            outcome is not None
            and outcome.failed
            and policy.may_retry(_exception(state), idempotent=idempotent)
        )

    def wait(state: RetryCallState) -> float:
        return policy.wait(_exception(state), state.attempt_number)

    spent = stop_after_attempt(policy.attempts)

    def stop(state: RetryCallState) -> bool:
        # In this order, so the budget is charged only for a retry that will really be made.
        return spent(state) or past_deadline(state) or budget_spent(state)

    def past_deadline(state: RetryCallState) -> bool:
        if anyio.current_time() + state.upcoming_sleep <= deadline:
            return False
        log.info(
            "%s: not waiting %.2f s to retry: that would pass the call's deadline",
            function,
            state.upcoming_sleep,
        )
        return True

    def budget_spent(state: RetryCallState) -> bool:
        if budget.take(_exception(state)):
            return False
        log.debug("%s: retry budget exhausted, not retrying", function)
        return True

    def before_sleep(state: RetryCallState) -> None:
        if log.isEnabledFor(logging.INFO):
            error = _exception(state)
            cause = redact(f"{type(error).__name__}: {getattr(error, 'message', error)}")
            number, delay = state.attempt_number, state.upcoming_sleep
            log.info(
                "%s: attempt %d of %d failed (%s); retrying in %.2f s",
                function,
                number,
                policy.attempts,
                cause,
                delay,
            )

    return AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry,
        sleep=anyio.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def _after(first: BaseException, attempt: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """`attempt` as tenacity calls it: its first call reports the failure of the try already made."""
    pending = [first]

    async def call() -> T:
        if pending:
            raise pending.pop()
        return await attempt()

    return call


def _exception(state: RetryCallState) -> BaseException:
    """The failed attempt's error: `wait`, `stop` and `before_sleep` run only after `retry`
    accepted a failure."""
    return cast(BaseException, cast("Future[object]", state.outcome).exception())
