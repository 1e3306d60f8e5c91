"""Settings read from the environment: `MAILKIT_BASE_URL`, as the credentials are read."""

from __future__ import annotations

import pytest
import respx
from support.clients import CLIENT_ID, MD5, PATHS, client, reply

from mailkit_async import InvalidParameterError, Mailkit
from mailkit_async._service import DEFAULT_BASE_URL, JSON_PATH

pytestmark = pytest.mark.anyio

UNSUBSCRIBED = {"error_status": 0, "ID_email": "5", "status": "1"}
UNSUBSCRIBED_XML = b'<?xml version="1.0"?><methodResponse><params><param><value><i4>5</i4></value></param></params></methodResponse>'


@pytest.mark.parametrize("protocol", ["json", "xmlrpc"])
async def test_base_url_falls_back_to_the_environment(
    anyio_backend: str, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILKIT_BASE_URL", "http://127.0.0.1:8999/prefix/")
    with respx.mock(assert_all_called=False) as router:
        default = router.post(url__startswith=DEFAULT_BASE_URL).mock(return_value=reply(UNSUBSCRIBED))
        body = UNSUBSCRIBED if protocol == "json" else UNSUBSCRIBED_XML
        env = router.post("http://127.0.0.1:8999/prefix" + PATHS[protocol]).mock(return_value=reply(body))
        async with client(protocol) as mk:
            assert "127.0.0.1:8999/prefix" in repr(mk)
            assert (await mk.email.unsubscribe(5)).email_id == 5
    assert env.call_count == 1
    assert not default.called


async def test_an_explicit_base_url_wins_over_the_environment(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILKIT_BASE_URL", "http://127.0.0.1:8999")
    with respx.mock(assert_all_called=False) as router:
        env = router.post(url__startswith="http://127.0.0.1:8999").mock(return_value=reply(UNSUBSCRIBED))
        given = router.post(f"https://proxy.example.test{JSON_PATH}").mock(return_value=reply(UNSUBSCRIBED))
        async with client("json", base_url="https://proxy.example.test") as mk:
            await mk.email.unsubscribe(5)
    assert given.call_count == 1
    assert not env.called


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_or_missing_variable_means_the_real_service(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("MAILKIT_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("MAILKIT_BASE_URL", value)
    assert f"base_url='{DEFAULT_BASE_URL}'" in repr(Mailkit(CLIENT_ID, MD5))


def test_a_bad_variable_is_refused_at_construction_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILKIT_BASE_URL", "api.mailkit.eu")
    with pytest.raises(InvalidParameterError, match="MAILKIT_BASE_URL"):
        Mailkit(CLIENT_ID, MD5)
