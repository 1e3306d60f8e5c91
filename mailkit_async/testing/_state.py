"""What the emulated Mailkit account holds: campaigns, an address book, mass-send results.

Plain data, mutated only under the emulator's lock by the function logic (`_functions.py`) and the
seeding methods; tests read snapshots of it through `MailkitEmulator`'s inspection methods.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Final, Literal

__all__ = [
    "FIRST_EMAIL_ID",
    "Campaign",
    "MailingList",
    "DEFAULT_INFO",
    "MassSendFailure",
    "RevalidationRecord",
    "ScheduledSend",
    "State",
    "Subscriber",
    "SubscriberStatus",
    "UnsubscribeRecord",
    "prague_offset",
]

FIRST_EMAIL_ID: Final = 123456789
#: The INFO text the service gives each mass-send ERROR_CODE.
DEFAULT_INFO: Final = {
    1: "url return null",
    2: "invalid email",
    3: "missing email",
    4: "missing mailinglist_id",
    5: "invalid id_message",
    6: "email is unsubscribed",
    7: "missing sender address",
    8: "invalid template file",
}
SubscriberStatus = Literal["subscribed", "unsubscribed", "pending"]


@dataclasses.dataclass(frozen=True)
class ScheduledSend:
    """One scheduled send of a campaign: `send_date` is naive, in the zone the service printed."""

    message_id: int
    send_date: datetime
    zone_name: str
    time_zone: str | None  # the offset as requested ("02:00"); None for "now"
    immediate: bool
    subject: str
    template_id: int | None
    query_id: int | None
    delivery_feed_id: int | None
    utc: datetime


@dataclasses.dataclass
class Campaign:
    """A campaign (message ID) of the account and its delivery settings."""

    message_id: int
    subject: str = ""
    template_id: int | None = None
    query_id: int | None = None  # the conditional-delivery rule; None when off
    delivery_feed_id: int | None = None
    has_mailing_list: bool = True  # a delivery feed detaches the mailing list
    sends: list[ScheduledSend] = dataclasses.field(default_factory=list)

    def snapshot(self) -> Campaign:
        return dataclasses.replace(self, sends=list(self.sends))


@dataclasses.dataclass(frozen=True)
class MailingList:
    """A mailing list of the account, as `mailkit.mailinglist.list` reports it."""

    mailing_list_id: int
    name: str
    status: Literal["enabled", "disabled"] = "enabled"
    description: str = ""


def _default_lists() -> dict[int, MailingList]:
    return {1: MailingList(1, "Newsletter", "enabled", "Everyone who subscribed on the website")}


@dataclasses.dataclass
class Subscriber:
    """An address of the account. `pending`: unsubscribed, a verification e-mail is out."""

    email_id: int
    email: str
    status: SubscriberStatus = "subscribed"
    channel: str | None = None
    paused_until: datetime | None = None  # a temporary unsubscribe ends then

    def snapshot(self) -> Subscriber:
        return dataclasses.replace(self)


@dataclasses.dataclass(frozen=True)
class MassSendFailure:
    """One failed recipient of a `mailkit.sendmail_mass` request, as the emulator is told to report
    it (0 means "none" for the IDs). The client reads such a row as `mailkit_async.MassSendError`."""

    code: int
    info: str
    email: str = ""
    date: str = "2020-09-07 14:24:13"
    email_id: int = 0
    send_id: int = 0
    send_message_id: int = 0


@dataclasses.dataclass(frozen=True)
class UnsubscribeRecord:
    """One processed `mailkit.email.unsubscribe` (status 1: unsubscribed now, 2: already was)."""

    email: str
    email_id: int | None  # None for an address the account did not know
    status: int
    send_message_id: int | None
    optout_sent: bool
    pause_days: int | None


@dataclasses.dataclass(frozen=True)
class RevalidationRecord:
    """One processed `mailkit.email.revalidate` that changed something."""

    email: str
    email_id: int
    agreement: bool
    revalidated: bool  # False: a verification e-mail was sent instead
    channel: str | None
    language: str | None
    message_id: int | None
    template_id: int | None


@dataclasses.dataclass
class State:
    campaigns: dict[int, Campaign] = dataclasses.field(default_factory=dict)
    queries: set[int] = dataclasses.field(default_factory=set)
    delivery_feeds: set[int] = dataclasses.field(default_factory=set)
    subscribers: dict[int, Subscriber] = dataclasses.field(default_factory=dict)
    by_address: dict[str, int] = dataclasses.field(default_factory=dict)
    # Addresses the account never knew, unsubscribed anyway (the service answers with the address).
    foreign_unsubscribed: set[str] = dataclasses.field(default_factory=set)
    mass_results: dict[str, list[MassSendFailure]] = dataclasses.field(default_factory=dict)
    mailing_lists: dict[int, MailingList] = dataclasses.field(default_factory=_default_lists)
    verification_mails: Counter[str] = dataclasses.field(default_factory=Counter)
    optout_mails: Counter[str] = dataclasses.field(default_factory=Counter)
    unsubscribes: list[UnsubscribeRecord] = dataclasses.field(default_factory=list)
    revalidations: list[RevalidationRecord] = dataclasses.field(default_factory=list)
    next_email_id: int = FIRST_EMAIL_ID

    def add_subscriber(self, email: str, email_id: int | None, status: SubscriberStatus) -> Subscriber:
        key = email.strip().lower()
        if key in self.by_address:
            subscriber = self.subscribers[self.by_address[key]]
            subscriber.status = status
            return subscriber
        if email_id is None:
            while self.next_email_id in self.subscribers:
                self.next_email_id += 1
            email_id = self.next_email_id
            self.next_email_id += 1
        elif email_id in self.subscribers:
            raise ValueError(f"e-mail ID {email_id} already belongs to {self.subscribers[email_id].email}")
        subscriber = Subscriber(email_id, email.strip(), status)
        self.subscribers[email_id] = subscriber
        self.by_address[key] = email_id
        return subscriber

    def find(self, email_or_id: str | int) -> Subscriber | None:
        if isinstance(email_or_id, int):
            return self.subscribers.get(email_or_id)
        email_id = self.by_address.get(email_or_id.strip().lower())
        return None if email_id is None else self.subscribers[email_id]


def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month + 1, 1, tzinfo=timezone.utc) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def prague_offset(utc: datetime) -> timedelta:
    """Central European time (the service's own clock) without needing tzdata: +2 in EU summer time."""
    start = _last_sunday(utc.year, 3).replace(hour=1)
    end = _last_sunday(utc.year, 10).replace(hour=1)
    return timedelta(hours=2 if start <= utc < end else 1)
