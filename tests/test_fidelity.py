"""Records and answers exactly as the service sends them: no field dropped, no record stuck.

respx serves raw records in any form (nulls, empty and zero IDs, unknown fields, odd values) over
both protocols and both cursor readings; the recorded answers of other public clients
(`_recorded.py`) must decode as those clients saw them.
"""

from __future__ import annotations

import json
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest
import respx
from _recorded import (
    ENGLISH_PAGE_EXTRA_FIELDS,
    JAVA_RAW_BOUNCE_FIELDS,
    PHP_REVALIDATE_NOT_UNSUBSCRIBED_JSON,
    PHP_REVALIDATE_NOT_UNSUBSCRIBED_XML,
    PHP_REVALIDATE_OK_JSON,
    PHP_REVALIDATE_OK_XML,
    PHP_UNSUBSCRIBE_FAILED_JSON,
    PHP_UNSUBSCRIBE_FAILED_XML,
    PHP_UNSUBSCRIBE_OK_JSON,
    PHP_UNSUBSCRIBE_OK_XML,
)
from support.clients import BASE, MD5, PATHS, PROTOCOLS, READINGS, client
from support.records import as_json, bounce_record
from support.wire import bounce_page_asked, xml_dump

from mailkit_async import (
    APIError,
    Bounce,
    InvalidParameterError,
    NotUnsubscribedError,
    ResponseDecodeError,
    Revalidation,
    UnplacedRecordError,
    Unsubscription,
)
from mailkit_async._codecs import get_codec
from mailkit_async._codecs._bounces import with_unknown_fields
from mailkit_async._codecs._records import RecordReader
from mailkit_async._service import BOUNCES, JSON_PATH, XMLRPC_PATH

pytestmark = pytest.mark.anyio

# How a record may come without a usable ID_UNDELIVERED_LOG ("missing": no such field at all).
UNUSABLE_IDS: list[Any] = [None, "", "0", 0, "n/a", "-5", "missing"]


def record(i: int, **fields: Any) -> dict[str, Any]:
    """A record as the service sends it over JSON (every value a string), with `fields` on top
    ("missing": no such field at all)."""
    usual = bounce_record(
        i, TEXT_STATUS="smtp; 550 5.1.1 User unknown", STATUS="5.1.1", EMAIL=f"user{i}@example.cz"
    )
    base = {**as_json(usual), **fields}
    return {key: value for key, value in base.items() if value != "missing"}


@dataclass
class Service:
    """Serves `records` (raw, any form) page by page; `ids` places each, as the service would."""

    records: list[dict[str, Any]]
    ids: list[int]
    protocol: str
    reading: str = "exclusive"
    empty: bytes | None = None  # the body of an empty page; None: the protocol's usual form
    cursors: list[int] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        cursor, limit = bounce_page_asked(self.protocol, request)
        self.cursors.append(cursor)
        keep = (lambda i: i >= cursor) if self.reading == "inclusive" else (lambda i: i > cursor)
        rows = [r for r, i in zip(self.records, self.ids, strict=True) if keep(i)][:limit]
        if not rows and self.empty is not None:
            return httpx.Response(200, content=self.empty)
        if self.protocol == "json":
            return httpx.Response(200, content=json.dumps(rows).encode())
        return httpx.Response(200, content=xml_dump(rows))


async def stream(service: Service, **kwargs: Any) -> list[Bounce]:
    async with client(service.protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[service.protocol]).mock(side_effect=service)
        return [b async for b in mk.report.raw.bounces(**kwargs)]


