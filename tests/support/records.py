"""Bounce records as the service sends them, numbered by their `ID_UNDELIVERED_LOG`."""

from __future__ import annotations

from typing import Any

from mailkit_async import Bounce


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


def decoded(i: int, **fields: Any) -> Bounce:
    """The `Bounce` record `i` decodes to, `fields` on top."""
    return Bounce(
        message_id=12345,
        text_status="smtp; 552 4.2.2 User has full mailbox.",
        status="4.2.2",
        email_id=1_000_000 + i,
        send_id=123456,
        email=f"user{i}@example.com",
        send_message_id=2_000_000 + i,  # from the misspelled ID_SEND_MESSGE
        user_list_id=77,
        remote_mta="dns; mx1.seznam.cz",
        undelivered_log_id=i,
        recipient_status="permanent",
        **fields,
    )
