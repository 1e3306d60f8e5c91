"""The reference covers every public name, and `help()` on the public API answers the usual questions."""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mailkit_async
import mailkit_async.dlt
import mailkit_async.testing
from mailkit_async import resources
from mailkit_async.cli._main import _parser as _cli_parser
from mailkit_async.testing.__main__ import build_parser as build_emulator_parser

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _documented() -> set[str]:
    """Every object a reference page renders: `::: dotted.name` lines and their `members:` lists."""
    names: set[str] = set()
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for root in re.findall(r"^::: (\S+)", text, re.M):
            names.add(root)
        for root, block in re.findall(r"^::: (\S+)\n((?:    .*\n)+)", text, re.M):
            names.update(f"{root}.{member}" for member in re.findall(r"^\s+- (\w+)$", block, re.M))
    return names


@pytest.mark.parametrize("name", mailkit_async.__all__)
def test_every_public_name_has_a_reference_entry(name: str) -> None:
    assert f"mailkit_async.{name}" in _documented()


@pytest.mark.parametrize("name", mailkit_async.testing.__all__)
def test_every_emulator_name_has_a_reference_entry(name: str) -> None:
    assert f"mailkit_async.testing.{name}" in _documented()


def test_the_namespaces_have_reference_entries() -> None:
    for name in ("Campaigns", "SingleCampaign", "Email", "SendmailMass", "Report", "RawReport"):
        assert f"mailkit_async.resources.{name}" in _documented()


def test_the_dlt_source_has_a_reference_entry() -> None:
    for name in mailkit_async.dlt.__all__:
        if callable(getattr(mailkit_async.dlt, name)):
            assert f"mailkit_async.dlt.{name}" in _documented()


# Methods that only judge their arguments: they have Args to document, but nothing to raise.
NEVER_RAISE = {"RetryPolicy.may_retry", "RetryPolicy.wait"}


def _public_methods() -> Iterator[tuple[str, Callable[..., object]]]:
    owners: list[type] = [mailkit_async.Mailkit, resources.SingleCampaign, resources.Email]
    owners += [
        resources.SendmailMass,
        resources.RawReport,
        mailkit_async.RateLimit,
        mailkit_async.RetryPolicy,
    ]
    for owner in owners:
        for name, member in vars(owner).items():
            if not name.startswith("_") and inspect.isfunction(member):
                yield f"{owner.__name__}.{name}", member
    yield "dlt.mailkit_source", mailkit_async.dlt.mailkit_source


@pytest.mark.parametrize(("name", "method"), list(_public_methods()), ids=[n for n, _ in _public_methods()])
def test_help_names_every_parameter_and_what_is_raised(name: str, method: Callable[..., object]) -> None:
    doc = inspect.getdoc(method) or ""
    parameters = [p for p in inspect.signature(method).parameters if p != "self"]
    if parameters:
        args = doc.partition("Args:")[2]
        assert args, f"{name}: no Args section"
        for parameter in parameters:
            assert re.search(rf"^\s+{parameter}:", args, re.M), f"{name}: {parameter} undocumented"
        if name not in NEVER_RAISE:
            assert "Raises:" in doc, f"{name}: no Raises section"


def test_help_on_the_client_lists_namespaces_defaults_and_errors() -> None:
    doc = inspect.getdoc(mailkit_async.Mailkit) or ""
    for text in ("mk.campaigns", "mk.email", "mk.sendmail_mass", "mk.report", "connect 10 s", "read 120 s"):
        assert text in doc
    for parameter in inspect.signature(mailkit_async.Mailkit).parameters:
        assert re.search(rf"^\s+{parameter}:", doc, re.M), parameter
    assert "Raises:" in doc and "MAILKIT_BASE_URL" in doc


def test_the_source_says_what_it_returns() -> None:
    assert "Returns:" in (inspect.getdoc(mailkit_async.dlt.mailkit_source) or "")


@pytest.mark.parametrize(
    "owner", [mailkit_async.RateLimit, mailkit_async.RetryPolicy, mailkit_async.testing.EmulatorProcess]
)
def test_help_on_the_policies_lists_every_parameter_and_what_is_raised(owner: type) -> None:
    doc = inspect.getdoc(owner) or ""
    for parameter in inspect.signature(owner).parameters:
        assert re.search(rf"^\s+{parameter}:", doc, re.M), f"{owner.__name__}: {parameter} undocumented"
    assert "Raises:" in doc


def test_every_public_property_has_a_docstring() -> None:
    for owner in (mailkit_async.RateLimit,):
        for name, member in vars(owner).items():
            if not name.startswith("_") and isinstance(member, property):
                assert member.__doc__, f"{owner.__name__}.{name}: no docstring"


