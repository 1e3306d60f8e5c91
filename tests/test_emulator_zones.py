"""The zone the emulator prints after a scheduled date keeps that date's offset (summer time included)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from mailkit_async import Mailkit
from mailkit_async.testing import MailkitEmulator

pytestmark = pytest.mark.anyio

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
OFFSETS = ["00:00", "01:00", "02:00", "03:00", "05:45", "07:00", "10:00", "11:00", "-04:00", "-05:00"]
OFFSETS += ["-06:00", "-07:00", "-08:00", "-11:00"]
MONTHS = [1, 4, 7, 10, 11]


def _offset(text: str) -> timedelta:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("-").split(":")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def _printed_offset(name: str, at: datetime) -> timedelta:
    """The offset a printed zone name means at `at`: a tz database zone, or a fixed-offset name."""
    if name == "UTC":
        return timedelta(0)
    fixed = re.fullmatch(r"UTC([+-])(\d\d):(\d\d)", name)
    if fixed:
        return (-1 if fixed[1] == "-" else 1) * timedelta(hours=int(fixed[2]), minutes=int(fixed[3]))
    offset = at.astimezone(ZoneInfo(name)).utcoffset()
    assert offset is not None
    return offset


async def test_every_printed_zone_has_the_requested_offset_on_that_date(anyio_backend: str) -> None:
    emu = MailkitEmulator(clock=NOW)
    async with (
        httpx.AsyncClient(transport=emu.transport()) as http,
        Mailkit(1, "emulator", http_client=http) as mk,
    ):
        for offset in OFFSETS:
            for month in MONTHS:
                local = datetime(2031, month, 15, 9, 30)
                result = await mk.campaigns.single.schedule(1, local, time_zone=offset)
                assert result.send_date == local
                assert result.time_zone is not None
                instant = local.replace(tzinfo=timezone(_offset(offset)))
                assert _printed_offset(result.time_zone, instant) == _offset(offset), (offset, month)


@pytest.mark.parametrize(
    ("month", "offset", "printed"),
    [
        (7, "00:00", "UTC"),  # London is +01:00 in July
        (1, "00:00", "Europe/London"),
        (7, "01:00", "Europe/London"),
        (1, "01:00", "Europe/Prague"),
        (7, "02:00", "Europe/Prague"),
        (1, "02:00", "Europe/Helsinki"),
        (7, "-05:00", "America/Chicago"),
        (1, "-05:00", "America/New_York"),
    ],
)
async def test_summer_and_winter_names(anyio_backend: str, month: int, offset: str, printed: str) -> None:
    emu = MailkitEmulator(clock=NOW)
    async with (
        httpx.AsyncClient(transport=emu.transport()) as http,
        Mailkit(1, "emulator", http_client=http) as mk,
    ):
        result = await mk.campaigns.single.schedule(2, datetime(2031, month, 1, 9, 30), time_zone=offset)
    assert (result.send_date, result.time_zone) == (datetime(2031, month, 1, 9, 30), printed)
    (send,) = emu.scheduled_sends(2)
    assert send.zone_name == printed
