"""The emulated account: what it holds, and how tests fill it and look into it.

Campaigns, an address book, mass-send results, the raw bounce log (with the pages rendered from
it) and the account's clock. `MailkitEmulator` is this account answering calls; everything here
is plain seeding and reading, each under the account's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Final, Literal, TypeVar

from ._bounces import BounceLog, PageCache
from ._state import (
    DEFAULT_INFO,
    Campaign,
    MassSendFailure,
    RevalidationRecord,
    ScheduledSend,
    State,
    Subscriber,
    UnsubscribeRecord,
)

__all__ = ["DEFAULT_CAMPAIGNS", "Account"]

T = TypeVar("T")

DEFAULT_CAMPAIGNS: Final = (1, 2, 3, 12345)
DEFAULT_QUERIES: Final = (1, 123)
DEFAULT_DELIVERY_FEEDS: Final = (1, 123, 1234)


class Account:
    """A Mailkit account's contents; see `MailkitEmulator`, which adds answering calls to it."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | datetime | None = None,
        campaigns: Iterable[int] = DEFAULT_CAMPAIGNS,
    ) -> None:
        self.page_cache = PageCache()
        self._lock = threading.RLock()
        self._state = State(queries=set(DEFAULT_QUERIES), delivery_feeds=set(DEFAULT_DELIVERY_FEEDS))
        self._bounces = BounceLog()
        self._clock: Callable[[], datetime] = _utc_now
        self.set_clock(clock)
        for message_id in campaigns:
            self.add_campaign(message_id)

    def set_clock(self, clock: Callable[[], datetime] | datetime | None) -> None:
        """The emulator's "now" (for past send dates): a callable, a fixed datetime, or None (real)."""
        if clock is None:
            self._clock = _utc_now
        elif isinstance(clock, datetime):
            fixed = _aware(clock)
            self._clock = lambda: fixed
        else:
            self._clock = lambda: _aware(clock())

    def now(self) -> datetime:
        """The emulator's current time (aware, UTC)."""
        return self._clock()

    # -- seeding ---------------------------------------------------------------------------------

    def add_campaign(
        self,
        message_id: int,
        *,
        subject: str = "",
        template_id: int | None = None,
        query_id: int | None = None,
        delivery_feed_id: int | None = None,
    ) -> None:
        """Make campaign `message_id` known (replacing its settings; its scheduled sends stay)."""
        with self._lock:
            old = self._state.campaigns.get(message_id)
            self._state.campaigns[message_id] = Campaign(
                message_id,
                subject or f"Campaign {message_id}",
                template_id,
                query_id,
                delivery_feed_id,
                delivery_feed_id is None,
                old.sends if old is not None else [],
            )

    def add_query(self, query_id: int) -> None:
        """Make a conditional-delivery rule (`ID_query`) valid."""
        with self._lock:
            self._state.queries.add(query_id)

    def add_delivery_feed(self, delivery_feed_id: int) -> None:
        """Make a delivery feed (`ID_delivery_feed`) valid."""
        with self._lock:
            self._state.delivery_feeds.add(delivery_feed_id)

    def add_subscriber(self, email: str, email_id: int | None = None, *, unsubscribed: bool = False) -> int:
        """Put an address in the account's address book; returns its e-mail ID."""
        with self._lock:
            status: Literal["subscribed", "unsubscribed"] = "unsubscribed" if unsubscribed else "subscribed"
            return self._state.add_subscriber(email, email_id, status).email_id

    def set_mass_results(self, request_id: int | str, errors: Iterable[MassSendFailure]) -> None:
        """The failed recipients `mailkit.sendmail_mass.results` reports for `request_id`."""
        with self._lock:
            self._state.mass_results[str(request_id)] = list(errors)

    def add_mass_error(
        self,
        request_id: int | str,
        code: int,
        info: str | None = None,
        *,
        email: str = "",
        date: str = "2020-09-07 14:24:13",
        email_id: int = 0,
        send_id: int = 0,
        send_message_id: int = 0,
    ) -> MassSendFailure:
        """Add one failed recipient to `request_id`'s results (`send_id` lets `ID_send` filter it)."""
        error = MassSendFailure(
            code,
            DEFAULT_INFO.get(code, "error") if info is None else info,
            email,
            date,
            email_id,
            send_id,
            send_message_id,
        )
        with self._lock:
            self._state.mass_results.setdefault(str(request_id), []).append(error)
        return error

    def seed_bounces(
        self,
        count: int,
        *,
        message_ids: Sequence[int] = (12345,),
        send_ids: Sequence[int] = (123456,),
        start_id: int | None = None,
        gap_every: int = 0,
        extra_fields: bool = False,
        plain: bool = False,
        append: bool = False,
        real_world: bool = False,
        texts: Sequence[str] = (),
    ) -> range:
        """Fill the raw bounce log with `count` deterministic records (costs O(1) memory).

        IDs start at `start_id` (1, or just past the log's end with `append=True`); `gap_every=n`
        leaves one ID out after every n records. Records take (message, send) pairs in turn from
        `message_ids`/`send_ids`. `extra_fields` adds the fields seen in the wild (BOUNCE_CAT,
        UTM_CAMPAIGN, CAMPAIGN_NAME, SUBJECT); `plain` keeps texts free of anything a protocol
        escapes; `real_world` gives records the forms real answers show, one per record in turn
        (a field nobody documented, null text, an empty or zero ID, a multi-line SMTP reply, one
        quoting HTML); `texts` are `TEXT_STATUS` values the records take instead of the built-in SMTP
        replies (``{email}`` in one stands for the recipient's address). Returns the span of IDs
        used (gaps included)."""
        with self._lock:
            self._bounces = self._bounces.seeded(
                count,
                message_ids=message_ids,
                send_ids=send_ids,
                start_id=start_id,
                gap_every=gap_every,
                extra_fields=extra_fields,
                plain=plain,
                append=append,
                real_world=real_world,
                texts=texts,
            )
            self.page_cache.clear()
            if not count:
                return range(0)
            segment = self._bounces.segments[-1]
            return range(segment.first_id, segment.last_id + 1)

    def clear_bounces(self) -> None:
        with self._lock:
            self._bounces = BounceLog((), self._bounces.version + 1)
            self.page_cache.clear()

    # -- inspection ------------------------------------------------------------------------------

    def campaign(self, message_id: int) -> Campaign:
        """A snapshot of a campaign's settings and scheduled sends."""
        with self._lock:
            return self._state.campaigns[message_id].snapshot()

    def scheduled_sends(self, message_id: int) -> list[ScheduledSend]:
        """The campaign's scheduled sends, oldest first (several may coexist)."""
        with self._lock:
            campaign = self._state.campaigns.get(message_id)
            return list(campaign.sends) if campaign is not None else []

    def subscriber(self, email_or_id: str | int) -> Subscriber | None:
        """A snapshot of an address-book entry (by address or e-mail ID)."""
        with self._lock:
            found = self._state.find(email_or_id)
            return found.snapshot() if found is not None else None

    def is_unsubscribed(self, email: str) -> bool:
        """Whether an address (known to the account or not) is unsubscribed now."""
        with self._lock:
            found = self._state.find(email)
            if found is not None:
                return found.status != "subscribed"
            return email.strip().lower() in self._state.foreign_unsubscribed

    def verification_mails(self, email_or_id: str | int) -> int:
        """How many verification ("subscribe") e-mails revalidate sent to this recipient."""
        with self._lock:
            return self._state.verification_mails[self._address(email_or_id)]

    def optout_mails(self, email_or_id: str | int) -> int:
        """How many unsubscribe confirmations (opt-out e-mails) this recipient was sent."""
        with self._lock:
            return self._state.optout_mails[self._address(email_or_id)]

    @property
    def unsubscribes(self) -> list[UnsubscribeRecord]:
        """Every processed unsubscribe, oldest first (temporary ones carry `pause_days`)."""
        return self._locked(lambda: list(self._state.unsubscribes))

    @property
    def revalidations(self) -> list[RevalidationRecord]:
        return self._locked(lambda: list(self._state.revalidations))

    @property
    def bounce_count(self) -> int:
        return self._bounces.count

    def bounce_ids(self, *, message_id: int | None = None, send_id: int | None = None) -> Iterator[int]:
        """Every bounce record's ID in order (lazily), after the filters: the expected stream."""
        return self._bounces.ids(message_id, send_id)

    def bounce_records(
        self,
        after_id: int = 0,
        *,
        message_id: int | None = None,
        send_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, object]]:
        """Records with ID > `after_id` as the JSON answer carries them (strings, or real-world forms)."""
        chunks = self._bounces.select(after_id + 1, message_id, send_id, limit)
        return [segment.record(index) for segment, indices in chunks for index in indices]

    def _locked(self, read: Callable[[], T]) -> T:
        """`read()` under the lock: a copy no request changes while a test looks at it."""
        with self._lock:
            return read()

    def _address(self, email_or_id: str | int) -> str:
        found = self._state.find(email_or_id)
        if found is not None:
            return found.email.lower()
        return str(email_or_id).strip().lower()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
