"""`mailkit.email.revalidate` and `mailkit.email.unsubscribe`: a recipient's subscription."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Final

from .._answers import (
    NOT_AN_ID,
    api_error,
    check_auth_text,
    error_status,
    expect_mapping,
    optional_id,
    read_id,
    short,
)
from .._exceptions import InvalidParameterError, NotUnsubscribedError, ResponseDecodeError
from .._models import Revalidation, Unsubscription
from .._request import Request
from ._params import bounded_int, email_or_id, optional_positive_id, require_bool, wire_bool

if TYPE_CHECKING:
    from .._client import Mailkit

__all__ = ["LANGUAGES", "Email"]

REVALIDATE: Final = "mailkit.email.revalidate"
UNSUBSCRIBE: Final = "mailkit.email.unsubscribe"
LANGUAGES: Final = frozenset({"cs", "en", "de", "ru", "pl", "sk", "hu"})
_REVALIDATED: Final = "email has been revalidated"
_MAILED: Final = "sent subscribe email"
_NOT_UNSUBSCRIBED: Final = "is not unsubscribed"


class Email:
    """`mk.email`: the `mailkit.email.*` functions."""

    def __init__(self, client: Mailkit) -> None:
        self._client = client

    async def revalidate(
        self,
        email: str | int,
        *,
        agreement: bool,
        message_id: int | None = None,
        template_id: int | None = None,
        channel: str | None = None,
        language: str | None = None,
    ) -> Revalidation:
        """Subscribe an unsubscribed recipient again (an address, or a Mailkit e-mail ID).

        `agreement=True`: the recipient already agreed (say how in `channel`), no e-mail is sent.
        `agreement=False`: the service mails a verification link; such a call is never re-sent once
        it may have reached the service, so the recipient is not mailed twice.
        Raises `NotUnsubscribedError` if the address is not unsubscribed.
        """
        target = email_or_id(email)
        agreement = require_bool("agreement", agreement)
        message_id = optional_positive_id("message_id", message_id)
        template_id = optional_positive_id("template_id", template_id)
        if channel is not None and not isinstance(channel, str):
            raise InvalidParameterError(f"channel must be a str, not {channel!r}")
        language = _language(language)
        if template_id is not None and self._client.protocol == "xmlrpc":
            raise InvalidParameterError("template_id is only supported over the JSON protocol")
        json: dict[str, object] = {"ID_email" if isinstance(target, int) else "email": target}
        if message_id is not None:
            json["ID_message"] = message_id
        if template_id is not None:
            json["ID_template"] = template_id
        json["agreement"] = wire_bool(agreement)
        if channel is not None:
            json["channel"] = channel
        if language is not None:
            json["language"] = language
        # XML-RPC: ID_email takes an ID or an address; `dummy` is the documented empty placeholder.
        positional = (target, message_id or 0, agreement, channel or "", 0, language or "")
        request = Request(REVALIDATE, json, positional, idempotent=agreement)
        interpret = partial(_parse_revalidate, self._client.protocol, target=target, agreement=agreement)
        return await self._client._execute(request, interpret)

    async def unsubscribe(
        self,
        email: str | int,
        *,
        send_message_id: int | None = None,
        send_optout: bool = True,
        pause_days: int | None = None,
    ) -> Unsubscription:
        """Unsubscribe a recipient (an address, or a Mailkit e-mail ID).

        `send_optout` mails a confirmation; `pause_days` (14..90) unsubscribes only for that long.
        `send_message_id` records the unsubscribe against one send. Safe to retry.
        """
        target = email_or_id(email)
        send_message_id = optional_positive_id("send_message_id", send_message_id)
        send_optout = require_bool("send_optout", send_optout)
        if pause_days is not None:
            pause_days = bounded_int("pause_days", pause_days, 14, 90)
        # JSON needs both `email` and `ID_email`, one of them null (as the docs say).
        json: dict[str, object] = {
            "email": target if isinstance(target, str) else None,
            "ID_email": target if isinstance(target, int) else None,
            "ID_send_message": send_message_id if send_message_id is not None else "",
            "send_optout": wire_bool(send_optout),
        }
        pause: dict[str, object] = {}
        if pause_days is not None:
            json["timeout"] = pause["timeout"] = "true"
            json["timeout_days"] = pause["timeout_days"] = str(pause_days)
        positional = (target, send_message_id or 0, send_optout, pause)
        request = Request(UNSUBSCRIBE, json, positional, idempotent=True)
        interpret = partial(_parse_unsubscribe, self._client.protocol, target=target)
        return await self._client._execute(request, interpret)


def _language(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in LANGUAGES:
        raise InvalidParameterError(f"language must be one of {', '.join(sorted(LANGUAGES))}, not {value!r}")
    return value.lower()


def _is_address(text: str) -> bool:
    return "@" in text and not any(c.isspace() for c in text.strip())


def _parse_revalidate(protocol: str, value: object, *, target: str | int, agreement: bool) -> Revalidation:
    if protocol == "xmlrpc":
        # The only answer is a text: the address on success (what happened follows `agreement`),
        # or, as the service really answers (recorded by its own PHP client), the JSON outcome
        # texts; "<address> is not unsubscribed", or a refusal.
        check_auth_text(REVALIDATE, value)
        if not isinstance(value, str):
            raise ResponseDecodeError(REVALIDATE, "expected a text answer", excerpt=repr(value)[:200])
        text = value.strip()
        if text.lower().endswith(_NOT_UNSUBSCRIBED):
            raise NotUnsubscribedError(REVALIDATE, text)
        email_id = target if isinstance(target, int) else None
        given = target if isinstance(target, str) else None
        if text.lower() in (_REVALIDATED, _MAILED):
            return Revalidation(email=given, email_id=email_id, revalidated=text.lower() == _REVALIDATED)
        if not _is_address(text):
            raise api_error(REVALIDATE, text)
        return Revalidation(email=text, email_id=email_id, revalidated=agreement)
    answer = expect_mapping(REVALIDATE, value)
    text = str(answer.get("error", "")).strip()
    # "Email is not unsubscribed" arrives with error_status 0: check the text first.
    if text.lower().endswith(_NOT_UNSUBSCRIBED):
        raise NotUnsubscribedError(REVALIDATE, text)
    if error_status(answer):
        raise api_error(REVALIDATE, text)
    if text.lower() == _REVALIDATED:
        revalidated = True
    elif text.lower() == _MAILED:
        revalidated = False
    else:
        raise api_error(REVALIDATE, text)
    email = answer.get("email")
    return Revalidation(
        email=str(email) if email else (target if isinstance(target, str) else None),
        email_id=optional_id(REVALIDATE, answer.get("ID_email")),
        revalidated=revalidated,
    )


def _parse_unsubscribe(protocol: str, value: object, *, target: str | int) -> Unsubscription:
    given = target if isinstance(target, str) else None
    if protocol == "xmlrpc":
        # An ID, or the address itself when the account did not know it.
        check_auth_text(UNSUBSCRIBE, value)
        if isinstance(value, str) and _is_address(value):
            return Unsubscription(email_id=None, email=value.strip(), already_unsubscribed=None)
        email_id = read_id(value)
        if email_id is not NOT_AN_ID and not (isinstance(value, str) and not value.strip()):
            return Unsubscription(email_id=email_id, email=given, already_unsubscribed=None)  # type: ignore[arg-type]
        if isinstance(value, str):
            raise api_error(UNSUBSCRIBE, value)
        raise ResponseDecodeError(UNSUBSCRIBE, "expected an ID or a text", excerpt=repr(value)[:200])
    answer = expect_mapping(UNSUBSCRIBE, value)
    if error_status(answer):
        raise api_error(UNSUBSCRIBE, str(answer.get("error", "")))
    raw_id = answer.get("ID_email")
    raw_status = answer.get("status")
    status = "" if raw_status is None else str(raw_status).strip()
    email: str | None = given
    if isinstance(raw_id, str) and _is_address(raw_id):
        email_id, email = None, raw_id.strip()
    else:
        email_id = optional_id(UNSUBSCRIBE, raw_id)
    if not status and "ID_email" in answer:
        # The page shows "status"; real answers may leave it out (recorded by the PHP client),
        # the ID alone saying it was done.
        return Unsubscription(email_id=email_id, email=email, already_unsubscribed=None)
    if status not in ("1", "2"):
        raise ResponseDecodeError(UNSUBSCRIBE, f"unexpected status {short(status)}", excerpt=repr(value))
    return Unsubscription(email_id=email_id, email=email, already_unsubscribed=status == "2")
