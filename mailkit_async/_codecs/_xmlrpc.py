"""The XML-RPC protocol (`/rpc.fcgi`): positional params, parsed without DTDs or entity expansion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from .._exceptions import APIError, InvalidParameterError, ResponseDecodeError
from .._models import Bounce
from .._request import Request
from .._secrets import WINDOW
from .._service import XMLRPC_CONTENT_TYPE, XMLRPC_PATH
from . import Buffer, F, ProtocolName, Readers, is_blank, page_or_error
from ._xmlrpc_wire import XmlRpcFault, XmlRpcFormatError, dumps_call, loads_response

__all__ = ["XMLRPC_CODEC", "XmlRpcCodec"]


class XmlRpcCodec:
    """`methodCall(client_id, client_md5, *params)` in; the single `<param>` value out."""

    protocol: Final[ProtocolName] = "xmlrpc"
    path: Final = XMLRPC_PATH
    content_type: Final = XMLRPC_CONTENT_TYPE
    positional: Final = True

    def reader(self, readers: Readers[F]) -> F:
        return readers.xmlrpc

    def call_request(
        self, function: str, parameters: Mapping[str, object] | Sequence[object], idempotent: bool
    ) -> Request:
        if isinstance(parameters, (Mapping, str, bytes)):
            raise InvalidParameterError("XML-RPC parameters are a sequence of positional values")
        return Request(function, {}, tuple(parameters), idempotent)

    def parameters(self, request: Request) -> object:
        return request.xmlrpc_params

    def encode(self, request: Request, client_id: int, client_md5: str) -> bytes:
        """The body; `InvalidParameterError` for a value XML-RPC cannot carry (a character XML 1.0
        forbids, a lone surrogate, an int beyond 64 bits, a type it has no element for)."""
        params = request.xmlrpc_params
        try:
            return dumps_call(request.function, (client_id, client_md5, *params))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            problem = str(exc)
        raise InvalidParameterError(
            f"{_culprit(request)} cannot be sent over XML-RPC: {problem}", function=request.function
        )

    def decode(self, function: str, body: Buffer) -> object:
        if is_blank(body):
            return ""  # the service's "nothing", as over JSON
        try:
            return loads_response(body)
        except XmlRpcFault as fault:
            # A real <fault>: the service refused the call at the protocol level.
            raise APIError(fault.string, function=function, code=fault.code) from None
        except XmlRpcFormatError as exc:
            raise ResponseDecodeError(
                f"not an XML-RPC response ({exc})", function=function, excerpt=bytes(body[:WINDOW])
            ) from None

    def decode_bounces(self, function: str, body: Buffer) -> list[Bounce] | object:
        return page_or_error(function, self.decode(function, body), body, "bounce record")


def _culprit(request: Request) -> str:
    """The first parameter XML-RPC cannot carry, by the name JSON gives the same value when it has
    one (only on the error path)."""
    for index, value in enumerate(request.xmlrpc_params):
        try:
            dumps_call("", (value,))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            names = [name for name, same in request.json_params.items() if same is value]
            return f"parameter {names[0]!r}" if names else f"positional parameter {index + 1}"
    return "the function name"


XMLRPC_CODEC: Final = XmlRpcCodec()
