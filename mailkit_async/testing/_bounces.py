"""The emulated raw bounce log: millions of records in a few bytes, pages rendered on demand.

Each record is a pure function of its position, so the log stores only how it was seeded (a few
`BounceSegment`s) and finds a cursor's place by arithmetic, gaps included. Pages are rendered
straight to bytes, one f-string per record around pieces the protocol's writer wrote once
(hundreds of thousands of records a second), and the last few rendered pages are kept in a small
LRU cache, since clients and benchmarks re-ask them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from typing import Final

import msgspec

from ._wire import JSON, WIRES, EmptyPage, IntHole, Protocol, Wire

__all__ = ["CACHE_MIB", "CACHE_PAGES", "BounceLog", "BounceSegment", "EmptyPage", "PageCache", "render_page"]

#: The page cache's default bounds: pages kept, and MiB they may take.
CACHE_PAGES: Final = 8
CACHE_MIB: Final = 96

_EMAIL_ID_BASE: Final = 200_000_000
_SEND_MESSAGE_ID_BASE: Final = 1_000_000_000
_USER_LIST_BASE: Final = 12345
_GOLDEN: Final = 2654435761  # Knuth's multiplicative hash: cheap, deterministic variety


@dataclasses.dataclass(frozen=True)
class _Variant:
    status: str
    text: str  # "{email}" marks where the recipient's address goes
    recipient_status: str
    category: str
    remote: bool  # a remote MTA answered (REMOTE_MTA set) or the local one gave up ("")


_UNKNOWN_USER: Final = "smtp; 550 5.1.1 <{email}>: Recipient address rejected: User unknown"
_HARD: Final = ("permanent", "hard", True)
_BLOCK: Final = ("permanent", "block", True)
_LOCAL: Final = ("temporary", "soft", False)
_LOCAL_HARD: Final = ("permanent", "hard", False)
# Weighted by repetition: unknown users and full mailboxes dominate real bounce logs.
_VARIANTS: Final = (
    _Variant("5.1.1", _UNKNOWN_USER, "permanent", "hard", True),
    _Variant("5.1.1", "smtp; 550 5.1.1 The email account that you tried to reach does not exist.", *_HARD),
    _Variant("5.1.1", _UNKNOWN_USER, "permanent", "hard", True),
    _Variant("4.2.2", "smtp; 552 4.2.2 User has full mailbox.", "temporary", "soft", True),
    _Variant("5.2.2", "X-Postfix; Mailbox is full", "permanent", "soft", False),
    _Variant("5.2.2", "", "temporary", "soft", False),
    _Variant("4.4.1", "X-Postfix; connect to mx.example.net[192.0.2.25]:25: Connection timed out", *_LOCAL),
    _Variant("5.7.1", "smtp; 554 5.7.1 Message rejected because of unacceptable content & links.", *_BLOCK),
    _Variant("5.4.4", "X-Postfix; Host or domain name not found. Name service error", *_LOCAL_HARD),
    _Variant("4.2.2", "smtp; 452 4.2.2 Mailbox over quota", "temporary", "soft", True),
)
# Protocol-neutral texts: nothing either protocol has to escape.
_PLAIN_VARIANTS: Final = tuple(
    dataclasses.replace(v, text=v.text.replace("<{email}>", "{email}").replace(" & ", " and "))
    for v in _VARIANTS
)
_DOMAINS: Final = (
    ("seznam.cz", "dns; mx1.seznam.cz"),
    ("email.cz", "dns; mx2.seznam.cz"),
    ("gmail.com", "dns; gmail-smtp-in.l.google.com"),
    ("centrum.cz", "dns; mx.centrum.cz"),
    ("post.cz", "dns; mx1.seznam.cz"),
    ("example.com", "dns; mx.example.com"),
)
_NAMES: Final = (
    "jan.novak",
    "petra.svobodova",
    "info",
    "martin.dvorak",
    "lucie.cerna",
    "obchod",
    "tomas.kral",
)
_SUBJECTS: Final = (
    "Letní výprodej \u2013 slevy až 50 %",
    "Novinky & tipy na březen",
    "Vaše objednávka čeká",
    "Pozvánka na webinář",
)
_PLAIN_SUBJECTS: Final = ("Summer sale", "News and tips", "Your order is waiting", "Webinar invitation")


@dataclasses.dataclass(frozen=True)
class BounceSegment:
    """`count` records with IDs from `start_id` (one ID left out after every `gap_every` records),
    their (message, send) pairs taken in turn from `pairs`. `base` numbers the records for variety."""

    start_id: int
    count: int
    gap_every: int
    pairs: tuple[tuple[int, int], ...]
    base: int = 0
    extra_fields: bool = False
    plain: bool = False
    real_world: bool = False
    texts: tuple[str, ...] = ()

    def id_at(self, index: int) -> int:
        return self.start_id + index + (index // self.gap_every if self.gap_every else 0)

    @property
    def first_id(self) -> int:
        return self.start_id

    @property
    def last_id(self) -> int:
        return self.id_at(self.count - 1)

    def count_upto(self, log_id: int) -> int:
        """How many records have an ID <= `log_id` (the index of the first one above it)."""
        offset = log_id - self.start_id
        if offset < 0:
            return 0
        if not self.gap_every:
            below = offset + 1
        else:
            block = self.gap_every + 1
            below = (offset // block) * self.gap_every + min(offset % block + 1, self.gap_every)
        return min(below, self.count)

    def residues(self, message_id: int | None, send_id: int | None) -> list[int]:
        return [
            k
            for k, (m, s) in enumerate(self.pairs)
            if (message_id is None or m == message_id) and (send_id is None or s == send_id)
        ]

    def record(self, index: int) -> dict[str, object]:
        """One record as the JSON answer carries it (strings, and with `real_world` its oddities)."""
        body = _render(self, [index], JSON).encode("latin-1")
        record: dict[str, object] = msgspec.json.decode(body, type=dict[str, str])
        return _real_world(record, self.base + index) if self.real_world else record


# What records from the real service carry beyond the documentation page, one kind per record in
# turn (after the documented extra fields): a field nobody documented, null text, an empty or zero
# ID, a multi-line SMTP reply, and one quoting HTML (CDATA-worthy "<!" included).
_MULTILINE: Final = (
    "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
    "550-5.1.1 double-checking the recipient's email address for typos or\n"
    "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser"
)
_QUOTING_HTML: Final = "smtp; 554 5.7.1 Rejected: <!DOCTYPE html><p>Uživatel neexistuje & spam</p>"


def _real_world(record: dict[str, object], n: int) -> dict[str, object]:
    kind = n % 7
    if kind == 0:
        record["X_FEEDBACK_ID"] = f"fbl-{n}"
    elif kind == 1:
        record["EMAIL"] = None
    elif kind == 2:
        record["ID_SEND"] = ""
    elif kind == 3:
        record["ID_USER_LIST"] = "0"
    elif kind == 4:
        record["TEXT_STATUS"] = _MULTILINE
    elif kind == 5:
        record["REMOTE_MTA"] = None
        record["TEXT_STATUS"] = _QUOTING_HTML
    return record


@dataclasses.dataclass(frozen=True)
class BounceLog:
    """Immutable: seeding builds a new log (readers never need the emulator's lock)."""

    segments: tuple[BounceSegment, ...] = ()
    version: int = 0

    @property
    def count(self) -> int:
        return sum(segment.count for segment in self.segments)

    @property
    def last_id(self) -> int:
        return self.segments[-1].last_id if self.segments else 0

    def seeded(
        self,
        count: int,
        *,
        message_ids: Sequence[int],
        send_ids: Sequence[int],
        start_id: int | None,
        gap_every: int,
        extra_fields: bool,
        plain: bool,
        append: bool,
        real_world: bool = False,
        texts: Sequence[str] = (),
    ) -> BounceLog:
        if count < 0 or gap_every < 0:
            raise ValueError("count and gap_every must be >= 0")
        if not message_ids or not send_ids:
            raise ValueError("message_ids and send_ids must not be empty")
        kept = self.segments if append else ()
        previous_last = kept[-1].last_id if kept else 0
        first = previous_last + 1 if start_id is None else start_id
        if first < 1:
            raise ValueError("start_id must be >= 1")
        if first <= previous_last:
            raise ValueError(f"appended records must start above ID {previous_last}")
        if count == 0:
            return BounceLog(kept, self.version + 1)
        width = max(len(message_ids), len(send_ids))
        pairs = tuple(
            (int(message_ids[k % len(message_ids)]), int(send_ids[k % len(send_ids)])) for k in range(width)
        )
        base = sum(segment.count for segment in kept)
        segment = BounceSegment(
            first, count, gap_every, pairs, base, extra_fields, plain, real_world, tuple(texts)
        )
        return BounceLog((*kept, segment), self.version + 1)

    def select(
        self, first_id: int, message_id: int | None, send_id: int | None, limit: int
    ) -> list[tuple[BounceSegment, Sequence[int]]]:
        """Up to `limit` records with ID >= `first_id` matching the filters, in ID order."""
        chunks: list[tuple[BounceSegment, Sequence[int]]] = []
        for segment in self.segments:
            if limit <= 0:
                break
            if segment.last_id < first_id:
                continue
            residues = segment.residues(message_id, send_id)
            if not residues:
                continue
            start = segment.count_upto(first_id - 1)
            width = len(segment.pairs)
            indices: Sequence[int]
            if len(residues) == width:
                indices = range(start, min(segment.count, start + limit))
            else:
                picked: list[int] = []
                block = start // width
                while len(picked) < limit and block * width < segment.count:
                    for k in residues:
                        index = block * width + k
                        if start <= index < segment.count:
                            picked.append(index)
                    block += 1
                indices = picked[:limit]
            if indices:
                chunks.append((segment, indices))
                limit -= len(indices)
        return chunks

    def ids(self, message_id: int | None = None, send_id: int | None = None) -> Iterator[int]:
        """Every record's ID in order (lazily), after the filters."""
        for segment in self.segments:
            residues = set(segment.residues(message_id, send_id))
            width = len(segment.pairs)
            for index in range(segment.count):
                if index % width in residues:
                    yield segment.id_at(index)


# A record is written once per (pair, variant, domain) "combo" by the protocol's own writer, with
# markers where its five variable parts go (the address in its text, ID_EMAIL, EMAIL,
# ID_SEND_MESSGE, ID_UNDELIVERED_LOG); cut at the markers, the pieces make each record of a page
# one f-string, and the writer has escaped whatever the texts hold.
_TEXT_HOLE, _ID_EMAIL_HOLE, _EMAIL_HOLE, _SEND_MESSAGE_HOLE, _LOG_HOLE = (chr(0xE000 + i) for i in range(5))
_Pieces = tuple[str, str, str, str, str, str, bool]


def _fields(segment: BounceSegment, k: int, variant: _Variant, domain: int) -> dict[str, object]:
    """A record of this combo, its variable parts left as markers, in the service's member order."""
    m, s = segment.pairs[k]
    name, mta = _DOMAINS[domain]
    last_n = segment.base + segment.count
    fields: dict[str, object] = {
        "ID_MESSAGE": m,
        "TEXT_STATUS": variant.text.replace("{email}", f"{_TEXT_HOLE}@{name}", 1),
        "STATUS": variant.status,
        # The IDs that grow with the log: <i4> while they fit, <i8> past 2**31 - 1.
        "ID_EMAIL": IntHole(_ID_EMAIL_HOLE, _EMAIL_ID_BASE + last_n),
        "ID_SEND": s,
        "EMAIL": f"{_EMAIL_HOLE}@{name}",
        "ID_SEND_MESSGE": IntHole(_SEND_MESSAGE_HOLE, _SEND_MESSAGE_ID_BASE + last_n),
        "ID_USER_LIST": _USER_LIST_BASE + k,
        "REMOTE_MTA": mta if variant.remote else "",
        "ID_UNDELIVERED_LOG": IntHole(_LOG_HOLE, segment.last_id),
        "RECIPIENT_STATUS": variant.recipient_status,
    }
    if segment.extra_fields:
        subjects = _PLAIN_SUBJECTS if segment.plain else _SUBJECTS
        fields["BOUNCE_CAT"] = variant.category
        fields["UTM_CAMPAIGN"] = f"campaign_{m}"
        fields["CAMPAIGN_NAME"] = f"Newsletter {m}"
        fields["SUBJECT"] = subjects[m % len(subjects)]
    return fields


def _pieces(written: str) -> _Pieces:
    """A written record cut at its markers. UTF-8 bytes are held as Latin-1 characters, so the
    page string stays one byte per character (no widening for "ř" or an en dash), and
    `.encode("latin-1")` turns it into the UTF-8 body as a copy."""
    a, text_hole, rest = written.partition(_TEXT_HOLE)
    b = ""
    if text_hole:
        b, _, rest = rest.partition(_ID_EMAIL_HOLE)
    else:
        a, _, rest = a.partition(_ID_EMAIL_HOLE)
    c, _, rest = rest.partition(_EMAIL_HOLE)
    d, _, rest = rest.partition(_SEND_MESSAGE_HOLE)
    e, _, f = rest.partition(_LOG_HOLE)
    a, b, c, d, e, f = (piece.encode().decode("latin-1") for piece in (a, b, c, d, e, f))
    return a, b, c, d, e, f, bool(text_hole)


def _render(segment: BounceSegment, indices: Sequence[int], wire: Wire) -> str:
    variants = _PLAIN_VARIANTS if segment.plain else _VARIANTS
    if segment.texts:
        variants = tuple(
            dataclasses.replace(v, text=segment.texts[i % len(segment.texts)]) for i, v in enumerate(variants)
        )
    n_variants, n_domains, n_names = len(variants), len(_DOMAINS), len(_NAMES)
    width = len(segment.pairs)
    combos: dict[int, _Pieces] = {}
    base, start_id, gap = segment.base, segment.start_id, segment.gap_every
    names = _NAMES
    out: list[str] = []
    append = out.append
    for index in indices:
        n = base + index
        h = (n * _GOLDEN) & 0xFFFFFFFF
        vi = (h >> 7) % n_variants
        di = (h >> 17) % n_domains
        k = index % width
        key = (k * n_variants + vi) * n_domains + di
        pieces = combos.get(key)
        if pieces is None:
            pieces = combos[key] = _pieces(wire.record(_fields(segment, k, variants[vi], di)))
        a, b, c, d, e, f, text_hole = pieces
        local = f"{names[n % n_names]}{n}"
        log_id = start_id + index + (index // gap if gap else 0)
        if text_hole:
            append(f"{a}{local}{b}{_EMAIL_ID_BASE + n}{c}{local}{d}{_SEND_MESSAGE_ID_BASE + n}{e}{log_id}{f}")
        else:
            append(f"{a}{_EMAIL_ID_BASE + n}{c}{local}{d}{_SEND_MESSAGE_ID_BASE + n}{e}{log_id}{f}")
    return wire.separator.join(out)


def render_page(
    chunks: list[tuple[BounceSegment, Sequence[int]]],
    protocol: Protocol,
    empty_page: EmptyPage,
    *,
    single_object: bool = False,
) -> bytes:
    """A whole answer body: the records in ID order, or the empty form when there are none.

    `single_object`: a page of exactly one record is that record alone, not a list of one.
    """
    if not chunks and empty_page == "\r\n":
        return b"\r\n"
    wire = WIRES[protocol]
    if any(segment.real_world for segment, _ in chunks):
        records: list[object] = [segment.record(index) for segment, indices in chunks for index in indices]
        return wire.write(records[0] if single_object and len(records) == 1 else records)
    count = sum(len(indices) for _, indices in chunks)
    body = wire.separator.join(_render(segment, indices, wire) for segment, indices in chunks)
    return wire.page(body, count, empty_page, single_object).encode("latin-1")


class PageCache:
    """A small thread-safe LRU of rendered page bodies, bounded in entries and in bytes."""

    def __init__(self, max_entries: int = CACHE_PAGES, max_bytes: int = CACHE_MIB * 2**20) -> None:
        self._lock = threading.Lock()
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._pages.get(key)
            if body is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes or self.max_entries < 1:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._pages[key] = body
            self._bytes += len(body)
            while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0
