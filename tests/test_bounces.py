"""report.raw.bounces over respx: every record once, in order, under both cursor readings."""

from __future__ import annotations

import json
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from _docs import RAW_BOUNCES_XML
from support.calls import drain_bounces
from support.clients import BASE, CLIENT_ID, MD5, PATHS, PROTOCOLS, READINGS, client
from support.records import as_json, decoded
from support.records import bounce_record as record
from support.wire import bounce_page_asked, xml_written

from mailkit_async import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    PaginationError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from mailkit_async._service import BOUNCES, JSON_PATH, MAX_PAGE_SIZE, XMLRPC_PATH

pytestmark = pytest.mark.anyio


@dataclass
class FakeReport:
    """A bounce log served page by page the way the service does (configurable quirks)."""

    ids: list[int]
    protocol: str
    reading: str = "exclusive"
    cap: int = MAX_PAGE_SIZE
    empty: str = "[]"
    cursors: list[int] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)

    def page(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        if self.reading == "inclusive":
            chosen = [i for i in self.ids if i >= cursor]
        else:
            chosen = [i for i in self.ids if i > cursor]
        return [record(i) for i in chosen[: min(limit, self.cap)]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        cursor, limit = bounce_page_asked(self.protocol, request)
        self.cursors.append(cursor)
        self.limits.append(limit)
        rows = self.page(cursor, limit)
        if self.protocol == "json":
            if not rows:
                return httpx.Response(200, content=self.empty.encode())
            # Every value a string, as the service sends them.
            return httpx.Response(200, json=[as_json(r) for r in rows])
        return httpx.Response(200, content=xml_written(rows))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize(
    ("ids", "page_size", "cap"),
    [
        (list(range(1, 101)), 10, MAX_PAGE_SIZE),  # exact multiple of the page size
        (list(range(1, 96)), 10, MAX_PAGE_SIZE),  # a short last page
        ([3, 4, 9, 10, 11, 50, 51, 400, 401, 402, 1000, 5000], 3, MAX_PAGE_SIZE),  # gaps
        (list(range(1, 58)), 20, 7),  # the service caps pages below what was asked
        ([], 10, MAX_PAGE_SIZE),  # nothing at all
    ],
)
async def test_every_record_exactly_once_in_order(
    anyio_backend: str, protocol: str, reading: str, ids: list[int], page_size: int, cap: int
) -> None:
    fake = FakeReport(ids, protocol, reading=reading, cap=cap)
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        got = [b.undelivered_log_id for b in await drain_bounces(mk, page_size=page_size)]
    assert got == ids
    # The cursor sent is always the last ID yielded: never past a record not yet seen.
    yielded_before = [0, *got]
    assert all(c in yielded_before for c in fake.cursors)
    assert set(fake.limits) == {page_size}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
async def test_after_id_resumes_strictly_after(anyio_backend: str, protocol: str, reading: str) -> None:
    ids = [5, 6, 7, 20, 21, 22, 23]
    fake = FakeReport(ids, protocol, reading=reading)
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        got = [b.undelivered_log_id for b in await drain_bounces(mk, after_id=20, page_size=2)]
    assert got == [21, 22, 23]
    assert fake.cursors[0] == 20


@pytest.mark.parametrize("empty", ["[]", "{}", '""', "", "  \n"])
async def test_json_empty_page_forms_end_the_stream(anyio_backend: str, empty: str) -> None:
    fake = FakeReport([1, 2, 3], "json", empty=empty)
    async with client("json") as mk, respx.mock(base_url=BASE) as mock:
        mock.post(JSON_PATH).mock(side_effect=fake)
        got = [b.undelivered_log_id for b in await drain_bounces(mk, page_size=2)]
    assert got == [1, 2, 3]
    assert len(fake.cursors) == 3  # 2 records, 1 record, then the empty page


@pytest.mark.parametrize("answer", [xml_written([]), xml_written("")])
async def test_xmlrpc_empty_page_forms_end_the_stream(anyio_backend: str, answer: bytes) -> None:
    async with client("xmlrpc") as mk, respx.mock(base_url=BASE) as mock:
        mock.post(XMLRPC_PATH).respond(200, content=answer)
        assert await drain_bounces(mk) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_only_the_echo_of_the_cursor_is_the_end(anyio_backend: str, protocol: str) -> None:
    fake = FakeReport([1, 2, 3], protocol, reading="inclusive")
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        got = [b.undelivered_log_id for b in await drain_bounces(mk, page_size=3)]
    assert got == [1, 2, 3]
    assert fake.cursors == [0, 3]  # the second page held only record 3: the end


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_page_that_does_not_advance_is_an_error(anyio_backend: str, protocol: str) -> None:
    # A broken service that ignores the cursor and always answers the first page.
    fake = FakeReport([1, 2, 3], protocol)
    fake.page = lambda cursor, limit: [record(1), record(2)]  # type: ignore[method-assign]
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        seen: list[int] = []
        with pytest.raises(PaginationError) as info:
            async for bounce in mk.report.raw.bounces(page_size=2):
                seen.append(bounce.undelivered_log_id)
    assert seen == [1, 2]
    assert info.value.cursor == 2
    assert "after_id=2" in str(info.value)
    assert len(fake.cursors) == 2  # no endless loop


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_records_out_of_order_are_an_error(anyio_backend: str, protocol: str) -> None:
    fake = FakeReport([1, 2, 3], protocol)
    fake.page = lambda cursor, limit: [record(5), record(4)] if cursor == 0 else []  # type: ignore[method-assign]
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        with pytest.raises(PaginationError):
            await drain_bounces(mk)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_failed_page_is_retried_at_the_same_cursor(anyio_backend: str, protocol: str) -> None:
    fake = FakeReport(list(range(1, 8)), protocol)
    failures = iter([True, False, True, True, False])

    def flaky(request: httpx.Request) -> httpx.Response:
        if next(failures, False):
            fake.cursors.append(-1)
            return httpx.Response(503)
        return fake(request)

    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=flaky)
        got = [b.undelivered_log_id for b in await drain_bounces(mk, page_size=3)]
    assert got == list(range(1, 8))
    assert [c for c in fake.cursors if c >= 0] == [0, 3, 6, 7]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_spent_retries_say_where_to_resume(anyio_backend: str, protocol: str) -> None:
    fake = FakeReport(list(range(1, 8)), protocol)
    calls = 0

    def dies_after_first_page(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return fake(request) if calls == 1 else httpx.Response(500)

    seen: list[int] = []
    mk = client(protocol, retry=RetryPolicy(attempts=3, backoff=0))
    async with mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=dies_after_first_page)
        with pytest.raises(ServerError) as info:
            async for bounce in mk.report.raw.bounces(page_size=3):
                seen.append(bounce.undelivered_log_id)
    assert seen == [1, 2, 3]
    assert calls == 1 + 3
    assert info.value.cursor == 3
    assert "after_id=3" in str(info.value)
    # Resuming there loses nothing and repeats nothing.
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        rest = [
            b.undelivered_log_id for b in await drain_bounces(mk, after_id=info.value.cursor, page_size=3)
        ]
    assert seen + rest == list(range(1, 8))


async def test_json_records_decode_to_typed_fields(anyio_backend: str) -> None:
    wild = record(9, BOUNCE_CAT="hard", UTM_CAMPAIGN="x", CAMPAIGN_NAME="n", SUBJECT="s")
    body = json.dumps([as_json(wild)])
    async with client("json") as mk, respx.mock(base_url=BASE) as mock:
        mock.post(JSON_PATH).mock(
            side_effect=[httpx.Response(200, text=body), httpx.Response(200, text="[]")]
        )
        (bounce,) = await drain_bounces(mk)
    assert bounce == decoded(9, bounce_category="hard", utm_campaign="x", campaign_name="n", subject="s")


async def test_xmlrpc_doc_example_page(anyio_backend: str) -> None:
    async with client("xmlrpc") as mk, respx.mock(base_url=BASE) as mock:
        route = mock.post(XMLRPC_PATH)
        route.side_effect = [
            httpx.Response(200, content=RAW_BOUNCES_XML),
            httpx.Response(200, content=xml_written([])),
        ]
        got = await drain_bounces(mk, message_id=12345, send_id=123456)
        method = xmlrpc.client.loads(route.calls[0].request.content)
    assert [(b.undelivered_log_id, b.email, b.send_message_id, b.remote_mta) for b in got] == [
        (1, "email@example.com", 1234567890, "dns; mx1.seznam.cz"),
        (2, "email1@example.com", 1234567891, ""),
    ]
    assert method == ((CLIENT_ID, MD5, 12345, 123456, 0, MAX_PAGE_SIZE), BOUNCES)


async def test_json_request_parameters(anyio_backend: str) -> None:
    async with client("json") as mk, respx.mock(base_url=BASE) as mock:
        route = mock.post(JSON_PATH).respond(200, text="[]")
        await drain_bounces(mk, message_id=12345, send_id=123456, after_id=99, page_size=1000)
    sent = json.loads(route.calls[0].request.content)
    assert sent == {
        "function": BOUNCES,
        "id": CLIENT_ID,
        "md5": MD5,
        "parameters": {"ID_message": 12345, "ID_send": 123456, "ID_undelivered_log": 99, "limit": 1000},
    }


@pytest.mark.parametrize(
    ("protocol", "answer", "error"),
    [
        ("json", {"error_status": 1, "error": "Unauthorized"}, AuthenticationError),
        ("json", {"error_status": "1", "error": "Disallowed IP 10.1.2.3"}, AuthenticationError),
        ("json", {"error_status": 1, "error": "Rate limit"}, APIError),
        ("xmlrpc", "Unauthorized", AuthenticationError),
        ("xmlrpc", "Something went wrong", APIError),
    ],
)
async def test_refusals(anyio_backend: str, protocol: str, answer: Any, error: type[Exception]) -> None:
    content = json.dumps(answer).encode() if protocol == "json" else xml_written(answer)
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=content)
        with pytest.raises(error) as info:
            await drain_bounces(mk, after_id=5)
    assert info.value.cursor == 5


