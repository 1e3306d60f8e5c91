"""`max_blocking`: pages decoded in steps (or off the loop), the same records and errors at any setting."""

from __future__ import annotations

import itertools
import json
import threading
import time
import xmlrpc.client
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import httpx
import pytest
import respx
from support.clients import BASE, CLIENT_ID, MD5, PATHS, PROTOCOLS, client, new_emulator, pooled_once
from support.pool import checked_out

from mailkit_async import Bounce, InvalidParameterError, Mailkit, MailkitError, RetryPolicy, _pacing

pytestmark = pytest.mark.anyio

RECORDS = 2_500
PAGE = 1_000
# Small enough that every page, whatever its size, takes the paced path (slices, or a thread).
ALWAYS = 1e-12
# A budget of a few GIL switch intervals (5 ms), which a whole 2 500-record page (~3 MB) does not fit.
WIDE = 0.02
DEFAULT = object()
SETTINGS = [None, DEFAULT, 0.005, WIDE, ALWAYS]
MODES = ["bounces", "bounce_pages", "prefetch"]


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    emulator = new_emulator()
    emulator.seed_bounces(RECORDS, gap_every=7, extra_fields=True)
    emulator.add_subscriber("someone@example.com", email_id=42)
    with emulator.serve() as running:
        yield running


def paced(url: str, protocol: str, max_blocking: object = DEFAULT) -> Mailkit:
    """A client of one pooled connection (see `pooled_once`) with `max_blocking` set, or its default."""
    kwargs: dict[str, Any] = {} if max_blocking is DEFAULT else {"max_blocking": max_blocking}
    return pooled_once(url, protocol, **kwargs)


async def stream(mk: Mailkit, mode: str, page_size: int = PAGE) -> list[Bounce]:
    if mode == "bounces":
        return [bounce async for bounce in mk.report.raw.bounces(page_size=page_size)]
    records: list[Bounce] = []
    async with mk.report.raw.bounce_pages(page_size=page_size, prefetch=int(mode == "prefetch")) as pages:
        async for page in pages:
            records += page
    return records


async def next_call_works(mk: Mailkit) -> None:
    assert checked_out(mk) == 0
    result = await mk.email.unsubscribe("someone@example.com")
    assert result.email_id == 42 or result.email == "someone@example.com"


class Spinner:
    """A task that counts its own wake-ups: it can only run while the stream lets the loop go."""

    def __init__(self) -> None:
        self.wakeups = 0

    async def run(self) -> None:
        while True:
            await anyio.lowlevel.checkpoint()
            self.wakeups += 1


def spy_on_decode(
    monkeypatch: pytest.MonkeyPatch, mk: Mailkit, hook: Callable[[], None]
) -> list[threading.Thread]:
    """Call `hook` before each of the codec's bounce decodes; returns the threads they ran in."""
    codec_type = type(mk._codec)
    original = codec_type.decode_bounces
    threads: list[threading.Thread] = []

    def decode_bounces(self: Any, function: str, body: Any) -> object:
        threads.append(threading.current_thread())
        hook()
        return original(self, function, body)

    monkeypatch.setattr(codec_type, "decode_bounces", decode_bounces)
    return threads


