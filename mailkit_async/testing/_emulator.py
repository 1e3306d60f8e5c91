"""`MailkitEmulator`: a stateful fake of the Mailkit API that speaks both wire protocols.

It holds the account (campaigns, address book, bounce log) and answers calls: `receive()` reads a
request through its protocol's wire object, counts it, and picks its scripted fault; the
`Exchange` it returns plays the fault's steps, which the in-process transport and the loopback
server only act out. Every function, the bounce report included, is one route.
"""

from __future__ import annotations

import codecs
import hmac
import ipaddress
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final, Literal, TypeVar

from .._service import BOUNCES, MAX_PAGE_SIZE, SCHEDULE
from ._bounces import BounceLog, PageCache, render_page
from ._exchange import ConnectionDropped, Exchange, Reply, RequestRecord, act_out, html_page
from ._faults import FaultPlan
from ._functions import FUNCTION_LOGIC, Logic, as_int
from ._state import (
    DEFAULT_INFO,
    Campaign,
    MassSendFailure,
    RevalidationRecord,
    ScheduledSend,
    State,
    Subscriber,
    UnsubscribeRecord,
)
from ._wire import WIRES, BadRequest, Call, EmptyPage, Wire, wire_for_path

if TYPE_CHECKING:
    from ._server import EmulatorServer
    from ._transport import EmulatorTransport

__all__ = ["ConnectionDropped", "Exchange", "MailkitEmulator", "Reply", "RequestRecord"]

T = TypeVar("T")
Cursor = Literal["exclusive", "inclusive"]
Handler = Callable[[Call], object]
#: How one function is answered, once its call is authorized and counted.
Route = Callable[[Call, Wire], Reply]

DEFAULT_CAMPAIGNS: Final = (1, 2, 3, 12345)
DEFAULT_QUERIES: Final = (1, 123)
DEFAULT_DELIVERY_FEEDS: Final = (1, 123, 1234)


