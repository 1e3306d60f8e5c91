"""Turning a bounce page into records without holding the event loop longer than `max_blocking`.

A 25 000-record page decodes in one C call over JSON (tens of ms, with the GIL held throughout)
and in hundreds of ms of Python over XML-RPC. Each page's decode time is predicted from its size
and the bytes/s measured on earlier decodes; when it fits in `max_blocking` the page is decoded
whole, as without pacing. Otherwise it is decoded in slices, with the loop let go between them:

* JSON: slices of whole objects cut from the page's bytes, each wrapped as a JSON array; a page
  that misleads the cut (the same bytes in a string) is split into raw records instead
  (`list[msgspec.Raw]`, 5-10 ms for a whole page). A worker thread would not help: msgspec holds
  the GIL throughout;
* XML-RPC: slices of whole items cut from the page's bytes, each wrapped in the page's own prolog
  and epilog. A page the cut cannot be trusted on (a fault, a DTD, an encoding that is not
  ASCII-compatible) or that misleads it is decoded whole in a worker thread, which gives the loop
  the GIL back every switch interval (5 ms); cancelling does not wait for the thread. Slices are
  the first choice at every budget: the thread and the loop trade the GIL back and forth, which
  made the stream ~10 % slower than slices of the same budget, and slower than no pacing at all.

Only the codec's own `decode_bounces` turns bytes into records, so the records, their order and
every error are the same at any setting. `bounces()` also frees each page it is done with in
pieces (`release`): a page's records take about as long to free as to decode.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec

from ._exceptions import InvalidParameterError, MailkitError

if TYPE_CHECKING:
    from ._codecs import Buffer, Codec
    from ._models import Bounce

__all__ = ["DEFAULT_MAX_BLOCKING", "Pacer", "max_blocking_seconds"]

DEFAULT_MAX_BLOCKING: Final = 0.05
"""Keeps JSON pages whole (a 25 000-record page decodes in ~15-35 ms) and cuts XML-RPC pages
(~300-500 ms of Python) into slices of ~35 ms (`_MARGIN` of the budget)."""

# Bytes/s of one decode on this machine, before any page was measured: on the slow side of what
# was measured, so that the first page errs towards smaller pieces.
_PRIOR_RATE: Final = {"json": 350e6, "xmlrpc": 50e6}
_PRIOR_FREE_RATE: Final = 2e6
# Decodes shorter than this say little about the rate (fixed costs dominate).
_MIN_SAMPLE_BYTES: Final = 64 * 1024
# Aim below the budget: the rate of the next slice is a prediction.
_MARGIN: Final = 0.7
_MIN_SLICE_RECORDS: Final = 64
_AFTER_OTHERS: Final = 1e-9
_SPLIT: Final = msgspec.json.Decoder(list[msgspec.Raw])
# What splitting raises for a body that is not a JSON array (an error, "", {}), or a hostile one.
_NOT_A_LIST: Final = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)


# A JSON page: an array of objects. Where one object ends and the next begins is where a slice may
# end (the same bytes inside a string or a nested array make the slice fail to decode: see _json_cut).
_JSON_HEAD: Final = re.compile(rb"[ \t\r\n]*\[[ \t\r\n]*(?=\{)")
_JSON_ITEM_END: Final = re.compile(rb"(\})[ \t\r\n]*,[ \t\r\n]*(?=\{)")
_JSON_TAIL: Final = re.compile(rb"\][ \t\r\n]*")


def _json_frame(data: bytes | bytearray) -> tuple[int, int] | None:
    """(start, stop) of the array's items in a JSON page of objects, or ``None`` for another shape."""
    return _frame(data, _JSON_HEAD, b"]", _JSON_TAIL)


# An XML-RPC page as the service sends it: an array of values, tags apart only by whitespace.
_XML_HEAD: Final = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:<\?xml [^<>]*\?>)?[ \t\r\n]*<methodResponse>[ \t\r\n]*<params>[ \t\r\n]*"
    rb"<param>[ \t\r\n]*<value>[ \t\r\n]*<array>[ \t\r\n]*<data>[ \t\r\n]*(?=<value>)"
)
_XML_TAIL: Final = re.compile(
    rb"</data>[ \t\r\n]*</array>[ \t\r\n]*</value>[ \t\r\n]*</param>[ \t\r\n]*</params>[ \t\r\n]*"
    rb"</methodResponse>[ \t\r\n]*"
)
# The end of an item of the array, if it is a record (a struct): where a slice may end.
_XML_ITEM_END: Final = re.compile(rb"(</struct>[ \t\r\n]*</value>)[ \t\r\n]*(?=<value>)")


