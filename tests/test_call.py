"""mk.call(): the escape hatch for functions the library does not type."""

from __future__ import annotations

from typing import Any

import pytest
from support.clients import answered, client, json_refusal, mock, refused, refused_unsent, reply, route
from support.wire import json_params, typed, xml_dump, xml_fault, xml_string, xmlrpc_params

from mailkit_async import (
    APIError,
    AuthenticationError,
    ResponseDecodeError,
)
from mailkit_async._service import MAILINGLIST_LIST, RESULTS

pytestmark = pytest.mark.anyio

FUNCTION = MAILINGLIST_LIST


async def test_json_sends_the_mapping_and_returns_the_decoded_answer(anyio_backend: str) -> None:
    answer = [{"ID_user_list": "12", "NAME": "Newsletter"}, {"ID_user_list": "13", "NAME": "Other"}]
    result, r = await answered(
        "json",
        answer,
        lambda mk: mk.call(FUNCTION, {"ID_user_list": 12, "flag": "TRUE", "nested": {"a": [1]}}),
    )
    assert result == answer
    params = json_params(r.calls.last.request, FUNCTION)
    assert typed(params) == typed({"ID_user_list": 12, "flag": "TRUE", "nested": {"a": [1]}})


async def test_json_mapping_answer_with_error_status_zero_is_returned_as_is(anyio_backend: str) -> None:
    answer = {"error_status": 0, "data": {"x": 1}, "error": ""}
    result, _ = await answered("json", answer, lambda mk: mk.call(FUNCTION))
    assert result == answer


async def test_json_without_parameters_sends_an_empty_object(anyio_backend: str) -> None:
    _, r = await answered("json", {"error_status": 0}, lambda mk: mk.call(FUNCTION))
    assert typed(json_params(r.calls.last.request, FUNCTION)) == typed({})


async def test_json_answer_that_reports_more_than_an_error_is_returned(anyio_backend: str) -> None:
    # Like sendmail_mass.results' "ERROR" report: error_status 1 with data is not a bare refusal.
    answer = {"error_status": 1, "status": "ERROR", "results": [{"ERROR_CODE": 4}]}
    with mock() as router:
        route(router, "json").mock(return_value=reply(answer))
        async with client("json") as mk:
            assert await mk.call(RESULTS, {"request_id": 1}) == answer


@pytest.mark.parametrize("status", [1, "1"], ids=["int", "str"])
async def test_json_bare_failure_raises_api_error(anyio_backend: str, status: object) -> None:
    error = await json_refusal(
        status, "Invalid ID_user_list", lambda mk: mk.call(FUNCTION, {"ID_user_list": 99})
    )
    assert type(error) is APIError
    assert error.message == "Invalid ID_user_list"
    assert error.function == FUNCTION


@pytest.mark.parametrize("text", ["Unauthorized", "Disallowed IP 1.2.3.4"])
async def test_json_auth_failure(anyio_backend: str, text: str) -> None:
    error, _ = await refused(
        AuthenticationError, "json", {"error_status": 1, "error": text}, lambda mk: mk.call(FUNCTION)
    )
    assert error.message == text
    assert error.function == FUNCTION


async def test_xmlrpc_sends_positional_params_and_returns_the_decoded_answer(anyio_backend: str) -> None:
    answer = [{"ID_user_list": 12, "NAME": "Newsletter"}, {"ID_user_list": 13, "NAME": "Other"}]
    result, r = await answered(
        "xmlrpc", xml_dump(answer), lambda mk: mk.call(FUNCTION, [12, "název", True, {"k": "v"}])
    )
    assert result == answer
    params = xmlrpc_params(r.calls.last.request, FUNCTION)
    assert typed(params) == typed((12, "název", True, {"k": "v"}))


async def test_xmlrpc_tuple_params_and_string_answer(anyio_backend: str) -> None:
    with mock() as router:
        r = route(router, "xmlrpc").mock(return_value=reply(xml_string("someone@example.com")))
        async with client("xmlrpc") as mk:
            assert await mk.call(FUNCTION, (1, 2)) == "someone@example.com"
    assert typed(xmlrpc_params(r.calls.last.request, FUNCTION)) == typed((1, 2))


@pytest.mark.parametrize("text", ["Unauthorized", "Disallowed IP 1.2.3.4"])
async def test_xmlrpc_plain_string_auth_failure(anyio_backend: str, text: str) -> None:
    error, _ = await refused(
        AuthenticationError, "xmlrpc", xml_string(text), lambda mk: mk.call(FUNCTION, [])
    )
    assert error.message == text


async def test_xmlrpc_fault_raises_api_error(anyio_backend: str) -> None:
    error, _ = await refused(
        APIError, "xmlrpc", xml_fault(3, "Unknown method"), lambda mk: mk.call(FUNCTION, [])
    )
    assert error.message == "Unknown method"
    assert error.code == 3
    assert error.function == FUNCTION


@pytest.mark.parametrize("params", [{"a": 1}, "abc", b"abc"], ids=["mapping", "str", "bytes"])
async def test_xmlrpc_refuses_non_sequences_before_sending(anyio_backend: str, params: Any) -> None:
    await refused_unsent("xmlrpc", lambda mk: mk.call(FUNCTION, params))


async def test_json_refuses_positional_params_before_sending(anyio_backend: str) -> None:
    await refused_unsent("json", lambda mk: mk.call(FUNCTION, [1, 2]))


@pytest.mark.parametrize("function", ["email.unsubscribe", "", "MAILKIT.x", None, 5])
async def test_refuses_names_that_are_not_mailkit_functions(anyio_backend: str, function: Any) -> None:
    await refused_unsent("json", lambda mk: mk.call(function, {}))


async def test_json_decode_error(anyio_backend: str) -> None:
    error, _ = await refused(
        ResponseDecodeError,
        "json",
        b"<html><body>502 Bad Gateway</body></html>",
        lambda mk: mk.call(FUNCTION),
    )
    assert error.excerpt.startswith("<html>")
