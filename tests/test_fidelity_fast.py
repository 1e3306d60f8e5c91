"""The fast ways for odd pages agree with the general second look, and refuse what it must take.

JSON pages with undocumented fields are decoded into a twin of `Bounce` that knows those names;
XML-RPC bodies in a single-byte encoding skip their declaration before transcoding. Neither may
change a record.
"""

from __future__ import annotations

import json
import xmlrpc.client
from typing import Any

import msgspec
import pytest

from mailkit_async import Bounce
from mailkit_async._codecs import get_codec
from mailkit_async._codecs._bounces import with_unknown_fields
from mailkit_async._codecs._records import RecordReader
from mailkit_async._codecs._xmlrpc_wire import (
    _BAIL,
    XmlRpcFormatError,
    _as_utf8,
    _ascii_compatible,
    _in_place,
    _loads_fast,
    _single_byte_codec,
    loads_response,
)
from mailkit_async._service import BOUNCES

STRICT = msgspec.json.Decoder(list[Bounce], strict=False)


def record(i: int, **fields: Any) -> dict[str, Any]:
    """A record as the service sends it over JSON (every value a string), with `fields` on top."""
    base: dict[str, Any] = {
        "ID_MESSAGE": "12345",
        "TEXT_STATUS": "smtp; 550 5.1.1 Uživatel neexistuje",
        "EMAIL": f"user{i}@example.cz",
        "ID_SEND": "123456",
        "ID_UNDELIVERED_LOG": str(i),
        "BOUNCE_CAT": "bad-mailbox",
    }
    return {**base, **fields}


def general(records: list[dict[str, Any]]) -> list[Bounce]:
    """The general second look's records for the same page."""
    return RecordReader(Bounce, extra="extra").second_look(json.loads(json.dumps(records)))


def test_every_record_with_the_field_fills_each_its_own_extra() -> None:
    records = [record(i, X_FEEDBACK_ID=f"fbl-{i}") for i in range(1, 101)]
    body = json.dumps(records, separators=(",", ":")).encode()
    page = with_unknown_fields(body, "X_FEEDBACK_ID", STRICT)
    assert page is not None
    assert page == general(records)
    assert [b.extra for b in page] == [{"X_FEEDBACK_ID": f"fbl-{i}"} for i in range(1, 101)]
    assert len({id(b.extra) for b in page}) == len(page)  # no dict shared between records
    assert all(type(b) is Bounce for b in page)
    assert page[0] == Bounce(
        message_id=12345,
        text_status="smtp; 550 5.1.1 Uživatel neexistuje",
        email="user1@example.cz",
        send_id=123456,
        undelivered_log_id=1,
        bounce_category="bad-mailbox",
        extra={"X_FEEDBACK_ID": "fbl-1"},
    )


def test_records_without_the_field_keep_an_empty_extra_and_several_names_are_learnt() -> None:
    records = [
        record(1, X_A="a", Y_B=[1, {"n": None}]),
        record(2),
        record(3, Y_B=0, X_A=None),
        record(4, Z_C=False),
    ]
    body = json.dumps(records).encode()
    page = with_unknown_fields(body, "X_A", STRICT)
    assert page is not None
    assert [b.extra for b in page] == [
        {"X_A": "a", "Y_B": [1, {"n": None}]},
        {},
        {"X_A": None, "Y_B": 0},
        {"Z_C": False},
    ]
    assert page == general(records)
    assert get_codec("json").decode_bounces(BOUNCES, body) == page


def test_one_unknown_name_on_some_records_only_leaves_the_others_an_empty_extra() -> None:
    records = [record(1, X_NEW=[1, {"n": None}]), record(2), record(3, X_NEW="")]
    body = json.dumps(records).encode()
    page = with_unknown_fields(body, "X_NEW", STRICT)
    assert page is not None
    assert [b.extra for b in page] == [{"X_NEW": [1, {"n": None}]}, {}, {"X_NEW": ""}]
    assert page == general(records)
    assert all(type(b) is Bounce for b in page)
    assert len({id(b.extra) for b in page}) == len(page)
    assert msgspec.json.decode(msgspec.json.encode(page[0]))["(extra)"] == {"X_NEW": [1, {"n": None}]}


def test_a_python_that_refuses_the_in_place_twin_gets_the_same_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailkit_async._codecs import _bounces

    def refuse(obj: object, cls: type) -> None:
        raise TypeError("__class__ assignment: layouts differ")

    monkeypatch.setattr(_bounces, "_SET_CLASS", refuse)
    monkeypatch.setattr(_bounces, "_TWINS", {})
    records = [record(1, X_ONLY="a"), record(2)]
    body = json.dumps(records).encode()
    page = with_unknown_fields(body, "X_ONLY", STRICT)
    assert page is not None
    assert [b.extra for b in page] == [{"X_ONLY": "a"}, {}]
    assert page == general(records)


