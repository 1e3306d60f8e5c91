"""The export's sinks: every field in every format, resume by records at any cut, the CSV formula
guard, SQLite schema growth, files of the older layout; and the same end to end over loopback."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.clients import in_process, new_emulator

from mailkit_async import Bounce, RetryPolicy, ServerError
from mailkit_async._service import BOUNCES
from mailkit_async.cli import _sinks as sinks
from mailkit_async.cli import main
from mailkit_async.cli._errors import EXIT, CliError
from mailkit_async.cli._export import PREFETCH, export_pages
from mailkit_async.cli._progress import Progress
from mailkit_async.cli._sinks import FIELDS, LEGACY_FIELDS, CsvSink, csv_rows, jsonl_lines, open_sink
from mailkit_async.testing import Fault, MailkitEmulator

MD5 = "export-secret-md5"
FORMATS = ["jsonl", "csv", "sqlite"]

# What remote mail servers really put in bounce texts, and what an attacker can.
TEXTS = [
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
    "550-5.1.1 double-checking the recipient's email address for typos or\n"
    "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser",
    'quoted "text", with commas, and ""doubled"" quotes',
    '=HYPERLINK("http://evil.example","click")',
    "+420 123 456",
    "-1+1",
    "@SUM(A1:A2)",
    "\ttab first",
    "\rCR first",
    "lone\rcarriage return",
    "trailing newline\n",
    "",
    "Žluťoučký kůň \u2013 💌 \u2028\u2029\ufeff ends with a backslash\\",
    '}"\r\n1,2,3,"fake row"\r\n',
    "plain 5.2.2 mailbox full",
]


def record(n: int, extra: dict[str, Any] | None = None) -> Bounce:
    return Bounce(
        undelivered_log_id=n,
        message_id=n % 3 + 1,
        text_status=TEXTS[n % len(TEXTS)],
        status="5.1.1",
        email_id=None if n % 5 == 0 else 1000 + n,
        send_id=7,
        email=f"user{n}@example.com",
        send_message_id=2000 + n,
        user_list_id=None,
        remote_mta="dns; mx.example.com",
        recipient_status="permanent",
        bounce_category="hard",
        utm_campaign=TEXTS[(n + 3) % len(TEXTS)],
        campaign_name=f"Newsletter, {n}",
        subject=TEXTS[(n + 5) % len(TEXTS)],
        extra=extra or {},
    )


def typed(bounce: Bounce) -> dict[str, Any]:
    fields = msgspec.structs.asdict(bounce)
    del fields["extra"]
    return fields


def read(fmt: str, path: Path) -> list[dict[str, Any]]:
    """The records of an export as plain dicts, read the way a user would read each format."""
    if fmt == "jsonl":
        # Bytes: str.splitlines() would also split at U+2028, which JSON strings hold unescaped.
        return [json.loads(line) for line in path.read_bytes().splitlines()]
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM bounces ORDER BY undelivered_log_id")]


def write(fmt: str, path: Path, pages: list[list[Bounce]], *, resume: bool = False) -> int | None:
    sink = open_sink(fmt, path, resume=resume)
    try:
        for page in pages:
            sink.write_page(page)
        sink.finish()
    finally:
        sink.close()
    return sink.last_id


def guarded(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- every field ---------------------------------------------------------------------------------


def test_jsonl_keeps_every_field_untouched(tmp_path: Path) -> None:
    pages = [[record(1), record(2, {"BOUNCE_REASON": "=cmd", "SCORE": 1.5, "TAGS": ["a", "b"]})], [record(3)]]
    write("jsonl", tmp_path / "b.jsonl", pages)
    rows = read("jsonl", tmp_path / "b.jsonl")
    expected = [typed(r) | r.extra for page in pages for r in page]
    assert rows == expected
    assert list(rows[1]) == [*FIELDS, "BOUNCE_REASON", "SCORE", "TAGS"]  # typed first, in order


def test_jsonl_fast_path_writes_what_the_general_one_does() -> None:
    page = [record(n) for n in range(1, 40)]
    flat = b"".join(msgspec.json.encode(typed(r)) + b"\n" for r in page)
    assert jsonl_lines(page) == flat


def test_jsonl_lines_encoded_in_place_leave_the_records_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sinks._AS_LINE is not None  # CPython lets the records be encoded in place here
    page = [record(n) for n in range(1, 40)]
    before = [msgspec.structs.replace(r) for r in page]
    lines = jsonl_lines(page)
    assert all(type(r) is Bounce for r in page) and page == before
    monkeypatch.setattr(sinks, "_AS_LINE", None)  # where CPython refuses: the converting path
    assert jsonl_lines(page) == lines


class _Kept(Bounce):
    """A caller's own subclass: never given another class, even for a moment."""


