"""campaigns.single.schedule / cancel: the exact request on both protocols, every documented answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from _docs import SCHEDULE_FAILED_XML, SCHEDULE_OK_JSON, SCHEDULE_OK_XML
from support.clients import answered, client, mock, refused, refused_unsent, reply, route
from support.wire import json_params, typed, xml_string, xmlrpc_params

from mailkit_async import (
    UNSET,
    APIError,
    AuthenticationError,
    InvalidParameterError,
    MailkitError,
    ScheduleResult,
)
from mailkit_async._service import SCHEDULE

pytestmark = pytest.mark.anyio

# The documented answers are in _docs. The page's XML success answer prints a placeholder
# ("rrrr-mm-dd hh:mm:ss"); the XML-RPC tests need a date the client can read back, so this variant
# fills in the date of the page's JSON example.
SCHEDULE_OK_XML_DATED = SCHEDULE_OK_XML.replace(b"rrrr-mm-dd hh:mm:ss", b"2022-05-13 12:45:00")
FAILURES = [
    "Missing send date of campaign",
    "Missing ID of campaign",
    "The send date is in the past",
    "Invalid ID_delivery_feed",
    "Invalid ID_query",
    "error: Confused parameters - it is not possible to combine delivery capping and delivery feeds",
]
WHEN = datetime(2030, 1, 2, 10, 5, 59)


# --- JSON requests -------------------------------------------------------------------------------


async def test_json_full_request_and_documented_ok_with_zone(anyio_backend: str) -> None:
    result, r = await answered(
        "json",
        SCHEDULE_OK_JSON,
        lambda mk: mk.campaigns.single.schedule(
            7,
            WHEN,
            time_zone="02:00",
            subject="Předmět",
            template_id=5,
            query_id=0,
            delivery_feed_id=9,
        ),
    )
    assert r.call_count == 1
    params = json_params(r.calls.last.request, SCHEDULE)
    assert typed(params) == typed(
        {
            "ID_message": 7,
            "subject": "Předmět",
            "send_date": "2030-01-02 10:05",
            "time_zone": "02:00",
            "ID_template": 5,
            "ID_query": 0,
            "ID_delivery_feed": 9,
        }
    )
    assert result == ScheduleResult(
        send_date=datetime(2022, 5, 13, 12, 45),
        time_zone="Europe/Prague",
        message="OK, send_date: 2022-05-13 12:45:00 (Europe/Prague)",
    )
    assert result.send_date.tzinfo is None


async def test_json_now_sends_only_the_required_keys(anyio_backend: str) -> None:
    _, r = await answered("json", SCHEDULE_OK_JSON, lambda mk: mk.campaigns.single.schedule(7, "now"))
    params = json_params(r.calls.last.request, SCHEDULE)
    # send_date and time_zone always; subject, ID_template, ID_query, ID_delivery_feed omitted.
    assert typed(params) == typed({"ID_message": 7, "send_date": "now", "time_zone": ""})


@pytest.mark.parametrize(
    ("kwargs", "extra"),
    [
        ({"query_id": 123}, {"ID_query": 123}),
        ({"query_id": 0}, {"ID_query": 0}),  # 0 clears conditional delivery: it must be sent
        ({"query_id": UNSET}, {}),
        ({"delivery_feed_id": 1234}, {"ID_delivery_feed": 1234}),
        ({"template_id": 44}, {"ID_template": 44}),
        ({"subject": ""}, {"subject": ""}),
    ],
)
async def test_json_optional_keys(anyio_backend: str, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
    _, r = await answered(
        "json", SCHEDULE_OK_JSON, lambda mk: mk.campaigns.single.schedule(7, "now", **kwargs)
    )
    params = json_params(r.calls.last.request, SCHEDULE)
    assert typed(params) == typed({"ID_message": 7, "send_date": "now", "time_zone": "", **extra})


async def test_json_now_with_a_zone_passes_it_on(anyio_backend: str) -> None:
    _, r = await answered(
        "json", SCHEDULE_OK_JSON, lambda mk: mk.campaigns.single.schedule(7, "now", time_zone="-03:00")
    )
    assert json_params(r.calls.last.request, SCHEDULE)["time_zone"] == "-03:00"


# --- XML-RPC requests ----------------------------------------------------------------------------


async def test_xmlrpc_full_request_and_documented_ok_without_zone(anyio_backend: str) -> None:
    result, r = await answered(
        "xmlrpc",
        SCHEDULE_OK_XML_DATED,
        lambda mk: mk.campaigns.single.schedule(
            7, WHEN, time_zone="02:00", subject="Předmět", template_id=5, query_id=0, delivery_feed_id=9
        ),
    )
    assert r.call_count == 1
    params = xmlrpc_params(r.calls.last.request, SCHEDULE)
    assert typed(params) == typed(
        (7, "Předmět", "2030-01-02 10:05", "02:00", "", 5, {"ID_query": "0", "ID_delivery_feed": "9"})
    )
    assert result == ScheduleResult(
        send_date=datetime(2022, 5, 13, 12, 45),
        time_zone=None,
        message="OK, send_date: 2022-05-13 12:45:00",
    )


async def test_xmlrpc_placeholders_when_nothing_optional_is_given(anyio_backend: str) -> None:
    _, r = await answered("xmlrpc", SCHEDULE_OK_XML_DATED, lambda mk: mk.campaigns.single.schedule(7, "now"))
    params = xmlrpc_params(r.calls.last.request, SCHEDULE)
    # subject "", time_zone "", the empty `condition`, ID_template 0, an empty struct.
    assert typed(params) == typed((7, "", "now", "", "", 0, {}))


@pytest.mark.parametrize(
    ("kwargs", "struct"),
    [
        ({"query_id": 123}, {"ID_query": "123"}),
        ({"query_id": 0}, {"ID_query": "0"}),
        ({"delivery_feed_id": 1234}, {"ID_delivery_feed": "1234"}),
    ],
)
async def test_xmlrpc_optional_ids_travel_as_strings_in_the_struct(
    anyio_backend: str, kwargs: dict[str, Any], struct: dict[str, str]
) -> None:
    _, r = await answered(
        "xmlrpc", SCHEDULE_OK_XML_DATED, lambda mk: mk.campaigns.single.schedule(7, "now", **kwargs)
    )
    params = xmlrpc_params(r.calls.last.request, SCHEDULE)
    assert typed(params[6]) == typed(struct)


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [1, "1"], ids=["int", "str"])
@pytest.mark.parametrize("text", FAILURES)
async def test_json_documented_failures(anyio_backend: str, text: str, status: object) -> None:
    error, r = await refused(
        APIError,
        "json",
        {"error": text, "error_status": status},
        lambda mk: mk.campaigns.single.schedule(7, "now"),
    )
    assert type(error) is APIError
    assert error.message == text
    assert error.function == SCHEDULE
    assert text in str(error)
    assert r.call_count == 1  # a refusal is not retried


@pytest.mark.parametrize("text", FAILURES)
async def test_xmlrpc_documented_failures(anyio_backend: str, text: str) -> None:
    error, _ = await refused(
        APIError, "xmlrpc", xml_string(text), lambda mk: mk.campaigns.single.schedule(7, "now")
    )
    assert type(error) is APIError
    assert error.message == text
    assert error.function == SCHEDULE


async def test_xmlrpc_documented_failure_literal(anyio_backend: str) -> None:
    with mock() as router:
        route(router, "xmlrpc").mock(return_value=reply(SCHEDULE_FAILED_XML))
        async with client("xmlrpc") as mk:
            with pytest.raises(APIError, match="Missing send date of campaign") as info:
                await mk.campaigns.single.schedule(7, "now")
    assert not isinstance(info.value, AuthenticationError)


async def test_json_failure_text_with_error_status_zero_is_still_a_refusal(anyio_backend: str) -> None:
    with mock() as router:
        route(router, "json").mock(return_value=reply({"error": "Invalid ID_query", "error_status": 0}))
        async with client("json") as mk:
            with pytest.raises(APIError, match="Invalid ID_query"):
                await mk.campaigns.single.schedule(7, "now")


@pytest.mark.parametrize("status", [0, "0"], ids=["int", "str"])
async def test_json_ok_with_string_status_and_unknown_fields(anyio_backend: str, status: object) -> None:
    answer = {**SCHEDULE_OK_JSON, "error_status": status, "ID_send": 991, "extra": {"nested": [1, 2]}}
    result, _ = await answered("json", answer, lambda mk: mk.campaigns.single.schedule(7, "now"))
    assert result.send_date == datetime(2022, 5, 13, 12, 45)
    assert result.time_zone == "Europe/Prague"


# --- cancel --------------------------------------------------------------------------------------


async def test_json_cancel_sends_zero_date_and_returns_none(anyio_backend: str) -> None:
    result, r = await answered(
        "json",
        {"error": "OK, send_date: 0000-00-00 00:00:00", "error_status": 0},
        lambda mk: mk.campaigns.single.cancel(7),
    )
    assert result is None
    params = json_params(r.calls.last.request, SCHEDULE)
    assert typed(params) == typed({"ID_message": 7, "send_date": "0000-00-00", "time_zone": ""})


async def test_xmlrpc_cancel_sends_zero_date_and_returns_none(anyio_backend: str) -> None:
    result, r = await answered(
        "xmlrpc", xml_string("OK, send_date: 0000-00-00 00:00:00"), lambda mk: mk.campaigns.single.cancel(7)
    )
    assert result is None
    params = xmlrpc_params(r.calls.last.request, SCHEDULE)
    assert typed(params) == typed((7, "", "0000-00-00", "", "", 0, {}))


@pytest.mark.parametrize(
    ("protocol", "answer"),
    [
        ("json", {"error": "Missing ID of campaign", "error_status": 1}),
        ("xmlrpc", xml_string("Missing ID of campaign")),
    ],
)
async def test_cancel_failure(anyio_backend: str, protocol: str, answer: object) -> None:
    error, _ = await refused(APIError, protocol, answer, lambda mk: mk.campaigns.single.cancel(7))
    assert error.message == "Missing ID of campaign"
    assert error.function == SCHEDULE


# --- dates and zones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "zone"),
    [
        (timezone(-timedelta(hours=3, minutes=30)), "-03:30"),
        (timezone(timedelta(hours=5, minutes=45)), "05:45"),
        (timezone(timedelta(hours=2)), "02:00"),
        (timezone(-timedelta(hours=11)), "-11:00"),
        (timezone.utc, "00:00"),
    ],
)
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_aware_datetime_brings_its_own_offset_and_wall_time(
    anyio_backend: str, protocol: str, tz: timezone, zone: str
) -> None:
    when = datetime(2030, 1, 2, 10, 5, 42, tzinfo=tz)
    _, r = await answered(
        protocol,
        SCHEDULE_OK_JSON if protocol == "json" else SCHEDULE_OK_XML_DATED,
        lambda mk: mk.campaigns.single.schedule(7, when),
    )
    if protocol == "json":
        params = json_params(r.calls.last.request, SCHEDULE)
        assert (params["send_date"], params["time_zone"]) == ("2030-01-02 10:05", zone)
    else:
        params = xmlrpc_params(r.calls.last.request, SCHEDULE)
        assert (params[2], params[3]) == ("2030-01-02 10:05", zone)


async def test_zoneinfo_datetime_uses_the_offset_at_that_moment(anyio_backend: str) -> None:
    prague = ZoneInfo("Europe/Prague")
    with mock() as router:
        r = route(router, "json").mock(return_value=reply(SCHEDULE_OK_JSON))
        async with client("json") as mk:
            await mk.campaigns.single.schedule(7, datetime(2030, 7, 1, 9, 0, tzinfo=prague))
            await mk.campaigns.single.schedule(7, datetime(2030, 12, 1, 9, 0, tzinfo=prague))
    summer, winter = (json_params(c.request, SCHEDULE) for c in r.calls)
    assert (summer["send_date"], summer["time_zone"]) == ("2030-07-01 09:00", "02:00")
    assert (winter["send_date"], winter["time_zone"]) == ("2030-12-01 09:00", "01:00")


async def test_aware_datetime_with_the_same_time_zone_is_accepted(anyio_backend: str) -> None:
    when = datetime(2030, 1, 2, 10, 5, tzinfo=timezone(timedelta(hours=2)))
    _, r = await answered(
        "json", SCHEDULE_OK_JSON, lambda mk: mk.campaigns.single.schedule(7, when, time_zone="02:00")
    )
    assert json_params(r.calls.last.request, SCHEDULE)["time_zone"] == "02:00"


@pytest.mark.parametrize("zone", ["00:00", "14:00", "-12:00", "05:45", "-03:30"])
async def test_valid_time_zone_forms(anyio_backend: str, zone: str) -> None:
    _, r = await answered(
        "json",
        SCHEDULE_OK_JSON,
        lambda mk: mk.campaigns.single.schedule(7, datetime(2030, 1, 2, 10, 5), time_zone=zone),
    )
    assert json_params(r.calls.last.request, SCHEDULE)["time_zone"] == zone


PLUS_TWO = timezone(timedelta(hours=2))

INVALID: list[Any] = [
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {}, id="naive-without-zone"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": "2:00"}, id="zone-2:00"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": "+02:00"}, id="zone-+02:00"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": "25:00"}, id="zone-25:00"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": "02:60"}, id="zone-02:60"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": "0200"}, id="zone-0200"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": ""}, id="zone-empty"),
    pytest.param((7, datetime(2030, 1, 2, 10, 5)), {"time_zone": 2}, id="zone-int"),
    pytest.param((7, "now"), {"time_zone": "Europe/Prague"}, id="zone-name"),
    pytest.param(
        (7, datetime(2030, 1, 2, 10, 5, tzinfo=PLUS_TWO)), {"time_zone": "03:00"}, id="aware-contradicts-zone"
    ),
    pytest.param(
        (7, datetime(2030, 1, 2, 10, 5, tzinfo=PLUS_TWO)),
        {"time_zone": "-02:00"},
        id="aware-sign-contradicts",
    ),
    pytest.param((7, "2030-01-02 10:05"), {"time_zone": "02:00"}, id="date-as-string"),
    pytest.param((7, "0000-00-00"), {}, id="cancel-date-as-string"),
    pytest.param((7, "NOW"), {}, id="NOW"),
    pytest.param((7, ""), {}, id="empty-date"),
    pytest.param((7, None), {}, id="none-date"),
    pytest.param((7, 1893456000), {"time_zone": "02:00"}, id="timestamp-date"),
    pytest.param((0, "now"), {}, id="message-id-0"),
    pytest.param((-7, "now"), {}, id="message-id-negative"),
    pytest.param((True, "now"), {}, id="message-id-bool"),
    pytest.param(("7", "now"), {}, id="message-id-str"),
    pytest.param((7, "now"), {"template_id": 0}, id="template-0"),
    pytest.param((7, "now"), {"template_id": -1}, id="template-negative"),
    pytest.param((7, "now"), {"template_id": True}, id="template-bool"),
    pytest.param((7, "now"), {"delivery_feed_id": 0}, id="feed-0"),
    pytest.param((7, "now"), {"delivery_feed_id": False}, id="feed-bool"),
    pytest.param((7, "now"), {"query_id": -1}, id="query-negative"),
    pytest.param((7, "now"), {"query_id": True}, id="query-bool"),
    pytest.param((7, "now"), {"query_id": None}, id="query-none"),
    pytest.param((7, "now"), {"query_id": 5, "delivery_feed_id": 9}, id="query-with-feed"),
    pytest.param((7, "now"), {"subject": 5}, id="subject-int"),
]


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
@pytest.mark.parametrize(("args", "kwargs"), INVALID)
async def test_invalid_arguments_fail_before_any_request(
    anyio_backend: str, protocol: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with mock() as router:
        r = route(router, protocol).mock(return_value=reply(SCHEDULE_OK_JSON))
        async with client(protocol) as mk:
            with pytest.raises(InvalidParameterError) as info:
                await mk.campaigns.single.schedule(*args, **kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MailkitError)
    assert router.calls.call_count == 0
    assert not r.called


@pytest.mark.parametrize("message_id", [0, -1, True, "7", None])
async def test_cancel_rejects_bad_ids_before_any_request(anyio_backend: str, message_id: object) -> None:
    await refused_unsent("json", lambda mk: mk.campaigns.single.cancel(message_id))  # type: ignore[arg-type]


async def test_naive_datetime_error_explains_the_fix(anyio_backend: str) -> None:
    async with client("json") as mk:
        with pytest.raises(InvalidParameterError, match="time_zone"):
            await mk.campaigns.single.schedule(7, datetime(2030, 1, 2, 10, 5))
