"""`EmulatorProcess`: `python -m mailkit_async.testing` in a child process, for callers that want
the service's CPU work off their own interpreter (demos, benchmarks, end-to-end tests).

The child's first line of output says where it listens; `listening_line` prints it and
`parse_listening_line` reads it, side by side, so the two cannot drift apart.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["EmulatorProcess", "listening_line", "parse_listening_line"]

_LISTENING: Final = "listening on "


def listening_line(url: str) -> str:
    """The line the command prints first, once it accepts connections."""
    return f"{_LISTENING}{url}"


def parse_listening_line(line: str) -> str | None:
    """The URL in a `listening_line`, or None when `line` is not one."""
    line = line.rstrip("\r\n")
    if not line.startswith(_LISTENING) or "://" not in line:
        return None
    return line.removeprefix(_LISTENING)


class EmulatorProcess:
    """Runs ``python -m mailkit_async.testing ARGS...`` in a child process until stopped.

    ```python
    with EmulatorProcess("--records", "100000", "--client-md5", "secret") as child:
        async with Mailkit(1, "secret", base_url=child.url) as mk: ...
    ```
    Starting waits for the child's ``listening on URL`` line; leaving the block (or `stop()`)
    sends SIGTERM, waits, and kills the child if it does not exit in time.

    Args:
        args: The command line's options (see the command-line reference), as separate words.
        env: The child's environment; default: this process's.
        python: The interpreter that runs it; default: this one (`sys.executable`).
        start_timeout: Seconds to wait for the ``listening on`` line before giving up; default 60.
        stop_timeout: Seconds to wait for the child to exit after SIGTERM before killing it; default 10.
        quiet: Discard the child's standard error (it goes to this process's by default).

    Raises:
        RuntimeError: On entering (or `start()`): the child exited, or printed something else,
            or said nothing within `start_timeout` (it is stopped first).
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        quiet: bool = False,
    ) -> None:
        self.args = tuple(args)
        self.env = None if env is None else dict(env)
        self.python = python or sys.executable  # read now, not when this module was imported
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.quiet = quiet
        self.returncode: int | None = None
        self._child: subprocess.Popen[str] | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        state = "not started" if self._url is None else self._url
        return f"EmulatorProcess({', '.join(map(repr, self.args))}; {state})"

    @property
    def url(self) -> str:
        """The base URL the child serves, e.g. ``http://127.0.0.1:40123``."""
        if self._url is None:
            raise RuntimeError("the emulator process is not running: start() it first")
        return self._url

    def start(self) -> Self:
        """Start the child and wait for its ``listening on`` line (idempotent while it runs)."""
        if self._child is not None:
            return self
        child = subprocess.Popen(
            [self.python, "-m", "mailkit_async.testing", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if self.quiet else None,
            env=self.env,
            text=True,
        )
        self._child, self.returncode = child, None
        assert child.stdout is not None
        watchdog = threading.Timer(self.start_timeout, child.kill)  # unblocks readline()
        watchdog.start()
        try:
            line = child.stdout.readline()
        finally:
            watchdog.cancel()
        url = parse_listening_line(line)
        if url is None:
            self.stop()
            raise RuntimeError(f"the emulator did not start (it said {line.strip()!r})")
        self._url = url
        return self

    def stop(self) -> int | None:
        """Terminate the child, wait for it (kill it after `stop_timeout`); its exit status.
        Idempotent: None when it was never started."""
        child, self._child, self._url = self._child, None, None
        if child is None:
            return self.returncode
        child.terminate()
        try:
            child.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
        self.returncode = child.returncode
        return self.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
