"""Tests for the XML-RPC wire codec: writing calls, reading responses, refusing hostile bodies."""

from __future__ import annotations

import enum
import time
import xmlrpc.client
from typing import Any

import msgspec
import pytest
from _docs import (
    MASS_RESULTS_ERRORS_XML,
    MASS_RESULTS_OK_XML,
    RAW_BOUNCES_XML,
    RAW_BOUNCES_XML_FIRST,
    REVALIDATE_FAILED_XML,
    REVALIDATE_OK_XML,
    SCHEDULE_FAILED_XML,
    SCHEDULE_OK_XML,
    UNSUBSCRIBE_FAILED_XML,
    UNSUBSCRIBE_OK_XML,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailkit_async import Bounce
from mailkit_async._codecs import _xmlrpc_wire as wire
from mailkit_async._codecs._xmlrpc_wire import (
    XmlRpcFault,
    XmlRpcFormatError,
    XmlRpcValue,
    dumps_call,
    loads_response,
)
from mailkit_async._service import BOUNCES

# --------------------------------------------------------------------------------------------
# The XML-RPC answers printed in the Mailkit documentation (verbatim in _docs) and their values.
# --------------------------------------------------------------------------------------------

# The request example of raw.bounces: a <methodCall>, which is not an answer.
RAW_BOUNCES_CALL = b"""<?xml version="1.0"?>
<methodCall>
 <methodName>mailkit.report.raw.bounces</methodName>
 <params>
  <param>
   <value>
    <int>client_id</int>
   </value>
  </param>
 </params>
</methodCall>
"""

BOUNCE_1 = {
    "ID_MESSAGE": 12345,
    "TEXT_STATUS": "smtp; 552 4.2.2 User has full mailbox.",
    "STATUS": "4.2.2",
    "ID_EMAIL": 1234567890,
    "ID_SEND": 123456,
    "EMAIL": "email@example.com",
    "ID_SEND_MESSGE": 1234567890,
    "ID_USER_LIST": 12345,
    "REMOTE_MTA": "dns; mx1.seznam.cz",
    "ID_UNDELIVERED_LOG": 1,
    "RECIPIENT_STATUS": "permanent",
}
BOUNCE_2 = {
    "ID_MESSAGE": 12345,
    "TEXT_STATUS": "",
    "STATUS": "5.2.2",
    "ID_EMAIL": 1234567891,
    "ID_SEND": 123456,
    "EMAIL": "email1@example.com",
    "ID_SEND_MESSGE": 1234567891,
    "ID_USER_LIST": 12345,
    "REMOTE_MTA": "",
    "ID_UNDELIVERED_LOG": 2,
    "RECIPIENT_STATUS": "temporary",
}

DOC_EXAMPLES = [
    (SCHEDULE_OK_XML, "OK, send_date: rrrr-mm-dd hh:mm:ss"),
    (SCHEDULE_FAILED_XML, "Missing send date of campaign"),
    (REVALIDATE_OK_XML, "example@example.cz"),
    (REVALIDATE_FAILED_XML, "example@example.cz is not unsubscribed"),
    (UNSUBSCRIBE_OK_XML, 282837490),
    (UNSUBSCRIBE_FAILED_XML, "Invalid ID_email or email"),
    (RAW_BOUNCES_XML, [BOUNCE_1, BOUNCE_2]),
    (MASS_RESULTS_OK_XML, {"status": "OK"}),
    (
        MASS_RESULTS_ERRORS_XML,
        {
            "status": "ERROR",
            "results": [
                {
                    "ERROR_CODE": 1,
                    "INFO": "url return null",
                    "DATE": "2015-05-13 09:43:50",
                    "ID_EMAIL": 123456789,
                    "EMAIL": "mail@mail.cz",
                    "ID_SEND": 12345,
                    "ID_SEND_MESSAGE": 123456789,
                }
            ],
        },
    ),
]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def response(value_xml: str | bytes) -> bytes:
    """A methodResponse around one ``<value>`` element's XML."""
    if isinstance(value_xml, str):
        value_xml = value_xml.encode()
    return (
        b'<?xml version="1.0"?><methodResponse><params><param>'
        + value_xml
        + b"</param></params></methodResponse>"
    )


def as_response(call: bytes) -> bytes:
    """Our own ``dumps_call`` output turned into a methodResponse with the same first param."""
    _, _, rest = call.partition(b"<params>")
    first = rest.split(b"</param>")[0] + b"</param>"
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><methodResponse><params>'
        + first
        + b"</params></methodResponse>"
    )


