"""The logic of the emulated functions: read lenient parameters, change the state, shape the answer.

Each function returns its `Answer`: the value each protocol's documentation page shows (a dict for
JSON; a string, int or struct for XML-RPC), quirks included: success texts in
`error`, `error_status` as a string in some answers, "Email is not unsubscribed" with status 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Final

from .._service import MAILINGLIST_LIST, RESULTS, REVALIDATE, SCHEDULE, UNSUBSCRIBE
from ._state import RevalidationRecord, ScheduledSend, State, UnsubscribeRecord, prague_offset
from ._wire import Answer
from ._zones import zone_name

__all__ = ["FUNCTION_LOGIC", "as_bool", "as_int"]

Logic = Callable[[State, Mapping[str, object], datetime], Answer]

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_TIME_ZONE = re.compile(r"\s*([+-]?)(\d{1,2}):(\d{2})\s*")
_SEND_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRUE: Final = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f", "off"})

_PRAGUE: Final = "Europe/Prague"

SCHEDULE_OK: Final = "OK, send_date: "
CANCELLED: Final = "OK, send_date: 0000-00-00 00:00:00"


def as_int(value: object) -> int | None:
    """An int from a JSON int, a numeric string or an XML-RPC int; None when absent or empty.

    Raises ValueError for anything else (a bool, a word)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        if not value.strip():
            return None
        if _INTEGER.fullmatch(value):
            return int(value)
    raise ValueError(value)


