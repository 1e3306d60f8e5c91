"""Scripted failures: what the emulator does instead of (or after) answering a request normally.

A `Fault` says *what* goes wrong; `FaultPlan.add()` says *when* (which function, how many times,
with what probability). How a fault plays out is written once, here, as its `steps`: the
in-process transport and the loopback server only act each step out in their own medium, so a
test reads the same whichever it uses.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Final, Literal

__all__ = [
    "DROP",
    "NORMAL",
    "Drop",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "Pause",
    "Process",
    "Refuse",
    "Replace",
    "Send",
    "Step",
    "reason",
]

FaultKind = Literal["status", "body", "drop", "connect", "delay", "slow_body", "truncate"]


# -- the steps an exchange is made of ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Refuse:
    """Refuse the connection: the request provably never arrived."""


@dataclasses.dataclass(frozen=True)
class Pause:
    """Wait `seconds`; a client that gives up meanwhile never sees the steps after it."""

    seconds: float


@dataclasses.dataclass(frozen=True)
class Process:
    """Run the function (its state may change): its answer becomes the reply."""


@dataclasses.dataclass(frozen=True)
class Replace:
    """The fault's own answer becomes the reply (the function's, if it ran, is lost)."""


@dataclasses.dataclass(frozen=True)
class Drop:
    """Close the connection without an answer."""


@dataclasses.dataclass(frozen=True)
class Send:
    """Send the reply: `chunk` bytes at a time, `interval` apart (0: at once); only `cut` bytes of
    its body (under its full Content-Length), then close, when `cut` is not None."""

    chunk: int = 0
    interval: float = 0.0
    cut: int | None = None


Step = Refuse | Pause | Process | Replace | Drop | Send
REFUSE: Final = Refuse()
PROCESS: Final = Process()
REPLACE: Final = Replace()
DROP: Final = Drop()
#: An exchange without a fault.
NORMAL: Final[tuple[Step, ...]] = (PROCESS, Send())

_REASONS: Final = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def reason(status: int) -> str:
    """The reason phrase the emulator prints for `status`."""
    return _REASONS.get(status, "OK" if status == 200 else "Error")


def _nginx_page(status: int) -> bytes:
    # What a reverse proxy in front of the service answers when it gives up.
    title = f"{status} {reason(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


_APP_ERROR_PAGE: Final = (
    b'<!DOCTYPE html>\n<html lang="cs">\n<head><meta charset="utf-8"><title>Mailkit</title></head>\n'
    b"<body>\n<h1>Slu\xc5\xbeba je do\xc4\x8dasn\xc4\x9b nedostupn\xc3\xa1</h1>\n"
    b"<p>Service temporarily unavailable. Please try again later.</p>\n</body>\n</html>\n"
)


def _retry_after(value: float | str | datetime | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return format_datetime(when.astimezone(timezone.utc), usegmt=True)
    if isinstance(value, bool) or value < 0:
        raise ValueError(f"retry_after must be seconds >= 0, an HTTP-date or a datetime, not {value!r}")
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclasses.dataclass(frozen=True)
class Fault:
    """One failure to act out. Build it with the constructors (`Fault.status(503)`, `Fault.drop()`...).

    By default a failure that replaces the answer happens *before* the function runs (the service
    never processed the request); `fault.after_processing()` runs the function first (its state
    changes), then fails the answer: "the request reached the service but the answer was lost".
    `truncate` and `slow_body` always carry the real answer, so the request is always processed.
    """

    kind: FaultKind
    http_status: int = 200
    retry_after: str | None = None
    content: bytes = b""
    content_type: str = "text/html"
    seconds: float = 0.0
    n_bytes: int = 0
    chunk: int = 0
    after: bool = False

    @classmethod
    def status(
        cls,
        status: int,
        *,
        retry_after: float | str | datetime | None = None,
        body: bytes | None = None,
        content_type: str = "text/html",
    ) -> Fault:
        """Answer HTTP `status` (429, 500, 503...) with a proxy error page and optional `Retry-After`.

        Args:
            status: The HTTP status code.
            retry_after: A `Retry-After` header: seconds, an HTTP-date string, or a datetime
                (sent as an HTTP-date). Default: none.
            body: The body instead of the default nginx-style error page.
            content_type: The body's Content-Type; default `text/html`.

        Raises:
            ValueError: `status` is not an HTTP status, or `retry_after` is negative.
        """
        if not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {status!r}")
        return cls(
            "status",
            http_status=status,
            retry_after=_retry_after(retry_after),
            content=_nginx_page(status) if body is None else bytes(body),
            content_type=content_type,
        )

    @classmethod
    def html(cls, status: int = 200) -> Fault:
        """Answer an HTML error page (by default with status 200) instead of the protocol's answer."""
        return cls(
            "body", http_status=status, content=_APP_ERROR_PAGE, content_type="text/html; charset=utf-8"
        )

    @classmethod
    def body(cls, content: bytes, *, status: int = 200, content_type: str = "text/plain") -> Fault:
        """Answer these exact bytes (malformed JSON, XML that is not XML-RPC, a DTD...)."""
        return cls("body", http_status=status, content=bytes(content), content_type=content_type)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without an answer (a reset): `httpx.RemoteProtocolError` in-process."""
        return cls("drop")

    @classmethod
    def connect(cls) -> Fault:
        """Refuse the connection: `httpx.ConnectError` in-process (the request provably never
        arrived); on the loopback server the connection is reset before anything is answered."""
        return cls("connect")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait `seconds` before the answer's headers. Before processing by default: a client that
        gives up during the wait leaves the request unprocessed."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        return cls("delay", seconds=float(seconds))

    @classmethod
    def slow_body(cls, bytes_per_chunk: int, interval: float) -> Fault:
        """Send the real answer `bytes_per_chunk` at a time, `interval` seconds apart."""
        if bytes_per_chunk < 1 or interval < 0:
            raise ValueError("bytes_per_chunk must be >= 1 and interval >= 0")
        return cls("slow_body", chunk=bytes_per_chunk, seconds=float(interval), after=True)

    @classmethod
    def truncate(cls, n_bytes: int) -> Fault:
        """Send the real answer's headers (full Content-Length) and only `n_bytes` of its body."""
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        return cls("truncate", n_bytes=n_bytes, after=True)

    @property
    def steps(self) -> tuple[Step, ...]:
        """How this fault plays out, step by step (every exchange ends in a `Send`, a `Drop` or a
        `Refuse`). Without `after_processing()`, an answer that stands in for the function's
        replaces it before the function runs: the request was counted, never processed."""
        kind = self.kind
        if kind == "connect":
            return (REFUSE,)
        if kind == "delay":
            wait = Pause(self.seconds)
            return (PROCESS, wait, Send()) if self.after else (wait, PROCESS, Send())
        if kind == "slow_body":
            return (PROCESS, Send(chunk=self.chunk, interval=self.seconds))
        if kind == "truncate":
            return (PROCESS, Send(cut=self.n_bytes))
        first: tuple[Step, ...] = (PROCESS,) if self.after else ()
        return (*first, DROP) if kind == "drop" else (*first, REPLACE, Send())

    def after_processing(self) -> Fault:
        """This fault, but after the function ran: the state changed, then the answer failed.

        Works as a method (`Fault.status(503).after_processing()`) and as
        `Fault.after_processing(Fault.status(503))`."""
        if self.kind == "connect":
            raise ValueError("a refused connection cannot happen after the request was processed")
        return dataclasses.replace(self, after=True)

    @property
    def before_processing(self) -> bool:
        """True when the function does not run at all (the state stays as it was)."""
        return PROCESS not in self.steps

    def __repr__(self) -> str:
        detail = {
            "status": f"{self.http_status}"
            + (f", retry_after={self.retry_after!r}" if self.retry_after else ""),
            "body": f"status={self.http_status}, {len(self.content)} bytes of {self.content_type}",
            "drop": "",
            "connect": "",
            "delay": f"{self.seconds}",
            "slow_body": f"{self.chunk}, {self.seconds}",
            "truncate": f"{self.n_bytes}",
        }[self.kind]
        suffix = ".after_processing()" if self.after and self.kind not in ("slow_body", "truncate") else ""
        return f"Fault.{self.kind}({detail}){suffix}"


