"""`MailkitEmulator`: a stateful fake of the Mailkit API that speaks both wire protocols.

It is an `Account` (campaigns, address book, bounce log) that answers calls: `receive()` reads a
request through its protocol's wire object, counts it, and picks its scripted fault; the
`Exchange` it returns plays the fault's steps, which the in-process transport and the loopback
server only act out. Every function, the bounce report included, is one route.
"""

from __future__ import annotations

import codecs
import hmac
import ipaddress
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from .._service import BOUNCES, MAX_PAGE_SIZE, SCHEDULE
from ._account import DEFAULT_CAMPAIGNS, Account
from ._bounces import render_page
from ._exchange import ConnectionDropped, Exchange, Reply, RequestRecord, act_out, html_page
from ._faults import FaultPlan
from ._functions import FUNCTION_LOGIC, Logic, as_int
from ._wire import WIRES, BadRequest, Call, EmptyPage, Wire, wire_for_path

if TYPE_CHECKING:
    from ._server import EmulatorServer
    from ._transport import EmulatorTransport

__all__ = ["ConnectionDropped", "Exchange", "MailkitEmulator", "Reply", "RequestRecord"]

Cursor = Literal["exclusive", "inclusive"]
Handler = Callable[[Call], object]
#: How one function is answered, once its call is authorized and counted.
Route = Callable[[Call, Wire], Reply]


