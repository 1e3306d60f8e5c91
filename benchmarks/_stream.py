"""1. The bounce stream over JSON: records per second, 25 000-record pages, one loopback server.

Contenders, all walking the same pages of the same server by `ID_undelivered_log`:

- floor: plain httpx posts and one reused `msgspec.json.Decoder(list[Bounce], strict=False)`:
  no retries, no checks; what any client of this API must at least pay. It decodes the same
  fields as the library (the server's records carry the four documented extra fields, which
  `Bounce` types);
- naive: httpx, ``response.json()`` and a pydantic model per record (what users write today);
- library (records): ``async for b in mk.report.raw.bounces()``;
- library (pages): ``async for page in mk.report.raw.bounce_pages()``.

Every consumer does the same per-record work (reads ``undelivered_log_id``), and every run checks
it saw every record. Targets: ``bounces()`` >= 1.0 x the floor, ``bounce_pages()`` >= 1.1 x the
floor, both >= 4 x the naive path.

And decoding alone (``stream-json-decode``): one page through ``JSON_CODEC.decode_bounces``, the
usual page next to the same page with one field nobody documented in every record (which takes
the second look). Target: that page no slower than 2 x the usual one (rate ratio >= 0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import anyio
import httpx
import msgspec
import pydantic

from mailkit_async import Bounce, Mailkit
from mailkit_async._codecs._json import JSON_CODEC
from mailkit_async._service import BOUNCES, JSON_PATH
from mailkit_async.testing._bounces import BounceLog, render_page

from ._harness import Contender, Row, Stopwatch, Target, Timing, alternate, rate_row, warm_up
from ._server import CLIENT_ID, CLIENT_MD5, ServerProcess
from ._settings import Settings

__all__ = ["NaiveBounce", "run"]

NAME: Final = "stream-json"
UNIT: Final = "records/s"
FLOOR: Final = "floor: httpx + msgspec"
NAIVE: Final = "naive: httpx + pydantic"
RECORDS: Final = "library: bounces()"
PAGES: Final = "library: bounce_pages()"
DECODE: Final = "stream-json-decode"
USUAL: Final = "decode_bounces(): the usual page"
UNKNOWN: Final = "decode_bounces(): one unknown field per record"
# The floor's one decoder and encoder, built once for the whole run.
_FLOOR_DECODER: Final = msgspec.json.Decoder(list[Bounce], strict=False)
_ENCODE: Final[Callable[[object], bytes]] = msgspec.json.Encoder().encode


class NaiveBounce(pydantic.BaseModel):
    """The model a user writes by hand for a bounce record (pydantic's lax mode turns "1" into 1)."""

    message_id: int | None = pydantic.Field(None, alias="ID_MESSAGE")
    text_status: str = pydantic.Field("", alias="TEXT_STATUS")
    status: str = pydantic.Field("", alias="STATUS")
    email_id: int | None = pydantic.Field(None, alias="ID_EMAIL")
    send_id: int | None = pydantic.Field(None, alias="ID_SEND")
    email: str = pydantic.Field("", alias="EMAIL")
    send_message_id: int | None = pydantic.Field(None, alias="ID_SEND_MESSGE")
    user_list_id: int | None = pydantic.Field(None, alias="ID_USER_LIST")
    remote_mta: str = pydantic.Field("", alias="REMOTE_MTA")
    undelivered_log_id: int = pydantic.Field(alias="ID_UNDELIVERED_LOG")
    recipient_status: str = pydantic.Field("", alias="RECIPIENT_STATUS")
    bounce_category: str = pydantic.Field("", alias="BOUNCE_CAT")
    utm_campaign: str = pydantic.Field("", alias="UTM_CAMPAIGN")
    campaign_name: str = pydantic.Field("", alias="CAMPAIGN_NAME")
    subject: str = pydantic.Field("", alias="SUBJECT")


def page_request(cursor: int, page_size: int) -> dict[str, object]:
    """The JSON body of one raw.bounces call, as the library sends it."""
    parameters = {"ID_undelivered_log": cursor, "limit": page_size}
    return {"function": BOUNCES, "id": CLIENT_ID, "md5": CLIENT_MD5, "parameters": parameters}


def _check(name: str, seen: int, last: int, expected: int) -> None:
    """Every contender must have seen every record (the server's IDs run 1..expected)."""
    if seen != expected or last != expected:
        raise RuntimeError(f"{name} streamed {seen} records up to ID {last}, expected {expected}")


async def floor(http: httpx.AsyncClient, url: str, page_size: int, expected: int) -> Timing:
    cursor = seen = 0
    with Stopwatch() as watch:
        while True:
            response = await http.post(url, content=_ENCODE(page_request(cursor, page_size)))
            page = _FLOOR_DECODER.decode(response.content)
            if not page:
                break
            for bounce in page:
                cursor = bounce.undelivered_log_id
            seen += len(page)
    _check(FLOOR, seen, cursor, expected)
    return watch.timing


async def naive(http: httpx.AsyncClient, url: str, page_size: int, expected: int) -> Timing:
    cursor = seen = 0
    with Stopwatch() as watch:
        while True:
            response = await http.post(url, json=page_request(cursor, page_size))
            data = response.json()
            if not data:
                break
            page = [NaiveBounce.model_validate(item) for item in data]
            for bounce in page:
                cursor = bounce.undelivered_log_id
            seen += len(page)
    _check(NAIVE, seen, cursor, expected)
    return watch.timing


async def library_records(mk: Mailkit, page_size: int, expected: int) -> Timing:
    cursor = seen = 0
    with Stopwatch() as watch:
        async for bounce in mk.report.raw.bounces(page_size=page_size):
            cursor = bounce.undelivered_log_id
            seen += 1
    _check(RECORDS, seen, cursor, expected)
    return watch.timing


async def library_pages(mk: Mailkit, page_size: int, expected: int) -> Timing:
    cursor = seen = 0
    with Stopwatch() as watch:
        async for page in mk.report.raw.bounce_pages(page_size=page_size):
            for bounce in page:
                cursor = bounce.undelivered_log_id
            seen += len(page)
    _check(PAGES, seen, cursor, expected)
    return watch.timing


def _rows(samples: dict[str, list[Timing]], records: int) -> list[Row]:
    table = {name: rate_row(NAME, name, UNIT, records, timings) for name, timings in samples.items()}
    rows = [table[FLOOR], table[NAIVE]]
    for name, floor_target in ((RECORDS, 1.0), (PAGES, 1.1)):
        rows.append(table[name].against(table[FLOOR], Target(">=", floor_target)))
        rows.append(table[name].against(table[NAIVE], Target(">=", 4.0)))
    return rows


def pages(size: int) -> tuple[bytes, bytes]:
    """A usual JSON page of `size` records (the four documented extras included), and the same
    page with one undocumented field in every record."""
    log = BounceLog().seeded(
        size,
        message_ids=(12345,),
        send_ids=(123456,),
        start_id=None,
        gap_every=0,
        extra_fields=True,
        plain=False,
        append=False,
    )
    usual = render_page(log.select(1, None, None, size), "json", "[]")
    unknown = usual.replace(b'"RECIPIENT_STATUS":', b'"X_FEEDBACK_ID":"fbl-1","RECIPIENT_STATUS":')
    return usual, unknown


def _decoder(body: bytes, size: int, unknown: bool) -> Contender:
    async def run() -> Timing:
        with Stopwatch() as watch:
            page = JSON_CODEC.decode_bounces(BOUNCES, body)
        if not isinstance(page, list) or len(page) != size or bool(page[-1].extra) != unknown:
            raise RuntimeError("the page did not decode to its records")
        return watch.timing

    return run


async def _decode_rows(settings: Settings) -> list[Row]:
    size = settings.page_size
    usual, unknown = pages(size)
    contenders = {USUAL: _decoder(usual, size, False), UNKNOWN: _decoder(unknown, size, True)}
    await warm_up(contenders)
    samples = await alternate(contenders, settings.repeats)
    table = {name: rate_row(DECODE, name, UNIT, size, timings) for name, timings in samples.items()}
    return [table[USUAL], table[UNKNOWN].against(table[USUAL], Target(">=", 0.5))]


async def _measure(url: str, settings: Settings) -> list[Row]:
    endpoint = url + JSON_PATH
    size, total = settings.page_size, settings.stream_records
    async with httpx.AsyncClient() as http, Mailkit(CLIENT_ID, CLIENT_MD5, base_url=url) as mk:
        contenders: dict[str, Contender] = {
            FLOOR: lambda: floor(http, endpoint, size, total),
            NAIVE: lambda: naive(http, endpoint, size, total),
            RECORDS: lambda: library_records(mk, size, total),
            PAGES: lambda: library_pages(mk, size, total),
        }
        await warm_up(contenders)
        samples = await alternate(contenders, settings.repeats)
    return [*_rows(samples, total), *await _decode_rows(settings)]


def run(settings: Settings) -> list[Row]:
    with ServerProcess(records=settings.stream_records) as server:
        return anyio.run(_measure, server.url, settings)
