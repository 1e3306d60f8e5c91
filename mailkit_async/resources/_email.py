"""`mailkit.email.revalidate` and `mailkit.email.unsubscribe`: a recipient's subscription."""

from __future__ import annotations

from typing import Final

from .._answers import (
    NOT_AN_ID,
    api_error,
    check_auth_text,
    error_status,
    expect_mapping,
    json_outcome,
    optional_id,
    read_id,
    xmlrpc_text,
)
from .._codecs import Readers
from .._exceptions import InvalidParameterError, NotUnsubscribedError, ResponseDecodeError
from .._models import Revalidation, Unsubscription
from .._request import Request
from .._secrets import quote
from .._service import REVALIDATE, UNSUBSCRIBE
from ._params import bounded_int, email_or_id, named_async, optional_positive_id, require_bool, wire_bool
from ._resource import Resource

__all__ = ["LANGUAGES", "Email"]

LANGUAGES: Final = frozenset({"cs", "en", "de", "ru", "pl", "sk", "hu"})
_REVALIDATED: Final = "email has been revalidated"
_MAILED: Final = "sent subscribe email"
_NOT_UNSUBSCRIBED: Final = "is not unsubscribed"


class Email(Resource):
    """`mk.email`: the `mailkit.email.*` functions."""

    @named_async("email.revalidate")
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
        """Subscribe an unsubscribed recipient again (`mailkit.email.revalidate`).

        Side effects: with `agreement=True` the recipient is subscribed again at once and no
        e-mail is sent; with `agreement=False` the service **mails a verification link**, and the
        recipient is subscribed again only once they click it. A call that mails is never re-sent
        once it may have reached the service, so the recipient is not mailed twice.

        Args:
            email: An address (`str`) or a Mailkit e-mail ID (`int`).
            agreement: Required. `True` if the recipient already agreed to receive mail again;
                `False` to have the service ask them by e-mail.
            message_id: A campaign whose template's subscribe e-mail is the verification e-mail.
                Default: the account's own.
            template_id: A template whose subscribe e-mail is the verification e-mail (JSON only).
                Default: the account's own.
            channel: How the recipient agreed (`"phone"`, `"web form"`...), stored with the
                subscription. Default: none (with `agreement=False` the service records the IP
                the link is clicked from).
            language: The verification e-mail's language: one of `cs en de ru pl sk hu`.
                Default: the account's own.

        Returns:
            The address and, over JSON, its e-mail ID (over XML-RPC only the ID you passed), and
            whether it was revalidated (`False`: a verification e-mail was sent instead).

        Raises:
            InvalidParameterError: A bad argument, before anything is sent: not an address nor a
                positive ID, `agreement` not a bool, an unknown `language`, `template_id` over
                XML-RPC.
            NotUnsubscribedError: The address is not unsubscribed, so there is nothing to do (with
                `error.attempts > 1`, a lost earlier attempt may have revalidated it).
            APIError: The service refused (an unknown address or ID).
            AuthenticationError: The credentials or the caller's IP were refused.
            TransientError: Once retries were spent: `RateLimitError` (429, or 503 with
                `Retry-After`), `ServerError` (5xx) or `TransportError` (network, timeouts).
            ResponseDecodeError: The answer is not what the function returns.
        """
        target = email_or_id(email)
        agreement = require_bool("agreement", agreement)
        message_id = optional_positive_id("message_id", message_id)
        template_id = optional_positive_id("template_id", template_id)
        if channel is not None and not isinstance(channel, str):
            raise InvalidParameterError(f"channel must be a str, not {channel!r}")
        language = _language(language)
        if template_id is not None and self._codec.positional:
            # XML-RPC's documented positions have no slot for it.
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
        return await self._call(request, _REVALIDATION, target=target, agreement=agreement)

    @named_async("email.unsubscribe")
    async def unsubscribe(
        self,
        email: str | int,
        *,
        send_message_id: int | None = None,
        send_optout: bool = True,
        pause_days: int | None = None,
    ) -> Unsubscription:
        """Unsubscribe a recipient (`mailkit.email.unsubscribe`).

        Side effect: by default the service **mails the recipient a confirmation** of the
        unsubscribe; pass `send_optout=False` for no e-mail. An address the account does not
        know is unsubscribed all the same. Unsubscribing twice leaves the same state, so every
        transient fault is retried.

        Args:
            email: An address (`str`) or a Mailkit e-mail ID (`int`).
            send_message_id: A send to record the unsubscribe against. Default: none.
            send_optout: Mail the recipient a confirmation. Default `True`, as the service's own.
            pause_days: Unsubscribe only for this many days (14..90), a pause after which the
                recipient gets mail again. Default `None`: for good.

        Returns:
            The recipient's e-mail ID and address, and over JSON whether they were unsubscribed
            already (`None` over XML-RPC, whose answer is only the ID or the address).

        Raises:
            InvalidParameterError: A bad argument, before anything is sent: not an address nor a
                positive ID, `send_optout` not a bool, `pause_days` outside 14..90.
            APIError: The service refused ("Invalid ID_email or email": a malformed address, or
                an ID the account does not have); `AuthenticationError`: the credentials or the
                caller's IP.
            TransientError: Once retries were spent: `RateLimitError` (429, or 503 with
                `Retry-After`), `ServerError` (5xx) or `TransportError` (network, timeouts).
            ResponseDecodeError: The answer is not what the function returns.
        """
        target = email_or_id(email)
        if pause_days is not None:
            pause_days = bounded_int("pause_days", pause_days, 14, 90)
        send_message_id = optional_positive_id("send_message_id", send_message_id)
        send_optout = require_bool("send_optout", send_optout)
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
        return await self._call(request, _UNSUBSCRIPTION, target=target)


