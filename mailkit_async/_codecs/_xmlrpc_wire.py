"""XML-RPC on the wire: write a ``<methodCall>``, read a ``<methodResponse>``, safely and fast.

Reading has two paths that give the same answer:

Bodies are read in the encoding they declare (a BOM, or the XML declaration's ``encoding``: UTF-8,
UTF-16, ISO-8859-2, windows-1250 or any codec the standard library knows). A codec of one
character a byte that reads ASCII as itself (ISO-8859-2, windows-1250) is read in place by the fast
path, whose markup is ASCII: only text with other bytes in it is decoded from the codec. Anything
else (and whatever the fast path gives up on) is transcoded to UTF-8 first.

* a fast path for the shape the service actually sends (plain tags, UTF-8 or one of those
  single-byte codecs, nothing but whitespace between elements): one compiled regular expression
  walks the body token by token (a token is a whole ``<member>`` with its scalar value, or one
  container boundary) and builds the value with a small explicit stack. It accepts only a strict
  subset of well-formed XML, and gives up (returns ``_BAIL``) at the first thing it does not know;
* the general path: expat (``pyexpat``) with a stack-based builder, which judges everything
  else, comments, CDATA sections, odd whitespace and every error included.

Safety does not depend on the fast path: it cannot accept ``<!`` at all, nor any entity but the
five predefined ones and character references (which it checks as expat would); and the
general path refuses any DTD (``<!DOCTYPE``, entity and notation declarations) before expat can
read one, both by a scan of the raw bytes and by expat handlers that abort the parse. expat is
never asked to fetch anything. Nesting is tracked on explicit stacks, never by recursion.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn, TypeAlias
from xml.parsers import expat

__all__ = ["XmlRpcValue", "XmlRpcFault", "XmlRpcFormatError", "dumps_call", "loads_response"]

XmlRpcValue: TypeAlias = (
    int | bool | float | str | bytes | list["XmlRpcValue"] | dict[str, "XmlRpcValue"] | None
)
"""A value XML-RPC can carry, as plain Python."""


class XmlRpcFault(Exception):
    """The service answered with a ``<fault>``: ``code`` (faultCode) and ``string`` (faultString)."""

    def __init__(self, code: int, string: str) -> None:
        super().__init__(code, string)
        self.code = code
        self.string = string

    def __str__(self) -> str:
        return f"XML-RPC fault {self.code}: {self.string}"


class XmlRpcFormatError(Exception):
    """The body is not a safe, well-formed XML-RPC ``<methodResponse>`` (the message says why)."""


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

_MAX_WRITE_DEPTH: Final = 64
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

# Characters XML 1.0 cannot carry at all (not even as a character reference).
_XML_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# '\r' is legal but a parser turns a raw one into '\n'; a reference keeps it.
_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _escape(text: str) -> str:
    bad = _XML_FORBIDDEN.search(text)
    if bad is not None:
        raise ValueError(
            f"XML 1.0 cannot carry the character U+{ord(bad.group()):04X} (at index {bad.start()})"
        )
    return text.translate(_ESCAPES)


def _write(value: object, out: list[str], depth: int) -> None:
    # bool before int: bool is an int subclass.
    if isinstance(value, bool):
        out.append("<value><boolean>1</boolean></value>" if value else "<value><boolean>0</boolean></value>")
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer {value} does not fit in 64 bits")
        out.append(f"<value><int>{int.__repr__(value)}</int></value>")  # int subclasses: the number
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"XML-RPC has no {value!r}")
        out.append(f"<value><double>{float.__repr__(value)}</double></value>")
    elif isinstance(value, str):
        out.append(f"<value><string>{_escape(value)}</string></value>")
    elif isinstance(value, (bytes, bytearray)):
        out.append(f"<value><base64>{base64.b64encode(value).decode('ascii')}</base64></value>")
    elif value is None:
        out.append("<value><nil/></value>")
    elif isinstance(value, (list, tuple)):
        if depth >= _MAX_WRITE_DEPTH:
            raise ValueError(f"value nested deeper than {_MAX_WRITE_DEPTH} levels (or recursive)")
        out.append("<value><array><data>")
        for item in value:
            _write(item, out, depth + 1)
        out.append("</data></array></value>")
    elif isinstance(value, dict):
        if depth >= _MAX_WRITE_DEPTH:
            raise ValueError(f"value nested deeper than {_MAX_WRITE_DEPTH} levels (or recursive)")
        out.append("<value><struct>")
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"XML-RPC struct keys must be str, not {type(key).__name__}")
            out.append(f"<member><name>{_escape(key)}</name>")
            _write(item, out, depth + 1)
            out.append("</member>")
        out.append("</struct></value>")
    else:
        raise TypeError(f"cannot send {type(value).__name__} over XML-RPC")


def dumps_call(method: str, params: Sequence[XmlRpcValue]) -> bytes:
    """The UTF-8 body of ``<methodCall>`` for ``method(*params)``.

    bool -> ``<boolean>``, int -> ``<int>``, float -> ``<double>``, str -> ``<string>``,
    bytes -> ``<base64>``, None -> ``<nil/>``, list/tuple -> ``<array>``, dict -> ``<struct>``
    (insertion order). Raises ``TypeError`` for other types (and non-str keys), ``ValueError``
    for what XML-RPC cannot carry: characters XML 1.0 forbids, ints beyond 64 bits, NaN or
    infinities, nesting deeper than 64 levels.
    """
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>',
        _escape(method),
        "</methodName><params>",
    ]
    for param in params:
        out.append("<param>")
        _write(param, out, 0)
        out.append("</param>")
    out.append("</params></methodCall>")
    return "".join(out).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Reading: shared helpers
# --------------------------------------------------------------------------------------------


class _Bail(Exception):
    """Internal: the fast path met something it does not handle; the general path decides."""


_BAIL: Final = object()
_XML_WS: Final = " \t\r\n"
_INT_TEXT: Final = re.compile(r"[+-]?[0-9]{1,40}")
_DOUBLE_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_XML_SPACE_RUN: Final = re.compile(r"[ \t\r\n]+")


def _fail(message: str) -> NoReturn:
    raise XmlRpcFormatError(message)


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _parse_int(text: str) -> int:
    digits = text.strip(_XML_WS)
    if _INT_TEXT.fullmatch(digits) is None:
        _fail(f"bad integer {_short(text)}")
    number = int(digits)
    if not _INT64_MIN <= number <= _INT64_MAX:
        _fail(f"integer {_short(digits)} out of range")
    return number


def _parse_double(text: str) -> float:
    digits = text.strip(_XML_WS)
    if _DOUBLE_TEXT.fullmatch(digits) is None:
        _fail(f"bad double {_short(text)}")
    number = float(digits)
    if not math.isfinite(number):
        _fail(f"double {_short(digits)} out of range")
    return number


def _parse_boolean(text: str) -> bool:
    word = text.strip(_XML_WS).lower()
    if word in ("1", "true"):
        return True
    if word in ("0", "false"):
        return False
    _fail(f"bad boolean {_short(text)}")


def _parse_base64(text: str) -> bytes:
    try:
        return base64.b64decode(_XML_SPACE_RUN.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        _fail("bad base64")


def _parse_nil(text: str) -> None:
    if text.strip(_XML_WS):
        _fail("<nil> with content")


def _as_is(text: str) -> str:
    return text


_SCALARS: Final[dict[str, Callable[[str], XmlRpcValue]]] = {
    "i4": _parse_int,
    "int": _parse_int,
    "i8": _parse_int,
    "boolean": _parse_boolean,
    "double": _parse_double,
    "string": _as_is,
    "dateTime.iso8601": _as_is,
    "base64": _parse_base64,
    "nil": _parse_nil,
}


def _to_bytes(body: bytes | bytearray | memoryview) -> bytes:
    return body if type(body) is bytes else bytes(body)


def loads_response(body: bytes | bytearray | memoryview, *, max_depth: int = 64) -> XmlRpcValue:
    """The value of the single ``<param>`` of a ``<methodResponse>``, as plain Python.

    ``<params/>`` (no param) gives ``""``. A ``<fault>`` raises ``XmlRpcFault``; anything that is
    not a safe, well-formed XML-RPC response raises ``XmlRpcFormatError``: not in its declared
    encoding, not XML, a DTD or entity declaration of any kind, structs/arrays nested deeper than
    ``max_depth``.
    """
    data = _to_bytes(body)
    single_byte = _single_byte_codec(data)
    if single_byte is not None:
        # ISO-8859-2, windows-1250...: markup is ASCII, so the fast path reads the bytes as they
        # are and decodes only the text in them; anything it does not take is transcoded below.
        value = _loads_fast(data, max_depth, single_byte)
        if value is not _BAIL:
            return value  # type: ignore[return-value]
    data = _as_utf8(data)
    value = _loads_fast(data, max_depth)
    if value is _BAIL:
        return _loads_general(data, max_depth)
    return value  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Reading: the declared encoding
# --------------------------------------------------------------------------------------------

# The encoding an XML declaration names (XML 1.0 puts the declaration first, in ASCII).
_DECLARED: Final = re.compile(
    rb"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:\"1\.0\"|'1\.0')[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*"
    rb"(?:\"([A-Za-z][A-Za-z0-9._-]*)\"|'([A-Za-z][A-Za-z0-9._-]*)')"
)
# Byte-order marks and the UTF-16 forms of "<?" (XML 1.0 appendix F), UTF-32 before UTF-16.
_SIGNATURES: Final = (
    (b"\xef\xbb\xbf", None),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8", "UTF-8", "UTF8", "us-ascii", "US-ASCII", "ascii"})


def _as_utf8(data: bytes) -> bytes:
    """The body in UTF-8: as is when it is (the usual case costs one short match), else transcoded."""
    if data[:1] == b"<" and data[1:2] != b"\x00":
        declared = _DECLARED.match(data)
        if declared is None:
            return data  # no encoding named: UTF-8, as XML 1.0 says
        name = (declared[1] or declared[2]).decode("ascii")
        if name in _UTF8_NAMES:
            return data
    else:
        for signature, name_or_none in _SIGNATURES:
            if data.startswith(signature):
                if name_or_none is None:
                    return data  # a UTF-8 BOM wins over any declaration
                name = name_or_none
                break
        else:
            return data  # not XML at all, as the parsers will say
    try:
        codec = codecs.lookup(name)
    except LookupError:
        _fail(f"unknown encoding {name!r}")
    if codec.name == "utf-8":
        return data
    # Declare what the bytes now are, so reading them again changes nothing. A declaration read
    # as ASCII (`_DECLARED` matched the bytes) in an ASCII-compatible codec is skipped before
    # decoding: no copy of the whole text just to drop it.
    start = 0
    if data[:5] == b"<?xml" and _ascii_compatible(codec.name):
        start = data.find(b"?>") + 2
    try:
        text = str(memoryview(data)[start:], codec.name) if start else data.decode(codec.name)
    except (UnicodeError, ValueError):
        _fail(f"not valid {name} text, as the body declares")
    if not start and text.startswith("<?xml"):
        text = text[text.find("?>") + 2 :]
    return _UTF8_DECLARATION + text.encode("utf-8")


_UTF8_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>'


@functools.lru_cache(maxsize=32)
def _ascii_compatible(codec: str) -> bool:
    """Whether `codec` reads every ASCII byte as itself (ISO-8859-2, windows-1250; not UTF-16)."""
    try:
        return bytes(range(128)).decode(codec) == "".join(map(chr, range(128)))
    except (UnicodeError, ValueError):
        return False


def _single_byte_codec(data: bytes) -> str | None:
    """The codec a body's declaration names, when it is one the fast path can read in place."""
    if data[:5] != b"<?xml":
        return None
    declared = _DECLARED.match(data)
    if declared is None:
        return None
    name = (declared[1] or declared[2]).decode("ascii")
    if name in _UTF8_NAMES:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return codec if _in_place(codec) else None


