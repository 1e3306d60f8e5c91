"""Leaving `report.raw.bounces()` early: a bare `break` is silent and frees everything at once on
both backends; `contextlib.aclosing` works and type-checks under `mypy --strict`."""

from __future__ import annotations

import contextlib
import gc
import sys
import textwrap
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from support.clients import in_process, new_emulator

from mailkit_async import Mailkit, MailkitError, RetryPolicy
from mailkit_async._service import BOUNCES
from mailkit_async.testing import Fault, MailkitEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator() -> MailkitEmulator:
    emu = new_emulator()
    emu.seed_bounces(50)
    return emu


def client(emulator: MailkitEmulator) -> Mailkit:
    return in_process(emulator, retry=RetryPolicy(attempts=1))


@contextlib.contextmanager
def strict() -> Iterator[list[Any]]:
    """Warnings are errors, and anything raised where nobody can catch it (a finalizer) is kept."""
    unraisable: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield unraisable
            gc.collect()
    finally:
        sys.unraisablehook = previous


async def test_a_bare_break_is_silent_and_frees_the_stream_at_once(
    anyio_backend: str, emulator: MailkitEmulator
) -> None:
    with strict() as unraisable:
        async with client(emulator) as mk:
            stream = mk.report.raw.bounces(page_size=10)
            alive = weakref.ref(stream)
            async for bounce in stream:
                first = bounce.undelivered_log_id
                break
            del stream
            # No finalizer holds it (an async generator would wait for one, and warn under trio).
            assert alive() is None
            await anyio.lowlevel.checkpoint()  # give any finalizer its chance
            # The client is still fine, and the next stream starts where asked.
            again = [b.undelivered_log_id async for b in mk.report.raw.bounces(after_id=first, page_size=10)]
    assert unraisable == []
    assert again == sorted(again) and len(again) == 49


async def test_aclosing_closes_it(anyio_backend: str, emulator: MailkitEmulator) -> None:
    with strict() as unraisable:
        async with client(emulator) as mk:
            async with contextlib.aclosing(mk.report.raw.bounces(page_size=10)) as stream:
                seen = [b.undelivered_log_id async for b in _take(stream, 15)]
            with pytest.raises(StopAsyncIteration):  # closed: it ends, it does not fetch again
                await stream.__anext__()
            await stream.aclose()  # twice is harmless
    assert unraisable == []
    assert len(seen) == 15
    assert emulator.requests[BOUNCES] == 2  # two pages, nothing after the close


async def _take(stream: Any, n: int) -> Any:
    async for item in stream:
        yield item
        n -= 1
        if n == 0:
            return


async def test_an_error_ends_the_stream_as_it_would_end_a_generator(
    anyio_backend: str, emulator: MailkitEmulator
) -> None:
    emulator.faults.add(Fault.status(500), times=None, function=BOUNCES)
    async with client(emulator) as mk:
        stream = mk.report.raw.bounces(page_size=10)
        with pytest.raises(MailkitError) as info:
            await stream.__anext__()
        assert info.value.cursor == 0
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
    assert emulator.requests[BOUNCES] == 1


async def test_a_full_stream_still_yields_every_record_once(
    anyio_backend: str, emulator: MailkitEmulator
) -> None:
    async with client(emulator) as mk:
        ids = [b.undelivered_log_id async for b in mk.report.raw.bounces(page_size=7)]
    assert len(ids) == 50 and len(set(ids)) == 50 and ids == sorted(ids)


SNIPPET = """
    import contextlib

    from mailkit_async import Bounce, Mailkit


    async def first_ids(mk: Mailkit, n: int) -> list[int]:
        ids: list[int] = []
        async with contextlib.aclosing(mk.report.raw.bounces(after_id=0)) as stream:
            async for bounce in stream:
                ids.append(bounce.undelivered_log_id)
                if len(ids) == n:
                    break
        return ids


    async def one(mk: Mailkit) -> Bounce:
        return await anext(mk.report.raw.bounces())  # noqa
"""
WRONG = """
    from mailkit_async import Mailkit


    async def wrong(mk: Mailkit) -> None:
        async for bounce in mk.report.raw.bounces():
            name: int = bounce.email
"""


@pytest.mark.slow
def test_aclosing_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    from mypy import api

    (tmp_path / "user_code.py").write_text(textwrap.dedent(SNIPPET))
    (tmp_path / "wrong_code.py").write_text(textwrap.dedent(WRONG))
    out, err, status = api.run(
        [
            "--strict",
            "--python-version",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            "--cache-dir",
            str(Path(__file__).parent.parent / ".mypy_cache"),
            str(tmp_path / "user_code.py"),
            str(tmp_path / "wrong_code.py"),
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err  # errors found (2 would be a crash of mypy itself)
    # The check can fail: the deliberately wrong file is caught...
    assert any("wrong_code.py" in line and "assignment" in line for line in errors), out + err
    # ...and the user's code with aclosing is clean.
    assert not [line for line in errors if "user_code.py" in line], out + err
