"""Hostile answers: each ends in a typed `MailkitError`, quickly and in bounded memory.

XML bombs and entity tricks, external entities and DTDs (nothing is fetched), deep nesting, bodies
over `max_response_bytes` (refused while reading, not after), wrong content types, HTML pages with
200, truncated bodies and invalid UTF-8: through every typed call, over both protocols where the
form means anything to them.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import tracemalloc
import xmlrpc.client
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import pytest
from support.calls import EVERY_CALL
from support.clients import MD5, PROTOCOLS, body_client, loopback_client, new_emulator
from support.leaks import assert_no_secret
from support.pool import checked_out
from support.wire import methodresponse

from mailkit_async import (
    APIError,
    Mailkit,
    MailkitError,
    ResponseDecodeError,
    RetryPolicy,
    TransportError,
    Unsubscription,
)
from mailkit_async._service import BOUNCES, UNSUBSCRIBE
from mailkit_async.testing import Fault

pytestmark = pytest.mark.anyio

MB = 1024 * 1024
MEMORY_BOUND = 50 * MB
TIME_BOUND = 2.0


@contextmanager
def bounded(memory: int = MEMORY_BOUND, seconds: float = TIME_BOUND) -> Iterator[dict[str, float]]:
    """Assert that the block allocates at most `memory` bytes at its peak and ends in `seconds`."""
    measured: dict[str, float] = {}
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        yield measured
        measured["seconds"] = time.perf_counter() - started
        measured["peak"] = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert measured["peak"] < memory, f"peak {measured['peak'] / MB:.1f} MiB"
    assert measured["seconds"] < seconds, f"took {measured['seconds']:.2f} s"


def answer(body: bytes, content_type: str = "text/xml", status: int = 200) -> Callable[..., httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    return respond


async def every_call_refuses(
    mk: Mailkit, error: type[MailkitError] = ResponseDecodeError, *, calls: list[str] | None = None
) -> list[MailkitError]:
    """Run every typed call against the same answer; each must raise `error` (exactly that type)."""
    caught: list[MailkitError] = []
    for name in calls or list(EVERY_CALL):
        function, invoke, _ = EVERY_CALL[name]
        with pytest.raises(MailkitError) as info:
            await invoke(mk)
        assert type(info.value) is error, f"{name}: {info.value!r}"
        assert info.value.function == function
        assert_no_secret(info.value)
        # Keep the error, not its frames: they hold the body (and memory is being measured).
        caught.append(info.value.with_traceback(None))
    return caught


# --- XML: entities, DTDs, nothing expanded and nothing fetched ---------------------------------------


def _laughs() -> str:
    entities = [' <!ENTITY lol0 "lol">']
    entities += [f' <!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(entities)
        + "\n]>\n"
        + methodresponse("<string>&lol9;</string>")
    )


# Ten levels of ten references: 10**9 "lol"s from a body of under 1 kB.
BILLION_LAUGHS = _laughs()

# One 100 kB entity referenced 20 000 times: a 160 kB body that expands to 2 GB.
QUADRATIC_BLOWUP = f'<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY a "{"A" * 100_000}">]>\n' + methodresponse(
    "<string>" + "&a;" * 20_000 + "</string>"
)

EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE methodResponse [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + methodresponse("<string>&xxe;</string>")
)

DOCTYPE_ALONE = '<?xml version="1.0"?>\n<!DOCTYPE methodResponse>\n' + methodresponse("<i4>42</i4>")


def external_dtd(url: str) -> str:
    return f'<?xml version="1.0"?>\n<!DOCTYPE methodResponse SYSTEM "{url}">\n' + methodresponse(
        "<i4>42</i4>"
    )


def parameter_entities(url: str) -> str:
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE methodResponse [\n'
        f' <!ENTITY % remote SYSTEM "{url}">\n %remote;\n'
        " <!ENTITY % inner \"<!ENTITY leak 'x'>\">\n %inner;\n]>\n"
        + methodresponse("<string>&leak;</string>")
    )


def test_the_bombs_are_what_they_claim() -> None:
    # The fixtures themselves: well-formed bombs a naive parser would expand.
    assert BILLION_LAUGHS.count("&lol8;") == 10
    assert BILLION_LAUGHS.count("<!ENTITY") == 10
    assert len(BILLION_LAUGHS) < 1_000
    assert 100_000 < len(QUADRATIC_BLOWUP) < 200_000
    assert QUADRATIC_BLOWUP.count("&a;") == 20_000


@contextmanager
def fetch_watch() -> Iterator[tuple[str, Callable[[], bool]]]:
    """A loopback URL, and a probe telling whether anything connected to it (fetched the DTD)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/evil.dtd"

    def fetched() -> bool:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    try:
        yield url, fetched
    finally:
        listener.close()


