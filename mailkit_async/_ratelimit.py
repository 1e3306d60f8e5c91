"""`RateLimit`: at most `max_calls` requests in any window of `per` seconds, shared by every caller.

A sliding window over the times requests were really let through (never a bucket that lets a whole
refill through at once). Waiters book slots in arrival order, so a steady stream of newcomers cannot
starve an early waiter, and each sleeps once, until its slot, instead of polling.

No event-loop primitive is kept: the bookkeeping sits behind a `threading.Lock` held for a few
lines and never across an `await`, and waiting is a plain `anyio.sleep`. One object therefore
serves asyncio and trio, several clients, and loop after loop (a dlt run starts a fresh one).
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import deque
from typing import Final

import anyio

from ._exceptions import InvalidParameterError

__all__ = ["RateLimit"]

# Sleeps end a hair early on some clocks; a waiter that wakes this close to its slot takes it.
_EPSILON: Final = 1e-6


class _Booking:
    """One waiter's place: the earliest moment it may go (moved later by a pause)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class RateLimit:
    """At most `max_calls` requests in any window of `per` seconds, retries included.

    ```python
    limit = RateLimit(10, per=1.0)
    async with Mailkit(rate_limit=limit) as a, Mailkit(rate_limit=limit) as b: ...
    ```
    Give one object to every client that shares the account's limit. A 429 (or 503) answer with
    `Retry-After` pauses it for every caller (`pause()`). Works under asyncio and trio, in several
    threads at once; a caller cancelled while waiting gives back its place and nothing else.

    Args:
        max_calls: The most requests let through in any window of `per` seconds; at least 1.
        per: The window's length in seconds, a finite number above 0. Default 1.0.

    Raises:
        InvalidParameterError: `max_calls` is not an int of at least 1 (a bool is refused), or
            `per` is not a finite number of seconds above 0.
    """

    def __init__(self, max_calls: int, per: float = 1.0) -> None:
        if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
            raise InvalidParameterError(f"max_calls must be an int >= 1, not {max_calls!r}")
        if isinstance(per, bool) or not isinstance(per, (int, float)) or not math.isfinite(per) or per <= 0:
            raise InvalidParameterError(f"per must be a finite number of seconds > 0, not {per!r}")
        self._max = max_calls
        self._per = float(per)
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()  # when requests were let through, oldest first
        self._booked: list[_Booking] = []  # waiters, in arrival order
        self._paused_until = 0.0

    @property
    def max_calls(self) -> int:
        """The most requests let through in any window of `per` seconds."""
        return self._max

    @property
    def per(self) -> float:
        """The window's length in seconds."""
        return self._per

    @property
    def waiting(self) -> int:
        """How many callers are waiting for a slot right now."""
        with self._lock:
            return len(self._booked)

    def __repr__(self) -> str:
        return f"RateLimit({self._max}, per={self._per:g})"

    async def acquire(self) -> None:
        """Wait for a slot and take it. Cancelled while waiting, it takes nothing."""
        with self._lock:
            now = time.monotonic()
            if self._may_go(now) and not self._booked:
                self._sent.append(now)
                return
            booking = _Booking(self._next_slot(now))
            self._booked.append(booking)
        try:
            while True:
                with self._lock:
                    now = time.monotonic()
                    if booking.at <= now + _EPSILON:
                        if self._may_go(now):
                            self._booked.remove(booking)
                            self._sent.append(now)
                            return
                        # Woken late or overtaken: the window is judged on real times, not bookings.
                        booking.at = self._free_at(now)
                    delay = booking.at - now
                await anyio.sleep(delay)
        except BaseException:
            with self._lock:
                if booking in self._booked:
                    self._booked.remove(booking)
            raise

    def pause(self, seconds: float) -> None:
        """Let nothing through for `seconds` from now (what a `Retry-After` asks of every caller).

        A shorter pause than one already running changes nothing; waiters keep their order and
        are re-planned from the pause's end.

        Args:
            seconds: How long, from now, no request may go; a finite number of at least 0.

        Raises:
            InvalidParameterError: `seconds` is not a number, is negative, NaN or infinite.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise InvalidParameterError(f"seconds must be a number >= 0, not {seconds!r}")
        if not math.isfinite(seconds):
            raise InvalidParameterError(f"seconds must be finite, not {seconds!r}")
        with self._lock:
            until = time.monotonic() + seconds
            if until <= self._paused_until:
                return
            self._paused_until = until
            # Re-plan every waiter from the pause's end, keeping their order.
            planned = list(self._sent)
            for booking in self._booked:
                booking.at = self._slot_after(planned, until)
                planned.append(booking.at)

    # -- bookkeeping (called with the lock held) ---------------------------------------------------

    def _may_go(self, now: float) -> bool:
        if now < self._paused_until:
            return False
        horizon = now - self._per
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
        return len(sent) < self._max

    def _free_at(self, now: float) -> float:
        """When the window next has room, judged on requests already let through."""
        sent = self._sent
        at = sent[len(sent) - self._max] + self._per if len(sent) >= self._max else now
        return max(at, self._paused_until, now)

    def _next_slot(self, now: float) -> float:
        return self._slot_after([*self._sent, *(b.at for b in self._booked)], now)

    def _slot_after(self, planned: list[float], now: float) -> float:
        """The earliest moment >= `now`, not before any planned one, that keeps every window legal."""
        at = max(now, self._paused_until)
        if planned:
            latest = heapq.nlargest(self._max, planned)
            at = max(at, latest[0])
            if len(latest) == self._max:
                at = max(at, latest[-1] + self._per)
        return at
