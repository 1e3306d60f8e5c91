"""Turning a bounce page into records without holding the event loop longer than `max_blocking`.

A 25 000-record page decodes in one C call over JSON (tens of ms, with the GIL held throughout)
and in hundreds of ms of Python over XML-RPC. Each page's decode time is predicted from its size
and the bytes/s measured on earlier decodes; when it fits in `max_blocking` the page is decoded
whole, as without pacing. Otherwise:

* JSON: the page is split into raw records (`list[msgspec.Raw]`, a few ms for a whole page) and
  decoded in slices re-joined as JSON arrays, each sized to fit the budget, with a checkpoint
  between slices. A worker thread would not help: msgspec holds the GIL for its whole call;
* XML-RPC: the Python reader runs in a worker thread; the interpreter hands the GIL back to the
  loop every switch interval (5 ms by default), and cancelling abandons the thread at once.

Only the codec's own `decode_bounces` turns bytes into records, so the records, their order and
every error are the same at any setting. `bounces()` also frees each page it is done with in
pieces (`release`): a page's records take about as long to free as to decode.
"""

from __future__ import annotations

import math
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
"""Keeps JSON pages whole (a 25 000-record page decodes in ~15-35 ms) and moves XML-RPC pages
(~300-500 ms of Python) off the loop."""

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
        if len(body) <= self._budget * self.rate:
            value = self._timed(function, body)
            if len(body) >= _MIN_SAMPLE_BYTES:
                await _let_others_run()  # between the decode and what the stream does next
            return value
        if self._json:
            return await self._sliced(function, body)
        return await anyio.to_thread.run_sync(self._timed, function, body, abandon_on_cancel=True)

    def _timed(self, function: str, body: Buffer) -> list[Bounce] | object:
        started = perf_counter()
        value = self._codec.decode_bounces(function, body)
        self._learn(len(body), perf_counter() - started)
        return value

    def _learn(self, size: int, seconds: float) -> None:
        if size >= _MIN_SAMPLE_BYTES and seconds > 0:
            self.rate = 0.5 * self.rate + 0.5 * size / seconds

    async def _sliced(self, function: str, body: Buffer) -> list[Bounce] | object:
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