@functools.lru_cache(maxsize=32)
def _in_place(codec: str) -> bool:
    """Whether `codec` reads ASCII as itself and every other byte alone as one character XML
    allows (or refuses it): then markup found in its bytes is markup, and text decodes piecewise."""
    if not _ascii_compatible(codec):
        return False
    alone: list[str] = []
    for byte in range(128, 256):
        try:
            char = bytes([byte]).decode(codec)
        except (UnicodeError, ValueError):
            # A byte the codec lacks, or the first of several (UTF-8, Shift_JIS): the latter
            # would read as a character with the next, so the codec is not read in place.
            if any(_decodes(bytes([byte, after]), codec) for after in range(0x20, 0x100)):
                return False
            alone.append("\ufffd")
            continue
        if len(char) != 1 or not _xml_char(ord(char)) or char in "\ufffe\uffff":
            return False
        alone.append(char)
    try:
        whole = bytes(range(128, 256)).decode(codec, "replace")
    except (UnicodeError, ValueError, LookupError):
        return False
    return whole == "".join(alone)


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------------------------
# Reading: the fast path
# --------------------------------------------------------------------------------------------

# Token kinds (what the last group of a match means).
_K_MEMBER: Final = 0  # <member><name>N</name><value>scalar</value></member>
_K_MEMBER_OPEN: Final = 1  # <member><name>N</name>, a struct or array value follows
_K_MEMBER_CLOSE: Final = 2
_K_VALUE: Final = 3  # <value>scalar</value> (array item or the param)
_K_STRUCT_OPEN: Final = 4
_K_STRUCT_CLOSE: Final = 5
_K_ARRAY_OPEN: Final = 6
_K_ARRAY_CLOSE: Final = 7
_K_EMPTY: Final = 8  # <struct/>, <array><data/></array> and the like: a value one level down