def _xmlrpc_frame(body: Buffer) -> tuple[int, int] | None:
    """(start, stop) of the array's items in a plain XML-RPC page, or ``None`` for another shape
    (a fault, a DTD, an encoding that is not ASCII-compatible): those the codec judges whole.

    Cutting only where a struct item ends and another begins is safe without parsing: a cut inside
    a comment, a CDATA section or a nested array leaves a slice with something unclosed, which no
    XML parser accepts, and one refused slice sends the whole page to the codec in one piece.
    """
    data = body if isinstance(body, (bytes, bytearray)) else bytes(body)
    return _frame(data, _XML_HEAD, b"</data>", _XML_TAIL)


def _frame(
    data: bytes | bytearray, head: re.Pattern[bytes], end: bytes, tail: re.Pattern[bytes]
) -> tuple[int, int] | None:
    """(start, stop) between a page's `head` and its last `end`, which must begin its `tail`."""
    opened = head.match(data)
    if opened is None:
        return None
    stop = data.rfind(end)
    if stop < opened.end() or tail.fullmatch(data, stop) is None:
        return None
    return opened.end(), stop


def max_blocking_seconds(value: object) -> float | None:
    """`max_blocking` checked: ``None`` or a positive, finite number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise InvalidParameterError(
            f"max_blocking must be a positive number of seconds or None, not {value!r}"
        )
    return float(value)


class Pacer:
    """Decodes bounce pages with `codec`, holding the loop at most about `max_blocking` s at a time."""

    def __init__(self, codec: Codec, max_blocking: float) -> None:
        self._codec = codec
        self._budget = max_blocking
        self._json = codec.protocol == "json"
        self.rate = _PRIOR_RATE[codec.protocol]
        """Bytes/s of a decode, smoothed over the decodes measured so far."""
        self.free_rate = _PRIOR_FREE_RATE
        """Records/s freed when a page is released, smoothed likewise."""

    async def decode_bounces(self, function: str, body: Buffer) -> list[Bounce] | object:
        """What `codec.decode_bounces(function, body)` returns, without blocking the loop for long."""
        if len(body) >= _MIN_SAMPLE_BYTES:
            # Not in the same step as the body's last read, nor (trio runs a batch in no fixed
            # order) right after another task's step, such as a consumer freeing its last page
            # while the next is prefetched: the tasks a timer woke meanwhile run first.
            await _let_others_run()
        if len(body) <= self._budget * self.rate:
            value = self._timed(function, body)
            if len(body) >= _MIN_SAMPLE_BYTES:
                await _let_others_run()  # between the decode and what the stream does next
            return value
        if self._json:
            return await self._sliced(function, body)
        frame = _xmlrpc_frame(body)
        if frame is not None:
            return await self._xmlrpc_sliced(function, body, frame)
        return await self._in_thread(function, body)

    async def _in_thread(self, function: str, body: Buffer) -> list[Bounce] | object:
        return await anyio.to_thread.run_sync(self._timed, function, body, abandon_on_cancel=True)

    async def _xmlrpc_sliced(
        self, function: str, body: Buffer, frame: tuple[int, int]
    ) -> list[Bounce] | object:
        """The records of an XML-RPC page in slices of whole `<value>` items, each wrapped in the
        page's own prolog and epilog. A cut anywhere but between two items leaves a tag unclosed, so
        the codec refuses that slice; then the whole page is decoded, in a thread."""
        data = body if isinstance(body, (bytes, bytearray)) else bytes(body)
        first, stop = frame
        return await self._in_slices(
            function, data, frame, _XML_ITEM_END, (data[:first], data[stop:]),
            lambda: self._in_thread(function, body),
        )  # fmt: skip

    def _timed(self, function: str, body: Buffer) -> list[Bounce] | object:
        started = perf_counter()
        value = self._codec.decode_bounces(function, body)
        self._learn(len(body), perf_counter() - started)
        return value

    def _learn(self, size: int, seconds: float) -> None:
        if size >= _MIN_SAMPLE_BYTES and seconds > 0:
            self.rate = 0.5 * self.rate + 0.5 * size / seconds

    async def _sliced(self, function: str, body: Buffer) -> list[Bounce] | object:
        """The records of a JSON page in slices of whole objects cut from its bytes.

        No split is needed (splitting a page into `msgspec.Raw` records holds the loop 5-10 ms):
        each slice starts where the one before ended, and a slice that decodes is a run of whole
        records. A cut inside a string, or between objects of an array inside a record, leaves the
        slice with a string or a record unclosed, which the decoder refuses: then the page is
        split into records instead (`_split_sliced`), which no content can mislead.
        """
        data = body if isinstance(body, (bytes, bytearray)) else bytes(body)
        frame = _json_frame(data)
        if frame is None:
            return await self._split_sliced(function, body)
        return await self._in_slices(
            function, data, frame, _JSON_ITEM_END, (b"[", b"]"),
            lambda: self._split_sliced(function, body),
        )  # fmt: skip

    async def _in_slices(
        self,
        function: str,
        data: bytes | bytearray,
        frame: tuple[int, int],
        item_end: re.Pattern[bytes],
        wrap: tuple[bytes | bytearray, bytes | bytearray],
        whole: Callable[[], Awaitable[list[Bounce] | object]],
    ) -> list[Bounce] | object:
        """The records of the items in `frame`, decoded a budget's worth at a time: each slice
        ends where `item_end`'s group closes an item, and is wrapped into a page of its own
        (`wrap`: what goes before and after). A slice the codec refuses (a cut the pattern was
        misled into) hands the page to `whole`."""
        start, stop = frame
        head, tail = wrap
        view = memoryview(data)
        records: list[Bounce] = []
        while start < stop:
            end = start + max(1, int(self._budget * self.rate * _MARGIN))
            cut = item_end.search(data, end, stop) if end < stop else None
            end = stop if cut is None else cut.end(1)
            # One copy a slice, not three (a slice, then two concatenations): pages of megabytes
            # come from fresh memory, whose page faults cost as much as a tenth of the decode.
            piece = b"".join((head, view[start:end], tail))
            try:
                value = self._timed(function, piece)
            except MailkitError:
                value = None
            if not isinstance(value, list):
                return await whole()
            records += value
            del value, piece
            start = end if cut is None else cut.end()
            await _let_others_run()  # the last one too: what the stream does next is not paced
        return records

    async def _split_sliced(self, function: str, body: Buffer) -> list[Bounce] | object:
        try:
            parts = _SPLIT.decode(body)
        except _NOT_A_LIST:
            return self._codec.decode_bounces(function, body)  # small: an error or an empty page
        await _let_others_run()
        count = len(parts)
        if not count:
            return self._codec.decode_bounces(function, body)
        record_bytes = len(body) / count
        records: list[Bounce] = []
        start = 0
        while start < count:
            size = max(_MIN_SLICE_RECORDS, int(self._budget * self.rate * _MARGIN / record_bytes))
            chunk = b"[" + b",".join(parts[start : start + size]) + b"]"
            start += size
            try:
                value = self._timed(function, chunk)
            except MailkitError:
                value = None
            if not isinstance(value, list):
                # Whatever is wrong, the page's own error is the one to raise, as without pacing.
                return self._codec.decode_bounces(function, body)
            records += value
            del chunk, value
            await _let_others_run()  # the last one too: what the stream does next is not paced
        return records

    def overdue(self, since: float) -> bool:
        """Whether the loop has been held for most of the budget since `since` (`perf_counter`)."""
        return perf_counter() - since >= self._budget * _MARGIN

    async def let_go(self) -> float:
        """Let every other task run (see `_let_others_run`); returns when this task resumed."""
        await _let_others_run()
        return perf_counter()

    def frees_at_once(self, records: int) -> bool:
        """Whether freeing `records` records fits the budget (`release` would take them in one piece)."""
        return records <= max(_MIN_SLICE_RECORDS, int(self._budget * self.free_rate * _MARGIN))

    async def release(self, page: list[Bounce]) -> None:
        """Empty a page the stream is done with, in pieces: freeing 25 000 records takes ~10 ms."""
        while page:
            size = max(_MIN_SLICE_RECORDS, int(self._budget * self.free_rate * _MARGIN))
            started = perf_counter()
            freed = min(size, len(page))
            del page[-size:]
            seconds = perf_counter() - started
            if freed >= _MIN_SLICE_RECORDS and seconds > 0:
                # Records the consumer still holds cost nothing here: do not learn too much from them.
                sample = min(freed / seconds, 4 * _PRIOR_FREE_RATE)
                self.free_rate = 0.5 * self.free_rate + 0.5 * sample
            if page:
                await _let_others_run()


async def _let_others_run() -> None:
    """Let every task the loop can run go first, those a timer or a socket woke during the slice too.

    A bare checkpoint would not do: such a task only becomes runnable a round or two after the
    loop's next poll, so the next slice would run first. A timer of our own is queued behind
    theirs; the checkpoint after it lets the tasks woken in the same round as ours (trio runs them
    in no fixed order) go before the next slice.
    """
    await anyio.sleep(_AFTER_OTHERS)
    await anyio.lowlevel.checkpoint()
