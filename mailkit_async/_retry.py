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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

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

    The first try runs bare: a call that succeeds at once pays nothing for the retry machinery.
    Only after a retryable failure does tenacity take over (a fresh `AsyncRetrying` per call:
    its state is per call and must never be shared between concurrent calls).
    Cancellation is a BaseException that `may_retry` never accepts, so it passes straight through.
    A wait that would end past `deadline` (in `anyio.current_time()`) is not slept: the error is
    raised at once, so a long `Retry-After` surfaces as itself, not as a timeout. `redact` cleans
    the cause before it is logged.
    """
    try:
        result = await attempt()
    except TransientError as error:
        if policy.attempts == 1 or not policy.may_retry(error, idempotent=idempotent):
            raise
        delay = policy.wait(error, 1)
        if not _in_time(delay, deadline, function) or not _take(budget, error, function):
            raise
        _log_retry(function, 1, policy.attempts, error, delay, redact)
    else:
        budget.refund(1)
        return result
    delays: list[float] = []

    def retry_if(state: RetryCallState) -> bool:
        # Checked before tenacity's own stop, so the budget is charged only for retries that
        # will really be made: never for the last attempt's failure.
        if state.attempt_number + 1 >= policy.attempts:
            return False
        error = _exception(state)
        if error is None or not policy.may_retry(error, idempotent=idempotent):
            return False
        # tenacity numbers its own attempts from 1; ours started one earlier, with the bare try.
        number = state.attempt_number + 1
        delay = policy.wait(error, number)
        if not _in_time(delay, deadline, function) or not _take(budget, error, function):
            return False
        _log_retry(function, number, policy.attempts, error, delay, redact)
        delays.append(delay)
        return True

    def wait(state: RetryCallState) -> float:
        return delays.pop() if delays else 0.0

    def before(state: RetryCallState) -> None:
        log.debug("%s: attempt %d of %d", function, state.attempt_number + 1, policy.attempts)

    await anyio.sleep(delay)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts - 1),
        wait=wait,
        retry=retry_if,
        sleep=anyio.sleep,
        before=before,
        reraise=True,
    )
    result = await retrying(attempt)
    budget.refund(policy.retry_cost)
    return result


def _in_time(delay: float, deadline: float, function: str) -> bool:
    if anyio.current_time() + delay <= deadline:
        return True
    log.info("%s: not waiting %.2f s to retry: that would pass the call's deadline", function, delay)
    return False


def _take(budget: RetryBudget, error: BaseException, function: str) -> bool:
    if budget.take(error):
        return True
    log.debug("%s: retry budget exhausted, not retrying", function)
    return False


def _log_retry(
    function: str,
    number: int,
    attempts: int,
    error: BaseException,
    delay: float,
    redact: Callable[[str], str],
) -> None:
    if log.isEnabledFor(logging.INFO):
        cause = redact(f"{type(error).__name__}: {getattr(error, 'message', error)}")
        log.info(
            "%s: attempt %d of %d failed (%s); retrying in %.2f s", function, number, attempts, cause, delay
        )


def _exception(state: RetryCallState) -> BaseException | None:
    outcome = state.outcome
    return outcome.exception() if outcome is not None and outcome.failed else None
