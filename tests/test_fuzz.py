"""Property-based tests: arbitrary and mutated bodies through every decoder and every typed call.

Whatever the service (or something in front of it) answers, only a valid result or a
`MailkitError` subclass comes out: never another exception, never a hang. Bodies are arbitrary
bytes, byte-level mutations (flips, truncation, insertion, duplication, deletion, hostile tokens)
of every answer the documentation prints (tests/_docs.py), and structured values (`st.recursive`)
in the shape of each function's answer, odd types included. The examples run are counted and
printed (``-s``).

Hypothesis is derandomized and keeps no example database: every run, here and in CI, is the same.
"""

from __future__ import annotations

import json
import xmlrpc.client
from collections import Counter
from collections.abc import Iterator
from typing import Any

import _docs as docs
import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.calls import EVERY_CALL, GENERIC
from support.clients import CLIENT_ID, MD5, PROTOCOLS
from support.leaks import assert_no_secret
from support.properties import reproducible
from support.wire import xml_dump, xml_fault

from mailkit_async import (
    APIError,
    Bounce,
    Mailkit,
    MailkitError,
    ResponseDecodeError,
    RetryPolicy,
)
from mailkit_async._codecs._json import JSON_CODEC
from mailkit_async._codecs._xmlrpc import XMLRPC_CODEC
from mailkit_async._secrets import EXCERPT_LIMIT, WINDOW
from mailkit_async._service import BOUNCES, DOCUMENTED, SCHEDULE

pytestmark = pytest.mark.anyio

EXAMPLES: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()  # of the typed calls made end to end

FUZZ = reproducible(HealthCheck.data_too_large, HealthCheck.filter_too_much)


@pytest.fixture(scope="module", autouse=True)
def _count_examples() -> Iterator[None]:
    yield
    print(f"\nfuzz: {sum(EXAMPLES.values())} examples run: {dict(sorted(EXAMPLES.items()))}")
    print(f"fuzz: {sum(OUTCOMES.values())} typed calls made end to end: {dict(OUTCOMES.most_common())}")


# --- the documented answers (tests/_docs.py), the seeds of the mutations -----------------------------

FAULT_XML = xml_fault(-32601, "Unknown function")

XML_ANSWERS: list[bytes] = [
    docs.SCHEDULE_OK_XML,
    docs.SCHEDULE_OK_XML.replace(b"rrrr-mm-dd hh:mm:ss", b"2022-05-13 12:45:00"),
    docs.SCHEDULE_FAILED_XML,
    docs.REVALIDATE_OK_XML,
    docs.REVALIDATE_FAILED_XML,
    docs.UNSUBSCRIBE_OK_XML,
    docs.UNSUBSCRIBE_FAILED_XML,
    docs.RAW_BOUNCES_XML,
    docs.MASS_RESULTS_OK_XML,
    docs.MASS_RESULTS_ERRORS_XML,
    FAULT_XML,
    xmlrpc.client.dumps(("Unauthorized",), methodresponse=True).encode(),
    b'<?xml version="1.0" encoding="utf-8"?>\n<methodResponse><params/></methodResponse>\n',
]

BOUNCE_RECORDS: list[dict[str, Any]] = docs.RAW_BOUNCES_JSON

JSON_OBJECTS: list[dict[str, Any]] = [
    docs.SCHEDULE_OK_JSON,
    docs.SCHEDULE_FAILED_JSON,
    docs.REVALIDATE_OK_JSON,
    {**docs.REVALIDATE_OK_JSON, "error": "Email has been revalidated"},  # the page's other success text
    docs.REVALIDATE_FAILED_JSON,
    docs.UNSUBSCRIBE_OK_JSON,
    docs.UNSUBSCRIBE_FAILED_JSON,
    docs.MASS_RESULTS_OK_JSON,
    docs.MASS_RESULTS_ERRORS_JSON,
    {"error_status": 1, "error": "Unauthorized"},
    {"error_status": "1", "error": "Disallowed IP 10.0.0.1"},
]

JSON_ANSWERS: list[bytes] = [
    *(json.dumps(value, indent=2).encode() for value in JSON_OBJECTS),
    json.dumps(BOUNCE_RECORDS, indent=1).encode(),
    b"[]",
    b"{}",
    b'""',
]

ANSWERS = [*XML_ANSWERS, *JSON_ANSWERS]
FUNCTIONS = [*DOCUMENTED, GENERIC]


def test_the_corpus_is_what_the_calls_accept() -> None:
    # Every documented answer decodes with its own protocol: mutations start from real answers.
    for body in XML_ANSWERS:
        try:
            XMLRPC_CODEC.decode(SCHEDULE, body)
        except APIError:
            assert body == FAULT_XML
    for body in JSON_ANSWERS:
        JSON_CODEC.decode(SCHEDULE, body)
    assert len(XMLRPC_CODEC.decode_bounces(BOUNCES, docs.RAW_BOUNCES_XML)) == 2  # type: ignore[arg-type]
    assert len(JSON_CODEC.decode_bounces(BOUNCES, JSON_ANSWERS[-4])) == 2  # type: ignore[arg-type]


