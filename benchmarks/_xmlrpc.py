"""2. XML-RPC: decoding one 25 000-record page, safely, against the standard library.

The page is fetched once from the loopback server and decoded in memory, so only decoding is timed:

- library: ``XMLRPC_CODEC.decode_bounces(function, body)``, body to typed `Bounce` structs, refusing
  DTDs and entity declarations (checked here on a hostile body before anything is timed);
- ``xmlrpc.client.loads(body)``: body to plain dicts of strings, no types, no such refusal;
- library, untyped (information): ``loads_response(body)`` alone, the wire parse without the
  conversion to `Bounce`, to show which half of the library's time is which.

Target: library records/s >= 3 x ``xmlrpc.client.loads``, on the UTF-8 page and on the same page
sent as windows-1250 (the encoding declared and honoured by both). For information, the whole
stream over XML-RPC end to end (``Mailkit(protocol="xmlrpc")``) next to httpx +
``xmlrpc.client.loads``.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from typing import Final, cast

import anyio
import httpx

from mailkit_async import Mailkit, ResponseDecodeError
from mailkit_async._codecs._xmlrpc import XMLRPC_CODEC
from mailkit_async._codecs._xmlrpc_wire import loads_response
from mailkit_async._service import BOUNCES, XMLRPC_PATH

from ._harness import Contender, Row, Stopwatch, Target, Timing, alternate, rate_row, warm_up
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._settings import Settings

__all__ = ["run"]

NAME: Final = "xmlrpc-decode"
STREAM: Final = "xmlrpc-stream"
UNIT: Final = "records/s"
LIBRARY: Final = "library: decode_bounces()"
UNTYPED: Final = "library: loads_response() (untyped)"
STDLIB: Final = "xmlrpc.client.loads"
LIBRARY_1250: Final = "library: decode_bounces(), windows-1250 page"
STDLIB_1250: Final = "xmlrpc.client.loads, windows-1250 page"
LIB_STREAM: Final = "library: bounces() over XML-RPC"
STD_STREAM: Final = "httpx + xmlrpc.client.loads"
HOSTILE: Final = (
    b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    b"<methodResponse><params><param><value><string>&lol2;</string></value></param></params>"
    b"</methodResponse>"
)


def page_request(cursor: int, page_size: int) -> bytes:
    """The XML-RPC call for one page: credentials, then message, send, cursor and limit."""
    return xmlrpc.client.dumps((CLIENT_ID, CLIENT_MD5, 0, 0, cursor, page_size), BOUNCES).encode()


async def fetch_page(url: str, page_size: int) -> bytes:
    async with httpx.AsyncClient() as http:
        response = await http.post(url + XMLRPC_PATH, content=page_request(0, page_size))
        response.raise_for_status()
        return response.content


def refuses_dtd() -> bool:
    """Whether the library refuses a body with a DTD (entity expansion) instead of parsing it."""
    try:
        XMLRPC_CODEC.decode_bounces(BOUNCES, HOSTILE)
    except ResponseDecodeError:
        return True
    return False


def _decoder(decode: Callable[[bytes], object], body: bytes, expected: int) -> Contender:
    async def run() -> Timing:
        with Stopwatch() as watch:
            page = decode(body)
        if not isinstance(page, list) or len(page) != expected:
            raise RuntimeError(f"decoding gave {type(page).__name__}, not {expected} records")
        return watch.timing

    return run


def windows_1250(body: bytes) -> bytes:
    """The same page as the Czech service may send it: windows-1250, declared so."""
    text = body.decode("utf-8").replace('encoding="utf-8"', 'encoding="windows-1250"', 1)
    return text.encode("windows-1250", "xmlcharrefreplace")


def stdlib_page(body: bytes) -> object:
    """`xmlrpc.client.loads` answers ``((page,), method)``: the page is the single param."""
    return xmlrpc.client.loads(body)[0][0]


async def _decode_rows(url: str, settings: Settings) -> list[Row]:
    body, size = await fetch_page(url, settings.page_size), settings.page_size
    if not refuses_dtd():
        raise RuntimeError("the library parsed a DTD: the XML-RPC decode is not safe")
    cp1250 = windows_1250(body)
    library = lambda b: XMLRPC_CODEC.decode_bounces(BOUNCES, b)  # noqa: E731
    contenders = {
        LIBRARY: _decoder(library, body, size),
        STDLIB: _decoder(stdlib_page, body, size),
        UNTYPED: _decoder(loads_response, body, size),
        LIBRARY_1250: _decoder(library, cp1250, size),
        STDLIB_1250: _decoder(stdlib_page, cp1250, size),
    }
    if library(cp1250) != library(body):
        raise RuntimeError("the windows-1250 page did not decode to the same records")
    await warm_up(contenders)
    samples = await alternate(contenders, settings.repeats)
    table = {name: rate_row(NAME, name, UNIT, size, timings) for name, timings in samples.items()}
    note = f"{len(body) / 2**20:.1f} MiB page; library refuses DTDs"
    rows = [
        table[STDLIB],
        table[LIBRARY].against(table[STDLIB], Target(">=", 3.0)),
        table[UNTYPED].against(table[STDLIB]),
        table[STDLIB_1250],
        table[LIBRARY_1250].against(table[STDLIB_1250], Target(">=", 3.0)),
    ]
    for row in rows:
        row.note = note
    return rows


async def library_stream(mk: Mailkit, page_size: int, expected: int) -> Timing:
    seen = last = 0
    with Stopwatch() as watch:
        async for bounce in mk.report.raw.bounces(page_size=page_size):
            last = bounce.undelivered_log_id
            seen += 1
    if seen != expected or last != expected:
        raise RuntimeError(f"{LIB_STREAM} streamed {seen} records, expected {expected}")
    return watch.timing


async def stdlib_stream(http: httpx.AsyncClient, url: str, page_size: int, expected: int) -> Timing:
    seen = cursor = 0
    with Stopwatch() as watch:
        while True:
            response = await http.post(url, content=page_request(cursor, page_size))
            page = cast("list[dict[str, object]]", stdlib_page(response.content))
            if not page:
                break
            for record in page:
                cursor = int(str(record["ID_UNDELIVERED_LOG"]))
            seen += len(page)
    if seen != expected or cursor != expected:
        raise RuntimeError(f"{STD_STREAM} streamed {seen} records, expected {expected}")
    return watch.timing


async def _stream_rows(url: str, settings: Settings) -> list[Row]:
    size, total = settings.page_size, settings.xmlrpc_stream_records
    async with (
        httpx.AsyncClient() as http,
        Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url, protocol="xmlrpc") as mk,
    ):
        contenders: dict[str, Contender] = {
            LIB_STREAM: lambda: library_stream(mk, size, total),
            STD_STREAM: lambda: stdlib_stream(http, url + XMLRPC_PATH, size, total),
        }
        await warm_up(contenders)
        samples = await alternate(contenders, settings.repeats)
    table = {name: rate_row(STREAM, name, UNIT, total, timings) for name, timings in samples.items()}
    return [table[STD_STREAM], table[LIB_STREAM].against(table[STD_STREAM])]


async def _measure(url: str, settings: Settings) -> list[Row]:
    return [*await _decode_rows(url, settings), *await _stream_rows(url, settings)]


def run(settings: Settings) -> list[Row]:
    records = max(settings.page_size, settings.xmlrpc_stream_records)
    with ServerProcess(records=records) as server:
        return anyio.run(_measure, server.url, settings)
