"""The two wire protocols as the emulator speaks them: lenient request parsing, exact answers.

Requests of either protocol become one `Call` with *named* parameters (XML-RPC's positional ones
are named after the documented order), so the function logic is written once. Answers are
rendered the way the documentation pages print them: JSON through msgspec (member order kept),
XML-RPC by hand with `<i4>` for ints and `<string>` for strings.
"""

from __future__ import annotations

import dataclasses
import xmlrpc.client
from collections.abc import Mapping
from typing import Final, Literal

import msgspec

from .._service import BOUNCES, DOCUMENTED, RESULTS, REVALIDATE, SCHEDULE, UNSUBSCRIBE
from .._service import JSON_PATH as JSON_PATH
from .._service import XMLRPC_PATH as RPC_PATH

FUNCTIONS: Final = DOCUMENTED

__all__ = [
    "BOUNCES",
    "FUNCTIONS",
    "JSON_PATH",
    "REVALIDATE",
    "RESULTS",
    "RPC_PATH",
    "SCHEDULE",
    "UNSUBSCRIBE",
    "BadRequest",
    "Call",
    "Protocol",
    "escape",
    "parse_json",
    "parse_xmlrpc",
    "render_json",
    "render_xmlrpc",
    "render_xmlrpc_fault",
]

Protocol = Literal["json", "xmlrpc"]

# XML-RPC positional parameters after client_id and client_md5, in the documented order. Written
# here and again in the client's resources on purpose: each is the other's oracle, and the
# documented examples (tests/_docs.py) are the arbiter.
# `condition` and `dummy` are the documented empty placeholders; the last struct of schedule and
# unsubscribe is spread into named parameters.
_POSITIONAL: Final[Mapping[str, tuple[str, ...]]] = {
    SCHEDULE: ("ID_message", "subject", "send_date", "time_zone", "condition", "ID_template"),
    RESULTS: ("ID_send", "request_id"),
    REVALIDATE: ("ID_email", "ID_message", "agreement", "channel", "dummy", "language"),
    UNSUBSCRIBE: ("ID_email", "ID_send_message", "send_optout"),
    BOUNCES: ("ID_message", "ID_send", "ID_undelivered_log", "limit"),
}
_TRAILING_STRUCT: Final[Mapping[str, tuple[str, ...]]] = {
    SCHEDULE: ("ID_query", "ID_delivery_feed"),
    UNSUBSCRIBE: ("timeout", "timeout_days"),
}

_XML_HEAD: Final = '<?xml version="1.0" encoding="utf-8"?>\n'
_I4_MIN: Final = -(2**31)
_I4_MAX: Final = 2**31 - 1


class BadRequest(Exception):
    """A body that is not a request of the protocol its path names."""


@dataclasses.dataclass(frozen=True)
class Call:
    """One parsed request. `params` are named (XML-RPC positions mapped to the documented names);
    `args` keeps XML-RPC's raw positional values after the credentials. The md5 stays out of repr."""

    protocol: Protocol
    function: str
    client_id: object
    client_md5: object = dataclasses.field(repr=False)
    params: Mapping[str, object]
    args: tuple[object, ...] = ()


_json_decoder: Final = msgspec.json.Decoder()
_json_encoder: Final = msgspec.json.Encoder()


def parse_json(body: bytes) -> Call:
    """`{"function": ..., "id": ..., "md5": ..., "parameters": {...}}`."""
    try:
        envelope = _json_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("function"), str):
        raise BadRequest("expected an object with a function name")
    parameters = envelope.get("parameters")
    return Call(
        "json",
        envelope["function"],
        envelope.get("id"),
        envelope.get("md5"),
        dict(parameters) if isinstance(parameters, dict) else {},
    )


def parse_xmlrpc(body: bytes) -> Call:
    """A `methodCall` (stdlib parser; DTDs and entity declarations refused first)."""
    if b"<!" in body:
        # No DOCTYPE / ENTITY: nothing the API needs, and this expat may be older than its hardening.
        raise BadRequest("DTDs and entity declarations are not accepted")
    try:
        args, function = xmlrpc.client.loads(body)
    except Exception as exc:  # expat errors, ResponseError, ValueError on bad ints...
        raise BadRequest(f"not an XML-RPC call: {exc}") from None
    if not isinstance(function, str):
        raise BadRequest("missing methodName")
    client_id = args[0] if args else None
    client_md5 = args[1] if len(args) > 1 else None
    rest = tuple(args[2:])
    return Call("xmlrpc", function, client_id, client_md5, _named(function, rest), rest)


def _named(function: str, args: tuple[object, ...]) -> dict[str, object]:
    names = _POSITIONAL.get(function)
    if names is None:
        return {}
    params: dict[str, object] = dict(zip(names, args[: len(names)], strict=False))
    struct_names = _TRAILING_STRUCT.get(function)
    options = args[len(names)] if len(args) > len(names) else None
    if struct_names is not None and isinstance(options, dict):
        params.update((key, options[key]) for key in struct_names if key in options)
    if function in (REVALIDATE, UNSUBSCRIBE):
        # XML-RPC's ID_email carries an e-mail ID or an address; JSON names the two apart.
        target = params.pop("ID_email", None)
        if isinstance(target, str) and "@" in target:
            params["email"] = target
        else:
            params["ID_email"] = target
    return params


def render_json(value: object) -> bytes:
    return _json_encoder.encode(value)


def escape(text: str) -> str:
    """Character data for XML (quotes need no escaping between tags)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def render_xmlrpc(value: object) -> bytes:
    """A `methodResponse` with one param, pretty-printed like the documentation's examples."""
    out = [_XML_HEAD, "<methodResponse>\n <params>\n  <param>\n"]
    _value(value, 3, out)
    out.append("  </param>\n </params>\n</methodResponse>\n")
    return "".join(out).encode()


def render_xmlrpc_fault(code: int, message: str) -> bytes:
    out = [_XML_HEAD, "<methodResponse>\n <fault>\n"]
    _value({"faultCode": code, "faultString": message}, 2, out)
    out.append(" </fault>\n</methodResponse>\n")
    return "".join(out).encode()


def scalar(value: object) -> str:
    """One XML-RPC scalar element, compact (`<i4>1</i4>`, `<string>x</string>`)."""
    if isinstance(value, bool):
        return f"<boolean>{int(value)}</boolean>"
    if isinstance(value, int):
        tag = "i4" if _I4_MIN <= value <= _I4_MAX else "i8"
        return f"<{tag}>{value}</{tag}>"
    if isinstance(value, float):
        return f"<double>{value!r}</double>"
    if value is None:
        return "<nil/>"
    return f"<string>{escape(str(value))}</string>"


def _value(value: object, depth: int, out: list[str]) -> None:
    pad = " " * depth
    inner = " " * (depth + 1)
    out.append(f"{pad}<value>\n")
    if isinstance(value, Mapping):
        out.append(f"{inner}<struct>\n")
        for name, item in value.items():
            out.append(f"{inner} <member>\n{inner}  <name>{escape(str(name))}</name>\n")
            _value(item, depth + 3, out)
            out.append(f"{inner} </member>\n")
        out.append(f"{inner}</struct>\n")
    elif isinstance(value, (list, tuple)):
        out.append(f"{inner}<array>\n{inner} <data>\n")
        for item in value:
            _value(item, depth + 3, out)
        out.append(f"{inner} </data>\n{inner}</array>\n")
    else:
        out.append(f"{inner}{scalar(value)}\n")
    out.append(f"{pad}</value>\n")
