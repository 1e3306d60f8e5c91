"""Wire codecs: one interface, one implementation per Mailkit protocol."""

from __future__ import annotations

from typing import Final, Literal, Protocol

from .._models import Bounce
from .._request import Request

__all__ = ["Codec", "Buffer", "ProtocolName", "get_codec", "is_blank"]

ProtocolName = Literal["json", "xmlrpc"]
Buffer = bytes | bytearray | memoryview


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

    def encode(self, request: Request, client_id: int, client_md5: str) -> bytes: ...

    def decode(self, function: str, body: Buffer) -> object: ...

    def decode_bounces(self, function: str, body: Buffer) -> list[Bounce] | object:
        """Decode a raw.bounces page (or any JSON array / XML-RPC array of its records).

        A list of `Bounce` (one record object sent alone is a page of one), or whatever else came
        (an error, ``""`` for an empty or blank body, ``{}``). A record without a usable
        ``ID_UNDELIVERED_LOG`` is marked with the ID 0 for the cursor to refuse by name.
        """
        ...


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
    from .._exceptions import InvalidParameterError

    raise InvalidParameterError(f"protocol must be 'json' or 'xmlrpc', not {protocol!r}")
