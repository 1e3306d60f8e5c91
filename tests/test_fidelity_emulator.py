"""The emulator serves records as the real service does, and the client takes every one of them.

End to end over a real loopback server: real-world records (documented extra fields, a field
nobody documented, nulls, empty and zero IDs, multi-line SMTP text), XML-RPC in Latin-2,
windows-1250 and UTF-16, single-object pages and blank bodies; both protocols, both readings.
"""

from __future__ import annotations

import json
import xmlrpc.client

import httpx
import pytest
from support.clients import CLIENT_ID, MD5, PROTOCOLS, READINGS, loopback_client, new_emulator

from mailkit_async._service import BOUNCES, JSON_PATH, XMLRPC_PATH
from mailkit_async.testing import MailkitEmulator

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-2", "windows-1250", "utf-16"])
async def test_real_world_records_stream_exactly_once(
    anyio_backend: str, protocol: str, reading: str, encoding: str
) -> None:
    emu = new_emulator(cursor=reading, xml_encoding=encoding, page_cap=9)
    emu.seed_bounces(60, extra_fields=True, real_world=True, gap_every=4)
    expected = emu.bounce_records(0, limit=100)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol) as mk:
            got = [b async for b in mk.report.raw.bounces(page_size=7)]
    assert [b.undelivered_log_id for b in got] == list(emu.bounce_ids())
    for raw, bounce in zip(expected, got, strict=True):
        assert bounce.bounce_category == raw["BOUNCE_CAT"] and bounce.subject == raw["SUBJECT"]
        assert bounce.email == (raw["EMAIL"] or "")
        assert bounce.text_status == raw["TEXT_STATUS"]
        assert bounce.send_id == (int(raw["ID_SEND"]) if raw["ID_SEND"] else None)  # type: ignore[call-overload]
        assert bounce.user_list_id == (int(raw["ID_USER_LIST"]) or None)  # type: ignore[call-overload]
        assert bounce.extra == {k: v for k, v in raw.items() if k.startswith("X_")}
    # Each real-world form was served and met.
    assert any("\n" in b.text_status for b in got)
    assert any("<!DOCTYPE" in b.text_status for b in got)
    assert any(b.extra for b in got) and any(b.send_id is None for b in got)
    assert any(b.email == "" for b in got) and any(b.user_list_id is None for b in got)


@pytest.mark.parametrize("encoding", ["iso-8859-2", "windows-1250", "utf-16"])
async def test_xmlrpc_answers_come_in_the_chosen_encoding(anyio_backend: str, encoding: str) -> None:
    emu = new_emulator(xml_encoding=encoding)
    emu.seed_bounces(3, extra_fields=True)
    with emu.serve() as server:
        async with httpx.AsyncClient() as http:
            call = xmlrpc.client.dumps((CLIENT_ID, MD5), BOUNCES).encode()
            body = (await http.post(server.url + XMLRPC_PATH, content=call)).content
    text = body.decode(encoding)
    assert f'encoding="{encoding}"' in text and "Novinky & tipy na březen".replace("&", "&amp;") in text
    bare = "utf-16-le" if encoding == "utf-16" else encoding  # the BOM only opens the body
    assert "ř".encode(bare) in body and "ř".encode() not in body  # the chosen codec's bytes


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("reading", READINGS)
async def test_single_object_pages_and_blank_bodies(anyio_backend: str, protocol: str, reading: str) -> None:
    # page_cap=2 under the inclusive reading makes every page after the first one new record
    # (plus the echo); exclusively, page_cap=1 makes every page a single object.
    cap = 2 if reading == "inclusive" else 1
    emu = new_emulator(cursor=reading, page_cap=cap, single_object_pages=True, empty_page="\r\n")
    emu.seed_bounces(5, extra_fields=True, gap_every=2)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol) as mk:
            got = [b.undelivered_log_id async for b in mk.report.raw.bounces(page_size=2)]
    assert got == list(emu.bounce_ids())


def test_a_single_object_page_and_a_blank_page_are_served_as_such() -> None:
    emu = new_emulator(page_cap=1, single_object_pages=True, empty_page="\r\n")
    emu.seed_bounces(1)
    with emu.serve() as server, httpx.Client() as http:

        def ask(after: int) -> bytes:
            call = {
                "function": BOUNCES,
                "id": CLIENT_ID,
                "md5": MD5,
                "parameters": {"ID_undelivered_log": after},
            }
            return http.post(server.url + JSON_PATH, json=call).content

        assert ask(0).startswith(b'{"ID_MESSAGE"')
        assert ask(1) == b"\r\n"


def test_the_emulator_refuses_an_unknown_encoding() -> None:
    with pytest.raises(LookupError):
        MailkitEmulator(xml_encoding="no-such-codec")


# What each protocol must escape in a text: a quote, a backslash, a newline, a control character
# (XML 1.0 carries no control character but tab, newline and carriage return), and XML's specials.
ESCAPED = {
    "json": 'smtp; 550 "no such user" C:\\mail\\box\nline two\x01\x1f <{email}> & more',
    "xmlrpc": 'smtp; 550 "no such user" C:\\mail\\box\nline two\tend <{email}> & more',
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_text_that_needs_escaping_round_trips(anyio_backend: str, protocol: str) -> None:
    emu = new_emulator(page_cap=4)
    emu.seed_bounces(9, texts=[ESCAPED[protocol], "plain"], extra_fields=True)
    expected = emu.bounce_records(0, limit=100)
    with emu.serve() as server:
        async with loopback_client(server.url, protocol) as mk:
            got = [b async for b in mk.report.raw.bounces()]
    assert [b.undelivered_log_id for b in got] == list(emu.bounce_ids())
    texts = [b.text_status for b in got]
    assert texts == [raw["TEXT_STATUS"] for raw in expected]
    # The escaped text was served, and came back to the character, its address filled in.
    assert any(b.text_status == ESCAPED[protocol].replace("{email}", b.email) for b in got)


def test_a_page_with_such_a_text_is_valid_json() -> None:
    emu = new_emulator()
    emu.seed_bounces(3, texts=[ESCAPED["json"]])
    call = {"function": BOUNCES, "id": CLIENT_ID, "md5": MD5}
    page = json.loads(emu.receive("POST", JSON_PATH, {}, json.dumps(call).encode()).respond().body)
    assert [record["TEXT_STATUS"] for record in page] == [
        ESCAPED["json"].replace("{email}", record["EMAIL"]) for record in page
    ]
