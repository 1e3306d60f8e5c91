"""The client itself: credentials, protocol, base URL, lifecycle, and the failures every call shares."""

from __future__ import annotations

import json
import xmlrpc.client
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from _docs import RAW_BOUNCES_JSON, RAW_BOUNCES_XML, RAW_BOUNCES_XML_FIRST
from support.calls import CALLS, drain_bounces
from support.clients import (
    BASE,
    CLIENT_ID,
    CONTENT_TYPES,
    MD5,
    PATHS,
    answered,
    client,
    mock,
    refused,
    reply,
    route,
)
from support.wire import json_params, typed, xml_fault, xml_string, xmlrpc_params

from mailkit_async import (
    APIError,
    AuthenticationError,
    Bounce,
    InvalidParameterError,
    Mailkit,
    MailkitError,
    ResponseDecodeError,
    RetryPolicy,
)
from mailkit_async._service import BOUNCES, JSON_PATH, UNSUBSCRIBE

pytestmark = pytest.mark.anyio

UNSUBSCRIBED = {"error_status": 0, "ID_email": "5", "status": "1"}
UNSUBSCRIBED_XML = b'<?xml version="1.0"?><methodResponse><params><param><value><i4>5</i4></value></param></params></methodResponse>'
CALL_NAMES = list(CALLS)


def ok_answer(protocol: str) -> httpx.Response:
    return reply(UNSUBSCRIBED if protocol == "json" else UNSUBSCRIBED_XML)


# --- credentials ---------------------------------------------------------------------------------


async def test_credentials_from_the_environment(anyio_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", str(CLIENT_ID))
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    with mock() as router:
        r = route(router, "json").mock(return_value=ok_answer("json"))
        async with Mailkit(retry=RetryPolicy(backoff=0)) as mk:
            await mk.email.unsubscribe(5)
    body = json.loads(r.calls.last.request.content)
    assert body["id"] == CLIENT_ID
    assert type(body["id"]) is int
    assert body["md5"] == MD5


async def test_explicit_credentials_win_over_the_environment(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "999")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", "from-env")
    _, r = await answered("json", ok_answer("json"), lambda mk: mk.email.unsubscribe(5))
    body = json.loads(r.calls.last.request.content)
    assert (body["id"], body["md5"]) == (CLIENT_ID, MD5)


@pytest.mark.parametrize(
    ("env", "kwargs", "needle"),
    [
        ({}, {}, "MAILKIT_CLIENT_ID"),
        ({"MAILKIT_CLIENT_MD5": MD5}, {}, "MAILKIT_CLIENT_ID"),
        ({"MAILKIT_CLIENT_ID": "", "MAILKIT_CLIENT_MD5": MD5}, {}, "MAILKIT_CLIENT_ID"),
        ({"MAILKIT_CLIENT_ID": "4321"}, {}, "MAILKIT_CLIENT_MD5"),
        ({"MAILKIT_CLIENT_ID": "4321", "MAILKIT_CLIENT_MD5": ""}, {}, "MAILKIT_CLIENT_MD5"),
        ({}, {"client_id": CLIENT_ID}, "MAILKIT_CLIENT_MD5"),
        ({}, {"client_md5": MD5}, "MAILKIT_CLIENT_ID"),
    ],
)
def test_missing_credentials_fail_at_construction(
    credentials_env: Callable[[dict[str, str]], None],
    env: dict[str, str],
    kwargs: dict[str, Any],
    needle: str,
) -> None:
    credentials_env(env)
    with pytest.raises(MailkitError) as info:
        Mailkit(**kwargs)
    assert needle in str(info.value)


@pytest.mark.parametrize("client_id", [0, -5, True, "abc", "12a", 1.5])
def test_bad_client_id(client_id: Any) -> None:
    with pytest.raises(InvalidParameterError):
        Mailkit(client_id, MD5)


def test_bad_client_id_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "not-a-number")
    with pytest.raises(MailkitError, match="MAILKIT_CLIENT_ID"):
        Mailkit(client_md5=MD5)


@pytest.mark.parametrize("md5", ["", "   ", 12345])
def test_bad_client_md5(md5: Any) -> None:
    with pytest.raises(MailkitError):
        Mailkit(CLIENT_ID, md5)