_W: Final = rb"[ \t\r\n]*"
# Text that decodes as is: no markup, references, CR, ']]>' or U+FFFE/U+FFFF (lead byte 0xEF).
_PLAIN: Final = rb"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\xef]*"
# Any other text the XML grammar could allow here; `_careful_text` checks and decodes it.
_CAREFUL: Final = rb"[^<\x00-\x08\x0b\x0c\x0e-\x1f]*"
_FAST_INT: Final = rb"[+-]?[0-9]{1,18}"  # always fits in 64 bits
_FAST_DOUBLE: Final = rb"[+-]?[0-9]{1,17}(?:\.[0-9]{0,17})?"  # always finite


_REFERENCE: Final = re.compile(r"&(?:(amp|lt|gt|quot|apos);|#([0-9]{1,7});|#x([0-9a-fA-F]{1,6});)?")
_NAMED_REFERENCES: Final = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _resolve_reference(match: re.Match[str]) -> str:
    name, decimal, hexadecimal = match.groups()
    if name is not None:
        return _NAMED_REFERENCES[name]
    if decimal is None and hexadecimal is None:
        raise _Bail  # a bare '&' or an unknown entity: expat will say so
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not _xml_char(code):
        raise _Bail
    return chr(code)


def _careful_text(raw: bytes, encoding: str = "utf-8") -> str:
    """Text as an XML parser reports it: CR/CRLF -> LF, references resolved; `_Bail` if not XML."""
    text = raw.decode(encoding)
    if "\ufffe" in text or "\uffff" in text or "]]>" in text:
        raise _Bail
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        text = _REFERENCE.sub(_resolve_reference, text)
    return text