# --- strategies ----------------------------------------------------------------------------------------

TOKENS = [
    b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&lol;", b"]]>", b"<![CDATA[", b"<!--",
    b"<!DOCTYPE x>", b'<!ENTITY e "v">', b"<?xml", b"</value>", b"<value>", b"<struct>", b"</struct>",
    b"<array><data>", b"</data></array>", b"<member>", b"<name>", b"<i4>", b"</i4>", b"<i8>99999999999999999999</i8>",
    b"<double>1e999</double>", b"<boolean>2</boolean>", b"<base64>!!</base64>", b"<nil/>", b"<fault>",
    b'"', b"\\", b"\\u0000", b"\\ud800", b"{", b"}", b"[", b"]", b",", b":", b"null", b"true", b"1e999",
    b"-0", b"99999999999999999999999", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf",
    b"\r\n", b"\t", b" " * 70, b"Unauthorized", b"OK, send_date: ", b"0000-00-00", b"@",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes] = ANSWERS) -> bytes:
    """A documented answer with one to four byte-level mutations."""
    body = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        op = draw(st.sampled_from(["flip", "truncate", "insert", "token", "duplicate", "delete"]))
        if op == "flip" and at < len(body):
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del body[at:]
        elif op == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "token":
            body[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "duplicate":
            end = draw(st.integers(at, min(len(body), at + 400)))
            body[at:at] = body[at:end] * draw(st.integers(1, 3))
        else:
            end = draw(st.integers(at, min(len(body), at + 50)))
            del body[at:end]
    return bytes(body)


STRINGS = [
    "", " ", "0", "1", "2", "-1", "00", "1.5", "1e999", "NaN", "inf", "0x10", "12345678901234567890123",
    "OK", "ok", "ERROR", "OK, send_date: 2022-05-13 12:45:00 (Europe/Prague)", "OK, send_date: 0000-00-00 00:00:00",
    "OK, send_date: 2022-13-45 25:61:00", "OK, send_date: 2022-05-13", "OK (", "Email has been revalidated",
    "Sent subscribe email", "Email is not unsubscribed", "a@b.cz is not unsubscribed", "Unauthorized",
    "Disallowed IP 1.2.3.4", "a@b.cz", "@", "2020-09-07 14:24:13", "2020-02-30 00:00:00", "9999-12-31 23:59:59",
    MD5,
]  # fmt: skip
KEYS = [
    "error_status", "error", "status", "results", "email", "ID_email", "ID_EMAIL", "ERROR_CODE", "INFO", "DATE",
    "EMAIL", "ID_SEND", "ID_SEND_MESSAGE", "faultCode", "faultString", *BOUNCE_RECORDS[0],
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(STRINGS)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def _patched(base: dict[str, Any], patch: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    merged = {**base, **patch}
    for key in dropped:
        merged.pop(key, None)
    return merged


# A documented answer with some of its fields replaced by arbitrary values, or removed.
json_answers = st.builds(
    _patched,
    st.sampled_from(JSON_OBJECTS),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3),
    st.lists(st.sampled_from(KEYS), max_size=2),
)


def patched_pages(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Pages of up to four documented bounce records, some fields set to `values` or removed."""
    fields = list(BOUNCE_RECORDS[0])
    record = st.builds(
        _patched,
        st.sampled_from(BOUNCE_RECORDS),
        st.dictionaries(st.sampled_from(fields), values, max_size=3),
        st.lists(st.sampled_from(fields), max_size=2),
    )
    return st.lists(record, max_size=4)


bounce_pages = patched_pages(json_values)
json_structures = json_values | json_answers | bounce_pages

xml_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
xml_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | xml_text
    | st.sampled_from(STRINGS)
    | st.binary(max_size=8).map(xmlrpc.client.Binary)
)
xml_values = st.recursive(
    xml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | xml_text, inner, max_size=5)
    ),
    max_leaves=25,
)


xml_structures = (
    xml_values.map(xml_dump)
    | st.builds(xml_fault, st.integers(-(2**31), 2**31 - 1), xml_text)
    | patched_pages(xml_values).map(xml_dump)
)


# --- the checks ----------------------------------------------------------------------------------------


def check_error(error: MailkitError, function: str, *, redacted: bool = True) -> None:
    """A typed error that says which function it concerns and renders without trouble; out of the
    client (`redacted`), it never quotes the md5 (the codecs alone do not know the secret)."""
    assert error.function == function
    str(error)
    repr(error)
    if redacted:
        assert_no_secret(error, rendered=False)
    if isinstance(error, ResponseDecodeError):
        # Inner layers keep a window; the excerpt is cut short where it leaves the client.
        assert len(error.excerpt) <= (EXCERPT_LIMIT if redacted else WINDOW)


def decode_everywhere(body: bytes) -> None:
    for codec in (JSON_CODEC, XMLRPC_CODEC):
        for function in FUNCTIONS:
            for decode in (codec.decode, codec.decode_bounces):
                try:
                    value = decode(function, bytearray(body))  # what the transport hands over
                except MailkitError as error:
                    check_error(error, function, redacted=False)
                else:
                    if decode == codec.decode_bounces and isinstance(value, list):
                        assert all(type(record) is Bounce for record in value)


class Replies:
    """Clients of both protocols answered in-process by whatever body the example set."""

    def __init__(self) -> None:
        self.body = b""
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=self.body))
        self.http = httpx.AsyncClient(transport=transport)

    def client(self, protocol: str) -> Mailkit:
        # A client belongs to the event loop it is used in: a fresh one per example (cheap).
        return Mailkit(
            CLIENT_ID, MD5, protocol=protocol, http_client=self.http, retry=RetryPolicy(attempts=1)
        )  # type: ignore[arg-type]


REPLIES = Replies()  # MockTransport keeps no connections: one httpx client serves every event loop


async def every_call(protocol: str, body: bytes) -> Counter[str]:
    """Every typed call against `body`: a result of the right type or a typed error, at once."""
    REPLIES.body = body
    mk = REPLIES.client(protocol)
    outcomes: Counter[str] = Counter()
    for name, (function, invoke, types) in EVERY_CALL.items():
        try:
            with anyio.fail_after(5):  # a hang fails the example (TimeoutError is not a MailkitError)
                result = await invoke(mk)
        except MailkitError as error:
            check_error(error, function)
            outcomes[type(error).__name__] += 1
        else:
            assert isinstance(result, types), f"{name}: {result!r}"
            if name == "bounces":
                assert all(type(record) is Bounce for record in result)
            outcomes["ok"] += 1
    OUTCOMES.update(outcomes)
    return outcomes


# --- the properties ------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=1000)
@given(body=st.binary(max_size=3000))
def test_decoders_on_arbitrary_bytes(body: bytes) -> None:
    EXAMPLES["decoders/arbitrary-bytes"] += 1
    decode_everywhere(body)


@settings(FUZZ, max_examples=2000)
@given(body=mutated())
def test_decoders_on_mutated_documented_answers(body: bytes) -> None:
    EXAMPLES["decoders/mutated-answers"] += 1
    decode_everywhere(body)


@settings(FUZZ, max_examples=800)
@given(value=json_structures, indent=st.sampled_from([None, 1]))
def test_decoders_on_structured_json(value: Any, indent: int | None) -> None:
    EXAMPLES["decoders/json-structures"] += 1
    decode_everywhere(json.dumps(value, indent=indent).encode())


@settings(FUZZ, max_examples=600)
@given(body=xml_structures)
def test_decoders_on_structured_xmlrpc(body: bytes) -> None:
    EXAMPLES["decoders/xmlrpc-structures"] += 1
    decode_everywhere(body)


@settings(FUZZ, max_examples=250)
@given(body=st.binary(max_size=2000))
async def test_every_call_on_arbitrary_bytes(anyio_backend: str, body: bytes) -> None:
    EXAMPLES["calls/arbitrary-bytes"] += 1
    for protocol in PROTOCOLS:
        await every_call(protocol, body)


@settings(FUZZ, max_examples=400)
@given(body=mutated())
async def test_every_call_on_mutated_documented_answers(anyio_backend: str, body: bytes) -> None:
    EXAMPLES["calls/mutated-answers"] += 1
    for protocol in PROTOCOLS:
        await every_call(protocol, body)


@settings(FUZZ, max_examples=400)
@given(value=json_structures)
async def test_every_call_interprets_any_json_value(anyio_backend: str, value: Any) -> None:
    EXAMPLES["calls/json-structures"] += 1
    await every_call("json", json.dumps(value).encode())


@settings(FUZZ, max_examples=300)
@given(body=xml_structures)
async def test_every_call_interprets_any_xmlrpc_value(anyio_backend: str, body: bytes) -> None:
    EXAMPLES["calls/xmlrpc-structures"] += 1
    await every_call("xmlrpc", body)


@settings(FUZZ, max_examples=250)
@given(error_status=json_values, error=json_values, extra=st.sampled_from(JSON_OBJECTS))
async def test_error_status_of_any_type(
    anyio_backend: str, error_status: Any, error: Any, extra: dict[str, Any]
) -> None:
    # The generic failure form, and each documented answer, with odd error_status/error values.
    EXAMPLES["calls/error-status"] += 1
    await every_call("json", json.dumps({"error_status": error_status, "error": error}).encode())
    await every_call("json", json.dumps({**extra, "error_status": error_status}).encode())


@pytest.mark.parametrize("body", ANSWERS, ids=lambda body: body[:40].decode(errors="replace"))
async def test_every_documented_answer_through_every_call(anyio_backend: str, body: bytes) -> None:
    # The unmutated corpus: the baseline the mutations start from (and proof it reaches success paths).
    outcomes = Counter[str]()
    for protocol in PROTOCOLS:
        outcomes += await every_call(protocol, body)
    assert sum(outcomes.values()) == 2 * len(EVERY_CALL)
