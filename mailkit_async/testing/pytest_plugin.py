"""pytest fixtures for the Mailkit emulator, registered as a `pytest11` entry point.

`mailkit_emulator` is a fresh `MailkitEmulator` per test; `mailkit_emulator_server` serves it on
loopback (`.url`, `.emulator`). Options go through a marker:
``@pytest.mark.mailkit_emulator(page_cap=1000, cursor="inclusive")``. The emulator loads only
when a fixture is used, and nothing here needs pytest-asyncio or anyio's plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._emulator import MailkitEmulator
    from ._server import EmulatorServer

__all__ = ["mailkit_emulator", "mailkit_emulator_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mailkit_emulator(**options): MailkitEmulator keyword arguments for the mailkit_emulator fixture",
    )


@pytest.fixture
def mailkit_emulator(request: pytest.FixtureRequest) -> MailkitEmulator:
    """A fresh emulated Mailkit account (client_id 1, client_md5 "emulator" unless the marker says)."""
    from ._emulator import MailkitEmulator

    marker = request.node.get_closest_marker("mailkit_emulator")
    options = dict(marker.kwargs) if marker is not None else {}
    return MailkitEmulator(**options)


@pytest.fixture
def mailkit_emulator_server(mailkit_emulator: MailkitEmulator) -> Iterator[EmulatorServer[MailkitEmulator]]:
    """`mailkit_emulator` served over HTTP/1.1 on 127.0.0.1; closed (threads joined) after the test."""
    with mailkit_emulator.serve() as server:
        yield server
