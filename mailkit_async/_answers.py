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
from ._secrets import quote

__all__ = [
    "NOT_AN_ID",
    "api_error",
    "check_auth_text",
    "error_status",
    "expect_mapping",
    "json_outcome",
    "optional_id",
    "parse_timestamp",
    "read_id",
    "read_text",
    "xmlrpc_text",
]

# Errors raised here name no function: the client's exit names the one that was sent.

_AUTH_TEXTS = ("unauthorized", "disallowed ip")


def api_error(text: str) -> APIError:
    """The right `APIError` subclass for a refusal text (cut short where it leaves the client)."""
    text = text.strip()
    if text.lower().startswith(_AUTH_TEXTS):
        return AuthenticationError(text)
    return APIError(text or "the service refused the call without a reason")


def check_auth_text(value: object) -> None:
    """Raise `AuthenticationError` if an XML-RPC answer is the service's plain-string auth refusal."""
    if isinstance(value, str) and value.strip().lower().startswith(_AUTH_TEXTS):
        raise api_error(value)


def error_status(value: Mapping[str, object]) -> int:
    """`error_status` as an int (absent counts as 0)."""
    raw = value.get("error_status", 0)
    if isinstance(raw, (int, str)):
        try:
            return int(raw)
        except ValueError:
            pass
    return 1


def expect_mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ResponseDecodeError(f"expected an object, got {type(value).__name__}", excerpt=quote(value))
    return value


def json_outcome(value: object) -> tuple[Mapping[str, object], str]:
    """A JSON answer that reports its outcome as a text: the object, and that text (in `error`,
    for successes too)."""
    answer = expect_mapping(value)
    return answer, str(answer.get("error", ""))


def xmlrpc_text(value: object) -> str:
    """An XML-RPC answer that is only a text (the outcome, or a refusal)."""
    check_auth_text(value)
    if not isinstance(value, str):
        raise ResponseDecodeError("expected a text answer", excerpt=repr(value))
    return value


def raise_for_json_error(value: Mapping[str, object]) -> None:
    """Raise when a JSON answer is the generic failure form `{"error_status": 1, "error": ...}`."""
    if error_status(value):
        raise api_error(str(value.get("error", "")))


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


def optional_id(raw: object) -> int | None:
    """An ID by `read_id`'s rule; a value that is no ID is a `ResponseDecodeError`."""
    value = read_id(raw)
    if value is NOT_AN_ID:
        raise ResponseDecodeError(f"expected an ID, got {quote(raw)}", excerpt=repr(raw))
    return value  # type: ignore[return-value]


def parse_timestamp(text: str) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` (the service's only format; naive, in the account's zone)."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ResponseDecodeError(f"unexpected timestamp {quote(text)}", excerpt=text) from None
