"""The error hierarchy: catch `MailkitError` for everything, or a subclass for one kind of failure.

Every error is built one way: the message is the one positional argument, every other field is
keyword-only. Each field is set by the layer that knows it: `function` by the layers handed it
(the transport, the codecs) and, for every other error, by the client's exit (`Mailkit._execute`);
`attempts` by the transport, which counts the sends (the exit copies the count onto an answer it
refuses); `cursor` by the bounce stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._secrets import WINDOW, clip

if TYPE_CHECKING:
    from ._models import Bounce

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClientClosedError",
    "InvalidParameterError",
    "MailkitError",
    "NotUnsubscribedError",
    "PaginationError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "TransientError",
    "TransportError",
    "UnplacedRecordError",
]


class MailkitError(Exception):
    """Base of every error this library raises.

    `function` names the Mailkit function the error concerns (``None`` when it is not about a call,
    for example missing credentials); `method` the client method called, where the two differ
    (`campaigns.single.cancel` sends `mailkit.campaigns.single.schedule`). Messages never contain
    the ``client_md5`` secret, nor any piece of it. Every error is built the same way: the message
    alone by position, every other field by name (`APIError("Unauthorized", function=...)`).

    Attributes:
        message: What went wrong (for `APIError`, the service's own text).
        function: The Mailkit function that was sent, or `None`.
        method: The client method that was called (`campaigns.single.cancel`), or `None`.
        cursor: On errors out of the bounce stream, where to resume (`after_id=cursor`).
        attempts: How many times the call's request was sent (0: never).
    """

    # Whether resuming the bounce stream at `cursor` may get past this error: not for a refusal
    # (bad credentials, a closed client), which resuming meets again.
    _resumable = False

    def __init__(self, message: str, *, function: str | None = None, cursor: int | None = None) -> None:
        # Kept whole up to a window: the client's exit redacts it, then cuts it to its limit.
        message = clip(message, WINDOW)
        super().__init__(message)
        self.message = message
        self.function = function
        self.method: str | None = None
        #: Set on errors out of the bounce stream: resume with `after_id=cursor`, nothing is lost.
        self.cursor = cursor
        #: How many times the call's request was sent (0: never). Above 1, an earlier attempt whose
        #: answer was lost may already have done the work (see `NotUnsubscribedError`).
        self.attempts = 0

    def __str__(self) -> str:
        name = self.function
        if self.method and self.method != name:
            name = f"{self.method} ({name})" if name else self.method
        text = f"{name}: {self._detail()}" if name else self._detail()
        if self.attempts > 1:
            text = f"{text} (after {self.attempts} attempts)"
        if self.cursor is None or not self._resumable:
            return text
        return f"{text} (resume with after_id={self.cursor})"

    def _detail(self) -> str:
        return self.message


class InvalidParameterError(MailkitError, ValueError):
    """An argument was rejected before anything was sent."""


class APIError(MailkitError):
    """The service answered and refused the call; `message` is its own text."""

    def __init__(self, message: str, *, function: str | None = None, code: int | None = None) -> None:
        super().__init__(message, function=function)
        self.code = code


class AuthenticationError(APIError):
    """Wrong `client_id`/`client_md5`, or a client IP the account does not allow (HTTP 200 all the same)."""


class NotUnsubscribedError(APIError):
    """`email.revalidate` of an address that is not unsubscribed, so there is nothing to revalidate.

    With `attempts > 1` the call was re-sent after a fault, and the lost first attempt may be the one
    that revalidated the address: the address is subscribed either way.
    """


class PaginationError(MailkitError):
    """The bounce report did not advance past the cursor; `cursor` is where to resume from."""

    _resumable = True


class ClientClosedError(MailkitError):
    """A call on a client that is closed (`aclose()`, the end of its `async with`, or its
    `http_client` closed), or that belongs to another event loop: create the client inside the
    running event loop, and use it there."""


class TransientError(MailkitError):
    """A fault that may pass (`RateLimitError`, `ServerError`, `TransportError`): raised once
    retries are spent, so "try again later" is one `except`.

    `request_sent` says whether the request may have reached the service, which decides whether a
    non-idempotent call may be re-sent; `retry_after` is the service's `Retry-After` in seconds.
    """

    _resumable = True

    def __init__(
        self,
        message: str,
        *,
        function: str | None = None,
        request_sent: bool = True,
        retry_after: float | None = None,
        status_code: int | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message, function=function)
        self.request_sent = request_sent
        self.timed_out = timed_out
        self.retry_after = retry_after
        self.status_code = status_code


class TransportError(TransientError):
    """The network failed or timed out (connect, read, write, pool, or the call's overall deadline)."""


class ServerError(TransientError):
    """The service answered with an HTTP 5xx."""


class RateLimitError(TransientError):
    """The service is rate limiting (HTTP 429, or 503 with `Retry-After`)."""


class ResponseDecodeError(MailkitError):
    """The body is not what the function returns (HTML, truncated JSON, XML that is not XML-RPC...).

    `excerpt` holds the start of the body, for diagnosis (at most 200 characters, secret masked).
    """

    _resumable = True

    def __init__(
        self,
        message: str,
        *,
        function: str | None = None,
        cursor: int | None = None,
        excerpt: bytes | str = b"",
    ) -> None:
        super().__init__(message, function=function, cursor=cursor)
        text = excerpt if isinstance(excerpt, str) else bytes(excerpt[:WINDOW]).decode("utf-8", "replace")
        self.excerpt = clip(text, WINDOW)

    def _detail(self) -> str:
        return f"{self.message}; body starts {self.excerpt!r}"


class UnplacedRecordError(ResponseDecodeError):
    """A bounce record came without a usable ``ID_UNDELIVERED_LOG``: the cursor cannot step past it.

    Every record before it has been yielded and `cursor` is the last of them, so resuming there
    meets the same record again. To go past it deliberately: keep `record` (its fields as sent,
    the unusable ID in ``record.extra["ID_UNDELIVERED_LOG"]`` when one came) and `following`
    (the records after it in that page, up to the next such record), then resume with
    ``after_id=skip_after``. `skip_after` is ``None`` when nothing followed it in the page.
    `record` and `following` are ``None`` if they quote the credentials (never kept in an error).
    """

    def __init__(
        self,
        message: str,
        *,
        function: str | None = None,
        cursor: int | None = None,
        excerpt: str = "",
        record: Bounce | None = None,
        following: list[Bounce] | None = None,
        skip_after: int | None = None,
    ) -> None:
        super().__init__(message, function=function, cursor=cursor, excerpt=excerpt)
        self.record = record
        self.following = following
        self.skip_after = skip_after
