"""The JSON protocol (`/json.fcgi`): msgspec encoders and decoders, built once and reused."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from .._exceptions import InvalidParameterError, ResponseDecodeError
from .._models import Bounce
from .._request import Request
from .._secrets import WINDOW
from .._service import JSON_CONTENT_TYPE, JSON_PATH
from . import Buffer, F, ProtocolName, Readers, is_blank, page_or_error
from ._bounces import unknown_field, with_unknown_fields

__all__ = ["JSON_CODEC", "JsonCodec"]


class _Envelope(msgspec.Struct, array_like=False):
    function: str
    id: int
    md5: str
    parameters: dict[str, Any]


class JsonCodec:
    """`{"function", "id", "md5", "parameters"}` in; any JSON value out."""

    protocol: Final[ProtocolName] = "json"
    path: Final = JSON_PATH
    content_type: Final = JSON_CONTENT_TYPE
    positional: Final = False

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._any = msgspec.json.Decoder()
        # A page is decoded straight into Bounce structs; `strict=False` turns the service's
        # numeric strings ("12345") into ints in C. The union admits what an empty or failed
        # page looks like instead: {} / {"error_status": 1, ...} or "" (or one record object).
        self._page = msgspec.json.Decoder(list[Bounce] | dict[str, Any] | str, strict=False)

    def reader(self, readers: Readers[F]) -> F:
        return readers.json

    def call_request(
        self, function: str, parameters: Mapping[str, object] | Sequence[object], idempotent: bool
    ) -> Request:
        if not isinstance(parameters, Mapping):
            if parameters:
                raise InvalidParameterError("JSON parameters are a mapping of names to values")
            parameters = {}
        return Request(function, dict(parameters), (), idempotent)

    def parameters(self, request: Request) -> object:
        return request.json_params

    def encode(self, request: Request, client_id: int, client_md5: str) -> bytes:
        """The body; `InvalidParameterError` for a value JSON (or the service) cannot carry."""
        parameters = dict(request.json_params)
        try:
            body = self._encoder.encode(_Envelope(request.function, client_id, client_md5, parameters))
        except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError) as exc:
            # UnicodeEncodeError (a lone surrogate) is a ValueError. Raised outside the except.
            problem = _WIDE if _too_wide(parameters) else f"{type(exc).__name__}: {exc}"
        else:
            # msgspec writes an int of any width; the service reads 64 bits. Only a body with a run
            # of 19 digits can hold a wider one, so only such a body has its parameters walked.
            if _DIGITS_19.search(body) is None or not _too_wide(parameters):
                return body
            problem = _WIDE
        raise InvalidParameterError(
            f"{_culprit(self._encoder, parameters)} cannot be sent over JSON ({problem})",
            function=request.function,
        )

    def decode(self, function: str, body: Buffer) -> object:
        return _decode(self._any, function, body)

    def decode_bounces(self, function: str, body: Buffer) -> list[Bounce] | object:
        if is_blank(body):
            return ""
        try:
            value = self._page.decode(body)
            if type(value) is list:  # the usual page: typed records already
                return value
        except msgspec.ValidationError as exc:
            # Not the usual page: look again, this page only. Fields nobody documented have a
            # fast way (still decoded in C); anything else odd (a null, an empty ID) the general one.
            name = unknown_field(exc)
            page = None if name is None else with_unknown_fields(body, name, self._page)
            if page is not None:
                return page
            value = _decode(self._any, function, body)
        except (msgspec.DecodeError, *_HOSTILE) as exc:
            raise ResponseDecodeError(
                f"not valid JSON ({exc})", function=function, excerpt=bytes(body[:WINDOW])
            ) from None
        return page_or_error(function, value, body, "answer")


_INT64: Final = range(-(2**63), 2**63)
_WIDE: Final = "an int beyond 64 bits"
_DIGITS_19: Final = re.compile(rb"[0-9]{19}")


def _too_wide(value: object) -> bool:
    """Whether `value` holds an int beyond 64 bits (msgspec would send it; the service cannot
    read it). No recursion, and each container once, so a self-containing list cannot hang it."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            if item not in _INT64 and not isinstance(item, bool):
                return True
        elif isinstance(item, (dict, list, tuple, set, frozenset)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(item.items() if isinstance(item, dict) else item)
    return False


def _culprit(encoder: msgspec.json.Encoder, parameters: dict[str, Any]) -> str:
    """The first parameter that cannot be sent, for the message (only on the error path)."""
    for name, value in parameters.items():
        if _too_wide(value) or not _encodes(encoder, value):
            return f"parameter {name!r}"
    return "a parameter"


def _encodes(encoder: msgspec.json.Encoder, value: object) -> bool:
    try:
        encoder.encode(value)
    except Exception:
        return False
    return True


# What msgspec raises for hostile bodies beyond DecodeError: nesting deeper than its limit, and
# invalid UTF-8 inside a string.
_HOSTILE = (RecursionError, UnicodeDecodeError)


def _decode(decoder: msgspec.json.Decoder[Any], function: str, body: Buffer) -> object:
    """Decode `body`; an empty (or blank) body is the empty string, as the service means it."""
    if is_blank(body):
        return ""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        error = ResponseDecodeError(
            f"unexpected answer ({exc})", function=function, excerpt=bytes(body[:WINDOW])
        )
    except (msgspec.DecodeError, *_HOSTILE) as exc:
        error = ResponseDecodeError(
            f"not valid JSON ({exc})", function=function, excerpt=bytes(body[:WINDOW])
        )
    raise error


JSON_CODEC: Final = JsonCodec()
