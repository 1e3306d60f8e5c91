"""6. Retry overhead on a call that succeeds at once: what the retry machinery costs when unused.

Two measurements:

- end to end: the same successful ``mk.email.unsubscribe`` calls (concurrency 1) through clients
  with the default ``RetryPolicy()``, with ``RetryPolicy(attempts=1)`` (still under the default
  300 s deadline) and with ``RetryPolicy(attempts=1, deadline=None)`` (no retry machinery at
  all), alternated. On a shared machine these ratios carry a few percent of noise, so they are
  reported, not judged;
- micro: the wrapper itself, as `Transport.post` applies it (``run_with_retries`` inside the
  policy's ``anyio.fail_after(deadline)``), around a coroutine that completes at once, minus
  awaiting that coroutine directly: the overhead per call, divided by one call's median time.

Target: that overhead is under 2 % of the call's time.
"""

from __future__ import annotations

import statistics
from typing import Final

import anyio

from mailkit_async import Mailkit, RetryPolicy
from mailkit_async._retry import RetryBudget, run_with_retries
from mailkit_async._service import UNSUBSCRIBE

from ._calls import Call, library_call, run_calls
from ._harness import Contender, Row, Stopwatch, Target, Timing, alternate, rate_row, warm_up
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._settings import Settings

__all__ = ["run"]

NAME: Final = "retry"
DEFAULT: Final = "library: RetryPolicy()"
SINGLE: Final = "library: RetryPolicy(attempts=1)"
NOTHING: Final = "library: RetryPolicy(attempts=1, deadline=None)"
BARE: Final = "await attempt()"
RETRIES: Final = "run_with_retries() alone"
WRAPPED: Final = "run_with_retries() + fail_after(deadline)"


async def _done() -> int:
    return 0


async def bare(iterations: int) -> Timing:
    with Stopwatch() as watch:
        for _ in range(iterations):
            await _done()
    return watch.timing


async def wrapped(iterations: int, policy: RetryPolicy, *, deadline: bool) -> Timing:
    """The path of `Transport.post` around one attempt (with or without the deadline's cancel
    scope), the attempt doing nothing."""
    budget = RetryBudget(policy.budget, policy.retry_cost)
    seconds = policy.deadline if deadline and policy.deadline is not None else None
    with Stopwatch() as watch:
        for _ in range(iterations):
            if seconds is None:
                await run_with_retries(
                    _done, policy=policy, budget=budget, idempotent=True, function=UNSUBSCRIBE
                )
                continue
            with anyio.fail_after(seconds):
                await run_with_retries(
                    _done, policy=policy, budget=budget, idempotent=True, function=UNSUBSCRIBE
                )
    return watch.timing


def _serial(call: Call, total: int) -> Contender:
    return lambda: run_calls(call, total, 1)


async def _end_to_end(url: str, settings: Settings) -> dict[str, list[Timing]]:
    total = settings.retry_calls
    async with (
        Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as default,
        Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url, retry=RetryPolicy(attempts=1)) as single,
        Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url, retry=RetryPolicy(attempts=1, deadline=None)) as bare,
    ):
        calls = {DEFAULT: library_call(default), SINGLE: library_call(single), NOTHING: library_call(bare)}
        contenders = {name: _serial(call, total) for name, call in calls.items()}
        await warm_up(contenders)
        return await alternate(contenders, settings.repeats)


async def _micro(settings: Settings) -> dict[str, list[Timing]]:
    iterations, policy = settings.retry_micro_iterations, RetryPolicy()
    contenders: dict[str, Contender] = {
        BARE: lambda: bare(iterations),
        RETRIES: lambda: wrapped(iterations, policy, deadline=False),
        WRAPPED: lambda: wrapped(iterations, policy, deadline=True),
    }
    await warm_up(contenders)
    return await alternate(contenders, settings.repeats)


def _overhead_row(micro: dict[str, list[Timing]], name: str, call_seconds: float, iterations: int) -> Row:
    """Microseconds `name` adds per call over a bare await; its ratio is that share of one call."""
    pairs = zip(micro[name], micro[BARE], strict=True)
    per_call = [(timing.wall - bare.wall) / iterations for timing, bare in pairs]
    row = Row(NAME, f"overhead: {name}", "µs/call", [seconds * 1e6 for seconds in per_call])
    share = statistics.median(per_call) / call_seconds
    target = Target("<=", 0.02) if name == WRAPPED else None
    return row.judged(f"one call ({call_seconds * 1e6:.0f} µs)", share, target)


async def _measure(url: str, settings: Settings) -> list[Row]:
    calls = await _end_to_end(url, settings)
    micro = await _micro(settings)
    total = settings.retry_calls
    table = {name: rate_row(NAME, name, "calls/s", total, timings) for name, timings in calls.items()}
    call_seconds = 1 / table[DEFAULT].median
    return [
        table[SINGLE],
        table[NOTHING],
        table[DEFAULT].against(table[SINGLE]),
        table[DEFAULT].against(table[NOTHING]),
        _overhead_row(micro, RETRIES, call_seconds, settings.retry_micro_iterations),
        _overhead_row(micro, WRAPPED, call_seconds, settings.retry_micro_iterations),
    ]


def run(settings: Settings) -> list[Row]:
    with ServerProcess() as server:
        return anyio.run(_measure, server.url, settings)
