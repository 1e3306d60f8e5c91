"""The `mailkit-async` command line: demo, export in three formats, resume, exit codes."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.clients import CLIENT_ID, MD5, new_emulator
from support.emulators import BreaksAfterPages

from mailkit_async._service import BOUNCES
from mailkit_async.cli import main
from mailkit_async.cli._main import EXIT
from mailkit_async.testing import Fault, MailkitEmulator


@pytest.fixture
def emulator() -> BreaksAfterPages:
    emu = new_emulator(BreaksAfterPages)
    emu.seed_bounces(60_000, gap_every=7, message_ids=[11, 12], send_ids=[21, 22])
    return emu


@pytest.fixture
def server(emulator: MailkitEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", str(CLIENT_ID))
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    with emulator.serve() as running:
        yield running


def export(server: Any, fmt: str, output: Path, *extra: str) -> int:
    return main(
        ["bounces", "export", "--format", fmt, "--output", str(output), "--base-url", server.url, *extra]
    )


def read_ids(fmt: str, path: Path) -> list[int]:
    if fmt == "jsonl":
        return [json.loads(line)["undelivered_log_id"] for line in path.read_text().splitlines()]
    if fmt == "csv":
        with path.open(newline="") as f:
            return [int(row["undelivered_log_id"]) for row in csv.DictReader(f)]
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT undelivered_log_id FROM bounces ORDER BY rowid")]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "sqlite"])
def test_export_writes_every_record_once(
    server: Any, emulator: MailkitEmulator, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"bounces.{fmt}"
    assert export(server, fmt, out) == 0
    assert read_ids(fmt, out) == list(emulator.bounce_ids())


def test_export_fields_and_filters(server: Any, emulator: MailkitEmulator, tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    assert export(server, "jsonl", out, "--message-id", "12", "--after-id", "100") == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["undelivered_log_id"] for r in rows] == [
        i for i in emulator.bounce_ids(message_id=12) if i > 100
    ]
    first = rows[0]
    assert set(first) >= {"message_id", "email", "send_message_id", "status", "recipient_status"}
    assert first["message_id"] == 12 and isinstance(first["email_id"], int)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "sqlite"])
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
def test_interrupted_export_resumes_without_loss_or_duplicates(
    server: Any,
    emulator: BreaksAfterPages,
    tmp_path: Path,
    fmt: str,
    protocol: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / f"bounces.{fmt}"
    # Two pages arrive, then the service refuses: the export stops with what it reported saved.
    refusal = b'{"error_status": 1, "error": "Service temporarily unavailable"}'
    if protocol == "xmlrpc":
        refusal = (
            b"<?xml version='1.0'?><methodResponse><params><param><value><string>"
            b"Service temporarily unavailable</string></value></param></params></methodResponse>"
        )
    emulator.page_cap = 10_000
    emulator.break_after(2, Fault.body(refusal))  # the third page is refused
    assert export(server, fmt, out, "--protocol", protocol) == EXIT["api"]
    err = capsys.readouterr().err
    assert "20,000 records written" in err and "temporarily unavailable" in err
    assert "Traceback" not in err and MD5 not in err
    assert read_ids(fmt, out) == list(emulator.bounce_ids())[:20_000]

    assert export(server, fmt, out, "--resume", "--protocol", protocol) == 0
    assert read_ids(fmt, out) == list(emulator.bounce_ids())


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_drops_a_line_cut_short_by_a_crash(
    server: Any, emulator: MailkitEmulator, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"bounces.{fmt}"
    assert export(server, fmt, out, "--after-id", "0") == 0
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    # Keep the first 1000 records, then half of the next line, as a killed process would leave it.
    keep = 1000 + (1 if fmt == "csv" else 0)
    out.write_bytes(b"".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])
    assert export(server, fmt, out, "--resume") == 0
    assert out.read_bytes() == full


def test_sqlite_rerun_never_duplicates(server: Any, emulator: MailkitEmulator, tmp_path: Path) -> None:
    out = tmp_path / "b.sqlite"
    assert export(server, "sqlite", out) == 0
    assert export(server, "sqlite", out) == 0  # again from the start: upserts
    assert export(server, "sqlite", out, "--resume") == 0
    ids = read_ids("sqlite", out)
    assert sorted(ids) == list(emulator.bounce_ids())


def test_existing_text_output_needs_resume(
    server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.jsonl"
    out.write_text('{"undelivered_log_id": 5}\n')
    assert export(server, "jsonl", out) == EXIT["usage"]
    assert "--resume" in capsys.readouterr().err
    assert out.read_text() == '{"undelivered_log_id": 5}\n'


def test_bad_credentials(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", "wrong-md5-value")
    assert export(server, "jsonl", tmp_path / "b.jsonl") == EXIT["auth"]
    err = capsys.readouterr().err
    assert "Unauthorized" in err and "Traceback" not in err and "wrong-md5-value" not in err


def test_missing_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MAILKIT_CLIENT_ID", raising=False)
    monkeypatch.delenv("MAILKIT_CLIENT_MD5", raising=False)
    code = main(["bounces", "export", "--format", "csv", "--output", str(tmp_path / "x.csv")])
    assert code == EXIT["usage"]
    assert "MAILKIT_CLIENT_ID" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()  # nothing touched before the credentials were checked


def test_unreachable_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", str(CLIENT_ID))
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["bounces", "export", "--format", "jsonl", "--output", str(tmp_path / "b.jsonl")]
    assert main([*argv, "--base-url", f"http://127.0.0.1:{port}"]) == EXIT["network"]
    err = capsys.readouterr().err
    assert "network error" in err and "Traceback" not in err and MD5 not in err


@pytest.mark.parametrize("fmt", ["jsonl", "sqlite"])
def test_unwritable_output(server: Any, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing-dir" / f"b.{fmt}"
    assert export(server, fmt, out) == EXIT["output"]
    assert "cannot write" in capsys.readouterr().err


def test_demo_streams_every_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--records", "30000"]) == 0
    out = capsys.readouterr().out
    assert "records streamed : 30,000 (expected 30,000)" in out
    assert "exactly once, in order: yes" in out
    assert "records/s" in out and "peak memory" in out


def test_demo_whose_emulator_does_not_start_is_not_bad_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A child that exits at once, saying nothing: the emulator never prints its URL.
    monkeypatch.setattr(sys, "executable", "/bin/false")
    assert main(["demo", "--records", "10"]) == EXIT["api"]
    err = capsys.readouterr().err
    assert "did not start" in err and "Traceback" not in err


def test_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailkit_async", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("mailkit-async ")


def test_ctrl_c_keeps_what_was_reported_and_resumes(
    server: Any, emulator: MailkitEmulator, tmp_path: Path
) -> None:
    out = tmp_path / "b.jsonl"
    emulator.page_cap = 2_000
    emulator.faults.add(Fault.delay(0.2), times=None, function=BOUNCES)
    argv = ["bounces", "export", "--format", "jsonl", "--output", str(out), "--base-url", server.url]
    child = subprocess.Popen(
        [sys.executable, "-m", "mailkit_async", *argv],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 4_000):
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == EXIT["interrupted"], err
    assert "Traceback" not in err and "--resume" in err
    saved = read_ids("jsonl", out)
    expected = list(emulator.bounce_ids())
    assert 4_000 <= len(saved) < len(expected)
    assert saved == expected[: len(saved)]

    emulator.faults.clear()
    assert export(server, "jsonl", out, "--resume") == 0
    assert read_ids("jsonl", out) == expected


def test_progress_bar_draws_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    from mailkit_async.cli._progress import Progress

    shown = Progress(total=200, enabled=True)
    shown.advance(50, last_id=77)
    shown.finish()
    err = capsys.readouterr().err
    assert err.startswith("\r[") and "25.0%" in err and "50/200" in err and "last id 77" in err
    assert err.endswith("\n")

    hidden = Progress(total=200, enabled=False)
    hidden.advance(50, last_id=77)
    hidden.finish()
    assert capsys.readouterr().err == ""
    assert hidden.count == 50
