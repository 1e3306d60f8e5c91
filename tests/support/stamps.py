"""An emulator that notes when each request arrived, and a sliding-window counter for those times."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mailkit_async import RateLimit
from mailkit_async.testing import Exchange, MailkitEmulator


class StampedEmulator(MailkitEmulator):
    """Notes the moment (monotonic) every request reaches the server, and which function it called."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: list[tuple[float, str | None]] = []
        self._stamp_lock = threading.Lock()

    def receive(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, peer: str = "127.0.0.1"
    ) -> Exchange:
        exchange = super().receive(method, path, headers, body, peer=peer)
        with self._stamp_lock:
            self.stamps.append((time.monotonic(), exchange.record.function))
        return exchange

    def times(self, function: str | None = None) -> list[float]:
        with self._stamp_lock:
            return sorted(t for t, f in self.stamps if function is None or f == function)


def busiest_window(times: Sequence[float], width: float) -> int:
    """The most timestamps found in any half-open window [t, t + width)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - width:
            start += 1
        most = max(most, end - start + 1)
    return most


class RecordingLimit(RateLimit):
    """A `RateLimit` that notes when it let each request through (the client's side of the count)."""

    def __init__(self, max_calls: int, per: float) -> None:
        super().__init__(max_calls, per=per)
        self.taken: list[float] = []
        self.paused: list[float] = []  # when a pause began

    async def acquire(self) -> None:
        await super().acquire()
        self.taken.append(time.monotonic())

    def pause(self, seconds: float) -> None:
        self.paused.append(time.monotonic())
        super().pause(seconds)


def check_window(limit: RecordingLimit, arrivals: Sequence[float]) -> None:
    """Exact on the client's side; on the server's, a new connection's set-up (and a busy machine)
    can bring two arrivals closer than their departures were, so windows half as long are checked."""
    assert busiest_window(limit.taken, limit.per - 1e-4) <= limit.max_calls
    assert busiest_window(arrivals, limit.per / 2) <= limit.max_calls
    assert len(arrivals) == len(limit.taken)  # every request sent, retries included, passed the limit