class _Names(dict[bytes, str]):
    """Member names, decoded once per distinct name (and shared by every record)."""

    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    def __missing__(self, raw: bytes) -> str:
        name = _careful_text(raw, self._encoding)
        self[raw] = name
        return name


_Converter: TypeAlias = Callable[[bytes], object]


def _nil(_raw: bytes) -> None:
    return None


def _empty_struct(_raw: bytes) -> dict[str, object]:
    return {}


def _empty_array(_raw: bytes) -> list[object]:
    return []


# Group bytes -> value; builtins where possible (no Python frame per value).
_utf8: Final[_Converter] = bytes.decode
_bool: Final[_Converter] = {b"0": False, b"1": True}.__getitem__


_Fast: TypeAlias = tuple[re.Pattern[bytes], tuple[int, ...], tuple[_Converter, ...], int]


def _build_fast_pattern(plain: bytes = _PLAIN, careful: _Converter = _careful_text) -> _Fast:
    """One regular expression for every fast token, laid out as a trie on the tag names.

    Every alternative ends with the one group that carries its value (or an empty marker group),
    so ``m.lastindex`` names the alternative: ``kinds[m.lastindex]`` is the token kind and
    ``converters[m.lastindex]`` turns that group's bytes into the Python value. Text matching
    `plain` is decoded as UTF-8 (a builtin), any other text by `careful`.
    """
    table: dict[str, tuple[int, _Converter]] = {}

    def group(body: bytes, kind: int, converter: _Converter = _utf8) -> bytes:
        name = f"v{len(table)}"
        table[name] = (kind, converter)
        return b"(?P<" + name.encode() + b">" + body + b")"

    def typed(kind: int) -> bytes:
        """The scalar types, after ``<value>W<``, up to their end tag."""
        tag = f"t{len(table)}".encode()  # the int type name, for its end tag
        return b"|".join(
            [
                b"(?P<" + tag + b">i4|int|i8)>" + group(_FAST_INT, kind, int) + b"</(?P=" + tag + b")>",
                b"string>" + group(plain, kind) + b"</string>",
                b"string>" + group(_CAREFUL, kind, careful) + b"</string>",
                b"string/>" + group(b"", kind),
                b"nil/>" + group(b"", kind, _nil),
                b"boolean>" + group(b"[01]", kind, _bool) + b"</boolean>",
                b"double>" + group(_FAST_DOUBLE, kind, float) + b"</double>",
                rb"dateTime\.iso8601>" + group(plain, kind) + rb"</dateTime\.iso8601>",
                rb"dateTime\.iso8601>" + group(_CAREFUL, kind, careful) + rb"</dateTime\.iso8601>",
            ]
        )

    def untyped(kind: int) -> bytes:
        """``<value>text</value>``, after ``<value>``."""
        return group(plain, kind) + b"</value>|" + group(_CAREFUL, kind, careful) + b"</value>"

    member_scalar = (
        b"<value(?:>(?:" + _W + b"<(?:" + typed(_K_MEMBER) + b")" + _W + b"</value>"
        + b"|" + untyped(_K_MEMBER)
        + b")|/>" + group(b"", _K_MEMBER) + b")"
    )  # fmt: skip
    value = (
        b"value(?:>(?:" + _W + b"<(?:"
        + b"(?:" + typed(_K_VALUE) + b")" + _W + b"</value>"
        + b"|struct>" + group(b"", _K_STRUCT_OPEN)
        + b"|struct/>" + _W + b"</value>" + group(b"", _K_EMPTY, _empty_struct)
        + b"|array>" + _W + b"<data>" + group(b"", _K_ARRAY_OPEN)
        + b"|array>" + _W + b"<data/>" + _W + b"</array>" + _W + b"</value>"
        + group(b"", _K_EMPTY, _empty_array)
        + b"|array/>" + _W + b"</value>" + group(b"", _K_EMPTY, _empty_array)
        + b")|" + untyped(_K_VALUE)
        + b")|/>" + group(b"", _K_VALUE) + b")"
    )  # fmt: skip
    token = (
        b"<(?:"
        # A member and its scalar value; when no scalar follows, the name group is the last one
        # matched and the token opens a member whose value is a struct or an array.
        + b"member>" + _W + b"<name>(?P<name>" + _CAREFUL + b")</name>" + _W
        + b"(?:" + member_scalar + _W + b"</member>)?"
        + b"|" + value
        + b"|/(?:member>" + group(b"", _K_MEMBER_CLOSE)
        + b"|struct>" + _W + b"</value>" + group(b"", _K_STRUCT_CLOSE)
        + b"|data>" + _W + b"</array>" + _W + b"</value>" + group(b"", _K_ARRAY_CLOSE)
        + b"))" + _W
    )  # fmt: skip
    pattern = re.compile(token)
    name_group = pattern.groupindex["name"]
    kinds = [-1] * (pattern.groups + 1)
    converters: list[_Converter] = [_utf8] * (pattern.groups + 1)
    kinds[name_group] = _K_MEMBER_OPEN
    for name, (kind, converter) in table.items():
        kinds[pattern.groupindex[name]] = kind
        converters[pattern.groupindex[name]] = converter
    return pattern, tuple(kinds), tuple(converters), name_group


