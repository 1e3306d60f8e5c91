"""Sizes of a run: the full one the targets are stated for, and `--quick` (same shape, smaller)."""

from __future__ import annotations

import dataclasses
from typing import Final

from mailkit_async._service import MAX_PAGE_SIZE

__all__ = ["FULL", "QUICK", "Settings"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much work each benchmark does; the targets are stated for `FULL`."""

    repeats: int = 5
    # 1. Bounce stream over JSON, 25 000-record pages.
    stream_records: int = 250_000
    page_size: int = MAX_PAGE_SIZE
    # 2. XML-RPC: page decode on one in-memory page, and an end-to-end stream for information.
    xmlrpc_stream_records: int = 100_000
    # 3. Small calls (unsubscribe) at each concurrency.
    calls: int = 2_000
    concurrency: tuple[int, ...] = (1, 64)
    # 4. Peak RSS of a fresh process streaming each of these totals.
    memory_records: tuple[int, ...] = (100_000, 250_000, 500_000, 1_000_000)
    # 5. Fetch/consume overlap: small pages, so decoding is negligible next to the waits.
    overlap_pages: int = 20
    overlap_page_size: int = 1_000
    fetch_seconds: float = 0.1
    consume_seconds: float = 0.05
    # 6. Retry overhead: end-to-end calls, and micro-timed wrapper iterations.
    retry_calls: int = 2_000
    retry_micro_iterations: int = 20_000

    def with_repeats(self, repeats: int | None) -> Settings:
        return self if repeats is None else dataclasses.replace(self, repeats=repeats)


FULL: Final = Settings()
QUICK: Final = Settings(
    repeats=3,
    stream_records=100_000,
    xmlrpc_stream_records=50_000,
    calls=500,
    memory_records=(100_000, 250_000),
    overlap_pages=8,
    retry_calls=500,
    retry_micro_iterations=5_000,
)
