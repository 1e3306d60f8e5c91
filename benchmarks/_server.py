"""The benchmark server: ``python -m mailkit_async.testing`` in its own process, as the harness wants it.

The server runs in a separate process so that its CPU work (parsing requests, sending pages) never
shares the contenders' GIL. It holds a known subscriber (the small-call benchmark), can delay every
bounce answer (the overlap benchmark), and keeps every rendered page cached, so that a warm-up pass
leaves nothing to render while contenders are timed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from mailkit_async.testing import EmulatorProcess

__all__ = ["CLIENT_ID", "CLIENT_MD5", "SUBSCRIBER", "ServerProcess", "child_env"]

CLIENT_ID: Final = 1
CLIENT_MD5: Final = "benchmark-md5"
SUBSCRIBER: Final = "bench@example.com"
_START_TIMEOUT: Final = 120.0
_CACHE_PAGES: Final = 4096


class ServerProcess(EmulatorProcess):
    """The emulator the benchmarks talk to, in a child process; its base URL is `url`.

    ```python
    with ServerProcess(records=250_000) as server:
        print(server.url)
    ```
    """

    def __init__(
        self, *, records: int = 0, delay: float = 0.0, cache_mib: int = 2048, extra_fields: bool = True
    ) -> None:
        super().__init__(
            "--client-id", str(CLIENT_ID), "--client-md5", CLIENT_MD5,
            "--subscriber", SUBSCRIBER, "--records", str(records), "--bounce-delay", str(delay),
            "--cache-pages", str(_CACHE_PAGES), "--cache-mib", str(cache_mib),
            "--extra-fields" if extra_fields else "--no-extra-fields",
            env=child_env(), start_timeout=_START_TIMEOUT,
        )  # fmt: skip


def child_env() -> dict[str, str]:
    """This environment, with the directory holding `benchmarks` first on PYTHONPATH, so that
    ``python -m benchmarks.<module>`` works in a child whatever its working directory."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env
