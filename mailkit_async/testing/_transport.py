"""The in-process plug-in: an httpx transport that answers from the emulator, no sockets involved.

Faults become what httpx itself would raise over a network: a refused connection is
`httpx.ConnectError`, a dropped one `httpx.RemoteProtocolError`, a truncated body raises
`httpx.RemoteProtocolError` mid-read, and delays honour the request's read timeout
(`httpx.ReadTimeout`), sleeping with anyio so asyncio and trio both work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final, Generic

import anyio
import httpx

from ._exchange import Deliver, R
from ._faults import Drop, Pause, Refuse, Send, reason

__all__ = ["EmulatorTransport"]

_CHUNK: Final = 64 * 1024


class EmulatorTransport(httpx.AsyncBaseTransport, Generic[R]):
    """Answers httpx requests from a `MailkitEmulator` in-process (``emu.transport()``).

    ```python
    http = httpx.AsyncClient(transport=emu.transport())
    async with http, Mailkit(1, "emulator", http_client=http) as mk: ...
    ```
    No socket is opened; scripted faults surface as httpx would raise them (`httpx.ConnectError`
    for a refused connection, `httpx.RemoteProtocolError` for a dropped one, a read timeout for a
    delay longer than the request's read timeout).

    Args:
        emulator: The emulator that answers.
        client_ip: The peer address the emulator's IP allowlist sees; default `127.0.0.1`.
    """

    def __init__(self, emulator: R, *, client_ip: str = "127.0.0.1") -> None:
        self.emulator = emulator
        self.client_ip = client_ip

    def __repr__(self) -> str:
        return f"EmulatorTransport({self.emulator!r}, client_ip={self.client_ip!r})"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        exchange = self.emulator.receive(
            request.method, request.url.path, request.headers, body, peer=self.client_ip
        )
        read_timeout = _read_timeout(request)
        for action in exchange.play():
            if isinstance(action, Pause):
                # A client that times out here never sees the steps after it.
                await _wait(action.seconds, read_timeout, request)
            elif isinstance(action, Refuse):
                raise httpx.ConnectError("[Errno 111] Connection refused (scripted fault)", request=request)
            elif isinstance(action, Drop):
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            else:
                return _response(action, read_timeout, request)
        raise AssertionError("an exchange ends in an answer or a closed connection")


def _response(action: Deliver, read_timeout: float | None, request: httpx.Request) -> httpx.Response:
    reply, send = action.reply, action.send
    headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
    extensions = {"http_version": b"HTTP/1.1", "reason_phrase": reason(reply.status).encode()}
    if not send.chunk and send.cut is None:
        return httpx.Response(
            reply.status, headers=headers, content=reply.body, request=request, extensions=extensions
        )
    stream = _FaultyBody(reply.body, send, read_timeout, request)
    return httpx.Response(
        reply.status, headers=headers, stream=stream, request=request, extensions=extensions
    )


class _FaultyBody(httpx.AsyncByteStream):
    """A body sent as `send` says: `chunk` bytes at a time, `interval` apart; cut after `cut` bytes."""

    def __init__(self, body: bytes, send: Send, read_timeout: float | None, request: httpx.Request) -> None:
        self._body = memoryview(body)
        self._send = send
        self._read_timeout = read_timeout
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        view, send = self._body, self._send
        end = len(view) if send.cut is None else min(send.cut, len(view))
        for offset in range(0, end, send.chunk or _CHUNK):
            if offset and send.interval:
                await _wait(send.interval, self._read_timeout, self._request)
            yield bytes(view[offset : min(offset + (send.chunk or _CHUNK), end)])
        if end < len(view):
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"(received {end} bytes, expected {len(view)})",
                request=self._request,
            )


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


async def _wait(seconds: float, read_timeout: float | None, request: httpx.Request) -> None:
    """Sleep as the network would make the client wait: past its read timeout, it gives up."""
    if read_timeout is not None and seconds > read_timeout:
        await anyio.sleep(read_timeout)
        raise httpx.ReadTimeout("The read operation timed out (scripted delay)", request=request)
    await anyio.sleep(seconds)
