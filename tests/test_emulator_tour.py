"""The tour scenario, the untyped function the tour calls, and the emulator command's --help."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

import httpx
import pytest

from mailkit_async import Mailkit, MassSendErrorCode
from mailkit_async._service import MAILINGLIST_LIST
from mailkit_async.testing import MailkitEmulator, seed_tour
from mailkit_async.testing.__main__ import build_parser

LISTS = [
    {
        "NAME": "Newsletter",
        "ID_USER_LIST": 1,
        "STATUS": "enabled",
        "DESCRIPTION": "Everyone who subscribed on the website",
    }
]


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_mailinglist_list_answers_the_same_over_both_protocols(
    anyio_backend: str, protocol: str
) -> None:
    emu = MailkitEmulator()
    async with (
        httpx.AsyncClient(transport=emu.transport()) as http,
        Mailkit(1, "emulator", protocol=protocol, http_client=http) as mk,  # type: ignore[arg-type]
    ):
        assert await mk.call(MAILINGLIST_LIST) == LISTS
    assert emu.requests[MAILINGLIST_LIST] == 1


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_seed_tour_holds_what_the_tour_calls(anyio_backend: str, protocol: str) -> None:
    # 10:00 UTC in summer is 12:00 in Prague: the failures are dated 40 minutes before, in its time.
    emu = seed_tour(MailkitEmulator(clock=datetime(2031, 7, 1, 10, 0, tzinfo=timezone.utc)), bounces=30)
    async with (
        httpx.AsyncClient(transport=emu.transport()) as http,
        Mailkit(1, "emulator", protocol=protocol, http_client=http) as mk,  # type: ignore[arg-type]
    ):
        scheduled = await mk.campaigns.single.schedule(1234, datetime(2031, 7, 8, 9, 30), time_zone="02:00")
        assert emu.scheduled_sends(1234)[0].subject == "Spring news"
        assert scheduled.send_date == datetime(2031, 7, 8, 9, 30)
        assert await mk.campaigns.single.cancel(1234) is None
        results = await mk.sendmail_mass.results(987)
        assert [(e.known_code, e.email) for e in results.errors] == [
            (MassSendErrorCode.INVALID_EMAIL, "not-an-address"),
            (MassSendErrorCode.UNSUBSCRIBED, "gone@example.com"),
        ]
        assert {e.date for e in results.errors} == {datetime(2031, 7, 1, 11, 20)}
        assert results.errors[1].email_id == emu.subscriber("gone@example.com").email_id  # type: ignore[union-attr]
        await mk.email.unsubscribe("someone@example.com", send_optout=False)
        assert emu.is_unsubscribed("someone@example.com")
        assert emu.optout_mails("someone@example.com") == 0
        assert (await mk.email.revalidate("someone@example.com", agreement=True)).revalidated
        assert not emu.is_unsubscribed("someone@example.com")
        bounces = [b async for b in mk.report.raw.bounces(after_id=0)]
    assert [b.undelivered_log_id for b in bounces] == list(range(1, 31))
    assert {b.message_id for b in bounces} == {1234}
    assert all(b.bounce_category for b in bounces)


def test_every_emulator_option_is_explained_with_its_default() -> None:
    parser = build_parser()
    options = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    assert len(options) >= 12
    for action in options:
        assert action.help and "default" in action.help, action.option_strings
    text = parser.format_help()
    assert "--scenario {none,tour}" in text
    assert "{[],{}" not in text  # the choices of --empty-page are spelled out, not run together
    flat = " ".join(text.split())
    assert '[] (default), {}, "" (an empty JSON string), or empty (no body at all)' in flat
    assert "MAILKIT_BASE_URL" in text and "Exit status" in text


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--empty-page", "[ ]"), ("--page-cap", "0"), ("--page-cap", "25001"), ("--records", "-1")],
)
def test_bad_emulator_options_are_usage_errors(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([flag, value])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.parametrize(("given", "sent"), [("[]", "[]"), ("{}", "{}"), ('""', '""'), ("empty", "")])
def test_every_empty_page_form_is_accepted(given: str, sent: str) -> None:
    args = build_parser().parse_args(["--empty-page", given])
    from mailkit_async.testing.__main__ import _EMPTY_PAGES

    assert _EMPTY_PAGES[args.empty_page] == sent