def test_the_fetch_probe_sees_a_fetch() -> None:
    with fetch_watch() as (url, fetched):
        assert not fetched()
        port = int(url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port)):
            time.sleep(0.05)
            assert fetched()


HOSTILE_XML = {
    "billion-laughs": lambda url: BILLION_LAUGHS,
    "quadratic-blowup": lambda url: QUADRATIC_BLOWUP,
    "external-entity-file": lambda url: EXTERNAL_ENTITY,
    "external-entity-http": lambda url: EXTERNAL_ENTITY.replace("file:///etc/passwd", url),
    "external-dtd-http": external_dtd,
    "external-dtd-file": lambda url: external_dtd("file:///etc/passwd"),
    "parameter-entities": parameter_entities,
    "doctype-alone": lambda url: DOCTYPE_ALONE,
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("form", list(HOSTILE_XML))
async def test_hostile_xml_is_refused_unexpanded_and_unfetched(
    anyio_backend: str, form: str, protocol: str
) -> None:
    with fetch_watch() as (url, fetched):
        body = HOSTILE_XML[form](url).encode()
        async with body_client(protocol, answer(body)) as mk:
            with bounded():
                errors = await every_call_refuses(mk)
        assert not fetched()
    for error in errors:
        text = str(error)
        assert "root:" not in text and "root:" not in error.excerpt  # nothing of /etc/passwd
        assert "lollollol" not in text  # nothing expanded
        assert len(text) < 1_000
        if protocol == "xmlrpc":
            assert "DTD" in text or "DOCTYPE" in text


async def test_hostile_xml_over_loopback(anyio_backend: str) -> None:
    # The same refusal when the bomb comes over a real socket, with retries on: not retried.
    emu = new_emulator()
    emu.faults.add(Fault.body(BILLION_LAUGHS.encode(), content_type="text/xml"), times=None)
    with emu.serve() as server:
        async with loopback_client(server.url, "xmlrpc", retry=RetryPolicy(attempts=4, backoff=0)) as mk:
            with bounded():
                await every_call_refuses(mk)
            assert checked_out(mk) == 0
    assert sum(emu.requests.values()) == len(EVERY_CALL)


# --- deep nesting ------------------------------------------------------------------------------------

DEPTH = 100_000


def nested_xml(kind: str, depth: int = DEPTH) -> bytes:
    if kind == "arrays":
        inner = "<array><data><value>" * depth + "<i4>1</i4>" + "</value></data></array>" * depth
    else:
        inner = (
            "<struct><member><name>n</name><value>" * depth
            + "<i4>1</i4>"
            + "</value></member></struct>" * depth
        )
    return methodresponse(inner).encode()


def nested_json(kind: str, depth: int = DEPTH) -> bytes:
    if kind == "arrays":
        return b"[" * depth + b"1" + b"]" * depth
    if kind == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    # Deep inside a bounce record, where the page decoder meets it.
    return b'[{"ID_UNDELIVERED_LOG": "1", "EMAIL": ' + b"[" * depth + b"]" * depth + b"}]"


@pytest.mark.parametrize("kind", ["arrays", "structs"])
async def test_deeply_nested_xmlrpc_values(anyio_backend: str, kind: str) -> None:
    async with body_client("xmlrpc", answer(nested_xml(kind))) as mk:
        with bounded():
            errors = await every_call_refuses(mk)
    assert all("deeper than" in str(e) for e in errors)


@pytest.mark.parametrize("kind", ["arrays", "objects", "in-a-bounce-record"])
async def test_deeply_nested_json(anyio_backend: str, kind: str) -> None:
    async with body_client("json", answer(nested_json(kind), "application/json")) as mk:
        with bounded():
            await every_call_refuses(mk)


# --- bodies over max_response_bytes --------------------------------------------------------------------

CAP = 1 * MB
HUGE = 200 * MB
CHUNK = 64 * 1024


class HugeBody:
    """An async byte stream of `total` bytes, made lazily, counting what the client pulled."""

    def __init__(self, total: int = HUGE, chunk: int = CHUNK) -> None:
        self.total = total
        self.piece = b" " * chunk  # JSON white space: only the cap can stop it, not a parse error
        self.produced = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.produced < self.total:
            self.produced += len(self.piece)
            yield self.piece


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("length", ["honest-content-length", "chunked"])
@pytest.mark.parametrize("call", ["unsubscribe", "bounces"])
async def test_huge_body_is_refused_while_reading(
    anyio_backend: str, protocol: str, length: str, call: str
) -> None:
    body = HugeBody()
    requests: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        headers = {"Content-Type": "application/json"}
        if length == "honest-content-length":
            headers["Content-Length"] = str(HUGE)
        return httpx.Response(200, headers=headers, content=body)  # chunked when no length is given

    function, invoke, _ = EVERY_CALL[call]
    retry = RetryPolicy(attempts=4, backoff=0)  # a refused body is not transient: never re-fetched
    async with body_client(protocol, respond, max_response_bytes=CAP, retry=retry) as mk:
        with bounded(memory=8 * MB) as measured, pytest.raises(ResponseDecodeError) as info:
            await invoke(mk)
    assert info.value.function == function
    assert "max_response_bytes" in str(info.value)
    assert len(requests) == 1
    if length == "honest-content-length":
        assert body.produced == 0  # refused on the header: not a byte read
    else:
        assert CAP <= body.produced <= CAP + 2 * CHUNK  # stopped right after the cap
    print(
        f"\nhuge[{protocol}, {length}]: read {body.produced / MB:.2f} MiB of {HUGE // MB} MiB, peak {measured['peak'] / MB:.1f} MiB"
    )


class StreamingServer:
    """A loopback HTTP/1.1 server answering one request with a huge body, sent lazily; `sent`
    counts the bytes the kernel accepted before the client hung up."""

    def __init__(self, mode: str, total: int = HUGE, chunk: int = CHUNK) -> None:
        self.mode = mode
        self.total = total
        self.chunk = chunk
        self.sent = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        conn.settimeout(10)
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
            while match and len(rest) < int(match[1]):
                rest += conn.recv(65536)
            lines = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
            piece = b" " * self.chunk
            if self.mode == "content-length":
                lines.append(f"Content-Length: {self.total}")
            elif self.mode == "chunked":
                lines.append("Transfer-Encoding: chunked")
                piece = f"{self.chunk:x}\r\n".encode() + piece + b"\r\n"
            else:  # the body ends when the connection does
                lines.append("Connection: close")
            try:
                conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
                while self.sent < self.total:
                    conn.sendall(piece)
                    self.sent += self.chunk
            except OSError:
                pass  # the client hung up: what the test expects

    def join(self) -> int:
        self._thread.join(10)
        self._listener.close()
        assert not self._thread.is_alive()
        return self.sent


@pytest.mark.parametrize("mode", ["content-length", "chunked", "close-delimited"])
async def test_huge_body_over_loopback_stops_the_download(anyio_backend: str, mode: str) -> None:
    server = StreamingServer(mode)
    try:
        async with loopback_client(server.url, max_response_bytes=CAP, read=5.0) as mk:
            with bounded(memory=8 * MB), pytest.raises(ResponseDecodeError) as info:
                await mk.email.unsubscribe("a@example.com")
            assert checked_out(mk) == 0
    finally:
        sent = server.join()
    assert "max_response_bytes" in str(info.value)
    # What the server got rid of before the client hung up: the part read, plus what the kernel's
    # socket buffers took. Nowhere near the 200 MiB it meant to send.
    assert sent < 32 * MB
    print(f"\nhuge-loopback[{mode}]: server sent {sent / MB:.1f} MiB of {HUGE // MB} MiB")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_body_of_exactly_the_cap_is_read_and_one_byte_more_is_refused(
    anyio_backend: str, protocol: str
) -> None:
    if protocol == "json":
        valid = b'{"error_status": "0", "ID_email": "5", "status": "1"}'
    else:
        valid = methodresponse("<i4>5</i4>").encode()
    cap = 4096
    padded = valid + b" " * (cap - len(valid))
    for body, chunked in [(padded, False), (padded, True)]:
        content: Any = body
        if chunked:

            async def pieces(body: bytes = body) -> AsyncIterator[bytes]:
                for i in range(0, len(body), 1000):
                    yield body[i : i + 1000]

            content = pieces()
        async with body_client(
            protocol, lambda r, c=content: httpx.Response(200, content=c), max_response_bytes=cap
        ) as mk:
            assert (await mk.email.unsubscribe(5)).email_id == 5
    async with body_client(protocol, answer(padded + b" "), max_response_bytes=cap) as mk:
        with pytest.raises(ResponseDecodeError, match="max_response_bytes"):
            await mk.email.unsubscribe(5)


# --- wrong content types and HTML with 200 ------------------------------------------------------------

JSON_OK = b'{"error_status": "0", "ID_email": "5", "status": "1"}'
XML_OK = methodresponse("<i4>5</i4>").encode()
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Mailkit</title></head><body><h1>Service temporarily "
    b"unavailable</h1></body></html>\n"
)


