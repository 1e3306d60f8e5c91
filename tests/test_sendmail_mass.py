"""sendmail_mass.results: the exact request on both protocols, every documented answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from _docs import (
    MASS_RESULTS_ERRORS_JSON,
    MASS_RESULTS_ERRORS_XML,
    MASS_RESULTS_OK_JSON,
    MASS_RESULTS_OK_XML,
)
from support.clients import answered, json_refusal, refused, refused_unsent
from support.wire import json_params, typed, xml_string, xmlrpc_params

from mailkit_async import (
    APIError,
    MassSendError,
    MassSendErrorCode,
    MassSendResults,
)
from mailkit_async._service import RESULTS

pytestmark = pytest.mark.anyio


def xml_error_row(code_xml: str, extra: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<methodResponse><params><param><value><struct>
<member><name>status</name><value><string>ERROR</string></value></member>
<member><name>results</name><value><array><data><value><struct>
<member><name>ERROR_CODE</name><value>{code_xml}</value></member>
<member><name>INFO</name><value><string>something new</string></value></member>
<member><name>DATE</name><value><string>2021-01-31 23:59:59</string></value></member>
<member><name>ID_EMAIL</name><value><i8>9000000000</i8></value></member>
<member><name>EMAIL</name><value><string>x@example.com</string></value></member>
<member><name>ID_SEND</name><value><int>0</int></value></member>
<member><name>ID_SEND_MESSAGE</name><value><i4>0</i4></value></member>
{extra}
</struct></value></data></array></value></member>
</struct></value></param></params></methodResponse>
""".encode()


# --- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"request_id": 55}),
        ({"send_id": 66}, {"ID_send": 66, "request_id": 55}),
    ],
)
async def test_json_request(anyio_backend: str, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    _, r = await answered("json", MASS_RESULTS_OK_JSON, lambda mk: mk.sendmail_mass.results(55, **kwargs))
    assert typed(json_params(r.calls.last.request, RESULTS)) == typed(expected)


@pytest.mark.parametrize(("kwargs", "expected"), [({}, (0, 55)), ({"send_id": 66}, (66, 55))])
async def test_xmlrpc_request_order(
    anyio_backend: str, kwargs: dict[str, Any], expected: tuple[int, int]
) -> None:
    _, r = await answered("xmlrpc", MASS_RESULTS_OK_XML, lambda mk: mk.sendmail_mass.results(55, **kwargs))
    # (ID_send or 0, request_id): id_send comes first, as documented.
    assert typed(xmlrpc_params(r.calls.last.request, RESULTS)) == typed(expected)


# --- answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "answer"), [("json", MASS_RESULTS_OK_JSON), ("xmlrpc", MASS_RESULTS_OK_XML)]
)
async def test_documented_ok(anyio_backend: str, protocol: str, answer: object) -> None:
    result, _ = await answered(protocol, answer, lambda mk: mk.sendmail_mass.results(55))
    assert result == MassSendResults(status="OK", errors=[])
    assert result.ok is True


async def test_json_documented_error_is_a_report_not_an_exception(anyio_backend: str) -> None:
    result, r = await answered("json", MASS_RESULTS_ERRORS_JSON, lambda mk: mk.sendmail_mass.results(55))
    assert r.call_count == 1
    assert result.status == "ERROR"
    assert result.ok is False
    assert result.errors == [
        MassSendError(
            code=4,
            info="missing mailinglist_id",
            date=datetime(2020, 9, 7, 14, 24, 13),
            email="mail@mail.cz",
            email_id=None,  # the documented 0 means "none"
            send_id=None,
            send_message_id=None,
        )
    ]
    (error,) = result.errors
    assert type(error.code) is int
    assert error.known_code is MassSendErrorCode.INVALID_MAILINGLIST
    assert error.date.tzinfo is None