def test_jsonl_lines_of_other_pages_take_the_converting_path() -> None:
    page = [record(1), _Kept(**msgspec.structs.asdict(record(2)))]
    expected = b"".join(msgspec.json.encode(typed(r)) + b"\n" for r in page)
    assert jsonl_lines(page) == expected and type(page[1]) is _Kept
    assert jsonl_lines(tuple(page)) == expected


def test_csv_has_typed_columns_and_an_extra_json_column(tmp_path: Path) -> None:
    pages = [[record(1, {"X_NEW": 'a,"b"\nc', "N": 5})], [record(2)]]
    write("csv", tmp_path / "b.csv", pages)
    rows = read("csv", tmp_path / "b.csv")
    assert list(rows[0]) == [*FIELDS, "extra"]
    assert json.loads(rows[0]["extra"]) == {"X_NEW": 'a,"b"\nc', "N": 5}
    assert json.loads(rows[1]["extra"]) == {}
    for row, bounce in zip(rows, [r for page in pages for r in page], strict=True):
        for name, value in typed(bounce).items():
            expected = "" if value is None else str(value)
            assert row[name] == (guarded(expected) if isinstance(value, str) else expected)


def test_sqlite_adds_a_column_when_a_field_first_appears_and_resumes_across_it(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    assert write("sqlite", path, [[record(1), record(2)], [record(3, {"NEW_A": "x"})]]) == 3
    assert write("sqlite", path, [[record(4, {"NEW_B": [1, {"k": "v"}], "NEW_A": 7})]], resume=True) == 4
    assert open_sink("sqlite", path, resume=True).last_id == 4
    rows = read("sqlite", path)
    assert [row["undelivered_log_id"] for row in rows] == [1, 2, 3, 4]
    assert [row["NEW_A"] for row in rows] == [None, None, "x", 7]
    assert [row["NEW_B"] for row in rows] == [None, None, None, '[1,{"k":"v"}]']
    for row, n in zip(rows, [1, 2, 3, 4], strict=True):
        assert {k: row[k] for k in FIELDS} == typed(record(n))  # text untouched, no guard
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(bounces)")]
    assert columns == [*FIELDS, "NEW_A", "NEW_B"]


def test_sqlite_page_and_its_new_column_commit_together(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    write("sqlite", path, [[record(1)]])
    with sqlite3.connect(path) as db:  # the database refuses record 3, in the middle of the page
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON bounces WHEN NEW.undelivered_log_id = 3 "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    db.close()
    sink = open_sink("sqlite", path, resume=True)
    try:
        with pytest.raises(CliError) as info:
            sink.write_page([record(2, {"NEW": "x"}), record(3)])
    finally:
        sink.close()
    assert info.value.code == EXIT["output"] and str(path) in info.value.message
    assert sink.last_id == 1 and sink.written == 0
    with sqlite3.connect(path) as db:  # neither the page's rows nor its new column were committed
        assert [r[1] for r in db.execute("PRAGMA table_info(bounces)")] == list(FIELDS)
        assert db.execute("SELECT COUNT(*) FROM bounces").fetchone() == (1,)
    db.close()


@pytest.mark.parametrize("variables", [16, 40, 999])  # one row, two rows (+ a shorter tail), all
def test_sqlite_writes_a_page_in_statements_of_many_rows_as_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: int
) -> None:
    monkeypatch.setattr(sinks, "_VARIABLES", variables)
    path = tmp_path / "b.sqlite"
    page = [record(n, {"NEW": n} if n % 2 else {}) for n in range(1, 8)]
    assert write("sqlite", path, [page]) == 7
    rows = read("sqlite", path)
    assert [{k: row[k] for k in FIELDS} for row in rows] == [typed(r) for r in page]
    assert [row["NEW"] for row in rows] == [1, None, 3, None, 5, None, 7]
    with sqlite3.connect(path) as db:  # refuses record 12, in the last statement of the page
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON bounces WHEN NEW.undelivered_log_id = 12 "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    db.close()
    with pytest.raises(CliError):
        write("sqlite", path, [[record(n) for n in range(8, 13)]], resume=True)
    assert [row["undelivered_log_id"] for row in read("sqlite", path)] == list(range(1, 8))


# Fields the service may send beside the typed ones whose names fold onto other columns: a typed
# one in any case, each other in SQLite's case-insensitive namespace, and the renamed one itself.
COLLIDING = {"email": "b@x", "Email": "B@X", "SEND_ID": 99, "FOO": 1, "foo": 2, "Foo": 3, "extra__email": "e"}
RENAMED = {
    "email": "extra__email",
    "Email": "extra__Email",
    "SEND_ID": "extra__SEND_ID",
    "extra__email": "extra__extra__email",
}


def test_jsonl_puts_a_field_folding_onto_a_typed_one_under_extra_and_loses_nothing(tmp_path: Path) -> None:
    write("jsonl", tmp_path / "b.jsonl", [[record(1, COLLIDING)], [record(2, {"EMAIL": "c@x"})]])
    first, second = read("jsonl", tmp_path / "b.jsonl")
    assert {k: first[k] for k in FIELDS} == typed(record(1))
    assert {k: v for k, v in first.items() if k not in FIELDS} == {
        RENAMED.get(name, name): value for name, value in COLLIDING.items()
    }
    assert second["email"] == "user2@example.com" and second["extra__EMAIL"] == "c@x"


def test_csv_keeps_colliding_fields_in_its_extra_object(tmp_path: Path) -> None:
    write("csv", tmp_path / "b.csv", [[record(1, COLLIDING)]])
    (row,) = read("csv", tmp_path / "b.csv")
    assert row["email"] == "user1@example.com" and json.loads(row["extra"]) == COLLIDING


def sqlite_extra(path: Path) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if k not in FIELDS and v is not None} for row in read("sqlite", path)
    ]


