"""Argument checks shared by the resources: bad input fails here, before anything is sent."""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, ParamSpec, TypeVar

from .._exceptions import InvalidParameterError, MailkitError
from .._secrets import ARGUMENT_LIMIT, quote

__all__ = [
    "named",
    "named_async",
    "INT64_MAX",
    "MAX_OFFSET",
    "UNSET",
    "bounded_int",
    "Unset",
    "email_or_id",
    "offset_text",
    "optional_positive_id",
    "positive_id",
    "require_bool",
    "show",
    "time_zone",
    "wire_bool",
]

#: The largest ID either protocol carries (XML-RPC's <i8>, and the service's own integers).
INT64_MAX: Final = 2**63 - 1
#: The widest UTC offset accepted, as a `time_zone` string or a datetime's own (the zones in use
#: span -12:00 to +14:00).
MAX_OFFSET: Final = timedelta(hours=14)
# ASCII digits only: `\d` would also take other scripts' digits (Arabic-Indic, Devanagari...).
_TIME_ZONE: Final = re.compile(r"(-?)([0-9]{2}):([0-9]{2})")
_MINUTE: Final = timedelta(minutes=1)


class Unset(enum.Enum):
    """The type of `UNSET`: "leave this setting as the service has it" (unlike ``None``/``0``)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def show(value: object) -> str:
    """A caller's argument quoted in a refusal: short, and never failing."""
    return quote(value, ARGUMENT_LIMIT)


def positive_id(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= INT64_MAX:
        raise InvalidParameterError(f"{name} must be a positive int of at most 64 bits, not {show(value)}")
    return value


def optional_positive_id(name: str, value: object) -> int | None:
    return None if value is None else positive_id(name, value)


def email_or_id(value: object) -> str | int:
    """An address (str) or a Mailkit e-mail ID (int), as revalidate and unsubscribe take them."""
    if isinstance(value, str):
        address = value.strip()
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in address):
            raise InvalidParameterError(f"email must be an e-mail address or an int ID, not {show(value)}")
        return address
    return positive_id("email (an e-mail ID)", value)


def wire_bool(value: bool) -> str:
    """Booleans as the JSON docs spell them."""
    return "TRUE" if value else "FALSE"


def require_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be True or False, not {show(value)}")
    return value


def bounded_int(name: str, value: object, low: int, high: int = INT64_MAX) -> int:
    """An int (not a bool) in ``low..high`` (64 bits unless told); the message states the range."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        span = f"from {low} to {high}" if high != INT64_MAX else f">= {low} (and of at most 64 bits)"
        raise InvalidParameterError(f"{name} must be an int {span}, not {show(value)}")
    return value


def time_zone(value: object) -> str:
    """A `time_zone` string, ``hh:mm`` or ``-hh:mm`` (as the service spells it), within
    `MAX_OFFSET`: the same rule as for a datetime's own offset."""
    match = _TIME_ZONE.fullmatch(value) if isinstance(value, str) else None
    if match is not None and int(match[3]) < 60:
        offset = timedelta(hours=int(match[2]), minutes=int(match[3]))
        if offset <= MAX_OFFSET:
            return _spell(-offset if match[1] == "-" else offset)
    raise InvalidParameterError(
        f"time_zone must be 'hh:mm' or '-hh:mm' from -14:00 to 14:00 (e.g. '02:00'), not {show(value)}"
    )


def offset_text(offset: timedelta) -> str:
    """A datetime's UTC offset as `time_zone` spells it: whole minutes within `MAX_OFFSET` only
    (rounding -05:30:30 would schedule the send at another moment)."""
    if offset % _MINUTE or abs(offset) > MAX_OFFSET:
        raise InvalidParameterError(
            f"send_date's UTC offset must be whole minutes from -14:00 to 14:00, not {_exact(offset)}"
        )
    return _spell(offset)


def _exact(offset: timedelta) -> str:
    """An offset to the microsecond, as +hh:mm:ss[.ffffff] (timedelta's own str says "-1 day")."""
    size = abs(offset)
    minutes, seconds = divmod(size.days * 86_400 + size.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    fraction = f".{size.microseconds:06d}" if size.microseconds else ""
    return f"{'-' if offset < timedelta(0) else '+'}{hours:02d}:{minutes:02d}:{seconds:02d}{fraction}"


def _spell(offset: timedelta) -> str:
    minutes = offset // _MINUTE
    hours, mins = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else ''}{hours:02d}:{mins:02d}"


P = ParamSpec("P")
R = TypeVar("R")


def _name(error: MailkitError, method: str) -> None:
    # Errors raised before a request exists (bad arguments) name no function; a method that sends
    # another's function (cancel sends schedule) is named beside it.
    if error.method is None and error.function != f"mailkit.{method}":
        error.method = method


def named(method: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Argument errors of the method (`report.raw.bounces`) name it, as the call's own errors do."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except MailkitError as error:
                _name(error, method)
                raise

        return wrapper

    return decorate


def named_async(method: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """`named` for a coroutine method (`email.unsubscribe`)."""

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await function(*args, **kwargs)
            except MailkitError as error:
                _name(error, method)
                raise

        return wrapper

    return decorate
