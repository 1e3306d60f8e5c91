"""`mailkit-async demo`: the emulator on loopback, bounces streamed through the real client.

The emulator runs in a child process, so the figures printed (records/s, peak memory) are the
client's own, measured over real sockets.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
from collections.abc import Iterator

from .._client import Mailkit
from .._codecs import ProtocolName
from .._exceptions import MailkitError
from ._progress import Progress

__all__ = ["peak_rss_mib", "run_demo"]

_CLIENT_ID = 1
_CLIENT_MD5 = "emulator-demo"


@contextlib.contextmanager
def emulator_process(records: int) -> Iterator[str]:
    """Start `python -m mailkit_async.testing` and yield its base URL; stop it on exit."""
    from ..testing import EmulatorProcess

    child = EmulatorProcess(
        "--port", "0", "--records", str(records),
        "--client-id", str(_CLIENT_ID), "--client-md5", _CLIENT_MD5,
        quiet=True,
    )  # fmt: skip
    try:
        child.start()
    except RuntimeError as error:
        raise MailkitError(str(error)) from None
    with child:
        yield child.url


async def run_demo(args: argparse.Namespace) -> int:
    print(f"Starting the Mailkit emulator with {args.records:,} bounce records...", file=sys.stderr)
    with emulator_process(args.records) as url:
        print(f"Streaming report.raw.bounces over {args.protocol} from {url}", file=sys.stderr)
        count, last, ordered, seconds = await _stream(url, args.protocol, args.records)
    peak = peak_rss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sys.platform)
    print(f"records streamed : {count:,} (expected {args.records:,})")
    print(f"exactly once, in order: {'yes' if ordered and count == args.records else 'NO'}")
    print(f"last undelivered_log_id: {last}")
    print(f"time             : {seconds:.2f} s")
    print(f"throughput       : {count / max(seconds, 1e-9):,.0f} records/s")
    print(f"peak memory (RSS): {peak:,.1f} MiB")
    return 0 if ordered and count == args.records else 1


def peak_rss_mib(ru_maxrss: int, platform: str) -> float:
    """`ru_maxrss` in MiB: the kernel reports bytes on macOS, KiB on Linux and the BSDs."""
    return ru_maxrss / (2**20 if platform == "darwin" else 2**10)


async def _stream(url: str, protocol: ProtocolName, total: int) -> tuple[int, int, bool, float]:
    progress = Progress(total)
    last, ordered = 0, True
    async with Mailkit(_CLIENT_ID, _CLIENT_MD5, base_url=url, protocol=protocol) as mk:
        try:
            async for bounce in mk.report.raw.bounces():
                ordered = ordered and bounce.undelivered_log_id > last
                last = bounce.undelivered_log_id
                progress.count += 1
                if progress.count % 5000 == 0:
                    progress.advance(0, last)
        finally:
            progress.finish()
    return progress.count, last, ordered, progress.elapsed
