"""Reading the service's answers: the quirks every function shares.

- `error_status` arrives as 0, "0", 1 or "1"; some successes carry their text in `error`, and some
  failures carry `error_status: 0` (each resource knows its own).
- Authentication failures come back with HTTP 200: a JSON error object, or over XML-RPC a plain
  string ("Unauthorized", "Disallowed IP a.b.c.d") where the answer would be.
- Numbers arrive as strings in some answers. The one rule for IDs, in every answer: a positive
  integer (or its digits) is the ID; ``""``, ``0``, ``"0"`` and null mean none; anything else is
  not an ID. Null text is ``""``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from ._exceptions import APIError, AuthenticationError, ResponseDecodeError
from ._secrets import WINDOW, clip

__all__ = [
    "NOT_AN_ID",
    "api_error",
    "read_id",
    "read_text",
    "short",
    "check_auth_text",
    "error_status",
    "expect_mapping",
    "optional_id",
    "parse_timestamp",
    "raise_for_json_error",
    "text",
]

_AUTH_TEXTS = ("unauthorized", "disallowed ip")


def short(value: object, limit: int = WINDOW) -> str:
    """`repr(value)` for quoting an answer's value in a message: kept whole up to a window, as the
    client's exit redacts the secret before it cuts the message short."""
    return clip(repr(value), limit)


def api_error(function: str, text: str) -> APIError:
    """The right `APIError` subclass for a refusal text (cut short where it leaves the client)."""
    text = text.strip()
    if text.lower().startswith(_AUTH_TEXTS):
        return AuthenticationError(function, text)
    return APIError(function, text or "the service refused the call without a reason")


def check_auth_text(function: str, value: object) -> None:
    """Raise `AuthenticationError` if an XML-RPC answer is the service's plain-string auth refusal."""
    if isinstance(value, str) and value.strip().lower().startswith(_AUTH_TEXTS):
        raise api_error(function, value)


def error_status(value: Mapping[str, object]) -> int:
    """`error_status` as an int (absent counts as 0)."""
    raw = value.get("error_status", 0)
    if isinstance(raw, (int, str)):
        try:
            return int(raw)
        except ValueError:
            pass
    return 1


def expect_mapping(function: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ResponseDecodeError(
            function, f"expected an object, got {type(value).__name__}", excerpt=repr(value)[:WINDOW]
        )
    return value


def raise_for_json_error(function: str, value: Mapping[str, object]) -> None:
    """Raise when a JSON answer is the generic failure form `{"error_status": 1, "error": ...}`."""
    if error_status(value):
        raise api_error(function, str(value.get("error", "")))


NOT_AN_ID: Final = object()
"""What `read_id` gives for a value that is not an ID (a word, a negative number, a bool...)."""
_MAX_ID: Final = 2**63 - 1  # what both protocols can carry back


def read_id(raw: object) -> object:
    """The one rule for IDs: an int, ``None`` (``""``, ``0``, ``"0"``, null), or `NOT_AN_ID`."""
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if not (text.isascii() and text.isdigit()):
            return NOT_AN_ID
        raw = int(text)
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if type(raw) is not int or raw < 0 or raw > _MAX_ID:
        return NOT_AN_ID
    return raw or None


def read_text(raw: object) -> object:
    """The one rule for text: as sent; null is ``""``; a number is its digits; else `NOT_AN_ID`."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return str(raw)
    return NOT_AN_ID


def optional_id(function: str, raw: object) -> int | None:
    """An ID by `read_id`'s rule; a value that is no ID is a `ResponseDecodeError`."""
    value = read_id(raw)
    if value is NOT_AN_ID:
        raise ResponseDecodeError(function, f"expected an ID, got {short(raw)}", excerpt=repr(raw))
    return value  # type: ignore[return-value]


def text(function: str, raw: object) -> str:
    """Text by `read_text`'s rule; a value that is no text is a `ResponseDecodeError`."""
    value = read_text(raw)
    if value is NOT_AN_ID:
        raise ResponseDecodeError(function, f"expected a text, got {short(raw)}", excerpt=repr(raw))
    return value  # type: ignore[return-value]


def parse_timestamp(function: str, text: str) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` (the service's only format; naive, in the account's zone)."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ResponseDecodeError(function, f"unexpected timestamp {short(text)}", excerpt=text) from None