def test_sqlite_gives_every_colliding_field_a_column_and_keeps_the_map_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    write("sqlite", path, [[record(1, COLLIDING)]])
    # Each renamed column is itself checked again in the case-insensitive namespace.
    sqlite_renamed = RENAMED | {
        "Email": "extra__extra__Email",
        "foo": "extra__foo",
        "Foo": "extra__extra__Foo",
        "extra__email": "extra__extra__extra__email",
    }
    expected = {sqlite_renamed.get(name, name): value for name, value in COLLIDING.items()}
    assert sqlite_extra(path) == [expected]
    assert {k: read("sqlite", path)[0][k] for k in FIELDS} == typed(record(1))
    # A later run meets the fields in another order, and again one at a time: same columns.
    swapped = dict(reversed(list(COLLIDING.items())))
    write(
        "sqlite",
        path,
        [[record(2, swapped)], *([record(n, {k: v})] for n, (k, v) in enumerate(COLLIDING.items(), 3))],
        resume=True,
    )
    rows = sqlite_extra(path)
    assert rows[1] == expected
    assert rows[2:] == [{sqlite_renamed.get(k, k): v} for k, v in COLLIDING.items()]
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(bounces)")]
    db.close()
    assert columns == [*FIELDS, *expected]


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_fields_differing_only_in_case_both_arrive(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"b.{fmt}"
    write(
        fmt, path, [[record(1, {"Tag": "a", "TAG": "b"})], [record(2, {"TAG": "c"}), record(3, {"tag": "d"})]]
    )
    rows = read(fmt, path)
    if fmt == "csv":
        got = [json.loads(row["extra"]) for row in rows]
    else:
        got = [{k: v for k, v in row.items() if k not in FIELDS and v is not None} for row in rows]
    if fmt == "sqlite":
        assert got == [{"Tag": "a", "extra__TAG": "b"}, {"extra__TAG": "c"}, {"extra__extra__tag": "d"}]
    else:
        assert got == [{"Tag": "a", "TAG": "b"}, {"TAG": "c"}, {"tag": "d"}]


# -- the formula guard -----------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_guard_neutralises_formula_cells_and_raw_writes_them_as_sent(start: str) -> None:
    text = f"{start}cmd|' /C calc'!A0"
    bounce = Bounce(undelivered_log_id=1, text_status=text, subject=f"x{start}", campaign_name=text)
    header = CsvSink.header.decode()
    (row,) = csv.DictReader(io.StringIO(header + csv_rows([bounce]).decode(), newline=""))
    assert row["text_status"] == "'" + text and row["campaign_name"] == "'" + text
    assert row["subject"] == f"x{start}"  # only a cell's first character counts
    assert row["extra"] == "{}" and row["undelivered_log_id"] == "1"
    (raw,) = csv.DictReader(io.StringIO(header + csv_rows([bounce], guard=False).decode(), newline=""))
    assert raw["text_status"] == text and raw["campaign_name"] == text


def test_csv_raw_option_end_to_end_and_the_other_formats_untouched(server: Any, tmp_path: Path) -> None:
    for fmt in FORMATS:
        assert export(server, fmt, tmp_path / f"g.{fmt}") == 0
    assert export(server, "csv", tmp_path / "raw.csv", "--csv-raw") == 0
    sent = [r["TEXT_STATUS"] for r in HOSTILE]
    assert [r["text_status"] for r in read("csv", tmp_path / "g.csv")] == [guarded(t) for t in sent]
    assert [r["text_status"] for r in read("csv", tmp_path / "raw.csv")] == sent
    assert [r["text_status"] for r in read("jsonl", tmp_path / "g.jsonl")] == sent
    assert [r["text_status"] for r in read("sqlite", tmp_path / "g.sqlite")] == sent
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        main(["bounces", "export", "--format", "jsonl", "--output", str(tmp_path / "x"), "--csv-raw"])
    assert usage.value.code == EXIT["usage"] and not (tmp_path / "x").exists()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")), min_size=1)
)
def test_csv_rows_match_the_csv_module_and_read_back_for_any_text(texts: list[str]) -> None:
    page = [
        Bounce(undelivered_log_id=n + 1, text_status=t, subject=t[::-1], extra={"T": t} if n % 2 else {})
        for n, t in enumerate(texts)
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    for bounce in page:
        cells = [*msgspec.structs.astuple(bounce)[:-1], msgspec.json.encode(bounce.extra).decode()]
        writer.writerow([guarded(c) if isinstance(c, str) and not c.startswith("{") else c for c in cells])
    assert csv_rows(page) == out.getvalue().encode()
    raw = list(csv.reader(io.StringIO(csv_rows(page, guard=False).decode(), newline="")))
    assert [row[FIELDS.index("text_status")] for row in raw] == texts
    assert [json.loads(row[-1]) for row in raw] == [b.extra for b in page]


def csv_module_rows(page: list[Bounce], *, guard: bool = True) -> bytes:
    """What csv.writer writes for `page` (with the guard's leading ' where asked)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for bounce in page:
        cells = [*msgspec.structs.astuple(bounce)[:-1], msgspec.json.encode(bounce.extra).decode()]
        if guard:
            cells = [guarded(c) if isinstance(c, str) and not c.startswith("{") else c for c in cells]
        writer.writerow(cells)
    return out.getvalue().encode()


# Texts of few characters, most of them plain: pages whose every cell is plain, and pages where one
# cell is not (a comma, a quote, a backslash, a newline, a formula's first character, ...).
_PIECES = ["a", "Ž", "💌", " ", "[", "]", "{", "}", "null", ",", '"', "\\", "\n", "=", "-", "\t"]
_CELL = st.lists(st.sampled_from(_PIECES), max_size=4).map("".join)
_ID = st.none() | st.integers(min_value=0, max_value=2**40)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_CELL, _CELL, _ID, _ID), min_size=1, max_size=6), st.booleans())
def test_csv_rows_of_plain_and_not_plain_pages_match_the_csv_module(
    cells: list[tuple[str, str, int | None, int | None]], guard: bool
) -> None:
    page = [
        Bounce(undelivered_log_id=n + 1, text_status=text, subject=subject, message_id=first, send_id=other)
        for n, (text, subject, first, other) in enumerate(cells)
    ]
    assert csv_rows(page, guard=guard) == csv_module_rows(page, guard=guard)


def test_a_plain_page_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sinks._AS_ROW is not None  # CPython lets the records be encoded in place here
    page = [
        msgspec.structs.replace(
            record(n), text_status="550 [null] Žluťoučký", utm_campaign="", campaign_name="n", subject=""
        )
        for n in range(1, 30)
    ]
    page[0] = msgspec.structs.replace(page[0], message_id=None)
    before = [msgspec.structs.replace(r) for r in page]
    taken: list[bytes | None] = []
    plain_rows = sinks._plain_rows
    monkeypatch.setattr(sinks, "_plain_rows", lambda *args: taken.append(plain_rows(*args)) or taken[-1])
    assert csv_rows(page) == csv_module_rows(page)
    assert len(taken) == 2 and None not in taken  # its ends, then the page, from the JSON arrays
    assert all(type(r) is Bounce for r in page) and page == before


@pytest.mark.parametrize("where", [0, -1])
def test_a_page_whose_first_or_last_record_is_not_plain_is_not_encoded_whole(
    monkeypatch: pytest.MonkeyPatch, where: int
) -> None:
    page = [
        msgspec.structs.replace(record(n), text_status="plain", subject="", campaign_name="n")
        for n in range(1, 30)
    ]
    page[where] = msgspec.structs.replace(page[where], text_status="550-5.1.1 first line\n550 5.1.1 second")
    encoded: list[int] = []
    encoded_as = sinks._encoded_as
    monkeypatch.setattr(
        sinks, "_encoded_as", lambda records, twin: encoded.append(len(records)) or encoded_as(records, twin)
    )
    assert csv_rows(page) == csv_module_rows(page)
    assert encoded == [2]  # only the two ends were looked at before writing cell by cell


# -- resume: records, not lines ------------------------------------------------------------------


def _record_bytes(fmt: str, bounces: list[Bounce]) -> list[bytes]:
    encode = jsonl_lines if fmt == "jsonl" else csv_rows
    return [encode([b]) for b in bounces]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_after_a_cut_at_any_byte_loses_and_repeats_nothing(tmp_path: Path, fmt: str) -> None:
    bounces = [record(n, {"E": "x\ny"} if n == 3 else None) for n in range(1, 7)]
    pages = [bounces[:2], bounces[2:4], bounces[4:]]
    full_path = tmp_path / f"full.{fmt}"
    write(fmt, full_path, pages)
    full = full_path.read_bytes()
    head = len(CsvSink.header) if fmt == "csv" else 0
    ends = [head]
    for chunk in _record_bytes(fmt, bounces):
        ends.append(ends[-1] + len(chunk))
    assert ends[-1] == len(full)
    last_start = ends[-2]
    # Every offset of the last record and the header, and every third one elsewhere.
    offsets = sorted({*range(head + 1), *range(last_start, len(full) + 1), *range(0, len(full), 3)})
    path = tmp_path / f"cut.{fmt}"
    for offset in offsets:
        path.write_bytes(full[:offset])
        complete = max((i for i, end in enumerate(ends) if end <= offset), default=0)
        sink = open_sink(fmt, path, resume=True)
        try:
            assert sink.last_id == (bounces[complete - 1].undelivered_log_id if complete else None), offset
            rest = [b for b in bounces if sink.last_id is None or b.undelivered_log_id > sink.last_id]
            if rest:
                sink.write_page(rest)
            sink.finish()
        finally:
            sink.close()
        assert path.read_bytes() == full, f"cut at byte {offset}"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_file_that_is_no_export_is_refused_untouched(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"b.{fmt}"
    for content in (b"PNG\x89 binary", b"id,name\r\n1,x\r\n", b'{"undelivered_log_id": "x"}\n'):
        path.write_bytes(content)
        with pytest.raises(CliError) as info:
            open_sink(fmt, path, resume=True)
        assert info.value.code == EXIT["usage"] and str(path) in info.value.message
        assert path.read_bytes() == content


def test_cut_first_jsonl_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(jsonl_lines([record(1)])[:25])
    sink = open_sink("jsonl", path, resume=True)
    sink.close()
    assert sink.last_id is None and path.read_bytes() == b""


def test_older_csv_layout_is_refused_with_the_id_to_continue_from(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LEGACY_FIELDS)
    for n in (5, 9):
        writer.writerow(
            [n if name == "undelivered_log_id" else "multi\nline, text" for name in LEGACY_FIELDS]
        )
    content = out.getvalue().encode() + b'1,"cut'
    path.write_bytes(content)
    with pytest.raises(CliError) as info:
        open_sink("csv", path, resume=True)
    assert info.value.code == EXIT["usage"]
    assert "eleven-column" in info.value.message and "--after-id 9" in info.value.message
    assert path.read_bytes() == content  # never extended, never truncated


def test_older_sqlite_and_jsonl_files_resume_gaining_the_new_fields(tmp_path: Path) -> None:
    db_path = tmp_path / "old.sqlite"
    with sqlite3.connect(db_path) as db:
        columns = ", ".join(
            f"{n} INTEGER PRIMARY KEY" if n == "undelivered_log_id" else n for n in LEGACY_FIELDS
        )
        db.execute(f"CREATE TABLE bounces ({columns})")
        db.execute("INSERT INTO bounces (undelivered_log_id, email) VALUES (5, 'old@example.com')")
    db.close()
    assert write("sqlite", db_path, [[record(6, {"NEW": 1})]], resume=True) == 6
    rows = read("sqlite", db_path)
    assert rows[0]["email"] == "old@example.com" and rows[0]["subject"] is None
    assert {k: rows[1][k] for k in FIELDS} == typed(record(6)) and rows[1]["NEW"] == 1

    jsonl = tmp_path / "old.jsonl"
    jsonl.write_text(
        json.dumps({name: 5 if name == "undelivered_log_id" else None for name in LEGACY_FIELDS}) + "\n"
    )
    assert write("jsonl", jsonl, [[record(6)]], resume=True) == 6
    assert [r["undelivered_log_id"] for r in read("jsonl", jsonl)] == [5, 6]


# -- end to end, over loopback -----------------------------------------------------------------------

HOSTILE = [
    {
        "ID_MESSAGE": str(n % 2 + 1),
        "TEXT_STATUS": text,
        "STATUS": "5.1.1",
        "ID_EMAIL": str(100 + n),
        "ID_SEND": "9",
        "EMAIL": f"u{n}@example.com",
        "ID_SEND_MESSGE": str(500 + n),
        "ID_USER_LIST": "3",
        "REMOTE_MTA": "dns; mx.example.com",
        "ID_UNDELIVERED_LOG": str(10 * (n + 1)),
        "RECIPIENT_STATUS": "permanent",
        "BOUNCE_CAT": "hard",
        "UTM_CAMPAIGN": text[::-1],
        "CAMPAIGN_NAME": "Léto, 2026",
        "SUBJECT": "=1+1",
    }
    for n, text in enumerate(TEXTS * 3)
]


def serve_hostile(call: Any) -> list[dict[str, str]]:
    cursor = int(call.params.get("ID_undelivered_log") or 0)
    limit = min(int(call.params.get("limit") or 25_000), 4)  # small pages: many page boundaries
    return [r for r in HOSTILE if int(r["ID_UNDELIVERED_LOG"]) > cursor][:limit]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    emulator = MailkitEmulator(client_id=7, client_md5=MD5)
    emulator.register_function(BOUNCES, serve_hostile)
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "7")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    with emulator.serve() as running:
        yield running


def export(server: Any, fmt: str, output: Path, *extra: str, backend: str = "asyncio") -> int:
    argv = ["bounces", "export", "--format", fmt, "--output", str(output), "--base-url", server.url, *extra]
    return main(argv, backend=backend)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_hostile_text_arrives_whole_in_every_format(
    server: Any, tmp_path: Path, fmt: str, backend: str
) -> None:
    out = tmp_path / f"b.{fmt}"
    assert export(server, fmt, out, backend=backend) == 0
    rows = read(fmt, out)
    assert [int(r["undelivered_log_id"]) for r in rows] == [int(r["ID_UNDELIVERED_LOG"]) for r in HOSTILE]
    check = guarded if fmt == "csv" else str
    for row, sent in zip(rows, HOSTILE, strict=True):
        assert row["text_status"] == check(sent["TEXT_STATUS"])
        assert row["utm_campaign"] == check(sent["UTM_CAMPAIGN"])
        assert row["subject"] == check("=1+1") and row["campaign_name"] == "Léto, 2026"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_cli_resume_after_cuts_in_the_last_records(server: Any, tmp_path: Path, fmt: str) -> None:
    full_path = tmp_path / f"full.{fmt}"
    assert export(server, fmt, full_path) == 0
    full = full_path.read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    # The last few records (every byte of the last one is covered by the sink test above).
    for offset in range(len(full) - 600, len(full), 7):
        cut.write_bytes(full[:offset])
        assert export(server, fmt, cut, "--resume") == 0
        assert cut.read_bytes() == full, f"cut at byte {offset}"


def test_real_world_records_carry_the_english_page_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = MailkitEmulator(client_id=7, client_md5=MD5)
    emulator.seed_bounces(30, extra_fields=True, message_ids=[11, 12])
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "7")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    sent = emulator.bounce_records(0, limit=30)
    with emulator.serve() as running:
        for fmt in FORMATS:
            out = tmp_path / f"r.{fmt}"
            assert export(running, fmt, out) == 0
            rows = read(fmt, out)
            assert [r["bounce_category"] for r in rows] == [s["BOUNCE_CAT"] for s in sent]
            assert [r["campaign_name"] for r in rows] == [s["CAMPAIGN_NAME"] for s in sent]
            assert [r["subject"] for r in rows] == [s["SUBJECT"] for s in sent]
            assert [r["utm_campaign"] for r in rows] == [s["UTM_CAMPAIGN"] for s in sent]


# -- the export's loop: writing overlaps encoding, failures arrive as they are ------------------------


class _Overlapped(sinks.JsonlSink):
    """Each page's write waits (in its worker thread) until the next page has been encoded."""

    def __init__(self, path: Path, pages: int) -> None:
        super().__init__(path)
        self.encoded = [threading.Event() for _ in range(pages + 1)]
        self.overlapped: list[bool] = []
        self.counted: list[tuple[int, int | None]] = []

    def encode(self, page: Any) -> Any:
        self.encoded[len([e for e in self.encoded if e.is_set()])].set()
        return super().encode(page)

    def write_page(self, page: Any, encoded: Any = None) -> None:
        index = self.written // len(page)  # pages are all full here
        if index + 1 < len(self.encoded) - 1:  # the last page has no next one to wait for
            self.overlapped.append(self.encoded[index + 1].wait(5))
        super().write_page(page, encoded)


class _Counted(Progress):
    def __init__(self, sink: _Overlapped) -> None:
        super().__init__(enabled=False)
        self.sink = sink

    def advance(self, records: int, last_id: int | None = None) -> None:
        # Counted only once written: the sink already holds this page when the line counts it.
        assert self.sink.written == self.count + records and self.sink.last_id == last_id
        super().advance(records, last_id)


async def test_a_page_is_written_while_the_next_one_is_encoded(anyio_backend: str, tmp_path: Path) -> None:
    emulator = new_emulator()
    emulator.seed_bounces(20)
    sink = _Overlapped(tmp_path / "o.jsonl", pages=4)
    progress = _Counted(sink)
    async with in_process(emulator) as mk:
        await export_pages(mk.report.raw.bounce_pages(page_size=5, prefetch=PREFETCH), sink, progress)
    sink.close()
    assert sink.overlapped == [True, True, True]
    assert [row["undelivered_log_id"] for row in read("jsonl", sink.path)] == list(range(1, 21))
    assert progress.count == 20 and progress.last_id == 20


class _Failing(sinks.JsonlSink):
    """Refuses its second page (`disk`), or makes the service refuse the pages after the first."""

    def __init__(self, path: Path, side: str, emulator: MailkitEmulator) -> None:
        super().__init__(path)
        self.side, self.emulator = side, emulator

    def encode(self, page: Any) -> Any:
        if self.side == "fetch" and not self.emulator.faults.rules:
            self.emulator.faults.add(Fault.status(503), function=BOUNCES, times=None)
        return super().encode(page)

    def write_page(self, page: Any, encoded: Any = None) -> None:
        if self.side == "disk" and self.written:
            raise CliError("disk full", EXIT["output"])
        super().write_page(page, encoded)


@pytest.mark.parametrize(("side", "raised"), [("disk", CliError), ("fetch", ServerError)])
async def test_a_failure_on_either_side_is_raised_as_it_is(
    anyio_backend: str, tmp_path: Path, side: str, raised: type[Exception]
) -> None:
    emulator = new_emulator()
    emulator.seed_bounces(20)
    sink = _Failing(tmp_path / "f.jsonl", side, emulator)
    async with in_process(emulator, retry=RetryPolicy(attempts=1)) as mk:
        with pytest.raises(raised):  # the error itself, not an ExceptionGroup holding it
            await export_pages(mk.report.raw.bounce_pages(page_size=5, prefetch=PREFETCH), sink)
    sink.close()
    # Whole pages, in order, from the start: what the file holds is what was counted.
    assert 5 <= sink.written < 20 and sink.written % 5 == 0
    assert [row["undelivered_log_id"] for row in read("jsonl", sink.path)] == list(range(1, sink.written + 1))
