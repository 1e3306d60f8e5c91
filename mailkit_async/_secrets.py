"""Keeping `client_md5` out of everything users see: messages, excerpts, reprs, logs.

Redact first, cut after. Inner layers keep up to `WINDOW` characters of whatever the service sent;
text leaves the client only through `Redactor` (the one exit, `Mailkit._execute`, and the log lines
of the transport), which masks the whole secret and every run of `MIN_RUN` or more of its
characters, and only then cuts to `TEXT_LIMIT` (`EXCERPT_LIMIT` for a body excerpt). Cutting first
would let a prefix of the secret survive the cut; matching pieces, not only the whole secret, keeps
a piece cut off by an inner window from surviving either.

Every length limit on text lives here: the window, what leaves the client, and how much of a
caller's own argument a refusal quotes (`ARGUMENT_LIMIT`).
"""

from __future__ import annotations

import re
from typing import Final, TypeVar

__all__ = [
    "ARGUMENT_LIMIT",
    "EXCERPT_LIMIT",
    "MASK",
    "MIN_RUN",
    "TEXT_LIMIT",
    "WINDOW",
    "Redactor",
    "clip",
    "quote",
    "redact_error",
]

E = TypeVar("E", bound=BaseException)

MASK: Final = "***"
#: The shortest run of the secret's characters that is masked wherever it appears.
MIN_RUN: Final = 6
#: How much of a text from the service inner layers keep (bounds memory and the redaction scan).
WINDOW: Final = 4096
#: What leaves the client: a message, and a body excerpt, at most this long (after redaction).
TEXT_LIMIT: Final = 500
EXCERPT_LIMIT: Final = 200
#: How much of a caller's own argument an `InvalidParameterError` quotes.
ARGUMENT_LIMIT: Final = 80


def clip(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters ("..." marking the cut). Only ever after redaction."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def quote(value: object, limit: int = WINDOW) -> str:
    """`repr(value)` for a message, cut to `limit`, and never failing (an int of 5 000 digits has
    no repr). An answer's values are quoted whole up to the window: the client's exit redacts
    the secret before it cuts the message short."""
    try:
        text = repr(value)
    except Exception:
        if isinstance(value, int):
            return f"an int of {value.bit_length()} bits"
        return f"a {type(value).__name__}"
    return clip(text, limit)


class Redactor:
    """Masks a secret, and every run of `MIN_RUN`+ of its characters (any case), in a text."""

    __slots__ = ("_pattern",)

    def __init__(self, secret: str) -> None:
        size = min(MIN_RUN, len(secret))
        pieces = sorted({secret[i : i + size] for i in range(len(secret) - size + 1)} if secret else ())
        # A lookahead matches at every position, so overlapping pieces are all found.
        self._pattern = (
            re.compile("(?=(" + "|".join(map(re.escape, pieces)) + "))", re.IGNORECASE | re.DOTALL)
            if pieces
            else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        out: list[str] = []
        done = 0  # text[:done] is written out
        start = end = -1  # the masked span being grown
        for match in self._pattern.finditer(text):
            at = match.start()
            if at > end:
                if end >= 0:
                    out += (text[done:start], MASK)
                    done = end
                start = at
            end = max(end, at + len(match[1]))
        if end < 0:
            return text
        out += (text[done:start], MASK, text[end:])
        return "".join(out)

    def clip(self, text: str, limit: int = TEXT_LIMIT) -> str:
        """Redacted, then cut: what may leave the client."""
        return clip(self(text), limit)


def redact_error(error: E, redactor: Redactor) -> E:
    """Scrub an error in place and cut its texts to their limits (a hostile or echoing server may
    quote the credentials back); the exception chain goes, as it may hold raw text."""
    for name, value in vars(error).items():
        if isinstance(value, str):
            setattr(error, name, redactor.clip(value, EXCERPT_LIMIT if name == "excerpt" else TEXT_LIMIT))
    error.args = tuple(redactor.clip(a) if isinstance(a, str) else a for a in error.args)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [redactor.clip(note) if isinstance(note, str) else note for note in notes]
    error.__context__ = None
    error.__cause__ = None
    error.__suppress_context__ = True
    return error
