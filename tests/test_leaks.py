"""No piece of client_md5 leaves the client, wherever the service puts it and wherever a cut falls.

The secret is placed at every offset around every limit the code cuts text at (the limits are read
from the code itself, so a new or changed limit is covered), over both protocols, for every kind
of answer that is quoted back, and through the command line. "A piece" is any run of 6
characters of the secret, in any case.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from support.calls import drain_bounces
from support.clients import BASE, PATHS, client
from support.leaks import RUN, assert_no_secret, leaks
from support.wire import xml_dump, xml_fault, xml_response, xml_string

from mailkit_async import Mailkit, MailkitError, RetryPolicy
from mailkit_async._codecs._xmlrpc_wire import _short as wire_quote
from mailkit_async._secrets import EXCERPT_LIMIT, MASK, MIN_RUN, TEXT_LIMIT, WINDOW, Redactor, quote
from mailkit_async.cli import main
from mailkit_async.testing import Fault, MailkitEmulator

pytestmark = pytest.mark.anyio

SECRET = "7f3a9c1e5b2d8046af91ce37b5d20e64"


def _quote_limit(quote: Callable[[str], str]) -> int:
    """How many characters of a long text a quoting helper keeps (measured, not copied)."""
    return len(quote("z" * (2 * WINDOW + 10))) - len("''...")


#: Every length the code cuts a text from the service at, on its way out.
LIMITS = sorted({EXCERPT_LIMIT, TEXT_LIMIT, WINDOW, _quote_limit(wire_quote), _quote_limit(quote)})
MARGIN = 24  # more than a message or an excerpt puts before the text ("Unauthorized ", "<html>")


def offsets(limits: list[int] = LIMITS, margin: int = MARGIN) -> list[int]:
    """Every offset at which the secret straddles, touches or nears one of the cuts."""
    return sorted(
        {o for limit in limits for o in range(max(0, limit - len(SECRET) - margin), limit + margin)}
    )


def placed(offset: int) -> str:
    return "z" * offset + SECRET + "z" * 40


def assert_clean(error: BaseException, *, rendered: bool = True) -> None:
    assert isinstance(error, MailkitError), repr(error)
    assert_no_secret(error, SECRET, rendered=rendered)


# --- the redactor itself ---------------------------------------------------------------------------------


def test_every_piece_and_the_whole_secret_are_masked_at_every_offset() -> None:
    assert MIN_RUN <= RUN
    redact = Redactor(SECRET)
    for offset in range(80):
        for start in range(len(SECRET)):
            for stop in range(start + MIN_RUN, len(SECRET) + 1):
                text = "z" * offset + SECRET[start:stop] + "y" * 7
                clean = redact(text)
                assert not leaks(clean, SECRET), (start, stop, clean)
                assert clean == "z" * offset + MASK + "y" * 7
    # Shorter runs stay (they say nothing), and so does text around the mask.
    assert redact(f"a{SECRET[: MIN_RUN - 1]}b") == f"a{SECRET[: MIN_RUN - 1]}b"
    assert redact(f"{SECRET.upper()} and {SECRET[3:20]}!") == f"{MASK} and {MASK}!"


def test_a_secret_shorter_than_a_run_is_masked_whole() -> None:
    assert Redactor("abc")("xabcx abx") == f"x{MASK}x abx"
    assert Redactor("")("text") == "text"


# --- through the client, over both protocols -------------------------------------------------------------

Invoke = Callable[[Mailkit], Awaitable[Any]]


def unsubscribe(mk: Mailkit) -> Awaitable[Any]:
    return mk.email.unsubscribe(5)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


# name: (protocol, invoke, the answer carrying `text`)
SITES: dict[str, tuple[str, Invoke, Callable[[str], httpx.Response]]] = {
    "json-refusal": (
        "json",
        unsubscribe,
        lambda t: httpx.Response(200, content=_json({"error_status": 1, "error": t})),
    ),
    "json-auth": (
        "json",
        drain_bounces,
        lambda t: httpx.Response(200, content=_json({"error_status": 1, "error": f"Unauthorized {t}"})),
    ),
    "json-html": ("json", unsubscribe, lambda t: httpx.Response(200, content=f"<html>{t}</html>".encode())),
    "json-wrong-shape": ("json", unsubscribe, lambda t: httpx.Response(200, content=_json([t]))),
    "json-quoted-value": (
        "json",
        unsubscribe,
        lambda t: httpx.Response(200, content=_json({"error_status": 0, "ID_email": "5", "status": t})),
    ),
    "xmlrpc-refusal": ("xmlrpc", unsubscribe, lambda t: httpx.Response(200, content=xml_string(t))),
    "xmlrpc-fault": ("xmlrpc", drain_bounces, lambda t: httpx.Response(200, content=xml_fault(4, t))),
    "xmlrpc-html": ("xmlrpc", drain_bounces, lambda t: httpx.Response(200, content=f"<html>{t}".encode())),
    "xmlrpc-bad-int": (
        "xmlrpc",
        unsubscribe,
        lambda t: httpx.Response(200, content=xml_response(f"<int>{t}</int>")),
    ),
    "xmlrpc-wrong-shape": (
        "xmlrpc",
        unsubscribe,
        lambda t: httpx.Response(200, content=xml_dump([t])),
    ),
    "http-reason": (
        "json",
        unsubscribe,
        lambda t: httpx.Response(500, extensions={"reason_phrase": t.encode()}),
    ),
}


@pytest.mark.parametrize("site", list(SITES))
async def test_the_secret_at_every_offset_around_every_cut(
    anyio_backend: str, site: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    protocol, invoke, respond = SITES[site]
    texts: list[str] = []
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        route = router.post(PATHS[protocol])
        async with client(protocol, md5=SECRET, retry=RetryPolicy(attempts=2, backoff=0)) as mk:
            for offset in offsets():
                route.mock(side_effect=lambda request, o=offset: respond(placed(o)))
                with pytest.raises(MailkitError) as info:
                    await invoke(mk)
                assert_clean(info.value, rendered=not texts)
                texts.append(str(info.value))
    # Our own log lines (httpx's INFO line quotes the status line as the server sent it).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("mailkit_async")]
    assert ours
    assert not [line for line in ours if leaks(line, SECRET)]
    # The masking is what removed it: the text around the secret is still quoted.
    assert any(MASK in text for text in texts)
    assert all("zzz" in text for text in texts)


async def test_an_oversized_body_excerpt(anyio_backend: str) -> None:
    cap = EXCERPT_LIMIT + 3 * len(SECRET)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        route = router.post(PATHS["json"])
        async with client(md5=SECRET, max_response_bytes=cap) as mk:
            for offset in offsets([EXCERPT_LIMIT]):
                route.mock(return_value=httpx.Response(200, content=placed(offset).encode() + b"z" * cap))
                with pytest.raises(MailkitError) as info:
                    await mk.email.unsubscribe(5)
                assert "max_response_bytes" in str(info.value)
                assert_clean(info.value, rendered=offset == 0)


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_an_echo_of_the_whole_request_at_every_offset(anyio_backend: str, protocol: str) -> None:
    # A proxy's error page quoting the request body, credentials included.
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        route = router.post(PATHS[protocol])
        async with client(protocol, md5=SECRET, retry=RetryPolicy(attempts=1)) as mk:
            for pad in offsets():
                route.mock(
                    side_effect=lambda request, p=pad: httpx.Response(
                        200, content=b"<html>" + b"z" * p + request.content
                    )
                )
                with pytest.raises(MailkitError) as info:
                    await mk.sendmail_mass.results(55)
                assert_clean(info.value, rendered=pad == 0)


# --- through the command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echoing() -> Iterator[tuple[MailkitEmulator, str]]:
    emulator = MailkitEmulator(client_id=7, client_md5=SECRET)
    with emulator.serve() as server:
        yield emulator, server.url


CLI_SITES: dict[str, tuple[list[int], Callable[[str, str], bytes]]] = {
    # The service's refusal text is cut at TEXT_LIMIT; a body that does not decode, at EXCERPT_LIMIT.
    "refusal": (
        [TEXT_LIMIT],
        lambda protocol, t: _json({"error_status": 1, "error": t}) if protocol == "json" else xml_string(t),
    ),
    "html": ([EXCERPT_LIMIT], lambda protocol, t: t.encode()),  # neither JSON nor XML
}


@pytest.mark.parametrize("site", list(CLI_SITES))
@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
def test_the_command_line_prints_no_piece_of_the_secret(
    echoing: tuple[MailkitEmulator, str],
    site: str,
    protocol: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator, url = echoing
    monkeypatch.setenv("MAILKIT_CLIENT_ID", "7")
    monkeypatch.setenv("MAILKIT_CLIENT_MD5", SECRET)
    limits, body = CLI_SITES[site]
    for offset in offsets(limits, margin=2):
        emulator.faults.add(Fault.body(body(protocol, placed(offset))))
        argv = ["bounces", "export", "--format", "jsonl", "--output", str(tmp_path / f"{offset}.jsonl")]
        code = main([*argv, "--protocol", protocol, "--base-url", url])
        captured = capsys.readouterr()
        assert code != 0
        assert "error:" in captured.err and "zzz" in captured.err
        assert not leaks(captured.out + captured.err, SECRET), (offset, captured.err)
