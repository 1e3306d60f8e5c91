"""client_md5 never shows: not in errors (message, repr, args, excerpt, chain), reprs, or log lines."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest
import respx
from support.calls import CALLS, GENERIC, Invoke
from support.clients import BASE, client, refused, reply
from support.leaks import assert_no_secret, chain
from support.wire import xml_fault, xml_string

from mailkit_async import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    Mailkit,
    MailkitError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from mailkit_async._service import JSON_PATH

pytestmark = pytest.mark.anyio

SECRET = "S3CR3T-md5-value"
CLIENT_ID = 4321
CALL_NAMES = list(CALLS)


def assert_clean(error: BaseException) -> None:
    assert_no_secret(error, SECRET)


def make_client(protocol: str = "json", **kwargs: Any) -> Mailkit:
    kwargs.setdefault("retry", RetryPolicy(attempts=2, backoff=0))
    return client(protocol, md5=SECRET, **kwargs)


async def provoke(
    protocol: str, invoke: Invoke, answer: Any, expected: type[BaseException] = MailkitError, **kwargs: Any
) -> BaseException:
    """The error `invoke` ends in when the service answers `answer` (a body, made into a fresh
    response for every request, or a side effect)."""
    effect = answer if callable(answer) else lambda request: reply(answer)
    kwargs.setdefault("retry", RetryPolicy(attempts=2, backoff=0))
    error, route = await refused(expected, protocol, effect, invoke, md5=SECRET, **kwargs)
    # The service did receive the secret (it is the credential): only the errors must not show it.
    assert all(SECRET.encode() in call.request.content for call in route.calls)
    return error  # type: ignore[no-any-return]


def raises(kind: type[httpx.HTTPError]) -> Callable[[httpx.Request], httpx.Response]:
    def effect(request: httpx.Request) -> httpx.Response:
        raise kind("simulated", request=request)

    return effect


# --- errors from the service ---------------------------------------------------------------------


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_plain_auth_failure(anyio_backend: str, call: str) -> None:
    error = await provoke(
        "json", CALLS[call].invoke, {"error_status": 1, "error": "Unauthorized"}, AuthenticationError
    )
    assert_clean(error)


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_json_auth_failure_echoing_the_md5(anyio_backend: str, call: str) -> None:
    body = {"error_status": 1, "error": f"Unauthorized: wrong client_md5 {SECRET}"}
    error = await provoke("json", CALLS[call].invoke, body, AuthenticationError)
    assert_clean(error)
    assert "Unauthorized" in str(error)


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_json_refusal_echoing_the_md5(anyio_backend: str, call: str) -> None:
    body = {"error_status": "1", "error": f"Invalid parameters for {SECRET}"}
    error = await provoke("json", CALLS[call].invoke, body, APIError)
    assert_clean(error)
    assert "Invalid parameters for" in str(error)


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_xmlrpc_auth_string_echoing_the_md5(anyio_backend: str, call: str) -> None:
    error = await provoke(
        "xmlrpc", CALLS[call].invoke, xml_string(f"Unauthorized {SECRET}"), AuthenticationError
    )
    assert_clean(error)


@pytest.mark.parametrize("call", ["schedule", "unsubscribe", "revalidate", "results"])
async def test_xmlrpc_refusal_string_echoing_the_md5(anyio_backend: str, call: str) -> None:
    error = await provoke("xmlrpc", CALLS[call].invoke, xml_string(f"Invalid value {SECRET}"), APIError)
    assert_clean(error)


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_xmlrpc_fault_echoing_the_md5(anyio_backend: str, call: str) -> None:
    error = await provoke("xmlrpc", CALLS[call].invoke, xml_fault(4, f"bad login {SECRET}"), APIError)
    assert_clean(error)
    assert "bad login" in str(error)


async def test_call_refusal_echoing_the_md5(anyio_backend: str) -> None:
    body = {"error_status": 1, "error": f"Unauthorized {SECRET}"}
    error = await provoke("json", lambda mk: mk.call(GENERIC, {}), body, AuthenticationError)
    assert_clean(error)


# --- bodies that do not decode -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "body"),
    [
        ("json", f"<html><body>Bad key {SECRET}</body></html>"),
        ("json", f'{{"error": "bad md5 {SECRET}", "error_sta'),
        ("xmlrpc", f"<html><body>Bad key {SECRET}</body></html>"),
        ("xmlrpc", f'<?xml version="1.0"?><echo md5="{SECRET}"/>'),
    ],
    ids=["json-html", "json-truncated", "xmlrpc-html", "xmlrpc-not-xmlrpc"],
)
@pytest.mark.parametrize("call", CALL_NAMES)
async def test_undecodable_body_echoing_the_md5(
    anyio_backend: str, call: str, protocol: str, body: str
) -> None:
    error = await provoke(protocol, CALLS[call].invoke, body, ResponseDecodeError)
    assert_clean(error)
    assert isinstance(error, ResponseDecodeError)
    assert error.excerpt  # the excerpt is still there, only the secret is masked
    assert "Bad key" in error.excerpt or "bad md5" in error.excerpt or "echo" in error.excerpt


async def test_echo_of_the_whole_request_body(anyio_backend: str) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>" + request.content + b"</html>")

    error = await provoke("json", lambda mk: mk.email.unsubscribe(5), echo, ResponseDecodeError)
    assert_clean(error)


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("unsubscribe", {"error_status": 0, "echo": SECRET}),  # no status: unexpected answer
        ("schedule", f'"{SECRET}"'),  # a JSON string where an object belongs
        ("results", {"error_status": 0, "md5": SECRET}),  # no status
        ("revalidate", [SECRET]),
    ],
    ids=["unsubscribe-no-status", "schedule-string", "results-no-status", "revalidate-list"],
)
async def test_valid_json_of_the_wrong_shape_echoing_the_md5(
    anyio_backend: str, call: str, body: Any
) -> None:
    error = await provoke("json", CALLS[call].invoke, body, MailkitError)
    assert_clean(error)


# --- transport and HTTP failures -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError, httpx.PoolTimeout],
)
@pytest.mark.parametrize("call", ["unsubscribe", "schedule"])
async def test_transport_errors(anyio_backend: str, call: str, kind: type[httpx.HTTPError]) -> None:
    error = await provoke("json", CALLS[call].invoke, raises(kind), TransportError)
    assert_clean(error)
    # Not even the httpx exception (whose request holds the body) rides along.
    assert not any(isinstance(item, httpx.HTTPError) for item in chain(error))


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (500, None, ServerError),
        (502, None, ServerError),
        (503, {"Retry-After": "0"}, RateLimitError),
        (429, None, RateLimitError),
        (404, None, APIError),
    ],
)
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_http_errors_with_a_body_echoing_the_md5(
    anyio_backend: str, protocol: str, status: int, headers: dict[str, str] | None, expected: type[Exception]
) -> None:
    effect = lambda request: reply(f"<html>error for {SECRET}</html>", status, headers)  # noqa: E731
    error = await provoke(protocol, lambda mk: mk.email.unsubscribe(5), effect, expected)
    assert_clean(error)


async def test_deadline(anyio_backend: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with make_client(retry=RetryPolicy(deadline=0.1), http_client=http) as mk:
        with pytest.raises(TransportError) as info:
            await mk.email.unsubscribe(5)
    assert_clean(info.value)


# --- errors before any request -------------------------------------------------------------------


async def test_invalid_parameters(anyio_backend: str) -> None:
    async with make_client() as mk:
        for invoke in (
            lambda: mk.campaigns.single.schedule(7, datetime(2030, 1, 1, 10, 0)),
            lambda: mk.email.unsubscribe("nope", pause_days=5),
            lambda: mk.email.revalidate(5, agreement="yes"),  # type: ignore[arg-type]
            lambda: mk.sendmail_mass.results(0),
            lambda: mk.call("not.mailkit", {}),
        ):
            with pytest.raises(InvalidParameterError) as info:
                await invoke()
            assert_clean(info.value)


@pytest.mark.parametrize(
    ("env", "kwargs"),
    [
        ({"MAILKIT_CLIENT_MD5": SECRET}, {}),
        ({"MAILKIT_CLIENT_MD5": SECRET, "MAILKIT_CLIENT_ID": "abc"}, {}),
        ({}, {"client_id": "abc", "client_md5": SECRET}),
        ({}, {"client_id": 0, "client_md5": SECRET}),
        ({}, {"client_id": 1, "client_md5": SECRET, "protocol": "soap"}),
        ({}, {"client_id": 1, "client_md5": SECRET, "base_url": "ftp://x"}),
        ({}, {"client_id": 1, "client_md5": SECRET, "retry": "no"}),
        ({}, {"client_id": 1, "client_md5": SECRET, "http_client": "no"}),
    ],
)
def test_construction_errors(
    credentials_env: Callable[[dict[str, str]], None], env: dict[str, str], kwargs: dict[str, Any]
) -> None:
    credentials_env(env)
    with pytest.raises(MailkitError) as info:
        Mailkit(**kwargs)
    assert_clean(info.value)


# --- reprs and logs ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
def test_client_repr(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    mk = make_client(protocol, http_client=httpx.AsyncClient())
    assert SECRET not in repr(mk)
    assert SECRET not in str(mk)
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "4321")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", SECRET)
    assert SECRET not in repr(Mailkit(protocol=protocol, http_client=httpx.AsyncClient()))  # type: ignore[arg-type]


@asynccontextmanager
async def local_server(respond: Callable[[bytes], tuple[int, bytes]]) -> AsyncIterator[str]:
    """A bare HTTP/1.1 server on 127.0.0.1, so the real httpx/httpcore stack (and its logging) runs."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += await stream.receive()
                head, _, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
                length = int(match[1]) if match else 0
                while len(body) < length:
                    body += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return
            status, payload = respond(body)
            await stream.send(
                b"HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (status, len(payload))
                + payload
            )

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            tg.cancel_scope.cancel()