def general_only(body: bytes) -> bytes:
    """The same document with a comment in it, which the fast path hands to expat."""
    assert body.count(b"<methodResponse>") == 1
    return body.replace(b"<methodResponse>", b"<methodResponse><!-- general path -->", 1)


def loads_both(body: bytes, **kwargs: Any) -> XmlRpcValue:
    """`loads_response`, checking that the general path (expat) agrees with it."""
    value = loads_response(body, **kwargs)
    assert wire._loads_general(body, kwargs.get("max_depth", 64)) == value
    assert loads_response(general_only(body), **kwargs) == value
    return value


def same(a: Any, b: Any) -> bool:
    """Equality that also tells bool from int and checks the types of scalars."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def refused(body: bytes, **kwargs: Any) -> str:
    """Assert the body is refused with XmlRpcFormatError (by both paths); return the message."""
    with pytest.raises(XmlRpcFormatError) as info:
        loads_response(body, **kwargs)
    with pytest.raises(XmlRpcFormatError):
        wire._loads_general(body, kwargs.get("max_depth", 64))
    message = str(info.value)
    assert message and len(message) < 200
    return message


# --------------------------------------------------------------------------------------------
# The documentation's answers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "expected"), DOC_EXAMPLES)
def test_doc_examples_parse_to_exact_values(body: bytes, expected: object) -> None:
    value = loads_both(body)
    assert same(value, expected), value


@pytest.mark.parametrize(("body", "expected"), DOC_EXAMPLES)
def test_doc_examples_take_the_fast_path(body: bytes, expected: object) -> None:
    # The service's pretty-printed shape must not fall back to expat (that is the speed).
    assert same(wire._loads_fast(body, 64), expected)


def test_doc_bounces_convert_to_structs() -> None:
    records = loads_response(RAW_BOUNCES_XML)
    bounces = msgspec.convert(records, list[Bounce], strict=False)
    assert bounces[0] == RAW_BOUNCES_XML_FIRST
    assert [b.undelivered_log_id for b in bounces] == [1, 2]
    assert bounces[1].text_status == "" and bounces[1].remote_mta == ""


def test_doc_request_example_is_not_a_response() -> None:
    assert "methodCall" in refused(RAW_BOUNCES_CALL)


def test_buffer_types_are_accepted() -> None:
    assert loads_response(bytearray(UNSUBSCRIBE_OK_XML)) == 282837490
    assert loads_response(memoryview(RAW_BOUNCES_XML)) == [BOUNCE_1, BOUNCE_2]
    assert loads_response(memoryview(b"xx" + SCHEDULE_OK_XML)[2:]) == "OK, send_date: rrrr-mm-dd hh:mm:ss"


# --------------------------------------------------------------------------------------------
# Every type, both paths
# --------------------------------------------------------------------------------------------

SCALARS = [
    ("<value><i4>-17</i4></value>", -17),
    ("<value><int>+42</int></value>", 42),
    ("<value><i8>9223372036854775807</i8></value>", 2**63 - 1),
    ("<value><i8>-9223372036854775808</i8></value>", -(2**63)),
    ("<value><int> 7 </int></value>", 7),
    ("<value><i4>3000000000</i4></value>", 3000000000),  # 64-bit values tolerated in i4/int
    ("<value><boolean>1</boolean></value>", True),
    ("<value><boolean>0</boolean></value>", False),
    ("<value><boolean>true</boolean></value>", True),
    ("<value><double>-1.5</double></value>", -1.5),
    ("<value><double>2.5e3</double></value>", 2500.0),
    ("<value><double>.5</double></value>", 0.5),
    ("<value><string>a &amp; b &lt;c&gt; &quot;&apos;</string></value>", "a & b <c> \"'"),
    ("<value><string>&#x10C;e&#353;tina &#128512;</string></value>", "Čeština 😀"),
    ("<value><string>Příliš žluťoučký kůň</string></value>", "Příliš žluťoučký kůň"),
    ("<value><string>  </string></value>", "  "),
    ("<value><string></string></value>", ""),
    ("<value><string/></value>", ""),
    ("<value><string>a\r\nb\rc&#13;</string></value>", "a\nb\nc\r"),
    ("<value><string>x > y</string></value>", "x > y"),
    ("<value><string>a\r\nb\rc</string></value>", "a\nb\nc"),  # line ends as XML reads them
    ("<value>a\r\nb\rc</value>", "a\nb\nc"),
    ("<value><struct><member><name>a\rb</name><value/></member></struct></value>", {"a\nb": ""}),
    ("<value>untyped</value>", "untyped"),
    ("<value> untyped with spaces </value>", " untyped with spaces "),
    ("<value></value>", ""),
    ("<value/>", ""),
    ("<value>   </value>", "   "),
    ("<value><dateTime.iso8601>20150513T09:43:50</dateTime.iso8601></value>", "20150513T09:43:50"),
    ("<value><base64>aGVs\nbG8=</base64></value>", b"hello"),
    ("<value><base64></base64></value>", b""),
    ("<value><nil/></value>", None),
    ("<value><nil></nil></value>", None),
    ("<value><struct></struct></value>", {}),
    ("<value><struct/></value>", {}),
    ("<value><array><data></data></array></value>", []),
    ("<value><array><data/></array></value>", []),
    ("<value><array/></value>", []),
    (
        "<value><struct><member><name>a</name><value><i4>1</i4></value></member>"
        "<member><name>b&amp;c</name><value>x</value></member>"
        "<member><name></name><value><nil/></value></member></struct></value>",
        {"a": 1, "b&c": "x", "": None},
    ),
    (
        "<value><array><data><value><i4>1</i4></value><value>two</value><value><array><data>"
        "<value><struct><member><name>k</name><value><array><data/></array></value></member>"
        "</struct></value></data></array></value></data></array></value>",
        [1, "two", [{"k": []}]],
    ),
    (
        # a repeated member name: the last value wins, in the first one's place
        "<value><struct><member><name>a</name><value>1</value></member>"
        "<member><name>b</name><value>2</value></member>"
        "<member><name>a</name><value>3</value></member></struct></value>",
        {"a": "3", "b": "2"},
    ),
]


@pytest.mark.parametrize(("value_xml", "expected"), SCALARS)
def test_every_type_is_read(value_xml: str, expected: object) -> None:
    assert same(loads_both(response(value_xml)), expected)


@pytest.mark.parametrize(("value_xml", "expected"), SCALARS)
def test_every_type_is_read_pretty_printed(value_xml: str, expected: object) -> None:
    # Whitespace between container elements is ignored; within a scalar it is the value.
    pretty = value_xml
    for tag in ("struct", "member", "name", "array", "data"):
        pretty = pretty.replace(f"<{tag}>", f"\n  <{tag}>\n ").replace(f"</{tag}>", f"\n </{tag}>\n\t")
    pretty = pretty.replace("\n </name>", "</name>").replace("<name>\n ", "<name>")
    body = b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8' ?>\r\n" + response(pretty).split(b"?>", 1)[1]
    assert same(loads_both(body), expected)


def test_whitespace_around_typed_value_is_ignored_but_untyped_text_is_kept() -> None:
    assert loads_both(response("<value>\n   <i4>5</i4>\n  </value>")) == 5
    assert loads_both(response("<value>\n   \n  </value>")) == "\n   \n  "


def test_cdata_comments_and_processing_instructions() -> None:
    body = response("<value><string><![CDATA[a <b> & c]]><!-- note -->d<?pi x?>e</string></value>")
    assert loads_response(body) == "a <b> & cde"


def test_attributes_are_ignored() -> None:
    body = response('<value type="x"><i4 a="1">5</i4></value>')
    assert loads_response(body) == 5


def test_empty_params_is_an_empty_answer() -> None:
    assert loads_both(b"<methodResponse><params/></methodResponse>") == ""
    assert (
        loads_both(b'<?xml version="1.0"?>\n<methodResponse>\n <params>\n </params>\n</methodResponse>\n')
        == ""
    )


@pytest.mark.parametrize(
    "declaration",
    [
        b'<?xml version="1.0"?>',
        b"<?xml version='1.0' encoding='UTF-8'?>",
        b'<?xml version="1.0" encoding="iso-8859-1" standalone="yes"?>',
        b'<?xml  version = "1.0"  encoding = "windows-1250"  ?>',
        b"\xef\xbb\xbf",
        b"",
    ],
)
def test_xml_declarations_stay_on_the_fast_path(declaration: bytes) -> None:
    body = declaration + b"\n" + UNSUBSCRIBE_FAILED_XML.split(b"?>", 1)[1].lstrip()
    assert wire._loads_fast(body, 64) == "Invalid ID_email or email"
    assert loads_both(body) == "Invalid ID_email or email"


def test_declared_encoding_is_honoured() -> None:
    # XML 1.0 makes the declaration binding: these bytes are "Å\x99" in Latin-2, not UTF-8's "ř".
    tail = response("<value>\xc5\x99</value>".encode("latin-1"))[21:]
    assert loads_both(b'<?xml version="1.0" encoding="ISO-8859-2"?>' + tail) == "\u0139\x99"
    latin2 = b'<?xml version="1.0" encoding="ISO-8859-2"?>' + response(b"<value>\xf8</value>")[21:]
    assert loads_both(latin2) == "ř"
    # Without a declaration (or declaring UTF-8) the same byte is not UTF-8: refused.
    refused(response(b"<value>\xf8</value>"))
    refused(b'<?xml version="1.0" encoding="utf-8"?>' + response(b"<value>\xf8</value>")[21:])


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------

FAULT = b"""<?xml version="1.0"?>
<methodResponse>
  <fault>
    <value>
      <struct>
        <member>
          <name>faultCode</name>
          <value><int>4</int></value>
        </member>
        <member>
          <name>faultString</name>
          <value><string>Too many parameters.</string></value>
        </member>
      </struct>
    </value>
  </fault>
