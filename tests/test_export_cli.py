"""The export as a command: every exit code and its message, signals, kill -9, --help, progress."""

from __future__ import annotations

import argparse
import errno
import io
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
from support.emulators import BreaksAfterPages

from mailkit_async._service import BOUNCES
from mailkit_async.cli import main
from mailkit_async.cli._demo import peak_rss_mib
from mailkit_async.cli._errors import EXIT
from mailkit_async.cli._main import _parser
from mailkit_async.cli._progress import Progress
from mailkit_async.testing import Fault, MailkitEmulator

MD5 = "cli-export-md5"
FORMATS = ["jsonl", "csv", "sqlite"]


@pytest.fixture
def emulator() -> BreaksAfterPages:
    emu = BreaksAfterPages(client_id=7, client_md5=MD5)
    emu.seed_bounces(20_000, gap_every=9, extra_fields=True)
    emu.page_cap = 2_000
    return emu


@pytest.fixture
def server(emulator: MailkitEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "7")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    monkeypatch.delenv("MAILKIT_BASE_URL", raising=False)
    with emulator.serve() as running:
        yield running


def argv(server: Any, fmt: str, output: Path, *extra: str) -> list[str]:
    return ["bounces", "export", "--format", fmt, "--output", str(output), "--base-url", server.url, *extra]


def ids(fmt: str, path: Path) -> list[int]:
    if fmt == "jsonl":
        return [json.loads(line)["undelivered_log_id"] for line in path.read_bytes().splitlines()]
    if fmt == "csv":
        import csv

        with path.open(newline="", encoding="utf-8") as f:
            return [int(row["undelivered_log_id"]) for row in csv.DictReader(f)]
    with sqlite3.connect(path) as db:
        found = [row[0] for row in db.execute("SELECT undelivered_log_id FROM bounces ORDER BY 1")]
    db.close()
    return found


# -- exit codes and what each message says ---------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_refused_on_the_first_page_exits_1_and_leaves_no_file(
    server: Any, emulator: MailkitEmulator, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.faults.add(Fault.body(b'{"error_status": 1, "error": "Report not available"}'), function=BOUNCES)
    out = tmp_path / f"b.{fmt}"
    assert main(argv(server, fmt, out)) == EXIT["api"]
    err = capsys.readouterr().err
    assert "Report not available" in err and "after_id" not in err
    assert f"nothing was written; {out} was not created" in err
    assert list(tmp_path.iterdir()) == []


