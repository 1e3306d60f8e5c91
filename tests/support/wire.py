"""The wire as the service sees it: the requests the client sent, and answers built the way the
service writes them (XML-RPC envelopes in every form the tests need)."""

from __future__ import annotations

import json
import xmlrpc.client
from typing import Any
from xml.sax.saxutils import escape

import httpx

from mailkit_async._service import JSON_CONTENT_TYPE, JSON_PATH, XMLRPC_CONTENT_TYPE, XMLRPC_PATH

from .clients import CLIENT_ID, MD5


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
    assert request.url.path == JSON_PATH
    assert request.headers["Content-Type"] == JSON_CONTENT_TYPE
    body = json.loads(request.content)
    assert set(body) == {"function", "id", "md5", "parameters"}
    assert typed(body["function"]) == typed(function)
    assert typed(body["id"]) == typed(CLIENT_ID)  # an int, not "4321"
    assert typed(body["md5"]) == typed(MD5)
    assert isinstance(body["parameters"], dict)
    return body["parameters"]


def xmlrpc_params(request: httpx.Request, function: str) -> tuple[Any, ...]:
    """The positional params of an XML-RPC call after client_id (int) and client_md5."""
    assert request.method == "POST"
    assert request.url.path == XMLRPC_PATH
    assert request.headers["Content-Type"].startswith(XMLRPC_CONTENT_TYPE)
    params, method = xmlrpc.client.loads(request.content)
    assert method == function
    assert typed(params[:2]) == typed((CLIENT_ID, MD5))
    return params[2:]


# --- XML-RPC answers -------------------------------------------------------------------------------


def methodresponse(value_xml: str) -> str:
    """A bare methodResponse (no declaration, on one line) whose single param is `value_xml`."""
    return f"<methodResponse><params><param><value>{value_xml}</value></param></params></methodResponse>"


def xml_response(value_xml: str) -> bytes:
    """A methodResponse, declared and indented as the service prints it, whose single param is
    `<value>{value_xml}</value>`."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<methodResponse>\n <params>\n  <param>\n'
        f"   <value>{value_xml}</value>\n  </param>\n </params>\n</methodResponse>\n"
    ).encode()


def xml_string(text: str) -> bytes:
    return xml_response(f"<string>{escape(text)}</string>")


def xml_fault(code: int, text: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True).encode()


def xml_dump(value: Any, encoding: str = "utf-8", *, allow_none: bool = True) -> bytes:
    """`value` as the single param of a methodResponse written by the standard library, in
    `encoding` (None as <nil/>, what the codec cannot spell as character references)."""
    text = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=allow_none, encoding=encoding)
    return text.encode(encoding, "xmlcharrefreplace")


def xml_value(value: Any) -> str:
    """`value` as the service writes it: ints as <i4>, containers as such, anything else a string."""
    return f"<value>{_bare(value)}</value>"


def _bare(value: Any) -> str:
    if isinstance(value, int):
        return f"<i4>{value}</i4>"
    if isinstance(value, dict):
        members = "".join(f"<member><name>{k}</name>{xml_value(v)}</member>" for k, v in value.items())
        return f"<struct>{members}</struct>"
    if isinstance(value, list):
        return f"<array><data>{''.join(xml_value(v) for v in value)}</data></array>"
    return f"<string>{value}</string>"


def xml_written(value: Any) -> bytes:
    """`value` (see `xml_value`) as a declared methodResponse on one line."""
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + methodresponse(_bare(value))).encode()


def bounce_page_asked(protocol: str, request: httpx.Request) -> tuple[int, int]:
    """The cursor (`ID_undelivered_log`) and `limit` a `report.raw.bounces` request asks for."""
    if protocol == "json":
        params = json.loads(request.content)["parameters"]
        return int(params["ID_undelivered_log"]), int(params["limit"])
    (_, _, _, _, cursor, limit), _ = xmlrpc.client.loads(request.content)
    return cursor, limit  # type: ignore[return-value]  # as sent: the client's own ints
