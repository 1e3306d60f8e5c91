"""The benchmark server: a `MailkitEmulator` on loopback, in its own process.

The server runs in a separate process so that its CPU work (parsing requests, sending pages) never
shares the contenders' GIL. Run directly it prints ``listening on http://127.0.0.1:PORT`` and serves
until SIGTERM/SIGINT; `ServerProcess` starts it from the harness and stops it again.

Unlike ``python -m mailkit_async.testing`` it can script a delay on every bounce request (the
overlap benchmark), seed a known subscriber (the small-call benchmark), and keep every rendered
page cached, so that a warm-up pass leaves nothing to render while contenders are timed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final

from mailkit_async._service import BOUNCES

if TYPE_CHECKING:
    from mailkit_async.testing import MailkitEmulator

__all__ = ["CLIENT_ID", "CLIENT_MD5", "SUBSCRIBER", "ServerProcess", "child_env"]

CLIENT_ID: Final = 1
CLIENT_MD5: Final = "benchmark-md5"
SUBSCRIBER: Final = "bench@example.com"
_READY_PREFIX: Final = "listening on "
_START_TIMEOUT: Final = 120.0


def build_emulator(
    records: int, *, delay: float, cache_mib: int, extra_fields: bool = True
) -> MailkitEmulator:
    """The emulator the benchmarks talk to: `records` bounces, one subscriber, an optional delay."""
    from mailkit_async.testing import Fault, MailkitEmulator

    emulator = MailkitEmulator(CLIENT_ID, CLIENT_MD5)
    if records:
        emulator.seed_bounces(records, extra_fields=extra_fields)
    emulator.add_subscriber(SUBSCRIBER)
    # Big enough to hold every page of a run, so timed passes never wait for rendering.
    emulator.page_cache.max_entries = 4096
    emulator.page_cache.max_bytes = cache_mib * 2**20
    if delay > 0:
        # After processing: the loopback server waits once, just before the answer. (A plain
        # `Fault.delay` is also waited out a second time after processing, doubling the wait.)
        emulator.faults.add(Fault.delay(delay).after_processing(), times=None, function=BOUNCES)
    return emulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server", description=__doc__)
    parser.add_argument("--records", type=int, default=0, help="bounce records to seed")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each bounce page")
    parser.add_argument("--cache-mib", type=int, default=2048, help="rendered-page cache size")
    parser.add_argument(
        "--extra-fields",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="records carry BOUNCE_CAT, SUBJECT, ... as real ones do (default: on)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    emulator = build_emulator(
        args.records, delay=args.delay, cache_mib=args.cache_mib, extra_fields=args.extra_fields
    )
    server = emulator.serve("127.0.0.1", 0)

    print(f"{_READY_PREFIX}{server.url}", flush=True)
    server.serve_until_signalled()
    return 0


class ServerProcess:
    """Starts `python -m benchmarks._server` and yields its base URL; stops it on exit.

    ```python
    with ServerProcess(records=250_000) as server:
        print(server.url)
    ```
    """

    def __init__(
        self, *, records: int = 0, delay: float = 0.0, cache_mib: int = 2048, extra_fields: bool = True
    ) -> None:
        self._args = ["--records", str(records), "--delay", str(delay), "--cache-mib", str(cache_mib)]
        if not extra_fields:
            self._args.append("--no-extra-fields")
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", *self._args],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        self.url = _read_url(self._process.stdout)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def child_env() -> dict[str, str]:
    """This environment, with the directory holding `benchmarks` first on PYTHONPATH, so that
    ``python -m benchmarks.<module>`` works in a child whatever its working directory."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def _read_url(stdout: IO[str] | None) -> str:
    if stdout is None:
        raise RuntimeError("the benchmark server has no stdout")
    line = stdout.readline().strip()
    if not line.startswith(_READY_PREFIX):
        raise RuntimeError(f"the benchmark server did not start: {line!r}")
    return line.removeprefix(_READY_PREFIX)


if __name__ == "__main__":
    sys.exit(main())
