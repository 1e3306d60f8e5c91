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
# other oddity still fails it). Another unknown name is learnt the same way, a few per page;
# anything else odd makes the twin's decode fail too, and the general second look takes the page.
#
# One unknown name (the usual case: a field the service has just added) has a twin laid out
# exactly as Bounce, its `extra` slot holding that field's value: each decoded twin becomes a
# Bounce in place (its class set, its value moved into a dict of its own), with nothing copied.
# Several names, or a Python that refuses the class change, take a twin with a slot per name,
# turned into Bounce in C (`from_attributes`), the unknown values moved by C-driven maps.

_UNKNOWN_FIELD: Final = re.compile(r"Object contains unknown field `([A-Za-z0-9_.-]+)` - at `\$\[\d+\]`")
_MAX_LEARNT: Final = 6  # unknown names learnt per page before the general second look takes over
_EXTRA: Final = attrgetter("extra")
_PAGE: Final[Any] = list[Bounce]
_SET_CLASS: Final = object.__dict__["__class__"].__set__
_FORCE: Final = msgspec.structs.force_setattr
_TWINS: dict[frozenset[str], _Twin] = {}


def unknown_field(error: msgspec.ValidationError) -> str | None:
    """The field a strict decode refused as unknown, when that was its reason."""
    match = _UNKNOWN_FIELD.fullmatch(str(error))
    return None if match is None else match[1]


def with_unknown_fields(body: Buffer, first: str, strict: msgspec.json.Decoder[Any]) -> list[Bounce] | None:
    """The page, its unknown fields in `extra`; ``None`` when something else is odd too."""
    names = {first}
    while len(names) <= _MAX_LEARNT:
        twin = _twin(frozenset(names))
        try:
            twins = twin.decoder.decode(body)
        except msgspec.ValidationError as exc:
            name = unknown_field(exc)
            if name is None or name in names:
                return None
            names.add(name)
            continue
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
        return twin.records(twins)
    return None


class _Twin:
    """A decoder of pages of Bounce's twin that also knows `names`, and the way back to Bounce."""

    def __init__(self, names: frozenset[str]) -> None:
        self._unknown = tuple((f"unknown_{i}", name) for i, name in enumerate(sorted(names)))
        in_place = _twin_type(names) if len(names) == 1 else None
        self._name = next(iter(names)) if in_place is not None else None
        type_ = in_place if in_place is not None else _twin_type(names, slots=self._unknown)
        self.decoder: Final[msgspec.json.Decoder[Any]] = msgspec.json.Decoder(list[type_], strict=False)  # type: ignore[valid-type]

    def records(self, twins: list[Any]) -> list[Bounce]:
        if self._name is not None:
            return _in_place(twins, self._name)
        page: list[Bounce] = msgspec.convert(twins, _PAGE, from_attributes=True)
        for attribute, name in self._unknown:
            _fill(page, name, list(map(attrgetter(attribute), twins)))
        return page


def _in_place(twins: list[Any], name: str) -> list[Bounce]:
    """Twins laid out as Bounce, each with `name`'s value in its `extra` slot, made Bounce."""
    values = list(map(_EXTRA, twins))
    if msgspec.UNSET in values:
        extras = [{} if value is msgspec.UNSET else {name: value} for value in values]
    else:
        extras = [{name: value} for value in values]
    deque(map(_SET_CLASS, twins, repeat(Bounce)), maxlen=0)
    deque(map(_FORCE, twins, repeat("extra"), extras), maxlen=0)
    return twins


def _fill(page: list[Bounce], name: str, values: list[Any]) -> None:
    """`extra[name]` of each record from `values` (one per record, UNSET where it was not sent)."""
    if msgspec.UNSET in values:
        for bounce, value in zip(page, values, strict=True):
            if value is not msgspec.UNSET:
                bounce.extra[name] = value
    else:  # the usual case: every record has it, set in C
        deque(map(setitem, map(_EXTRA, page), repeat(name), values), maxlen=0)


def _twin_type(names: frozenset[str], slots: tuple[tuple[str, str], ...] = ()) -> Any:
    """Bounce's fields, and a field (of any value, UNSET when not sent) for each unknown name:
    in `slots`, or else in `extra`'s own slot for a single name, when Python lets such a twin
    become a Bounce in place (``None`` when it does not)."""
    fields: list[tuple[str, Any, Any]] = []
    for field in msgspec.structs.fields(Bounce):
        if field.name == "extra" and not slots:
            (name,) = names
            fields.append(("extra", Any, msgspec.field(default=msgspec.UNSET, name=name)))
            continue
        given: dict[str, Any] = {"name": field.encode_name}
        if field.default is not msgspec.NODEFAULT:
            given["default"] = field.default
        elif field.default_factory is not msgspec.NODEFAULT:
            given["default_factory"] = field.default_factory
        fields.append((field.name, field.type, msgspec.field(**given)))
    fields += [(attribute, Any, msgspec.field(default=msgspec.UNSET, name=name)) for attribute, name in slots]
    twin = msgspec.defstruct(
        "BounceTwin", fields, kw_only=True, frozen=True, gc=False, forbid_unknown_fields=True
    )
    if slots:
        return twin
    try:  # the same slots in the same places, or CPython refuses: then the other twin
        probe = twin(undelivered_log_id=1)
        _SET_CLASS(probe, Bounce)
        _FORCE(probe, "extra", {})
    except TypeError:
        return None
    return twin if probe == Bounce(undelivered_log_id=1) else None


def _twin(names: frozenset[str]) -> _Twin:
    """The twin for `names`, built once per set of names (a few kept)."""
    cached = _TWINS.get(names)
    if cached is None:
        if len(_TWINS) >= 16:
            _TWINS.clear()
        cached = _TWINS[names] = _Twin(names)
    return cached
