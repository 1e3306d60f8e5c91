"""Typed results: msgspec Structs with snake_case names, ints as ints, IDs of 0 as ``None``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

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


# On the wire an ID must be positive to be one: 0, "0", "" or null fail the strict decode, which
# hands the list to the second look (`_codecs._records`), where they become None. Constructing a
# Struct in code checks nothing, so users are not bound by these.
WireId = Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)]
# `extra` is never read from the wire by name: a key "(extra)" sent by the service is a field like
# any other, so the strict decode refuses it and the second look files it under its own name.
_Extra = Annotated[dict[str, Any], msgspec.Meta(max_length=0)]


class Bounce(msgspec.Struct, frozen=True, gc=False, kw_only=True, forbid_unknown_fields=True):
    """One record of `report.raw.bounces`.

    Decoded straight from the wire: the service's upper-case names (and its misspelled
    ``ID_SEND_MESSGE``) map onto these fields, numbers sent as strings become ints. An ID of
    ``""``, ``0``, ``"0"`` or null is ``None``; null text is ``""``. Every field the docs do not
    list lands in `extra` under its own name, as does a documented field whose value is not of
    its kind (``"ID_EMAIL": "n/a"``), so nothing sent is lost. ``gc=False``: the values are plain
    data from the wire, which cannot refer back to the record, so there are no cycles to track.
    """

    message_id: WireId | None = msgspec.field(default=None, name="ID_MESSAGE")
    text_status: str = msgspec.field(default="", name="TEXT_STATUS")
    status: str = msgspec.field(default="", name="STATUS")
    email_id: WireId | None = msgspec.field(default=None, name="ID_EMAIL")
    send_id: WireId | None = msgspec.field(default=None, name="ID_SEND")
    email: str = msgspec.field(default="", name="EMAIL")
    send_message_id: WireId | None = msgspec.field(default=None, name="ID_SEND_MESSGE")
    user_list_id: WireId | None = msgspec.field(default=None, name="ID_USER_LIST")
    remote_mta: str = msgspec.field(default="", name="REMOTE_MTA")
    undelivered_log_id: WireId = msgspec.field(name="ID_UNDELIVERED_LOG")
    recipient_status: str = msgspec.field(default="", name="RECIPIENT_STATUS")
    # The service's English page shows these on real records; the Czech page does not list them.
    bounce_category: str = msgspec.field(default="", name="BOUNCE_CAT")
    utm_campaign: str = msgspec.field(default="", name="UTM_CAMPAIGN")
    campaign_name: str = msgspec.field(default="", name="CAMPAIGN_NAME")
    subject: str = msgspec.field(default="", name="SUBJECT")
    extra: _Extra = msgspec.field(default_factory=dict, name="(extra)")
    """Every other field the service sent, under its own name, with its value as sent."""
