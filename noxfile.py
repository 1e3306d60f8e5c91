"""Test sessions per supported Python, and the reference build: `nox -s tests`, `nox -s docs`.

`nox -s tests` runs the suite on each of Python 3.10 to 3.13 that it finds on PATH (as
``python3.10`` ...); `nox -s tests-3.12` runs one. The extras installed are those of the README's
test command, so every session installs what a user who copies that command gets.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
ROOT = Path(__file__).parent

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "docs"]


def _test_extras() -> str:
    """The extras of the README's test command (the ``pip install ... -e ".[...]"`` after its marker)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    _, marker, rest = readme.partition("<!-- test-command -->")
    match = re.search(r"""-e\s+["']?\.\[([^\]]+)\]""", rest) if marker else None
    if match is None:
        raise RuntimeError('README.md has no `pip install -e ".[...]"` after <!-- test-command -->')
    return ",".join(part.strip() for part in match[1].split(","))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite, every async test under asyncio and trio."""
    session.install("-q", "-e", f".[{_test_extras()}]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=PYTHONS[-1])
def docs(session: nox.Session) -> None:
    """The API reference, with every warning an error (as CI builds it)."""
    session.install("-q", "-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site"))
