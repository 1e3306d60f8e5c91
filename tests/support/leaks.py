"""The one check that no piece of a secret shows in an error: the whole secret and every run of
`RUN` of its characters, in any case, wherever a user could see it."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import suppress

import httpx

from mailkit_async import MailkitError

from .clients import MD5

RUN = 6  # the promise: no run of 6 or more characters of the secret survives


def pieces(secret: str) -> list[str]:
    """Every run of `RUN` characters of `secret` (the whole of a shorter one), lower-cased."""
    if len(secret) <= RUN:
        return [secret.lower()]
    return [secret[i : i + RUN].lower() for i in range(len(secret) - RUN + 1)]


def leaks(text: str, secret: str = MD5) -> list[str]:
    """The pieces of `secret` found in `text`, in any case."""
    low = text.lower()
    return [piece for piece in pieces(secret) if piece in low]


def chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception reachable from it: cause, context, groups."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, *getattr(item, "exceptions", ())]


def texts_of(error: BaseException, *, rendered: bool = True) -> Iterator[str]:
    """All a user can see of an error: the rendered traceback (slow, and made of the rest: skip it
    with `rendered=False` where one test checks many errors), then for every chained exception its
    str, repr, args, attributes and notes, and the body of an httpx error's request."""
    if rendered:
        yield "".join(traceback.format_exception(error))
    for item in chain(error):
        yield str(item)
        yield repr(item)
        for arg in item.args:
            yield str(arg)
            yield repr(arg)
        for value in getattr(item, "__dict__", {}).values():
            yield str(value)
            yield repr(value)
        yield from getattr(item, "__notes__", ())
        if isinstance(item, httpx.HTTPError):
            # An httpx error carries the request, whose body holds the credentials.
            with suppress(RuntimeError):
                yield item.request.content.decode("utf-8", "replace")


def assert_no_secret(error: BaseException, secret: str = MD5, *, rendered: bool = True) -> None:
    """No piece of `secret` in anything `error` shows."""
    for text in texts_of(error, rendered=rendered):
        found = leaks(text, secret)
        assert not found, (found, text[:300])


def assert_typed(error: BaseException, secret: str = MD5) -> None:
    """`error` is one of the client's own, and shows no piece of `secret`."""
    assert isinstance(error, MailkitError), f"{type(error).__name__}: {error}"
    assert_no_secret(error, secret)
