"""One memory measurement, in a fresh process: stream N bounce records, print the peak RSS.

``python -m benchmarks._memory_child URL MODE RECORDS`` prints one JSON line,
``{"mode": ..., "records": ..., "peak_mib": ..., "ru_maxrss_mib": ...}``: the peak resident set
size of this whole process (no tracemalloc, which would itself cost memory). On Linux the peak is
``VmHWM`` from ``/proc/self/status``: ``getrusage(RUSAGE_SELF).ru_maxrss`` survives ``exec`` and so
starts at the RSS the *parent* had when it forked this process (the harness, after other
benchmarks, is bigger than any child); it is reported alongside, and used where there is no /proc.
Modes:

- ``idle``: the same imports and client, one small call, no page: the process's baseline;
- ``library``: ``async for b in mk.report.raw.bounces()``, leaving the loop after RECORDS records;
- ``floor``: httpx ``post`` (the body read whole, into ``response.content``) and one reused msgspec
  decoder, the contender of the stream benchmark, for comparison.

It imports nothing else (not pydantic, not the emulator), so the baselines stay comparable.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Final

import anyio
import httpx
import msgspec

from mailkit_async import Bounce, Mailkit
from mailkit_async._service import BOUNCES, JSON_PATH, MAX_PAGE_SIZE

from ._server import CLIENT_ID, CLIENT_MD5, SUBSCRIBER

MODES: Final = ("idle", "library", "floor")
PAGE_SIZE: Final = MAX_PAGE_SIZE


async def idle(url: str, records: int) -> int:
    async with Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        await mk.email.unsubscribe(SUBSCRIBER)
    return 0


async def library(url: str, records: int) -> int:
    seen = 0
    async with Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        async for _ in mk.report.raw.bounces(page_size=PAGE_SIZE):
            seen += 1
            if seen >= records:
                break
    return seen


async def floor(url: str, records: int) -> int:
    decoder = msgspec.json.Decoder(list[Bounce], strict=False)
    cursor = seen = 0
    async with httpx.AsyncClient() as http:
        while seen < records:
            parameters = {"ID_undelivered_log": cursor, "limit": PAGE_SIZE}
            body = {"function": BOUNCES, "id": CLIENT_ID, "md5": CLIENT_MD5, "parameters": parameters}
            page = decoder.decode((await http.post(url + JSON_PATH, json=body)).content)
            if not page:
                break
            cursor = page[-1].undelivered_log_id
            seen += len(page)
    return seen


def ru_maxrss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def vm_hwm_mib() -> float | None:
    """This process image's own peak RSS (Linux), or None where /proc does not say."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def main(argv: list[str]) -> int:
    url, mode, records = argv[0], argv[1], int(argv[2])
    measure = {"idle": idle, "library": library, "floor": floor}[mode]
    seen = anyio.run(measure, url, records)
    maxrss = ru_maxrss_mib()
    hwm = vm_hwm_mib()
    result = {
        "mode": mode,
        "records": seen,
        "peak_mib": maxrss if hwm is None else hwm,
        "ru_maxrss_mib": maxrss,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