_FAST, _KINDS, _CONVERTERS, _NAME_GROUP = _build_fast_pattern()


# Plain text in ASCII only: the same in UTF-8 and in every codec `_in_place` accepts.
_PLAIN_ASCII: Final = rb"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\x80-\xff]*"


@functools.lru_cache(maxsize=8)
def _codec_fast(codec: str) -> _Fast:
    """The fast tokens for a body in `codec` (one `_in_place` accepts): ASCII text decoded by a
    builtin, the rest (a few values a page) from `codec` with the careful checks."""
    return _build_fast_pattern(_PLAIN_ASCII, functools.partial(_careful_text, encoding=codec))


# The XML declaration as XML 1.0 spells it. The encoding named was honoured before: the body is
# UTF-8 by now (`_as_utf8`), or in a single-byte codec the converters decode (`_in_place`); the
# general path makes expat ignore the declaration too.
_PROLOG: Final = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:\"1\.0\"|'1\.0')"
    rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:\"[A-Za-z][A-Za-z0-9._-]*\"|'[A-Za-z][A-Za-z0-9._-]*'))?"
    rb"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:\"(?:yes|no)\"|'(?:yes|no)'))?"
    rb"[ \t\r\n]*\?>)?"
    + _W + b"<methodResponse>" + _W + b"<params>" + _W + b"<param>" + _W
)  # fmt: skip
_EPILOG: Final = re.compile(b"</param>" + _W + b"</params>" + _W + b"</methodResponse>" + _W)