@pytest.mark.parametrize(
    "odd",
    [
        {"EMAIL": None},  # a null text
        {"ID_SEND": ""},  # an empty ID
        {"ID_UNDELIVERED_LOG": "0"},  # no usable log ID
        {"(extra)": {"X": 1}},  # a field the service calls "(extra)"
    ],
)
def test_anything_else_odd_leaves_the_page_to_the_general_second_look(odd: dict[str, Any]) -> None:
    records = [record(1, X_NEW="n"), record(2, **odd)]
    body = json.dumps(records).encode()
    assert with_unknown_fields(body, "X_NEW", STRICT) is None
    page = get_codec("json").decode_bounces(BOUNCES, body)
    assert isinstance(page, list)
    assert page[0].extra == {"X_NEW": "n"}
    if "(extra)" in odd:
        assert page[1].extra == {"(extra)": {"X": 1}}


def test_more_unknown_names_than_learnt_per_page_still_reach_extra() -> None:
    names = [f"X_{n}" for n in range(10)]
    records = [record(1, **{name: name.lower() for name in names})]
    body = json.dumps(records).encode()
    assert with_unknown_fields(body, "X_0", STRICT) is None
    page = get_codec("json").decode_bounces(BOUNCES, body)
    assert isinstance(page, list)
    assert page[0].extra == {name: name.lower() for name in names}


# --- XML-RPC in a declared single-byte encoding ---------------------------------------------


def xml_page(records: list[dict[str, Any]], encoding: str, standalone: bool = False) -> bytes:
    text = xmlrpc.client.dumps((records,), methodresponse=True, allow_none=True, encoding=encoding)
    if standalone:
        text = text.replace("?>", ' standalone="yes"?>', 1)
    return text.encode(encoding, "xmlcharrefreplace")


@pytest.mark.parametrize("encoding", ["windows-1250", "iso-8859-2", "utf-16"])
@pytest.mark.parametrize("standalone", [False, True])
def test_a_declared_encoding_reads_as_the_same_records(encoding: str, standalone: bool) -> None:
    records = [record(i, SUBJECT="Novinky & tipy na březen <!>") for i in range(1, 4)]
    utf8 = get_codec("xmlrpc").decode_bounces(BOUNCES, xml_page(records, "utf-8", standalone))
    other = get_codec("xmlrpc").decode_bounces(BOUNCES, xml_page(records, encoding, standalone))
    assert other == utf8
    assert isinstance(other, list)
    assert other[0].text_status == "smtp; 550 5.1.1 Uživatel neexistuje"
    assert other[2].subject == "Novinky & tipy na březen <!>"


def test_a_single_byte_body_that_is_not_its_encoding_is_refused() -> None:
    cp = xml_page([record(1, EMAIL="ý@example.cz")], "windows-1250")  # ý is 0xFD there
    assert get_codec("xmlrpc").decode_bounces(BOUNCES, cp)[0].email == "ý@example.cz"  # type: ignore[index]
    with pytest.raises(XmlRpcFormatError, match="iso-8859-6"):
        loads_response(cp.replace(b"windows-1250", b"iso-8859-6", 1))  # 0xFD means nothing there
    with pytest.raises(XmlRpcFormatError, match="unknown encoding"):
        loads_response(cp.replace(b"windows-1250", b"x-no-such-code", 1))


def test_ascii_compatibility_is_told_apart() -> None:
    assert _ascii_compatible("cp1250") and _ascii_compatible("iso8859-2")
    assert not _ascii_compatible("utf-16") and not _ascii_compatible("cp037")


@pytest.mark.parametrize("encoding", ["windows-1250", "iso-8859-2", "latin-1"])
def test_a_single_byte_body_is_read_in_place_as_its_transcoded_self(encoding: str) -> None:
    text = "Žluťoučký kůň\r\npěl & <b>" if encoding != "latin-1" else "Ã½ café\r\n& <b>"
    records = [record(1, SUBJECT=text, X_NÁZEV="ď"), record(2, SUBJECT="plain ASCII")]
    if encoding == "latin-1":
        records[0].pop("TEXT_STATUS")  # "Uživatel" has no Latin-1 form
        records[0]["X_NÁZEV"] = "é"
    body = xml_page(records, encoding)
    codec = _single_byte_codec(body)
    assert codec is not None
    in_place = _loads_fast(body, 64, codec)
    assert in_place is not _BAIL  # read as it is, no transcoding
    assert in_place == _loads_fast(_as_utf8(body), 64) == loads_response(body)
    assert in_place == xmlrpc.client.loads(body)[0][0]  # the standard library reads the same
    page = get_codec("xmlrpc").decode_bounces(BOUNCES, body)
    assert isinstance(page, list)
    assert page[0].subject == text.replace("\r\n", "\n")
    assert page[0].extra == {"X_NÁZEV": records[0]["X_NÁZEV"]}


def test_only_codecs_of_one_character_a_byte_are_read_in_place() -> None:
    assert _in_place("cp1250") and _in_place("iso8859-2") and _in_place("latin-1")
    for codec in ("utf-8", "utf-16", "shift_jis", "gb18030", "cp037"):
        assert not _in_place(codec), codec
    assert _single_byte_codec(xml_page([record(1)], "utf-8")) is None
    assert _single_byte_codec(xml_page([record(1)], "utf-16")) is None


def test_a_byte_the_declared_codec_lacks_is_refused_in_place_too() -> None:
    body = xml_page([record(1, EMAIL="x@example.cz")], "windows-1250").replace(b"x@", b"\x81@", 1)
    assert _loads_fast(body, 64, "cp1250") is _BAIL
    with pytest.raises(XmlRpcFormatError, match="windows-1250"):
        loads_response(body)
