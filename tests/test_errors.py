"""Only MailkitErrors leave the client: every raw exception it used to let out, each as a typed
error raised before anything is sent; and any argument value either works or is a MailkitError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from support.calls import GENERIC, drain_bounces
from support.properties import reproducible

from mailkit_async import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    InvalidParameterError,
    Mailkit,
    MailkitError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TransientError,
    TransportError,
)
from mailkit_async._service import BOUNCES, SCHEDULE, UNSUBSCRIBE
from mailkit_async.testing import MailkitEmulator

pytestmark = pytest.mark.anyio

MD5 = "0cc175b9c0f1b6a831c399e269772661"


class Counting:
    """An httpx client that answers every request with `body` and counts what was sent."""

    def __init__(self, body: bytes = b"") -> None:
        self.sent: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            self.sent.append(request)
            return httpx.Response(200, content=body)

        self.http = httpx.AsyncClient(transport=httpx.MockTransport(answer))

    def client(self, protocol: str = "json") -> Mailkit:
        return Mailkit(1, MD5, protocol=protocol, http_client=self.http, retry=RetryPolicy(attempts=1))  # type: ignore[arg-type]


def test_transient_error_is_public_and_the_base_of_the_three() -> None:
    for kind in (RateLimitError, ServerError, TransportError):
        assert issubclass(kind, TransientError) and issubclass(kind, MailkitError)
    assert not issubclass(APIError, TransientError)
    assert issubclass(ClientClosedError, MailkitError)


# --- values a protocol cannot carry: refused before a byte is sent ---------------------------------------

Call = Callable[[Mailkit], Awaitable[Any]]


BOTH: dict[str, Call] = {
    "id-beyond-64-bits": lambda mk: mk.email.unsubscribe(2**64),
    "id-2**63": lambda mk: mk.sendmail_mass.results(2**63),
    "message-id-2**63": lambda mk: mk.campaigns.single.schedule(2**63, "now"),
    "query-id-2**63": lambda mk: mk.campaigns.single.schedule(1, "now", query_id=2**63),
    "after-id-2**63": lambda mk: drain_bounces(mk, after_id=2**63),
    "send-id-2**100": lambda mk: drain_bounces(mk, send_id=2**100),
    "huge-int-without-a-repr": lambda mk: mk.email.unsubscribe(10**5000),
    "surrogate-subject": lambda mk: mk.campaigns.single.schedule(1, "now", subject="a\ud800b"),
    "surrogate-channel": lambda mk: mk.email.revalidate(5, agreement=True, channel="\udfff"),
    "surrogate-address": lambda mk: mk.email.unsubscribe("a\ud83d@example.com"),
    "call-int-2**64": lambda mk: mk.call(GENERIC, {"a": 2**64} if mk.protocol == "json" else [2**64]),
    "call-surrogate": lambda mk: mk.call(GENERIC, {"a": ["\ud800"]} if mk.protocol == "json" else ["\ud800"]),
    "call-object": lambda mk: mk.call(GENERIC, {"a": object()} if mk.protocol == "json" else [object()]),
}
XMLRPC_ONLY: dict[str, Call] = {
    "nul-subject": lambda mk: mk.campaigns.single.schedule(1, "now", subject="a\x00b"),
    "vt-channel": lambda mk: mk.email.revalidate(5, agreement=True, channel="\x0b"),
    "nul-address": lambda mk: mk.email.revalidate("a\x00@example.com", agreement=True),
    "ff-in-call": lambda mk: mk.call(GENERIC, ["\x0c"]),
}


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
@pytest.mark.parametrize("case", list(BOTH))
async def test_what_neither_protocol_carries_is_refused_before_sending(
    anyio_backend: str, protocol: str, case: str
) -> None:
    wire = Counting()
    async with wire.client(protocol) as mk:
        with pytest.raises(InvalidParameterError) as info:
            await BOTH[case](mk)
    assert wire.sent == []
    assert info.value.attempts == 0
    assert len(str(info.value)) < 500


@pytest.mark.parametrize("case", list(XMLRPC_ONLY))
async def test_what_xml_cannot_carry_is_refused_over_xmlrpc_and_sent_over_json(
    anyio_backend: str, case: str
) -> None:
    wire = Counting(b'{"error_status": 1, "error": "refused"}')
    async with wire.client("xmlrpc") as mk:
        with pytest.raises(InvalidParameterError) as info:
            await XMLRPC_ONLY[case](mk)
        assert "XML" in str(info.value)
    assert wire.sent == []
    if case != "ff-in-call":  # call() takes a mapping over JSON
        async with wire.client("json") as mk:
            with pytest.raises(APIError):  # JSON escapes it: the service judges it
                await XMLRPC_ONLY[case](mk)
        assert len(wire.sent) == 1


async def test_the_refusal_names_the_parameter(anyio_backend: str) -> None:
    wire = Counting()
    async with wire.client("xmlrpc") as mk:
        with pytest.raises(InvalidParameterError, match="'channel'"):
            await mk.email.revalidate(5, agreement=True, channel="ok\x00")
    async with wire.client("json") as mk:
        with pytest.raises(InvalidParameterError, match="'subject'"):
            await mk.campaigns.single.schedule(1, "now", subject="\ud800")


def test_bounces_refuses_after_id_beyond_64_bits_when_called() -> None:
    mk = Counting().client()
    with pytest.raises(InvalidParameterError):
        mk.report.raw.bounces(after_id=2**63)
    with pytest.raises(InvalidParameterError):
        mk.report.raw.bounce_pages(after_id=2**63, prefetch=1)
    mk.report.raw.bounces(after_id=2**63 - 1)  # the largest that fits


# --- base URLs httpx cannot use: refused at construction -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://h:99999",
        "http://h:0",
        "http://",
        "https://",
        "http://:80",
        "http://exa mple.com",
        "http://ex%20ample.com",
        "https://ü\x00.de",
        "https://api.mailkit.eu/?x=1",
        "https://api.mailkit.eu/#top",
    ],
)
def test_unusable_base_urls_are_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="base_url"):
        Mailkit(1, MD5, base_url=url)


@pytest.mark.parametrize(
    "url", ["http://[::1]:8080", "https://api.mailkit.eu/", "http://127.0.0.1:1", "https://xn--tda.de/api"]
)
def test_usable_base_urls_are_kept(url: str) -> None:
    assert Mailkit(1, MD5, base_url=url)._transport.base_url == url.rstrip("/")


# --- time zones: exact, and the same range as strings and as datetimes -----------------------------------


def zone(**offset: float) -> timezone:
    return timezone(timedelta(**offset))


@pytest.mark.parametrize(
    ("when", "time_zone"),
    [
        (datetime(2030, 1, 1, 9, tzinfo=zone(hours=-5, minutes=-30, seconds=-30)), None),
        (datetime(2030, 1, 1, 9, tzinfo=zone(minutes=90, microseconds=1)), None),
        (datetime(2030, 1, 1, 9, tzinfo=zone(hours=20)), None),
        (datetime(2030, 1, 1, 9, tzinfo=zone(hours=14, minutes=1)), None),
        (datetime(2030, 1, 1, 9, tzinfo=zone(hours=-14, minutes=-1)), None),
        (datetime(2030, 1, 1, 9), "20:00"),
        (datetime(2030, 1, 1, 9), "14:01"),
        (datetime(2030, 1, 1, 9), "-14:01"),
        (datetime(2030, 1, 1, 9), "\u0660\u0662:\u0660\u0660"),  # Arabic-Indic digits
        (datetime(2030, 1, 1, 9), "\uff10\uff12:\uff10\uff10"),  # full-width digits
        (datetime(2030, 1, 1, 9), "02:00\n"),
        (datetime(2030, 1, 1, 9), "+02:00"),
    ],
)
async def test_time_zones_that_are_not_whole_minutes_within_range_are_refused(
    anyio_backend: str, when: datetime, time_zone: str | None
) -> None:
    wire = Counting()
    async with wire.client() as mk:
        with pytest.raises(InvalidParameterError):
            await mk.campaigns.single.schedule(1, when, time_zone=time_zone)
    assert wire.sent == []


@pytest.mark.parametrize(
    ("tz", "text"),
    [(zone(hours=14), "14:00"), (zone(hours=-14), "-14:00"), (zone(hours=-5, minutes=-30), "-05:30"),
     (zone(minutes=-1), "-00:01"), (timezone.utc, "00:00")],
)  # fmt: skip
async def test_the_range_is_the_same_both_ways(anyio_backend: str, tz: timezone, text: str) -> None:
    import json

    wire = Counting(b'{"error_status": 0, "error": "OK, send_date: 2030-01-01 09:00:00"}')
    async with wire.client() as mk:
        await mk.campaigns.single.schedule(1, datetime(2030, 1, 1, 9, tzinfo=tz))
        await mk.campaigns.single.schedule(1, datetime(2030, 1, 1, 9), time_zone=text)
        await mk.campaigns.single.schedule(1, datetime(2030, 1, 1, 9, tzinfo=tz), time_zone=text)
    zones = [json.loads(request.content)["parameters"]["time_zone"] for request in wire.sent]
    assert zones == [text, text, text]


# --- errors name what the user called --------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_a_refused_cancel_names_cancel(anyio_backend: str, protocol: str) -> None:
    import json

    from support.wire import xml_string

    body = (
        json.dumps({"error_status": 1, "error": "Missing ID of campaign"}).encode()
        if protocol == "json"
        else xml_string("Missing ID of campaign")
    )
    async with Counting(body).client(protocol) as mk:
        with pytest.raises(APIError) as info:
            await mk.campaigns.single.cancel(999)
    assert str(info.value).startswith("campaigns.single.cancel")
    assert info.value.function == SCHEDULE  # what was sent
    assert info.value.method == "campaigns.single.cancel"
    async with Counting(body).client(protocol) as mk:
        with pytest.raises(APIError) as info:
            await mk.campaigns.single.schedule(999, "now")
    assert str(info.value).startswith(f"{SCHEDULE}: ")
    assert "cancel" not in str(info.value)


# --- closed clients, and clients of another event loop ---------------------------------------------------


async def test_a_call_after_aclose_is_refused_unsent(anyio_backend: str) -> None:
    emulator = MailkitEmulator()
    mk = Mailkit(1, "emulator", http_client=httpx.AsyncClient(transport=emulator.transport()))
    await mk.aclose()
    await mk.aclose()  # twice is harmless
    with pytest.raises(ClientClosedError):
        await mk.email.unsubscribe(5)
    with pytest.raises(ClientClosedError):
        await drain_bounces(mk)
    with pytest.raises(ClientClosedError):
        async with mk:
            pass
    assert sum(emulator.requests.values()) == 0


@pytest.mark.parametrize("owned", [True, False], ids=["owned-pool", "caller-owned-http-client"])
async def test_a_call_after_async_with_is_refused_unsent(anyio_backend: str, owned: bool) -> None:
    emulator = MailkitEmulator()
    emulator.add_subscriber("a@example.com", email_id=5)
    with emulator.serve() as server:
        http = None if owned else httpx.AsyncClient()
        async with Mailkit(1, "emulator", base_url=server.url, http_client=http) as mk:
            await mk.email.unsubscribe(5)
            stream = mk.report.raw.bounces()  # made while open, iterated after
        with pytest.raises(ClientClosedError):
            await mk.email.unsubscribe(5)
        with pytest.raises(ClientClosedError):
            await stream.__anext__()
        assert emulator.requests[UNSUBSCRIBE] == 1
        assert sum(emulator.requests.values()) == 1
        if http is not None:
            assert not http.is_closed  # the caller's client is the caller's to close
            await http.aclose()


async def test_a_closed_caller_owned_http_client_is_a_closed_client(anyio_backend: str) -> None:
    wire = Counting()
    mk = wire.client()
    await wire.http.aclose()
    with pytest.raises(ClientClosedError, match="http_client"):
        await mk.email.unsubscribe(5)
    assert wire.sent == []


def test_a_client_used_in_a_second_event_loop_says_to_create_it_inside_the_loop() -> None:
    emulator = MailkitEmulator()
    emulator.add_subscriber("a@example.com", email_id=5)
    with emulator.serve() as server:
        mk = Mailkit(1, "emulator", base_url=server.url)  # a module-level client

        async def unsubscribe() -> Any:
            return await mk.email.unsubscribe(5)

        assert asyncio.run(unsubscribe()).email_id == 5
        for run in (lambda: asyncio.run(unsubscribe()), lambda: trio.run(unsubscribe)):
            with pytest.raises(ClientClosedError, match="create the client inside the running event loop"):
                run()
        assert emulator.requests[UNSUBSCRIBE] == 1

        async def close() -> None:
            await mk.aclose()  # from another loop: marks it closed, raises nothing

        asyncio.run(close())
        with pytest.raises(ClientClosedError, match="closed"):
            asyncio.run(unsubscribe())


def test_a_client_created_in_one_loop_and_used_in_another() -> None:
    wire = Counting()

    async def make() -> Mailkit:
        return wire.client()

    mk = asyncio.run(make())

    async def use() -> Any:
        return await mk.sendmail_mass.results(5)

    with pytest.raises(ClientClosedError, match="event loop"):
        trio.run(use)
    assert wire.sent == []


# --- any argument value: a result or a MailkitError, never anything else ---------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=20)  # lone surrogates included
ANY_INT = (
    st.integers() | st.integers(min_value=2**62, max_value=2**65) | st.sampled_from([0, 2**63 - 1, 2**63])
)
ANY_OFFSET = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
ANY_DATETIME = st.datetimes(timezones=st.none() | ANY_OFFSET.map(timezone)) | st.just("now")
ANY_VALUE = ANY_INT | ANY_TEXT | st.none() | st.booleans() | ANY_DATETIME
ARGUMENTS = reproducible(max_examples=150)


async def outcome(wire: Counting, call: Callable[[], Awaitable[Any]]) -> None:
    """Run `call`: a result or a MailkitError, and an argument refused means nothing was sent."""
    before = len(wire.sent)
    try:
        await call()
    except InvalidParameterError:
        assert len(wire.sent) == before
    except MailkitError:
        pass


@ARGUMENTS
@given(message_id=ANY_INT, send_date=ANY_DATETIME, time_zone=st.none() | ANY_TEXT, subject=st.none() | ANY_TEXT,
       query_id=ANY_INT, protocol=st.sampled_from(["json", "xmlrpc"]))  # fmt: skip
async def test_schedule_with_any_arguments(
    anyio_backend: str,
    message_id: int,
    send_date: Any,
    time_zone: Any,
    subject: Any,
    query_id: int,
    protocol: str,
) -> None:
    wire = Counting(b'{"error_status": 0, "error": "OK, send_date: 2030-01-01 09:00:00"}')
    mk = wire.client(protocol)
    await outcome(wire, lambda: mk.campaigns.single.schedule(
        message_id, send_date, time_zone=time_zone, subject=subject, query_id=query_id))  # fmt: skip
    await outcome(wire, lambda: mk.campaigns.single.cancel(message_id))


@ARGUMENTS
@given(email=ANY_INT | ANY_TEXT, channel=st.none() | ANY_TEXT, language=st.none() | ANY_TEXT,
       message_id=st.none() | ANY_INT, pause_days=st.none() | ANY_INT, protocol=st.sampled_from(["json", "xmlrpc"]))  # fmt: skip
async def test_email_calls_with_any_arguments(
    anyio_backend: str,
    email: Any,
    channel: Any,
    language: Any,
    message_id: Any,
    pause_days: Any,
    protocol: str,
) -> None:
    wire = Counting()
    mk = wire.client(protocol)
    await outcome(wire, lambda: mk.email.revalidate(
        email, agreement=True, channel=channel, language=language, message_id=message_id))  # fmt: skip
    await outcome(
        wire, lambda: mk.email.unsubscribe(email, send_message_id=message_id, pause_days=pause_days)
    )


@ARGUMENTS
@given(request_id=ANY_VALUE, send_id=ANY_VALUE, after_id=ANY_VALUE, page_size=ANY_VALUE,
       protocol=st.sampled_from(["json", "xmlrpc"]))  # fmt: skip
async def test_reads_with_any_arguments(
    anyio_backend: str, request_id: Any, send_id: Any, after_id: Any, page_size: Any, protocol: str
) -> None:
    wire = Counting()
    mk = wire.client(protocol)
    await outcome(wire, lambda: mk.sendmail_mass.results(request_id, send_id=send_id))

    async def stream() -> None:
        async for _ in mk.report.raw.bounces(send_id=send_id, after_id=after_id, page_size=page_size):
            pass

    await outcome(wire, stream)


@ARGUMENTS
@given(values=st.lists(ANY_VALUE, max_size=4), protocol=st.sampled_from(["json", "xmlrpc"]))
async def test_call_with_any_parameters(anyio_backend: str, values: list[Any], protocol: str) -> None:
    wire = Counting()
    mk = wire.client(protocol)
    parameters: Any = {f"p{i}": value for i, value in enumerate(values)} if protocol == "json" else values
    await outcome(wire, lambda: mk.call("mailkit.any.function", parameters))


@pytest.mark.parametrize(
    ("error", "hinted"),
    [
        (AuthenticationError("Unauthorized", function=BOUNCES), False),
        (ClientClosedError("the client is closed"), False),
        (APIError("Invalid ID_message", function=BOUNCES), False),
        (TransportError("read timed out", function=BOUNCES), True),
        (ServerError("HTTP 503", function=BOUNCES), True),
        (PaginationError("stuck", function=BOUNCES, cursor=5), True),
        (ResponseDecodeError("not valid JSON", function=BOUNCES), True),
    ],
)
def test_only_errors_that_resuming_may_get_past_suggest_resuming(error: MailkitError, hinted: bool) -> None:
    # A refusal meets the same refusal at any cursor: "resume with after_id=..." would mislead.
    error.cursor = 5
    assert ("resume with after_id=5" in str(error)) is hinted


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("campaigns.single.schedule", lambda mk: mk.campaigns.single.schedule(-1, "now")),
        ("campaigns.single.cancel", lambda mk: mk.campaigns.single.cancel(-1)),
        ("sendmail_mass.results", lambda mk: mk.sendmail_mass.results(0)),
        ("email.revalidate", lambda mk: mk.email.revalidate("a@example.com", agreement="yes")),
        ("email.unsubscribe", lambda mk: mk.email.unsubscribe("")),
    ],
)
async def test_argument_errors_name_the_method_called(anyio_backend: str, method: str, call: Any) -> None:
    sent = Counting()
    async with sent.client() as mk:
        with pytest.raises(InvalidParameterError) as info:
            await call(mk)
    assert info.value.method == method and str(info.value).startswith(f"{method}: ")
    assert sent.sent == []


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("report.raw.bounces", lambda mk: mk.report.raw.bounces(page_size=1)),
        ("report.raw.bounce_pages", lambda mk: mk.report.raw.bounce_pages(after_id=-1)),
    ],
)
def test_argument_errors_of_the_stream_name_the_method_called(method: str, call: Any) -> None:
    with pytest.raises(InvalidParameterError) as info:
        call(Mailkit(1, MD5))
    assert info.value.method == method and str(info.value).startswith(f"{method}: ")


# --- one way to build an error -----------------------------------------------------------------------------

ERROR_TYPES = [
    MailkitError,
    InvalidParameterError,
    ClientClosedError,
    APIError,
    AuthenticationError,
    PaginationError,
    TransportError,
    ServerError,
    RateLimitError,
    ResponseDecodeError,
]


@pytest.mark.parametrize("kind", ERROR_TYPES, ids=lambda kind: kind.__name__)
def test_every_error_takes_its_message_alone_and_every_other_field_by_name(kind: type[MailkitError]) -> None:
    error = kind("went wrong", function="mailkit.email.unsubscribe")
    assert (error.message, error.function, error.cursor, error.attempts) == (
        "went wrong",
        "mailkit.email.unsubscribe",
        None,
        0,
    )
    assert str(error).startswith("mailkit.email.unsubscribe: went wrong")
    with pytest.raises(TypeError):
        kind("mailkit.email.unsubscribe", "went wrong")  # type: ignore[misc]
