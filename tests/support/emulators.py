"""Emulators that misbehave on cue: a bounce stream that breaks after so many pages."""

from __future__ import annotations

from typing import Any

from mailkit_async._service import BOUNCES
from mailkit_async.testing import Exchange, Fault, MailkitEmulator


class BreaksAfterPages(MailkitEmulator):
    """Serves bounce pages as usual until `break_after` is called; then, once `pages` pages have
    been served, acts `fault` out on the next `times` requests for bounces (None: every one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._break: tuple[int, Fault, int | None] | None = None

    def break_after(self, pages: int, fault: Fault, *, times: int | None = 1) -> None:
        self._break = (pages, fault, times)

    def receive(
        self, method: str, path: str, headers: Any, body: bytes, *, peer: str = "127.0.0.1"
    ) -> Exchange:
        if self._break is not None and self.requests[BOUNCES] == self._break[0]:
            _, fault, times = self._break
            self._break = None
            self.faults.add(fault, function=BOUNCES, times=times)
        return super().receive(method, path, headers, body, peer=peer)