@pytest.mark.parametrize("protocol", ["soap", "JSON", "xml-rpc", "", None])
def test_bad_protocol(protocol: Any) -> None:
    with pytest.raises(InvalidParameterError) as info:
        Mailkit(CLIENT_ID, MD5, protocol=protocol)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retry": {"attempts": 2}},
        {"http_client": httpx.Client()},
        {"base_url": "api.mailkit.eu"},
        {"base_url": "ftp://api.mailkit.eu"},
    ],
    ids=["retry-dict", "sync-http-client", "base-url-no-scheme", "base-url-ftp"],
)
def test_bad_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        Mailkit(CLIENT_ID, MD5, **kwargs)


# --- protocol, URL, headers ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_posts_to_the_protocol_path_with_its_content_type(anyio_backend: str, protocol: str) -> None:
    with mock() as router:
        r = route(router, protocol).mock(return_value=ok_answer(protocol))
        async with client(protocol) as mk:
            assert mk.protocol == protocol
            await mk.email.unsubscribe(5)
    request = r.calls.last.request
    assert str(request.url) == BASE + PATHS[protocol]
    assert request.method == "POST"
    assert request.headers["Content-Type"].split(";")[0] == CONTENT_TYPES[protocol]
    assert request.headers["User-Agent"].startswith("mailkit-async/")
    if protocol == "xmlrpc":
        params, method = xmlrpc.client.loads(request.content)
        assert method == UNSUBSCRIBE
        assert params[:2] == (CLIENT_ID, MD5)


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
@pytest.mark.parametrize(
    "base_url", ["https://proxy.example.test/mailkit", "https://proxy.example.test/mailkit/"]
)
async def test_base_url_replaces_the_host_and_the_path_is_appended(
    anyio_backend: str, protocol: str, base_url: str
) -> None:
    with respx.mock(assert_all_called=False) as router:
        default = router.post(url__startswith=BASE).mock(return_value=ok_answer(protocol))
        r = router.post("https://proxy.example.test/mailkit" + PATHS[protocol]).mock(
            return_value=ok_answer(protocol)
        )
        async with client(protocol, base_url=base_url) as mk:
            await mk.email.unsubscribe(5)
    assert r.call_count == 1
    assert not default.called


async def test_plain_http_base_url_with_a_port(anyio_backend: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        r = router.post(f"http://localhost:8080{JSON_PATH}").mock(return_value=ok_answer("json"))
        async with client("json", base_url="http://localhost:8080") as mk:
            await mk.email.unsubscribe(5)
    assert r.call_count == 1


# --- lifecycle -----------------------------------------------------------------------------------


async def test_caller_owned_http_client_is_used_and_not_closed(anyio_backend: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=UNSUBSCRIBED)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with Mailkit(CLIENT_ID, MD5, http_client=http) as mk:
        await mk.email.unsubscribe(5)
    await mk.aclose()
    assert len(seen) == 1
    assert not http.is_closed
    # Still usable by its owner.
    assert (await http.post("https://example.test/x")).status_code == 200
    await http.aclose()


async def test_owned_http_client_is_closed_by_aclose(anyio_backend: str) -> None:
    mk = Mailkit(CLIENT_ID, MD5)
    http = mk._transport.http
    assert isinstance(http, httpx.AsyncClient)
    assert not http.is_closed
    await mk.aclose()
    assert http.is_closed


async def test_async_with_closes_the_owned_client(anyio_backend: str) -> None:
    async with Mailkit(CLIENT_ID, MD5) as mk:
        http = mk._transport.http
        assert not http.is_closed
    assert http.is_closed


async def test_async_with_closes_the_owned_client_on_error(anyio_backend: str) -> None:
    with pytest.raises(RuntimeError):
        async with Mailkit(CLIENT_ID, MD5) as mk:
            http = mk._transport.http
            raise RuntimeError("boom")
    assert http.is_closed


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
def test_repr_names_the_account_but_never_the_secret(protocol: str) -> None:
    mk = Mailkit(CLIENT_ID, MD5, protocol=protocol, http_client=httpx.AsyncClient())  # type: ignore[arg-type]
    text = repr(mk)
    assert "4321" in text
    assert protocol in text
    assert MD5 not in text
    assert MD5 not in str(mk)


def test_retry_policy_is_exposed() -> None:
    policy = RetryPolicy(attempts=2, backoff=0)
    mk = Mailkit(CLIENT_ID, MD5, retry=policy, http_client=httpx.AsyncClient())
    assert mk.retry is policy


# --- failures every function shares --------------------------------------------------------------

JSON_AUTH = [
    pytest.param({"error_status": 1, "error": "Unauthorized"}, "Unauthorized", id="unauthorized-int"),
    pytest.param({"error_status": "1", "error": "Unauthorized"}, "Unauthorized", id="unauthorized-str"),
    pytest.param(
        {"error_status": 1, "error": "Disallowed IP 1.2.3.4"}, "Disallowed IP 1.2.3.4", id="disallowed-int"
    ),
    pytest.param(
        {"error_status": "1", "error": "Disallowed IP 1.2.3.4"}, "Disallowed IP 1.2.3.4", id="disallowed-str"
    ),
]


@pytest.mark.parametrize(("answer", "text"), JSON_AUTH)
@pytest.mark.parametrize("call", CALL_NAMES)
async def test_json_auth_failure_with_http_200(
    anyio_backend: str, call: str, answer: dict[str, Any], text: str
) -> None:
    function, invoke, _ = CALLS[call]
    error, r = await refused(AuthenticationError, "json", answer, invoke)
    assert isinstance(error, APIError)
    assert error.message == text
    assert error.function == function
    assert r.call_count == 1  # a refusal is never retried


@pytest.mark.parametrize("text", ["Unauthorized", "Disallowed IP 1.2.3.4"])
@pytest.mark.parametrize("call", CALL_NAMES)
async def test_xmlrpc_auth_failure_is_a_plain_string(anyio_backend: str, call: str, text: str) -> None:
    function, invoke, _ = CALLS[call]
    error, r = await refused(AuthenticationError, "xmlrpc", xml_string(text), invoke)
    assert isinstance(error, APIError)
    assert error.message == text
    assert error.function == function
    assert r.call_count == 1


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_xmlrpc_fault_is_an_api_error(anyio_backend: str, call: str) -> None:
    function, invoke, _ = CALLS[call]
    error, r = await refused(APIError, "xmlrpc", xml_fault(42, "Internal processing failure"), invoke)
    assert not isinstance(error, AuthenticationError)
    assert error.message == "Internal processing failure"
    assert error.code == 42
    assert error.function == function
    assert r.call_count == 1


HTML = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
TRUNCATED_JSON = b'{"error_status": 0, "status": "OK", "ID_em'
NOT_XMLRPC_XML = b'<?xml version="1.0"?>\n<response><status>OK</status></response>'
TRUNCATED_XMLRPC = b'<?xml version="1.0"?>\n<methodResponse><params><param><value><string>OK, send'
ENTITIES = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "someone@example.com"><!ENTITY b "&a;">]>'
    b"<methodResponse><params><param><value><string>&b;</string></value></param></params></methodResponse>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    b"<methodResponse><params><param><value><string>&x;</string></value></param></params></methodResponse>"
)

