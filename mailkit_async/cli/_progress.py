"""A one-line progress display on stderr, drawn only when stderr is a terminal.

Each frame is cut to the terminal's width (read again at every frame, so resizing is followed)
minus one column, because a line that fills the last column makes many terminals wrap, and every
redraw would then start a new line. `finish()` always draws a last frame with the final count.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_BAR_MIN, _BAR_MAX = 10, 40


class Progress:
    """Records so far, rate, and with a known total a bar and the time left; at most 10 frames/s."""

    def __init__(
        self, total: int | None = None, *, enabled: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.total = total
        self.count = 0
        self.last_id: int | None = None
        self.started = time.perf_counter()
        self._stream = stream
        out = self._out
        self._enabled = (out.isatty() if hasattr(out, "isatty") else False) if enabled is None else enabled
        self._drawn = 0.0

    @property
    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def advance(self, records: int, last_id: int | None = None) -> None:
        self.count += records
        if last_id is not None:
            self.last_id = last_id
        now = time.perf_counter()
        if self._enabled and now - self._drawn >= 0.1:
            self._drawn = now
            columns = shutil.get_terminal_size().columns
            self._draw(self.frame(now - self.started, columns), columns)

    def finish(self) -> None:
        """Draw the final frame (100 % when the total was reached) and end the line."""
        if self._enabled:
            columns = shutil.get_terminal_size().columns
            self._draw(self.frame(self.elapsed, columns, final=True), columns)
            self._out.write("\n")
            self._out.flush()

    def frame(self, elapsed: float, columns: int, *, final: bool = False) -> str:
        """The text of one frame, at most ``columns - 1`` characters."""
        width = max(columns - 1, 1)
        rate = self.count / elapsed if elapsed > 0 else 0.0
        parts = [f"{rate:,.0f} rec/s"]
        if self.total:
            done = min(1.0, self.count / self.total)
            head = [f"{done:6.1%}", f"{self.count:,}/{self.total:,}"]
            if final or self.count >= self.total:
                parts.append(f"in {_duration(elapsed)}")
            elif rate > 0:
                parts.append(f"ETA {_duration((self.total - self.count) / rate)}")
        else:
            done = None
            head = [f"{self.count:,} records"]
            parts.append(_duration(elapsed))
        if self.last_id is not None:
            parts.append(f"last id {self.last_id}")
        while parts and len("  ".join([" ".join(head), *parts])) > width:
            parts.pop()  # the least useful part goes first
        text = "  ".join([" ".join(head), *parts])
        room = width - len(text) - 3  # "[" + bar + "] "
        if done is not None and room >= _BAR_MIN:
            size = min(room, _BAR_MAX)
            text = f"[{'#' * int(done * size):<{size}}] {text}"
        return text[:width]

    def _draw(self, text: str, columns: int) -> None:
        # Padding (not an escape sequence) clears what a longer previous frame left behind.
        self._out.write("\r" + text.ljust(max(columns - 1, 1)))
        self._out.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