# --- every field reaches the user -------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
async def test_documented_and_unknown_fields_all_reach_the_user(
    anyio_backend: str, protocol: str, reading: str
) -> None:
    records = [
        record(1, **ENGLISH_PAGE_EXTRA_FIELDS),
        record(2, **ENGLISH_PAGE_EXTRA_FIELDS, X_NEW="fbl-2", ID_CLICK="9"),
        record(3, X_NESTED={"a": ["1", "2"]}, **{"(extra)": "as sent"}),
        record(4),
    ]
    got = await stream(Service(records, [1, 2, 3, 4], protocol, reading), page_size=3)
    assert [b.undelivered_log_id for b in got] == [1, 2, 3, 4]
    first = got[0]
    assert (first.bounce_category, first.utm_campaign, first.campaign_name, first.subject) == (
        "bad-mailbox",
        "spring-sale",
        "Jarní výprodej",
        "Slevy až 50 %",
    )
    assert first.extra == {}
    assert got[1].extra == {"X_NEW": "fbl-2", "ID_CLICK": "9"}
    assert got[1].bounce_category == "bad-mailbox"
    assert got[2].extra == {"X_NESTED": {"a": ["1", "2"]}, "(extra)": "as sent"}
    assert got[3].extra == {} and got[3].bounce_category == ""
    # Every record has its own mapping: filling one never shows in another.
    assert got[0].extra is not got[3].extra


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
async def test_nulls_empty_and_zero_ids_follow_the_rules(
    anyio_backend: str, protocol: str, reading: str
) -> None:
    odd = record(
        2,
        EMAIL=None,
        TEXT_STATUS=None,
        ID_SEND="",
        ID_EMAIL="0",
        ID_MESSAGE=0,
        ID_USER_LIST=None,
        ID_SEND_MESSGE="n/a",
        STATUS=451,
    )
    records = [record(1), odd, record(3)]
    got = await stream(Service(records, [1, 2, 3], protocol, reading), page_size=5)
    assert [b.undelivered_log_id for b in got] == [1, 2, 3]
    bounce = got[1]
    assert (bounce.email, bounce.text_status, bounce.status) == ("", "", "451")
    assert (bounce.send_id, bounce.email_id, bounce.message_id, bounce.user_list_id) == (None,) * 4
    # A value that is not of its field's kind keeps the typed default and travels as sent.
    assert bounce.send_message_id is None
    assert bounce.extra == {"ID_SEND_MESSGE": "n/a"}
    # One odd record costs its neighbours nothing.
    plain = await stream(Service([record(1), record(3)], [1, 3], protocol, reading), page_size=5)
    assert [got[0], got[2]] == plain


# --- a record that cannot be placed -----------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("unusable", UNUSABLE_IDS)
@pytest.mark.parametrize("page_size", [3, 10])
async def test_an_unplaceable_record_is_named_and_can_be_skipped_deliberately(
    anyio_backend: str, protocol: str, reading: str, unusable: Any, page_size: int
) -> None:
    ids = [1, 2, 3, 4, 5, 6, 7]
    records = [record(i) for i in ids]
    records[2] = record(3, ID_UNDELIVERED_LOG=unusable)  # the service knows it as 3; we cannot
    service = Service(records, ids, protocol, reading)
    seen: list[int] = []
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=service)
        with pytest.raises(UnplacedRecordError) as info:
            async for bounce in mk.report.raw.bounces(page_size=page_size):
                seen.append(bounce.undelivered_log_id)
        error = info.value
        assert isinstance(error, ResponseDecodeError)
        # Everything before it was yielded, and the cursor stands on the last of those.
        assert seen == [1, 2]
        assert error.cursor == 2
        assert "after_id=2" in str(error)
        assert "user3@example.cz" in str(error)
        assert "ID_UNDELIVERED_LOG" in str(error)
        assert error.record is not None and error.record.email == "user3@example.cz"
        if unusable != "missing":
            assert error.record.extra["ID_UNDELIVERED_LOG"] == unusable
        assert error.following is not None
        held = [b.undelivered_log_id for b in error.following]
        assert held and held == ids[3 : 3 + len(held)]
        assert error.skip_after == held[-1]
        # Going past it deliberately loses nothing: the held records, then the rest.
        rest = [
            b.undelivered_log_id
            async for b in mk.report.raw.bounces(after_id=error.skip_after, page_size=page_size)
        ]
    assert seen + held + rest == [1, 2, 4, 5, 6, 7]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_unplaceable_record_alone_in_the_last_page_says_nothing_follows(
    anyio_backend: str, protocol: str
) -> None:
    records = [record(1), record(2, ID_UNDELIVERED_LOG=None)]
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=Service(records, [1, 2], protocol))
        with pytest.raises(UnplacedRecordError) as info:
            async for _ in mk.report.raw.bounces(page_size=5):
                pass
    assert info.value.cursor == 1
    assert info.value.skip_after is None and info.value.following == []


# --- page sizes -------------------------------------------------------------------------------