def _loads_fast(data: bytes, max_depth: int, encoding: str = "utf-8") -> object:
    """The value, or `_BAIL` when the body is not in the plain shape this path knows.

    `encoding`: UTF-8, or a single-byte codec `_in_place` accepts, whose text is decoded as found.
    """
    head = _PROLOG.match(data)
    if head is None:
        return _BAIL
    start = head.end()
    stop = data.rfind(b"</param>")
    if stop < start or _EPILOG.fullmatch(data, stop) is None:
        return _BAIL

    fast, kinds, converters, name_group = (
        (_FAST, _KINDS, _CONVERTERS, _NAME_GROUP) if encoding == "utf-8" else _codec_fast(encoding)
    )
    names = _Names(encoding)
    root: list[object] = []
    # `cur` is the innermost open container; `state` says what it accepts next:
    # 0 values (an array, or the param), 1 members (a struct), 2 the value of member `pending`,
    # 3 the `</member>` closing it. `stack` holds the (container, state) to return to.
    cur: Any = root
    state = 0
    pending = ""
    stack: list[tuple[Any, int]] = []
    depth = 0
    m: re.Match[bytes] | None = None
    try:
        for m in iter(fast.scanner(data, start, stop).match, None):  # type: ignore[attr-defined]
            group = m.lastindex
            kind = kinds[group]  # type: ignore[index]
            if kind == _K_MEMBER:
                if state != 1:
                    return _BAIL
                cur[names[m[name_group]]] = converters[group](m[group])  # type: ignore[index]
            elif kind in (_K_VALUE, _K_EMPTY):
                if kind == _K_EMPTY and depth >= max_depth:
                    return _BAIL
                value = converters[group](m[group])  # type: ignore[index]
                if state == 0:
                    cur.append(value)
                elif state == 2:
                    cur[pending] = value
                    state = 3
                else:
                    return _BAIL
            elif kind in (_K_STRUCT_OPEN, _K_ARRAY_OPEN):
                depth += 1
                if depth > max_depth:
                    return _BAIL  # the general path says why
                new: Any = {} if kind == _K_STRUCT_OPEN else []
                if state == 0:
                    cur.append(new)
                    stack.append((cur, 0))
                elif state == 2:
                    cur[pending] = new
                    stack.append((cur, 3))
                else:
                    return _BAIL
                cur = new
                state = 1 if kind == _K_STRUCT_OPEN else 0
            elif kind in (_K_STRUCT_CLOSE, _K_ARRAY_CLOSE):
                if state != (1 if kind == _K_STRUCT_CLOSE else 0) or not stack:
                    return _BAIL
                cur, state = stack.pop()
                depth -= 1
            elif kind == _K_MEMBER_OPEN:
                if state != 1:
                    return _BAIL
                pending = names[m[name_group]]
                state = 2
            elif kind == _K_MEMBER_CLOSE:
                if state != 3:
                    return _BAIL
                state = 1
    except (_Bail, UnicodeDecodeError, ValueError):
        return _BAIL
    if m is None or m.end() != stop or stack or len(root) != 1:
        return _BAIL
    return root[0]


