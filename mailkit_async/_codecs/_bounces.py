"""A raw.bounces page as records: the strict fast decode, and the second look for odd pages.

The usual page decodes in one pass straight into `Bounce` (msgspec, in C). A page the strict
decode refuses (a field nobody documented, a null text, an ID of ``""`` or ``0``) is decoded again
untyped, and only that page pays: unknown fields move to `Bounce.extra` under their own names,
values are brought to the rules (an ID of ``""``/``0``/``"0"``/null is none, null text is ``""``),
and a value that is not of its field's kind keeps its typed default and travels in `extra`
as sent. A record without a usable ``ID_UNDELIVERED_LOG`` cannot be placed on the cursor: it is
marked with the ID ``0`` (never a real one, its raw value kept in `extra`) for the stream to
refuse by name, instead of costing its whole page here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from .._models import Bounce

__all__ = ["UNPLACED", "LOG_ID", "as_page", "looks_like_record", "second_look"]

LOG_ID: Final = "ID_UNDELIVERED_LOG"
UNPLACED: Final = 0
"""The `undelivered_log_id` of a record that came without a usable one."""

_FIELDS: Final = msgspec.structs.fields(Bounce)
_EXTRA: Final = next(field.encode_name for field in _FIELDS if field.name == "extra")
_IDS: Final = frozenset(field.encode_name for field in _FIELDS if field.encode_name.startswith("ID_"))
_TEXTS: Final = frozenset(
    field.encode_name for field in _FIELDS if field.encode_name not in _IDS and field.name != "extra"
)
_KNOWN: Final = _IDS | _TEXTS
_ODD: Final = object()
_MAX_ID: Final = 2**63 - 1  # what both protocols can carry back as a cursor
_convert_page: Final[Callable[[object], list[Bounce]]] = lambda value: msgspec.convert(  # noqa: E731
    value, list[Bounce], strict=False
)


def looks_like_record(value: Mapping[str, object]) -> bool:
    """A single record object sent instead of a list: known fields, and no error status."""
    return (
        bool(value) and "error_status" not in value and "error" not in value and not _KNOWN.isdisjoint(value)
    )


def as_page(value: object) -> list[Bounce] | object:
    """A decoded, untyped answer as records when it is a page (a list, or one record object)."""
    if isinstance(value, Mapping) and looks_like_record(value):
        value = [value]
    if not isinstance(value, list) or not value:
        return value
    try:
        return _convert_page(value)
    except msgspec.ValidationError:
        return second_look(value)


def second_look(records: list[Any]) -> list[Bounce]:
    """Records the strict decode refused, each placed whole; ``TypeError`` if one is no object.

    The records (fresh dicts from an untyped decode) are changed in place.
    """
    extras: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(records):
        if type(raw) is not dict:
            raise TypeError(f"record {index + 1} is {type(raw).__name__}, not an object")
        unknown = raw.keys() - _KNOWN
        if unknown:
            extras.append((index, {key: raw.pop(key) for key in unknown}))
    try:
        page = _convert_page(records)
    except msgspec.ValidationError:
        page = _normalized(records, extras)
    for index, extra in extras:
        page[index].extra.update(extra)
    return page


def _normalized(records: list[dict[str, Any]], extras: list[tuple[int, dict[str, Any]]]) -> list[Bounce]:
    """Every value brought to its field's rule; what fits no rule moves to the record's extras."""
    by_index = dict(extras)
    unplaced: list[int] = []
    for index, record in enumerate(records):
        odd: dict[str, Any] = {}
        sent_log = record.get(LOG_ID, _ODD)
        for key in list(record):
            value = record[key]
            placed = _id(value) if key in _IDS else _text(value)
            if placed is None:
                del record[key]
            elif placed is _ODD:
                del record[key]
                odd[key] = value
            else:
                record[key] = placed
        if LOG_ID not in record:
            unplaced.append(index)
            record[LOG_ID] = 1  # a stand-in for the strict type; marked below
            if sent_log is not _ODD:
                odd[LOG_ID] = sent_log  # what came instead, for the error to quote
        if odd:
            by_index.setdefault(index, {}).update(odd)
    page = _convert_page(records)
    for index in unplaced:
        page[index] = msgspec.structs.replace(page[index], undelivered_log_id=UNPLACED)
    extras[:] = sorted(by_index.items())
    return page


def _id(value: object) -> object:
    """An ID as a positive int; ``None`` for the forms of "none"; `_ODD` for anything else."""
    if value is None or isinstance(value, bool):
        return None if value is None else _ODD
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not text.isdigit() or not text.isascii():
            return _ODD
        value = int(text)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        return _ODD
    if value < 0 or value > _MAX_ID:
        return _ODD
    return value or None


def _text(value: object) -> object:
    """Text as sent; null is none (the field's ``""``); a number as its digits; else `_ODD`."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _ODD
