"""The zone name the emulated service prints after a scheduled date, true at that date.

The service prints a zone name (``Europe/Prague``) where it was given only an offset (``02:00``).
A name is printed only if that zone keeps that offset at the scheduled instant (Prague is +01:00
in winter, London +01:00 in summer), otherwise a fixed-offset name (``UTC``, ``Etc/GMT-7``), so a
date and its label never contradict each other.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["zone_name"]

# Zones people schedule in, per offset, first match wins; each is tried against the actual date.
_CANDIDATES: Final[dict[str, tuple[str, ...]]] = {
    "00:00": ("Europe/London",),
    "01:00": ("Europe/Prague", "Europe/London"),
    "02:00": ("Europe/Prague", "Europe/Helsinki"),
    "03:00": ("Europe/Moscow",),
    "04:00": ("Asia/Dubai",),
    "05:30": ("Asia/Kolkata",),
    "05:45": ("Asia/Kathmandu",),
    "08:00": ("Asia/Shanghai",),
    "09:00": ("Asia/Tokyo",),
    "10:00": ("Australia/Sydney", "Australia/Brisbane"),
    "11:00": ("Australia/Sydney",),
    "-03:00": ("America/Sao_Paulo",),
    "-04:00": ("America/New_York", "America/Halifax"),
    "-05:00": ("America/New_York", "America/Chicago"),
    "-06:00": ("America/Chicago", "America/Denver"),
    "-07:00": ("America/Denver", "America/Los_Angeles"),
    "-08:00": ("America/Los_Angeles",),
}


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo | None:
    """The named zone, or None where the zone database is missing (then only fixed names are used)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _fixed_name(offset: str) -> str:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset.lstrip("-").split(":")
    if int(hours) == 0 and minutes == "00":
        return "UTC"
    if minutes == "00":
        # POSIX-style Etc zones invert the sign: UTC+03 is Etc/GMT-3.
        return f"Etc/GMT{'-' if sign > 0 else '+'}{int(hours)}"
    return f"UTC{'+' if sign > 0 else '-'}{offset.lstrip('-')}"


def zone_name(offset: str, utc: datetime) -> str:
    """The name printed for a send at `utc` (aware) requested with `offset` (``hh:mm``/``-hh:mm``)."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset.lstrip("-").split(":")
    wanted = sign * timedelta(hours=int(hours), minutes=int(minutes))
    instant = utc.astimezone(timezone.utc)
    for name in _CANDIDATES.get(offset, ()):
        zone = _zone(name)
        if zone is not None and instant.astimezone(zone).utcoffset() == wanted:
            return name
    return _fixed_name(offset)
