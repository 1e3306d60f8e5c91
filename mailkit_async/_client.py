"""`Mailkit`: credentials, protocol and lifecycle; resources hang off it as namespaces."""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeVar

import httpx
import sniffio

from ._answers import check_auth_text, error_status, raise_for_json_error
from ._codecs import Codec, ProtocolName, get_codec
from ._exceptions import ClientClosedError, InvalidParameterError, MailkitError
from ._pacing import DEFAULT_MAX_BLOCKING, Pacer, max_blocking_seconds
from ._ratelimit import RateLimit
from ._request import Request
from ._retry import RetryPolicy
from ._secrets import MASK, Redactor, redact_error
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Answer, Transport
from ._version import __version__

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DEFAULT_BASE_URL", "Mailkit"]

T = TypeVar("T")
# Each call, its parameters included (recipients' addresses): DEBUG only.
log = logging.getLogger("mailkit_async.calls")

DEFAULT_BASE_URL: Final = "https://api.mailkit.eu"


class Mailkit:
    """An async client for one Mailkit account.

    ```python
    async with Mailkit(client_id=123, client_md5="...") as mk:
        await mk.email.unsubscribe("someone@example.com")
    ```
    Credentials fall back to `MAILKIT_CLIENT_ID` / `MAILKIT_CLIENT_MD5`. One client holds one
    connection pool: create it once and share it between tasks. `max_blocking` (seconds) is the
    longest turning a bounce page into records may hold the event loop at once; `None`: whole pages.
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
        from .resources import Campaigns, Email, Report, SendmailMass

        self._client_id = _client_id(client_id)
        self._client_md5 = _client_md5(client_md5)
        self._redact = Redactor(self._client_md5)
        self._closed = False
        # The event loop the client belongs to: the first it is used in (or created in).
        self._loop: Callable[[], object] | None = _loop_ref()
        self._codec: Codec = get_codec(protocol)
        self.protocol: ProtocolName = self._codec.protocol
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
        self.sendmail_mass: Final = SendmailMass(self)
        self.email: Final = Email(self)
        self.report: Final = Report(self)

    def __repr__(self) -> str:
        return (
            f"Mailkit(client_id={self._client_id}, protocol={self.protocol!r}, "
            f"base_url={self._transport.base_url!r})"
        )

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.policy

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (not a caller-owned `http_client`); every later call raises
        `ClientClosedError`. Closing twice is harmless."""
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

        `parameters` is a mapping for JSON and a sequence of positional values (after the
        credentials) for XML-RPC. Pass `idempotent=True` only if re-sending the call is harmless:
        otherwise it is retried only when the request provably never reached the service.
        A bare failure answer (`{"error_status": 1, "error": ...}`, an auth refusal) raises `APIError`.
        """
        if not isinstance(function, str) or not function.startswith("mailkit."):
            raise InvalidParameterError(f"function must be a Mailkit function name, not {function!r}")
        if self.protocol == "json":
            if not isinstance(parameters, Mapping):
                if parameters:
                    raise InvalidParameterError("JSON parameters are a mapping of names to values")
                parameters = {}
            request = Request(function, dict(parameters), (), idempotent)
        else:
            if isinstance(parameters, (Mapping, str, bytes)):
                raise InvalidParameterError("XML-RPC parameters are a sequence of positional values")
            request = Request(function, {}, tuple(parameters), idempotent)
        return await self._execute(request, partial(_raw_answer, function))

    async def _execute(
        self, request: Request, interpret: Callable[[object], T], *, bounces: bool = False
    ) -> T:
        """Send `request`, decode the answer and let the resource `interpret` it.

        The one place errors leave the client: each is scrubbed of `client_md5` here, whichever
        layer raised it (a service may quote the credentials back in a refusal). A raw.bounces
        page (`bounces=True`) decodes straight into `Bounce` structs, paced by `max_blocking`.
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
            if attempts:  # the answer came back and was refused or undecodable
                error.attempts = attempts
            if request.label:
                error.method = request.label
            raise redact_error(error, self._redact) from None

    async def _send(self, request: Request) -> Answer:
        if log.isEnabledFor(logging.DEBUG):
            params = request.json_params if self.protocol == "json" else request.xmlrpc_params
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


def _raw_answer(function: str, value: object) -> object:
    """`call()`'s answer as is, unless it is a bare refusal."""
    check_auth_text(function, value)
    if isinstance(value, Mapping) and set(value) <= {"error", "error_status"} and error_status(value):
        raise_for_json_error(function, value)
    return value


def _client_id(value: int | str | None) -> int:
    if value is None:
        value = os.environ.get("MAILKIT_CLIENT_ID")
        if not value:
            raise MailkitError("no client_id: pass client_id= or set MAILKIT_CLIENT_ID")
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
            raise MailkitError("no client_md5: pass client_md5= or set MAILKIT_CLIENT_MD5")
    if not isinstance(value, str) or not value.strip():
        # Never echo the value: it is the secret.
        raise InvalidParameterError("client_md5 must be a non-empty string")
    return value.strip()


def _base_url(value: str | None) -> str:
    """An http(s) URL httpx can send to, checked now rather than at the first call."""
    if value is None:
        return DEFAULT_BASE_URL
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise InvalidParameterError(f"base_url must be an http(s) URL, not {value!r}")
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
    """The running event loop (asyncio) or run (trio), ``None`` outside one."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library == "asyncio":
        import asyncio

        return asyncio.get_running_loop()
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    return None


def _loop_ref(loop: object | None = None) -> Callable[[], object] | None:
    """A weak reference to `loop` (the running one by default): a loop that has gone is not it."""
    loop = loop if loop is not None else _current_loop()
    return None if loop is None else weakref.ref(loop)