@pytest.mark.parametrize(
    ("protocol", "body", "content_type"),
    [
        pytest.param("json", JSON_OK, "text/html", id="json-labelled-html"),
        pytest.param("json", JSON_OK, "text/xml", id="json-labelled-xml"),
        pytest.param("xmlrpc", XML_OK, "application/json", id="xmlrpc-labelled-json"),
        pytest.param("xmlrpc", XML_OK, "text/html; charset=iso-8859-2", id="xmlrpc-labelled-html-latin2"),
    ],
)
async def test_decoding_goes_by_protocol_not_by_content_type(
    anyio_backend: str, protocol: str, body: bytes, content_type: str
) -> None:
    async with body_client(protocol, answer(body, content_type)) as mk:
        result = await mk.email.unsubscribe(5)
    assert type(result) is Unsubscription
    assert result.email_id == 5


@pytest.mark.parametrize(
    ("protocol", "body", "content_type"),
    [
        pytest.param("json", HTML_PAGE, "text/html", id="json-html-page"),
        pytest.param("json", HTML_PAGE, "application/json", id="json-html-labelled-json"),
        pytest.param("json", XML_OK, "application/json", id="json-got-xmlrpc"),
        pytest.param("xmlrpc", HTML_PAGE, "text/html", id="xmlrpc-html-page"),
        pytest.param("xmlrpc", HTML_PAGE, "text/xml", id="xmlrpc-html-labelled-xml"),
        pytest.param("xmlrpc", JSON_OK, "text/xml", id="xmlrpc-got-json"),
    ],
)
async def test_wrong_kind_of_body_with_200(
    anyio_backend: str, protocol: str, body: bytes, content_type: str
) -> None:
    async with body_client(protocol, answer(body, content_type)) as mk:
        with bounded():
            errors = await every_call_refuses(mk)
    for error in errors:
        assert error.excerpt.startswith(body[:20].decode())


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_html_error_page_with_200_over_loopback(anyio_backend: str, protocol: str) -> None:
    emu = new_emulator()
    emu.faults.add(Fault.html(), times=None)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=RetryPolicy(attempts=4, backoff=0)) as mk:
            await every_call_refuses(mk)
            assert checked_out(mk) == 0
    assert sum(emu.requests.values()) == len(EVERY_CALL)  # not transient: never retried