</methodResponse>
"""


def test_fault_raises_with_code_and_string() -> None:
    with pytest.raises(XmlRpcFault) as info:
        loads_response(FAULT)
    assert info.value.code == 4
    assert info.value.string == "Too many parameters."
    assert "Too many parameters." in str(info.value)
    assert not isinstance(info.value, XmlRpcFormatError)


def test_fault_with_string_code_and_untyped_text() -> None:
    body = FAULT.replace(b"<int>4</int>", b"<string>17</string>").replace(
        b"<string>Too many parameters.</string>", b"Access denied"
    )
    with pytest.raises(XmlRpcFault) as info:
        loads_response(body)
    assert (info.value.code, info.value.string) == (17, "Access denied")


@pytest.mark.parametrize(
    "body",
    [
        b"<methodResponse><fault><value><string>oops</string></value></fault></methodResponse>",
        b"<methodResponse><fault><value><struct><member><name>faultString</name><value>x</value>"
        b"</member></struct></value></fault></methodResponse>",
        b"<methodResponse><fault></fault></methodResponse>",
        FAULT.replace(b"</methodResponse>", b""),  # truncated: not a fault, a broken body
    ],
)
def test_malformed_faults_are_format_errors(body: bytes) -> None:
    refused(body)


# --------------------------------------------------------------------------------------------
# dumps_call
# --------------------------------------------------------------------------------------------


def test_dumps_call_exact_bytes() -> None:
    body = dumps_call("mailkit.x", [1, True, "a<&>b", None, [], {}])
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>mailkit.x</methodName><params>'
        b"<param><value><int>1</int></value></param>"
        b"<param><value><boolean>1</boolean></value></param>"
        b"<param><value><string>a&lt;&amp;&gt;b</string></value></param>"
        b"<param><value><nil/></value></param>"
        b"<param><value><array><data></data></array></value></param>"
        b"<param><value><struct></struct></value></param>"
        b"</params></methodCall>"
    )


def test_dumps_call_every_type_reparsed_by_stdlib() -> None:
    params: list[XmlRpcValue] = [
        0,
        -(2**31),
        2**40,
        True,
        False,
        1.25,
        -0.0,
        1e300,
        "",
        "Příliš žluťoučký kůň ]]> & < > \" ' \t\n\r 😀",
        b"\x00\xffbinary",
        b"",
        None,
        [1, ["nested", [None]], {"k": b"v"}],
        {"z": 1, "a": {"b": [True, 2.5]}, "é & <": "x"},
    ]
    body = dumps_call(BOUNCES, params)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><methodCall>')
    got, method = xmlrpc.client.loads(body, use_builtin_types=True)
    assert method == BOUNCES
    assert same(list(got), params)
    last = got[-1]
    assert isinstance(last, dict)
    assert list(last) == ["z", "a", "é & <"]  # insertion order


def test_dumps_call_bool_is_not_int_and_int_subclasses_are_numbers() -> None:
    class Code(enum.IntEnum):
        SEVEN = 7

    body = dumps_call("m", [True, Code.SEVEN, 1])
    assert b"<boolean>1</boolean>" in body
    assert b"<int>7</int>" in body and b"<int>1</int>" in body
    assert b"<int>True</int>" not in body and b"SEVEN" not in body


def test_dumps_call_tuples_are_arrays() -> None:
    body = dumps_call("m", [(1, "a")])  # type: ignore[list-item]
    assert b"<array><data><value><int>1</int></value><value><string>a</string></value></data></array>" in body


@pytest.mark.parametrize("text", ["a\x00b", "\x01", "\x1f", "\x0b", "\ud800", "\ufffe", "\uffff"])
def test_dumps_call_refuses_characters_xml_cannot_carry(text: str) -> None:
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        dumps_call("m", [text])
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        dumps_call("m", [{text: 1}])
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        dumps_call("m" + text, [])


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, float("nan"), float("inf"), -float("inf")])
def test_dumps_call_refuses_values_xmlrpc_cannot_carry(value: XmlRpcValue) -> None:
    with pytest.raises(ValueError):
        dumps_call("m", [value])


def test_dumps_call_refuses_unknown_types_and_keys() -> None:
    with pytest.raises(TypeError):
        dumps_call("m", [{1, 2}])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        dumps_call("m", [{1: "a"}])  # type: ignore[dict-item]


def test_dumps_call_refuses_recursive_values() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="deeper"):
        dumps_call("m", [loop])


# --------------------------------------------------------------------------------------------
# Hostile and broken bodies
# --------------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodResponse><params><param><value><string>&lol9;</string></value></param></params></methodResponse>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE methodResponse [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodResponse><params><param><value><string>&xxe;</string></value></param></params></methodResponse>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE methodResponse [
 <!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">
 %remote;
 <!ENTITY % inner "<!ENTITY x 'y'>">
 %inner;
]>
<methodResponse><params><param><value><string>&x;</string></value></param></params></methodResponse>
"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE methodResponse>
<methodResponse><params><param><value><string>hi</string></value></param></params></methodResponse>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE methodResponse SYSTEM "file:///etc/passwd">
<methodResponse><params><param><value><string>hi</string></value></param></params></methodResponse>
"""

