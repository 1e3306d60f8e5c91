"""Shared helpers for the request/answer tests: a client, the wire as the service sees it."""

from __future__ import annotations

import json
import ssl
import xmlrpc.client
from collections.abc import Awaitable, Callable
from typing import Any
from xml.sax.saxutils import escape

import httpx
import respx

from mailkit_async import Bounce, Mailkit, RetryPolicy

BASE = "https://api.mailkit.eu"
CLIENT_ID = 4321
MD5 = "0cc175b9c0f1b6a831c399e269772661"
PATHS = {"json": "/json.fcgi", "xmlrpc": "/rpc.fcgi"}
CONTENT_TYPES = {"json": "application/json", "xmlrpc": "text/xml"}
PROTOCOLS = ["json", "xmlrpc"]

SCHEDULE = "mailkit.campaigns.single.schedule"
RESULTS = "mailkit.sendmail_mass.results"
REVALIDATE = "mailkit.email.revalidate"
UNSUBSCRIBE = "mailkit.email.unsubscribe"
BOUNCES = "mailkit.report.raw.bounces"


# Building an SSL context (loading the CA bundle) costs ~30 ms: the request/answer tests share one
# through an injected client. Tests of the client's own connection pool build it the usual way.
_TLS = ssl.create_default_context()


def client(protocol: str = "json", **kwargs: Any) -> Mailkit:
    """A client that never sleeps between retries."""
    kwargs.setdefault("retry", RetryPolicy(backoff=0))
    kwargs.setdefault("http_client", httpx.AsyncClient(verify=_TLS))
    return Mailkit(CLIENT_ID, MD5, protocol=protocol, **kwargs)  # type: ignore[arg-type]


def mock() -> respx.MockRouter:
    return respx.mock(base_url=BASE, assert_all_called=False)


def route(router: respx.MockRouter, protocol: str) -> respx.Route:
    return router.post(PATHS[protocol])


def typed(value: Any) -> Any:
    """`value` with the type of every leaf made explicit, so `1 == True == 1.0` and `"1" != 1` bite."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(item) for item in value])
    return (type(value).__name__, value)


def json_params(request: httpx.Request, function: str) -> dict[str, Any]:
    """The `parameters` of a JSON call, after checking the envelope around them."""
    assert request.method == "POST"
    assert request.url.path == "/json.fcgi"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {"function", "id", "md5", "parameters"}
    assert typed(body["function"]) == typed(function)
    assert typed(body["id"]) == typed(CLIENT_ID)  # an int, not "4321"
    assert typed(body["md5"]) == typed(MD5)
    assert isinstance(body["parameters"], dict)
    return body["parameters"]  # type: ignore[no-any-return]


def xmlrpc_params(request: httpx.Request, function: str) -> tuple[Any, ...]:
    """The positional params of an XML-RPC call after client_id (int) and client_md5."""
    assert request.method == "POST"
    assert request.url.path == "/rpc.fcgi"
    assert request.headers["Content-Type"].startswith("text/xml")
    params, method = xmlrpc.client.loads(request.content)
    assert method == function
    assert typed(params[:2]) == typed((CLIENT_ID, MD5))
    return params[2:]


def xml_response(value_xml: str) -> bytes:
    """A methodResponse whose single param is `<value>{value_xml}</value>`."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<methodResponse>\n <params>\n  <param>\n'
        f"   <value>{value_xml}</value>\n  </param>\n </params>\n</methodResponse>\n"
    ).encode()


def xml_string(text: str) -> bytes:
    return xml_response(f"<string>{escape(text)}</string>")


def xml_fault(code: int, text: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True).encode()


def xml_dump(value: Any) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True).encode()


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """An HTTP answer: bytes/str as they are, anything else as JSON."""
    if isinstance(body, (bytes, str)):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


async def collect_bounces(mk: Mailkit, **kwargs: Any) -> list[Bounce]:
    return [b async for b in mk.report.raw.bounces(**kwargs)]


# One call of every typed function, for the tests that treat them all alike.
CALLS: dict[str, tuple[str, Callable[[Mailkit], Awaitable[Any]]]] = {
    "schedule": (SCHEDULE, lambda mk: mk.campaigns.single.schedule(7, "now")),
    "cancel": (SCHEDULE, lambda mk: mk.campaigns.single.cancel(7)),
    "results": (RESULTS, lambda mk: mk.sendmail_mass.results(55)),
    "revalidate": (REVALIDATE, lambda mk: mk.email.revalidate("a@example.com", agreement=True)),
    "revalidate-mail": (REVALIDATE, lambda mk: mk.email.revalidate(123, agreement=False)),
    "unsubscribe": (UNSUBSCRIBE, lambda mk: mk.email.unsubscribe("a@example.com")),
    "bounces": (BOUNCES, lambda mk: collect_bounces(mk)),
}