# --- truncated bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("cut", [0, 1, 20])
async def test_body_cut_short_on_the_wire_is_a_transport_error(
    anyio_backend: str, protocol: str, cut: int
) -> None:
    # Full Content-Length, `cut` bytes of the body, then the server closes.
    emu = new_emulator()
    emu.seed_bounces(100)
    emu.add_subscriber("a@example.com", email_id=5)
    emu.faults.add(Fault.truncate(cut), times=None)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=RetryPolicy(attempts=1)) as mk:
            with bounded():
                errors = await every_call_refuses(
                    mk, TransportError, calls=["unsubscribe", "results", "bounces"]
                )
            assert checked_out(mk) == 0
    for error in errors:
        assert isinstance(error, TransportError)
        assert error.request_sent  # so a harmful call is not re-sent


@pytest.mark.parametrize(
    ("protocol", "body"),
    [
        pytest.param("json", b'{"error_status": "0", "ID_email": "5", "sta', id="json-object"),
        pytest.param("json", b'[{"ID_UNDELIVERED_LOG": "1", "EMAIL": "a@', id="json-page"),
        pytest.param("xmlrpc", XML_OK[: len(XML_OK) // 2], id="xmlrpc-half"),
        pytest.param("xmlrpc", XML_OK[:-1], id="xmlrpc-last-byte"),
        pytest.param("xmlrpc", b"<?xml version=", id="xmlrpc-declaration"),
    ],
)
async def test_body_cut_short_with_a_matching_length_is_a_decode_error(
    anyio_backend: str, protocol: str, body: bytes
) -> None:
    # The server says the short body is the whole answer: it is then simply not a valid answer.
    emu = new_emulator()
    emu.faults.add(Fault.body(body), times=None)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol, retry=RetryPolicy(attempts=4, backoff=0)) as mk:
            await every_call_refuses(mk)
    assert sum(emu.requests.values()) == len(EVERY_CALL)


# --- invalid UTF-8 --------------------------------------------------------------------------------------

BAD_UTF8 = {
    "invalid-start": b"\xff",
    "truncated-sequence": b"\xc3",
    "overlong": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "beyond-unicode": b"\xf4\x90\x80\x80",
}


@pytest.mark.parametrize("raw", list(BAD_UTF8.values()), ids=list(BAD_UTF8))
async def test_invalid_utf8_in_json_strings(anyio_backend: str, raw: bytes) -> None:
    answer_object = b'{"error_status": "0", "ID_email": "5", "status": "1", "email": "a' + raw + b'@b.cz"}'
    record = b'[{"ID_UNDELIVERED_LOG": "1", "EMAIL": "a' + raw + b'@b.cz"}]'
    for body in (answer_object, record):
        async with body_client("json", answer(body, "application/json")) as mk:
            errors = await every_call_refuses(mk)
        assert all("JSON" in str(e) or "UTF" in str(e).upper() for e in errors)


@pytest.mark.parametrize("raw", list(BAD_UTF8.values()), ids=list(BAD_UTF8))
@pytest.mark.parametrize("where", ["string", "member-name", "untyped-value", "comment"])
async def test_invalid_utf8_in_xml(anyio_backend: str, raw: bytes, where: str) -> None:
    text = "a" + raw.decode("latin-1") + "@b.cz"
    value = {
        "string": f"<string>{text}</string>",
        "member-name": f"<struct><member><name>{text}</name><value><i4>1</i4></value></member></struct>",
        "untyped-value": text,
        "comment": f"<!-- {text} --><i4>5</i4>",
    }[where]
    body = methodresponse(value).encode("latin-1")
    async with body_client("xmlrpc", answer(body)) as mk:
        await every_call_refuses(mk)


async def test_declared_latin1_encoding_is_honoured(anyio_backend: str) -> None:
    # Latin-2 bytes under a Latin-1 declaration: XML 1.0 makes the declaration binding, so the
    # byte 0xD8 ("Ř" in Latin-2) reads as Latin-1's "Ø", never as some other guess.
    body = ('<?xml version="1.0" encoding="ISO-8859-1"?>' + methodresponse("<string>Ř@b.cz</string>")).encode(
        "iso-8859-2"
    )
    async with body_client("xmlrpc", answer(body)) as mk:
        assert await mk.call(UNSUBSCRIBE, ["a@b.cz"]) == "Ø@b.cz"


# --- odd answers that are protocol-level refusals, not crashes ----------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_echoed_credentials_in_hostile_bodies_are_redacted(anyio_backend: str, protocol: str) -> None:
    bodies = [
        f"<html>md5={MD5}</html>".encode(),
        (
            f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s "{MD5}">]>'
            + methodresponse("<string>&s;</string>")
        ).encode(),
        f'{{"error_status": "1", "error": "Unauthorized {MD5}"}}'.encode(),
        f'[{{"ID_UNDELIVERED_LOG": "{MD5}"}}]'.encode(),
        (
            methodresponse(
                "<struct><member><name>faultCode</name><value><i4>1</i4></value></member>"
                f"<member><name>faultString</name><value><string>bad {MD5}</string></value></member></struct>"
            )
            .replace("<params><param>", "<fault>")
            .replace("</param></params>", "</fault>")
        ).encode(),
    ]
    for body in bodies:
        async with body_client(protocol, answer(body)) as mk:
            for name, (_, invoke, _) in EVERY_CALL.items():
                try:
                    await invoke(mk)
                except MailkitError as error:
                    assert_no_secret(error)
                else:  # a valid answer is fine; a leak is not
                    assert name in ("call",)


