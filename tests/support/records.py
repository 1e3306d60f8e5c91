"""Bounce records as the service sends them, numbered by their `ID_UNDELIVERED_LOG`."""

from __future__ import annotations

from typing import Any


def bounce_record(i: int, **fields: Any) -> dict[str, Any]:
    """Record `i` with its numbers as numbers (XML-RPC's <i4>), `fields` on top."""
    return {
        "ID_MESSAGE": 12345,
        "TEXT_STATUS": "smtp; 552 4.2.2 User has full mailbox.",
        "STATUS": "4.2.2",
        "ID_EMAIL": 1_000_000 + i,
        "ID_SEND": 123456,
        "EMAIL": f"user{i}@example.com",
        "ID_SEND_MESSGE": 2_000_000 + i,
        "ID_USER_LIST": 77,
        "REMOTE_MTA": "dns; mx1.seznam.cz",
        "ID_UNDELIVERED_LOG": i,
        "RECIPIENT_STATUS": "permanent",
        **fields,
    }


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    """`record` as the JSON endpoint sends it: every value a string."""
    return {key: str(value) for key, value in record.items()}