DTD_BODIES = [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, PLAIN_DOCTYPE, EXTERNAL_DTD]


@pytest.mark.parametrize(
    "body", DTD_BODIES, ids=["billion-laughs", "xxe", "param-entity", "doctype", "ext-dtd"]
)
def test_dtds_are_refused(body: bytes) -> None:
    started = time.perf_counter()
    message = refused(body)
    assert time.perf_counter() - started < 0.5
    assert "DTD" in message or "DOCTYPE" in message
    assert "root:" not in message  # nothing of /etc/passwd leaks into the message


@pytest.mark.parametrize(
    "body", DTD_BODIES, ids=["billion-laughs", "xxe", "param-entity", "doctype", "ext-dtd"]
)
def test_dtds_are_refused_by_expat_handlers_too(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    # Defence in depth: without the byte scan, the expat handlers still stop before any entity.
    monkeypatch.setattr(wire, "_check_raw", lambda data: None)
    with pytest.raises(XmlRpcFormatError, match="DTD"):
        loads_response(body)


@pytest.mark.parametrize(
    "body", DTD_BODIES, ids=["billion-laughs", "xxe", "param-entity", "doctype", "ext-dtd"]
)
def test_byte_scan_refuses_dtds_before_expat(body: bytes) -> None:
    with pytest.raises(XmlRpcFormatError, match="DOCTYPE"):
        wire._check_raw(body)
    with pytest.raises(XmlRpcFormatError, match="DOCTYPE"):
        wire._check_raw(b"<methodResponse><!ENTITY x 'y'></methodResponse>")
    with pytest.raises(XmlRpcFormatError, match="DOCTYPE"):
        wire._check_raw(b"<!-- a --><!doctype x>")
    wire._check_raw(b"<!-- a --><x><![CDATA[<]]></x>")  # comments and CDATA are fine


@pytest.mark.parametrize(
    ("body", "handler", "also_off"),
    [
        (b"<!DOCTYPE x [<!ENTITY e 'v'>]><x/>", "EntityDeclHandler", ()),
        (b"<!DOCTYPE x [<!ENTITY % p 'v'>]><x/>", "EntityDeclHandler", ()),
        (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x/>", "EntityDeclHandler", ()),
        # expat reports an unparsed entity to EntityDeclHandler when that is set
        (
            b"<!DOCTYPE x [<!ENTITY e SYSTEM 'u' NDATA n>]><x/>",
            "UnparsedEntityDeclHandler",
            ("EntityDeclHandler",),
        ),
        (b"<!DOCTYPE x [<!NOTATION n SYSTEM 'u'>]><x/>", "NotationDeclHandler", ()),
        (b"<!DOCTYPE x [<!ELEMENT x ANY>]><x/>", "ElementDeclHandler", ()),
        (b"<!DOCTYPE x [<!ATTLIST x a CDATA 'v'>]><x/>", "AttlistDeclHandler", ()),
    ],
)
def test_each_dtd_handler_refuses_on_its_own(body: bytes, handler: str, also_off: tuple[str, ...]) -> None:
    # Even if <!DOCTYPE were let through, each declaration inside it stops the parse.
    parser = wire._new_parser()
    for name in ("StartDoctypeDeclHandler", *also_off):
        setattr(parser, name, None)
    with pytest.raises(XmlRpcFormatError, match="DTD"):
        parser.Parse(body, True)
    parser = wire._new_parser()
    for name in ("StartDoctypeDeclHandler", *also_off, handler):
        setattr(parser, name, None)
    parser.Parse(body, True)  # so it was the handler under test that refused


def test_no_entity_is_expanded_before_the_refusal() -> None:
    seen: list[str] = []
    parser = wire._new_parser()
    parser.CharacterDataHandler = seen.append
    with pytest.raises(XmlRpcFormatError):
        parser.Parse(b"<!DOCTYPE x [<!ENTITY e 'expanded'>]><x>&e;</x>", True)
    assert seen == []


def test_dtd_hidden_after_a_comment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"<!-- hi --><!DOCTYPE x [<!ENTITY a 'b'>]><methodResponse/>"
    assert "DTD" in refused(body)
    monkeypatch.setattr(wire, "_check_raw", lambda data: None)
    with pytest.raises(XmlRpcFormatError, match="DTD"):
        loads_response(body)


def test_undefined_and_bare_entities_are_refused() -> None:
    refused(response("<value><string>&nbsp;</string></value>"))
    refused(response("<value><string>a & b</string></value>"))
    refused(response("<value><string>&#0;</string></value>"))
    refused(response("<value><string>&#xFFFE;</string></value>"))
    refused(response("<value><string>&amp</string></value>"))


def nested_arrays(depth: int) -> bytes:
    return response("<value><array><data>" * depth + "<value>x</value>" + "</data></array></value>" * depth)


def nested_structs(depth: int) -> bytes:
    return response(
        "<value><struct><member><name>n</name>" * depth
        + "<value>x</value>"
        + "</member></struct></value>" * depth
    )


@pytest.mark.parametrize("make", [nested_arrays, nested_structs])
def test_deep_nesting_is_refused_quickly(make: Any) -> None:
    body = make(100_000)
    started = time.perf_counter()
    message = refused(body)
    assert time.perf_counter() - started < 1.0
    assert "deeper than 64" in message


@pytest.mark.parametrize("make", [nested_arrays, nested_structs])
def test_max_depth_is_the_limit(make: Any) -> None:
    assert loads_both(make(64)) is not None
    refused(make(65))
    assert loads_both(make(3), max_depth=3) is not None
    refused(make(4), max_depth=3)
    refused(response("<value><array/></value>"), max_depth=0)
    refused(
        response("<value><struct><member><name>a</name><value><struct/></value></member></struct></value>"),
        max_depth=1,
    )


def test_deep_nesting_of_plain_elements_is_refused_without_recursion() -> None:
    refused(b"<methodResponse>" + b"<value>" * 100_000 + b"</value>" * 100_000 + b"</methodResponse>")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",  # not UTF-8 at all
        b"\xc3",  # truncated sequence
        b"\xc0\xaf",  # overlong '/'
        b"\xed\xa0\x80",  # an encoded surrogate
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
        b"\xef\xbf\xbe",  # U+FFFE, not an XML character
    ],
)
def test_invalid_utf8_is_refused(raw: bytes) -> None:
    refused(response(b"<value><string>a" + raw + b"</string></value>"))
    refused(response(b"<value>" + raw + b"</value>"))
    refused(
        response(
            b"<value><struct><member><name>" + raw + b"</name><value>1</value></member></struct></value>"
        )
    )


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_are_read(codec: str) -> None:
    # With a BOM, or (UTF-16 without one) by the form of "<?" that XML 1.0 appendix F names.
    name = codec.split("-l")[0].split("-b")[0]
    text = UNSUBSCRIBE_OK_XML.decode().replace("utf-8", name)
    body = text.encode(codec)
    assert loads_response(body) == wire._loads_general(body, 64) == loads_both(UNSUBSCRIBE_OK_XML)


