"""Typed results: msgspec Structs with snake_case names, ints as ints, IDs of 0 as ``None``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import msgspec

__all__ = [
    "Bounce",
    "MassSendError",
    "MassSendErrorCode",
    "MassSendResults",
    "Revalidation",
    "ScheduleResult",
    "Unsubscription",
]


class ScheduleResult(msgspec.Struct, frozen=True):
    """A scheduled (or cancelled) send: the date the service printed, naive, and its zone name if any."""

    send_date: datetime
    time_zone: str | None
    message: str


class MassSendErrorCode(enum.IntEnum):
    """The documented `ERROR_CODE` values of `sendmail_mass.results`."""

    ATTACHMENT = 1
    """The attachment could not be added (not found, or not a transactional campaign)."""
    INVALID_EMAIL = 2
    MISSING_EMAIL = 3
    INVALID_MAILINGLIST = 4
    INVALID_MESSAGE = 5
    UNSUBSCRIBED = 6
    MISSING_SENDER = 7
    INVALID_TEMPLATE = 8


class MassSendError(msgspec.Struct, frozen=True):
    """One recipient that `sendmail_mass` could not send to.

    `code` is a plain int so that codes the docs do not list still decode; compare it with
    `MassSendErrorCode`, or read `known_code`.
    """

    code: int
    info: str
    date: datetime
    email: str
    email_id: int | None
    send_id: int | None
    send_message_id: int | None

    @property
    def known_code(self) -> MassSendErrorCode | None:
        """The code as a `MassSendErrorCode`, or ``None`` for a code the docs do not list."""
        try:
            return MassSendErrorCode(self.code)
        except ValueError:
            return None


class MassSendResults(msgspec.Struct, frozen=True):
    """`status` is ``"OK"`` (no failures known yet, also while the job runs) or ``"ERROR"``."""

    status: str
    errors: list[MassSendError]

    @property
    def ok(self) -> bool:
        """True when the service reports no failed recipient (so far)."""
        return self.status.upper() == "OK" and not self.errors


class Revalidation(msgspec.Struct, frozen=True):
    """`revalidated` False means the service mailed a verification link instead."""

    email: str | None
    email_id: int | None
    revalidated: bool


class Unsubscription(msgspec.Struct, frozen=True):
    """Fields are ``None`` where the protocol does not say (XML-RPC answers only an ID or address)."""

    email_id: int | None
    email: str | None
    already_unsubscribed: bool | None


class Bounce(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One record of `report.raw.bounces`.

    Decoded straight from the wire: the service's upper-case names (and its misspelled
    ``ID_SEND_MESSGE``) map onto these fields, numbers sent as strings become ints, fields the docs
    do not list are ignored. ``gc=False``: only str/int/None inside, so no cycles to track.
    """

    message_id: int | None = msgspec.field(default=None, name="ID_MESSAGE")
    text_status: str = msgspec.field(default="", name="TEXT_STATUS")
    status: str = msgspec.field(default="", name="STATUS")
    email_id: int | None = msgspec.field(default=None, name="ID_EMAIL")
    send_id: int | None = msgspec.field(default=None, name="ID_SEND")
    email: str = msgspec.field(default="", name="EMAIL")
    send_message_id: int | None = msgspec.field(default=None, name="ID_SEND_MESSGE")
    user_list_id: int | None = msgspec.field(default=None, name="ID_USER_LIST")
    remote_mta: str = msgspec.field(default="", name="REMOTE_MTA")
    undelivered_log_id: int = msgspec.field(name="ID_UNDELIVERED_LOG")
    recipient_status: str = msgspec.field(default="", name="RECIPIENT_STATUS")
    # The service's English page shows these on real records; the Czech page does not list them.
    bounce_category: str = msgspec.field(default="", name="BOUNCE_CAT")
    utm_campaign: str = msgspec.field(default="", name="UTM_CAMPAIGN")
    campaign_name: str = msgspec.field(default="", name="CAMPAIGN_NAME")
    subject: str = msgspec.field(default="", name="SUBJECT")
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="(extra)")
    """Every other field the service sent, under its own name, with its value as sent."""
