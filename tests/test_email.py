"""email.revalidate / email.unsubscribe: the exact request on both protocols, every documented answer."""

from __future__ import annotations

from typing import Any

import pytest
from _docs import (
    REVALIDATE_FAILED_JSON,
    REVALIDATE_FAILED_XML,
    REVALIDATE_OK_JSON,
    REVALIDATE_OK_XML,
    UNSUBSCRIBE_FAILED_JSON,
    UNSUBSCRIBE_FAILED_XML,
    UNSUBSCRIBE_OK_JSON,
    UNSUBSCRIBE_OK_XML,
)
from support.clients import answered, client, json_refusal, mock, refused, refused_unsent
from support.wire import json_params, typed, xml_string, xmlrpc_params

from mailkit_async import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    MailkitError,
    NotUnsubscribedError,
    Revalidation,
    Unsubscription,
)
from mailkit_async._service import REVALIDATE, UNSUBSCRIBE

pytestmark = pytest.mark.anyio

# --- the documented answers: verbatim in _docs, one variant here -----------------------------------

# A documented outcome the page names ("Email has been revalidated") but prints no example of:
# the printed success answer with that text instead.
REVALIDATE_JSON_DONE = {**REVALIDATE_OK_JSON, "error": "Email has been revalidated"}

# === revalidate ==================================================================================