def test_nul_bytes_and_wrong_encodings_are_refused() -> None:
    refused(response(b"<value><string>a\x00b</string></value>"))
    # Declared UTF-16 but sent as ASCII bytes, an unknown name, bytes the codec cannot read.
    refused(UNSUBSCRIBE_OK_XML.replace(b"utf-8", b"utf-16"))
    assert "unknown encoding" in refused(UNSUBSCRIBE_OK_XML.replace(b"utf-8", b"no-such-codec"))
    refused(UNSUBSCRIBE_OK_XML.replace(b"utf-8", b"ascii").replace(b"</i4>", b"</i4>\xff"))


@pytest.mark.parametrize("char", [b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1f"])
def test_control_characters_are_refused(char: bytes) -> None:
    refused(response(b"<value><string>a" + char + b"</string></value>"))


def test_cdata_end_in_text_is_refused() -> None:
    refused(response("<value><string>a]]>b</string></value>"))


@pytest.mark.parametrize("cut", [1, 10, 40, 100, 500, 1000, -30, -17, -1])
def test_truncated_bodies_are_refused(cut: int) -> None:
    refused(RAW_BOUNCES_XML.rstrip()[:cut])


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        b"<html><body><h1>503 Service Unavailable</h1></body></html>",
        b"<html><body><p>unclosed<br></body></html>",
        b'{"error_status": 1, "error": "Unauthorized"}',
        b"Unauthorized",
    ],
)
def test_html_and_other_non_xmlrpc_bodies_are_refused(body: bytes) -> None:
    refused(body)