def test_missing_credentials_name_the_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MAILKIT_CLIENT_ID", raising=False)
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    assert (
        main(["bounces", "export", "--format", "csv", "--output", str(tmp_path / "x.csv")]) == EXIT["usage"]
    )
    err = capsys.readouterr().err
    assert "set MAILKIT_CLIENT_ID in the environment" in err and "client_id=" not in err
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "seven")
    assert (
        main(["bounces", "export", "--format", "csv", "--output", str(tmp_path / "x.csv")]) == EXIT["usage"]
    )
    assert "MAILKIT_CLIENT_ID must be the account's numeric API ID" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_bad_credentials_exit_3_without_a_library_resume_hint(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", "wrong-md5-value")
    out = tmp_path / "b.csv"
    assert main(argv(server, "csv", out)) == EXIT["auth"]
    err = capsys.readouterr().err
    assert "Unauthorized" in err and "check MAILKIT_CLIENT_ID and MAILKIT_CLIENT_MD5" in err
    assert "after_id" not in err and "wrong-md5-value" not in err and "Traceback" not in err
    assert not out.exists()


def test_unreachable_service_exits_4_naming_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "7")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MAILKIT_BASE_URL", url)  # read like the credentials
    out = tmp_path / "b.sqlite"
    assert main(["bounces", "export", "--format", "sqlite", "--output", str(out)]) == EXIT["network"]
    err = capsys.readouterr().err
    assert f"is the service at {url} reachable (see --base-url)?" in err and "after_id" not in err
    assert not out.exists() and not (tmp_path / "b.sqlite-journal").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_not_writable_exits_5_naming_the_path(
    server: Any, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv(server, fmt, tmp_path)) == EXIT["output"]
    assert f"{tmp_path} is a directory" in capsys.readouterr().err
    missing = tmp_path / "missing" / f"b.{fmt}"
    assert main(argv(server, fmt, missing)) == EXIT["output"]
    assert f"directory {missing.parent} does not exist" in capsys.readouterr().err
    assert main(argv(server, fmt, tmp_path, "--resume")) == EXIT["output"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_disk_failure_on_the_first_page_exits_5_and_removes_the_new_file(
    server: Any, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(sqlite3, "connect", _failing_sqlite(sqlite3.connect))
    out = tmp_path / f"b.{fmt}"
    assert main(argv(server, fmt, out)) == EXIT["output"]
    err = capsys.readouterr().err
    assert f"cannot write {out}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_disk_failure_while_continuing_leaves_the_file_as_it_was(
    server: Any, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"b.{fmt}"
    assert main(argv(server, fmt, out, "--after-id", "19000")) == 0
    lines = out.read_bytes().splitlines(keepends=True)  # these records have one line each
    out.write_bytes(b"".join(lines[:200]))  # as if the last run had stopped early
    before = out.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(argv(server, fmt, out, "--resume")) == EXIT["output"]
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == before  # the part of the page that landed was taken back out


def _failing_sqlite(connect: Any) -> Any:
    def failing(*args: Any, **kwargs: Any) -> Any:
        db = connect(*args, **kwargs)
        db.set_authorizer(lambda action, *rest: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_INSERT else 0)
        return db

    return failing


def test_existing_text_file_needs_resume(
    server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.csv"
    out.write_text("keep me\n")
    assert main(argv(server, "csv", out)) == EXIT["usage"]
    assert f"{out} already holds records: pass --resume" in capsys.readouterr().err
    assert main(argv(server, "csv", out, "--resume")) == EXIT["usage"]
    assert "is not a CSV bounce export" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"


def test_partial_export_stays_and_resumes(
    server: Any, emulator: BreaksAfterPages, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.csv"
    # The fourth page is refused.
    emulator.break_after(3, Fault.body(b'{"error_status": 1, "error": "Try later"}'))
    assert main(argv(server, "csv", out)) == EXIT["api"]
    err = capsys.readouterr().err
    assert "6,000 records written" in err and "run the same command with --resume" in err
    assert main(argv(server, "csv", out, "--resume")) == 0
    assert ids("csv", out) == list(emulator.bounce_ids())


# -- signals and kill -9 ---------------------------------------------------------------------------


def _child(server: Any, fmt: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailkit_async", *argv(server, fmt, out, *extra)],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _wait_for_records(fmt: str, out: Path, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if out.exists() and out.stat().st_size > 0 and len(ids(fmt, out)) >= at_least:
                return
        except (sqlite3.Error, ValueError, KeyError):
            pass  # read while a page is being written
        time.sleep(0.02)
    raise AssertionError(f"{out} did not reach {at_least} records")


@pytest.mark.parametrize("fmt", FORMATS)
def test_sigterm_ends_like_ctrl_c(server: Any, emulator: MailkitEmulator, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"b.{fmt}"
    emulator.faults.add(Fault.delay(0.2), times=None, function=BOUNCES)
    child = _child(server, fmt, out)
    _wait_for_records(fmt, out, 4_000)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == EXIT["terminated"], err
    assert "terminated (SIGTERM)" in err and "run the same command with --resume" in err
    assert "Traceback" not in err
    saved = ids(fmt, out)
    assert f"{len(saved):,} records written to {out}" in err  # the summary counts what is on disk
    expected = list(emulator.bounce_ids())
    assert saved == expected[: len(saved)] and len(saved) < len(expected)
    emulator.faults.clear()
    assert main(argv(server, fmt, out, "--resume")) == 0
    assert ids(fmt, out) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_kill_9_during_writes_loses_and_repeats_nothing(
    server: Any, emulator: MailkitEmulator, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"b.{fmt}"
    emulator.page_cap = 500  # many small pages: the kill lands among writes
    expected = list(emulator.bounce_ids())
    for round_, delay in enumerate((0.0, 0.013, 0.029)):
        child = _child(server, fmt, out, *(["--resume"] if round_ else []))
        _wait_for_records(fmt, out, 1_000 * (round_ + 1))
        time.sleep(delay)
        child.kill()
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        if child.stderr is not None:
            child.stderr.close()
    assert main(argv(server, fmt, out, "--resume")) == 0
    assert ids(fmt, out) == expected


# -- --help ------------------------------------------------------------------------------------------


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_every_option_is_explained() -> None:
    for parser in _all_parsers(_parser()):
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, (parser.prog, action.dest)


def test_export_help_shows_defaults_environment_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["bounces", "export", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in (
        "https://api.mailkit.eu",
        "$MAILKIT_BASE_URL",
        "MAILKIT_CLIENT_ID",
        "MAILKIT_CLIENT_MD5",
        "(default json)",
        "default 0",
        "=, +, -, @, tab or CR",
        *(f"{code} " for code in EXIT.values()),
        "143 terminated (SIGTERM)",
        "5 the output is not writable",
    ):
        assert expected in text, expected


# -- progress ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [20, 40, 80, 132])
def test_progress_frames_fit_the_terminal_and_end_at_100_percent(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a: os.terminal_size((columns, 24)))
    out = io.StringIO()
    progress = Progress(total=300_000, enabled=True, stream=out)
    progress.started -= 2.0  # two seconds in
    for _ in range(59):
        progress.count += 5_000
        progress._drawn = 0.0  # draw every step
        progress.advance(0, progress.count)
    progress.count += 5_000
    progress.finish()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 60 and frames[-1].endswith("\n")
    assert all(len(frame.rstrip("\n")) == columns - 1 for frame in frames)  # padded, never wrapping
    assert "100.0%" in frames[-1]
    if columns >= 80:
        assert "ETA " in frames[10] and "rec/s" in frames[10] and "[" in frames[10]
        assert "300,000/300,000" in frames[-1] and "in " in frames[-1]


def test_progress_without_a_total_shows_count_rate_and_last_id() -> None:
    out = io.StringIO()
    progress = Progress(enabled=True, stream=out)
    progress.advance(25_000, 31_337)
    progress.finish()
    last = out.getvalue().split("\r")[-1]
    assert "25,000 records" in last and "rec/s" in last and "last id 31337" in last


def test_progress_is_silent_when_not_a_terminal() -> None:
    out = io.StringIO()  # isatty() is False
    progress = Progress(total=10, stream=out)
    progress.advance(10, 5)
    progress.finish()
    assert out.getvalue() == "" and progress.count == 10


def test_demo_memory_figure_reads_bytes_on_macos() -> None:
    assert peak_rss_mib(50 * 2**20, "darwin") == 50.0
    assert peak_rss_mib(50 * 2**10, "linux") == 50.0


@pytest.mark.parametrize("where", ["option", "environment"])
def test_a_bad_base_url_names_the_option_or_variable_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "7")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", MD5)
    out = tmp_path / "b.jsonl"
    command = ["bounces", "export", "--format", "jsonl", "--output", str(out)]
    if where == "option":
        monkeypatch.setenv("MAILKIT_BASE_URL", "https://api.mailkit.eu")  # the option wins
        command += ["--base-url", "http://exa mple.com:99999"]
    else:
        monkeypatch.setenv("MAILKIT_BASE_URL", "http://exa mple.com:99999")
    assert main(command) == EXIT["usage"]
    err = capsys.readouterr().err
    name = "--base-url" if where == "option" else "MAILKIT_BASE_URL"
    assert f"error: {name} 'http://exa mple.com:99999' is not a usable URL" in err
    assert "base_url '" not in err and "Traceback" not in err and MD5 not in err
    assert not out.exists()
