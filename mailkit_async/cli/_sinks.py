"""Where an export writes: JSON lines, CSV or SQLite, each durable page by page and resumable.

Every sink knows the highest `undelivered_log_id` it already holds (`last_id`), so `--resume`
continues after it. Records arrive in ascending ID order, so for the text formats that is the last
complete line; a line cut short by a crash is dropped (it was never reported as written).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from pathlib import Path
from typing import Protocol

import msgspec

from .._models import Bounce

__all__ = ["FIELDS", "Sink", "open_sink"]

# `extra` (fields the service sent beyond the typed ones) is not written yet.
FIELDS: tuple[str, ...] = tuple(name for name in Bounce.__struct_fields__ if name != "extra")
_ID_COLUMN = FIELDS.index("undelivered_log_id")


class Sink(Protocol):
    last_id: int | None

    def write_page(self, page: list[Bounce]) -> None: ...

    def close(self) -> None: ...


def open_sink(kind: str, path: Path, *, resume: bool) -> Sink:
    """Open `path` for `kind` ("jsonl", "csv", "sqlite"); refuses to append to an unresumed file."""
    if kind == "sqlite":
        return SqliteSink(path)
    if path.exists() and path.stat().st_size and not resume:
        raise FileExistsError(f"{path} already holds records: pass --resume to continue it")
    return JsonlSink(path) if kind == "jsonl" else CsvSink(path)


def _rows(page: list[Bounce]) -> list[tuple[object, ...]]:
    return [msgspec.structs.astuple(record)[:-1] for record in page]  # all but `extra` (last)


class _TextSink:
    """Append-only text file; `_parse_last` reads the ID out of the last complete line."""

    header: bytes = b""

    def __init__(self, path: Path) -> None:
        self.last_id: int | None = None
        self._file = open(path, "a+b")  # noqa: SIM115 - closed by close()
        self._recover()

    def _recover(self) -> None:
        size = self._file.seek(0, os.SEEK_END)
        if size == 0:
            self._write(self.header)
            return
        tail_start = max(0, size - 65536)
        self._file.seek(tail_start)
        tail = self._file.read()
        end = tail.rfind(b"\n")
        if end == -1:
            raise ValueError(f"{self._file.name} does not look like an export (no complete line)")
        if end + 1 != len(tail):  # a record cut short by a crash: drop it
            self._file.truncate(tail_start + end + 1)
        lines = tail[: end + 1].splitlines()
        last = lines[-1] if lines else b""
        if last and last != self.header.strip():
            self.last_id = self._parse_last(last)

    def _parse_last(self, line: bytes) -> int:
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class JsonlSink(_TextSink):
    """One JSON object a line, snake_case field names."""

    def __init__(self, path: Path) -> None:
        self._encoder = msgspec.json.Encoder()
        super().__init__(path)

    def _parse_last(self, line: bytes) -> int:
        return int(msgspec.json.decode(line)["undelivered_log_id"])

    def write_page(self, page: list[Bounce]) -> None:
        records = [msgspec.structs.asdict(record) for record in page]
        self._write(self._encoder.encode_lines(records))
        self.last_id = page[-1].undelivered_log_id


class CsvSink(_TextSink):
    """A header row, then one row a record."""

    header = (",".join(FIELDS) + "\r\n").encode()

    def _parse_last(self, line: bytes) -> int:
        return int(next(csv.reader([line.decode()]))[_ID_COLUMN])

    def write_page(self, page: list[Bounce]) -> None:
        text = io.StringIO()
        csv.writer(text).writerows(_rows(page))
        self._write(text.getvalue().encode())
        self.last_id = page[-1].undelivered_log_id


class SqliteSink:
    """A `bounces` table keyed by `undelivered_log_id`: upserts, so a re-run never duplicates."""

    def __init__(self, path: Path) -> None:
        try:
            self._open(path)
        except sqlite3.Error as exc:  # reported like any other unwritable output
            raise OSError(f"{path}: {exc}") from exc

    def _open(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        columns = ", ".join(
            f"{name} INTEGER PRIMARY KEY" if name == "undelivered_log_id" else name for name in FIELDS
        )
        self._db.execute(f"CREATE TABLE IF NOT EXISTS bounces ({columns})")
        self._db.commit()
        (self.last_id,) = self._db.execute("SELECT MAX(undelivered_log_id) FROM bounces").fetchone()
        marks = ", ".join("?" for _ in FIELDS)
        self._upsert = f"INSERT OR REPLACE INTO bounces ({', '.join(FIELDS)}) VALUES ({marks})"

    def write_page(self, page: list[Bounce]) -> None:
        try:
            with self._db:  # one transaction a page: committed, or not at all
                self._db.executemany(self._upsert, _rows(page))
        except sqlite3.Error as exc:
            raise OSError(f"cannot write to the database: {exc}") from exc
        self.last_id = page[-1].undelivered_log_id

    def close(self) -> None:
        self._db.close()