def as_bool(value: object, default: bool) -> bool:
    """TRUE/FALSE, true/false, 1/0, JSON or XML-RPC booleans; `default` when absent or empty."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return default
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(value)


def _id(value: object) -> int | None:
    """A positive ID, or None (absent, 0, or not a number: the service reads those as missing)."""
    try:
        number = as_int(value)
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _refusal(text: str, xmlrpc_text: str | None = None) -> Answer:
    # Most refusals: {"error_status": 1, "error": ...} in JSON, the bare text in XML-RPC.
    return Answer({"error_status": 1, "error": text}, text if xmlrpc_text is None else xmlrpc_text)


# -- mailkit.campaigns.single.schedule ----------------------------------------------------------


def schedule(state: State, p: Mapping[str, object], now: datetime) -> Answer:
    def answer(text: str, status: int, xmlrpc_text: str | None = None) -> Answer:
        # The schedule page prints `error` first, and its success text lives in `error` too.
        return Answer({"error": text, "error_status": status}, text if xmlrpc_text is None else xmlrpc_text)

    message_id = _id(p.get("ID_message"))
    campaign = state.campaigns.get(message_id) if message_id is not None else None
    if campaign is None:
        return answer("Missing ID of campaign", 1)
    send_date = _text(p.get("send_date"))
    if not send_date:
        return answer("Missing send date of campaign", 1)
    if send_date.startswith("0000-00-00"):
        campaign.sends.clear()
        return answer(CANCELLED, 0)

    try:
        query_id = as_int(p.get("ID_query"))  # None: not sent, leave as it is; 0: clear
    except ValueError:
        return answer("Invalid ID_query", 1)
    try:
        feed_id = as_int(p.get("ID_delivery_feed")) or None
    except ValueError:
        return answer("Invalid ID_delivery_feed", 1)
    if query_id and feed_id:
        return answer(
            "error: Confused parameters - it is not possible to combine delivery capping and delivery feeds",
            1,
        )
    if feed_id is not None and feed_id not in state.delivery_feeds:
        return answer("Invalid ID_delivery_feed", 1)
    if query_id and query_id not in state.queries:
        return answer("Invalid ID_query", 1)

    if send_date.lower() == "now":
        local = (now + prague_offset(now)).replace(tzinfo=None, microsecond=0)
        utc, zone, offset_text, immediate = now, _PRAGUE, None, True
    else:
        match = _SEND_DATE.fullmatch(send_date)
        if match is None:
            return answer("Invalid send date of campaign", 1)
        zone_text = _text(p.get("time_zone"))
        if not zone_text:
            return answer("Missing time_zone", 1)
        zone_match = _TIME_ZONE.fullmatch(zone_text)
        if zone_match is None or int(zone_match[2]) > 14 or int(zone_match[3]) >= 60:
            return answer("Invalid time_zone", 1)
        sign = -1 if zone_match[1] == "-" else 1
        offset = sign * timedelta(hours=int(zone_match[2]), minutes=int(zone_match[3]))
        offset_text = f"{'-' if sign < 0 else ''}{int(zone_match[2]):02d}:{zone_match[3]}"
        try:
            year, month, day, hour, minute, second = (int(part) for part in match.groups("0"))
            local = datetime(year, month, day, hour, minute, second)
        except ValueError:
            return answer("Invalid send date of campaign", 1)
        utc = local.replace(tzinfo=timezone(offset)).astimezone(timezone.utc)
        if utc < now.replace(second=0, microsecond=0):
            return answer("The send date is in the past", 1)
        zone, immediate = zone_name(offset_text, utc), False

    # The documented side effects on the campaign's delivery settings.
    if feed_id is not None:
        campaign.delivery_feed_id = feed_id
        campaign.has_mailing_list = False
    if query_id is not None:
        campaign.query_id = query_id or None
    template_id = _id(p.get("ID_template"))
    if template_id is not None:
        campaign.template_id = template_id
    campaign.sends.append(
        ScheduledSend(
            message_id=campaign.message_id,
            send_date=local,
            zone_name=zone,
            time_zone=offset_text,
            immediate=immediate,
            subject=_text(p.get("subject")) or campaign.subject,
            template_id=campaign.template_id,
            query_id=campaign.query_id,
            delivery_feed_id=feed_id,
            utc=utc,
        )
    )
    printed = f"{SCHEDULE_OK}{local:%Y-%m-%d %H:%M:%S}"
    return answer(f"{printed} ({zone})", 0, printed)


# -- mailkit.sendmail_mass.results --------------------------------------------------------------


def results(state: State, p: Mapping[str, object], now: datetime) -> Answer:
    request_id = _text(p.get("request_id"))
    if request_id in ("", "0"):
        return _refusal("Missing request_id")
    errors = state.mass_results.get(request_id, [])
    send_id = _id(p.get("ID_send"))
    if send_id is not None:
        errors = [error for error in errors if error.send_id == send_id]
    if not errors:
        # Also the answer while the request is still being processed.
        return Answer({"error_status": 0, "status": "OK"}, {"status": "OK"})
    rows = [
        {
            "ID_SEND_MESSAGE": e.send_message_id,
            "ID_SEND": e.send_id,
            "ID_EMAIL": e.email_id,
            "DATE": e.date,
            "EMAIL": e.email,
            "ERROR_CODE": e.code,
            "INFO": e.info,
        }
        for e in errors
    ]
    structs = [
        {
            "ERROR_CODE": e.code,
            "INFO": e.info,
            "DATE": e.date,
            "ID_EMAIL": e.email_id,
            "EMAIL": e.email,
            "ID_SEND": e.send_id,
            "ID_SEND_MESSAGE": e.send_message_id,
        }
        for e in errors
    ]
    # The same rows, in the member order each page prints.
    json = {"error_status": 1, "status": "ERROR", "results": rows}
    return Answer(json, {"status": "ERROR", "results": structs})


# -- mailkit.email.revalidate -------------------------------------------------------------------


def _target(p: Mapping[str, object]) -> int | str | None:
    """The e-mail ID (preferred when given) or the address a call names; None for neither."""
    raw_id = p.get("ID_email")
    if isinstance(raw_id, str) and "@" in raw_id:
        return raw_id.strip()
    try:
        email_id = as_int(raw_id)
    except ValueError:
        email_id = -1  # named, but not an ID: invalid
    if email_id is not None and email_id != 0:
        return email_id
    email = _text(p.get("email"))
    return email or None


def revalidate(state: State, p: Mapping[str, object], now: datetime) -> Answer:
    target = _target(p)
    if target is None:
        return _refusal("Missing ID_email or email")
    subscriber = state.find(target)
    if subscriber is None:
        return _refusal("Invalid ID_email or email")
    try:
        agreement = as_bool(p.get("agreement"), False)
    except ValueError:
        return _refusal("Invalid agreement")
    address, email_id = subscriber.email, str(subscriber.email_id)
    if subscriber.status == "subscribed":
        json = {
            "error_status": 0,
            "ID_email": email_id,
            "error": "Email is not unsubscribed",
            "email": address,
        }
        return Answer(json, f"{address} is not unsubscribed")
    channel = _text(p.get("channel")) or None
    if agreement:
        subscriber.status = "subscribed"
        subscriber.channel = channel
        subscriber.paused_until = None
        text = "Email has been revalidated"
    else:
        # Unsubscribed until the recipient clicks the link; every such call mails them again.
        subscriber.status = "pending"
        state.verification_mails[address.lower()] += 1
        text = "Sent subscribe email"
    state.revalidations.append(
        RevalidationRecord(
            email=address,
            email_id=subscriber.email_id,
            agreement=agreement,
            revalidated=agreement,
            channel=channel,
            language=_text(p.get("language")) or None,
            message_id=_id(p.get("ID_message")),
            template_id=_id(p.get("ID_template")),
        )
    )
    return Answer({"email": address, "error_status": 0, "ID_email": email_id, "error": text}, address)


# -- mailkit.email.unsubscribe ------------------------------------------------------------------


def unsubscribe(state: State, p: Mapping[str, object], now: datetime) -> Answer:
    invalid = "Invalid ID_email or email"
    target = _target(p)
    if target is None:
        return _refusal("Missing ID_email or email", invalid)
    if isinstance(target, str) and not _ADDRESS.fullmatch(target):
        return _refusal(invalid)
    subscriber = state.find(target)
    if subscriber is None and isinstance(target, int):
        return _refusal(invalid)
    try:
        send_optout = as_bool(p.get("send_optout"), True)
        pause = as_bool(p.get("timeout"), False)
        pause_days = as_int(p.get("timeout_days")) if pause else None
        send_message_id = _id(p.get("ID_send_message"))
    except ValueError as exc:
        return _refusal(f"Invalid parameter {exc}")
    if pause and (pause_days is None or not 14 <= pause_days <= 90):
        return _refusal("Invalid timeout_days")

    if subscriber is not None:
        address: str = subscriber.email
        already = subscriber.status != "subscribed"
        if not already:
            subscriber.status = "unsubscribed"
            subscriber.paused_until = now + timedelta(days=pause_days) if pause_days else None
        reported: object = subscriber.email_id
    else:
        # An address the account does not know is unsubscribed all the same, and named by itself.
        assert isinstance(target, str)
        address = target
        already = address.lower() in state.foreign_unsubscribed
        state.foreign_unsubscribed.add(address.lower())
        reported = address
    optout_sent = send_optout and not already
    if optout_sent:
        state.optout_mails[address.lower()] += 1
    status = 2 if already else 1
    state.unsubscribes.append(
        UnsubscribeRecord(
            email=address,
            email_id=subscriber.email_id if subscriber is not None else None,
            status=status,
            send_message_id=send_message_id,
            optout_sent=optout_sent,
            pause_days=None if already else pause_days,
        )
    )
    return Answer({"error_status": "0", "ID_email": str(reported), "status": str(status)}, reported)


# -- mailkit.mailinglist.list (an untyped function, for `Mailkit.call`) ---------------------------


def mailinglist_list(state: State, p: Mapping[str, object], now: datetime) -> Answer:
    # The same array of structs over both protocols (as the service's own PHP client records it).
    lists = [
        {"NAME": m.name, "ID_USER_LIST": m.mailing_list_id, "STATUS": m.status, "DESCRIPTION": m.description}
        for m in state.mailing_lists.values()
    ]
    return Answer(lists, lists)


FUNCTION_LOGIC: Final[Mapping[str, Logic]] = {
    SCHEDULE: schedule,
    RESULTS: results,
    REVALIDATE: revalidate,
    UNSUBSCRIBE: unsubscribe,
    MAILINGLIST_LIST: mailinglist_list,
}
