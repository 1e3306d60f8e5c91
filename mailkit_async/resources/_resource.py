"""What every resource namespace holds: the client it calls through, and its codec."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from .._codecs import Readers
from .._request import Request

if TYPE_CHECKING:
    from .._client import Mailkit

__all__ = ["Resource"]

T = TypeVar("T")


class Resource:
    """A namespace of calls (`mk.email`): sends a `Request` and reads its answer with the reader
    of the protocol in use."""

    def __init__(self, client: Mailkit) -> None:
        self._client = client
        self._codec = client._codec

    async def _call(self, request: Request, readers: Readers[Callable[..., T]], **context: object) -> T:
        """`request` sent; its answer read by this protocol's reader, given `context` as keywords."""
        read = self._codec.reader(readers)
        return await self._client._execute(request, partial(read, **context) if context else read)
