"""One call of every function the client types, for the tests that treat them all alike."""

from __future__ import annotations

from typing import Any, NamedTuple

from mailkit_async import (
    Bounce,
    Mailkit,
    MassSendResults,
    Revalidation,
    ScheduleResult,
    Unsubscription,
)
from mailkit_async._service import BOUNCES, RESULTS, REVALIDATE, SCHEDULE, UNSUBSCRIBE

from .clients import Invoke

#: A function no documentation page names, for `Mailkit.call`.
GENERIC = "mailkit.x.y"


class Call(NamedTuple):
    function: str
    invoke: Invoke
    returns: tuple[type, ...]  # what a success may be


async def drain_bounces(mk: Mailkit, **kwargs: Any) -> list[Bounce]:
    """Every record `report.raw.bounces(**kwargs)` yields."""
    return [bounce async for bounce in mk.report.raw.bounces(**kwargs)]


CALLS: dict[str, Call] = {
    "schedule": Call(SCHEDULE, lambda mk: mk.campaigns.single.schedule(7, "now"), (ScheduleResult,)),
    "cancel": Call(SCHEDULE, lambda mk: mk.campaigns.single.cancel(7), (ScheduleResult, type(None))),
    "results": Call(RESULTS, lambda mk: mk.sendmail_mass.results(55), (MassSendResults,)),
    "revalidate": Call(
        REVALIDATE, lambda mk: mk.email.revalidate("a@example.com", agreement=True), (Revalidation,)
    ),
    "revalidate-mail": Call(
        REVALIDATE, lambda mk: mk.email.revalidate(123, agreement=False), (Revalidation,)
    ),
    "unsubscribe": Call(UNSUBSCRIBE, lambda mk: mk.email.unsubscribe("a@example.com"), (Unsubscription,)),
    "bounces": Call(BOUNCES, drain_bounces, (list,)),
}

#: The typed calls and one generic `call` (positional parameters: both protocols carry them).
EVERY_CALL: dict[str, Call] = {
    **CALLS,
    "call": Call(GENERIC, lambda mk: mk.call(GENERIC, ()), (object,)),
}