async def test_page_size_one_is_refused_before_anything_is_sent(anyio_backend: str) -> None:
    async with client("json") as mk, respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(JSON_PATH)
        with pytest.raises(InvalidParameterError, match="inclusive"):
            mk.report.raw.bounces(page_size=1)
        with pytest.raises(InvalidParameterError, match="at least 2"):
            mk.report.raw.bounce_pages(page_size=1)
        assert not route.called


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
async def test_the_smallest_page_size_loses_nothing(anyio_backend: str, protocol: str, reading: str) -> None:
    ids = [1, 2, 5, 6, 7, 10, 11, 12, 13, 20]
    got = await stream(Service([record(i) for i in ids], ids, protocol, reading), page_size=2)
    assert [b.undelivered_log_id for b in got] == ids


# --- empty, blank and single-object bodies ----------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("blank", [b"", b" ", b"\r\n", b" " * 65, b"\n\t " * 40_000])
async def test_empty_and_blank_bodies_end_the_stream_over_both_protocols(
    anyio_backend: str, protocol: str, reading: str, blank: bytes
) -> None:
    service = Service([record(1), record(2)], [1, 2], protocol, reading, empty=blank)
    got = await stream(service, page_size=5)
    assert [b.undelivered_log_id for b in got] == [1, 2]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_single_record_object_is_a_page_of_one(anyio_backend: str, protocol: str) -> None:
    one = record(7, **ENGLISH_PAGE_EXTRA_FIELDS, X_NEW="1")
    body = json.dumps(one).encode() if protocol == "json" else xml_dump(one)
    empty = b"[]" if protocol == "json" else xml_dump([])
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(
            side_effect=[httpx.Response(200, content=body), httpx.Response(200, content=empty)]
        )
        got = [b async for b in mk.report.raw.bounces()]
    assert [b.undelivered_log_id for b in got] == [7]
    assert got[0].bounce_category == "bad-mailbox" and got[0].extra == {"X_NEW": "1"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("answer", [{"error_status": 1, "error": "Unauthorized"}, {"error": "Bad parameter"}])
async def test_an_error_object_is_still_a_refusal_not_a_record(
    anyio_backend: str, protocol: str, answer: dict[str, Any]
) -> None:
    body = json.dumps(answer).encode() if protocol == "json" else xml_dump(answer)
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=body)
        with pytest.raises(APIError, match=answer["error"]):
            [b async for b in mk.report.raw.bounces()]


# --- XML-RPC encodings, CDATA and comments ----------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-2", "windows-1250", "utf-16", "utf-16-le", "cp852"])
async def test_xmlrpc_pages_are_read_in_their_declared_encoding(anyio_backend: str, encoding: str) -> None:
    text = "smtp; 550 Uživatel neexistuje \u2013 schránka zrušena"
    rows = [record(1, TEXT_STATUS=text, SUBJECT="Žluťoučký kůň")]
    name = "utf-16" if encoding.startswith("utf-16") else encoding
    declared = xmlrpc.client.dumps((rows,), methodresponse=True, allow_none=True, encoding=name)
    body = declared.encode(encoding, "xmlcharrefreplace")
    if encoding == "utf-16-le":
        assert not body.startswith(b"\xff\xfe")  # no BOM: found by the form of "<?"
    async with client("xmlrpc") as mk, respx.mock(base_url=BASE) as mock:
        mock.post(XMLRPC_PATH).mock(
            side_effect=[httpx.Response(200, content=body), httpx.Response(200, content=xml_dump([]))]
        )
        got = [b async for b in mk.report.raw.bounces()]
    assert (got[0].text_status, got[0].subject) == (text, "Žluťoučký kůň")


def test_a_declared_latin1_body_is_never_read_as_utf8() -> None:
    # "Å™" in Latin-1 is the byte pair of UTF-8's "ř": the declaration decides which it is.
    body = xml_dump("Å™", "iso-8859-1")
    assert get_codec("xmlrpc").decode(BOUNCES, body) == "Å™"


def test_cdata_and_comments_may_quote_markup_but_a_dtd_is_still_refused() -> None:
    codec = get_codec("xmlrpc")
    page = xml_dump([record(1, TEXT_STATUS="PLACEHOLDER")])
    quoting = page.replace(
        b"PLACEHOLDER", b"<![CDATA[smtp; 554 <!DOCTYPE html><html>&nbsp;</html>]]><!-- <!ENTITY x 'y'> -->"
    )
    (bounce,) = codec.decode_bounces(BOUNCES, quoting)  # type: ignore[misc]
    assert bounce.text_status == "smtp; 554 <!DOCTYPE html><html>&nbsp;</html>"
    hostile = page.replace(b"<methodResponse>", b'<!DOCTYPE m [<!ENTITY x "y">]><methodResponse>')
    with pytest.raises(ResponseDecodeError, match="DTD"):
        codec.decode_bounces(BOUNCES, hostile)
    unknown = page.replace(b"<?xml version='1.0'?>", b"<?xml version='1.0' encoding='no-such'?>")
    with pytest.raises(ResponseDecodeError, match="encoding"):
        codec.decode_bounces(BOUNCES, unknown)


