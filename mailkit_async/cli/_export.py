"""`mailkit-async bounces export`: copy the raw bounce report into a file or database.

Fetching, encoding and writing overlap: while a worker thread writes one page, the event loop
encodes the next and fetches the one after (``bounce_pages(prefetch=PREFETCH)``), so neither side
waits for the other's slowest step. A page is flushed and synced before the progress line (or the
summary) counts it. SIGINT and SIGTERM stop the export
between pages, print the summary, and leave a file that ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from .._client import DEFAULT_BASE_URL, Mailkit
from .._exceptions import InvalidParameterError
from .._models import Bounce
from ..resources._report import BouncePages
from ._errors import EXIT, usage_error
from ._progress import Progress
from ._sinks import Sink, open_sink

__all__ = ["PREFETCH", "base_url", "credentials", "export_pages", "run_export"]

#: Pages fetched ahead of the one being encoded. With one page being written and the next one
#: encoded and waiting for the writer, one more in flight keeps all three stages busy; more would
#: only hold more pages in memory.
PREFETCH = 1

_STOPPED_BY = {signal.SIGINT: EXIT["interrupted"], signal.SIGTERM: EXIT["terminated"]}


async def run_export(args: argparse.Namespace) -> int:
    """The whole command; returns its exit code, or raises what `main` turns into one."""
    client_id, client_md5 = credentials()
    url_from = "--base-url" if args.base_url else "MAILKIT_BASE_URL"
    args.base_url = base_url(args.base_url)
    path = Path(args.output)
    # The output is checked (and an existing one recovered) before anything is fetched.
    sink = open_sink(args.format, path, resume=args.resume, raw_csv=args.csv_raw)
    start = args.after_id or 0
    if args.resume and sink.last_id is not None:
        start = max(start, sink.last_id)
    progress = Progress()
    code: int | None = None
    try:
        try:
            client = Mailkit(client_id, client_md5, protocol=args.protocol, base_url=args.base_url)
        except InvalidParameterError as error:
            raise _option_error(error, url_from) from None
        async with client as mk:
            pages = mk.report.raw.bounce_pages(
                message_id=args.message_id, send_id=args.send_id, after_id=start, prefetch=PREFETCH
            )
            code = await until_signalled(lambda: export_pages(pages, sink, progress))
        if code is None:
            await anyio.to_thread.run_sync(sink.finish)
            code = EXIT["ok"]
    finally:
        progress.finish()
        sink.close(failed=code != EXIT["ok"])
        _summary(sink, start, ok=code == EXIT["ok"])
    if code != EXIT["ok"]:
        reason = "interrupted" if code == EXIT["interrupted"] else "terminated (SIGTERM)"
        print(f"mailkit-async: {reason}", file=sys.stderr)
    return code


async def export_pages(pages: BouncePages, sink: Sink, progress: Progress | None = None) -> None:
    """Write every page into `sink`, in order, while the next ones are encoded and fetched.

    A writer task hands each encoded page to a worker thread; meanwhile this task encodes the next
    page (on the loop's thread, see `Sink.encode`) and `pages` fetches the one after. On
    cancellation the page being written is finished and counted first; a page encoded but not yet
    written was never counted, so a resumed export fetches it again.
    """
    handoff, encoded_pages = anyio.create_memory_object_stream[tuple[list[Bounce], Any]]()
    failed: list[Exception] = []
    async with pages, anyio.create_task_group() as group:
        group.start_soon(_write_pages, encoded_pages, sink, progress, failed, group.cancel_scope)
        with _kept(failed, group.cancel_scope), handoff:
            async for page in pages:
                # Waits until the writer takes it: one page written, one ready, no more held here.
                await handoff.send((page, sink.encode(page)))
                del page
    if failed:
        raise failed[0]


async def _write_pages(
    encoded_pages: MemoryObjectReceiveStream[tuple[list[Bounce], Any]],
    sink: Sink,
    progress: Progress | None,
    failed: list[Exception],
    scope: anyio.CancelScope,
) -> None:
    with _kept(failed, scope), encoded_pages:
        async for page, encoded in encoded_pages:
            # Not abandoned on cancellation: a page being written is finished (and counted) first.
            await anyio.to_thread.run_sync(sink.write_page, page, encoded)
            if progress is not None:
                progress.advance(len(page), sink.last_id)


@contextlib.contextmanager
def _kept(failed: list[Exception], scope: anyio.CancelScope) -> Iterator[None]:
    """Keep a failure to raise as it is (a task group would wrap it in an ExceptionGroup) and stop
    the other side of the export."""
    try:
        yield
    except Exception as error:
        failed.append(error)
        scope.cancel()


async def until_signalled(work: Callable[[], Awaitable[None]]) -> int | None:
    """Run `work`; SIGINT or SIGTERM cancels it. Returns the exit code of the signal, if one came."""
    stopped: list[int] = []
    failure: list[Exception] = []

    async def run(scope: anyio.CancelScope) -> None:
        try:
            await work()
        except Exception as error:  # re-raised below, outside the task group (no ExceptionGroup)
            failure.append(error)
        finally:
            scope.cancel()

    async def watch(scope: anyio.CancelScope) -> None:
        with contextlib.ExitStack() as stack:
            try:
                signals = stack.enter_context(anyio.open_signal_receiver(*_STOPPED_BY))
            except (NotImplementedError, ValueError, RuntimeError):
                return  # no handlers here (Windows, or not the main thread): Ctrl-C still interrupts
            async for signum in signals:
                stopped.append(_STOPPED_BY[signal.Signals(signum)])
                scope.cancel()
                return

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        group.start_soon(run, group.cancel_scope)
    if failure:
        raise failure[0]
    return stopped[0] if stopped else None


def credentials() -> tuple[int, str]:
    """The account's API ID and MD5 key, from the environment (never from the command line,
    where other users of the machine could read them)."""
    client_id = os.environ.get("MAILKIT_CLIENT_ID", "").strip()
    client_md5 = os.environ.get("MAILKIT_CLIENT_MD5", "").strip()
    missing = [
        name
        for name, value in (("MAILKIT_CLIENT_ID", client_id), ("MAILKIT_CLIENT_MD5", client_md5))
        if not value
    ]
    if missing:
        raise usage_error(
            f"no credentials: set {' and '.join(missing)} in the environment "
            "(the API ID and MD5 key from the account's Integration settings in Mailkit)"
        )
    if not client_id.isdigit() or int(client_id) == 0:
        raise usage_error("MAILKIT_CLIENT_ID must be the account's numeric API ID")
    return int(client_id), client_md5


def base_url(option: str | None) -> str:
    """--base-url, else MAILKIT_BASE_URL, else the service's own address."""
    return option or os.environ.get("MAILKIT_BASE_URL") or DEFAULT_BASE_URL


def _option_error(error: InvalidParameterError, url_from: str) -> Exception:
    """The client speaks of its `base_url` argument; the command names the option or variable."""
    text = str(error)
    if not text.startswith("base_url "):
        return error
    return usage_error(f"{url_from} {text.removeprefix('base_url ')} (give e.g. {DEFAULT_BASE_URL})")


def _summary(sink: Sink, start: int, *, ok: bool) -> None:
    last = sink.last_id if sink.last_id is not None else start
    if not ok and not sink.path.exists():
        print(f"nothing was written; {sink.path} was not created", file=sys.stderr)
        return
    line = f"{sink.written:,} records written to {sink.path} (last undelivered_log_id {last})"
    if not ok:
        line += "; run the same command with --resume to continue"
    print(line, file=sys.stderr)