@pytest.mark.parametrize("setting", SETTINGS, ids=["None", "default", "0.005", "0.02", "always"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_records_and_order_are_the_same_at_every_setting(
    anyio_backend: str, server: Any, protocol: str, mode: str, setting: object
) -> None:
    async with paced(server.url, protocol, None) as whole, whole._transport.http:
        expected = await stream(whole, "bounce_pages")
    ids = [bounce.undelivered_log_id for bounce in expected]
    assert len(ids) == RECORDS and ids == sorted(set(ids))
    assert expected[0].subject and expected[0].bounce_category  # the fields of the English page
    mk = paced(server.url, protocol, setting)
    async with mk, mk._transport.http:
        assert await stream(mk, mode) == expected
        await next_call_works(mk)


@pytest.fixture(scope="module")
def real_world_server() -> Iterator[Any]:
    # The forms real answers show: undocumented fields, null text, empty or zero IDs, multi-line
    # SMTP replies, the English page's fields.
    emulator = new_emulator()
    emulator.seed_bounces(RECORDS, gap_every=5, extra_fields=True, real_world=True)
    with emulator.serve() as running:
        yield running


@pytest.mark.parametrize("setting", [0.005, WIDE, ALWAYS], ids=["0.005", "0.02", "always"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_real_world_records_come_out_the_same_sliced_as_whole(
    anyio_backend: str, real_world_server: Any, protocol: str, setting: float
) -> None:
    async with paced(real_world_server.url, protocol, None) as whole, whole._transport.http:
        expected = await stream(whole, "bounces")
    assert len(expected) == RECORDS and any(b.extra for b in expected)
    assert any("\n" in b.text_status for b in expected)  # a multi-line reply survived the cut
    mk = paced(real_world_server.url, protocol, setting)
    async with mk, mk._transport.http:
        assert await stream(mk, "bounces") == expected


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_none_decodes_each_page_in_one_call_on_the_loop(
    anyio_backend: str, server: Any, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mk = paced(server.url, protocol, None)
    threads = spy_on_decode(monkeypatch, mk, lambda: None)
    async with mk, mk._transport.http:
        assert len(await stream(mk, "bounces")) == RECORDS
    # Three pages, and the empty answer that ends the stream.
    assert len(threads) == 4
    assert set(threads) == {threading.current_thread()}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_page_is_decoded_in_slices_with_the_loop_let_go_between(
    anyio_backend: str, server: Any, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    mk = paced(server.url, protocol, ALWAYS)
    spinner = Spinner()
    seen: list[int] = []
    spy_on_decode(monkeypatch, mk, lambda: seen.append(spinner.wakeups))
    async with mk, mk._transport.http, anyio.create_task_group() as group:
        group.start_soon(spinner.run)
        page = await mk.report.raw.bounce_pages(page_size=PAGE).__anext__()
        group.cancel_scope.cancel()
    assert len(page) == PAGE
    assert len(seen) > 2  # the page came in several slices ...
    # ... and other tasks ran between every two of them.
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


@pytest.mark.parametrize("setting", [ALWAYS, None], ids=["paced", "None"])
async def test_bounces_lets_the_loop_go_while_it_hands_out_a_page_when_paced(
    anyio_backend: str, server: Any, setting: float | None
) -> None:
    # `__anext__` does not await per record: without the chunks, the consumer's `async for`
    # would hold the loop for the whole page.
    mk = paced(server.url, "json", setting)
    spinner = Spinner()
    seen: list[tuple[int, int]] = []
    async with mk, mk._transport.http, anyio.create_task_group() as group:
        group.start_soon(spinner.run)
        async for bounce in mk.report.raw.bounces(page_size=PAGE):
            seen.append((bounce.undelivered_log_id, spinner.wakeups))
        group.cancel_scope.cancel()
    ids = [i for i, _ in seen]
    assert len(ids) == RECORDS and ids == sorted(set(ids))
    first_page = [wakeups for _, wakeups in seen[:PAGE]]
    lets_go = sum(later > earlier for earlier, later in itertools.pairwise(first_page))
    if setting is None:
        assert lets_go == 0
    else:
        assert lets_go >= PAGE // 256 - 1


async def test_with_a_budget_of_several_switch_intervals_xmlrpc_pages_are_sliced_on_the_loop(
    anyio_backend: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker thread would trade the GIL with the loop every switch interval: slices are faster.
    mk = paced(server.url, "xmlrpc", WIDE)
    spinner = Spinner()
    seen: list[int] = []
    threads = spy_on_decode(monkeypatch, mk, lambda: seen.append(spinner.wakeups))
    async with mk, mk._transport.http, anyio.create_task_group() as group:
        group.start_soon(spinner.run)
        page = await mk.report.raw.bounce_pages(page_size=RECORDS).__anext__()
        group.cancel_scope.cancel()
    assert len(page) == RECORDS
    assert len(seen) > 2
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))
    assert set(threads) == {threading.current_thread()}


class LoopWatch:
    """A decode hook that, in a worker thread, waits until the loop has run (a held loop could not)."""

    def __init__(self, spinner: Spinner) -> None:
        self.spinner = spinner
        self.ran_meanwhile: list[bool] = []

    def __call__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            return
        start = self.spinner.wakeups
        deadline = time.monotonic() + 10
        while self.spinner.wakeups == start and time.monotonic() < deadline:
            time.sleep(0.001)
        self.ran_meanwhile.append(self.spinner.wakeups > start)


async def test_an_xmlrpc_page_that_misleads_the_cut_decodes_whole_in_a_thread_while_the_loop_runs(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = page_body("xmlrpc", [bounce(i) for i in range(1, 301)], shape="comment")
    watch = LoopWatch(Spinner())
    with respx.mock(base_url=BASE) as router:
        router.post(PATHS["xmlrpc"]).mock(return_value=httpx.Response(200, content=body))
        mk = client("xmlrpc", max_blocking=ALWAYS)
        threads = spy_on_decode(monkeypatch, mk, watch)
        async with mk, anyio.create_task_group() as group:
            group.start_soon(watch.spinner.run)
            page = await mk.report.raw.bounce_pages().__anext__()
            group.cancel_scope.cancel()
    assert [b.undelivered_log_id for b in page] == list(range(1, 301))
    # The first slice ends inside the comment and is refused; the page is then decoded in one piece.
    assert threads[0] is threading.current_thread()
    assert threads[-1] is not threading.current_thread()
    assert watch.ran_meanwhile == [True]


def untrusted_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every XML-RPC page one the cut does not trust (as a DTD or a UTF-16 page would be)."""
    monkeypatch.setattr(_pacing, "_xmlrpc_frame", lambda body: None)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_cancelling_between_slices_stops_at_once_and_frees_the_connection(
    anyio_backend: str, server: Any, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    mk = paced(server.url, protocol, ALWAYS)
    scope = anyio.CancelScope()
    calls = 0

    def cancel_on_the_third_slice() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            scope.cancel()

    spy_on_decode(monkeypatch, mk, cancel_on_the_third_slice)
    received: list[list[Bounce]] = []
    async with mk, mk._transport.http:
        with scope:
            async for page in mk.report.raw.bounce_pages(page_size=PAGE):
                received.append(page)
        assert scope.cancelled_caught
        assert calls == 3  # no slice after the cancellation ...
        assert received == []  # ... which came in the middle of the first page
        await next_call_works(mk)


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_a_page_the_caller_let_go_of_is_freed_in_pieces_and_one_it_keeps_never(
    anyio_backend: str, server: Any, prefetch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    mk = paced(server.url, "json", ALWAYS)
    assert mk._pacer is not None
    freed: list[list[int]] = []
    wakeups: list[int] = []
    spinner = Spinner()
    release = mk._pacer.release

    async def spy(page: list[Bounce]) -> None:
        freed.append([b.undelivered_log_id for b in page])
        before = spinner.wakeups
        await release(page)
        wakeups.append(spinner.wakeups - before)
        assert page == []

    monkeypatch.setattr(mk._pacer, "release", spy)
    async with mk, mk._transport.http, anyio.create_task_group() as group:
        group.start_soon(spinner.run)
        async with mk.report.raw.bounce_pages(page_size=PAGE, prefetch=prefetch) as pages:
            kept = await pages.__anext__()  # the caller keeps this one
            ids = [b.undelivered_log_id for b in kept]
            second = await pages.__anext__()
            second_ids = [b.undelivered_log_id for b in second]
            del second  # ... and lets this one go
            third = await pages.__anext__()
            with pytest.raises(StopAsyncIteration):  # 2 500 records: the end
                await pages.__anext__()
        assert pages._given == deque()  # leaving the block lets go of every page
        group.cancel_scope.cancel()
        await next_call_works(mk)
    assert [b.undelivered_log_id for b in kept] == ids  # what the caller holds is untouched
    assert len(third) == RECORDS - 2 * PAGE and third[0].undelivered_log_id > second_ids[-1]
    assert freed == [second_ids]  # only the page no one else held, once
    # 1 000 records in pieces of at least 64, the loop let go between them.
    assert wakeups[0] >= PAGE // 64 - 1


async def test_a_page_that_frees_within_the_budget_is_left_to_the_caller(
    anyio_backend: str, server: Any
) -> None:
    mk = paced(server.url, "json")  # the default budget: a 1 000-record page frees well within it
    async with mk, mk._transport.http, mk.report.raw.bounce_pages(page_size=PAGE) as pages:
        first = await pages.__anext__()
        await pages.__anext__()
        assert pages._given == deque()  # no reference kept: freed where the caller drops it
    assert first[0].undelivered_log_id == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("setting", [ALWAYS, None], ids=["paced", "None"])
async def test_closing_a_stream_early_frees_its_page_in_pieces_when_paced(
    anyio_backend: str, server: Any, protocol: str, setting: float | None
) -> None:
    mk = paced(server.url, protocol, setting)
    spinner = Spinner()
    async with mk, mk._transport.http, anyio.create_task_group() as group:
        stream = mk.report.raw.bounces(page_size=PAGE)
        first = await stream.__anext__()
        page = stream._page
        group.start_soon(spinner.run)
        await anyio.lowlevel.checkpoint()
        before = spinner.wakeups
        await stream.aclose()
        during = spinner.wakeups - before
        group.cancel_scope.cancel()
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
        await next_call_works(mk)
    assert first.undelivered_log_id == 1  # what the consumer holds is untouched
    assert page == []
    if setting is None:
        assert during == 0  # freed at once, as before pacing
    else:
        # A 1 000-record page in pieces of at least 64 records, the loop let go between them.
        assert during >= PAGE // 64 - 1
        assert stream._page == []


async def test_a_release_cancelled_midway_leaves_the_rest_of_the_page_to_be_freed_in_pieces(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = [page_body("json", [bounce(i) for i in range(start, start + PAGE)]) for start in (1, PAGE + 1)]
    with respx.mock(base_url=BASE) as router:
        router.post(PATHS["json"]).mock(
            side_effect=[httpx.Response(200, content=page) for page in [*pages, b"[]"]]
        )
        mk = client("json", max_blocking=ALWAYS, retry=RetryPolicy(attempts=1))
        assert mk._pacer is not None
        release, scopes = mk._pacer.release, []

        async def cancelled_after_a_piece(page: list[Bounce]) -> None:
            if scopes:
                del page[-64:]
                scopes.pop().cancel()
                await anyio.lowlevel.checkpoint()
            await release(page)

        monkeypatch.setattr(mk._pacer, "release", cancelled_after_a_piece)
        async with mk:
            stream = mk.report.raw.bounces(page_size=PAGE)
            first = [await stream.__anext__() for _ in range(PAGE)]
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await stream.__anext__()
            assert scope.cancelled_caught
            assert len(stream._page) == PAGE - 64  # still the stream's, to free in pieces
            rest = [b.undelivered_log_id async for b in stream]
    assert [b.undelivered_log_id for b in first] == list(range(1, PAGE + 1))
    assert rest == list(range(PAGE + 1, 2 * PAGE + 1))
    assert stream._page == []


@pytest.mark.parametrize("mode", ["bounces", "prefetch"])
async def test_cancelling_an_xmlrpc_decode_in_a_thread_does_not_wait_for_it_and_frees_the_connection(
    anyio_backend: str, server: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    untrusted_pages(monkeypatch)
    mk = paced(server.url, "xmlrpc")
    entered, release, finished = anyio.Event(), threading.Event(), threading.Event()

    def block() -> None:
        anyio.from_thread.run_sync(entered.set)  # in the worker thread: the loop is the caller
        release.wait(10)
        finished.set()

    spy_on_decode(monkeypatch, mk, block)
    try:
        async with mk, mk._transport.http:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as group:
                    group.start_soon(stream, mk, mode, RECORDS)
                    await entered.wait()
                    scope.cancel()
            assert scope.cancelled_caught
            assert not finished.is_set()  # the decode is still running: nobody waited for it
            release.set()
            monkeypatch.undo()
            await next_call_works(mk)
    finally:
        release.set()


def page_body(protocol: str, records: list[dict[str, Any]], *, shape: str = "plain") -> bytes:
    if protocol == "json":
        return json.dumps(records).encode()
    body = xmlrpc.client.dumps((records,), methodresponse=True)
    if shape == "comment":  # what looks like a place to cut, inside a comment
        body = body.replace(
            "</struct></value>\n<value>", "</struct></value>\n<!-- </struct></value>\n<value> -->\n<value>", 1
        )
    return body.encode()


def bounce(i: int, **extra: Any) -> dict[str, Any]:
    return {"ID_UNDELIVERED_LOG": str(i), "EMAIL": f"user{i}@example.com", "STATUS": "5.1.1", **extra}


async def outcome(protocol: str, setting: float | None, body: bytes, *then: bytes) -> list[object]:
    """The records `bounces()` gives for `body` and the pages `then` (then the end), or the error
    it raises."""
    answers = [body, *then, page_body(protocol, [])]
    with respx.mock(base_url=BASE) as router:
        router.post(PATHS[protocol]).mock(
            side_effect=[httpx.Response(200, content=answer) for answer in answers]
        )
        mk = client(protocol, max_blocking=setting, retry=RetryPolicy(attempts=1))
        async with mk:
            try:
                return [b async for b in mk.report.raw.bounces()]
            except MailkitError as error:
                return [type(error).__name__, str(error), error.cursor]


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param({}, id="plain"),
        pytest.param({"HISTORY": [{"AT": "2024-01-01"}, {"AT": "2024-02-01"}]}, id="nested-structs"),
    ],
)
@pytest.mark.parametrize("comment", [False, True], ids=["", "comment"])
async def test_xmlrpc_pages_of_any_shape_decode_as_without_pacing(
    anyio_backend: str, shape: dict[str, Any], comment: bool
) -> None:
    # Nested structs and the comment offer places to cut that are not between two records.
    body = page_body(
        "xmlrpc", [bounce(i, **shape) for i in range(1, 301)], shape="comment" if comment else "plain"
    )
    whole = await outcome("xmlrpc", None, body)
    assert [b.undelivered_log_id for b in whole] == list(range(1, 301))  # type: ignore[attr-defined]
    assert await outcome("xmlrpc", ALWAYS, body) == whole


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param({}, id="plain"),
        pytest.param({"HISTORY": [{"AT": "2024-01-01"}, {"AT": "2024-02-01"}]}, id="nested-objects"),
        pytest.param({"SUBJECT": 'a "}, {" b }, { c \\'}, id="string"),
        pytest.param({"HISTORY": [[{"AT": 1}], {"AT": '}, {"'}]}, id="both"),
    ],
)
async def test_json_pages_of_any_shape_decode_as_without_pacing(
    anyio_backend: str, shape: dict[str, Any]
) -> None:
    # Nested objects and strings offer places to cut (`}, {`) that are not between two records.
    body = page_body("json", [bounce(i, **(shape if i % 3 else {})) for i in range(1, 301)])
    whole = await outcome("json", None, body)
    assert [b.undelivered_log_id for b in whole] == list(range(1, 301))  # type: ignore[attr-defined]
    for setting in (ALWAYS, 0.005):
        assert await outcome("json", setting, body) == whole


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_bad_record_in_a_late_slice_raises_the_same_error_as_a_whole_page(
    anyio_backend: str, protocol: str
) -> None:
    records = [bounce(i) for i in range(1, 501)]
    records[400]["ID_UNDELIVERED_LOG"] = "four hundred"
    # The records before it come first; the next page (from ID 400) starts with it and fails.
    pages = page_body(protocol, records), page_body(protocol, records[400:])
    whole = await outcome(protocol, None, *pages)
    assert whole[0] == "UnplacedRecordError" and whole[2] == 400
    assert await outcome(protocol, ALWAYS, *pages) == whole


@pytest.mark.parametrize(
    "answer",
    [b"", b"{}", b'""', b"[]", b'{"error_status": 1, "error": "Invalid ID_message"}', b"not json"],
    ids=["empty", "object", "string", "list", "error", "garbage"],
)
async def test_json_answers_that_are_not_pages_end_or_fail_as_without_pacing(
    anyio_backend: str, answer: bytes
) -> None:
    assert await outcome("json", ALWAYS, answer) == await outcome("json", None, answer)


@pytest.mark.parametrize("value", [0, -0.5, True, "0.05", float("nan"), float("inf"), [0.05]])
def test_max_blocking_must_be_a_positive_number_or_none(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="max_blocking"):
        Mailkit(CLIENT_ID, MD5, max_blocking=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, 0.005, 1, 2.5])
def test_max_blocking_accepts_seconds_or_none(value: float | None) -> None:
    Mailkit(CLIENT_ID, MD5, max_blocking=value)
