"""The emulator answers exactly as the Mailkit documentation pages show, over both plug-ins.

Every documented answer form is asserted through plain httpx: the in-process transport and the
real loopback server, under asyncio and trio.
"""

from __future__ import annotations

import json
import re
import threading
import xmlrpc.client
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from _docs import MASS_RESULTS_ERRORS_JSON

from mailkit_async._service import (
    BOUNCES,
    DEFAULT_BASE_URL,
    JSON_CONTENT_TYPE,
    JSON_PATH,
    MAX_PAGE_SIZE,
    RESULTS,
    REVALIDATE,
    SCHEDULE,
    UNSUBSCRIBE,
    XMLRPC_CONTENT_TYPE,
    XMLRPC_PATH,
)
from mailkit_async.testing import EmulatorProcess, Fault, MailkitEmulator, MassSendFailure

pytest_plugins = ["pytester"]

NOW = datetime(2022, 5, 10, 8, 0, tzinfo=timezone.utc)  # 10:00 in Prague (summer time)
XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'


@pytest.fixture(params=["transport", "server"])
def via(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu() -> MailkitEmulator:
    return MailkitEmulator(clock=NOW)


@asynccontextmanager
async def open_client(emulator: MailkitEmulator, via: str) -> AsyncIterator[httpx.AsyncClient]:
    if via == "transport":
        async with httpx.AsyncClient(transport=emulator.transport(), base_url=DEFAULT_BASE_URL) as client:
            yield client
    else:
        with emulator.serve() as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                yield client


@pytest.fixture
async def client(emu: MailkitEmulator, via: str) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(emu, via) as http:
        yield http


def envelope(
    function: str,
    parameters: Mapping[str, object] | None = None,
    *,
    client_id: object = 1,
    md5: str = "emulator",
) -> dict[str, object]:
    """A JSON call as the client sends it."""
    return {"function": function, "id": client_id, "md5": md5, "parameters": dict(parameters or {})}


def json_body(function: str, parameters: Mapping[str, object] | None = None) -> bytes:
    """`envelope(function, parameters)` as the bytes of a request."""
    return json.dumps(envelope(function, parameters)).encode()


async def post_json(
    client: httpx.AsyncClient,
    function: str,
    parameters: Mapping[str, object],
    *,
    client_id: object = 1,
    md5: str = "emulator",
) -> httpx.Response:
    response = await client.post(JSON_PATH, json=envelope(function, parameters, client_id=client_id, md5=md5))
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    return response


async def post_xml(
    client: httpx.AsyncClient, function: str, *args: Any, client_id: int = 1, md5: str = "emulator"
) -> httpx.Response:
    body = xmlrpc.client.dumps((client_id, md5, *args), function, allow_none=True)
    response = await client.post(XMLRPC_PATH, content=body, headers={"Content-Type": XMLRPC_CONTENT_TYPE})
    assert response.headers["content-type"] == XMLRPC_CONTENT_TYPE
    return response


def compact(xml: str) -> str:
    """XML with the layout between tags removed, to compare with the documentation's examples."""
    return re.sub(r">\s+<", "><", xml.strip())


def doc_value(inner: str) -> str:
    """The documented methodResponse carrying one value."""
    return compact(
        f"{XML_HEAD}<methodResponse><params><param><value>{inner}</value></param></params></methodResponse>"
    )


def xml_value(response: httpx.Response) -> object:
    assert response.status_code == 200
    return xmlrpc.client.loads(response.content)[0][0]


# -- mailkit.campaigns.single.schedule ----------------------------------------------------------


@pytest.mark.anyio
async def test_schedule_json_success_twice_then_cancel(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    params = {
        "ID_message": "12345",
        "subject": "Květnové novinky",
        "send_date": "2022-05-13 12:45",
        "time_zone": "02:00",
    }
    first = await post_json(client, SCHEDULE, params)
    assert first.json() == {"error": "OK, send_date: 2022-05-13 12:45:00 (Europe/Prague)", "error_status": 0}
    assert list(first.json()) == ["error", "error_status"]
    # A campaign may hold several scheduled sends: scheduling twice schedules twice.
    await post_json(client, SCHEDULE, {**params, "ID_message": 12345, "send_date": "2022-05-14 08:00"})
    sends = emu.scheduled_sends(12345)
    assert [(s.send_date, s.zone_name, s.subject) for s in sends] == [
        (datetime(2022, 5, 13, 12, 45), "Europe/Prague", "Květnové novinky"),
        (datetime(2022, 5, 14, 8, 0), "Europe/Prague", "Květnové novinky"),
    ]
    assert sends[0].utc == datetime(2022, 5, 13, 10, 45, tzinfo=timezone.utc)
    cancel = await post_json(
        client, SCHEDULE, {"ID_message": 12345, "send_date": "0000-00-00", "time_zone": ""}
    )
    assert cancel.json() == {"error": "OK, send_date: 0000-00-00 00:00:00", "error_status": 0}
    assert emu.scheduled_sends(12345) == []
    assert emu.schedule_calls == 3
    assert emu.requests[SCHEDULE] == 3


@pytest.mark.anyio
async def test_schedule_xmlrpc_success_and_cancel(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    # Positional: ID_message, subject, send_date, time_zone, condition (ignored), ID_template, struct.
    answer = await post_xml(client, SCHEDULE, 12345, "", "2022-05-13 12:45", "02:00", "", 0, {})
    assert compact(answer.text) == doc_value("<string>OK, send_date: 2022-05-13 12:45:00</string>")
    answer = await post_xml(client, SCHEDULE, 2, "Sub", "2022-06-01 09:30", "-05:00", "condition", 77, {})
    assert xml_value(answer) == "OK, send_date: 2022-06-01 09:30:00"
    (send,) = emu.scheduled_sends(2)
    # -05:00 in June is Chicago's summer time (New York is -04:00 then).
    assert (send.zone_name, send.template_id, send.subject) == ("America/Chicago", 77, "Sub")
    cancel = await post_xml(client, SCHEDULE, 12345, "", "0000-00-00", "", "", 0, {})
    assert compact(cancel.text) == doc_value("<string>OK, send_date: 0000-00-00 00:00:00</string>")
    assert emu.scheduled_sends(12345) == []
    assert len(emu.scheduled_sends(2)) == 1


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"ID_message": 12345, "send_date": "", "time_zone": "02:00"}, "Missing send date of campaign"),
        ({"ID_message": 12345, "time_zone": "02:00"}, "Missing send date of campaign"),
        ({"send_date": "now"}, "Missing ID of campaign"),
        ({"ID_message": "ID kampaně", "send_date": "now"}, "Missing ID of campaign"),
        ({"ID_message": 999, "send_date": "now"}, "Missing ID of campaign"),
        (
            {"ID_message": 1, "send_date": "2022-05-10 09:59", "time_zone": "02:00"},
            "The send date is in the past",
        ),
        (
            {"ID_message": 1, "send_date": "2022-05-09 23:00", "time_zone": "-05:00"},
            "The send date is in the past",
        ),
        ({"ID_message": 1, "send_date": "now", "ID_delivery_feed": "555"}, "Invalid ID_delivery_feed"),
        ({"ID_message": 1, "send_date": "now", "ID_query": "777"}, "Invalid ID_query"),
        (
            {"ID_message": 1, "send_date": "now", "ID_query": "123", "ID_delivery_feed": "1234"},
            "error: Confused parameters - it is not possible to combine delivery capping and delivery feeds",
        ),
    ],
)
@pytest.mark.anyio
async def test_schedule_refusals(
    emu: MailkitEmulator, client: httpx.AsyncClient, params: dict[str, object], error: str
) -> None:
    answer = await post_json(client, SCHEDULE, params)
    assert answer.json() == {"error": error, "error_status": 1}
    positional = [params.get(k, "") for k in ("ID_message", "subject", "send_date", "time_zone")]
    options = {k: params[k] for k in ("ID_query", "ID_delivery_feed") if k in params}
    answer = await post_xml(client, SCHEDULE, *positional, "", 0, options)
    assert compact(answer.text) == doc_value(f"<string>{error}</string>")
    assert all(emu.scheduled_sends(m) == [] for m in (1, 12345))


