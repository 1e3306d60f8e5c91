"""`Mailkit`: credentials, protocol and lifecycle; resources hang off it as namespaces."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeVar

import httpx

from ._answers import check_auth_text, error_status, raise_for_json_error
from ._codecs import Codec, ProtocolName, get_codec
from ._exceptions import InvalidParameterError, MailkitError
from ._request import Request
from ._retry import RetryPolicy
from ._secrets import MASK, redact, redact_error
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Answer, Transport
from ._version import __version__

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DEFAULT_BASE_URL", "Mailkit"]

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.mailkit.eu"


class Mailkit:
    """An async client for one Mailkit account.

    ```python
    async with Mailkit(client_id=123, client_md5="...") as mk:
        await mk.email.unsubscribe("someone@example.com")
    ```
    Credentials fall back to `MAILKIT_CLIENT_ID` / `MAILKIT_CLIENT_MD5`. One client holds one
    connection pool: create it once and share it between tasks.
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
    ) -> None:
        from .resources import Campaigns, Email, Report, SendmailMass

        self._client_id = _client_id(client_id)
        self._client_md5 = _client_md5(client_md5)
        self._codec: Codec = get_codec(protocol)
        self.protocol: ProtocolName = self._codec.protocol
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidParameterError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise InvalidParameterError("http_client must be an httpx.AsyncClient")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise InvalidParameterError("max_response_bytes must be a positive int")
        self._transport = Transport(
            base_url=_base_url(base_url),
            http_client=http_client,
            timeout=_timeout(timeout),
            policy=retry if retry is not None else RetryPolicy(),
            max_response_bytes=max_response_bytes,
            user_agent=f"mailkit-async/{__version__}",
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
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (not a caller-owned `http_client`)."""
        await self._transport.aclose()

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
        page (`bounces=True`) decodes straight into `Bounce` structs.
        """
        attempts = 0
        try:
            body, attempts = await self._send(request)
            decode = self._codec.decode_bounces if bounces else self._codec.decode
            return interpret(decode(request.function, body))
        except MailkitError as error:
            if attempts:  # the answer came back and was refused or undecodable
                error.attempts = attempts
            raise redact_error(error, self._client_md5) from None

    async def _send(self, request: Request) -> Answer:
        if log.isEnabledFor(logging.DEBUG):
            params = request.json_params if self.protocol == "json" else request.xmlrpc_params
            text = f"call {request.function} over {self.protocol}: id={self._client_id} md5={MASK} {params!r}"
            log.debug("%s", redact(text, self._client_md5))
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
    if value is None:
        # An empty variable counts as unset, as for the credentials.
        value = os.environ.get("MAILKIT_BASE_URL") or DEFAULT_BASE_URL
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise InvalidParameterError(f"base_url must be an http(s) URL (MAILKIT_BASE_URL too), not {value!r}")
    return value.rstrip("/")
