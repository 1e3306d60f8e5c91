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
from collections.abc import Mapping
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
# The strict decode names the first unknown field it meets. Such a page is read in two passes in
# C: the unknown key/value pairs cut out of the bytes (only where the cut is certain: a plain
# `,"NAME":` or `{"NAME":` cannot occur inside a JSON string, whose quotes are escaped, and the
# value must be a string or a scalar) and the rest decoded strictly into Bounce as usual; and a
# Struct of just the unknown fields, which skips the rest. Only those values are moved by Python.
# Whatever the cut cannot be sure of (a nested value, odd spacing, a null elsewhere) makes the
# strict decode fail again, and the general second look takes the page.

_UNKNOWN_FIELD: Final = re.compile(r"Object contains unknown field `([A-Za-z0-9_.-]+)` - at `\$\[\d+\]`")
_VALUE: Final = rb'(?:"[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*|true|false|null)'
_MAX_LEARNT: Final = 6  # unknown names learnt per page before the general second look takes over
_Cut = tuple[
    tuple[tuple[re.Pattern[bytes], bytes], ...], msgspec.json.Decoder[Any], tuple[tuple[str, str], ...]
]
_CUTS: dict[frozenset[str], _Cut] = {}


def unknown_field(error: msgspec.ValidationError) -> str | None:
    """The field a strict decode refused as unknown, when that was its reason."""
    match = _UNKNOWN_FIELD.fullmatch(str(error))
    return None if match is None else match[1]


def with_unknown_fields(body: Buffer, first: str, strict: msgspec.json.Decoder[Any]) -> list[Bounce] | None:
    """The page, its unknown fields in `extra`; ``None`` when something else is odd too."""
    names = {first}
    data = body if type(body) is bytes else bytes(body)
    while len(names) <= _MAX_LEARNT:
        cuts, values, unknown = _cut(frozenset(names))
        stripped = data
        for pattern, replacement in cuts:
            stripped = pattern.sub(replacement, stripped)
        try:
            page = strict.decode(stripped)
        except msgspec.ValidationError as exc:
            name = unknown_field(exc)
            if name is None or name in names:
                return None
            names.add(name)
            continue
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
        if not isinstance(page, list):
            return None
        found = values.decode(data)
        if len(found) != len(page):
            return None
        unset = msgspec.UNSET
        for bounce, record in zip(page, found, strict=True):
            for attribute, name in unknown:
                value = getattr(record, attribute)
                if value is not unset:
                    bounce.extra[name] = value
        return page
    return None


def _cut(names: frozenset[str]) -> _Cut:
    """For `names`: patterns of their pairs (each with a literal start, which re finds fast), and
    a decoder of just their values (built once per set of names, a few kept)."""
    cached = _CUTS.get(names)
    if cached is None:
        cuts: list[tuple[re.Pattern[bytes], bytes]] = []
        for name in sorted(names):
            key = re.escape(name.encode())
            cuts.append((re.compile(rb',"' + key + rb'":' + _VALUE), b""))
            cuts.append((re.compile(rb'\{"' + key + rb'":' + _VALUE + rb",?"), b"{"))
        unknown = tuple((f"unknown_{i}", name) for i, name in enumerate(sorted(names)))
        fields = [
            (attribute, Any, msgspec.field(default=msgspec.UNSET, name=name)) for attribute, name in unknown
        ]
        only = msgspec.defstruct("UnknownFields", fields, gc=False)
        if len(_CUTS) >= 16:
            _CUTS.clear()
        decoder = msgspec.json.Decoder(list[only])  # type: ignore[valid-type]
        cached = _CUTS[names] = (tuple(cuts), decoder, unknown)
    return cached