@pytest.mark.parametrize(
    ("time_zone", "printed"),
    [
        ("01:00", "Europe/Prague"),
        ("-05:00", "America/New_York"),
        ("05:45", "Asia/Kathmandu"),
        ("07:00", "Etc/GMT-7"),
        ("-11:00", "Etc/GMT+11"),
    ],
)
@pytest.mark.anyio
async def test_schedule_prints_a_zone_name_for_the_offset(
    client: httpx.AsyncClient, time_zone: str, printed: str
) -> None:
    answer = await post_json(
        client, SCHEDULE, {"ID_message": 3, "send_date": "2023-01-02 03:04", "time_zone": time_zone}
    )
    assert answer.json()["error"] == f"OK, send_date: 2023-01-02 03:04:00 ({printed})"


@pytest.mark.anyio
async def test_schedule_now_uses_the_emulator_clock_in_prague_time(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    answer = await post_json(client, SCHEDULE, {"ID_message": 1, "send_date": "now", "time_zone": ""})
    assert answer.json() == {"error": "OK, send_date: 2022-05-10 10:00:00 (Europe/Prague)", "error_status": 0}
    emu.set_clock(datetime(2022, 12, 1, 8, 0, tzinfo=timezone.utc))  # winter: +01:00
    answer = await post_xml(client, SCHEDULE, 1, "", "now", "", "", 0, {})
    assert xml_value(answer) == "OK, send_date: 2022-12-01 09:00:00"
    assert [s.immediate for s in emu.scheduled_sends(1)] == [True, True]


@pytest.mark.anyio
async def test_schedule_delivery_settings_follow_the_documentation(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    # A delivery feed is assigned and the mailing list detached.
    await post_xml(client, SCHEDULE, 1, "", "now", "", "", 0, {"ID_delivery_feed": "1234"})
    campaign = emu.campaign(1)
    assert (campaign.delivery_feed_id, campaign.has_mailing_list) == (1234, False)
    # A valid ID_query turns conditional delivery on; leaving it out leaves it; 0 clears it.
    await post_json(client, SCHEDULE, {"ID_message": 2, "send_date": "now", "ID_query": "123"})
    await post_json(client, SCHEDULE, {"ID_message": 2, "send_date": "now"})
    assert emu.campaign(2).query_id == 123
    await post_xml(client, SCHEDULE, 2, "", "now", "", "", 0, {"ID_query": "0"})
    assert emu.campaign(2).query_id is None
    assert [s.query_id for s in emu.scheduled_sends(2)] == [123, 123, None]


# -- mailkit.sendmail_mass.results --------------------------------------------------------------


@pytest.mark.anyio
async def test_results_without_errors(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    # Unknown, still running or clean: all answer OK.
    answer = await post_json(client, RESULTS, {"ID_send": 5, "request_id": 42})
    assert answer.json() == {"error_status": 0, "status": "OK"}
    answer = await post_xml(client, RESULTS, 5, 42)
    assert compact(answer.text) == doc_value(
        "<struct><member><name>status</name><value><string>OK</string></value></member></struct>"
    )


@pytest.mark.anyio
async def test_results_with_errors_match_the_documented_forms(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    emu.add_mass_error(42, 4, email="mail@mail.cz")  # IDs 0: nothing was created
    answer = await post_json(client, RESULTS, {"ID_send": None, "request_id": "42"})
    assert answer.json() == MASS_RESULTS_ERRORS_JSON
    assert list(answer.json()["results"][0]) == [
        "ID_SEND_MESSAGE", "ID_SEND", "ID_EMAIL", "DATE", "EMAIL", "ERROR_CODE", "INFO",
    ]  # fmt: skip
    emu.set_mass_results(
        7,
        [
            MassSendFailure(
                1, "url return null", "mail@mail.cz", "2015-05-13 09:43:50", 123456789, 12345, 123456789
            )
        ],
    )
    answer = await post_xml(client, RESULTS, 0, 7)

    def member(name: str, value: str) -> str:
        return f"<member><name>{name}</name><value>{value}</value></member>"

    assert compact(answer.text) == doc_value(
        "<struct>"
        + member("status", "<string>ERROR</string>")
        + member(
            "results",
            "<array><data><value><struct>"
            + member("ERROR_CODE", "<i4>1</i4>")
            + member("INFO", "<string>url return null</string>")
            + member("DATE", "<string>2015-05-13 09:43:50</string>")
            + member("ID_EMAIL", "<i4>123456789</i4>")
            + member("EMAIL", "<string>mail@mail.cz</string>")
            + member("ID_SEND", "<i4>12345</i4>")
            + member("ID_SEND_MESSAGE", "<i4>123456789</i4>")
            + "</struct></value></data></array>",
        )
        + "</struct>"
    )


@pytest.mark.anyio
async def test_results_filter_by_send_and_need_a_request_id(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    emu.add_mass_error(9, 2, email="bad address", send_id=100)
    emu.add_mass_error(9, 6, email="gone@example.cz", send_id=200, email_id=55)
    answer = await post_json(client, RESULTS, {"ID_send": "200", "request_id": 9})
    assert [r["ERROR_CODE"] for r in answer.json()["results"]] == [6]
    answer = await post_xml(client, RESULTS, 300, 9)
    assert xml_value(answer) == {"status": "OK"}
    answer = await post_json(client, RESULTS, {"ID_send": 1})
    assert answer.json() == {"error_status": 1, "error": "Missing request_id"}
    assert xml_value(await post_xml(client, RESULTS, 0, 0)) == "Missing request_id"


# -- mailkit.email.revalidate and mailkit.email.unsubscribe -------------------------------------


@pytest.mark.anyio
async def test_revalidate_json_forms(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.add_subscriber("email@example.com", email_id=123456789, unsubscribed=True)
    emu.add_subscriber("sample@samplemail.com", email_id=123456790)
    answer = await post_json(
        client,
        REVALIDATE,
        {
            "email": "email@example.com",
            "language": "CZ",
            "ID_message": "",
            "channel": "",
            "agreement": "FALSE",
        },
    )
    assert answer.json() == {
        "email": "email@example.com",
        "error_status": 0,
        "ID_email": "123456789",
        "error": "Sent subscribe email",
    }
    assert list(answer.json()) == ["email", "error_status", "ID_email", "error"]
    assert emu.verification_mails("email@example.com") == 1
    assert emu.subscriber(123456789).status == "pending"  # type: ignore[union-attr]
    # Every agreement=FALSE call mails the recipient again; that is why the client never re-sends it.
    await post_json(client, REVALIDATE, {"ID_email": "123456789", "agreement": "false"})
    assert emu.verification_mails(123456789) == 2
    answer = await post_json(
        client, REVALIDATE, {"ID_email": 123456789, "agreement": "TRUE", "channel": "phone"}
    )
    assert answer.json() == {
        "email": "email@example.com",
        "error_status": 0,
        "ID_email": "123456789",
        "error": "Email has been revalidated",
    }
    subscriber = emu.subscriber("Email@Example.com")
    assert subscriber is not None and (subscriber.status, subscriber.channel) == ("subscribed", "phone")
    # Not unsubscribed: a failure that carries error_status 0.
    for email in ("sample@samplemail.com", "email@example.com"):
        answer = await post_json(client, REVALIDATE, {"email": email, "agreement": "TRUE"})
        assert answer.json()["error"] == "Email is not unsubscribed"
    assert answer.json() == {
        "error_status": 0,
        "ID_email": "123456789",
        "error": "Email is not unsubscribed",
        "email": "email@example.com",
    }
    assert list(answer.json()) == ["error_status", "ID_email", "error", "email"]
    answer = await post_json(client, REVALIDATE, {"email": "nobody@example.com", "agreement": "TRUE"})
    assert answer.json()["error_status"] == 1
    assert emu.verification_mails("email@example.com") == 2


@pytest.mark.anyio
async def test_revalidate_xmlrpc_forms(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    email_id = emu.add_subscriber("example@example.cz", unsubscribed=True)
    # ID_email, ID_message, agreement, channel, dummy, language.
    answer = await post_xml(client, REVALIDATE, email_id, 0, False, "", 0, "cs")
    assert compact(answer.text) == doc_value("<string>example@example.cz</string>")
    assert emu.verification_mails("example@example.cz") == 1
    answer = await post_xml(client, REVALIDATE, "example@example.cz", 0, True, "web form", 0, "")
    assert compact(answer.text) == doc_value("<string>example@example.cz</string>")
    assert emu.subscriber(email_id).status == "subscribed"  # type: ignore[union-attr]
    answer = await post_xml(client, REVALIDATE, email_id, 0, True, "", 0, "")
    assert compact(answer.text) == doc_value("<string>example@example.cz is not unsubscribed</string>")
    assert [r.revalidated for r in emu.revalidations] == [False, True]


@pytest.mark.anyio
async def test_unsubscribe_json_forms(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.add_subscriber("email@example.eu", email_id=123456789)
    params = {"send_optout": "FALSE", "email": "email@example.eu", "ID_email": None, "ID_send_message": ""}
    answer = await post_json(client, UNSUBSCRIBE, {**params, "timeout": "true", "timeout_days": "60"})
    assert answer.json() == {"error_status": "0", "ID_email": "123456789", "status": "1"}
    assert list(answer.json()) == ["error_status", "ID_email", "status"]
    answer = await post_json(client, UNSUBSCRIBE, {**params, "email": None, "ID_email": "123456789"})
    assert answer.json() == {"error_status": "0", "ID_email": "123456789", "status": "2"}
    # An address the account does not know is unsubscribed too, and named by itself.
    stranger = {**params, "email": "stranger@example.org", "send_optout": "TRUE"}
    answer = await post_json(client, UNSUBSCRIBE, stranger)
    assert answer.json() == {"error_status": "0", "ID_email": "stranger@example.org", "status": "1"}
    answer = await post_json(client, UNSUBSCRIBE, stranger)
    assert answer.json()["status"] == "2"
    assert emu.is_unsubscribed("stranger@example.org")
    answer = await post_json(client, UNSUBSCRIBE, {**params, "email": None})
    assert answer.json() == {"error_status": 1, "error": "Missing ID_email or email"}
    for bad in ({"email": "not-an-address"}, {"email": None, "ID_email": 5}):
        answer = await post_json(client, UNSUBSCRIBE, {**params, **bad})
        assert answer.json() == {"error_status": 1, "error": "Invalid ID_email or email"}
    records = emu.unsubscribes
    assert [(r.email, r.status, r.pause_days, r.optout_sent) for r in records] == [
        ("email@example.eu", 1, 60, False),
        ("email@example.eu", 2, None, False),
        ("stranger@example.org", 1, None, True),
        ("stranger@example.org", 2, None, False),
    ]
    assert emu.optout_mails("stranger@example.org") == 1
    assert emu.optout_mails("email@example.eu") == 0
    assert emu.subscriber(123456789).paused_until == datetime(2022, 7, 9, 8, 0, tzinfo=timezone.utc)  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_unsubscribe_xmlrpc_forms(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.add_subscriber("someone@example.cz", email_id=282837490)
    # ID_email (ID or address), ID_send_message, send_optout, struct{timeout, timeout_days}.
    answer = await post_xml(client, UNSUBSCRIBE, "someone@example.cz", 0, True, {})
    assert compact(answer.text) == doc_value("<i4>282837490</i4>")
    assert emu.optout_mails(282837490) == 1
    answer = await post_xml(
        client, UNSUBSCRIBE, "new@example.org", 77, False, {"timeout": "true", "timeout_days": "14"}
    )
    assert compact(answer.text) == doc_value("<string>new@example.org</string>")
    assert (emu.unsubscribes[-1].send_message_id, emu.unsubscribes[-1].pause_days) == (77, 14)
    for target in (0, "", "broken@", 999):
        answer = await post_xml(client, UNSUBSCRIBE, target, 0, False, {})
        assert compact(answer.text) == doc_value("<string>Invalid ID_email or email</string>")
    assert len(emu.unsubscribes) == 2


@pytest.mark.parametrize("agreement", ["TRUE", "true", True, 1, "1"])
@pytest.mark.anyio
async def test_unsubscribe_then_revalidate_with_agreement(
    emu: MailkitEmulator, client: httpx.AsyncClient, agreement: object
) -> None:
    email_id = emu.add_subscriber("cyklus@example.cz")
    answer = await post_json(
        client, UNSUBSCRIBE, {"email": None, "ID_email": str(email_id), "send_optout": 0}
    )
    assert answer.json()["status"] == "1"
    assert emu.is_unsubscribed("cyklus@example.cz")
    answer = await post_json(client, REVALIDATE, {"ID_email": email_id, "agreement": agreement})
    assert answer.json()["error"] == "Email has been revalidated"
    assert not emu.is_unsubscribed("cyklus@example.cz")
    answer = await post_json(client, UNSUBSCRIBE, {"email": "cyklus@example.cz", "ID_email": None})
    assert answer.json()["status"] == "1"  # subscribed again, so unsubscribed anew


@pytest.mark.parametrize("agreement", ["FALSE", "false", False, 0, "0", None])
@pytest.mark.anyio
async def test_revalidate_without_agreement_mails_a_verification(
    emu: MailkitEmulator, client: httpx.AsyncClient, agreement: object
) -> None:
    emu.add_subscriber("odhlaseny@example.cz", unsubscribed=True)
    answer = await post_json(client, REVALIDATE, {"email": "odhlaseny@example.cz", "agreement": agreement})
    assert answer.json()["error"] == "Sent subscribe email"
    assert emu.verification_mails("odhlaseny@example.cz") == 1
    assert emu.is_unsubscribed("odhlaseny@example.cz")


# -- authentication, unknown functions, malformed requests --------------------------------------


@pytest.mark.anyio
async def test_auth_failures_answer_http_200(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    for client_id, md5 in ((1, "wrong"), (2, "emulator"), ("x", "emulator")):
        answer = await post_json(client, UNSUBSCRIBE, {"email": "a@b.cz"}, client_id=client_id, md5=md5)
        assert answer.json() == {"error_status": 1, "error": "Unauthorized"}
    answer = await post_xml(client, UNSUBSCRIBE, "a@b.cz", 0, False, {}, md5="wrong")
    assert compact(answer.text) == doc_value("<string>Unauthorized</string>")  # a value, not a <fault>
    answer = await post_json(client, UNSUBSCRIBE, {"email": "a@b.cz"}, client_id="1")  # numeric string id
    assert answer.json()["status"] == "1"
    assert emu.requests[UNSUBSCRIBE] == 5
    assert emu.processed[UNSUBSCRIBE] == 1
    assert len(emu.unsubscribes) == 1


@pytest.mark.anyio
async def test_disallowed_ip(via: str) -> None:
    emulator = MailkitEmulator(allowed_ips=["10.0.0.0/8"])
    async with open_client(emulator, via) as http:
        answer = await post_json(http, RESULTS, {"request_id": 1})
        assert answer.json() == {"error_status": 1, "error": "Disallowed IP 127.0.0.1"}
        xml = await post_xml(http, RESULTS, 0, 1)
        assert compact(xml.text) == doc_value("<string>Disallowed IP 127.0.0.1</string>")
    async with httpx.AsyncClient(
        transport=emulator.transport(client_ip="10.1.2.3"), base_url="http://x"
    ) as http:
        answer = await post_json(http, RESULTS, {"request_id": 1})
        assert answer.json() == {"error_status": 0, "status": "OK"}
        emulator.allowed_ips = ["192.0.2.1"]
        answer = await post_json(http, RESULTS, {"request_id": 1})
        assert answer.json()["error"] == "Disallowed IP 10.1.2.3"


@pytest.mark.anyio
async def test_unknown_function(client: httpx.AsyncClient) -> None:
    answer = await post_json(client, "mailkit.nothing.here", {})
    assert answer.json() == {"error_status": 1, "error": "Unknown function"}
    answer = await post_xml(client, "mailkit.nothing.here")
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(answer.content)
    assert (fault.value.faultCode, fault.value.faultString) == (-32601, "Unknown function")


@pytest.mark.anyio
async def test_malformed_requests(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    answer = await client.post(JSON_PATH, content=b"{not json")
    assert answer.json() == {"error_status": 1, "error": "Invalid request"}
    answer = await client.post(XMLRPC_PATH, content=b"<methodCall><methodName>x")
    with pytest.raises(xmlrpc.client.Fault):
        xmlrpc.client.loads(answer.content)
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall><methodName>&a;</methodName></methodCall>'
    with pytest.raises(xmlrpc.client.Fault):
        xmlrpc.client.loads((await client.post(XMLRPC_PATH, content=bomb)).content)
    assert (await client.post("/other")).status_code == 404
    wrong_method = await client.get(JSON_PATH)
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert sum(emu.processed.values()) == 0


@pytest.mark.anyio
async def test_lenient_xmlrpc_input(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    """<i4> or <int>, untyped string values, <boolean>: all accepted."""
    emu.add_subscriber("typy@example.cz", email_id=4242, unsubscribed=True)
    body = (
        '<?xml version="1.0"?><methodCall><methodName>mailkit.email.revalidate</methodName><params>'
        "<param><value><i4>1</i4></value></param><param><value>emulator</value></param>"
        "<param><value><i4>4242</i4></value></param><param><value><int>0</int></value></param>"
        "<param><value><boolean>1</boolean></value></param><param><value><string></string></value></param>"
        "<param><value><int>0</int></value></param><param><value><string>cs</string></value></param>"
        "</params></methodCall>"
    )
    answer = await client.post(XMLRPC_PATH, content=body.encode())
    assert xml_value(answer) == "typy@example.cz"
    assert not emu.is_unsubscribed("typy@example.cz")


# -- registered functions, repr ----------------------------------------------------------------


@pytest.mark.anyio
async def test_registered_function(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.register_function("mailkit.ping", lambda call: {"pong": call.params.get("n", call.args[:1]), "n": 5})
    answer = await post_json(client, "mailkit.ping", {"n": "x"})
    assert answer.json() == {"pong": "x", "n": 5}
    answer = await post_xml(client, "mailkit.ping", 7)
    assert "<i4>5</i4>" in answer.text
    assert xml_value(answer) == {"pong": [7], "n": 5}

    def broken(call: object) -> object:
        raise RuntimeError("boom")

    emu.register_function("mailkit.broken", broken)
    assert (
        await client.post(JSON_PATH, json={"function": "mailkit.broken", "id": 1, "md5": "emulator"})
    ).status_code == 500
    assert [str(e) for e in emu.errors] == ["boom"]


def test_no_secret_in_repr_or_log() -> None:
    emulator = MailkitEmulator(7, "s3cr3t-md5")
    exchange = emulator.receive(
        "POST", JSON_PATH, {}, b'{"function": "mailkit.x", "id": 7, "md5": "s3cr3t-md5", "parameters": {}}'
    )
    exchange.respond()
    texts = [repr(emulator), repr(emulator.request_log), repr(exchange.record), repr(emulator.transport())]
    with emulator.serve() as server:
        texts.append(repr(server))
    assert all("s3cr3t" not in text for text in texts), texts
    assert "client_id=7" in texts[0]


# -- mailkit.report.raw.bounces -----------------------------------------------------------------

BOUNCE_FIELDS = [
    "ID_MESSAGE", "TEXT_STATUS", "STATUS", "ID_EMAIL", "ID_SEND", "EMAIL", "ID_SEND_MESSGE",
    "ID_USER_LIST", "REMOTE_MTA", "ID_UNDELIVERED_LOG", "RECIPIENT_STATUS",
]  # fmt: skip
EXTRA_FIELDS = ["BOUNCE_CAT", "UTM_CAMPAIGN", "CAMPAIGN_NAME", "SUBJECT"]
ID_FIELDS = {"ID_MESSAGE", "ID_EMAIL", "ID_SEND", "ID_SEND_MESSGE", "ID_USER_LIST", "ID_UNDELIVERED_LOG"}


async def bounce_page(
    client: httpx.AsyncClient, protocol: str, cursor: int = 0, limit: int = 0, message: int = 0, send: int = 0
) -> list[dict[str, object]]:
    if protocol == "json":
        params: dict[str, object] = {"ID_undelivered_log": str(cursor), "limit": str(limit)}
        if message:
            params["ID_message"] = str(message)
        if send:
            params["ID_send"] = send
        answer = await post_json(client, BOUNCES, params)
        records: list[dict[str, object]] = answer.json()
        return records
    value = xml_value(await post_xml(client, BOUNCES, message, send, cursor, limit))
    assert isinstance(value, list)
    return value


@pytest.mark.anyio
async def test_bounce_records_have_the_documented_shape(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    emu.seed_bounces(40)
    (json_records, xml_records) = [await bounce_page(client, p, limit=40) for p in ("json", "xmlrpc")]
    assert len(json_records) == len(xml_records) == 40
    for as_json, as_xml in zip(json_records, xml_records, strict=True):
        assert list(as_json) == list(as_xml) == BOUNCE_FIELDS
        assert all(isinstance(value, str) for value in as_json.values())  # JSON: every value a string
        assert all(isinstance(as_xml[f], int) == (f in ID_FIELDS) for f in BOUNCE_FIELDS)
        assert {k: str(v) for k, v in as_xml.items()} == as_json
    assert [r["ID_UNDELIVERED_LOG"] for r in json_records] == [str(i) for i in range(1, 41)]
    statuses = {(r["STATUS"], r["RECIPIENT_STATUS"]) for r in json_records}
    assert {("5.1.1", "permanent"), ("4.2.2", "temporary"), ("5.2.2", "permanent")} <= statuses
    assert any(r["REMOTE_MTA"] == "dns; mx1.seznam.cz" for r in json_records)
    assert any(r["REMOTE_MTA"] == "" for r in json_records)
    # XML-RPC: <i4> for the IDs, escaped text, members in the documented order.
    raw = (await post_xml(client, BOUNCES, 0, 0, 0, 1)).text
    names = re.findall(r"<name>(\w+)</name>", raw)
    assert names == BOUNCE_FIELDS
    assert "<value><i4>1</i4></value>" in raw
    assert re.search(r"<name>ID_EMAIL</name><value><i4>\d+</i4>", raw)


@pytest.mark.anyio
async def test_bounce_records_are_deterministic(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.seed_bounces(1000, gap_every=9)
    first = await client.post(JSON_PATH, json=envelope(BOUNCES))
    again = MailkitEmulator()
    again.seed_bounces(1000, gap_every=9)
    async with httpx.AsyncClient(transport=again.transport(), base_url="http://x") as other:
        second = await other.post(JSON_PATH, json=envelope(BOUNCES))
    assert first.content == second.content
    assert emu.bounce_records(500, limit=1) == [first.json()[500 - 500 // 10]]


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
@pytest.mark.anyio
async def test_bounce_pagination_exclusive_with_gaps_and_page_cap(via: str, protocol: str) -> None:
    emulator = MailkitEmulator(page_cap=70)
    emulator.seed_bounces(500, start_id=1000, gap_every=4)
    expected = list(emulator.bounce_ids())
    assert len(expected) == 500 and expected[:6] == [1000, 1001, 1002, 1003, 1005, 1006]
    seen: list[int] = []
    cursor = 0
    async with open_client(emulator, via) as http:
        while page := await bounce_page(http, protocol, cursor, limit=100):
            assert len(page) <= 70
            ids = [int(str(r["ID_UNDELIVERED_LOG"])) for r in page]
            assert ids == sorted(ids) and ids[0] > cursor
            seen += ids
            cursor = ids[-1]
        # A cursor that falls in a gap starts at the next record.
        assert [int(str(r["ID_UNDELIVERED_LOG"])) for r in await bounce_page(http, protocol, 1003, 2)] == [
            1005,
            1006,
        ]
    assert seen == expected
    assert emulator.requests[BOUNCES] == 500 // 70 + 2 + 1


@pytest.mark.anyio
async def test_bounce_pagination_inclusive_echoes_the_cursor(
    client: httpx.AsyncClient, emu: MailkitEmulator
) -> None:
    emu.cursor = "inclusive"
    emu.seed_bounces(30, gap_every=2)
    page = await bounce_page(client, "json", 4, 5)
    assert [r["ID_UNDELIVERED_LOG"] for r in page] == ["4", "5", "7", "8", "10"]
    page = await bounce_page(client, "xmlrpc", 6, 2)  # 6 is a gap: the next record comes first
    assert [r["ID_UNDELIVERED_LOG"] for r in page] == [7, 8]
    last = list(emu.bounce_ids())[-1]
    assert [r["ID_UNDELIVERED_LOG"] for r in await bounce_page(client, "json", last)] == [str(last)]
    emu.cursor = "exclusive"
    assert await bounce_page(client, "json", last) == []


@pytest.mark.anyio
async def test_bounce_filters(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.seed_bounces(300, message_ids=(11, 22), send_ids=(101, 202, 303), gap_every=7)
    all_ids = list(emu.bounce_ids())
    for protocol in ("json", "xmlrpc"):
        page = await bounce_page(client, protocol, limit=1000, message=22)
        assert {str(r["ID_MESSAGE"]) for r in page} == {"22"}
        assert [int(str(r["ID_UNDELIVERED_LOG"])) for r in page] == list(emu.bounce_ids(message_id=22))
        page = await bounce_page(client, protocol, cursor=all_ids[100], limit=10, message=11, send=303)
        ids = [int(str(r["ID_UNDELIVERED_LOG"])) for r in page]
        expected = [i for i in emu.bounce_ids(message_id=11, send_id=303) if i > all_ids[100]][:10]
        assert ids == expected and len(ids) == 10
        assert {(str(r["ID_MESSAGE"]), str(r["ID_SEND"])) for r in page} == {("11", "303")}
        assert await bounce_page(client, protocol, message=99) == []


def test_bounce_limits() -> None:
    emulator = MailkitEmulator()
    emulator.seed_bounces(MAX_PAGE_SIZE + 10)

    def count(protocol: str, cursor: int = 0, limit: int = 0) -> int:
        if protocol == "json":
            body = json_body(BOUNCES, {"ID_undelivered_log": cursor, "limit": str(limit)})
            answer = emulator.receive("POST", JSON_PATH, {}, body).respond().body
            return answer.count(b'"ID_UNDELIVERED_LOG"')
        call = xmlrpc.client.dumps((1, "emulator", 0, 0, cursor, limit), BOUNCES).encode()
        answer = emulator.receive("POST", XMLRPC_PATH, {}, call).respond().body
        return answer.count(b"<name>ID_UNDELIVERED_LOG</name>")

    assert count("json", limit=7) == count("xmlrpc", limit=7) == 7
    assert count("json") == count("xmlrpc") == MAX_PAGE_SIZE  # no limit: the service's 25 000
    assert count("json", limit=99_999) == count("xmlrpc", limit=99_999) == MAX_PAGE_SIZE  # never more
    emulator.page_cap = 1000
    assert count("xmlrpc", limit=5000) == count("json") == 1000
    assert count("json", cursor=MAX_PAGE_SIZE) == 10


@pytest.mark.parametrize(("option", "body"), [("[]", b"[]"), ("{}", b"{}"), ('""', b'""'), ("", b"")])
@pytest.mark.anyio
async def test_empty_page_forms(via: str, option: str, body: bytes) -> None:
    emulator = MailkitEmulator(empty_page=option)  # type: ignore[arg-type]
    emulator.seed_bounces(3)
    async with open_client(emulator, via) as http:
        answer = await post_json(http, BOUNCES, {"ID_undelivered_log": 3})
        assert answer.content == body
        xml = await post_xml(http, BOUNCES, 0, 0, 3, 0)
        assert compact(xml.text) == doc_value("<array><data></data></array>")
        assert xml_value(xml) == []


@pytest.mark.anyio
async def test_bounce_extra_fields_and_appended_records(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    span = emu.seed_bounces(10, extra_fields=True)
    assert span == range(1, 11)
    later = emu.seed_bounces(5, append=True, start_id=100)
    assert later == range(100, 105)
    page = await bounce_page(client, "json", 8)
    assert [r["ID_UNDELIVERED_LOG"] for r in page] == ["9", "10", "100", "101", "102", "103", "104"]
    assert list(page[0]) == BOUNCE_FIELDS + EXTRA_FIELDS
    assert list(page[2]) == BOUNCE_FIELDS
    xml_page = await bounce_page(client, "xmlrpc", 0, 1)
    assert list(xml_page[0]) == BOUNCE_FIELDS + EXTRA_FIELDS
    assert {k: str(v) for k, v in xml_page[0].items()} == (await bounce_page(client, "json", 0, 1))[0]
    assert any("&" in str(r["SUBJECT"]) or "í" in str(r["SUBJECT"]) for r in page[:2])
    with pytest.raises(ValueError, match="above ID 104"):
        emu.seed_bounces(1, append=True, start_id=50)


def test_millions_of_records_cost_little_memory() -> None:
    import tracemalloc

    emulator = MailkitEmulator()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        emulator.seed_bounces(5_000_000, message_ids=(1, 2, 3), send_ids=(10, 20), gap_every=1000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
    assert emulator.bounce_count == 5_000_000
    last_id = 5_000_000 + 4_999_999 // 1000
    exchange = emulator.receive(
        "POST",
        JSON_PATH,
        {},
        json_body(BOUNCES, {"ID_undelivered_log": str(last_id - 3)}),
    )
    page = msgspec_decode(exchange.respond().body)
    assert [r["ID_UNDELIVERED_LOG"] for r in page] == [str(i) for i in range(last_id - 2, last_id + 1)]


def msgspec_decode(body: bytes) -> list[dict[str, str]]:
    import msgspec

    return msgspec.json.decode(body, type=list[dict[str, str]])


def test_full_pages_render_fast_and_are_cached() -> None:
    import time

    emulator = MailkitEmulator()
    emulator.seed_bounces(100_000)
    for path, body in (
        (
            JSON_PATH,
            json_body(BOUNCES),
        ),
        (XMLRPC_PATH, xmlrpc.client.dumps((1, "emulator", 0, 0, 50_000, 0), BOUNCES).encode()),
    ):
        started = time.perf_counter()
        first = emulator.receive("POST", path, {}, body).respond().body
        elapsed = time.perf_counter() - started
        assert elapsed < 2.0, f"{path}: 25 000 records took {elapsed:.2f}s"
        hits = emulator.page_cache.hits
        assert emulator.receive("POST", path, {}, body).respond().body is first
        assert emulator.page_cache.hits == hits + 1
    emulator.seed_bounces(10)  # re-seeding forgets the rendered pages
    assert len(emulator.receive("POST", XMLRPC_PATH, {}, body).respond().body) < 1000


# -- faults ---------------------------------------------------------------------------------------

TRANSPORT_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError)


def schedule_envelope(message_id: int = 1) -> dict[str, object]:
    return envelope(SCHEDULE, {"ID_message": message_id, "send_date": "now"})


@pytest.mark.anyio
async def test_status_faults_apply_in_order_to_matching_requests(
    emu: MailkitEmulator, client: httpx.AsyncClient
) -> None:
    emu.seed_bounces(5)
    unavailable = Fault.status(503, retry_after=2)
    limited = Fault.status(429, retry_after=datetime(2030, 1, 1, tzinfo=timezone.utc))
    emu.faults.add(unavailable, times=2, function=BOUNCES)
    emu.faults.add(limited, function=BOUNCES)
    bounces = envelope(BOUNCES)
    assert (await post_json(client, RESULTS, {"request_id": 1})).json()["status"] == "OK"  # not matched
    answers = [await client.post(JSON_PATH, json=bounces) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 429, 200]
    assert [a.headers.get("retry-after") for a in answers] == [
        "2",
        "2",
        "Tue, 01 Jan 2030 00:00:00 GMT",
        None,
    ]
    assert "503 Service Temporarily Unavailable" in answers[0].text
    assert len(answers[3].json()) == 5
    assert (emu.requests[BOUNCES], emu.processed[BOUNCES]) == (4, 1)
    assert [r.fault for r in emu.request_log if r.function == BOUNCES] == [
        unavailable,
        unavailable,
        limited,
        None,
    ]
    assert [r.status for r in emu.request_log] == [200, 503, 503, 429, 200]
    assert len(emu.faults) == 0


@pytest.mark.parametrize("fault", [Fault.status(500), Fault.html(502), Fault.drop()], ids=repr)
@pytest.mark.anyio
async def test_a_fault_before_processing_leaves_the_state_unchanged(
    emu: MailkitEmulator, client: httpx.AsyncClient, fault: Fault
) -> None:
    async def attempt() -> None:
        if fault.kind == "drop":
            with pytest.raises(TRANSPORT_ERRORS):
                await client.post(JSON_PATH, json=schedule_envelope())
        else:
            answer = await client.post(JSON_PATH, json=schedule_envelope())
            assert answer.status_code == fault.http_status
            assert answer.headers["content-type"].startswith("text/html")

    emu.faults.add(fault, function=SCHEDULE)
    await attempt()
    assert emu.scheduled_sends(1) == []  # never reached the function
    assert (emu.schedule_calls, emu.processed[SCHEDULE]) == (1, 0)
    # The same failure after processing: the campaign is scheduled, the answer is lost.
    emu.faults.add(Fault.after_processing(fault), function=SCHEDULE)
    await attempt()
    assert len(emu.scheduled_sends(1)) == 1
    assert (emu.schedule_calls, emu.processed[SCHEDULE]) == (2, 1)
    answer = await client.post(JSON_PATH, json=schedule_envelope())
    assert answer.json()["error_status"] == 0
    assert len(emu.scheduled_sends(1)) == 2


@pytest.mark.anyio
async def test_connect_fault(emu: MailkitEmulator, client: httpx.AsyncClient, via: str) -> None:
    emu.faults.add(Fault.connect())
    expected = httpx.ConnectError if via == "transport" else TRANSPORT_ERRORS
    with pytest.raises(expected):
        await client.post(JSON_PATH, json=schedule_envelope())
    assert emu.scheduled_sends(1) == [] and emu.schedule_calls == 1
    with pytest.raises(ValueError, match="refused connection"):
        Fault.connect().after_processing()


@pytest.mark.anyio
async def test_truncated_answer_after_processing(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    emu.add_subscriber("cut@example.cz", email_id=31337)
    emu.faults.add(Fault.truncate(12), function=UNSUBSCRIBE)
    with pytest.raises(httpx.RemoteProtocolError, match="received 12 bytes"):
        await post_json(client, UNSUBSCRIBE, {"email": "cut@example.cz", "ID_email": None})
    assert emu.is_unsubscribed("cut@example.cz")  # the service did it; the answer was lost
    async with client.stream("POST", JSON_PATH, json=schedule_envelope()) as response:
        assert response.status_code == 200  # faults are spent: a whole answer again
        assert (await response.aread()).startswith(b'{"error":"OK')


@pytest.mark.anyio
async def test_delays_and_timeouts(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    import anyio

    emu.faults.add(Fault.delay(0.1))
    started = anyio.current_time()
    answer = await client.post(JSON_PATH, json=schedule_envelope())
    assert answer.json()["error_status"] == 0 and anyio.current_time() - started >= 0.09
    # The client gives up during a delay before processing: the request is never processed.
    emu.faults.add(Fault.delay(0.2), function=SCHEDULE)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(JSON_PATH, json=schedule_envelope(2), timeout=0.03)
    # ... after processing: it was processed, the client just never heard.
    emu.faults.add(Fault.delay(0.2).after_processing(), function=SCHEDULE)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(JSON_PATH, json=schedule_envelope(3), timeout=0.03)
    await anyio.sleep(0.25)  # let the server finish both delays
    assert (len(emu.scheduled_sends(2)), len(emu.scheduled_sends(3))) == (0, 1)
    assert emu.schedule_calls == 3


@pytest.mark.anyio
async def test_slow_body(emu: MailkitEmulator, client: httpx.AsyncClient) -> None:
    import anyio

    emu.faults.add(Fault.slow_body(10, 0.02))
    started = anyio.current_time()
    answer = await post_json(client, RESULTS, {"request_id": 5})
    assert answer.json() == {"error_status": 0, "status": "OK"}
    assert anyio.current_time() - started >= 0.06  # 36 bytes in 4 chunks
    # A client that gives up mid-body (its read timeout is shorter than the drip).
    emu.faults.add(Fault.slow_body(5, 0.2))
    call = envelope(RESULTS, {"request_id": 5})
    with pytest.raises(httpx.ReadTimeout):
        await client.post(JSON_PATH, json=call, timeout=0.05)
    answer = await client.post(JSON_PATH, json=call)
    assert answer.json()["status"] == "OK"


@pytest.mark.anyio
async def test_body_faults(client: httpx.AsyncClient, emu: MailkitEmulator) -> None:
    emu.faults.add(Fault.html())
    emu.faults.add(Fault.body(b'{"error_st', content_type="application/json"), protocol="json")
    emu.faults.add(Fault.body(b"<html>not xml-rpc</html>", status=502), protocol="xmlrpc")
    answer = await client.post(XMLRPC_PATH, content=xmlrpc.client.dumps((1, "emulator", 0, 1), RESULTS))
    assert answer.status_code == 200 and "<h1>" in answer.text and "html" in answer.headers["content-type"]
    answer = await client.post(XMLRPC_PATH, content=xmlrpc.client.dumps((1, "emulator", 0, 1), RESULTS))
    assert (answer.status_code, answer.content) == (502, b"<html>not xml-rpc</html>")
    answer = await client.post(JSON_PATH, json={"function": RESULTS, "id": 1, "md5": "emulator"})
    assert answer.content == b'{"error_st'


def test_fault_probability_is_seeded() -> None:
    def outcomes(seed: int) -> list[int]:
        emulator = MailkitEmulator(seed=seed)
        emulator.faults.add(Fault.status(500), times=None, probability=0.5)
        body = json_body(RESULTS)
        return [emulator.receive("POST", JSON_PATH, {}, body).respond().status for _ in range(40)]

    first = outcomes(3)
    assert first == outcomes(3)
    assert 5 < first.count(500) < 35
    assert first != outcomes(4)


@pytest.mark.anyio
async def test_handle_for_other_adapters() -> None:
    emulator = MailkitEmulator()
    body = json_body(RESULTS, {"request_id": 1})
    reply = await emulator.handle("POST", JSON_PATH, {}, body)
    assert (reply.status, reply.body) == (200, b'{"error_status":0,"status":"OK"}')
    emulator.faults.extend([Fault.drop(), Fault.truncate(5)])
    from mailkit_async.testing import ConnectionDropped

    with pytest.raises(ConnectionDropped):
        await emulator.handle("POST", JSON_PATH, {}, body)
    reply = await emulator.handle("POST", JSON_PATH, {}, body)
    assert reply.body == b'{"err' and ("Content-Length", "32") in reply.headers


# -- the loopback server ------------------------------------------------------------------------


def read_response(sock: object, buffer: bytearray) -> tuple[bytes, bytes]:
    import socket

    assert isinstance(sock, socket.socket)
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
    buffer[:] = rest
    while len(buffer) < length:
        buffer += sock.recv(65536)
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


def test_server_keep_alive_and_chunked_bodies() -> None:
    import socket

    emulator = MailkitEmulator()
    body = json_body(RESULTS, {"request_id": 1})
    post = b"POST " + JSON_PATH.encode() + b" HTTP/1.1\r\n"
    with emulator.serve() as server, socket.create_connection((server.host, server.port)) as sock:
        buffer = bytearray()
        for _ in range(3):  # one connection, three requests
            sock.sendall(post + b"Host: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            head, answer = read_response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: keep-alive" in head
            assert answer == b'{"error_status":0,"status":"OK"}'
        chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
        sock.sendall(post + b"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        assert read_response(sock, buffer)[1] == b'{"error_status":0,"status":"OK"}'
        assert server.connections == 1
        sock.sendall(post + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        head, _ = read_response(sock, buffer)
        assert b"Connection: close" in head
        assert sock.recv(10) == b""  # and the server closed it
    assert emulator.requests[RESULTS] == 5


@pytest.mark.anyio
async def test_server_concurrency_and_clean_shutdown() -> None:
    import threading

    import anyio

    baseline = threading.active_count()
    emulator = MailkitEmulator()
    emulator.seed_bounces(2000)
    statuses: list[int] = []
    with emulator.serve() as server:
        async with httpx.AsyncClient(base_url=server.url) as http:

            async def fetch(cursor: int) -> None:
                envelope = {
                    "function": BOUNCES,
                    "id": 1,
                    "md5": "emulator",
                    "parameters": {"ID_undelivered_log": cursor, "limit": 50},
                }
                answer = await http.post(JSON_PATH, json=envelope)
                assert answer.json()[0]["ID_UNDELIVERED_LOG"] == str(cursor + 1)
                statuses.append(answer.status_code)

            async with anyio.create_task_group() as group:
                for cursor in range(0, 2000, 100):
                    group.start_soon(fetch, cursor)
            assert server.connections > 1  # served side by side, kept alive
            assert threading.active_count() > baseline
    assert statuses == [200] * 20
    assert threading.active_count() == baseline  # every connection thread joined
    with pytest.raises(OSError):
        socket_connect(server.host, server.port)
    server.close()  # idempotent


def socket_connect(host: str, port: int) -> None:
    import socket

    socket.create_connection((host, port), timeout=1).close()


@pytest.mark.anyio
async def test_server_survives_clients_that_leave_mid_answer() -> None:
    import threading

    baseline = threading.active_count()
    emulator = MailkitEmulator()
    emulator.seed_bounces(30_000)
    with emulator.serve() as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            call = envelope(BOUNCES)
            emulator.faults.add(Fault.slow_body(64 * 1024, 0.05))
            async with http.stream("POST", JSON_PATH, json=call) as response:
                async for _ in response.aiter_bytes():
                    break  # and leave: the server meets a closed socket
            # A full 25 000-record page, repeatedly, while the abandoned one drips into nothing.
            bodies = [(await http.post(JSON_PATH, json=call)).content for _ in range(2)]
            xml_page = await http.post(
                XMLRPC_PATH, content=xmlrpc.client.dumps((1, "emulator", 0, 0, 0, 0), BOUNCES)
            )
    assert bodies[0] == bodies[1] and bodies[0].count(b'"ID_UNDELIVERED_LOG"') == MAX_PAGE_SIZE
    assert len(bodies[0]) > 7_000_000
    assert xml_page.content.count(b"<name>ID_UNDELIVERED_LOG</name>") == MAX_PAGE_SIZE
    assert threading.active_count() == baseline


# -- command line and pytest plugin ---------------------------------------------------------------


def test_command_line_serves_in_the_foreground() -> None:
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    args = ["--port", "0", "--records", "50", "--protocol-neutral"]
    args += ["--client-id", "9", "--client-md5", "cli-secret", "--gap-every", "4"]
    with EmulatorProcess(*args, env=env, start_timeout=20) as process:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", process.url), process.url
        envelope = {
            "function": BOUNCES,
            "id": 9,
            "md5": "cli-secret",
            "parameters": {"ID_undelivered_log": 40},
        }
        records = httpx.post(process.url + JSON_PATH, json=envelope).json()
        ids = [1 + i + i // 4 for i in range(50)]  # a gap after every 4 records
        assert [r["ID_UNDELIVERED_LOG"] for r in records] == [str(i) for i in ids if i > 40]
        assert all("<" not in r["TEXT_STATUS"] for r in records)
        assert process.stop() == 0  # SIGTERM: a clean exit


def test_the_listening_line_is_read_as_it_is_printed() -> None:
    from mailkit_async.testing._process import listening_line, parse_listening_line

    for url in ("http://127.0.0.1:8025", "http://[::1]:40123"):
        assert parse_listening_line(listening_line(url) + "\n") == url
    assert parse_listening_line("Traceback (most recent call last):\n") is None
    assert parse_listening_line("") is None


def test_an_emulator_process_that_cannot_start_says_so() -> None:
    child = EmulatorProcess("--port", "-1", quiet=True)
    with pytest.raises(RuntimeError, match="did not start"):
        child.start()
    assert child.returncode == 2  # bad usage, and nothing left running
    with pytest.raises(RuntimeError, match="not running"):
        child.url  # noqa: B018


def test_the_command_line_has_what_the_benchmarks_need() -> None:
    from mailkit_async.testing.__main__ import build_emulator, build_parser

    words = ["--records", "30", "--no-extra-fields", "--subscriber", "a@example.com"]
    words += ["--subscriber", "b@example.com", "--bounce-delay", "0.25", "--cache-pages", "4096"]
    emu = build_emulator(build_parser().parse_args([*words, "--cache-mib", "2048"]))
    assert [emu.subscriber(e) is not None for e in ("a@example.com", "b@example.com")] == [True, True]
    assert not emu.is_unsubscribed("a@example.com")
    assert (emu.page_cache.max_entries, emu.page_cache.max_bytes) == (4096, 2048 * 2**20)
    (rule,) = emu.faults.rules
    assert (rule.fault, rule.function, rule.remaining) == (
        Fault.delay(0.25).after_processing(),
        BOUNCES,
        None,
    )
    assert emu.bounce_count == 30 and "BOUNCE_CAT" not in emu.bounce_records(0, limit=1)[0]
    plain = build_emulator(build_parser().parse_args([]))
    assert not plain.faults.rules and plain.subscriber("a@example.com") is None
    assert (plain.page_cache.max_entries, plain.page_cache.max_bytes) == (8, 96 * 2**20)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--bounce-delay", "-1"])


def test_importing_the_plugin_loads_no_emulator() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys, mailkit_async.testing.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('mailkit_async.testing')))"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert output.stdout.strip() == "['mailkit_async.testing', 'mailkit_async.testing.pytest_plugin']"


def test_pytest_fixtures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # No autoloaded plugins: the fixtures need neither pytest-asyncio nor anyio's plugin.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        """
        import threading

        import httpx
        import pytest

        from mailkit_async._service import BOUNCES, JSON_PATH

        def test_fresh(mailkit_emulator):
            assert mailkit_emulator.bounce_count == 0
            mailkit_emulator.seed_bounces(3)

        def test_fresh_again(mailkit_emulator):
            assert mailkit_emulator.bounce_count == 0 and mailkit_emulator.client_id == 1

        @pytest.mark.mailkit_emulator(client_id=5, page_cap=2)
        def test_server(mailkit_emulator_server, mailkit_emulator):
            assert mailkit_emulator_server.emulator is mailkit_emulator
            assert (mailkit_emulator.client_id, mailkit_emulator.page_cap) == (5, 2)
            mailkit_emulator.seed_bounces(5)
            envelope = {"function": BOUNCES, "id": 5, "md5": "emulator"}
            answer = httpx.post(mailkit_emulator_server.url + JSON_PATH, json=envelope)
            assert [r["ID_UNDELIVERED_LOG"] for r in answer.json()] == ["1", "2"]
            pytest.server_threads = threading.active_count()

        def test_server_closed_after_the_test():
            assert threading.active_count() < pytest.server_threads
        """
    )
    result = pytester.runpytest(
        "-p", "mailkit_async.testing.pytest_plugin", "--strict-markers", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=4)


DELAY = 0.123  # a value nothing else waits for, so the recorded waits are the fault's


def _results_body() -> str:
    return json_body(RESULTS, {"request_id": 5}).decode()


@pytest.mark.parametrize("after", [False, True])
def test_a_delay_waits_once_on_the_server(after: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Fault.delay(s)` delays the answer once, before or after processing: never twice."""
    waits: list[float | None] = []
    real_wait = threading.Event.wait

    def counting_wait(self: threading.Event, timeout: float | None = None) -> bool:
        if timeout == DELAY:
            waits.append(timeout)
        return real_wait(self, timeout)

    monkeypatch.setattr(threading.Event, "wait", counting_wait)
    emu = MailkitEmulator()
    emu.faults.add(Fault.delay(DELAY).after_processing() if after else Fault.delay(DELAY))
    with emu.serve() as server:
        answer = httpx.post(server.url + JSON_PATH, content=_results_body(), timeout=10)
    assert answer.json() == {"error_status": 0, "status": "OK"}
    assert waits == [DELAY]


@pytest.mark.anyio
@pytest.mark.parametrize("after", [False, True])
async def test_a_delay_waits_once_in_process(
    anyio_backend: str, after: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailkit_async.testing._transport as transport_module

    waits: list[float] = []
    real_wait = transport_module._wait

    async def counting_wait(seconds: float, *args: Any) -> None:
        waits.append(seconds)
        await real_wait(seconds, *args)

    monkeypatch.setattr(transport_module, "_wait", counting_wait)
    emu = MailkitEmulator()
    emu.faults.add(Fault.delay(DELAY).after_processing() if after else Fault.delay(DELAY))
    async with httpx.AsyncClient(transport=emu.transport()) as http:
        answer = await http.post(DEFAULT_BASE_URL + JSON_PATH, content=_results_body())
    assert answer.json() == {"error_status": 0, "status": "OK"}
    assert waits == [DELAY]
