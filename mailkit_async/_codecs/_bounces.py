"""A raw.bounces page as records: the strict fast decode, and the second look for odd pages.

The usual page decodes in one pass straight into `Bounce` (msgspec, in C, by the codec). A page
the strict decode refuses (a field nobody documented, a null text, an ID of ``""`` or ``0``) is
decoded again untyped and read by `_records.RecordReader`, and only that page pays. A record
without a usable ``ID_UNDELIVERED_LOG`` cannot be placed on the cursor: it is marked with the ID
``0`` (its raw value kept in `extra`) for the stream to refuse by name, instead of costing its
whole page here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .._models import Bounce
from ._records import UNPLACED, RecordReader, is_record

__all__ = ["LOG_ID", "UNPLACED", "as_page"]

LOG_ID: Final = "ID_UNDELIVERED_LOG"
_READER: Final = RecordReader(Bounce, extra="extra")


def as_page(value: object) -> list[Bounce] | object:
    """A decoded, untyped answer as records when it is a page (a list, or one record object)."""
    if isinstance(value, Mapping) and is_record(value, _READER.known):
        value = [value]
    if not isinstance(value, list) or not value:
        return value
    return _READER.convert(value)
