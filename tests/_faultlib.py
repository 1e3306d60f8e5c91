"""Shared helpers of the fault, hostile-body and fuzz suites: clients, real refusals, secret checks."""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from mailkit_async import (
    Mailkit,
    MailkitError,
    MassSendResults,
    RetryPolicy,
    Revalidation,
    ScheduleResult,
    Unsubscription,
)
from mailkit_async.testing import FaultRule, MailkitEmulator

# Long enough that redacting it cannot mangle ordinary words in messages (a one-letter secret would).
MD5 = "5f4dcc3b5aa765d61d8327deb882cf99"
CLIENT_ID = 1

SCHEDULE = "mailkit.campaigns.single.schedule"
RESULTS = "mailkit.sendmail_mass.results"
REVALIDATE = "mailkit.email.revalidate"
UNSUBSCRIBE = "mailkit.email.unsubscribe"
BOUNCES = "mailkit.report.raw.bounces"

PROTOCOLS = ["json", "xmlrpc"]

# Short timeouts keep a suite of slow-header and slow-body faults fast: a read that stalls for
# longer than READ seconds is a timeout.
READ = 0.5


def timeout(read: float = READ, *, pool: float = 2.0) -> httpx.Timeout:
    return httpx.Timeout(2.0, read=read, pool=pool)


def loopback_client(
    url: str,
    protocol: str = "json",
    *,
    retry: RetryPolicy | None = None,
    read: float = READ,
    http_client: httpx.AsyncClient | None = None,
    **kwargs: Any,
) -> Mailkit:
    """A client of an emulator served on loopback, retrying at once (no backoff) by default."""
    return Mailkit(
        CLIENT_ID,
        MD5,
        protocol=protocol,  # type: ignore[arg-type]
        base_url=url,
        timeout=None if http_client is not None else timeout(read),
        retry=retry if retry is not None else RetryPolicy(backoff=0),
        http_client=http_client,
        **kwargs,
    )


def emulator(**kwargs: Any) -> MailkitEmulator:
    return MailkitEmulator(client_id=CLIENT_ID, client_md5=MD5, **kwargs)


def fired(rules: list[FaultRule]) -> int:
    """How many times these rules fired (a rule spent with `times=` drops out of `emu.faults.rules`,
    so keep the rules `add()` returned)."""
    return sum(rule.fired for rule in rules)


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for real: bound, never listening (ECONNREFUSED)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


class RefusingTransport(httpx.AsyncHTTPTransport):
    """A real pooled transport whose first `refusals` requests go to a port that refuses the
    connection: the kernel answers RST to the SYN, so those requests provably never reached the
    service. Every later request goes where it was addressed."""

    def __init__(self, refusals: int, refused_port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusals = refusals
        self.refused_port = refused_port
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.refusals > 0:
            self.refusals -= 1
            request = httpx.Request(
                request.method,
                request.url.copy_with(port=self.refused_port),
                headers=request.headers,
                stream=request.stream,
                extensions=request.extensions,
            )
        return await super().handle_async_request(request)


def server_clock(emu: MailkitEmulator) -> list[tuple[float, str | None]]:
    """Stamp every request the emulator receives (monotonic time, function), server side."""
    stamps: list[tuple[float, str | None]] = []
    receive = emu.receive

    def stamped(*args: Any, **kwargs: Any) -> Any:
        exchange = receive(*args, **kwargs)
        stamps.append((time.monotonic(), exchange.record.function))
        return exchange

    emu.receive = stamped  # type: ignore[method-assign]
    return stamps


def texts_of(error: BaseException) -> list[str]:
    """Everything a user could see of an error: message, repr, args, excerpt, the rendered
    traceback, and the same for every exception chained to it."""
    seen: list[str] = []
    todo: list[BaseException | None] = [error]
    visited: set[int] = set()
    while todo:
        current = todo.pop()
        if current is None or id(current) in visited:
            continue
        visited.add(id(current))
        seen.append(str(current))
        seen.append(repr(current))
        seen.extend(repr(arg) for arg in current.args)
        seen.append(repr(getattr(current, "excerpt", "")))
        seen.append(repr(vars(current)) if hasattr(current, "__dict__") else "")
        todo.extend([current.__cause__, current.__context__])
    seen.append("".join(traceback.format_exception(error)))
    return seen


def assert_no_secret(error: BaseException, secret: str = MD5) -> None:
    for text in texts_of(error):
        assert secret not in text, f"client_md5 leaked: {text[:300]!r}"


def assert_typed(error: BaseException) -> None:
    assert isinstance(error, MailkitError), f"{type(error).__name__}: {error}"
    assert_no_secret(error)


Invoke = Callable[[Mailkit], Any]


# --- every typed call, for the suites that treat them alike ------------------------------------------


async def drain_bounces(mk: Mailkit) -> list[Any]:
    return [bounce async for bounce in mk.report.raw.bounces()]


# name: (function, invoke, the types a success may return)
TYPED_CALLS: dict[str, tuple[str, Invoke, tuple[type, ...]]] = {
    "schedule": (SCHEDULE, lambda mk: mk.campaigns.single.schedule(7, "now"), (ScheduleResult,)),
    "cancel": (SCHEDULE, lambda mk: mk.campaigns.single.cancel(7), (ScheduleResult, type(None))),
    "results": (RESULTS, lambda mk: mk.sendmail_mass.results(55), (MassSendResults,)),
    "revalidate": (
        REVALIDATE,
        lambda mk: mk.email.revalidate("a@example.com", agreement=True),
        (Revalidation,),
    ),
    "revalidate-mail": (REVALIDATE, lambda mk: mk.email.revalidate(123, agreement=False), (Revalidation,)),
    "unsubscribe": (UNSUBSCRIBE, lambda mk: mk.email.unsubscribe("a@example.com"), (Unsubscription,)),
    "bounces": (BOUNCES, drain_bounces, (list,)),
    "call": ("mailkit.x.y", lambda mk: mk.call("mailkit.x.y", ()), (object,)),
}


def body_client(protocol: str, body: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> Mailkit:
    """A client whose every request is answered by `body` in-process (no retries by default)."""
    kwargs.setdefault("retry", RetryPolicy(attempts=1))
    http = httpx.AsyncClient(transport=httpx.MockTransport(body))
    return Mailkit(CLIENT_ID, MD5, protocol=protocol, http_client=http, **kwargs)  # type: ignore[arg-type]