# --------------------------------------------------------------------------------------------
# Reading: the general path
# --------------------------------------------------------------------------------------------

_CONTAINERS: Final = frozenset(
    {"methodResponse", "params", "param", "fault", "value", "struct", "member", "array", "data"}
)
_CHILDREN: Final[dict[str, frozenset[str]]] = {
    "methodResponse": frozenset({"params", "fault"}),
    "params": frozenset({"param"}),
    "param": frozenset({"value"}),
    "fault": frozenset({"value"}),
    "value": frozenset({*_SCALARS, "struct", "array"}),
    "struct": frozenset({"member"}),
    "member": frozenset({"name", "value"}),
    "array": frozenset({"data"}),
    "data": frozenset({"value"}),
}
# Elements with at most one child element.
_ONE_CHILD: Final = frozenset({"methodResponse", "params", "param", "fault", "value", "array"})


def _refuse_dtd(*_args: object) -> NoReturn:
    raise XmlRpcFormatError("DTDs, entity and notation declarations are not allowed")


def _new_parser() -> expat.XMLParserType:
    """An expat parser that reads UTF-8 only and stops at the first sign of a DTD.

    The declared encoding is ignored (UTF-8 or an error). Every DTD handler refuses, the first
    (``<!DOCTYPE``) before anything inside it is read; each of the others would refuse as well.
    expat itself never fetches external entities, and parameter entities are never parsed.
    """
    parser = expat.ParserCreate("UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.NotationDeclHandler = _refuse_dtd
    parser.ElementDeclHandler = _refuse_dtd
    parser.AttlistDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.SkippedEntityHandler = _refuse_dtd
    parser.buffer_text = True
    parser.ordered_attributes = True
    return parser


def _check_raw(data: bytes) -> None:
    """Cheap refusals before expat sees a byte: empty, not UTF-8 (NUL bytes), any DTD."""
    if not data.strip(b" \t\r\n"):
        _fail("empty body")
    if b"\x00" in data:
        _fail("NUL byte: not UTF-8 XML")
    at = data.find(b"<!")
    while at >= 0:
        # Inside a comment or a CDATA section "<!" is text (an SMTP reply quoting <!DOCTYPE html>):
        # skip to its end (a section left open is expat's to refuse).
        if data.startswith(b"<!--", at):
            close = data.find(b"-->", at + 4)
        elif data.startswith(b"<![CDATA[", at):
            close = data.find(b"]]>", at + 9)
        else:
            _fail("DTDs and declarations (<!DOCTYPE, <!ENTITY, ...) are not allowed")
        if close < 0:
            return
        at = data.find(b"<!", close + 3)


def _loads_general(data: bytes, max_depth: int) -> XmlRpcValue:
    """Parse with expat, building the value on an explicit stack and checking the grammar.

    A frame is ``[tag, child element count, value, member name]``. Text is gathered in one
    buffer between two tags: only elements without children (scalars, ``<name>``, an untyped
    ``<value>``) keep it; anywhere else it must be whitespace.
    """
    data = _as_utf8(data)
    _check_raw(data)
    stack: list[list[Any]] = []
    buffer: list[str] = []
    depth = 0
    answer: list[Any] = [None, None]  # the value, and "params" or "fault"

    def start(tag: str, _attributes: object) -> None:
        nonlocal depth
        if not stack:
            if tag != "methodResponse":
                _fail(f"not an XML-RPC response (root element <{tag}>)")
            stack.append([tag, 0, None, None])
            return
        parent = stack[-1]
        parent_tag = parent[0]
        if buffer:
            text = "".join(buffer).strip(_XML_WS)
            if text:
                _fail(f"text {_short(text)} next to elements inside <{parent_tag}>")
            buffer.clear()
        if tag not in _CHILDREN.get(parent_tag, ()):
            _fail(f"unexpected <{tag}> inside <{parent_tag}>")
        count = parent[1]
        if parent_tag == "member":
            if tag != ("value" if count else "name") or count > 1:
                _fail(f"<member> needs <name> then <value>, got <{tag}>")
        elif count and parent_tag in _ONE_CHILD:
            _fail(f"more than one child element in <{parent_tag}>")
        parent[1] = count + 1
        if tag == "struct" or tag == "array":
            depth += 1
            if depth > max_depth:
                _fail(f"structs/arrays nested deeper than {max_depth}")
            stack.append([tag, 0, {} if tag == "struct" else [], None])
        elif tag == "data":
            stack.append([tag, 0, parent[2], None])  # items go straight into the array's list
        else:
            stack.append([tag, 0, None, None])

    def end(tag: str) -> None:
        nonlocal depth
        frame = stack.pop()
        count = frame[1]
        if buffer:
            text = "".join(buffer)
            buffer.clear()
            if (count or tag in _CONTAINERS) and not (tag == "value" and not count) and text.strip(_XML_WS):
                _fail(f"text {_short(text.strip(_XML_WS))} inside <{tag}>")
        else:
            text = ""
        if not stack:  # </methodResponse>
            if not count:
                _fail("empty <methodResponse>")
            return
        parent = stack[-1]
        scalar = _SCALARS.get(tag)
        if scalar is not None:
            parent[2] = scalar(text)
        elif tag == "value":
            value = frame[2] if count else text
            if parent[0] == "data":
                parent[2].append(value)
            else:  # param, fault, member
                parent[2] = value
        elif tag == "name":
            parent[3] = text
        elif tag == "member":
            if count != 2:
                _fail("<member> without a <value>")
            parent[2][frame[3]] = frame[2]
        elif tag == "struct" or tag == "array":
            depth -= 1
            parent[2] = frame[2]
        elif tag == "param" or tag == "fault":
            if not count:
                _fail(f"<{tag}> without a <value>")
            answer[0] = frame[2]
            answer[1] = tag
        elif tag == "params" and not count:
            answer[0] = ""
            answer[1] = tag
        # "data": its items are already in the array's list

    parser = _new_parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = buffer.append
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmlRpcFormatError(
            f"not well-formed XML ({expat.ErrorString(exc.code)}) at line {exc.lineno}, column {exc.offset}"
        ) from None
    finally:
        del parser  # expat's buffers and the handlers go now, not at the next GC
    if answer[1] == "fault":
        _raise_fault(answer[0])
    return answer[0]  # type: ignore[no-any-return]


def _raise_fault(value: object) -> NoReturn:
    if not isinstance(value, dict):
        _fail("<fault> without a struct")
    code = value.get("faultCode")
    string = value.get("faultString", "")
    if isinstance(code, str) and _INT_TEXT.fullmatch(code.strip(_XML_WS)):
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(string, str):
        _fail("<fault> without an int faultCode and a string faultString")
    raise XmlRpcFault(code, string)
