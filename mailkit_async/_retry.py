"""Retries: a small explicit policy object, executed through tenacity.

The one rule that matters (DESIGN.md), enforced here in `RetryPolicy.may_retry` and nowhere else:
a call whose repeat does harm is re-sent only when the request provably never reached the service
(the connection was never made, or the service answered 429: it refused before doing anything).
Every other call retries every transient fault. Each resource declares its call's class on the
`Request` it builds (`idempotent=`):

    report.raw.bounces, sendmail_mass.results       reads                  idempotent
    email.unsubscribe, campaigns.single.cancel      same end state         idempotent
    email.revalidate(agreement=True)                same end state         idempotent
    email.revalidate(agreement=False)               mails the recipient    NOT idempotent
    campaigns.single.schedule                       may send twice         NOT idempotent
    call(...)                                       unknown                NOT unless idempotent=True
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from ._exceptions import InvalidParameterError, RateLimitError, TransportError, _RetryableError

__all__ = ["RetryBudget", "RetryPolicy", "parse_retry_after", "run_with_retries"]

T = TypeVar("T")
log = logging.getLogger(__name__)


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
        """Whether `error` is transient and re-sending this call is safe."""
        if not isinstance(error, _RetryableError):
            return False
        # 429 is the service refusing before it did anything; a connect failure never reached it.
        return (
            idempotent
            or not error.request_sent
            or (isinstance(error, RateLimitError) and error.status_code == 429)
        )

    def wait(self, error: BaseException, retry_number: int) -> float:
        """Seconds to wait before retry number `retry_number` (1 for the first retry)."""
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


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # an HTTP date is GMT by definition
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


async def run_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    budget: RetryBudget,
    idempotent: bool,
    function: str,
) -> T:
    """Run `attempt` until it succeeds or the policy says stop; raise the last error.

    The first try runs bare: a call that succeeds at once pays nothing for the retry machinery.
    Only after a retryable failure does tenacity take over (a fresh `AsyncRetrying` per call:
    its state is per call and must never be shared between concurrent calls).
    Cancellation is a BaseException that `may_retry` never accepts, so it passes straight through.
    """
    try:
        result = await attempt()
    except _RetryableError as error:
        if policy.attempts == 1 or not policy.may_retry(error, idempotent=idempotent):
            raise
        if not budget.take(error):
            log.debug("%s: retry budget exhausted, not retrying", function)
            raise
        first = error
    else:
        budget.refund(1)
        return result

    def retry_if(state: RetryCallState) -> bool:
        # Checked before tenacity's own stop, so the budget is charged only for retries that
        # will really be made: never for the last attempt's failure.
        if state.attempt_number + 1 >= policy.attempts:
            return False
        error = _exception(state)
        return error is not None and policy.may_retry(error, idempotent=idempotent) and budget.take(error)

    def wait(state: RetryCallState) -> float:
        # tenacity numbers its own attempts from 1; ours started one earlier, with the bare try.
        error = _exception(state)
        return policy.wait(error, state.attempt_number + 1) if error is not None else 0.0

    def before(state: RetryCallState) -> None:
        log.debug("%s: attempt %d of %d", function, state.attempt_number + 1, policy.attempts)

    await anyio.sleep(policy.wait(first, 1))
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


def _exception(state: RetryCallState) -> BaseException | None:
    outcome = state.outcome
    return outcome.exception() if outcome is not None and outcome.failed else None
