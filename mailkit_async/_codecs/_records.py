"""Lists of records into Structs: the strict fast conversion, and the second look for odd ones.

The one typed decoding path for every answer that is a list of records (raw.bounces pages,
sendmail_mass results): a Struct with the service's field names, its IDs typed
``Annotated[int, Meta(gt=0)] | None`` so that every form of "none" fails the strict pass. A list
the strict pass refuses is looked at again, that list only: unknown fields move to the Struct's
`extra` mapping (when it has one) under their own names, values are brought to the one rule of
`_answers.read_id` / `read_text`, and a value that is not of its field's kind keeps the typed
default and travels in `extra` as sent. A required ID that is missing or unusable is marked ``0``
(never a real ID, its raw value kept in `extra`) for the caller to refuse by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Generic, TypeVar

import msgspec

from .._answers import NOT_AN_ID, read_id, read_text

__all__ = ["UNPLACED", "RecordReader"]

S = TypeVar("S", bound=msgspec.Struct)

UNPLACED: Final = 0
"""A required ID that came unusable (never a real ID)."""


class RecordReader(Generic[S]):
    """Reads lists of untyped records (fresh dicts, changed in place) into `type_` Structs."""

    def __init__(self, type_: type[S], *, extra: str | None = None, ids: tuple[str, ...] = ()) -> None:
        fields = msgspec.structs.fields(type_)
        self._list_type = list[type_]  # type: ignore[valid-type]
        self._extra = extra
        wire = [field for field in fields if field.name != extra]
        # The service's IDs are named ID_*; `ids` adds other numbers read by the same rule.
        self.ids: Final = frozenset(
            f.encode_name for f in wire if f.encode_name.startswith("ID_") or f.encode_name in ids
        )
        self.known: Final = frozenset(f.encode_name for f in wire)
        self._required = tuple(f.encode_name for f in wire if f.required and f.encode_name in self.ids)
        self._attributes = {f.encode_name: f.name for f in wire}

    def convert(self, records: list[Any]) -> list[S]:
        """The records as Structs: one strict pass in C, the second look only when it fails."""
        try:
            return msgspec.convert(records, self._list_type, strict=False)
        except msgspec.ValidationError:
            return self.second_look(records)

    def second_look(self, records: list[Any]) -> list[S]:
        """Records the strict pass refused, each placed whole; ``TypeError`` if one is no object."""
        extras: list[tuple[int, dict[str, Any]]] = []
        known = self.known
        for index, raw in enumerate(records):
            if type(raw) is not dict:
                raise TypeError(f"record {index + 1} is {type(raw).__name__}, not an object")
            unknown = raw.keys() - known
            if unknown:
                extras.append((index, {key: raw.pop(key) for key in unknown}))
        try:
            page: list[S] = msgspec.convert(records, self._list_type, strict=False)
        except msgspec.ValidationError:
            page = self._normalized(records, extras)
        if self._extra is not None:
            for index, extra in extras:
                getattr(page[index], self._extra).update(extra)
        return page

    def _normalized(self, records: list[dict[str, Any]], extras: list[tuple[int, dict[str, Any]]]) -> list[S]:
        """Every value brought to its field's rule; what fits no rule moves to the record's extras."""
        by_index = dict(extras)
        unplaced: list[tuple[int, str]] = []
        ids = self.ids
        for index, record in enumerate(records):
            odd: dict[str, Any] = {}
            sent = {key: record.get(key, NOT_AN_ID) for key in self._required}
            for key in list(record):
                value = record[key]
                placed = read_id(value) if key in ids else read_text(value)
                if placed is None:
                    del record[key]
                elif placed is NOT_AN_ID:
                    del record[key]
                    odd[key] = value
                else:
                    record[key] = placed
            for key in self._required:
                if key not in record:
                    unplaced.append((index, key))
                    record[key] = 1  # a stand-in for the strict type; marked below
                    if sent[key] is not NOT_AN_ID:
                        odd[key] = sent[key]  # what came instead, for the error to quote
            if odd:
                by_index.setdefault(index, {}).update(odd)
        page: list[S] = msgspec.convert(records, self._list_type, strict=False)
        for index, key in unplaced:
            page[index] = msgspec.structs.replace(page[index], **{self._attributes[key]: UNPLACED})
        extras[:] = sorted(by_index.items())
        return page


def is_record(value: Mapping[str, object], known: frozenset[str]) -> bool:
    """A single record object sent instead of a list: known fields, and no error status."""
    return (
        bool(value) and "error_status" not in value and "error" not in value and not known.isdisjoint(value)
    )
