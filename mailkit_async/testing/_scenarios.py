"""Ready-made account contents for the emulator: what the README's tour calls, seeded in one go."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from ._state import prague_offset

if TYPE_CHECKING:
    from ._emulator import MailkitEmulator

__all__ = ["TOUR_BOUNCES", "TOUR_CAMPAIGN", "TOUR_MASS_REQUEST", "TOUR_SUBSCRIBER", "seed_tour"]

TOUR_CAMPAIGN: Final = 1234
TOUR_SUBSCRIBER: Final = "someone@example.com"
TOUR_MASS_REQUEST: Final = 987
TOUR_BOUNCES: Final = 2_500
_TOUR_SEND: Final = 5001


def seed_tour(emulator: MailkitEmulator, *, bounces: int = TOUR_BOUNCES) -> MailkitEmulator:
    """Seed `emulator` with everything the README's tour touches, and return it.

    - campaign ``1234`` ("Spring news") to schedule and cancel;
    - ``someone@example.com``, subscribed, to unsubscribe and revalidate (the tour does both, so
      it can run again and again against the same emulator);
    - mass-send request ``987`` with two failed recipients (an invalid address, and
      ``gone@example.com``, who is unsubscribed), dated 40 minutes ago in the service's time;
    - `bounces` raw bounce records of campaign 1234 (0 seeds none), with the extra fields real
      records carry (``BOUNCE_CAT``, ``SUBJECT``...).

    The account's mailing list (for ``mk.call("mailkit.mailinglist.list")``) is there by default.
    """
    emulator.add_campaign(TOUR_CAMPAIGN, subject="Spring news")
    emulator.add_subscriber(TOUR_SUBSCRIBER, unsubscribed=False)
    gone = emulator.add_subscriber("gone@example.com", unsubscribed=True)
    now = emulator.now()
    # The service's timestamps are naive, in its own (Prague) time.
    sent = (now + prague_offset(now) - timedelta(minutes=40)).strftime("%Y-%m-%d %H:%M:%S")
    emulator.add_mass_error(
        TOUR_MASS_REQUEST, 2, email="not-an-address", date=sent, send_id=_TOUR_SEND, send_message_id=1
    )
    emulator.add_mass_error(
        TOUR_MASS_REQUEST,
        6,
        email="gone@example.com",
        date=sent,
        email_id=gone,
        send_id=_TOUR_SEND,
        send_message_id=2,
    )
    if bounces:
        emulator.seed_bounces(
            bounces, message_ids=(TOUR_CAMPAIGN,), send_ids=(_TOUR_SEND,), extra_fields=True, append=True
        )
    return emulator
