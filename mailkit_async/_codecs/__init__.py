"""Wire codecs: one interface, one implementation per Mailkit protocol.

Whatever differs between the protocols is behind the codec: the body sent, the body decoded, the
form `Mailkit.call` takes its parameters in, and which of a function's two answer readers applies
(`Readers`): resources never ask which protocol is in use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, Literal, Protocol, TypeVar

from .._exceptions import InvalidParameterError, ResponseDecodeError
from .._models import Bounce
from .._request import Request
from .._secrets import WINDOW
from ._bounces import as_page

__all__ = ["Buffer", "Codec", "ProtocolName", "Readers", "get_codec", "is_blank", "page_or_error"]

ProtocolName = Literal["json", "xmlrpc"]
Buffer = bytes | bytearray | memoryview
F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True, slots=True)
class Readers(Generic[F]):
    """How one function's answer reads over each protocol: two parsers side by side, never one
    parser of two minds. The codec in use picks its own (`Codec.reader`)."""

    json: F
    xmlrpc: F


class Codec(Protocol):
    """Turns a `Request` into a body, and a body back into Python values.

    `decode` raises `ResponseDecodeError` for a body that is not valid for the protocol and
    `APIError` for a protocol-level refusal (an XML-RPC `<fault>`); what the value *means* is for
    the resource that made the call to say.
    """

    @property
    def protocol(self) -> ProtocolName: ...

    @property
    def path(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def positional(self) -> bool:
        """Whether parameters travel by position (XML-RPC): only the documented slots exist."""
        ...

    def reader(self, readers: Readers[F]) -> F:
        """This protocol's reader of a function's answer."""
        ...

    def call_request(
        self, function: str, parameters: Mapping[str, object] | Sequence[object], idempotent: bool
    ) -> Request:
        """`Mailkit.call`'s request; `InvalidParameterError` if `parameters` is not this protocol's
        form (a mapping of names for JSON, a sequence of positional values for XML-RPC)."""
        ...

    def parameters(self, request: Request) -> object:
        """The parameters this protocol sends for `request` (what the DEBUG log shows)."""
        ...

    def encode(self, request: Request, client_id: int, client_md5: str) -> bytes: ...

    def decode(self, function: str, body: Buffer) -> object: ...

    def decode_bounces(self, function: str, body: Buffer) -> list[Bounce] | object:
        """Decode a raw.bounces page (or any JSON array / XML-RPC array of its records).

        A list of `Bounce` (one record object sent alone is a page of one), or whatever else came
        (an error, ``""`` for an empty or blank body, ``{}``). A record without a usable
        ``ID_UNDELIVERED_LOG`` is marked with the ID 0 for the cursor to refuse by name.
        """
        ...


def page_or_error(function: str, value: object, body: Buffer, what: str) -> list[Bounce] | object:
    """A decoded raw.bounces answer as records (`_bounces.as_page`); one that is not records
    is a `ResponseDecodeError` quoting the body."""
    try:
        return as_page(value)
    except TypeError as exc:
        raise ResponseDecodeError(
            f"unexpected {what} ({exc})", function=function, excerpt=bytes(body[:WINDOW])
        ) from None


_BLANK: Final = b" \t\r\n"


def is_blank(body: Buffer) -> bool:
    """True when the body is empty or only white space, however long (the service's "nothing")."""
    view = memoryview(body)
    if not view.nbytes:
        return True
    if view[0] not in _BLANK:  # the usual answer: decided by its first byte, nothing copied
        return False
    return not bytes(view).strip(_BLANK)


def get_codec(protocol: str) -> Codec:
    """The codec for `protocol`; codecs are stateless and built once per process."""
    if protocol == "json":
        from ._json import JSON_CODEC

        return JSON_CODEC
    if protocol == "xmlrpc":
        from ._xmlrpc import XMLRPC_CODEC

        return XMLRPC_CODEC
    raise InvalidParameterError(f"protocol must be 'json' or 'xmlrpc', not {protocol!r}")