@pytest.mark.parametrize("body", [b"", b"   \r\n\t ", b"\xef\xbb\xbf"])
def test_empty_body_is_refused(body: bytes) -> None:
    refused(body)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<methodCall><methodName>x</methodName><params/></methodCall>", "methodCall"),
        (b"<foo/>", "foo"),
        (b"<methodResponse/>", "empty"),
        (
            b"<methodResponse><params><param><value>1</value></param></params><params/></methodResponse>",
            "more than one",
        ),
        (b"<methodResponse><param><value>1</value></param></methodResponse>", "unexpected <param>"),
        (b"<methodResponse>text<params/></methodResponse>", "text"),
    ],
)
def test_wrong_roots_and_shapes_are_refused(body: bytes, words: str) -> None:
    assert words in refused(body)


@pytest.mark.parametrize(
    "value_xml",
    [
        "<value><i4>1</i4><string>x</string></value>",  # two typed children
        "<value><i4>1</i4><i4>2</i4></value>",
        "<value>text<i4>1</i4></value>",  # text and a typed child
        "<value><i4>1</i4>text</value>",
        "<value><i4>abc</i4></value>",
        "<value><int></int></value>",
        "<value><int>1.5</int></value>",
        "<value><int>1_000</int></value>",
        "<value><int>0x10</int></value>",
        "<value><int>9223372036854775808</int></value>",  # overflow
        "<value><i8>-9223372036854775809</i8></value>",
        "<value><i4>" + "9" * 5000 + "</i4></value>",
        "<value><boolean>2</boolean></value>",
        "<value><boolean></boolean></value>",
        "<value><double>nan</double></value>",
        "<value><double>inf</double></value>",
        "<value><double>1e999</double></value>",
        "<value><double>1,5</double></value>",
        "<value><base64>!!!!</base64></value>",
        "<value><base64>abc</base64></value>",
        "<value><nil>x</nil></value>",
        "<value><foo>1</foo></value>",  # unknown type
        "<value><i4><i4>1</i4></i4></value>",  # child in a scalar
        "<value><struct>text</struct></value>",
        "<value><struct><value>1</value></struct></value>",
        "<value><struct><member><name>a</name></member></struct></value>",  # no value
        "<value><struct><member><value>1</value></member></struct></value>",  # no name
        "<value><struct><member><value>1</value><name>a</name></member></struct></value>",
        "<value><struct><member><name>a</name><value>1</value><value>2</value></member></struct></value>",
        "<value><struct><member><name>a<i4>1</i4></name><value>1</value></member></struct></value>",
        "<value><array><value>1</value></array></value>",  # no <data>
        "<value><array><data>x</data></array></value>",
        "<value><array><data/><data/></array></value>",
        "<value><array><data><member><name>a</name><value>1</value></member></data></array></value>",
        "<value>1</value><value>2</value>",  # two values in the param
        "<value><struct></data></array></value>",  # mismatched end tags
        "<value><array><data></struct></value>",
        "<value><struct><member><name>a</name><value><array><data/></array></value></struct></value>",
        "<value><struct><member><name>a</name><value><array><data></data></array></value></struct></value>",
        "<value><array><data><value><struct></struct></value></member></data></array></value>",
    ],
)
def test_bad_values_are_refused(value_xml: str) -> None:
    refused(response(value_xml))


