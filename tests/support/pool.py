"""Looking inside the client's connection pool, to assert that nothing stays checked out."""

from __future__ import annotations

from typing import Any

from mailkit_async import Mailkit


def _pool(mk: Mailkit) -> Any:
    return mk._transport.http._transport._pool  # type: ignore[attr-defined]


def checked_out(mk: Mailkit) -> int:
    """Requests holding (or waiting for) a pooled connection right now."""
    return len(_pool(mk)._requests)


def connections(mk: Mailkit) -> int:
    return len(_pool(mk).connections)