@pytest.mark.parametrize(
    ("email", "kwargs", "expected"),
    [
        (
            "someone@example.com",
            {"agreement": False},
            {"email": "someone@example.com", "agreement": "FALSE"},
        ),
        (123456789, {"agreement": True}, {"ID_email": 123456789, "agreement": "TRUE"}),
        (
            "someone@example.com",
            {"agreement": True, "message_id": 12, "template_id": 34, "channel": "telefon", "language": "cs"},
            {
                "email": "someone@example.com",
                "ID_message": 12,
                "ID_template": 34,
                "agreement": "TRUE",
                "channel": "telefon",
                "language": "cs",
            },
        ),
    ],
)
async def test_revalidate_json_request(
    anyio_backend: str, email: object, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    _, r = await answered("json", REVALIDATE_OK_JSON, lambda mk: mk.email.revalidate(email, **kwargs))  # type: ignore[arg-type]
    assert r.call_count == 1
    assert typed(json_params(r.calls.last.request, REVALIDATE)) == typed(expected)


@pytest.mark.parametrize(
    ("email", "kwargs", "expected"),
    [
        # (ID_email-or-address, ID_message or 0, agreement, channel or "", dummy 0, language or "")
        ("someone@example.com", {"agreement": False}, ("someone@example.com", 0, False, "", 0, "")),
        (123456789, {"agreement": True}, (123456789, 0, True, "", 0, "")),
        (
            "someone@example.com",
            {"agreement": True, "message_id": 12, "channel": "telefon", "language": "en"},
            ("someone@example.com", 12, True, "telefon", 0, "en"),
        ),
    ],
)
async def test_revalidate_xmlrpc_request_order(
    anyio_backend: str, email: object, kwargs: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    _, r = await answered("xmlrpc", REVALIDATE_OK_XML, lambda mk: mk.email.revalidate(email, **kwargs))  # type: ignore[arg-type]
    assert typed(xmlrpc_params(r.calls.last.request, REVALIDATE)) == typed(expected)


async def test_revalidate_json_sent_subscribe_email(anyio_backend: str) -> None:
    result, _ = await answered(
        "json", REVALIDATE_OK_JSON, lambda mk: mk.email.revalidate("email@example.com", agreement=False)
    )
    assert result == Revalidation(email="email@example.com", email_id=123456789, revalidated=False)
    assert type(result.email_id) is int


async def test_revalidate_json_email_has_been_revalidated(anyio_backend: str) -> None:
    result, _ = await answered(
        "json",
        {**REVALIDATE_JSON_DONE, "unknown": [1]},
        lambda mk: mk.email.revalidate(123456789, agreement=True),
    )
    assert result == Revalidation(email="email@example.com", email_id=123456789, revalidated=True)


@pytest.mark.parametrize("agreement", [True, False])
async def test_revalidate_json_not_unsubscribed_with_status_zero(anyio_backend: str, agreement: bool) -> None:
    error, r = await refused(
        NotUnsubscribedError,
        "json",
        REVALIDATE_FAILED_JSON,
        lambda mk: mk.email.revalidate("sample@samplemail.com", agreement=agreement),
    )
    assert isinstance(error, APIError)
    assert error.message == "Email is not unsubscribed"
    assert error.function == REVALIDATE
    assert r.call_count == 1


@pytest.mark.parametrize("status", [1, "1"], ids=["int", "str"])
async def test_revalidate_json_refusal(anyio_backend: str, status: object) -> None:
    error = await json_refusal(status, "Invalid ID_email", lambda mk: mk.email.revalidate(5, agreement=True))
    assert type(error) is APIError
    assert error.message == "Invalid ID_email"
    assert error.function == REVALIDATE


@pytest.mark.parametrize("agreement", [True, False])
@pytest.mark.parametrize("email", ["example@example.cz", 987])
async def test_revalidate_xmlrpc_address_answer_follows_agreement(
    anyio_backend: str, agreement: bool, email: object
) -> None:
    result, _ = await answered(
        "xmlrpc", REVALIDATE_OK_XML, lambda mk: mk.email.revalidate(email, agreement=agreement)
    )  # type: ignore[arg-type]
    assert result == Revalidation(
        email="example@example.cz",
        email_id=email if isinstance(email, int) else None,
        revalidated=agreement,
    )


async def test_revalidate_xmlrpc_not_unsubscribed(anyio_backend: str) -> None:
    error, _ = await refused(
        NotUnsubscribedError,
        "xmlrpc",
        REVALIDATE_FAILED_XML,
        lambda mk: mk.email.revalidate("example@example.cz", agreement=True),
    )
    assert error.message == "example@example.cz is not unsubscribed"
    assert error.function == REVALIDATE


async def test_revalidate_xmlrpc_other_text_is_a_refusal(anyio_backend: str) -> None:
    error, _ = await refused(
        APIError, "xmlrpc", xml_string("Invalid ID_email"), lambda mk: mk.email.revalidate(5, agreement=True)
    )
    assert type(error) is APIError
    assert error.message == "Invalid ID_email"


REVALIDATE_INVALID: list[Any] = [
    pytest.param(("",), {"agreement": True}, id="email-empty"),
    pytest.param(("no-at-sign",), {"agreement": True}, id="email-no-at"),
    pytest.param(("@example.com",), {"agreement": True}, id="email-no-local"),
    pytest.param(("a b@example.com",), {"agreement": True}, id="email-space"),
    pytest.param((0,), {"agreement": True}, id="email-0"),
    pytest.param((-1,), {"agreement": True}, id="email-negative"),
    pytest.param((True,), {"agreement": True}, id="email-bool"),
    pytest.param((None,), {"agreement": True}, id="email-none"),
    pytest.param((1.5,), {"agreement": True}, id="email-float"),
    pytest.param(("a@example.com",), {"agreement": 1}, id="agreement-int"),
    pytest.param(("a@example.com",), {"agreement": "TRUE"}, id="agreement-str"),
    pytest.param(("a@example.com",), {"agreement": None}, id="agreement-none"),
    pytest.param(("a@example.com",), {"agreement": True, "language": "CZ"}, id="language-CZ"),
    pytest.param(("a@example.com",), {"agreement": True, "language": "fr"}, id="language-fr"),
    pytest.param(("a@example.com",), {"agreement": True, "language": ""}, id="language-empty"),
    pytest.param(("a@example.com",), {"agreement": True, "message_id": 0}, id="message-0"),
    pytest.param(("a@example.com",), {"agreement": True, "message_id": -2}, id="message-negative"),
    pytest.param(("a@example.com",), {"agreement": True, "message_id": True}, id="message-bool"),
    pytest.param(("a@example.com",), {"agreement": True, "template_id": 0}, id="template-0"),
    pytest.param(("a@example.com",), {"agreement": True, "channel": 5}, id="channel-int"),
]


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
@pytest.mark.parametrize(("args", "kwargs"), REVALIDATE_INVALID)
async def test_revalidate_invalid_arguments_fail_before_any_request(
    anyio_backend: str, protocol: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    error = await refused_unsent(protocol, lambda mk: mk.email.revalidate(*args, **kwargs))
    assert isinstance(error, ValueError)
    assert isinstance(error, MailkitError)


async def test_revalidate_template_id_is_json_only(anyio_backend: str) -> None:
    with mock() as router:
        async with client("xmlrpc") as mk:
            with pytest.raises(InvalidParameterError, match="template_id"):
                await mk.email.revalidate("a@example.com", agreement=True, template_id=34)
    assert router.calls.call_count == 0


@pytest.mark.parametrize("language", ["cs", "en", "de", "ru", "pl", "sk", "hu"])
async def test_revalidate_every_documented_language(anyio_backend: str, language: str) -> None:
    _, r = await answered(
        "json",
        REVALIDATE_OK_JSON,
        lambda mk: mk.email.revalidate("a@example.com", agreement=False, language=language),
    )
    assert json_params(r.calls.last.request, REVALIDATE)["language"] == language


# === unsubscribe =================================================================================


@pytest.mark.parametrize(
    ("email", "kwargs", "expected"),
    [
        (
            "email@example.eu",
            {},
            {"email": "email@example.eu", "ID_email": None, "ID_send_message": "", "send_optout": "TRUE"},
        ),
        (
            123456789,
            {"send_optout": False},
            {"email": None, "ID_email": 123456789, "ID_send_message": "", "send_optout": "FALSE"},
        ),
        (
            "email@example.eu",
            {"send_message_id": 456, "send_optout": False, "pause_days": 60},
            {
                "email": "email@example.eu",
                "ID_email": None,
                "ID_send_message": 456,
                "send_optout": "FALSE",
                "timeout": "true",
                "timeout_days": "60",
            },
        ),
        (
            77,
            {"pause_days": 14},
            {
                "email": None,
                "ID_email": 77,
                "ID_send_message": "",
                "send_optout": "TRUE",
                "timeout": "true",
                "timeout_days": "14",
            },
        ),
    ],
)
async def test_unsubscribe_json_request(
    anyio_backend: str, email: object, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    _, r = await answered("json", UNSUBSCRIBE_OK_JSON, lambda mk: mk.email.unsubscribe(email, **kwargs))  # type: ignore[arg-type]
    assert r.call_count == 1
    assert typed(json_params(r.calls.last.request, UNSUBSCRIBE)) == typed(expected)


@pytest.mark.parametrize(
    ("email", "kwargs", "expected"),
    [
        ("email@example.eu", {}, ("email@example.eu", 0, True, {})),
        (123456789, {"send_optout": False}, (123456789, 0, False, {})),
        (
            123456789,
            {"send_message_id": 456, "pause_days": 60},
            (123456789, 456, True, {"timeout": "true", "timeout_days": "60"}),
        ),
        (
            "email@example.eu",
            {"pause_days": 90},
            ("email@example.eu", 0, True, {"timeout": "true", "timeout_days": "90"}),
        ),
    ],
)
async def test_unsubscribe_xmlrpc_request_order(
    anyio_backend: str, email: object, kwargs: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    _, r = await answered("xmlrpc", UNSUBSCRIBE_OK_XML, lambda mk: mk.email.unsubscribe(email, **kwargs))  # type: ignore[arg-type]
    assert typed(xmlrpc_params(r.calls.last.request, UNSUBSCRIBE)) == typed(expected)


@pytest.mark.parametrize(
    ("email", "expected_email"), [("email@example.eu", "email@example.eu"), (123456789, None)]
)
async def test_unsubscribe_json_documented_ok_with_string_numbers(
    anyio_backend: str, email: object, expected_email: str | None
) -> None:
    result, _ = await answered("json", UNSUBSCRIBE_OK_JSON, lambda mk: mk.email.unsubscribe(email))  # type: ignore[arg-type]
    assert result == Unsubscription(email_id=123456789, email=expected_email, already_unsubscribed=False)
    assert type(result.email_id) is int


async def test_unsubscribe_json_status_2_is_already_unsubscribed(anyio_backend: str) -> None:
    result, _ = await answered(
        "json", {**UNSUBSCRIBE_OK_JSON, "status": "2", "x": {}}, lambda mk: mk.email.unsubscribe(123456789)
    )
    assert result.already_unsubscribed is True
    assert result.email_id == 123456789


async def test_unsubscribe_json_real_ints(anyio_backend: str) -> None:
    result, _ = await answered(
        "json", {"error_status": 0, "ID_email": 42, "status": 1}, lambda mk: mk.email.unsubscribe(42)
    )
    assert result == Unsubscription(email_id=42, email=None, already_unsubscribed=False)


async def test_unsubscribe_json_unknown_address_comes_back_as_id_email(anyio_backend: str) -> None:
    answer = {"error_status": "0", "ID_email": "new@example.com", "status": "1"}
    result, _ = await answered("json", answer, lambda mk: mk.email.unsubscribe("new@example.com"))
    assert result == Unsubscription(email_id=None, email="new@example.com", already_unsubscribed=False)


@pytest.mark.parametrize(
    "answer",
    [UNSUBSCRIBE_FAILED_JSON, {"error_status": "1", "error": "Missing ID_email or email"}],
    ids=["int", "str"],
)
async def test_unsubscribe_json_documented_failure(anyio_backend: str, answer: dict[str, Any]) -> None:
    error, r = await refused(APIError, "json", answer, lambda mk: mk.email.unsubscribe("email@example.eu"))
    assert type(error) is APIError
    assert error.message == "Missing ID_email or email"
    assert error.function == UNSUBSCRIBE
    assert r.call_count == 1


@pytest.mark.parametrize(
    ("email", "expected_email"), [("email@example.eu", "email@example.eu"), (282837490, None)]
)
async def test_unsubscribe_xmlrpc_documented_id_answer(
    anyio_backend: str, email: object, expected_email: str | None
) -> None:
    result, _ = await answered("xmlrpc", UNSUBSCRIBE_OK_XML, lambda mk: mk.email.unsubscribe(email))  # type: ignore[arg-type]
    assert result == Unsubscription(email_id=282837490, email=expected_email, already_unsubscribed=None)


async def test_unsubscribe_xmlrpc_address_answer(anyio_backend: str) -> None:
    result, _ = await answered(
        "xmlrpc", xml_string("new@example.com"), lambda mk: mk.email.unsubscribe("new@example.com")
    )
    assert result == Unsubscription(email_id=None, email="new@example.com", already_unsubscribed=None)


async def test_unsubscribe_xmlrpc_documented_failure(anyio_backend: str) -> None:
    error, _ = await refused(
        APIError, "xmlrpc", UNSUBSCRIBE_FAILED_XML, lambda mk: mk.email.unsubscribe("bad@example")
    )
    assert type(error) is APIError
    assert not isinstance(error, AuthenticationError)
    assert error.message == "Invalid ID_email or email"
    assert error.function == UNSUBSCRIBE


UNSUBSCRIBE_INVALID: list[Any] = [
    pytest.param(("",), {}, id="email-empty"),
    pytest.param(("no-at-sign",), {}, id="email-no-at"),
    pytest.param(("someone@",), {}, id="email-no-domain"),
    pytest.param((0,), {}, id="email-0"),
    pytest.param((-1,), {}, id="email-negative"),
    pytest.param((True,), {}, id="email-bool"),
    pytest.param((None,), {}, id="email-none"),
    pytest.param((b"a@example.com",), {}, id="email-bytes"),
    pytest.param(("a@example.com",), {"pause_days": 13}, id="pause-13"),
    pytest.param(("a@example.com",), {"pause_days": 91}, id="pause-91"),
    pytest.param(("a@example.com",), {"pause_days": True}, id="pause-bool"),
    pytest.param(("a@example.com",), {"pause_days": "60"}, id="pause-str"),
    pytest.param(("a@example.com",), {"pause_days": 30.0}, id="pause-float"),
    pytest.param(("a@example.com",), {"pause_days": 0}, id="pause-0"),
    pytest.param(("a@example.com",), {"send_optout": "FALSE"}, id="optout-str"),
    pytest.param(("a@example.com",), {"send_optout": 0}, id="optout-int"),
    pytest.param(("a@example.com",), {"send_optout": None}, id="optout-none"),
    pytest.param(("a@example.com",), {"send_message_id": 0}, id="send-message-0"),
    pytest.param(("a@example.com",), {"send_message_id": -5}, id="send-message-negative"),
    pytest.param(("a@example.com",), {"send_message_id": True}, id="send-message-bool"),
    pytest.param(("a@example.com",), {"send_message_id": "456"}, id="send-message-str"),
]


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
@pytest.mark.parametrize(("args", "kwargs"), UNSUBSCRIBE_INVALID)
async def test_unsubscribe_invalid_arguments_fail_before_any_request(
    anyio_backend: str, protocol: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    error = await refused_unsent(protocol, lambda mk: mk.email.unsubscribe(*args, **kwargs))
    assert isinstance(error, ValueError)


async def test_unsubscribe_address_is_sent_trimmed(anyio_backend: str) -> None:
    _, r = await answered("json", UNSUBSCRIBE_OK_JSON, lambda mk: mk.email.unsubscribe("  email@example.eu "))
    assert json_params(r.calls.last.request, UNSUBSCRIBE)["email"] == "email@example.eu"