DECODE_FAILURES = [
    pytest.param("json", HTML, id="json-html"),
    pytest.param("json", TRUNCATED_JSON, id="json-truncated"),
    pytest.param("json", NOT_XMLRPC_XML, id="json-xml"),
    pytest.param("xmlrpc", HTML, id="xmlrpc-html"),
    pytest.param("xmlrpc", NOT_XMLRPC_XML, id="xmlrpc-not-xmlrpc"),
    pytest.param("xmlrpc", TRUNCATED_XMLRPC, id="xmlrpc-truncated"),
    pytest.param("xmlrpc", b'{"error_status": 0}', id="xmlrpc-json"),
    pytest.param("xmlrpc", ENTITIES, id="xmlrpc-entities"),
    pytest.param("xmlrpc", EXTERNAL_ENTITY, id="xmlrpc-external-entity"),
]


@pytest.mark.parametrize(("protocol", "body"), DECODE_FAILURES)
@pytest.mark.parametrize("call", CALL_NAMES)
async def test_undecodable_body_is_a_decode_error_with_an_excerpt(
    anyio_backend: str, call: str, protocol: str, body: bytes
) -> None:
    function, invoke, _ = CALLS[call]
    error, r = await refused(ResponseDecodeError, protocol, body, invoke)
    assert error.function == function
    start = body[:30].decode()
    assert error.excerpt.startswith(start)
    assert len(error.excerpt) <= 200
    assert repr(start)[1:-1][:20] in str(error)
    assert r.call_count == 1  # a bad body is not a transient fault


async def test_excerpt_is_short_for_a_large_body(anyio_backend: str) -> None:
    body = b"<html>" + b"x" * 100_000
    error, _ = await refused(ResponseDecodeError, "json", body, lambda mk: mk.email.unsubscribe(5))
    assert error.excerpt.startswith("<html>xxx")
    assert len(error.excerpt) <= 200
    assert len(str(error)) < 1000