# -- docs/cli.md is held to the parsers, so the page and `--help` cannot drift apart ----------------

CLI = DOCS / "cli.md"


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Every documented command line, by how it is typed, with its parser."""
    root = _cli_parser()
    (commands,) = (a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    (actions,) = (
        a for a in commands.choices["bounces"]._actions if isinstance(a, argparse._SubParsersAction)
    )
    return {
        "mailkit-async demo": commands.choices["demo"],
        "mailkit-async bounces export": actions.choices["export"],
        "python -m mailkit_async.testing": build_emulator_parser(),
    }


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _usage(action: argparse.Action) -> str:
    """The option as the synopsis spells it: argparse's usage, choices as `a|b`."""
    if isinstance(action, argparse.BooleanOptionalAction):
        return "[" + " | ".join(action.option_strings) + "]"
    (name,) = action.option_strings
    if action.nargs == 0:
        text = name
    elif action.metavar is not None:
        text = f"{name} {action.metavar}"
    elif action.choices is not None:
        text = f"{name} {'|'.join(map(str, action.choices))}"
    else:
        text = f"{name} {action.dest.upper()}"
    return text if action.required else f"[{text}]"


def _synopsis_block(heading: str) -> str:
    section = CLI.read_text(encoding="utf-8").partition(f"## `{heading}`\n")[2].partition("\n## ")[0]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, f"no synopsis under {heading}"
    return " ".join(block.group(1).split())


def _table(heading: str) -> dict[str, tuple[str, str]]:
    """The option table under `heading`: option -> (its default cell, what it does)."""
    section = CLI.read_text(encoding="utf-8").partition(f"## `{heading}`\n")[2].partition("\n## ")[0]
    rows = re.findall(r"^\| `(--[\w-]+)` \| ([^|]+) \| (.*) \|$", section, re.M)
    return {option: (default.strip(), what) for option, default, what in rows}


def _default(action: argparse.Action) -> str | None:
    """What the table's default cell must start with; `None`: the parser leaves it to the help text."""
    if action.required:
        return "required"
    if isinstance(action.default, bool):
        return "on" if action.default else "off"
    if action.default is None:
        return None
    if isinstance(action.default, list):
        return ",".join(map(str, action.default))
    return str(action.default)


def test_the_cli_synopses_are_the_parsers_usage() -> None:
    parsers = _parsers()
    tool = " ".join(
        f"{line} {' '.join(_usage(a) for a in _options(parsers[line]))}"
        for line in ("mailkit-async demo", "mailkit-async bounces export")
    )
    assert _synopsis_block("mailkit-async") == f"{tool} mailkit-async --version"
    emulator = " ".join(_usage(a) for a in _options(parsers["python -m mailkit_async.testing"]))
    assert _synopsis_block("python -m mailkit_async.testing") == f"python -m mailkit_async.testing {emulator}"


@pytest.mark.parametrize("line", ["mailkit-async bounces export", "python -m mailkit_async.testing"])
def test_the_cli_option_tables_list_every_option_with_its_default(line: str) -> None:
    heading = "mailkit-async" if line.startswith("mailkit-async") else line
    table = _table(heading)
    options = _options(_parsers()[line])
    assert set(table) == {a.option_strings[0] for a in options}
    for action in options:
        expected = _default(action)
        if expected is not None:
            first = table[action.option_strings[0]][0].split(" ")[0].strip("`,")
            assert first == expected, (
                f"{action.option_strings[0]}: the table says {first}, the parser {expected}"
            )
        if isinstance(action, argparse.BooleanOptionalAction):
            assert f"`{action.option_strings[1]}`" in table[action.option_strings[0]][1]


@pytest.mark.parametrize(
    ("heading", "parser"),
    [("mailkit-async", _cli_parser), ("python -m mailkit_async.testing", build_emulator_parser)],
)
def test_the_cli_exit_codes_are_the_ones_help_lists(
    heading: str, parser: Callable[[], argparse.ArgumentParser]
) -> None:
    section = CLI.read_text(encoding="utf-8").partition(f"## `{heading}`\n")[2].partition("\n## ")[0]
    epilog = parser().epilog or ""
    # A table of codes, or a sentence ("0 when ..., 2 for ..., 1 if ...").
    sentence = r"\b(\d+) (?:when|for|if)\b"
    documented = set(re.findall(r"^\| (\d+) \|", section, re.M)) or set(re.findall(sentence, section))
    listed = set(re.findall(r"^\s+(\d+)\s", epilog, re.M)) or set(re.findall(sentence, epilog))
    assert documented and documented == listed
