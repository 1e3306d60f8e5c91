"""Where an export writes: JSON lines, CSV or SQLite, each durable page by page and resumable.

Every field of every record is written: the typed ones under `Bounce`'s snake_case names, the rest
(`Bounce.extra`) under the service's own names. JSONL and SQLite keep values as they are; CSV has
the typed columns plus one `extra` column holding a JSON object of the rest, and by default
neutralises cells that a spreadsheet would run as a formula.

Resume reads back records, not lines: a record cut short by a crash is dropped whole (it was never
reported as written), which leaves a file that parses, and `last_id` is the ID of the last complete
record. A new file is created only when the first page is written (or when an export that found
nothing ends), so a run that fails before writing anything leaves no file behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import sqlite3
from collections import deque
from collections.abc import Sequence
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import IO, Any, Final, get_type_hints

import msgspec

from .._models import Bounce
from ._errors import CliError, output_error, usage_error

__all__ = ["FIELDS", "LEGACY_FIELDS", "CsvSink", "JsonlSink", "Sink", "SqliteSink", "open_sink"]

ID: Final = "undelivered_log_id"
#: The typed columns, in `Bounce`'s order; CSV adds `extra` after them.
FIELDS: Final[tuple[str, ...]] = tuple(name for name in Bounce.__struct_fields__ if name != "extra")
#: The CSV header of mailkit-async 0.1.0: the typed fields before BOUNCE_CAT and the rest arrived.
LEGACY_FIELDS: Final = (
    "message_id", "text_status", "status", "email_id", "send_id", "email",
    "send_message_id", "user_list_id", "remote_mta", "undelivered_log_id", "recipient_status",
)  # fmt: skip
_astuple = msgspec.structs.astuple
_asdict = msgspec.structs.asdict
_extra = attrgetter("extra")
_json = msgspec.json.Encoder()
_HINTS: Final = get_type_hints(Bounce)
# `Bounce` without `extra`, under the Python names: what a JSON line holds when there is no extra.
_Typed = msgspec.defstruct("_Typed", [(name, _HINTS[name]) for name in FIELDS], gc=False)
_TYPED_PAGE: Final[Any] = list[_Typed]  # type: ignore[valid-type]
_SET_CLASS: Final = object.__dict__["__class__"].__set__  # see "records encoded in place"
_TAIL: Final = 1 << 16  # first look at the last 64 KiB for the last record; widened as needed
_CHUNK: Final = 1 << 22


class Sink:
    """The part every format shares: lazy creation, counting, and cleaning up after a failure."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: The highest `undelivered_log_id` held (resume continues after it).
        self.last_id: int | None = None
        #: Records written (flushed and synced) by this run.
        self.written = 0
        self._ready = False
        self._created = False

    def encode(self, page: Sequence[Bounce]) -> Any:
        """The CPU part of writing `page` (its bytes, or its rows), for `write_page`.

        The export calls it on the event loop's thread and only `write_page` in a worker: Python
        work in two threads at once makes each wait for the other's GIL at every socket read.
        """
        return self._encode(page)

    def write_page(self, page: Sequence[Bounce], encoded: Any = None) -> None:
        """Append one page (`encoded` by `encode`, or here) and make it durable before returning."""
        if not page:
            return
        try:
            if not self._ready:
                self._create()
            self._append(page, self._encode(page) if encoded is None else encoded)
        except OSError as exc:
            raise output_error(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        except sqlite3.Error as exc:
            raise output_error(f"cannot write {self.path}: {exc}") from exc
        self.written += len(page)
        self.last_id = page[-1].undelivered_log_id

    def finish(self) -> None:
        """The export ended normally: make sure the output exists, even with nothing in it."""
        if not self._ready:
            try:
                self._create()
            except (OSError, sqlite3.Error) as exc:
                raise output_error(f"cannot create {self.path}: {exc}") from exc

    def close(self, *, failed: bool = False) -> None:
        """Close; after a failure, remove the file if this run created it and wrote nothing."""
        self._close()
        if failed and self._created and not self.written:
            for leftover in (self.path, self.path.with_name(self.path.name + "-journal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()

    def _create(self) -> None:
        raise NotImplementedError

    def _encode(self, page: Sequence[Bounce]) -> Any:
        raise NotImplementedError

    def _append(self, page: Sequence[Bounce], encoded: Any) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


def open_sink(kind: str, path: Path, *, resume: bool, raw_csv: bool = False) -> Sink:
    """The sink for `kind` ("jsonl", "csv", "sqlite") at `path`; nothing is created yet.

    An existing text file is continued only with `resume`; an SQLite file is always continued
    (it upserts by ID, so re-running from the start never duplicates).
    """
    _check_target(path)
    if kind == "sqlite":
        return SqliteSink(path)
    exists = path.exists() and path.stat().st_size > 0
    if exists and not resume:
        raise usage_error(
            f"{path} already holds records: pass --resume to continue it, or choose another --output"
        )
    if kind == "jsonl":
        return JsonlSink(path)
    return CsvSink(path, guard=not raw_csv)


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise output_error(f"{path} is a directory: give --output a file path inside it")
    parent = path.parent
    if not parent.is_dir():
        raise output_error(f"cannot write {path}: directory {parent} does not exist (create it first)")
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        raise output_error(f"cannot write {path}: permission denied ({target} is not writable)")


# -- text files ------------------------------------------------------------------------------------


class _TextSink(Sink):
    """An append-only file; an existing one is checked and its cut record dropped when opened."""

    header: bytes = b""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._file: IO[bytes] | None = None
        if path.exists():
            try:
                self._file = open(path, "r+b", buffering=0)  # noqa: SIM115 - closed by close()
                self._recover(self._file)
                if self.header and self._file.seek(0, os.SEEK_END) == 0:
                    self._write(self.header)  # empty, or only a cut header was left
            except OSError as exc:
                self._close()
                raise output_error(f"cannot open {path}: {exc.strerror or exc}") from exc
            except CliError:
                self._close()
                raise
            self._ready = True

    def _recover(self, file: IO[bytes]) -> None:
        """Check the file is this format's, drop a cut record, and read `last_id`."""
        raise NotImplementedError

    def _create(self) -> None:
        self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115 - closed by close()
        self._created = self._ready = True
        if self.header:
            self._write(self.header)

    def _append(self, page: Sequence[Bounce], encoded: bytes) -> None:
        self._write(encoded)  # a text format's page is its encoded bytes, written as they are

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        end = self._file.seek(0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:  # unbuffered: a write may land only in part
                view = view[self._file.write(view) or 0 :]
            os.fsync(self._file.fileno())
        except OSError:
            # A full disk, say: take the part of the page that did land back out, so the file
            # still ends with a complete record.
            with contextlib.suppress(OSError):
                self._file.truncate(end)
            raise

    def _truncate(self, file: IO[bytes], size: int) -> None:
        file.truncate(size)
        os.fsync(file.fileno())

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _tail(file: IO[bytes], start: int, size: int) -> bytes:
    file.seek(start)
    return file.read(size - start)


class JsonlSink(_TextSink):
    """One JSON object a line: the typed fields, then the rest under the service's names."""

    _START: Final = b'{"' + FIELDS[0].encode() + b'":'

    def _encode(self, page: Sequence[Bounce]) -> bytes:
        return jsonl_lines(page)

    def _recover(self, file: IO[bytes]) -> None:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return
        # JSON strings escape newlines, so here a record is a line: find the last two newlines.
        window = _TAIL
        while True:
            start = max(0, size - window)
            data = _tail(file, start, size)
            last = data.rfind(b"\n")
            previous = data.rfind(b"\n", 0, max(last, 0))
            if previous != -1 or start == 0:
                break
            window *= 4
        if last == -1:  # not one complete line: the first record was cut, or this is not an export
            head = data[: len(self._START)]
            if not (head.startswith(self._START) or self._START.startswith(head)):
                raise usage_error(f"{self.path} is not a JSON-lines bounce export: choose another --output")
            self._truncate(file, 0)
            return
        self.last_id = _jsonl_id(self.path, data[previous + 1 : last])
        if start + last + 1 < size:
            self._truncate(file, start + last + 1)


def _jsonl_id(path: Path, line: bytes) -> int:
    try:
        record = msgspec.json.decode(line)
        last_id = record[ID]
        if isinstance(record, dict) and isinstance(last_id, int) and not isinstance(last_id, bool):
            return last_id
    except (msgspec.DecodeError, KeyError, TypeError):
        pass
    raise usage_error(f"{path}: its last line is not a bounce record; choose another --output")


def jsonl_lines(page: Sequence[Bounce]) -> bytes:
    """The page as JSON lines: typed fields by name, then each `extra` field under its own name."""
    if any(map(_extra, page)):
        return _json.encode_lines([_flat(record) for record in page])
    if _AS_LINE is not None and _retypable(page):
        return _encoded_as(page, _AS_LINE)
    # No record has extra fields: one conversion in C into a struct of the typed fields alone.
    return _json.encode_lines(msgspec.convert(page, _TYPED_PAGE, from_attributes=True))


# --- records encoded in place ---------------------------------------------------------------------
#
# Encoding a page's records as they are costs half of converting them to another struct first: a
# twin of `Bounce` laid out slot for slot (the same fields in the same order) is set as each
# record's class for the encode and `Bounce` set back at once. CPython allows the change only
# between such layouts, so each twin is probed at import, and a Python that refuses it (or a twin
# that would encode differently) takes the converting path. The export's pages are its own: no
# other code sees a record meanwhile (the writer thread holds the page before).


def _twin(name: str, *, array_like: bool = False) -> Any:
    """`Bounce` under the Python names: without an empty `extra` in a JSON line (`_Line`), or as
    an array of every field, `extra` last (`_Row`); ``None`` where CPython refuses the change."""
    fields: list[tuple[str, Any, Any]] = [(name, _HINTS[name], msgspec.NODEFAULT) for name in FIELDS]
    fields.append(("extra", _HINTS["extra"], msgspec.field(default_factory=dict)))
    twin = msgspec.defstruct(
        name, fields, kw_only=True, frozen=True, gc=False, omit_defaults=not array_like, array_like=array_like
    )
    probe = Bounce(undelivered_log_id=1, email="a", send_id=None)
    typed = msgspec.convert(probe, _Typed, from_attributes=True)
    expected = _json.encode([*_astuple(typed), {}] if array_like else typed)
    try:
        _SET_CLASS(probe, twin)
        encoded = _json.encode(probe)
        _SET_CLASS(probe, Bounce)
    except TypeError:
        return None
    return twin if encoded == expected and probe == Bounce(undelivered_log_id=1, email="a") else None


_AS_LINE: Final = _twin("_Line")
_AS_ROW: Final = _twin("_Row", array_like=True)


def _retypable(page: Sequence[Bounce]) -> bool:
    # A caller's own subclass of Bounce keeps its class: only plain records are retyped.
    return type(page) is list and set(map(type, page)) == {Bounce}


def _encoded_as(page: Sequence[Bounce], twin: Any) -> bytes:
    deque(map(_SET_CLASS, page, repeat(twin)), maxlen=0)
    try:
        return _json.encode_lines(page)
    finally:
        deque(map(_SET_CLASS, page, repeat(Bounce)), maxlen=0)


def _flat(record: Bounce) -> dict[str, Any]:
    fields = _asdict(record)
    for name, value in fields.pop("extra").items():
        column = extra_column(name)
        while column in fields:  # the service sent both `x` and `extra__x`: neither is lost
            column = EXTRA_PREFIX + column
        fields[column] = value
    return fields


#: What an extra field's name gets in front of it when it would fold onto another column.
EXTRA_PREFIX: Final = "extra__"
_TYPED_NAMES: Final = frozenset(FIELDS)
_extra_columns: dict[str, str] = {}


def extra_column(name: str) -> str:
    """The column of a field beyond the typed ones: its own name, unless it folds onto a typed
    column regardless of case (``email`` or ``Email`` next to ``EMAIL``): then ``extra__<name>``.

    The rule of the dlt source, shared by every format so that a field has one name everywhere.
    """
    column = _extra_columns.get(name)
    if column is None:
        column = EXTRA_PREFIX + name if name.lower() in _TYPED_NAMES else name
        if len(_extra_columns) < 4096:  # field names come from outside: the cache stays bounded
            _extra_columns[name] = column
    return column


class CsvSink(_TextSink):
    """A header row, then one row a record: the typed columns and `extra`, a JSON object of the rest.

    With `guard`, a cell from the service that begins with =, +, -, @, tab or CR gets a leading
    ``'`` (OWASP's advice against CSV injection); without it, cells are written as sent.
    """

    COLUMNS: Final = (*FIELDS, "extra")
    header = (",".join(COLUMNS) + "\r\n").encode()

    def __init__(self, path: Path, *, guard: bool = True) -> None:
        self.guard = guard
        super().__init__(path)

    def _encode(self, page: Sequence[Bounce]) -> bytes:
        return csv_rows(page, guard=self.guard)

    def _recover(self, file: IO[bytes]) -> None:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return
        head = _tail(file, 0, min(size, len(self.header) + 2))
        header_end = head.find(b"\n") + 1
        if header_end == 0:
            if not self.header.startswith(head):
                raise usage_error(f"{self.path} is not a CSV bounce export: choose another --output")
            self._truncate(file, 0)  # the header itself was cut: start the file again
            return
        header = head[:header_end]
        if header == _LEGACY_HEADER:
            end, last = _last_csv_record(file, size, header_end, len(LEGACY_FIELDS), self.path)
            after = f" --after-id {last}" if last is not None else ""
            raise usage_error(
                f"{self.path} has the eleven-column layout of mailkit-async 0.1.0 (no "
                "bounce_category, utm_campaign, campaign_name, subject or extra columns) and is left "
                f"as it is: continue into a new file with --output NEW.csv{after}"
            )
        if header != self.header:
            raise usage_error(
                f"{self.path} is not a CSV bounce export (unknown header): choose another --output"
            )
        end, self.last_id = _last_csv_record(file, size, header_end, len(self.COLUMNS), self.path)
        if end < size:
            self._truncate(file, end)


_LEGACY_HEADER: Final = (",".join(LEGACY_FIELDS) + "\r\n").encode()
_QUOTE_OR_NEWLINE: Final = re.compile(rb'["\n]')


def _last_csv_record(
    file: IO[bytes], size: int, header_end: int, width: int, path: Path
) -> tuple[int, int | None]:
    """(where the last complete record ends, its ID); (header_end, None) when there is none.

    A record may span lines (a quoted field holds newlines), but the writer quotes every field that
    holds a quote and doubles the quotes inside, so a byte lies inside a quoted field exactly when
    an odd number of quotes precede it: a record ends at each newline after an even number.
    """
    window = _TAIL
    while True:
        start = max(header_end, size - window)
        inside = _count_quotes(file, header_end, start) % 2 == 1
        data = _tail(file, start, size)
        ends: list[int] = []
        for match in _QUOTE_OR_NEWLINE.finditer(data):
            if match.group() == b'"':
                inside = not inside
            elif not inside:
                ends.append(match.end())
        if len(ends) >= 2 or start == header_end:
            break
        window *= 4
    if not ends:
        return header_end, None
    begin = ends[-2] if len(ends) >= 2 else 0
    text = data[begin : ends[-1]].decode("utf-8", "replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    column = (LEGACY_FIELDS if width == len(LEGACY_FIELDS) else CsvSink.COLUMNS).index(ID)
    if len(rows) == 1 and len(rows[0]) == width and rows[0][column].isascii() and rows[0][column].isdigit():
        return start + ends[-1], int(rows[0][column])
    raise usage_error(f"{path}: its last record is not a bounce record; choose another --output")


def _count_quotes(file: IO[bytes], start: int, end: int) -> int:
    file.seek(start)
    count = 0
    while start < end:
        chunk = file.read(min(_CHUNK, end - start))
        if not chunk:
            break
        count += chunk.count(b'"')
        start += len(chunk)
    return count


_FORMULA_STARTS: Final = frozenset("=+-@\t\r")
_first = itemgetter(slice(0, 1))  # a cell's first character, "" for an empty cell
_SPECIAL_CHARS: Final = (",", '"', "\r", "\n")  # what csv.writer quotes (QUOTE_MINIMAL)


def csv_rows(page: Sequence[Bounce], *, guard: bool = True) -> bytes:
    """The page as CSV rows (UTF-8, CRLF), as `csv.writer` writes them: typed columns, then `extra`.

    Built a column at a time: one scan of a column (its cells joined, and their first characters)
    tells whether any of its cells needs quoting or the formula guard, so that cell-by-cell work
    is paid only by the columns that need it.
    """
    if page and _AS_ROW is not None and not any(map(_extra, page)) and _retypable(page):
        # A page whose first or last record is not plain (multi-line SMTP replies are common) is
        # not encoded whole only to be refused: the two records tell it for a few microseconds.
        ends = [page[0], page[-1]]
        if _plain_rows(_encoded_as(ends, _AS_ROW), len(ends), guard) is not None:
            plain = _plain_rows(_encoded_as(page, _AS_ROW), len(page), guard)
            if plain is not None:
                return plain
    columns = [
        _text_column(list(map(_getters[name], page)), guard)
        if _HINTS[name] is str
        else _number_column(list(map(_getters[name], page)))
        for name in FIELDS
    ]
    if any(map(_extra, page)):
        columns.append(
            [_quote(_json.encode(extra).decode()) if extra else "{}" for extra in map(_extra, page)]
        )
    else:
        columns.append(["{}"] * len(page))
    # Cells and separators laid out in one list by slice assignment (in C), joined once.
    width = len(columns)
    out = [","] * (2 * width * len(page))
    for index, cells in enumerate(columns):
        out[2 * index :: 2 * width] = cells
    out[2 * width - 1 :: 2 * width] = ["\r\n"] * len(page)
    return "".join(out).encode()


_getters: Final = {name: attrgetter(name) for name in FIELDS}
_SEPARATORS: Final = len(FIELDS)  # commas in a row: between the typed cells and `extra`
_FORMULA_OPENING: Final = re.compile(rb'"[=+\-@]')  # a string opening with it (\t and \r are escaped)


def _plain_rows(arrays: bytes, records: int, guard: bool) -> bytes | None:
    """The CSV rows of a page whose every cell is plain, from its records encoded as JSON arrays
    (``[1,"text",null,...,{}]`` a line); ``None`` when some cell is not.

    A cell is plain when csv.writer writes it as it is and the guard leaves it alone. Then the
    JSON differs from the CSV only in its quotes, brackets and nulls: no backslash means no string
    held a quote, a backslash or a control character (JSON escapes each); exactly one comma
    between cells means no string held a comma; no string opens with =, +, - or @. So every quote
    is a string's own, every comma a separator, and ``,null`` or a line's ``[null,`` a missing
    ID, which CSV writes as an empty cell.
    """
    if b"\\" in arrays or arrays.count(b",") != _SEPARATORS * records:
        return None
    if guard and _FORMULA_OPENING.search(arrays):
        return None
    if b"null" in arrays:
        arrays = arrays.replace(b",null", b",")
        if arrays.startswith(b"[null,") or b"\n[null," in arrays:
            arrays = arrays.replace(b"[null,", b"[,")
    rows = b"\r\n".join(arrays.translate(None, b'"').split(b"]\n["))
    return rows[1:-2] + b"\r\n"


def _text_column(cells: list[str], guard: bool) -> list[str]:
    if guard:
        firsts = "".join(map(_first, cells))
        if any(char in firsts for char in _FORMULA_STARTS):
            cells = [_neutralise(cell) for cell in cells]
    joined = "".join(cells)
    # `in` is a fast substring search, many times quicker here than one regular expression.
    if any(char in joined for char in _SPECIAL_CHARS):
        cells = [_quote(cell) for cell in cells]
    return cells


def _number_column(cells: list[int | None]) -> list[str]:
    if None in cells:
        return ["" if cell is None else str(cell) for cell in cells]
    return list(map(str, cells))


def _neutralise(cell: str) -> str:
    """OWASP: a leading ' makes a spreadsheet show the cell as text instead of evaluating it."""
    return "'" + cell if cell[:1] in _FORMULA_STARTS and cell else cell


def _quote(cell: str) -> str:
    if any(char in cell for char in _SPECIAL_CHARS):
        return '"' + cell.replace('"', '""') + '"'
    return cell


# -- SQLite ----------------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteSink(Sink):
    """A `bounces` table keyed by `undelivered_log_id`: one transaction a page, upserts by ID.

    A field first seen in a page gets its column (under the service's name) in that page's
    transaction, so the schema and the rows that need it are committed together. SQLite's column
    names ignore case, so a field whose name folds onto a typed column, or onto another field's
    column (``foo`` after ``FOO``), goes under ``extra__<name>`` instead: no field is ever lost.
    Table `bounce_fields` keeps each such field's column, so that a resumed run writes it there.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._db: sqlite3.Connection | None = None
        self._taken: set[str] = set()  # the table's columns in lower case (SQLite ignores case)
        self._fields: dict[str, str] = {}  # an extra field's name -> its column (`bounce_fields`)
        self._variables = 999
        if path.exists():
            try:
                self._connect()
                self._adopt()
            except sqlite3.DatabaseError as exc:
                self._close()
                raise usage_error(
                    f"{path} is not an SQLite database ({exc}): choose another --output"
                ) from exc
            self._ready = True

    def _connect(self) -> None:
        # Pages are written from worker threads, one at a time; transactions are explicit.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # `getlimit` is Python 3.11+ (9: SQLITE_LIMIT_VARIABLE_NUMBER); 999 is SQLite's old default.
        getlimit = getattr(self._db, "getlimit", None)
        self._variables = min(getlimit(9) if getlimit else 999, _VARIABLES)

    def _adopt(self) -> None:
        """Use an existing table, adding the typed columns an older version did not write."""
        assert self._db is not None
        names = [row[1] for row in self._db.execute("PRAGMA table_info(bounces)")]
        if not names:
            self._create_table()
            return
        self._taken = {name.lower() for name in names}
        if ID not in self._taken:
            raise sqlite3.DatabaseError(f"its bounces table has no {ID} column")
        for name in FIELDS:
            if name not in self._taken:
                self._db.execute(f"ALTER TABLE bounces ADD COLUMN {_quoted(name)}")
                self._taken.add(name)
        if self._db.execute(f"PRAGMA table_info({_MAP})").fetchone() is None:
            # Written before the map: every extra column holds the field of its own name.
            self._db.execute(_CREATE_MAP)
            self._db.executemany(
                f"INSERT INTO {_MAP} VALUES (?, ?)",
                [(name, name) for name in names if name.lower() not in _TYPED_NAMES],
            )
        self._fields = dict(self._db.execute(f"SELECT field, column_name FROM {_MAP}").fetchall())
        (self.last_id,) = self._db.execute(f"SELECT MAX({ID}) FROM bounces").fetchone()

    def _create_table(self) -> None:
        assert self._db is not None
        columns = ", ".join(f"{name} INTEGER PRIMARY KEY" if name == ID else _quoted(name) for name in FIELDS)
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS bounces ({columns})")
        self._db.execute(_CREATE_MAP)
        self._db.execute("COMMIT")
        self._taken = set(FIELDS)

    def _create(self) -> None:
        self._created = not self.path.exists()
        self._connect()
        self._create_table()
        self._ready = True

    def _encode(self, page: Sequence[Bounce]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The page's extra field names, in order of first appearance, and its rows."""
        names: list[str] = []
        if any(map(_extra, page)):
            seen: dict[str, None] = {}
            for record in page:
                seen.update(dict.fromkeys(record.extra))
            names = list(seen)
        return names, _sqlite_rows(page, names)

    def _append(self, page: Sequence[Bounce], encoded: tuple[list[str], list[tuple[Any, ...]]]) -> None:
        assert self._db is not None
        names, rows = encoded
        placed = self._place(names)
        width = len(FIELDS) + len(names)
        columns = ", ".join(map(_quoted, (*FIELDS, *(placed[name] for name in names))))
        insert = f"INSERT OR REPLACE INTO bounces ({columns}) VALUES "
        row = "(" + ", ".join("?" * width) + ")"
        # Many rows a statement: each `execute` binds its values, then inserts them all in one call
        # without the GIL. `executemany` steps once a row, and each step gives up the GIL and
        # waits to take it back from the event loop's thread, which decodes the next page meanwhile.
        step = max(1, self._variables // width)
        full = insert + ", ".join([row] * step)
        added = [(name, column) for name, column in placed.items() if name not in self._fields]
        # One transaction a page: committed with its new columns (DDL is transactional), or not at all.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for _, column in added:
                self._db.execute(f"ALTER TABLE bounces ADD COLUMN {_quoted(column)}")
            if added:
                self._db.executemany(f"INSERT INTO {_MAP} VALUES (?, ?)", added)
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                statement = full if len(chunk) == step else insert + ", ".join([row] * len(chunk))
                self._db.execute(statement, list(chain.from_iterable(chunk)))
            self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        self._fields.update(added)
        self._taken.update(column.lower() for _, column in added)

    def _place(self, names: list[str]) -> dict[str, str]:
        """Each extra field's column: the one it has, else the first of `name`, `extra__name`, ...
        (see `extra_column`) that is free in SQLite's case-insensitive namespace."""
        placed: dict[str, str] = {}
        taken = set(self._taken)
        for name in names:
            column = self._fields.get(name)
            if column is None:
                column = extra_column(name)
                while column.lower() in taken:
                    column = EXTRA_PREFIX + column
                taken.add(column.lower())
            placed[name] = column
        return placed

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_MAP: Final = "bounce_fields"
#: Values bound to one INSERT at most (a few thousand rows); SQLite's own limit may be lower.
_VARIABLES: Final = 32_766
_CREATE_MAP: Final = (
    f"CREATE TABLE IF NOT EXISTS {_MAP} (field TEXT PRIMARY KEY, column_name TEXT NOT NULL UNIQUE)"
)


def _sqlite_rows(page: Sequence[Bounce], names: list[str]) -> list[tuple[Any, ...]]:
    if not names:
        return [_astuple(record)[:-1] for record in page]
    return [
        (*_astuple(record)[:-1], *(_sqlite_value(record.extra.get(name)) for name in names))
        for record in page
    ]


def _sqlite_value(value: Any) -> Any:
    """SQLite stores text, numbers and NULL; anything else the service sent is kept as JSON text."""
    if value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return int(value)  # bool too, as 0/1
    return _json.encode(value).decode()
