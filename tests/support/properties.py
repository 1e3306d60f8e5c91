"""How the property tests run: the same examples every run, nothing stored between runs."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings


def reproducible(*suppress: HealthCheck, **kwargs: Any) -> settings:
    """Derandomized settings without a deadline or a database; `anyio_backend` is a function-scoped
    fixture, the same for every example, and a slow example is not a failure."""
    return settings(
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, *suppress],
        **kwargs,
    )
