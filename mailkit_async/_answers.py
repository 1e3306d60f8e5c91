"""Reading the service's answers: the quirks every function shares.

- `error_status` arrives as 0, "0", 1 or "1"; some successes carry their text in `error`, and some
  failures carry `error_status: 0` (each resource knows its own).
- Authentication failures come back with HTTP 200: a JSON error object, or over XML-RPC a plain
  string ("Unauthorized", "Disallowed IP a.b.c.d") where the answer would be.
- Numbers arrive as strings in some answers; an ID of 0 means "none".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ._exceptions import APIError, AuthenticationError, ResponseDecodeError
from ._secrets import WINDOW, clip

__all__ = [
    "api_error",
    "short",
    "check_auth_text",
    "error_status",
    "expect_mapping",
    "optional_id",
    "parse_timestamp",
    "raise_for_json_error",
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


def optional_id(function: str, raw: object) -> int | None:
    """An ID as an int; 0, "" and null mean none."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ResponseDecodeError(function, f"expected an ID, got {short(raw)}", excerpt=repr(raw))
    try:
        number = int(raw) if isinstance(raw, (int, str, float)) else int(str(raw))
    except (TypeError, ValueError):
        raise ResponseDecodeError(function, f"expected an ID, got {short(raw)}", excerpt=repr(raw)) from None
    return number or None


def parse_timestamp(function: str, text: str) -> datetime:
    """`YYYY-MM-DD HH:MM:SS` (the service's only format; naive, in the account's zone)."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ResponseDecodeError(function, f"unexpected timestamp {short(text)}", excerpt=text) from None
