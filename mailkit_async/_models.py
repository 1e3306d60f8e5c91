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
    """A scheduled send, as the service confirmed it (`campaigns.single.schedule`).

    Attributes:
        send_date: The date and time the send goes out, naive, as the service printed it (in
            the zone it names, or the offset you asked for).
        time_zone: The zone name the service printed (`"Europe/Prague"`); `None` over XML-RPC,
            whose answer names no zone.
        message: The service's confirmation text as is.
    """

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
    """One recipient that `sendmail_mass` could not send to (the same over both protocols).

    `code` is a plain int so that codes the docs do not list still decode; compare it with
    `MassSendErrorCode`, or read `known_code`.

    Attributes:
        code: The service's `ERROR_CODE` (1..8 are documented, see `MassSendErrorCode`).
        info: The service's text for it (`"invalid email"`).
        date: When it failed, naive, in the service's (Prague) time.
        email: The recipient's address as sent.
        email_id: The recipient's e-mail ID, or `None` when the service assigned none.
        send_id: The send's ID, or `None`.
        send_message_id: The message's ID within the send, or `None`.
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
    """What `sendmail_mass.results` reports for a mass-send request (the same over both protocols).

    Attributes:
        status: `"OK"` (no failures known yet, also while the job still runs) or `"ERROR"`.
        errors: The failed recipients (empty when `status` is `"OK"`).
    """

    status: str
    errors: list[MassSendError]

    @property
    def ok(self) -> bool:
        """True when the service reports no failed recipient (so far)."""
        return self.status.upper() == "OK" and not self.errors


class Revalidation(msgspec.Struct, frozen=True):
    """The outcome of `email.revalidate`.

    Attributes:
        email: The recipient's address (as the service answered, else as you passed it).
        email_id: The recipient's e-mail ID over JSON; over XML-RPC only the ID you passed (an
            address gives `None`: the answer is only the address).
        revalidated: `True`: subscribed again. `False`: the service mailed a verification link
            instead. Over XML-RPC it follows `agreement`, as the docs make it.
    """

    email: str | None
    email_id: int | None
    revalidated: bool


class Unsubscription(msgspec.Struct, frozen=True):
    """The outcome of `email.unsubscribe`; `None` where the protocol does not say.

    Attributes:
        email_id: The recipient's e-mail ID, or `None` when the service answered with the address
            (an address the account did not know).
        email: The address, as the service answered it or as you passed it (`None` if you passed
            an ID and the service answered the ID).
        already_unsubscribed: Over JSON, whether the recipient was unsubscribed before this call
            (`status` 2); `None` over XML-RPC, whose answer is only an ID or address.
    """

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
