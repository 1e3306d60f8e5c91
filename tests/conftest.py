"""Every async test runs twice: under asyncio and under trio (anyio's pytest plugin)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _no_base_url_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `MAILKIT_BASE_URL` exported for the README's tour must not redirect the suite's clients."""
    monkeypatch.delenv("MAILKIT_BASE_URL", raising=False)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
