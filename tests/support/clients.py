"""Clients for the tests, by what answers them: respx (byte-exact requests), an in-process
function, or an emulator served on loopback (behaviour)."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, overload

import httpx
import pytest
import respx

from mailkit_async import APIError, InvalidParameterError, Mailkit, RetryPolicy
from mailkit_async._service import (
    DEFAULT_BASE_URL,
    JSON_CONTENT_TYPE,
    JSON_PATH,
    XMLRPC_CONTENT_TYPE,
    XMLRPC_PATH,
)
from mailkit_async.testing import MailkitEmulator

BASE = DEFAULT_BASE_URL
CLIENT_ID = 4321
# Long enough that redacting it cannot mangle ordinary words in messages (a one-letter secret would).
MD5 = "0cc175b9c0f1b6a831c399e269772661"
PATHS = {"json": JSON_PATH, "xmlrpc": XMLRPC_PATH}
CONTENT_TYPES = {"json": JSON_CONTENT_TYPE, "xmlrpc": XMLRPC_CONTENT_TYPE}
PROTOCOLS = ["json", "xmlrpc"]
READINGS = ["exclusive", "inclusive"]

# Short timeouts keep a suite of slow-header and slow-body faults fast: a read that stalls for
# longer than READ seconds is a timeout.
READ = 0.5

# Building an SSL context (loading the CA bundle) costs ~30 ms: the request/answer tests share one
# through an injected client. Tests of the client's own connection pool build it the usual way.
_TLS = ssl.create_default_context()

Invoke = Callable[[Mailkit], Awaitable[Any]]
E = TypeVar("E", bound=MailkitEmulator)


def client(protocol: str = "json", *, md5: str = MD5, **kwargs: Any) -> Mailkit:
    """A client of the real base URL (for respx) that never sleeps between retries."""
    kwargs.setdefault("retry", RetryPolicy(backoff=0))
    kwargs.setdefault("http_client", httpx.AsyncClient(verify=_TLS))
    return Mailkit(CLIENT_ID, md5, protocol=protocol, **kwargs)  # type: ignore[arg-type]


def body_client(protocol: str, body: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> Mailkit:
    """A client whose every request is answered by `body` in-process (no retries by default)."""
    kwargs.setdefault("retry", RetryPolicy(attempts=1))
    http = httpx.AsyncClient(transport=httpx.MockTransport(body))
    return Mailkit(CLIENT_ID, MD5, protocol=protocol, http_client=http, **kwargs)  # type: ignore[arg-type]


def timeout(read: float = READ, *, pool: float = 2.0) -> httpx.Timeout:
    return httpx.Timeout(2.0, read=read, pool=pool)


def loopback_client(url: str, protocol: str = "json", *, read: float = READ, **kwargs: Any) -> Mailkit:
    """A client of an emulator served on loopback, retrying at once (no backoff) by default, with
    short timeouts unless it is handed an httpx client of its own."""
    kwargs.setdefault("retry", RetryPolicy(backoff=0))
    if kwargs.get("http_client") is None:
        kwargs.setdefault("timeout", timeout(read))
    return Mailkit(CLIENT_ID, MD5, protocol=protocol, base_url=url, **kwargs)  # type: ignore[arg-type]


def pooled_once(url: str, protocol: str = "json", **kwargs: Any) -> Mailkit:
    """A loopback client with one pooled connection, a short pool timeout and no retries: a
    leaked checkout makes the next call fail."""
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(10.0, pool=1.0))
    kwargs.setdefault("retry", RetryPolicy(attempts=1))
    return loopback_client(url, protocol, http_client=http, **kwargs)


def in_process(emu: MailkitEmulator, protocol: str = "json", **kwargs: Any) -> Mailkit:
    """A client of `emu` (made by `new_emulator`) through its in-process transport: no sockets."""
    http = httpx.AsyncClient(transport=emu.transport())
    return Mailkit(CLIENT_ID, MD5, protocol=protocol, http_client=http, **kwargs)  # type: ignore[arg-type]


@overload
def new_emulator(**kwargs: Any) -> MailkitEmulator: ...
@overload
def new_emulator(kind: type[E], **kwargs: Any) -> E: ...
def new_emulator(kind: type[MailkitEmulator] = MailkitEmulator, **kwargs: Any) -> MailkitEmulator:
    """An emulator (of `kind`) that knows the credentials of every client made here."""
    return kind(client_id=CLIENT_ID, client_md5=MD5, **kwargs)


# --- respx ---------------------------------------------------------------------------------------------


def mock() -> respx.MockRouter:
    return respx.mock(base_url=BASE, assert_all_called=False)


def route(router: respx.MockRouter, protocol: str) -> respx.Route:
    return router.post(PATHS[protocol])


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """An HTTP answer: bytes/str as they are, anything else as JSON."""
    if isinstance(body, (bytes, str)):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def _mocked(router: respx.MockRouter, protocol: str, answer: Any) -> respx.Route | respx.MockRouter:
    """The route answering `answer`: a side effect (a function, or an iterator of responses), a
    response, or a body; with no answer (None), the router itself, which answers nothing."""
    if answer is None:
        return router
    r = route(router, protocol)
    if callable(answer) or isinstance(answer, Iterator):
        return r.mock(side_effect=answer)
    return r.mock(return_value=answer if isinstance(answer, httpx.Response) else reply(answer))


async def answered(protocol: str, answer: Any, invoke: Invoke, **kwargs: Any) -> tuple[Any, Any]:
    """What `invoke` returns when the service answers `answer`, and the route that saw the requests."""
    with mock() as router:
        seen = _mocked(router, protocol, answer)
        async with client(protocol, **kwargs) as mk:
            result = await invoke(mk)
    return result, seen


async def refused(
    expected: type[BaseException], protocol: str, answer: Any, invoke: Invoke, **kwargs: Any
) -> tuple[Any, Any]:
    """The error (of type `expected`) `invoke` raises when the service answers `answer`, and the
    route that saw the requests."""
    with mock() as router:
        seen = _mocked(router, protocol, answer)
        async with client(protocol, **kwargs) as mk:
            with pytest.raises(expected) as info:
                await invoke(mk)
    return info.value, seen


async def json_refusal(status: object, text: str, invoke: Invoke) -> Any:
    """The APIError `invoke` raises when the JSON service refuses with `text` and `error_status`
    `status` (the service sends it as an int or as a string)."""
    error, _ = await refused(APIError, "json", {"error_status": status, "error": text}, invoke)
    return error


async def refused_unsent(protocol: str, invoke: Invoke) -> InvalidParameterError:
    """The InvalidParameterError `invoke` raises before it sends anything (no request is made)."""
    error, router = await refused(InvalidParameterError, protocol, None, invoke)
    assert router.calls.call_count == 0
    return error  # type: ignore[no-any-return]
