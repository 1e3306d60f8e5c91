"""Argument checks shared by the resources: bad input fails here, before anything is sent."""

from __future__ import annotations

import enum
from typing import Final

from .._exceptions import InvalidParameterError

__all__ = [
    "UNSET",
    "bounded_int",
    "Unset",
    "email_or_id",
    "optional_positive_id",
    "positive_id",
    "require_bool",
    "wire_bool",
]


class Unset(enum.Enum):
    """The type of `UNSET`: "leave this setting as the service has it" (unlike ``None``/``0``)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def positive_id(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidParameterError(f"{name} must be a positive int, not {value!r}")
    return value


def optional_positive_id(name: str, value: object) -> int | None:
    return None if value is None else positive_id(name, value)


def email_or_id(value: object) -> str | int:
    """An address (str) or a Mailkit e-mail ID (int), as revalidate and unsubscribe take them."""
    if isinstance(value, str):
        address = value.strip()
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in address):
            raise InvalidParameterError(f"email must be an e-mail address or an int ID, not {value!r}")
        return address
    return positive_id("email (an e-mail ID)", value)


def wire_bool(value: bool) -> str:
    """Booleans as the JSON docs spell them."""
    return "TRUE" if value else "FALSE"


def require_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be True or False, not {value!r}")
    return value


def bounded_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """An int (not a bool) in ``low..high``; the message states the range."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise InvalidParameterError(f"{name} must be an int {span}, not {value!r}")
    return value