class MailkitEmulator:
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
        self.faults = FaultPlan(seed)
        self.page_cache = PageCache()
        self._lock = threading.RLock()
        self._state = State(queries=set(DEFAULT_QUERIES), delivery_feeds=set(DEFAULT_DELIVERY_FEEDS))
        self._bounces = BounceLog()
        self._routes: dict[str, Route] = {
            name: self._logic_route(logic) for name, logic in FUNCTION_LOGIC.items()
        }
        self._routes[BOUNCES] = self._bounce_page
        self._requests: Counter[str] = Counter()
        self._processed: Counter[str] = Counter()
        self._log: deque[RequestRecord] = deque(maxlen=log_size)
        self._errors: list[BaseException] = []
        self._clock: Callable[[], datetime] = _utc_now
        self.set_clock(clock)
        for message_id in campaigns:
            self.add_campaign(message_id)

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

    def set_clock(self, clock: Callable[[], datetime] | datetime | None) -> None:
        """The emulator's "now" (for past send dates): a callable, a fixed datetime, or None (real)."""
        if clock is None:
            self._clock = _utc_now
        elif isinstance(clock, datetime):
            fixed = _aware(clock)
            self._clock = lambda: fixed
        else:
            self._clock = lambda: _aware(clock())

    def now(self) -> datetime:
        """The emulator's current time (aware, UTC)."""
        return self._clock()

    # -- seeding ---------------------------------------------------------------------------------

    def add_campaign(
        self,
        message_id: int,
        *,
        subject: str = "",
        template_id: int | None = None,
        query_id: int | None = None,
        delivery_feed_id: int | None = None,
    ) -> None:
        """Make campaign `message_id` known (replacing its settings; its scheduled sends stay)."""
        with self._lock:
            old = self._state.campaigns.get(message_id)
            self._state.campaigns[message_id] = Campaign(
                message_id,
                subject or f"Campaign {message_id}",
                template_id,
                query_id,
                delivery_feed_id,
                delivery_feed_id is None,
                old.sends if old is not None else [],
            )

    def add_query(self, query_id: int) -> None:
        """Make a conditional-delivery rule (`ID_query`) valid."""
        with self._lock:
            self._state.queries.add(query_id)

    def add_delivery_feed(self, delivery_feed_id: int) -> None:
        """Make a delivery feed (`ID_delivery_feed`) valid."""
        with self._lock:
            self._state.delivery_feeds.add(delivery_feed_id)

    def add_subscriber(self, email: str, email_id: int | None = None, *, unsubscribed: bool = False) -> int:
        """Put an address in the account's address book; returns its e-mail ID."""
        with self._lock:
            status: Literal["subscribed", "unsubscribed"] = "unsubscribed" if unsubscribed else "subscribed"
            return self._state.add_subscriber(email, email_id, status).email_id

    def set_mass_results(self, request_id: int | str, errors: Iterable[MassSendFailure]) -> None:
        """The failed recipients `mailkit.sendmail_mass.results` reports for `request_id`."""
        with self._lock:
            self._state.mass_results[str(request_id)] = list(errors)

    def add_mass_error(
        self,
        request_id: int | str,
        code: int,
        info: str | None = None,
        *,
        email: str = "",
        date: str = "2020-09-07 14:24:13",
        email_id: int = 0,
        send_id: int = 0,
        send_message_id: int = 0,
    ) -> MassSendFailure:
        """Add one failed recipient to `request_id`'s results (`send_id` lets `ID_send` filter it)."""
        error = MassSendFailure(
            code,
            DEFAULT_INFO.get(code, "error") if info is None else info,
            email,
            date,
            email_id,
            send_id,
            send_message_id,
        )
        with self._lock:
            self._state.mass_results.setdefault(str(request_id), []).append(error)
        return error

    def seed_bounces(
        self,
        count: int,
        *,
        message_ids: Sequence[int] = (12345,),
        send_ids: Sequence[int] = (123456,),
        start_id: int | None = None,
        gap_every: int = 0,
        extra_fields: bool = False,
        plain: bool = False,
        append: bool = False,
        real_world: bool = False,
        texts: Sequence[str] = (),
    ) -> range:
        """Fill the raw bounce log with `count` deterministic records (costs O(1) memory).

        IDs start at `start_id` (1, or just past the log's end with `append=True`); `gap_every=n`
        leaves one ID out after every n records. Records take (message, send) pairs in turn from
        `message_ids`/`send_ids`. `extra_fields` adds the fields seen in the wild (BOUNCE_CAT,
        UTM_CAMPAIGN, CAMPAIGN_NAME, SUBJECT); `plain` keeps texts free of anything a protocol
        escapes; `real_world` gives records the forms real answers show, one per record in turn
        (a field nobody documented, null text, an empty or zero ID, a multi-line SMTP reply, one
        quoting HTML); `texts` are `TEXT_STATUS` values the records take instead of the built-in SMTP
        replies (``{email}`` in one stands for the recipient's address). Returns the span of IDs
        used (gaps included)."""
        with self._lock:
            self._bounces = self._bounces.seeded(
                count,
                message_ids=message_ids,
                send_ids=send_ids,
                start_id=start_id,
                gap_every=gap_every,
                extra_fields=extra_fields,
                plain=plain,
                append=append,
                real_world=real_world,
                texts=texts,
            )
            self.page_cache.clear()
            if not count:
                return range(0)
            segment = self._bounces.segments[-1]
            return range(segment.first_id, segment.last_id + 1)

    def clear_bounces(self) -> None:
        with self._lock:
            self._bounces = BounceLog((), self._bounces.version + 1)
            self.page_cache.clear()

    def register_function(self, function: str, handler: Handler) -> None:
        """Answer `function` with `handler(call)`: the returned value is rendered per protocol
        (JSON as is; XML-RPC with ints as <i4>, strings, structs and arrays)."""
        with self._lock:
            self._routes[function] = self._handler_route(handler)

    # -- inspection ------------------------------------------------------------------------------

    def campaign(self, message_id: int) -> Campaign:
        """A snapshot of a campaign's settings and scheduled sends."""
        with self._lock:
            return self._state.campaigns[message_id].snapshot()

    def scheduled_sends(self, message_id: int) -> list[ScheduledSend]:
        """The campaign's scheduled sends, oldest first (several may coexist)."""
        with self._lock:
            campaign = self._state.campaigns.get(message_id)
            return list(campaign.sends) if campaign is not None else []

    def subscriber(self, email_or_id: str | int) -> Subscriber | None:
        """A snapshot of an address-book entry (by address or e-mail ID)."""
        with self._lock:
            found = self._state.find(email_or_id)
            return found.snapshot() if found is not None else None

    def is_unsubscribed(self, email: str) -> bool:
        """Whether an address (known to the account or not) is unsubscribed now."""
        with self._lock:
            found = self._state.find(email)
            if found is not None:
                return found.status != "subscribed"
            return email.strip().lower() in self._state.foreign_unsubscribed

    def verification_mails(self, email_or_id: str | int) -> int:
        """How many verification ("subscribe") e-mails revalidate sent to this recipient."""
        with self._lock:
            return self._state.verification_mails[self._address(email_or_id)]

    def optout_mails(self, email_or_id: str | int) -> int:
        """How many unsubscribe confirmations (opt-out e-mails) this recipient was sent."""
        with self._lock:
            return self._state.optout_mails[self._address(email_or_id)]

    @property
    def unsubscribes(self) -> list[UnsubscribeRecord]:
        """Every processed unsubscribe, oldest first (temporary ones carry `pause_days`)."""
        return self._locked(lambda: list(self._state.unsubscribes))

    @property
    def revalidations(self) -> list[RevalidationRecord]:
        return self._locked(lambda: list(self._state.revalidations))

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

    @property
    def bounce_count(self) -> int:
        return self._bounces.count

    def bounce_ids(self, *, message_id: int | None = None, send_id: int | None = None) -> Iterator[int]:
        """Every bounce record's ID in order (lazily), after the filters: the expected stream."""
        return self._bounces.ids(message_id, send_id)

    def bounce_records(
        self,
        after_id: int = 0,
        *,
        message_id: int | None = None,
        send_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, object]]:
        """Records with ID > `after_id` as the JSON answer carries them (strings, or real-world forms)."""
        chunks = self._bounces.select(after_id + 1, message_id, send_id, limit)
        return [segment.record(index) for segment, indices in chunks for index in indices]

    def _locked(self, read: Callable[[], T]) -> T:
        """`read()` under the lock: a copy no request changes while a test looks at it."""
        with self._lock:
            return read()

    def _address(self, email_or_id: str | int) -> str:
        found = self._state.find(email_or_id)
        if found is not None:
            return found.email.lower()
        return str(email_or_id).strip().lower()

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
                value = logic(self._state, call.params, call.protocol, self.now())
            return self._reply(wire, wire.write(value))

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


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