def test_two_params_are_refused() -> None:
    body = b"<methodResponse><params><param><value>1</value></param><param><value>2</value></param></params></methodResponse>"
    assert "more than one" in refused(body)
    refused(b"<methodResponse><params><param></param></params></methodResponse>")


def test_junk_after_the_document_is_refused() -> None:
    refused(SCHEDULE_OK_XML + b"<x/>")
    refused(SCHEDULE_OK_XML + b"junk")
    refused(b" " + SCHEDULE_OK_XML)  # nothing may come before the XML declaration


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

xml_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\ufffe\uffff").filter(
        lambda c: c in "\t\n\r" or c >= " "
    ),
    max_size=12,
)
xmlrpc_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | xml_text
    | st.binary(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(xml_text, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xmlrpc_values)
def test_round_trip_through_our_own_writer(value: XmlRpcValue) -> None:
    body = as_response(dumps_call("m", [value]))
    assert same(loads_both(body), value)
    # and the standard library reads what we write the same way
    (got,), _ = xmlrpc.client.loads(body, use_builtin_types=True)
    assert got == value


def has_cr(value: object) -> bool:
    if isinstance(value, str):
        return "\r" in value
    if isinstance(value, list):
        return any(has_cr(item) for item in value)
    if isinstance(value, dict):
        return any(has_cr(key) or has_cr(item) for key, item in value.items())
    return False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xmlrpc_values.filter(lambda v: not has_cr(v)))  # the stdlib writes '\r' raw: it reads back as '\n'