def _language(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in LANGUAGES:
        raise InvalidParameterError(f"language must be one of {', '.join(sorted(LANGUAGES))}, not {value!r}")
    return value.lower()


def _is_address(text: str) -> bool:
    return "@" in text and not any(c.isspace() for c in text.strip())


def _not_unsubscribed(text: str) -> None:
    if text.lower().endswith(_NOT_UNSUBSCRIBED):
        raise NotUnsubscribedError(text)


def _revalidation_json(value: object, *, target: str | int, agreement: bool) -> Revalidation:
    answer, text = json_outcome(value)
    text = text.strip()
    # "Email is not unsubscribed" arrives with error_status 0: check the text first.
    _not_unsubscribed(text)
    if error_status(answer):
        raise api_error(text)
    if text.lower() not in (_REVALIDATED, _MAILED):
        raise api_error(text)
    email = answer.get("email")
    return Revalidation(
        email=str(email) if email else (target if isinstance(target, str) else None),
        email_id=optional_id(answer.get("ID_email")),
        revalidated=text.lower() == _REVALIDATED,
    )


def _revalidation_xmlrpc(value: object, *, target: str | int, agreement: bool) -> Revalidation:
    # The only answer is a text: the address on success (what happened follows `agreement`),
    # or, as the service really answers (recorded by its own PHP client), the JSON outcome
    # texts; "<address> is not unsubscribed", or a refusal.
    text = xmlrpc_text(value).strip()
    _not_unsubscribed(text)
    email_id = target if isinstance(target, int) else None
    if text.lower() in (_REVALIDATED, _MAILED):
        given = target if isinstance(target, str) else None
        return Revalidation(email=given, email_id=email_id, revalidated=text.lower() == _REVALIDATED)
    if not _is_address(text):
        raise api_error(text)
    return Revalidation(email=text, email_id=email_id, revalidated=agreement)


_REVALIDATION: Final = Readers(json=_revalidation_json, xmlrpc=_revalidation_xmlrpc)


def _unsubscription_json(value: object, *, target: str | int) -> Unsubscription:
    answer = expect_mapping(value)
    if error_status(answer):
        raise api_error(str(answer.get("error", "")))
    raw_id = answer.get("ID_email")
    raw_status = answer.get("status")
    status = "" if raw_status is None else str(raw_status).strip()
    email = target if isinstance(target, str) else None
    if isinstance(raw_id, str) and _is_address(raw_id):
        email_id, email = None, raw_id.strip()
    else:
        email_id = optional_id(raw_id)
    if not status and "ID_email" in answer:
        # The page shows "status"; real answers may leave it out (recorded by the PHP client),
        # the ID alone saying it was done.
        return Unsubscription(email_id=email_id, email=email, already_unsubscribed=None)
    if status not in ("1", "2"):
        raise ResponseDecodeError(f"unexpected status {quote(status)}", excerpt=repr(value))
    return Unsubscription(email_id=email_id, email=email, already_unsubscribed=status == "2")


def _unsubscription_xmlrpc(value: object, *, target: str | int) -> Unsubscription:
    # An ID, or the address itself when the account did not know it.
    check_auth_text(value)
    if isinstance(value, str) and _is_address(value):
        return Unsubscription(email_id=None, email=value.strip(), already_unsubscribed=None)
    email_id = read_id(value)
    if email_id is not NOT_AN_ID and not (isinstance(value, str) and not value.strip()):
        given = target if isinstance(target, str) else None
        return Unsubscription(email_id=email_id, email=given, already_unsubscribed=None)  # type: ignore[arg-type]
    if isinstance(value, str):
        raise api_error(value)
    raise ResponseDecodeError("expected an ID or a text", excerpt=repr(value))


_UNSUBSCRIPTION: Final = Readers(json=_unsubscription_json, xmlrpc=_unsubscription_xmlrpc)
