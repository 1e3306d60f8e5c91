"""Every async test runs twice: under asyncio and under trio (anyio's pytest plugin)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
