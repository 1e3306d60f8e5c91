"""A raw.bounces page as records: the strict fast decode, and the second look for odd pages.

The usual page decodes in one pass straight into `Bounce` (msgspec, in C, by the codec). A page
the strict decode refuses (a field nobody documented, a null text, an ID of ``""`` or ``0``) is
decoded again untyped and read by `_records.RecordReader`, and only that page pays. A record
without a usable ``ID_UNDELIVERED_LOG`` cannot be placed on the cursor: it is marked with the ID
``0`` (its raw value kept in `extra`) for the stream to refuse by name, instead of costing its
whole page here.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from itertools import repeat
from operator import attrgetter, setitem
from typing import Any, Final

import msgspec

from .._models import Bounce
from ._records import UNPLACED, RecordReader, is_record

__all__ = ["LOG_ID", "UNPLACED", "as_page", "unknown_field", "with_unknown_fields"]

Buffer = bytes | bytearray | memoryview

LOG_ID: Final = "ID_UNDELIVERED_LOG"
_READER: Final = RecordReader(Bounce, extra="extra")


def as_page(value: object) -> list[Bounce] | object:
    """A decoded, untyped answer as records when it is a page (a list, or one record object)."""
    if isinstance(value, Mapping) and is_record(value, _READER.known):
        value = [value]
    if not isinstance(value, list) or not value:
        return value
    return _READER.convert(value)


# --- JSON pages whose only oddity is fields nobody documented --------------------------------
#
# The strict decode names the first unknown field it meets. Such a page is decoded again in C
# into a twin of Bounce that also knows those names (the same fields, types and rules, so every
# other oddity still fails it), turned into Bounce in C (`from_attributes`), and only the unknown
# values are moved by Python, in C-driven maps. Another unknown name is learnt the same way, a
# few per page; anything else odd makes the twin's decode fail too, and the general second look
# takes the page.

_UNKNOWN_FIELD: Final = re.compile(r"Object contains unknown field `([A-Za-z0-9_.-]+)` - at `\$\[\d+\]`")
_MAX_LEARNT: Final = 6  # unknown names learnt per page before the general second look takes over
_EXTRA: Final = attrgetter("extra")
_PAGE: Final[Any] = list[Bounce]
_Twin = tuple[msgspec.json.Decoder[Any], tuple[tuple[str, str], ...]]
_TWINS: dict[frozenset[str], _Twin] = {}


def unknown_field(error: msgspec.ValidationError) -> str | None:
    """The field a strict decode refused as unknown, when that was its reason."""
    match = _UNKNOWN_FIELD.fullmatch(str(error))
    return None if match is None else match[1]


def with_unknown_fields(body: Buffer, first: str, strict: msgspec.json.Decoder[Any]) -> list[Bounce] | None:
    """The page, its unknown fields in `extra`; ``None`` when something else is odd too."""
    names = {first}
    while len(names) <= _MAX_LEARNT:
        decoder, unknown = _twin(frozenset(names))
        try:
            twins = decoder.decode(body)
        except msgspec.ValidationError as exc:
            name = unknown_field(exc)
            if name is None or name in names:
                return None
            names.add(name)
            continue
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
        page: list[Bounce] = msgspec.convert(twins, _PAGE, from_attributes=True)
        for attribute, name in unknown:
            _fill(page, name, list(map(attrgetter(attribute), twins)))
        return page
    return None


def _fill(page: list[Bounce], name: str, values: list[Any]) -> None:
    """`extra[name]` of each record from `values` (one per record, UNSET where it was not sent)."""
    if msgspec.UNSET in values:
        for bounce, value in zip(page, values, strict=True):
            if value is not msgspec.UNSET:
                bounce.extra[name] = value
    else:  # the usual case: every record has it, set in C
        deque(map(setitem, map(_EXTRA, page), repeat(name), values), maxlen=0)


def _twin(names: frozenset[str]) -> _Twin:
    """A decoder of pages of Bounce's twin that also knows `names` (built once per set of names,
    a few kept), and the twin's attribute for each name."""
    cached = _TWINS.get(names)
    if cached is None:
        fields: list[tuple[str, Any, Any]] = []
        for field in msgspec.structs.fields(Bounce):
            given: dict[str, Any] = {"name": field.encode_name}
            if field.default is not msgspec.NODEFAULT:
                given["default"] = field.default
            elif field.default_factory is not msgspec.NODEFAULT:
                given["default_factory"] = field.default_factory
            fields.append((field.name, field.type, msgspec.field(**given)))
        unknown = tuple((f"unknown_{i}", name) for i, name in enumerate(sorted(names)))
        fields += [
            (attribute, Any, msgspec.field(default=msgspec.UNSET, name=name)) for attribute, name in unknown
        ]
        twin = msgspec.defstruct("BounceTwin", fields, kw_only=True, gc=False, forbid_unknown_fields=True)
        if len(_TWINS) >= 16:
            _TWINS.clear()
        decoder = msgspec.json.Decoder(list[twin], strict=False)  # type: ignore[valid-type]
        cached = _TWINS[names] = (decoder, unknown)
    return cached