def test_round_trip_from_the_stdlib_writer(value: XmlRpcValue) -> None:
    try:
        body = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True).encode()
    except OverflowError:  # the stdlib writes only 32-bit ints
        return
    assert same(loads_both(body), value)


def outcome(body: bytes) -> object:
    try:
        return ("value", loads_response(body))
    except XmlRpcFault as fault:
        return ("fault", fault.code, fault.string)
    except XmlRpcFormatError:
        return ("error",)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_our_errors(body: bytes) -> None:
    outcome(body)
    outcome(b"<methodResponse><params><param><value>" + body)


MUTATION_PIECES = [
    b"<",
    b">",
    b"/",
    b"&",
    b"&amp;",
    b"&#",
    b";",
    b"\xff",
    b"\xc3",
    b"\x00",
    b"\r",
    b"]]>",
    b"<!DOCTYPE x>",
    b"<!ENTITY e 'x'>",
    b"<!-- c -->",
    b"<![CDATA[x]]>",
    b"<value>",
    b"</value>",
    b"<struct>",
    b"</struct>",
    b"<array><data>",
    b"</data></array>",
    b"<member>",
    b"</member>",
    b"<name>",
    b"</name>",
    b"<i4>",
    b"</i4>",
    b"<nil/>",
    b"<string/>",
    b"9",
    b" ",
]
SEEDS = [body for body, _ in DOC_EXAMPLES] + [FAULT, response(SCALARS[-2][0]), response(SCALARS[-3][0])]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(
            st.floats(0, 1), st.integers(0, 6), st.sampled_from(MUTATION_PIECES) | st.binary(max_size=3)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_bodies_only_raise_our_errors_and_both_paths_agree(
    seed: bytes, edits: list[tuple[float, int, bytes]]
) -> None:
    body = seed
    for where, delete, insert in edits:
        at = int(where * len(body))
        body = body[:at] + insert + body[at + delete :]
    got = outcome(body)
    # The fast path is only a shortcut: whatever it accepts, expat accepts identically.
    try:
        general: object = ("value", wire._loads_general(body, 64))
    except XmlRpcFault as fault:
        general = ("fault", fault.code, fault.string)
    except XmlRpcFormatError:
        general = ("error",)
    assert same(got, general), (body, got, general)