@dataclasses.dataclass
class FaultRule:
    """A fault scheduled by `FaultPlan.add`; `remaining` is None for "every matching request"."""

    fault: Fault
    function: str | None
    protocol: str | None
    probability: float
    remaining: int | None
    fired: int = 0

    def matches(self, function: str | None, protocol: str | None) -> bool:
        return (
            self.remaining != 0
            and (self.function is None or self.function == function)
            and (self.protocol is None or self.protocol == protocol)
        )


class FaultPlan:
    """The ordered faults an emulator will act out. Thread-safe; the dice are seeded.

    ```python
    emu.faults.add(Fault.status(503, retry_after=2), times=2, function="mailkit.report.raw.bounces")
    ```
    Each request consults the rules in the order they were added; the first rule that matches it
    (function, protocol, remaining count) and wins its dice roll fires, once.
    """

    def __init__(self, seed: int | None = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)

    def add(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        function: str | None = None,
        protocol: Literal["json", "xmlrpc"] | None = None,
        probability: float = 1.0,
    ) -> FaultRule:
        """Act `fault` out on the next `times` matching requests (None: on every one).

        Args:
            fault: What to act out (`Fault.status(503)`, `Fault.drop()`...).
            times: How many matching requests it fires on; default 1, `None` for every one.
            function: Only requests for this Mailkit function; default: any.
            protocol: Only `"json"` or only `"xmlrpc"` requests; default: both.
            probability: The chance (0..1) that a matching request fires it; default 1. The dice
                are seeded (`MailkitEmulator(seed=...)`, `FaultPlan.seed()`), so runs repeat.

        Returns:
            The rule, whose `fired` and `remaining` counts tests can read.

        Raises:
            TypeError: `fault` is not a `Fault`.
            ValueError: `times` below 1, or `probability` outside 0..1.
        """
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for every matching request)")
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        rule = FaultRule(fault, function, protocol, probability, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def extend(self, faults: Sequence[Fault], *, function: str | None = None) -> None:
        """Act these faults out one after another, one request each."""
        for fault in faults:
            self.add(fault, function=function)

    def seed(self, seed: int | None) -> None:
        """Re-seed the dice used by `probability`."""
        with self._lock:
            self._random.seed(seed)

    def clear(self) -> None:
        """Forget every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """The rules that may still fire, in order."""
        with self._lock:
            return [rule for rule in self._rules if rule.remaining != 0]

    def __len__(self) -> int:
        return len(self.rules)

    def draw(self, function: str | None, protocol: str | None) -> Fault | None:
        """The fault for one request (consuming it), or None."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(function, protocol):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.fired += 1
                return rule.fault
        return None

    def __repr__(self) -> str:
        return f"FaultPlan({self.rules!r})"
