"""A one-line progress display on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Records so far, rate, last ID; redrawn at most ten times a second."""

    def __init__(self, total: int | None = None, *, enabled: bool | None = None) -> None:
        self.total = total
        self.count = 0
        self.started = time.perf_counter()
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._drawn = 0.0

    def advance(self, records: int, last_id: int | None) -> None:
        self.count += records
        now = time.perf_counter()
        if self._enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now, last_id)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _draw(self, now: float, last_id: int | None) -> None:
        rate = self.count / max(now - self.started, 1e-9)
        if self.total:
            done = min(1.0, self.count / self.total)
            bar = "#" * int(done * 30)
            head = f"[{bar:<30}] {done:6.1%} {self.count:>10,}/{self.total:,}"
        else:
            head = f"{self.count:>12,} records"
        sys.stderr.write(f"\r{head}  {rate:>12,.0f} rec/s  last id {last_id or 0}")
        sys.stderr.flush()

    def finish(self) -> None:
        if self._enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