@pytest.mark.parametrize(
    ("protocol", "body"),
    [
        ("json", b'[{"ID_UNDELIVERED_LOG": "1", "EMAIL": "a@b.c"'),  # truncated
        ("json", b"<html><body>502 Bad Gateway</body></html>"),
        ("json", b'[{"ID_UNDELIVERED_LOG": "not a number"}]'),
        ("json", b'[{"EMAIL": "no id"}]'),
        ("json", b"42"),
        ("xmlrpc", b"<html><body>oops</body></html>"),
        ("xmlrpc", b"<?xml version='1.0'?><methodResponse><params><param><value><array><data>"),
    ],
)
async def test_garbage_is_a_decode_error(anyio_backend: str, protocol: str, body: bytes) -> None:
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=body)
        with pytest.raises(ResponseDecodeError):
            await drain_bounces(mk)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"after_id": -1},
        {"after_id": True},
        {"after_id": "5"},
        {"page_size": 0},
        {"page_size": 25_001},
        {"message_id": 0},
        {"send_id": -3},
    ],
)
async def test_bad_arguments_fail_before_any_request(anyio_backend: str, kwargs: dict[str, Any]) -> None:
    async with client("json") as mk, respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(JSON_PATH).respond(200, text="[]")
        with pytest.raises(InvalidParameterError):
            mk.report.raw.bounces(**kwargs)
        with pytest.raises(InvalidParameterError):
            mk.report.raw.bounce_pages(**kwargs)
        assert not route.called


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_pages_view(anyio_backend: str, protocol: str, prefetch: int) -> None:
    ids = list(range(1, 24))
    fake = FakeReport(ids, protocol, reading="inclusive")
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=fake)
        async with mk.report.raw.bounce_pages(page_size=5, prefetch=prefetch) as pages:
            sizes = []
            got: list[int] = []
            async for page in pages:
                sizes.append(len(page))
                got.extend(b.undelivered_log_id for b in page)
    assert got == ids
    assert sum(sizes) == len(ids) and all(s > 0 for s in sizes)


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_pages_view_raises_the_plain_error(anyio_backend: str, prefetch: int) -> None:
    async with client(retry=RetryPolicy(attempts=1)) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(JSON_PATH).respond(200, json={"error_status": 1, "error": "Unauthorized"})
        with pytest.raises(AuthenticationError):  # not an ExceptionGroup
            async with mk.report.raw.bounce_pages(prefetch=prefetch) as pages:
                async for _ in pages:
                    pass


async def test_prefetch_requires_async_with(anyio_backend: str) -> None:
    async with client("json") as mk:
        pages = mk.report.raw.bounce_pages(prefetch=1)
        # A MailkitError like every other (only those leave the client), naming the method.
        with pytest.raises(InvalidParameterError, match=r"report\.raw\.bounce_pages: .*async with"):
            await pages.__anext__()
