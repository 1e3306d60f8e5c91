"""The reference covers every public name, and `help()` on the public API answers the usual questions."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mailkit_async
import mailkit_async.dlt
import mailkit_async.testing
from mailkit_async import resources

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


@pytest.mark.parametrize("owner", [mailkit_async.RateLimit, mailkit_async.RetryPolicy])
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
