"""The loopback plug-in: a small threaded HTTP/1.1 server in front of a `MailkitEmulator`.

It runs in background threads (one accepting, one per connection), so it serves whatever event
loop the test uses, or none. Keep-alive, Content-Length and chunked request bodies are supported;
faults are acted out on the real socket: a reset, a short body, real sleeps. A client that goes
away mid-answer is expected and silent. Closing it closes every client socket and joins every thread.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import struct
import threading
from email.utils import formatdate
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Final, Generic, NamedTuple

from ._exchange import Deliver, R
from ._faults import Drop, Pause, Refuse, reason

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["EmulatorServer"]

_MAX_HEAD: Final = 64 * 1024
_RECV: Final = 256 * 1024
_SMALL: Final = 64 * 1024
_JOIN_TIMEOUT: Final = 5.0


class _BadHttp(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _HttpRequest(NamedTuple):
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class EmulatorServer(Generic[R]):
    """A `MailkitEmulator` served over real HTTP/1.1 (``emu.serve()``); listening once constructed.

    ```python
    with emu.serve() as server:
        async with Mailkit(1, "emulator", base_url=server.url) as mk: ...
    ```
    Background threads serve it (one accepting, one per connection), so it answers whatever event
    loop the caller runs, or none. Scripted faults are acted out on the real socket.

    Args:
        emulator: The emulator that answers.
        host: The address to bind; default `127.0.0.1` (an IPv6 literal such as `::1` works too).
        port: The port to bind; default 0 picks a free one (read it from `port` or `url`).
        idle_timeout: Seconds a client connection may stay silent before it is closed; default 30.

    Raises:
        OSError: The address cannot be bound (a port in use, an address not on this machine).
    """

    def __init__(
        self,
        emulator: R,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        idle_timeout: float = 30.0,
    ) -> None:
        self.emulator = emulator
        self.idle_timeout = idle_timeout
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=512)
        self._listener.setblocking(False)
        address = self._listener.getsockname()
        self.host: str = address[0]
        self.port: int = address[1]
        self._stop = threading.Event()
        self._closed = False
        self._wake_read, self._wake_write = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._accepter = threading.Thread(
            target=self._accept_loop, name=f"mailkit-emulator:{self.port}", daemon=True
        )
        self._accepter.start()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123`` (append ``/json.fcgi`` or ``/rpc.fcgi``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"EmulatorServer({self.url}, {state})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """Client connections open right now."""
        with self._lock:
            return len(self._connections)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server is closed (True) or `timeout` passes (False)."""
        return self._stop.wait(timeout)

    def serve_until_signalled(self) -> None:
        """Serve from the main thread of its own process until SIGTERM or SIGINT, then close."""

        def stop(signum: int, frame: FrameType | None) -> None:
            self.close()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not self.wait(0.5):  # short waits, so the handler runs promptly
                pass
        finally:
            self.close()

    def close(self) -> None:
        """Stop accepting, close every client connection, join every thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")
        self._accepter.join(_JOIN_TIMEOUT)
        with self._lock:
            connections = list(self._connections.items())
        for sock, _ in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv or send
        for _, thread in connections:
            thread.join(_JOIN_TIMEOUT)
        self._listener.close()
        self._wake_read.close()
        self._wake_write.close()

    # -- accepting -------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_read:
                        return
                    try:
                        conn, address = self._listener.accept()
                    except OSError:  # BlockingIOError (another wake-up), ECONNABORTED...
                        continue
                    self._start_connection(conn, str(address[0]))

    def _start_connection(self, conn: socket.socket, peer: str) -> None:
        conn.settimeout(self.idle_timeout)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(
            target=self._serve_connection, args=(conn, peer), name=f"mailkit-emulator:{peer}", daemon=True
        )
        with self._lock:
            if self._closed:
                conn.close()
                return
            self._connections[conn] = thread
        thread.start()

    # -- one connection --------------------------------------------------------------------------

    def _serve_connection(self, conn: socket.socket, peer: str) -> None:
        buffer = bytearray()
        try:
            while not self._stop.is_set():
                try:
                    request = self._read_request(conn, buffer)
                except _BadHttp as bad:
                    body = f"{bad.status} {reason(bad.status)}\n".encode()
                    head = self._head(bad.status, (("Content-Type", "text/plain"),), len(body), False)
                    conn.sendall(head + body)
                    break
                if request is None or not self._exchange(conn, peer, request):
                    break
        except OSError:
            pass  # the client went away (reset, broken pipe, idle timeout): expected, silent
        finally:
            conn.close()
            with self._lock:
                self._connections.pop(conn, None)

    def _read_request(self, conn: socket.socket, buffer: bytearray) -> _HttpRequest | None:
        """The next request on the connection, or None when the client closed it between requests."""
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            if len(buffer) > _MAX_HEAD:
                raise _BadHttp(431)
            data = conn.recv(_RECV)
            if not data:
                return None
            buffer += data
        head = bytes(buffer[:end]).decode("latin-1")
        del buffer[: end + 4]
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            raise _BadHttp(400) from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise _BadHttp(400)
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue" and not buffer:
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked(conn, buffer)
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise _BadHttp(400) from None
            body = self._read_exactly(conn, buffer, length)
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        return _HttpRequest(method, target, headers, body, keep_alive)

    @staticmethod
    def _read_exactly(conn: socket.socket, buffer: bytearray, length: int) -> bytes:
        while len(buffer) < length:
            data = conn.recv(max(_RECV, length - len(buffer)))
            if not data:
                raise ConnectionResetError("the client closed the connection mid-request")
            buffer += data
        body = bytes(buffer[:length])
        del buffer[:length]
        return body

    def _read_chunked(self, conn: socket.socket, buffer: bytearray) -> bytes:
        body = bytearray()
        while True:
            while (end := buffer.find(b"\r\n")) < 0:
                data = conn.recv(_RECV)
                if not data:
                    raise ConnectionResetError("the client closed the connection mid-request")
                buffer += data
            try:
                size = int(bytes(buffer[:end]).split(b";")[0], 16)
            except ValueError:
                raise _BadHttp(400) from None
            del buffer[: end + 2]
            chunk = self._read_exactly(conn, buffer, size + 2)  # the chunk and its CRLF
            if size == 0:
                return bytes(body)  # (trailers are not supported; nothing sends them here)
            body += chunk[:-2]

    def _exchange(self, conn: socket.socket, peer: str, request: _HttpRequest) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        exchange = self.emulator.receive(
            request.method, request.target, request.headers, request.body, peer=peer
        )
        for action in exchange.play():
            if isinstance(action, Pause):
                if self._stop.wait(action.seconds) or self._peer_gone(conn):
                    return False  # closing, or the client gave up: the steps after never happen
            elif isinstance(action, (Refuse, Drop)):
                _reset(conn)
                return False
            else:
                return self._send(conn, action, request.keep_alive)
        raise AssertionError("an exchange ends in an answer or a closed connection")

    def _send(self, conn: socket.socket, action: Deliver, keep_alive: bool) -> bool:
        reply, send = action.reply, action.send
        body = reply.body
        if send.cut is not None:
            conn.sendall(self._head(reply.status, reply.headers, len(body), False) + body[: send.cut])
            return False
        head = self._head(reply.status, reply.headers, len(body), keep_alive)
        if send.chunk:
            conn.sendall(head)
            view = memoryview(body)
            for offset in range(0, len(view), send.chunk):
                if offset and self._stop.wait(send.interval):
                    return False
                conn.sendall(view[offset : offset + send.chunk])
            return keep_alive
        if len(body) <= _SMALL:
            conn.sendall(head + body)
        else:
            conn.sendall(head)
            conn.sendall(body)
        return keep_alive

    @staticmethod
    def _head(status: int, headers: tuple[tuple[str, str], ...], length: int, keep_alive: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {reason(status)}",
            f"Date: {formatdate(usegmt=True)}",
            "Server: mailkit-emulator",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append(f"Content-Length: {length}")
        lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _peer_gone(self, conn: socket.socket) -> bool:
        """Whether the client closed its end (what a client that timed out does)."""
        try:
            conn.setblocking(False)
            try:
                return conn.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                return False
            finally:
                conn.settimeout(self.idle_timeout)
        except OSError:
            return True


def _reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the client sees a reset, not an orderly end."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
