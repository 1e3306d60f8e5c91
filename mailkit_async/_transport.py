"""The one HTTP transport: httpx, one connection pool per client, retries, bounded bodies.

Every attempt streams its response and closes it in a `finally` (shielded from cancellation), so a
break, a timeout or a cancelled task never leaves a connection checked out of the pool, and a body
never lingers in an httpx `Response` waiting for the cycle collector.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final, NamedTuple

import anyio
import httpx

from ._exceptions import (
    APIError,
    ClientClosedError,
    MailkitError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TransportError,
)
from ._ratelimit import RateLimit
from ._retry import RetryBudget, RetryPolicy, parse_retry_after, run_with_retries
from ._secrets import WINDOW

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_TIMEOUT", "Answer", "Transport"]

# DEBUG: each answer's status, size and time.
log = logging.getLogger("mailkit_async.http")

# Connect fast, but let reads wait: raw.bounces is slow to answer a 25 000-record page.
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)
# A 25 000-record page is ~8 MB as JSON and ~30 MB as pretty-printed XML-RPC.
DEFAULT_MAX_RESPONSE_BYTES: Final = 128 * 1024 * 1024

# Faults where the request cannot have reached the service, so even a harmful call may be re-sent.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Answer(NamedTuple):
    """A whole answer body, and how many times the request was sent to get it."""

    body: bytearray
    attempts: int


class Transport:
    """POSTs a body to one path of the service and returns the whole answer, retrying per policy."""

    def __init__(
        self,
        *,
        base_url: str,
        http_client: httpx.AsyncClient | None,
        timeout: httpx.Timeout | None,
        policy: RetryPolicy,
        max_response_bytes: int,
        user_agent: str,
        redact: Callable[[str], str] = str,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._budget = RetryBudget(policy.budget, policy.retry_cost)
        self._max_response_bytes = max_response_bytes
        self._owns_client = http_client is None
        self._user_agent = user_agent
        self._redact = redact  # for what is logged: errors are redacted where they leave the client
        self.rate_limit = rate_limit
        if http_client is None:
            self.http = httpx.AsyncClient(timeout=timeout or DEFAULT_TIMEOUT)
            self._timeout: httpx.Timeout | None = None  # the client's own
        else:
            # A caller-owned client keeps its own timeouts unless the caller also gave one.
            self.http = http_client
            self._timeout = timeout

    async def aclose(self) -> None:
        if self._owns_client:
            await self.http.aclose()

    async def post(
        self, path: str, body: bytes, *, content_type: str, function: str, idempotent: bool
    ) -> Answer:
        """The answer's body, after retries; raises a `MailkitError` subclass on failure.

        Every outcome carries how many times the request was sent (`attempts`): the answer, or
        the error (set here, the one place that counts them); its errors name `function`.
        """
        url = self.base_url + path
        headers = {"Content-Type": content_type, "User-Agent": self._user_agent}
        sent = 0

        async def attempt() -> bytearray:
            nonlocal sent
            sent += 1
            return await self._attempt(url, body, headers, function)

        def retried(deadline: float) -> Awaitable[bytearray]:
            return run_with_retries(
                attempt,
                policy=self.policy,
                budget=self._budget,
                idempotent=idempotent,
                function=function,
                deadline=deadline,
                redact=self._redact,
            )

        try:
            data = await self._with_deadline(retried, function)
        except MailkitError as error:
            error.attempts = sent
            raise
        return Answer(data, sent)

    async def _with_deadline(
        self, retried: Callable[[float], Awaitable[bytearray]], function: str
    ) -> bytearray:
        if self.policy.deadline is None:
            return await retried(math.inf)
        try:
            with anyio.fail_after(self.policy.deadline) as scope:
                return await retried(scope.deadline)
        except TimeoutError:
            error = TransportError(
                f"no answer within the call's deadline of {self.policy.deadline:g} s",
                function=function,
                timed_out=True,
            )
        raise error

    async def _attempt(self, url: str, body: bytes, headers: dict[str, str], function: str) -> bytearray:
        if self.rate_limit is not None:
            # Every attempt, retries included; the wait counts against the call's deadline.
            await self.rate_limit.acquire()
        started = time.perf_counter()
        error: Exception
        request = self.http.build_request(
            "POST",
            url,
            content=body,
            headers=headers,
            timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            error = _network_error(exc, function, sent=not isinstance(exc, _NOT_SENT))
        except RuntimeError as exc:
            # httpx's "client has been closed", or asyncio's "Event loop is closed" from a pooled
            # connection of an event loop that has ended.
            error = _closed_error(exc, function, closed=self.http.is_closed)
        else:
            try:
                self._check_status(response, function)
                data = await self._read(response, function)
            except httpx.HTTPError as exc:
                error = _network_error(exc, function, sent=True)
            else:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "%s: HTTP %d, %d bytes in %.3f s",
                        function,
                        response.status_code,
                        len(data),
                        time.perf_counter() - started,
                    )
                return data
            finally:
                # A body read to its end is closed already (httpx closes it): only a response
                # left part-read needs the shielded close, which costs a cancel scope per call.
                if not response.is_closed:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
        # Raised outside the except block: the httpx exception (whose request holds the body,
        # credentials included) must not ride along as __context__.
        raise error

    def _check_status(self, response: httpx.Response, function: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or (status == 503 and retry_after is not None):
            if retry_after is not None and self.rate_limit is not None:
                # The account is over its limit: hold back every caller, not just this one.
                self.rate_limit.pause(min(retry_after, self.policy.max_retry_after))
            raise RateLimitError(
                f"rate limited (HTTP {status})",
                function=function,
                status_code=status,
                retry_after=retry_after,
            )
        if status >= 500:
            raise ServerError(
                f"HTTP {status} {response.reason_phrase}".rstrip(),
                function=function,
                status_code=status,
                retry_after=retry_after,
            )
        raise APIError(
            f"unexpected HTTP {status} {response.reason_phrase}".rstrip(), function=function, code=status
        )

    async def _read(self, response: httpx.Response, function: str) -> bytearray:
        """Read the body, refusing it as soon as it exceeds the cap (checked while reading)."""
        limit = self._max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ResponseDecodeError(
                f"answer of {declared} bytes exceeds max_response_bytes={limit}", function=function
            )
        buffer = bytearray()
        async for chunk in response.aiter_bytes():
            buffer += chunk
            if len(buffer) > limit:
                raise ResponseDecodeError(
                    f"answer exceeds max_response_bytes={limit}",
                    function=function,
                    excerpt=bytes(buffer[:WINDOW]),
                )
        return buffer


def _closed_error(exc: RuntimeError, function: str, *, closed: bool) -> ClientClosedError:
    if closed:
        return ClientClosedError("its http_client is closed", function=function)
    return ClientClosedError(
        f"the HTTP client cannot send ({exc}): if it was used in another event loop, create the "
        "client (and any http_client) inside the running event loop",
        function=function,
    )


def _network_error(exc: httpx.HTTPError, function: str, *, sent: bool) -> TransportError:
    timed_out = isinstance(exc, httpx.TimeoutException)
    what = "timed out" if timed_out else "network error"
    detail = str(exc) or type(exc).__name__
    return TransportError(
        f"{what}: {type(exc).__name__}: {detail}",
        function=function,
        request_sent=sent,
        timed_out=timed_out,
    )