async def test_no_log_line_contains_the_md5(anyio_backend: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    count = 0

    def respond(body: bytes) -> tuple[int, bytes]:
        nonlocal count
        count += 1
        if b"unsubscribe" in body:
            # Fail once (retried, logged), then succeed.
            if count == 1:
                return 500, b"<html>" + body + b"</html>"
            return 200, b'{"error_status": 0, "ID_email": "5", "status": "1"}'
        if b"revalidate" in body:
            return 200, b'{"error_status": 1, "error": "Unauthorized"}'
        return 200, b"<html>" + body + b"</html>"  # echoes the whole request

    async with (
        local_server(respond) as url,
        make_client(base_url=url, retry=RetryPolicy(attempts=3, backoff=0), http_client=None) as mk,
    ):
        with anyio.fail_after(10):
            assert (await mk.email.unsubscribe(5)).email_id == 5
            with pytest.raises(AuthenticationError):
                await mk.email.revalidate(5, agreement=True)
            with pytest.raises(ResponseDecodeError) as info:
                await mk.sendmail_mass.results(55)
    assert_clean(info.value)
    assert count == 4
    assert caplog.records  # something was logged at all (httpx, the retry loop)
    assert any(record.name.startswith("mailkit_async") for record in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text


async def test_no_log_line_contains_the_md5_with_respx(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    effects = iter(
        [
            httpx.Response(503, headers={"Retry-After": "0"}, text=SECRET),
            httpx.Response(200, text=f"<html>{SECRET}</html>"),
        ]
    )
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post(JSON_PATH).mock(side_effect=lambda request: next(effects))
        async with make_client(retry=RetryPolicy(attempts=3, backoff=0)) as mk:
            with pytest.raises(ResponseDecodeError):
                await mk.email.unsubscribe(5)
    assert any("attempt" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()


# --- TLS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_tls_verification_is_on_by_default(anyio_backend: str, protocol: str) -> None:
    async with make_client(protocol, http_client=None) as mk:
        http = mk._transport.http
        assert str(mk._transport.base_url).startswith("https://")
        transport = http._transport
        assert isinstance(transport, httpx.AsyncHTTPTransport)
        context = transport._pool._ssl_context
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