# --- decode_bounces: one entry point, a page or any slice of one ----------------------------


@pytest.mark.parametrize("odd", [False, True])
def test_decode_bounces_reads_any_json_array_of_records(odd: bool) -> None:
    codec = get_codec("json")
    extra = {"X_NEW": "1", "EMAIL": None} if odd else ENGLISH_PAGE_EXTRA_FIELDS
    records = [record(i, **extra) for i in range(1, 9)]
    page = codec.decode_bounces(BOUNCES, json.dumps(records).encode())
    assert isinstance(page, list) and len(page) == 8
    pieces = [json.dumps(r).encode() for r in records[2:5]]
    rejoined = b"[" + b",".join(pieces) + b"]"
    assert codec.decode_bounces(BOUNCES, rejoined) == page[2:5]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_records_that_are_not_objects_are_a_decode_error(protocol: str) -> None:
    codec = get_codec(protocol)
    value = [record(1), "junk"]
    body = json.dumps(value).encode() if protocol == "json" else xml_dump(value)
    with pytest.raises(ResponseDecodeError, match="record 2"):
        codec.decode_bounces(BOUNCES, body)


# --- answers recorded by the public clients ---------------------------------------------------


def test_the_java_clients_record_shape_decodes() -> None:
    raw = {name: "7" if name.startswith("ID_") else f"{name.lower()} text" for name in JAVA_RAW_BOUNCE_FIELDS}
    (bounce,) = get_codec("json").decode_bounces(BOUNCES, json.dumps([raw]).encode())  # type: ignore[misc]
    assert bounce.undelivered_log_id == 7 and bounce.send_message_id == 7
    assert bounce.remote_mta == "remote_mta text" and bounce.extra == {}


@pytest.mark.parametrize(
    ("protocol", "body", "target", "expected"),
    [
        (
            "json",
            PHP_UNSUBSCRIBE_OK_JSON,
            "example@example.cz",
            Unsubscription(282837490, "example@example.cz", None),
        ),
        (
            "xmlrpc",
            PHP_UNSUBSCRIBE_OK_XML,
            "example@example.cz",
            Unsubscription(282837490, "example@example.cz", None),
        ),
        ("json", PHP_UNSUBSCRIBE_OK_JSON, 282837490, Unsubscription(282837490, None, None)),
    ],
)
async def test_recorded_unsubscribe_answers(
    anyio_backend: str, protocol: str, body: bytes, target: str | int, expected: Unsubscription
) -> None:
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=body)
        assert await mk.email.unsubscribe(target) == expected


@pytest.mark.parametrize(
    ("protocol", "body"), [("json", PHP_REVALIDATE_OK_JSON), ("xmlrpc", PHP_REVALIDATE_OK_XML)]
)
@pytest.mark.parametrize("agreement", [True, False])
async def test_recorded_revalidate_answers(
    anyio_backend: str, protocol: str, body: bytes, agreement: bool
) -> None:
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=body)
        got = await mk.email.revalidate("example@example.cz", agreement=agreement)
    # The outcome text says what happened, whatever was asked.
    assert got == Revalidation(email="example@example.cz", email_id=None, revalidated=True)


@pytest.mark.parametrize(
    ("protocol", "body", "error", "text"),
    [
        (
            "json",
            PHP_REVALIDATE_NOT_UNSUBSCRIBED_JSON,
            NotUnsubscribedError,
            "doesNotExist is not unsubscribed",
        ),
        (
            "xmlrpc",
            PHP_REVALIDATE_NOT_UNSUBSCRIBED_XML,
            NotUnsubscribedError,
            "doesNotExist is not unsubscribed",
        ),
        ("json", PHP_UNSUBSCRIBE_FAILED_JSON, APIError, "Invalid ID_email or email"),
        ("xmlrpc", PHP_UNSUBSCRIBE_FAILED_XML, APIError, "Invalid ID_email or email"),
    ],
)
async def test_recorded_refusals(
    anyio_backend: str, protocol: str, body: bytes, error: type[APIError], text: str
) -> None:
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=body)
        with pytest.raises(error) as info:
            if error is NotUnsubscribedError:
                await mk.email.revalidate("doesNotExist@example.cz", agreement=True)
            else:
                await mk.email.unsubscribe("doesNotExist@example.cz")
    assert type(info.value) is error and info.value.message == text


