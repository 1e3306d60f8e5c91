"""One request on its way through the emulator, as steps any medium can act out.

`MailkitEmulator.receive()` counts a request and picks its fault; the `Exchange` it returns walks
the fault's steps (`Fault.steps`), running the function or standing the fault's answer in for it
where they say, and hands the medium only what the medium must do: pause, refuse, drop, or send
the reply (at once, slowly, or cut short). The in-process transport, the loopback server and
`handle()` below only act those out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol as TypingProtocol
from typing import TypeVar

import anyio

from ._faults import DROP, NORMAL, Drop, Fault, Pause, Process, Refuse, Replace, Send, Step, reason
from ._wire import Protocol

__all__ = [
    "ConnectionDropped",
    "Deliver",
    "Exchange",
    "Reply",
    "Receiver",
    "RequestRecord",
    "act_out",
    "html_page",
]


class ConnectionDropped(ConnectionError):
    """`MailkitEmulator.handle()`: the scripted fault closes the connection without an answer."""


@dataclasses.dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers (Content-Length is the plug-in's job) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclasses.dataclass
class RequestRecord:
    """One request the emulator received, for tests that count or inspect calls.

    `processed`: the function ran (its state may have changed). `status`: the HTTP status answered,
    None while unanswered or when the connection was dropped. `params` never hold the md5."""

    protocol: Protocol | None
    function: str | None
    params: Mapping[str, object]
    peer: str
    fault: Fault | None
    processed: bool = False
    status: int | None = None


@dataclasses.dataclass(frozen=True)
class Deliver:
    """The step that sends `reply`, paced or cut as `send` says."""

    reply: Reply
    send: Send


#: What a medium acts out, in order; every exchange ends in a `Deliver`, a `Drop` or a `Refuse`.
Action = Pause | Refuse | Drop | Deliver


class Exchange:
    """A received request on its way through: counted, its fault chosen. `play()` walks its steps;
    `respond()` is the answer alone, for callers with no medium to act a fault out in."""

    def __init__(self, record: RequestRecord, answer: Callable[[], Reply]) -> None:
        self._answer = answer
        self.record = record

    @property
    def fault(self) -> Fault | None:
        return self.record.fault

    @property
    def steps(self) -> tuple[Step, ...]:
        return NORMAL if self.record.fault is None else self.record.fault.steps

    def play(self) -> Iterator[Action]:
        """The medium's part of the steps. Stop iterating (a client that gave up during a pause)
        and the steps after it never happen: a request paused before processing stays unprocessed."""
        steps, fault = self.steps, self.record.fault
        answered = DROP not in steps  # a dropped connection answers no status
        reply = None
        for step in steps:
            if isinstance(step, (Process, Replace)):
                reply = (
                    _fault_reply(fault) if fault is not None and isinstance(step, Replace) else self._answer()
                )
                if answered:
                    self.record.status = reply.status
            elif isinstance(step, Send):
                assert reply is not None, "a Send follows the step that makes the reply"
                yield Deliver(reply, step)
            else:
                yield step

    def respond(self) -> Reply:
        """The answer, without acting anything out (pauses skipped; a dropped or refused
        connection's stand-in is an empty page)."""
        for action in self.play():
            if isinstance(action, Deliver):
                return action.reply
        return _fault_reply(self.record.fault or Fault.drop())


class Receiver(TypingProtocol):
    """What the plug-ins serve: anything that turns a request into an `Exchange` (a
    `MailkitEmulator`, or a subclass that notes or alters what it receives)."""

    def receive(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, peer: str = ...
    ) -> Exchange: ...


R = TypeVar("R", bound=Receiver)


async def act_out(exchange: Exchange) -> Reply:
    """The exchange for adapters that only pass a `Reply` on: pauses slept with anyio, a dropped or
    refused connection raised as `ConnectionDropped`, a slow body's wait slept before it, a cut
    one returned with its full Content-Length and the short body."""
    for action in exchange.play():
        if isinstance(action, Pause):
            await anyio.sleep(action.seconds)
        elif isinstance(action, Refuse):
            raise ConnectionDropped("connection refused (scripted)")
        elif isinstance(action, Drop):
            raise ConnectionDropped("connection closed without an answer (scripted)")
        else:
            reply, send = action.reply, action.send
            if send.chunk:
                chunks = -(-len(reply.body) // send.chunk)
                await anyio.sleep(send.interval * max(chunks - 1, 0))
            if send.cut is not None:
                headers = (*reply.headers, ("Content-Length", str(len(reply.body))))
                return Reply(reply.status, headers, reply.body[: send.cut])
            return reply
    raise AssertionError("an exchange ends in an answer or a closed connection")


def html_page(status: int, detail: str, *headers: tuple[str, str]) -> Reply:
    """The service's own HTML error page (an unknown path, a GET, a failing handler)."""
    title = f"{status} {reason(status)}"
    body = f"<html><head><title>{title}</title></head><body><h1>{detail}</h1></body></html>\n"
    return Reply(status, (("Content-Type", "text/html"), *headers), body.encode())


def _fault_reply(fault: Fault) -> Reply:
    headers: list[tuple[str, str]] = [("Content-Type", fault.content_type)]
    if fault.retry_after is not None:
        headers.append(("Retry-After", fault.retry_after))
    return Reply(fault.http_status, tuple(headers), fault.content)
