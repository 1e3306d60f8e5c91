"""The library runs on its declared dependencies alone (httpx, anyio, msgspec, tenacity)."""

from __future__ import annotations

import subprocess
import sys

# Packages the test extra brings that the library must not need: blocked as if not installed.
_CODE = """
import sys
for name in ("sniffio", "trio", "respx", "hypothesis", "dlt"):
    sys.modules[name] = None
import asyncio
import httpx
import mailkit_async
import mailkit_async.testing.pytest_plugin
from mailkit_async import Mailkit
from mailkit_async.testing import MailkitEmulator

emu = MailkitEmulator()
emu.seed_bounces(3)

async def main():
    async with httpx.AsyncClient(transport=emu.transport()) as http:
        async with Mailkit(1, "emulator", http_client=http) as mk:
            print(len([b async for b in mk.report.raw.bounces()]))

asyncio.run(main())
"""


def test_the_library_imports_and_streams_without_optional_packages() -> None:
    result = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "3"
