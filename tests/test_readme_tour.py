"""The README's tour, as it stands in README.md, run the way the README says against a fresh emulator.

Both of its commands are taken from the README too: the emulator command (on a free port instead of
8025) and the `export ... && python tour.py` line (with the emulator's real URL). The tour runs once
per protocol (the one word changed) and per event loop, and must print what the README shows.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from mailkit_async.testing import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUN_TRIO = 'anyio.run(main)  # or anyio.run(main, backend="trio")'


def _block(marker: str, language: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", README, re.S)
    assert match, f"README.md has no {language} block after <!-- {marker} -->"
    return match[1]


def _printed() -> list[str]:
    """The output the README shows for the tour over JSON."""
    match = re.search(r"What it prints over JSON.*?```text\n(.*?)```", README, re.S)
    assert match, "README.md shows no output of the tour"
    return match[1].splitlines()


@contextmanager
def _emulator(env: dict[str, str]) -> Iterator[str]:
    """The README's emulator command, on a free port; yields the URL it prints."""
    words = shlex.split(_block("tour-emulator", "sh"))
    assert words[:3] == ["python", "-m", "mailkit_async.testing"], words
    port = words.index("--port")
    words[port + 1] = "0"
    with EmulatorProcess(*words[3:], env=env, start_timeout=120) as process:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", process.url), process.url
        yield process.url
        assert process.stop() == 0


def _tour_env(url: str, base: dict[str, str]) -> dict[str, str]:
    """The variables the README's `export` line sets, with the emulator's real URL."""
    words = shlex.split(_block("tour-run", "sh"))
    assert words[0] == "export" and words[-3:] == ["&&", "python", "tour.py"], words
    env = dict(base)
    for word in words[1:-3]:
        name, _, value = word.partition("=")
        env[name] = value
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", env["MAILKIT_BASE_URL"])
    env["MAILKIT_BASE_URL"] = url
    assert (env["MAILKIT_CLIENT_ID"], env["MAILKIT_CLIENT_MD5"]) == ("1", "emulator")
    return env


def _expected(protocol: str) -> list[str]:
    """The README's output; over XML-RPC with `None` where its table says the protocol cannot tell."""
    lines = _printed()
    if protocol == "xmlrpc":
        substitutions = [
            (r"^(scheduled: \S+ \S+) Europe/Prague$", r"\1 None"),  # time_zone
            (r"^(unsubscribed: .*) False$", r"\1 None"),  # already_unsubscribed
            (r"^(revalidated: True \S+) \d+$", r"\1 None"),  # Revalidation.email_id
        ]
        for pattern, replacement in substitutions:
            changed = [re.sub(pattern, replacement, line) for line in lines]
            assert changed != lines, pattern
            lines = changed
    return lines


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
def test_the_readme_tour_runs_as_written(tmp_path: Path, protocol: str, backend: str) -> None:
    code = _block("tour", "python")
    assert code.count('protocol="json"') == 1
    assert code.count(RUN_TRIO) == 1
    code = code.replace('protocol="json"', f'protocol="{protocol}"')
    if backend == "trio":
        code = code.replace(RUN_TRIO, 'anyio.run(main, backend="trio")')
    (tmp_path / "tour.py").write_text(code, encoding="utf-8")
    base = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for name in ("MAILKIT_BASE_URL", "MAILKIT_CLIENT_ID", "MAILKIT_CLIENT_MD5"):
        base.pop(name, None)
    with _emulator(base) as url:
        run = subprocess.run(
            [sys.executable, "tour.py"],
            cwd=tmp_path,
            env=_tour_env(url, base),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    printed, expected = run.stdout.splitlines(), _expected(protocol)
    # The scheduled date is a week from today (Prague's today, so allow a day either way).
    when = re.fullmatch(r"scheduled: (\S+ \S+) .*", printed[0])
    assert when, printed[0]
    scheduled = datetime.fromisoformat(when[1])
    assert scheduled.time().isoformat() == "09:30:00"
    assert 6 <= (scheduled.date() - date.today()).days <= 8
    assert scheduled.date() > date.today() + timedelta(days=5)
    assert printed[0].replace(when[1], "DATE") == re.sub(
        r"^scheduled: \S+ \S+", "scheduled: DATE", expected[0]
    )
    assert printed[1:] == expected[1:]