class MailkitEmulator(Account):
    """A fake Mailkit account for tests, demos and benchmarks: JSON at ``/json.fcgi``, XML-RPC at
    ``/rpc.fcgi``, answering exactly like the documentation, quirks included.

    ```python
    emu = MailkitEmulator()
    emu.seed_bounces(100_000, gap_every=10)
    async with httpx.AsyncClient(transport=emu.transport(), base_url="https://api.mailkit.eu") as http:
        ...
    with emu.serve() as server:  # a real HTTP/1.1 server on loopback, in a background thread
        print(server.url)
    ```
    `page_cap` lowers the service's 25 000-record page; `cursor` chooses how `ID_undelivered_log`
    is read; `empty_page` how JSON says "no records"; `allowed_ips` turns on the IP allowlist.

    Args:
        client_id: The `client_id` it accepts. Default 1.
        client_md5: The `client_md5` it accepts. Default `"emulator"`.
        page_cap: The most records one bounce page holds, whatever the client asks. Default
            25 000, the service's.
        cursor: `"exclusive"` (default): `ID_undelivered_log` returns the records after it;
            `"inclusive"`: from it on.
        empty_page: How JSON says "no more records": `"[]"` (default), `"{}"`, `'""'` or `""`
            (no body); `"\r\n"`: a blank body, over both protocols.
        allowed_ips: Addresses or networks allowed to call; others get "Disallowed IP". Default
            `None`: every peer.
        clock: The emulator's "now" (for dates in the past): a callable, a fixed datetime (naive
            means UTC) or `None` for the real clock (default).
        seed: The seed of the fault plan's dice. Default 0.
        campaigns: The campaign IDs the account starts with. Default 1, 2, 3 and 12345.
        log_size: How many requests `request_log` keeps. Default 10 000.
        xml_encoding: The codec every XML-RPC answer is sent in (`"iso-8859-2"`,
            `"windows-1250"`, `"utf-16"`...), declared as XML 1.0 says. Default UTF-8.
        single_object_pages: Answer a page of one record with the record alone, not a list.

    Raises:
        ValueError: An unknown `cursor` or `empty_page`, or a `page_cap` below 1.
    """

    def __init__(
        self,
        client_id: int = 1,
        client_md5: str = "emulator",
        *,
        page_cap: int = MAX_PAGE_SIZE,
        cursor: Cursor = "exclusive",
        empty_page: EmptyPage = "[]",
        allowed_ips: Iterable[str] | None = None,
        clock: Callable[[], datetime] | datetime | None = None,
        seed: int | None = 0,
        campaigns: Iterable[int] = DEFAULT_CAMPAIGNS,
        log_size: int = 10_000,
        xml_encoding: str = "utf-8",
        single_object_pages: bool = False,
    ) -> None:
        if cursor not in ("exclusive", "inclusive"):
            raise ValueError(f"cursor must be 'exclusive' or 'inclusive', not {cursor!r}")
        if empty_page not in ("[]", "{}", '""', "", "\r\n"):
            raise ValueError(f'empty_page must be one of [], {{}}, "", empty or "\\r\\n", not {empty_page!r}')
        codecs.lookup(xml_encoding)  # LookupError now, not at the first answer
        self.xml_encoding = xml_encoding
        self.single_object_pages = single_object_pages
        if page_cap < 1:
            raise ValueError("page_cap must be >= 1")
        self.client_id = int(client_id)
        self._client_md5 = str(client_md5)
        self.page_cap = page_cap
        self.cursor: Cursor = cursor
        self.empty_page: EmptyPage = empty_page
        self._allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
        self.allowed_ips = allowed_ips
        super().__init__(clock=clock, campaigns=campaigns)
        self.faults = FaultPlan(seed)
        self._routes: dict[str, Route] = {
            name: self._logic_route(logic) for name, logic in FUNCTION_LOGIC.items()
        }
        self._routes[BOUNCES] = self._bounce_page
        self._requests: Counter[str] = Counter()
        self._processed: Counter[str] = Counter()
        self._log: deque[RequestRecord] = deque(maxlen=log_size)
        self._errors: list[BaseException] = []

    def __repr__(self) -> str:
        # Never the md5.
        return (
            f"MailkitEmulator(client_id={self.client_id}, page_cap={self.page_cap}, cursor={self.cursor!r}, "
            f"empty_page={self.empty_page!r}, bounces={self._bounces.count})"
        )

    # -- configuration ---------------------------------------------------------------------------

    @property
    def allowed_ips(self) -> tuple[str, ...] | None:
        """The IP allowlist (addresses or networks), or None: every peer allowed."""
        return None if self._allowed is None else tuple(str(net) for net in self._allowed)

    @allowed_ips.setter
    def allowed_ips(self, value: Iterable[str] | None) -> None:
        if isinstance(value, str):
            value = [value]
        self._allowed = (
            None if value is None else tuple(ipaddress.ip_network(ip, strict=False) for ip in value)
        )

    # -- answering ---------------------------------------------------------------------------------

    def register_function(self, function: str, handler: Handler) -> None:
        """Answer `function` with `handler(call)`: the returned value is rendered per protocol
        (JSON as is; XML-RPC with ints as <i4>, strings, structs and arrays)."""
        with self._lock:
            self._routes[function] = self._handler_route(handler)

    @property
    def requests(self) -> Counter[str]:
        """Requests received per function, every one counted (faulted, refused or not)."""
        return self._locked(lambda: Counter(self._requests))

    @property
    def schedule_calls(self) -> int:
        """`mailkit.campaigns.single.schedule` requests received."""
        return self.requests[SCHEDULE]

    @property
    def processed(self) -> Counter[str]:
        """Requests per function whose logic actually ran (state may have changed)."""
        return self._locked(lambda: Counter(self._processed))

    @property
    def request_log(self) -> list[RequestRecord]:
        """The last requests received (`log_size` of them), oldest first."""
        return self._locked(lambda: list(self._log))

    def reset_requests(self) -> None:
        """Forget the request counters and log (the account's state stays)."""
        with self._lock:
            self._requests.clear()
            self._processed.clear()
            self._log.clear()

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by registered handlers (answered as HTTP 500)."""
        return self._locked(lambda: list(self._errors))

    # -- plug-ins --------------------------------------------------------------------------------

    def transport(self, *, client_ip: str = "127.0.0.1") -> EmulatorTransport[MailkitEmulator]:
        """An in-process `httpx.AsyncBaseTransport`: ``httpx.AsyncClient(transport=emu.transport())``.
        `client_ip` is the peer address the IP allowlist sees."""
        from ._transport import EmulatorTransport

        return EmulatorTransport(self, client_ip=client_ip)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer[MailkitEmulator]:
        """Serve this emulator over real HTTP/1.1 on loopback, from a background thread.

        Already listening when it returns; use it as a context manager (or call `close()`)."""
        from ._server import EmulatorServer

        return EmulatorServer(self, host, port)

    # -- the core ------------------------------------------------------------------------------------

    def receive(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, peer: str = "127.0.0.1"
    ) -> Exchange:
        """Parse and count one HTTP request, and pick its scripted fault (without running it)."""
        wire = wire_for_path(path)
        call: Call | None = None
        early: Reply | None = None
        if wire is None:
            early = html_page(404, "Not Found")
        elif method.upper() != "POST":
            early = html_page(405, "Method Not Allowed", ("Allow", "POST"))
        else:
            try:
                call = wire.parse(body)
            except BadRequest:
                early = self._reply(wire, wire.bad_request())
        function = call.function if call is not None else None
        fault = self.faults.draw(function, wire.name if wire is not None else None)
        params = dict(call.params) if call is not None else {}
        record = RequestRecord(wire.name if wire is not None else None, function, params, peer, fault)
        with self._lock:
            if function is not None:
                self._requests[function] += 1
            self._log.append(record)
        if call is None:
            assert early is not None
            return Exchange(record, lambda: early)
        return Exchange(record, lambda: self._process(call, record))

    async def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, peer: str = "127.0.0.1"
    ) -> Reply:
        """The whole exchange for other adapters (ASGI, aiohttp...): scripted delays are slept with
        anyio; a dropped or refused connection raises `ConnectionDropped`; a truncated answer
        comes back with its full Content-Length and the short body (close the connection after it)."""
        return await act_out(self.receive(method, path, headers, body, peer=peer))

    def _process(self, call: Call, record: RequestRecord) -> Reply:
        wire = WIRES[call.protocol]
        with self._lock:
            refusal = self._refusal(call, record.peer)
            if refusal is not None:
                return self._reply(wire, wire.refusal(refusal))
            route = self._routes.get(call.function)
            if route is None:
                return self._reply(wire, wire.unknown_function())
            self._processed[call.function] += 1
            record.processed = True
        return route(call, wire)

    def _reply(self, wire: Wire, body: bytes) -> Reply:
        return Reply(200, (("Content-Type", wire.content_type),), wire.transcode(body, self.xml_encoding))

    def _refusal(self, call: Call, peer: str) -> str | None:
        """Why the service refuses this caller (HTTP 200 and a plain answer), or None."""
        try:
            client_id = as_int(call.client_id)
        except ValueError:
            client_id = None
        md5 = call.client_md5
        if not (
            client_id == self.client_id
            and isinstance(md5, str)
            and hmac.compare_digest(md5.encode(), self._client_md5.encode())
        ):
            return "Unauthorized"
        if self._allowed is not None and not self._ip_allowed(peer):
            return f"Disallowed IP {peer}"
        return None

    def _ip_allowed(self, peer: str) -> bool:
        assert self._allowed is not None
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._allowed)

    # -- the routes ----------------------------------------------------------------------------------

    def _logic_route(self, logic: Logic) -> Route:
        def route(call: Call, wire: Wire) -> Reply:
            with self._lock:
                answer = logic(self._state, call.params, self.now())
            return self._reply(wire, wire.answer(answer))

        return route

    def _handler_route(self, handler: Handler) -> Route:
        def route(call: Call, wire: Wire) -> Reply:
            try:
                value = handler(call)
            except Exception as exc:  # a user's handler: report it, keep serving
                with self._lock:
                    self._errors.append(exc)
                return html_page(500, "Internal Server Error")
            return self._reply(wire, wire.write(value))

        return route

    def _bounce_page(self, call: Call, wire: Wire) -> Reply:
        # The bounce log is immutable: pages render outside the lock.
        p = call.params
        message_id, send_id = _positive(p.get("ID_message")), _positive(p.get("ID_send"))
        cursor = _number(p.get("ID_undelivered_log"))
        limit = _number(p.get("limit"))
        size = min(limit if limit > 0 else MAX_PAGE_SIZE, self.page_cap)  # page_cap: the service's own cap
        first_id = cursor + 1 if self.cursor == "exclusive" else cursor
        log = self._bounces
        single, encoding = self.single_object_pages, self.xml_encoding
        key = (
            log.version,
            wire.name,
            message_id,
            send_id,
            max(first_id, 0),
            size,
            self.empty_page,
            single,
            encoding,
        )
        body = self.page_cache.get(key)
        if body is None:
            chunks = log.select(first_id, message_id, send_id, size)
            body = wire.transcode(
                render_page(chunks, wire.name, self.empty_page, single_object=single), encoding
            )
            self.page_cache.put(key, body)
        return Reply(200, (("Content-Type", wire.content_type),), body)


def _positive(value: object) -> int | None:
    number = _number(value)
    return number if number > 0 else None


def _number(value: object) -> int:
    """Bounce parameters: a number, or 0 (not given) for anything else."""
    try:
        return as_int(value) or 0
    except ValueError:
        return 0
