"""The two wire protocols as the emulator speaks them: lenient request parsing, exact answers.

`JSON` and `XMLRPC` are wire objects with the same methods, as the client's codecs are. Each parses
a request into one `Call` with *named* parameters (XML-RPC's positional ones are named after the
documented order, so the function logic is written once), and writes every byte the emulator
answers: values, refusals, faults, and the bounce pages' records. All escaping happens here: JSON
through msgspec (member order kept), XML-RPC as the documentation pages print it, `<i4>` for ints
that fit (`<i8>` past them) and `<string>` for strings.
"""

from __future__ import annotations

import dataclasses
import xmlrpc.client
from collections.abc import Mapping
from typing import Final, Literal

import msgspec

from .._service import (
    BOUNCES,
    JSON_CONTENT_TYPE,
    JSON_PATH,
    RESULTS,
    REVALIDATE,
    SCHEDULE,
    UNSUBSCRIBE,
    XMLRPC_CONTENT_TYPE,
    XMLRPC_PATH,
)

__all__ = [
    "JSON",
    "Answer",
    "WIRES",
    "XMLRPC",
    "BadRequest",
    "Call",
    "EmptyPage",
    "IntHole",
    "Protocol",
    "Wire",
    "wire_for_path",
]

Protocol = Literal["json", "xmlrpc"]
EmptyPage = Literal["[]", "{}", '""', "", "\r\n"]
"""How a page with no records is sent: JSON's forms, or ``"\r\n"``, a blank body over both protocols."""

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
_XML_PAGE_HEAD: Final = f"{_XML_HEAD}<methodResponse>\n<params>\n<param>\n<value><array><data>\n"
_XML_PAGE_TAIL: Final = "</data></array></value>\n</param>\n</params>\n</methodResponse>\n"
_XML_ONE_HEAD: Final = _XML_PAGE_HEAD.removesuffix("<value><array><data>\n")
_XML_ONE_TAIL: Final = _XML_PAGE_TAIL.removeprefix("</data></array></value>\n")
_I4_MIN: Final = -(2**31)
_I4_MAX: Final = 2**31 - 1
_EMPTY_JSON: Final[Mapping[str, bytes]] = {"[]": b"[]", "{}": b"{}", '""': b'""', "": b"", "\r\n": b"\r\n"}


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


@dataclasses.dataclass(frozen=True)
class Answer:
    """What a function answers, in the shape each protocol's documentation page prints it."""

    json: object
    xmlrpc: object


@dataclasses.dataclass(frozen=True)
class IntHole:
    """An integer a page fills in per record: `marker` stands for it in the written record, and
    `widest` is the largest it takes (XML-RPC tags it `<i4>` or `<i8>` by that)."""

    marker: str
    widest: int


_json_decoder: Final = msgspec.json.Decoder()
_json_encoder: Final = msgspec.json.Encoder()


class Wire:
    """One protocol's reading and writing; `JSON` and `XMLRPC` are the two. `separator` is what
    stands between two records of a page."""

    def __init__(self, name: Protocol, path: str, content_type: str, separator: str) -> None:
        self.name: Protocol = name
        self.path = path
        self.content_type = content_type
        self.separator = separator

    def __repr__(self) -> str:
        return f"<{self.name} wire>"

    def parse(self, body: bytes) -> Call:
        """The request in `body`. Raises `BadRequest` when it is not one of this protocol."""
        raise NotImplementedError

    def write(self, value: object) -> bytes:
        """An answer carrying `value` (dicts, lists, strings, ints...)."""
        raise NotImplementedError

    def answer(self, answer: Answer) -> bytes:
        """A function's answer, in this protocol's shape."""
        raise NotImplementedError

    def refusal(self, text: str) -> bytes:
        """An auth refusal: HTTP 200 and a plain answer (never an XML-RPC fault)."""
        raise NotImplementedError

    def unknown_function(self) -> bytes:
        raise NotImplementedError

    def bad_request(self) -> bytes:
        raise NotImplementedError

    def record(self, fields: Mapping[str, object]) -> str:
        """One bounce record of a page, compact, with any `IntHole` left as its marker."""
        raise NotImplementedError

    def page(self, records: str, count: int, empty_page: EmptyPage, single_object: bool) -> str:
        """A page around `count` written `records` (`single_object`: one record is sent alone)."""
        raise NotImplementedError

    def transcode(self, body: bytes, encoding: str) -> bytes:
        """An answer written in UTF-8, sent in `encoding` (JSON is always UTF-8)."""
        return body


class _Json(Wire):
    def parse(self, body: bytes) -> Call:
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

    def write(self, value: object) -> bytes:
        return _json_encoder.encode(value)

    def answer(self, answer: Answer) -> bytes:
        return self.write(answer.json)

    def refusal(self, text: str) -> bytes:
        return self.write({"error_status": 1, "error": text})

    def unknown_function(self) -> bytes:
        return self.refusal("Unknown function")

    def bad_request(self) -> bytes:
        return self.refusal("Invalid request")

    def record(self, fields: Mapping[str, object]) -> str:
        # The service sends every value of a bounce record as a string.
        strings = {
            name: value.marker if isinstance(value, IntHole) else str(value) for name, value in fields.items()
        }
        return _json_encoder.encode(strings).decode()

    def page(self, records: str, count: int, empty_page: EmptyPage, single_object: bool) -> str:
        if not count:
            return _EMPTY_JSON[empty_page].decode()
        return records if single_object and count == 1 else f"[{records}]"


