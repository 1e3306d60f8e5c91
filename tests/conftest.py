"""Every async test runs twice: under asyncio and under trio (anyio's pytest plugin).

The shared scaffolding lives in `tests/support/`; what is a fixture by nature lives here."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anyio
import pytest
from support.clients import new_emulator

from mailkit_async.testing import MailkitEmulator

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _no_base_url_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `MAILKIT_BASE_URL` exported for the README's tour must not redirect the suite's clients."""
    monkeypatch.delenv("MAILKIT_BASE_URL", raising=False)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait the retry loop asks for (through `anyio.sleep`), without waiting."""
    recorded: list[float] = []
    real_sleep = anyio.sleep

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(anyio, "sleep", fake_sleep)
    return recorded


@pytest.fixture
def credentials_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Set the MAILKIT_CLIENT_* variables to exactly those given (the others unset)."""

    def use(env: dict[str, str]) -> None:
        monkeypatch.delenv("MAILKIT_CLIENT_ID", raising=False)
        monkeypatch.delenv("MAILKIT_CLIENT_MD5", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return use


@pytest.fixture
def emulator() -> MailkitEmulator:
    """An emulator that knows the suite's credentials; a module overrides it with its own data."""
    return new_emulator()


@pytest.fixture
def url(emulator: MailkitEmulator) -> Iterator[str]:
    """`emulator` served on a loopback port for the test: its URL."""
    with emulator.serve() as server:
        yield server.url
