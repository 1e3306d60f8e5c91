"""Property: records with any mix of null, empty, zero, string and integer forms all stream once.

Hypothesis builds bounce logs whose every field takes any of the forms real answers show; the
stream, over both protocols and both cursor readings at any accepted page size, must yield every
record exactly once, in order, each field typed by the one rule or kept in `extra` as sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.properties import reproducible
from test_fidelity import PROTOCOLS, READINGS, Service, stream

pytestmark = pytest.mark.anyio

IDS = ("ID_MESSAGE", "ID_EMAIL", "ID_SEND", "ID_SEND_MESSGE", "ID_USER_LIST")
TEXTS = ("TEXT_STATUS", "STATUS", "EMAIL", "REMOTE_MTA", "RECIPIENT_STATUS", "BOUNCE_CAT", "SUBJECT")
ATTRIBUTES = {
    "ID_MESSAGE": "message_id",
    "ID_EMAIL": "email_id",
    "ID_SEND": "send_id",
    "ID_SEND_MESSGE": "send_message_id",
    "ID_USER_LIST": "user_list_id",
    "TEXT_STATUS": "text_status",
    "STATUS": "status",
    "EMAIL": "email",
    "REMOTE_MTA": "remote_mta",
    "RECIPIENT_STATUS": "recipient_status",
    "BOUNCE_CAT": "bounce_category",
    "SUBJECT": "subject",
}
MISSING = object()

PROPERTY = reproducible(max_examples=60)

# Text XML 1.0 carries unchanged (no CR, which XML turns into LF, no control characters).
text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x17F, exclude_characters="\x7f"), max_size=12)
small = st.integers(min_value=1, max_value=2**31 - 1)
id_forms = st.one_of(
    st.just(MISSING), st.none(), st.just(""), st.just(0), st.just("0"), small, small.map(str), text
)
text_forms = st.one_of(st.just(MISSING), st.none(), text, st.integers(min_value=0, max_value=10**6))
unknown = st.dictionaries(st.sampled_from(["X_NEW", "FBL_ID", "ID_CLICK", "utm_source"]), text, max_size=2)


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[int], list[dict[str, Any]]]:
    gaps = draw(st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=14))
    ids, at = [], 0
    for gap in gaps:
        at += gap
        ids.append(at)
    records = []
    for log_id in ids:
        raw: dict[str, Any] = {"ID_UNDELIVERED_LOG": draw(st.sampled_from([log_id, str(log_id)]))}
        for name in IDS:
            raw[name] = draw(id_forms)
        for name in TEXTS:
            raw[name] = draw(text_forms)
        raw.update(draw(unknown))
        records.append({k: v for k, v in raw.items() if v is not MISSING})
    return ids, records


def expected_id(value: Any) -> tuple[int | None, bool]:
    """(typed value, kept in extra)."""
    if value in (None, "", 0, "0"):
        return None, False
    if isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.strip().isdigit()):
        return int(value) or None, False
    return None, True


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
@PROPERTY
@given(log=logs(), page_size=st.integers(min_value=2, max_value=6))
async def test_every_record_is_yielded_exactly_once_whatever_its_forms(
    anyio_backend: str,
    protocol: str,
    reading: str,
    log: tuple[list[int], list[dict[str, Any]]],
    page_size: int,
) -> None:
    ids, records = log
    got = await stream(Service(records, ids, protocol, reading), page_size=page_size)
    assert [b.undelivered_log_id for b in got] == ids
    for raw, bounce in zip(records, got, strict=True):
        extra: dict[str, Any] = {
            k: v for k, v in raw.items() if k not in ATTRIBUTES and k != "ID_UNDELIVERED_LOG"
        }
        for name in IDS:
            value, kept = expected_id(raw.get(name))
            assert getattr(bounce, ATTRIBUTES[name]) == value, name
            if kept:
                extra[name] = raw[name]
        for name in TEXTS:
            value = raw.get(name)
            assert getattr(bounce, ATTRIBUTES[name]) == ("" if value is None else str(value)), name
        assert bounce.extra == extra