class _XmlRpc(Wire):
    def parse(self, body: bytes) -> Call:
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

    def write(self, value: object) -> bytes:
        """A `methodResponse` with one param, pretty-printed like the documentation's examples."""
        out = [_XML_HEAD, "<methodResponse>\n <params>\n  <param>\n"]
        _pretty(value, 3, out)
        out.append("  </param>\n </params>\n</methodResponse>\n")
        return "".join(out).encode()

    def answer(self, answer: Answer) -> bytes:
        return self.write(answer.xmlrpc)

    def refusal(self, text: str) -> bytes:
        return self.write(text)

    def unknown_function(self) -> bytes:
        return _xml_fault(-32601, "Unknown function")

    def bad_request(self) -> bytes:
        return _xml_fault(-32700, "parse error. not well formed")

    def record(self, fields: Mapping[str, object]) -> str:
        return f"{_compact(fields)}\n"

    def page(self, records: str, count: int, empty_page: EmptyPage, single_object: bool) -> str:
        if single_object and count == 1:
            return f"{_XML_ONE_HEAD}{records}{_XML_ONE_TAIL}"
        return f"{_XML_PAGE_HEAD}{records}{_XML_PAGE_TAIL}"

    def transcode(self, body: bytes, encoding: str) -> bytes:
        """Declared as XML 1.0 says; what the codec lacks becomes character references."""
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8") or not body.startswith(_UTF8_DECLARATION):
            return body
        text = body[len(_UTF8_DECLARATION) :].decode("utf-8")
        declaration = f'<?xml version="1.0" encoding="{encoding}"?>'
        return (declaration + text).encode(encoding, "xmlcharrefreplace")


_UTF8_DECLARATION: Final = _XML_HEAD.rstrip("\n").encode()

JSON: Final[Wire] = _Json("json", JSON_PATH, JSON_CONTENT_TYPE, ",")
XMLRPC: Final[Wire] = _XmlRpc("xmlrpc", XMLRPC_PATH, XMLRPC_CONTENT_TYPE, "")
WIRES: Final[Mapping[Protocol, Wire]] = {"json": JSON, "xmlrpc": XMLRPC}


def wire_for_path(path: str) -> Wire | None:
    """The protocol a request path names, under any prefix (as behind a proxy); None for neither."""
    path = path.split("?", 1)[0]
    return next((wire for wire in WIRES.values() if path.endswith(wire.path)), None)


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


# -- XML-RPC values ---------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """Character data for XML (quotes need no escaping between tags)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _scalar(value: object) -> str:
    """One XML-RPC scalar element (`<i4>1</i4>`, `<i8>...` past 32 bits, `<string>x</string>`)."""
    if isinstance(value, bool):
        return f"<boolean>{int(value)}</boolean>"
    if isinstance(value, IntHole):
        tag = "i4" if _I4_MIN <= value.widest <= _I4_MAX else "i8"
        return f"<{tag}>{value.marker}</{tag}>"
    if isinstance(value, int):
        tag = "i4" if _I4_MIN <= value <= _I4_MAX else "i8"
        return f"<{tag}>{value}</{tag}>"
    if isinstance(value, float):
        return f"<double>{value!r}</double>"
    if value is None:
        return "<nil/>"
    return f"<string>{_escape(str(value))}</string>"


def _compact(fields: Mapping[str, object]) -> str:
    """A struct of scalars on one line, as the service writes a page's records."""
    members = "".join(
        f"<member><name>{_escape(name)}</name><value>{_scalar(value)}</value></member>"
        for name, value in fields.items()
    )
    return f"<value><struct>{members}</struct></value>"


def _pretty(value: object, depth: int, out: list[str]) -> None:
    pad = " " * depth
    inner = " " * (depth + 1)
    out.append(f"{pad}<value>\n")
    if isinstance(value, Mapping):
        out.append(f"{inner}<struct>\n")
        for name, item in value.items():
            out.append(f"{inner} <member>\n{inner}  <name>{_escape(str(name))}</name>\n")
            _pretty(item, depth + 3, out)
            out.append(f"{inner} </member>\n")
        out.append(f"{inner}</struct>\n")
    elif isinstance(value, (list, tuple)):
        out.append(f"{inner}<array>\n{inner} <data>\n")
        for item in value:
            _pretty(item, depth + 3, out)
        out.append(f"{inner} </data>\n{inner}</array>\n")
    else:
        out.append(f"{inner}{_scalar(value)}\n")
    out.append(f"{pad}</value>\n")


def _xml_fault(code: int, message: str) -> bytes:
    out = [_XML_HEAD, "<methodResponse>\n <fault>\n"]
    _pretty({"faultCode": code, "faultString": message}, 2, out)
    out.append(" </fault>\n</methodResponse>\n")
    return "".join(out).encode()