# --- one rule for IDs in every answer ---------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_mass_send_rows_follow_the_same_id_rule(anyio_backend: str, protocol: str) -> None:
    row = {
        "ERROR_CODE": "2",
        "INFO": None,
        "DATE": "2024-05-13 12:45:00",
        "EMAIL": "a@b.cz",
        "ID_EMAIL": "",
        "ID_SEND": "0",
        "ID_SEND_MESSAGE": None,
    }
    answer = {
        "status": "ERROR",
        "error_status": 1,
        "results": [row, {**row, "ID_EMAIL": "15", "ID_SEND": 16}],
    }
    body = json.dumps(answer).encode() if protocol == "json" else xml_dump(answer)
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).respond(200, content=body)
        results = await mk.sendmail_mass.results(55)
    first, second = results.errors
    assert (first.code, first.info, first.email_id, first.send_id, first.send_message_id) == (
        2,
        "",
        None,
        None,
        None,
    )
    assert (second.email_id, second.send_id) == (15, 16)


# --- the fast way for JSON pages with undocumented fields agrees with the general one --------

TRICKY_UNKNOWN: list[dict[str, Any]] = [
    {"X_NEW": "first key", **record(1)},  # the first key of its object
    {**record(2), "X_NEW": "last key"},
    record(3, X_NEW=7, TEXT_STATUS='quotes a,"X_NEW":"not a field" inside'),
    record(4, X_NEW='escaped \\" and ", inside', Y_OTHER=None),
    record(5, X_NEW=True, Y_OTHER=-1.5e3),
    record(6),
    record(7, X_NEW={"nested": ["value"]}),  # cannot be cut: the general second look
]


@pytest.mark.parametrize("count", [6, 7])
@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_unknown_fields_in_any_position_and_form_reach_extra(count: int, separators: tuple[str, str]) -> None:
    records = TRICKY_UNKNOWN[:count]
    body = json.dumps(records, separators=separators).encode()
    page = get_codec("json").decode_bounces(BOUNCES, body)
    assert isinstance(page, list)
    # Every form (compact or spaced, scalar or nested values) takes the fast way, and it gives
    # the same records as the general second look.
    fast = with_unknown_fields(body, "X_NEW", msgspec.json.Decoder(list[Bounce], strict=False))
    assert fast is not None
    assert fast == page
    assert fast == RecordReader(Bounce, extra="extra").second_look(json.loads(body))
    assert [b.undelivered_log_id for b in page] == list(range(1, count + 1))
    for raw, bounce in zip(records, page, strict=True):
        assert bounce.extra == {k: v for k, v in raw.items() if k in ("X_NEW", "Y_OTHER")}
    assert page[2].text_status == 'quotes a,"X_NEW":"not a field" inside'
    # The same records over XML-RPC (no fast way there) decode identically.
    assert get_codec("xmlrpc").decode_bounces(BOUNCES, xml_dump(records)) == page


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "echo",
    [
        pytest.param(lambda s: s, id="whole"),
        pytest.param(lambda s: s[2:9], id="piece"),
        pytest.param(lambda s: s[1:10].upper(), id="piece-other-case"),
    ],
)
async def test_an_unplaceable_record_quoting_the_secret_is_not_kept(
    anyio_backend: str, protocol: str, echo: Any
) -> None:
    # The record and its neighbours are objects on the error, out of reach of the exit's redaction.
    records = [record(1), record(2, ID_UNDELIVERED_LOG="x", TEXT_STATUS=f"550 {echo(MD5)}")]
    records.append(record(3))
    async with client(protocol) as mk, respx.mock(base_url=BASE) as mock:
        mock.post(PATHS[protocol]).mock(side_effect=Service(records, [1, 2, 3], protocol))
        with pytest.raises(UnplacedRecordError) as info:
            async for _ in mk.report.raw.bounces(page_size=5):
                pass
    assert info.value.record is None and info.value.following is None
    assert info.value.skip_after == 3