async def test_xmlrpc_fault_with_a_hostile_string_is_an_api_error(anyio_backend: str) -> None:
    fault = (
        "<methodResponse><fault><value><struct>"
        "<member><name>faultCode</name><value><i4>-32700</i4></value></member>"
        "<member><name>faultString</name><value><string>" + "x" * 100_000 + "</string></value></member>"
        "</struct></value></fault></methodResponse>"
    ).encode()
    async with body_client("xmlrpc", answer(fault)) as mk:
        with bounded():
            errors = await every_call_refuses(mk, APIError)
    assert all(isinstance(e, APIError) and e.code == -32700 for e in errors)


async def test_a_hostile_answer_never_hangs_the_bounce_stream(anyio_backend: str) -> None:
    # The same non-empty page whatever the cursor: an error after the first page, never a loop.
    page = b'[{"ID_UNDELIVERED_LOG": "1"}, {"ID_UNDELIVERED_LOG": "2"}]'
    async with body_client("json", answer(page, "application/json")) as mk:
        seen: list[int] = []
        with anyio.fail_after(2), pytest.raises(MailkitError) as info:
            async for bounce in mk.report.raw.bounces():
                seen.append(bounce.undelivered_log_id)
    assert seen == [1, 2]
    assert info.value.cursor == 2
    assert info.value.function == BOUNCES


