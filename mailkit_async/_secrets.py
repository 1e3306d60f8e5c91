"""Keeping `client_md5` out of everything users see: messages, excerpts, reprs, logs."""

from __future__ import annotations

from ._exceptions import MailkitError

__all__ = ["MASK", "redact", "redact_error"]

MASK = "***"


def redact(text: str, secret: str) -> str:
    return text.replace(secret, MASK) if secret and secret in text else text


def redact_error(error: MailkitError, secret: str) -> MailkitError:
    """Scrub `secret` from an error in place (a hostile or echoing server may quote it back)."""
    error.message = redact(error.message, secret)
    error.args = tuple(redact(a, secret) if isinstance(a, str) else a for a in error.args)
    for name in ("excerpt",):
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, redact(value, secret))
    error.__context__ = None
    error.__cause__ = None
    return error
