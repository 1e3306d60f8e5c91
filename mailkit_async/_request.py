"""The request model: one Mailkit call, in the shape each wire protocol wants it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Request"]


@dataclass(frozen=True, slots=True)
class Request:
    """A call to one Mailkit function, built by a resource method and encoded by a codec.

    The two protocols do not carry the same parameters: JSON names them (`json_params`), XML-RPC
    passes them by position after the credentials, with the documented placeholders
    (`xmlrpc_params`). Each resource writes its function's XML-RPC order, and the emulator
    (`testing/_wire.py`) writes it again on purpose: each is the other's oracle, with the
    documented examples (`tests/_docs.py`) as the arbiter. `idempotent` says whether re-sending
    the call after it may have reached the service is harmless; the transport reads it to decide
    what a failed attempt may retry.
    """

    function: str
    json_params: Mapping[str, object]
    xmlrpc_params: tuple[object, ...]
    idempotent: bool