async def test_xmlrpc_documented_error(anyio_backend: str) -> None:
    result, _ = await answered(
        "xmlrpc", MASS_RESULTS_ERRORS_XML, lambda mk: mk.sendmail_mass.results(55, send_id=12345)
    )
    assert result.ok is False
    assert result.status == "ERROR"
    assert result.errors == [
        MassSendError(
            code=1,
            info="url return null",
            date=datetime(2015, 5, 13, 9, 43, 50),
            email="mail@mail.cz",
            email_id=123456789,
            send_id=12345,
            send_message_id=123456789,
        )
    ]
    assert result.errors[0].known_code is MassSendErrorCode.ATTACHMENT


@pytest.mark.parametrize("code", [99, "99"], ids=["int", "str"])
async def test_json_unknown_code_and_string_numbers_still_decode(anyio_backend: str, code: object) -> None:
    answer = {
        "error_status": "1",
        "status": "ERROR",
        "results": [
            {
                "ID_SEND_MESSAGE": "987",
                "ID_SEND": "654",
                "ID_EMAIL": "321",
                "DATE": "2021-01-31 23:59:59",
                "EMAIL": "x@example.com",
                "ERROR_CODE": code,
                "INFO": "something new",
                "CAMPAIGN": "unknown field",
            }
        ],
        "SOMETHING_ELSE": {"a": [1]},
    }
    result, _ = await answered("json", answer, lambda mk: mk.sendmail_mass.results(55))
    (error,) = result.errors
    assert typed(error.code) == typed(99)
    assert error.known_code is None
    assert (error.email_id, error.send_id, error.send_message_id) == (321, 654, 987)
    assert error.date == datetime(2021, 1, 31, 23, 59, 59)


async def test_xmlrpc_unknown_code_unknown_members_and_i8(anyio_backend: str) -> None:
    body = xml_error_row("<i4>99</i4>", "<member><name>NEW</name><value><string>x</string></value></member>")
    result, _ = await answered("xmlrpc", body, lambda mk: mk.sendmail_mass.results(55))
    (error,) = result.errors
    assert error.code == 99
    assert error.known_code is None
    assert error.email_id == 9_000_000_000
    assert (error.send_id, error.send_message_id) == (None, None)
    assert error.info == "something new"


@pytest.mark.parametrize("code", list(range(1, 9)))
async def test_every_documented_code_is_known(anyio_backend: str, code: int) -> None:
    answer = {
        **MASS_RESULTS_ERRORS_JSON,
        "results": [{**MASS_RESULTS_ERRORS_JSON["results"][0], "ERROR_CODE": code}],
    }
    result, _ = await answered("json", answer, lambda mk: mk.sendmail_mass.results(55))
    assert result.errors[0].known_code == MassSendErrorCode(code)


async def test_ok_with_unknown_fields(anyio_backend: str) -> None:
    result, _ = await answered(
        "json", {**MASS_RESULTS_OK_JSON, "queued": 5, "meta": None}, lambda mk: mk.sendmail_mass.results(55)
    )
    assert result.ok


def test_ok_property() -> None:
    assert MassSendResults(status="OK", errors=[]).ok is True
    assert MassSendResults(status="ERROR", errors=[]).ok is False


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [1, "1"], ids=["int", "str"])
async def test_json_refusal(anyio_backend: str, status: object) -> None:
    error = await json_refusal(status, "Invalid request_id", lambda mk: mk.sendmail_mass.results(55))
    assert error.message == "Invalid request_id"
    assert error.function == RESULTS


async def test_xmlrpc_refusal_text(anyio_backend: str) -> None:
    error, _ = await refused(
        APIError, "xmlrpc", xml_string("Invalid request_id"), lambda mk: mk.sendmail_mass.results(55)
    )
    assert error.message == "Invalid request_id"
    assert error.function == RESULTS


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((0,), {}),
        ((-1,), {}),
        ((True,), {}),
        (("55",), {}),
        ((None,), {}),
        ((55.0,), {}),
        ((55,), {"send_id": 0}),
        ((55,), {"send_id": -3}),
        ((55,), {"send_id": False}),
        ((55,), {"send_id": "66"}),
    ],
)
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_invalid_arguments_fail_before_any_request(
    anyio_backend: str, protocol: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    error = await refused_unsent(protocol, lambda mk: mk.sendmail_mass.results(*args, **kwargs))
    assert isinstance(error, ValueError)