# --- a huge value inside an otherwise valid answer ------------------------------------------------------

HUGE_VALUE = "x" * 100_000
# name: (protocol, call, answer, error)
HUGE_VALUES: dict[str, tuple[str, str, Any, type[MailkitError]]] = {
    "unsubscribe-id": (
        "json",
        "unsubscribe",
        {"error_status": "0", "ID_email": HUGE_VALUE, "status": "1"},
        ResponseDecodeError,
    ),
    "unsubscribe-status": (
        "json",
        "unsubscribe",
        {"error_status": "0", "ID_email": "5", "status": HUGE_VALUE},
        ResponseDecodeError,
    ),
    "results-date": (
        "json",
        "results",
        {"error_status": 1, "status": "ERROR", "results": [{"DATE": HUGE_VALUE, "ERROR_CODE": 1}]},
        ResponseDecodeError,
    ),
    "xmlrpc-results-date": (
        "xmlrpc",
        "results",
        {"status": "ERROR", "results": [{"DATE": HUGE_VALUE, "ERROR_CODE": 1}]},
        ResponseDecodeError,
    ),
    "json-refusal": ("json", "schedule", {"error_status": 1, "error": HUGE_VALUE}, APIError),
    "xmlrpc-refusal": ("xmlrpc", "unsubscribe", HUGE_VALUE, APIError),
}


@pytest.mark.parametrize("case", list(HUGE_VALUES))
async def test_error_text_stays_short_whatever_the_answer_holds(anyio_backend: str, case: str) -> None:
    # An error carries a short excerpt of the body; its message must not carry the whole offending
    # value (100 kB here, up to max_response_bytes in general) into logs.
    protocol, call, value, error = HUGE_VALUES[case]
    if protocol == "json":
        body = json.dumps(value).encode()
    else:
        body = xmlrpc.client.dumps((value,), methodresponse=True).encode()
    function, invoke, _ = EVERY_CALL[call]
    async with body_client(protocol, answer(body)) as mk:
        with pytest.raises(MailkitError) as info:
            await invoke(mk)
    assert type(info.value) is error
    assert info.value.function == function
    assert len(getattr(info.value, "excerpt", "")) <= 200
    assert len(str(info.value)) < 1_000, f"{len(str(info.value))} characters"
