"""`Mailkit`: credentials, protocol and lifecycle; resources hang off it as namespaces."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

import httpx

from ._answers import check_auth_text, raise_for_json_error
from ._codecs import Codec, ProtocolName, get_codec
from ._exceptions import ClientClosedError, InvalidParameterError, MailkitError
from ._pacing import DEFAULT_MAX_BLOCKING, Pacer, max_blocking_seconds
from ._ratelimit import RateLimit
from ._request import Request
from ._retry import RetryPolicy
from ._secrets import MASK, Redactor, redact_error
from ._service import DEFAULT_BASE_URL
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Answer, Transport
from ._version import __version__
from .resources import Campaigns, Email, Report, SendmailMass

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DEFAULT_BASE_URL", "Mailkit"]

T = TypeVar("T")
# Each call, its parameters included (recipients' addresses): DEBUG only.
log = logging.getLogger("mailkit_async.calls")


class Mailkit:
    """An async client for one Mailkit account, over JSON or XML-RPC, under asyncio or trio.

    ```python
    async with Mailkit(client_id=123, client_md5="...") as mk:
        await mk.email.unsubscribe("someone@example.com")
    ```

    The service's functions hang off it in namespaces named as Mailkit names them:

    - `mk.campaigns.single.schedule()` / `.cancel()`: one-off sends of a campaign;
    - `mk.email.unsubscribe()` / `.revalidate()`: a recipient's subscription;
    - `mk.sendmail_mass.results()`: the failed recipients of a mass send;
    - `mk.report.raw.bounces()` / `.bounce_pages()`: the raw bounce report, streamed page by page;
    - `mk.call(function, parameters)`: any other function, its answer decoded as is.

    One client holds one connection pool: create it once, share it between tasks, and close it
    with `async with` or `aclose()`. Every argument is checked here, before anything is sent.

    Args:
        client_id: The account's API ID (Mailkit: Profile / Integration). Default: the
            `MAILKIT_CLIENT_ID` environment variable.
        client_md5: The account's API secret. Default: `MAILKIT_CLIENT_MD5`. It is never printed,
            logged or raised, nor any piece of it.
        protocol: `"json"` (default) or `"xmlrpc"`. The typed results are the same, except where
            XML-RPC answers too little to tell (the README's table says which fields are `None`).
        base_url: The service's address; `/json.fcgi` or `/rpc.fcgi` is appended per protocol.
            Default: `MAILKIT_BASE_URL`, else `https://api.mailkit.eu`. Point it at a proxy or at
            the emulator (`python -m mailkit_async.testing` prints its URL).
        timeout: Seconds (one limit for each phase) or an `httpx.Timeout`. Default: connect 10 s,
            read 120 s (a 25 000-record bounce page is slow to come), write 30 s, pool 30 s; with a
            caller-owned `http_client`, that client's own timeouts.
        retry: How transient faults are retried. Default: `RetryPolicy()`, 4 attempts with
            exponential backoff within 300 s per call; `RetryPolicy(attempts=1)` turns retries off.
        http_client: A caller-owned `httpx.AsyncClient`, for your own pool limits, proxies, TLS
            set-up or transport (the emulator's in tests). Requests go to absolute URLs built from
            `base_url`, so that client's own `base_url` is not used; its timeouts apply unless
            `timeout` is given too; `aclose()` leaves it open. Default: a client of the library's
            own, with httpx's default pool (100 connections, 20 kept alive) and proxies from the
            `HTTPS_PROXY` / `ALL_PROXY` environment variables, as httpx reads them.
        max_response_bytes: The largest answer read, in bytes; a bigger one raises
            `ResponseDecodeError` without being read whole. Default: 128 MiB (a 25 000-record page
            is about 8 MB as JSON and 30 MB as XML-RPC).
        rate_limit: A `RateLimit` every request (retries included) waits on; share one object
            between clients of one account. Default `None`: no client-side limit.
        max_blocking: The longest, in seconds, turning a bounce page into records may hold the
            event loop at once. Default 0.05: JSON pages whole, XML-RPC work cut into pieces;
            `None`: every page whole (fastest).

    Raises:
        InvalidParameterError: Credentials neither given nor in the environment, or a bad
            argument: a client ID that is not a positive integer, an
            empty md5, an unknown protocol, a `base_url` (or `MAILKIT_BASE_URL`) that is not an
            http(s) URL, a `timeout` that is not positive, a `retry` that is not a `RetryPolicy`,
            an `http_client` that is not an `httpx.AsyncClient`, a `max_response_bytes` below 1,
            a `rate_limit` that is not a `RateLimit`, a `max_blocking` that is not `None` or a
            positive number; a `base_url` httpx cannot use (no host, a bad port or IPv6 literal).
    """

    def __init__(
        self,
        client_id: int | str | None = None,
        client_md5: str | None = None,
        *,
        protocol: ProtocolName = "json",
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        rate_limit: RateLimit | None = None,
        max_blocking: float | None = DEFAULT_MAX_BLOCKING,
    ) -> None:
        self._client_id = _client_id(client_id)
        self._client_md5 = _client_md5(client_md5)
        self._redact = Redactor(self._client_md5)
        self._closed = False
        # The event loop the client belongs to: the first it is used in (or created in).
        self._loop: Callable[[], object] | None = _loop_ref()
        self._codec: Codec = get_codec(protocol)
        self.protocol: ProtocolName = self._codec.protocol
        """The wire protocol in use: `"json"` or `"xmlrpc"`."""
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidParameterError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise InvalidParameterError("http_client must be an httpx.AsyncClient")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise InvalidParameterError(f"rate_limit must be a RateLimit, not {type(rate_limit).__name__}")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise InvalidParameterError("max_response_bytes must be a positive int")
        # The longest a bounce page may hold the event loop while it becomes records; None: whole.
        blocking = max_blocking_seconds(max_blocking)
        self._pacer = None if blocking is None else Pacer(self._codec, blocking)
        self._transport = Transport(
            base_url=_base_url(base_url),
            http_client=http_client,
            timeout=_timeout(timeout),
            policy=retry if retry is not None else RetryPolicy(),
            max_response_bytes=max_response_bytes,
            user_agent=f"mailkit-async/{__version__}",
            redact=self._redact.clip,
            rate_limit=rate_limit,
        )
        self.campaigns: Final = Campaigns(self)
        """`mailkit.campaigns.*`: `mk.campaigns.single.schedule()` and `.cancel()`."""
        self.sendmail_mass: Final = SendmailMass(self)
        """`mailkit.sendmail_mass.*`: `mk.sendmail_mass.results()`."""
        self.email: Final = Email(self)
        """`mailkit.email.*`: `mk.email.unsubscribe()` and `mk.email.revalidate()`."""
        self.report: Final = Report(self)
        """`mailkit.report.*`: `mk.report.raw.bounces()` and `mk.report.raw.bounce_pages()`."""

    def __repr__(self) -> str:
        return (
            f"Mailkit(client_id={self._client_id}, protocol={self.protocol!r}, "
            f"base_url={self._transport.base_url!r})"
        )

    @property
    def retry(self) -> RetryPolicy:
        """The `RetryPolicy` this client retries by."""
        return self._transport.policy

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connection pool; a caller-owned `http_client` stays open.

        `async with Mailkit(...)` calls it on the way out. Every later call raises
        `ClientClosedError`; closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if self._loop is None or self._loop() is _current_loop():
            await self._transport.aclose()
        # A pool opened in an event loop that has ended cannot be closed from another: its
        # connections die with their loop.

    def _check_open(self) -> None:
        """Refuse a call on a closed client, or in another event loop than the client's own."""
        if self._closed:
            raise ClientClosedError("the client is closed (aclose() or the end of its async with)")
        loop = _current_loop()
        if self._loop is None:
            self._loop = _loop_ref(loop)
        elif self._loop() is not loop:
            raise ClientClosedError(
                "the client belongs to another event loop (its connections cannot be used in this "
                "one): create the client inside the running event loop, e.g. `async with Mailkit() "
                "as mk:` in the coroutine you run"
            )
        if self._transport.http.is_closed:
            raise ClientClosedError("its http_client is closed")

    async def call(
        self,
        function: str,
        parameters: Mapping[str, object] | Sequence[object] = (),
        *,
        idempotent: bool = False,
    ) -> object:
        """Call a function this library does not type yet; returns the decoded answer as is.

        ```python
        lists = await mk.call("mailkit.mailinglist.list")  # no parameters: any protocol
        ```

        Args:
            function: The Mailkit function's dotted name, e.g. `"mailkit.mailinglist.list"`.
            parameters: Over JSON, a mapping of the documented parameter names to values; over
                XML-RPC, a sequence of the positional values that follow the credentials, in the
                documented order. Default: none, which suits either protocol.
            idempotent: Pass `True` only if sending the call twice is harmless; then every transient
                fault is retried. Default `False`: retried only where the request provably never
                reached the service (a connect failure, a 429).

        Returns:
            The answer as decoded: JSON values, or XML-RPC values (ints, strings, booleans, dicts,
            lists). Numbers may arrive as strings, as the service sends them.

        Raises:
            InvalidParameterError: `function` is not a `mailkit.` name, or `parameters` is not the
                form the protocol takes (a mapping for JSON, a sequence for XML-RPC).
            AuthenticationError: The credentials or the caller's IP were refused.
            APIError: A bare failure answer (`{"error_status": 1, "error": ...}`).
            RateLimitError: The service kept answering 429 (or 503 with `Retry-After`).
            ServerError: The service kept answering 5xx.
            TransportError: The network failed or timed out, once retries were spent.
            ResponseDecodeError: The answer is not JSON / XML-RPC, or is too big.
        """
        if not isinstance(function, str) or not function.startswith("mailkit."):
            raise InvalidParameterError(f"function must be a Mailkit function name, not {function!r}")
        request = self._codec.call_request(function, parameters, idempotent)
        return await self._execute(request, _raw_answer)

    async def _execute(
        self, request: Request, interpret: Callable[[object], T], *, bounces: bool = False
    ) -> T:
        """Send `request`, decode the answer and let the resource `interpret` it.

        The one place errors leave the client: each is scrubbed of `client_md5` here, whichever
        layer raised it (a service may quote the credentials back in a refusal), and names the
        function sent. The transport's errors carry how many times it sent the request; an answer
        that came back and is refused or undecodable carries the count the answer came with. A
        raw.bounces page (`bounces=True`) decodes straight into `Bounce` structs, paced by
        `max_blocking`.
        """
        attempts = 0
        try:
            self._check_open()
            body, attempts = await self._send(request)
            if not bounces:
                value = self._codec.decode(request.function, body)
            elif self._pacer is None:
                value = self._codec.decode_bounces(request.function, body)
            else:
                value = await self._pacer.decode_bounces(request.function, body)
            return interpret(value)
        except MailkitError as error:
            if attempts:
                error.attempts = attempts
            error.function = request.function
            raise redact_error(error, self._redact) from None

    async def _send(self, request: Request) -> Answer:
        if log.isEnabledFor(logging.DEBUG):
            params = self._codec.parameters(request)
            text = f"call {request.function} over {self.protocol}: id={self._client_id} md5={MASK} {params!r}"
            log.debug("%s", self._redact(text))
        payload = self._codec.encode(request, self._client_id, self._client_md5)
        return await self._transport.post(
            self._codec.path,
            payload,
            content_type=self._codec.content_type,
            function=request.function,
            idempotent=request.idempotent,
        )


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout | None:
    """``None``: the default (connect 10 s, read 120 s), or a caller-owned client's own."""
    if value is None or isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidParameterError(f"timeout must be a positive number or an httpx.Timeout, not {value!r}")
    return httpx.Timeout(value)


def _raw_answer(value: object) -> object:
    """`call()`'s answer as is, unless it is a bare refusal."""
    check_auth_text(value)
    if isinstance(value, Mapping) and set(value) <= {"error", "error_status"}:
        raise_for_json_error(value)
    return value


def _client_id(value: int | str | None) -> int:
    if value is None:
        value = os.environ.get("MAILKIT_CLIENT_ID")
        if not value:
            raise InvalidParameterError("no client_id: pass client_id= or set MAILKIT_CLIENT_ID")
    if isinstance(value, bool):
        raise InvalidParameterError("client_id must be an integer")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise InvalidParameterError("client_id must be an integer (MAILKIT_CLIENT_ID too)")
        value = int(value)
    if not isinstance(value, int) or value <= 0:
        raise InvalidParameterError("client_id must be a positive integer")
    return value


def _client_md5(value: str | None) -> str:
    if value is None:
        value = os.environ.get("MAILKIT_CLIENT_MD5")
        if not value:
            raise InvalidParameterError("no client_md5: pass client_md5= or set MAILKIT_CLIENT_MD5")
    if not isinstance(value, str) or not value.strip():
        # Never echo the value: it is the secret.
        raise InvalidParameterError("client_md5 must be a non-empty string")
    return value.strip()


def _base_url(value: str | None) -> str:
    """An http(s) URL httpx can send to, checked now rather than at the first call."""
    if value is None:
        # An empty variable counts as unset, as for the credentials.
        value = os.environ.get("MAILKIT_BASE_URL") or DEFAULT_BASE_URL
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise InvalidParameterError(f"base_url must be an http(s) URL (MAILKIT_BASE_URL too), not {value!r}")
    try:
        url = httpx.URL(value)
        port = url.port
        host = url.raw_host
    except (httpx.InvalidURL, ValueError, TypeError) as exc:  # idna's errors are ValueErrors
        problem = str(exc) or type(exc).__name__
    else:
        if not host or not _HOST.fullmatch(host):
            problem = "no usable host"
        elif port is not None and not 0 < port < 65536:
            problem = f"port {port} is not in 1..65535"
        elif url.query or url.fragment or "?" in value or "#" in value:
            problem = "a query or fragment cannot take the API's path"
        else:
            return value.rstrip("/")
    raise InvalidParameterError(f"base_url {value!r} is not a usable URL: {problem}")


# A host name (IDNA-encoded by httpx), an IPv4 address, or an IPv6 literal without its brackets.
_HOST: Final = re.compile(rb"[A-Za-z0-9._~-]+|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9._~-]+)?")


def _current_loop() -> object | None:
    """The running event loop (asyncio) or run (trio), ``None`` outside one.

    Without sniffio (not a dependency): asyncio says whether it runs; trio is asked only if the
    program imported it, which it must have to be running it.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_trio_token()  # type: ignore[no-any-return]
        except RuntimeError:
            pass
    return None


def _loop_ref(loop: object | None = None) -> Callable[[], object] | None:
    """A weak reference to `loop` (the running one by default): a loop that has gone is not it."""
    loop = loop if loop is not None else _current_loop()
    return None if loop is None else weakref.ref(loop)
