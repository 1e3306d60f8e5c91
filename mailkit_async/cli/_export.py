"""`mailkit-async bounces export`: copy the raw bounce report into a file or database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._client import Mailkit
from ._progress import Progress
from ._sinks import Sink, open_sink

__all__ = ["run_export"]


async def run_export(args: argparse.Namespace) -> int:
    """Stream pages into the sink, each written and flushed before the next is asked for."""
    # Credentials are checked before any file is touched.
    async with Mailkit(protocol=args.protocol, base_url=args.base_url) as mk:
        path = Path(args.output)
        sink = open_sink(args.format, path, resume=args.resume)
        try:
            after_id = args.after_id or 0
            if args.resume and sink.last_id is not None:
                after_id = max(after_id, sink.last_id)
            await _copy(mk, args, sink, after_id, path)
        finally:
            sink.close()
    return 0


async def _copy(mk: Mailkit, args: argparse.Namespace, sink: Sink, after_id: int, path: Path) -> None:
    progress = Progress()
    pages = mk.report.raw.bounce_pages(
        message_id=args.message_id, send_id=args.send_id, after_id=after_id, prefetch=1
    )
    try:
        async with pages:
            async for page in pages:
                sink.write_page(page)
                progress.advance(len(page), sink.last_id)
    finally:
        progress.finish()
        last = sink.last_id if sink.last_id is not None else after_id
        print(
            f"{progress.count:,} records written to {path} (last undelivered_log_id {last})",
            file=sys.stderr,
        )