@pytest.mark.parametrize("call", CALL_NAMES)
async def test_unexpected_4xx_is_a_refusal_not_retried(anyio_backend: str, call: str) -> None:
    function, invoke, _ = CALLS[call]
    error, r = await refused(APIError, "json", httpx.Response(404, text="not here"), invoke)
    assert error.code == 404
    assert error.function == function
    assert r.call_count == 1


# --- report.raw.bounces: the exact request and the documented answers -----------------------------

BOUNCES_XML_EMPTY = b'<?xml version="1.0"?><methodResponse><params><param><value><array><data></data></array></value></param></params></methodResponse>'


def pages(*bodies: Any) -> Callable[[httpx.Request], httpx.Response]:
    """Answer each request with the next body; the last one for good."""
    count = 0

    def effect(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return reply(bodies[min(count, len(bodies)) - 1])

    return effect


@pytest.mark.parametrize(
    ("kwargs", "first"),
    [
        ({}, {"ID_undelivered_log": 0, "limit": 25000}),
        (
            {"message_id": 12345, "send_id": 123456, "after_id": 99, "page_size": 1000},
            {"ID_message": 12345, "ID_send": 123456, "ID_undelivered_log": 99, "limit": 1000},
        ),
    ],
)
async def test_bounces_json_request_and_documented_answer(
    anyio_backend: str, kwargs: dict[str, Any], first: dict[str, Any]
) -> None:
    with mock() as router:
        r = route(router, "json").mock(side_effect=pages(RAW_BOUNCES_JSON, []))
        async with client("json") as mk:
            got = await drain_bounces(mk, **{**kwargs, "after_id": 0})
            assert r.call_count == 2
            r.reset()
            r.mock(side_effect=pages([]))
            await drain_bounces(mk, **kwargs)
    assert typed(json_params(r.calls[0].request, BOUNCES)) == typed(first)
    assert got == [
        Bounce(
            message_id=12345,
            text_status="X-Postfix; Mailbox is full",
            status="5.2.2",
            email_id=1234567890 + i,
            send_id=123456,
            email=f"email{i or ''}@example.com",
            send_message_id=1234567890 + i,
            user_list_id=12345,
            remote_mta="",
            undelivered_log_id=i + 1,
            recipient_status=("permanent", "temporary")[i],
        )
        for i in range(2)
    ]


async def test_bounces_json_second_page_continues_from_the_last_id(anyio_backend: str) -> None:
    _, r = await answered("json", pages(RAW_BOUNCES_JSON, []), lambda mk: drain_bounces(mk, message_id=12345))
    second = json_params(r.calls[1].request, BOUNCES)
    assert typed(second) == typed({"ID_message": 12345, "ID_undelivered_log": 2, "limit": 25000})


@pytest.mark.parametrize(
    ("kwargs", "first"),
    [
        ({}, (0, 0, 0, 25000)),
        (
            {"message_id": 12345, "send_id": 123456, "after_id": 99, "page_size": 1000},
            (12345, 123456, 99, 1000),
        ),
    ],
)
async def test_bounces_xmlrpc_request_order_and_documented_answer(
    anyio_backend: str, kwargs: dict[str, Any], first: tuple[int, ...]
) -> None:
    with mock() as router:
        r = route(router, "xmlrpc").mock(side_effect=pages(RAW_BOUNCES_XML, BOUNCES_XML_EMPTY))
        async with client("xmlrpc") as mk:
            got = await drain_bounces(mk, **{**kwargs, "after_id": 0})
            r.reset()
            r.mock(side_effect=pages(BOUNCES_XML_EMPTY))
            await drain_bounces(mk, **kwargs)
    assert typed(xmlrpc_params(r.calls[0].request, BOUNCES)) == typed(first)
    assert [b.undelivered_log_id for b in got] == [1, 2]
    assert got[0] == RAW_BOUNCES_XML_FIRST
    assert (got[1].text_status, got[1].remote_mta, got[1].recipient_status) == ("", "", "temporary")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 0},
        {"page_size": 25001},
        {"page_size": True},
        {"page_size": "100"},
        {"message_id": 0},
        {"message_id": -1},
        {"message_id": True},
        {"send_id": 0},
        {"send_id": False},
        {"after_id": -1},
        {"after_id": True},
        {"after_id": "5"},
    ],
    ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()),
)
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_bounces_invalid_arguments_fail_before_any_request(
    anyio_backend: str, protocol: str, kwargs: dict[str, Any]
) -> None:
    with mock() as router:
        async with client(protocol) as mk:
            with pytest.raises(InvalidParameterError) as info:
                mk.report.raw.bounces(**kwargs)  # checked at the call, before iteration
    assert isinstance(info.value, ValueError)
    assert router.calls.call_count == 0
