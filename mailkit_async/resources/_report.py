"""`mailkit.report.raw.bounces`: every bounce record, exactly once, in bounded memory.

The service answers at most 25 000 records a call, starting at `ID_undelivered_log`. Whether that
start is inclusive or exclusive is not settled, so the cursor sent is always the last ID seen and
records at or below it are dropped: right under either reading. A page shorter than asked for is
*not* the end (the service may cap pages lower); only an empty page is. Under the inclusive reading
a page of one can only ever hold the record already seen, so `page_size` starts at 2.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter, lt
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Final

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._answers import api_error, check_auth_text, error_status
from .._codecs._bounces import LOG_ID, UNPLACED
from .._exceptions import (
    InvalidParameterError,
    MailkitError,
    PaginationError,
    ResponseDecodeError,
    UnplacedRecordError,
)
from .._models import Bounce
from .._request import Request
from .._secrets import quote
from .._service import BOUNCES, MAX_PAGE_SIZE
from ._params import bounded_int, named, optional_positive_id
from ._resource import Resource

if TYPE_CHECKING:
    from typing_extensions import Self

    from .._client import Mailkit
    from .._pacing import Pacer
    from .._secrets import Redactor

__all__ = ["BounceStream", "BouncePages", "RawReport", "Report"]

MIN_PAGE_SIZE: Final = 2
# Records `bounces()` hands out between two looks at the clock (with max_blocking): a few µs of
# the slowest consumer's work each, and one comparison per chunk.
_CHUNK: Final = 256
_ID = attrgetter("undelivered_log_id")


def _unplaced(page: list[Bounce], at: int, cursor: int, redact: Redactor) -> UnplacedRecordError:
    """The error for `page[at]`, a record without a usable ID, found after `cursor`."""
    record = page[at]
    end = next((i for i in range(at + 1, len(page)) if page[i].undelivered_log_id == UNPLACED), len(page))
    following = page[at + 1 : end]
    sent = quote(record.extra[LOG_ID]) if LOG_ID in record.extra else "no such field"
    # Never keep the credentials, nor a piece of them (any case): the records are objects, which
    # the redaction at the client's exit cannot reach.
    text = repr((record, following))
    quoted = redact(text) != text
    return UnplacedRecordError(
        f"record {at + 1} of the page after ID {cursor} has no usable {LOG_ID} ({sent}; "
        f"email {quote(record.email)}, send_id {record.send_id}): it cannot be placed",
        excerpt=repr(record),
        record=None if quoted else record,
        following=None if quoted else following,
        skip_after=following[-1].undelivered_log_id if following else None,
    )


@dataclass(eq=False, slots=True)
class _Cursor:
    """Fetches page after page from `position` (the `after_id` given), advancing by the last
    `undelivered_log_id` seen."""

    client: Mailkit
    message_id: int | None
    send_id: int | None
    position: int
    page_size: int
    done: bool = False

    async def next_page(self) -> list[Bounce] | None:
        """The next non-empty page, or ``None`` at the end. Errors carry the cursor to resume at
        (set here, the one place that knows it)."""
        if self.done:
            return None
        try:
            page = await self.client._execute(self._request(), self._accept, bounces=True)
        except MailkitError as error:
            error.cursor = self.position
            raise
        if page is None:
            self.done = True
        return page

    def _request(self) -> Request:
        json: dict[str, object] = {}
        if self.message_id is not None:
            json["ID_message"] = self.message_id
        if self.send_id is not None:
            json["ID_send"] = self.send_id
        json["ID_undelivered_log"] = self.position
        json["limit"] = self.page_size
        positional = (self.message_id or 0, self.send_id or 0, self.position, self.page_size)
        # A read: re-sending it is always harmless, so every transient fault is retried.
        return Request(BOUNCES, json, positional, idempotent=True)

    def _accept(self, value: object) -> list[Bounce] | None:
        if not isinstance(value, list):
            _not_a_page(value)
            return None
        if not value:
            return None
        page: list[Bounce] = value
        cursor = self.position
        ids = list(map(_ID, page))
        if ids[0] > cursor and all(map(lt, ids, islice(ids, 1, None))):
            # The usual page, in one pass in C: past the cursor and strictly ascending (so every
            # ID is above the cursor, and none is UNPLACED).
            self.position = ids[-1]
            return page
        if UNPLACED in ids:  # C-speed scan; only a page with such a record goes further
            page, ids = self._cut_unplaced(page, ids)
        if ids[-1] <= cursor:
            if len(page) == 1 and page[0].undelivered_log_id == cursor:
                return None  # only the echo of the cursor record (inclusive reading): the end
            raise PaginationError(
                f"the service returned {len(page)} record(s) none of which is past the cursor"
            )
        if ids[0] <= cursor:
            # The inclusive reading echoes the cursor record: drop what was already yielded.
            start = 1
            while ids[start] <= cursor:
                start += 1
            del page[:start], ids[:start]
        # Cheap in C, and the guarantee that makes the cursor sound: IDs strictly ascending.
        if not all(map(lt, ids, islice(ids, 1, None))):
            raise PaginationError("records are not in ascending ID order")
        self.position = ids[-1]
        return page

    def _cut_unplaced(self, page: list[Bounce], ids: list[int]) -> tuple[list[Bounce], list[int]]:
        """The records before the first unplaceable one, or, when there are none, its error.

        Those records are yielded first; the next page then starts with it (after the echo of
        the cursor, under the inclusive reading), and shows what follows it.
        """
        at = ids.index(UNPLACED)
        if not any(identifier > self.position for identifier in ids[:at]):
            raise _unplaced(page, at, self.position, self.client._redact)
        return page[:at], ids[:at]


def _not_a_page(value: object) -> None:
    """Anything but a list: "", {} (and [] handled by the caller) are the end; the rest refusals."""
    if value == "" or value == {}:
        return
    if isinstance(value, str):
        check_auth_text(value)
        raise api_error(value)
    if isinstance(value, Mapping) and (error_status(value) or "error" in value):
        raise api_error(str(value.get("error", "")))
    raise ResponseDecodeError("expected a list of records", excerpt=repr(value))


class BouncePages:
    """Pages (lists of `Bounce`) of the raw bounce report, for bulk inserts.

    Iterate it directly, or, to fetch the next page while you work on this one, enter it:
    ```python
    async with mk.report.raw.bounce_pages(prefetch=1) as pages:
        async for page in pages:
            await db.insert_many(page)
    ```
    The prefetching task lives in a task group owned by the `async with` block (never held across
    a generator's `yield`), so leaving the block cancels the fetch and releases its connection.
    """

    def __init__(self, cursor: _Cursor, prefetch: int) -> None:
        self._cursor = cursor
        self._prefetch = prefetch
        self._group: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[list[Bounce]] | None = None
        self._error: BaseException | None = None
        # With max_blocking, a page the caller has let go of is freed in pieces when the next
        # one is asked for: freeing 25 000 records at once holds the loop for ~10 ms.
        pacer = cursor.client._pacer
        self._release: Callable[[list[Bounce]], Awaitable[None]] | None = (
            None if pacer is None else pacer.release
        )
        self._at_once: Callable[[int], bool] = bool if pacer is None else pacer.frees_at_once
        self._given: deque[list[Bounce]] = deque()

    @property
    def position(self) -> int:
        """The last `undelivered_log_id` fetched (not necessarily consumed, with prefetch)."""
        return self._cursor.position

    async def __aenter__(self) -> Self:
        if self._prefetch:
            send, self._receive = anyio.create_memory_object_stream[list[Bounce]](self._prefetch - 1)
            self._group = anyio.create_task_group()
            await self._group.__aenter__()
            self._group.start_soon(self._produce, send)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._group is not None:
            self._group.cancel_scope.cancel()
            group, self._group = self._group, None
            # An error raised by the consumer's own code is not the producer's: keep it out of the
            # task group so it propagates as itself, not wrapped in an ExceptionGroup.
            # Cancellation (a BaseException) must go through, for the scopes' bookkeeping.
            if isinstance(exc, Exception):
                await group.__aexit__(None, None, None)
            else:
                await group.__aexit__(exc_type, exc, tb)
        if self._receive is not None:
            self._receive.close()
        self._given.clear()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> list[Bounce]:
        if self._release is None:
            return await self._next_page()
        while len(self._given) > 1:  # all but the page the caller may still be working on
            spent = self._given.popleft()
            if sys.getrefcount(spent) == 2:  # this name and the call's argument: no one else's
                await self._release(spent)
            del spent
        page = await self._next_page()
        if not self._at_once(len(page)):  # else left to the caller, as without pacing
            self._given.append(page)
        return page

    async def _next_page(self) -> list[Bounce]:
        if not self._prefetch:
            page = await self._cursor.next_page()
            if page is None:
                raise StopAsyncIteration
            return page
        if self._receive is None:
            refusal = InvalidParameterError(
                "bounce_pages(prefetch=N) must be entered with `async with` before iterating "
                "(or pass prefetch=0)"
            )
            refusal.method = "report.raw.bounce_pages"
            raise refusal
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._error is not None:
                error, self._error = self._error, None
                raise error from None
            raise StopAsyncIteration from None

    async def _produce(self, send: MemoryObjectSendStream[list[Bounce]]) -> None:
        # Errors travel to the consumer's `async for`, as the plain iterator would raise them,
        # instead of surfacing later as an ExceptionGroup out of the task group.
        async with send:
            try:
                while (page := await self._cursor.next_page()) is not None:
                    await send.send(page)
                    del page
            except MailkitError as error:
                self._error = error


class RawReport(Resource):
    """`mk.report.raw`: the `mailkit.report.raw.*` functions."""

    @named("report.raw.bounces")
    def bounces(
        self,
        *,
        message_id: int | None = None,
        send_id: int | None = None,
        after_id: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> BounceStream:
        """Every bounce record with `undelivered_log_id > after_id`, exactly once, in ID order.

        ```python
        async for bounce in mk.report.raw.bounces(after_id=last_seen):
            save(bounce)
            last_seen = bounce.undelivered_log_id
        ```
        Memory stays at about one page whatever the total. A failed page is retried at the same
        cursor; an error that ends the stream carries `cursor`: resume with `after_id=error.cursor`.
        Leaving the loop holds no connection (a page is read whole before its first record is
        yielded), and a bare `break` frees the page at once, under asyncio and trio alike (no
        async generator is left for a finalizer); `contextlib.aclosing(...)` closes it explicitly.
        A read: no side effect; the service rate limits it.

        Args:
            message_id: Only this campaign's bounces. Default: every campaign's.
            send_id: Only this send's bounces. Default: every send's.
            after_id: The cursor: records after this `undelivered_log_id`. Default `None`: from
                the first record.
            page_size: Records asked for per page (`limit`), 2 to 25 000; the default is 25 000,
                the service's own cap. Not 1: a service that reads the cursor inclusively would
                answer only the record already seen, forever.

        Returns:
            A `BounceStream`: an async iterator of `Bounce` that `contextlib.aclosing` closes.

        Raises:
            InvalidParameterError: A bad argument, raised by this call itself, before iteration.
            PaginationError: During iteration, a page that does not move past the cursor.
            APIError: During iteration, the service refused the call.
            AuthenticationError: During iteration, the credentials or the caller's IP were refused.
            TransientError: Once retries were spent: `RateLimitError` (429, or 503 with
                `Retry-After`), `ServerError` (5xx) or `TransportError` (network, timeouts).
            ResponseDecodeError: The answer is not what the function returns
                (`UnplacedRecordError`: a record without a usable ID).
                An error that ends the stream carries `cursor`, where to resume.
        """
        cursor = self._cursor(message_id, send_id, after_id, page_size)
        return BounceStream(cursor)

    @named("report.raw.bounce_pages")
    def bounce_pages(
        self,
        *,
        message_id: int | None = None,
        send_id: int | None = None,
        after_id: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
        prefetch: int = 0,
    ) -> BouncePages:
        """The same records as `bounces`, a page (a list of `Bounce`) at a time, for bulk inserts.

        ```python
        async with mk.report.raw.bounce_pages(after_id=0, prefetch=1) as pages:
            async for page in pages:
                await db.insert_many(page)
        ```

        Args:
            message_id: As for `bounces`.
            send_id: As for `bounces`.
            after_id: As for `bounces`.
            page_size: Records asked for per page, 2 to 25 000 (the default), as for `bounces`.
            prefetch: Pages fetched ahead while you work on the current one, 0..8. Default 0.
                With prefetch the pages must be entered with `async with`, which owns the
                fetching task: leaving the block cancels it.

        Returns:
            A `BouncePages`: iterate it, or enter it first with `async with`.

        Raises:
            InvalidParameterError: A bad argument, raised by this call itself, before iteration.
            MailkitError: During iteration, the errors `bounces` lists.
        """
        cursor = self._cursor(message_id, send_id, after_id, page_size)
        return BouncePages(cursor, bounded_int("prefetch", prefetch, 0, 8))

    def _cursor(self, message_id: object, send_id: object, after_id: object, page_size: object) -> _Cursor:
        message_id = optional_positive_id("message_id", message_id)
        send_id = optional_positive_id("send_id", send_id)
        start = 0 if after_id is None else bounded_int("after_id", after_id, 0)
        if page_size == 1 and not isinstance(page_size, bool):
            raise InvalidParameterError(
                "page_size must be at least 2: a service that reads ID_undelivered_log inclusively "
                "answers a page of 1 with only the record already seen, and the stream would end"
            )
        size = bounded_int("page_size", page_size, MIN_PAGE_SIZE, MAX_PAGE_SIZE)
        return _Cursor(self._client, message_id, send_id, start, size)


class BounceStream:
    """The records of `report.raw.bounces`: an async iterator that is also closable (`aclose`,
    so `contextlib.aclosing` takes it), not an async generator.

    Under trio, an async generator left by `break` is finalized by the garbage collector with a
    ResourceWarning (trio's rule: close it with `aclosing`). This object holds no frame and no
    task: dropping it frees its page at once, on either backend; `aclose()` does so explicitly.
    """

    __slots__ = ("__weakref__", "_cursor", "_left", "_pacer", "_page", "_records", "_rest", "_since")

    def __init__(self, cursor: _Cursor) -> None:
        self._cursor: _Cursor | None = cursor
        self._records: Iterator[Bounce] = iter(())
        # With max_blocking, a page is handed out _CHUNK records at a time, and between two chunks
        # the loop is let go once the budget is nearly spent: `__anext__` itself never awaits, so
        # a consumer's `async for` would otherwise hold the loop for the whole page (25 000 steps,
        # ~10-20 ms). A spent page is freed in pieces: freeing 25 000 records at once holds the
        # loop for ~10 ms.
        self._pacer: Pacer | None = cursor.client._pacer
        self._page: list[Bounce] = []
        self._rest: Iterator[Bounce] = iter(())
        self._left = 0  # records of the page after the current chunk
        self._since = 0.0  # when the stream last let the loop go or got a page (perf_counter)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Bounce:
        # The per-record path: one step of the chunk's iterator, no await.
        for record in self._records:
            return record
        if self._left > 0:
            return await self._next_chunk()
        return await self._next_page()

    async def _next_chunk(self) -> Bounce:
        pacer = self._pacer
        if pacer is not None and pacer.overdue(self._since):
            self._since = await pacer.let_go()
        self._left -= _CHUNK
        self._records = islice(self._rest, _CHUNK)
        for record in self._records:
            return record
        return await self._next_page()

    async def _next_page(self) -> Bounce:
        # The spent page goes before the next is fetched; kept in `_page` until it is freed, so
        # that a cancelled release leaves the rest to the next call (or `aclose`), in pieces too.
        self._stop_handing_out()
        pacer = self._pacer
        if self._page and pacer is not None:
            await pacer.release(self._page)
        self._page = []
        cursor = self._cursor
        try:
            while cursor is not None and (page := await cursor.next_page()) is not None:
                if pacer is None:
                    self._records = iter(page)
                else:
                    self._page = page  # kept to be freed in pieces
                    self._rest = iter(page)
                    self._left = len(page) - _CHUNK
                    self._records = islice(self._rest, _CHUNK)
                    self._since = perf_counter()
                del page  # otherwise only the iterators hold it: at most one page alive at a time
                for record in self._records:
                    return record
        except BaseException:
            self._cursor = None  # an error ends the stream, as it would end a generator
            raise
        self._cursor = None
        raise StopAsyncIteration

    def _stop_handing_out(self) -> None:
        self._records = self._rest = iter(())
        self._left = 0

    async def aclose(self) -> None:
        """End the stream and free its page (in pieces with max_blocking, as a spent page is);
        later iteration ends at once, even if this is cancelled."""
        self._cursor = None
        self._stop_handing_out()
        page, self._page = self._page, []
        if page and self._pacer is not None:
            await self._pacer.release(page)


class Report:
    """`mk.report`: the `mailkit.report.*` functions."""

    def __init__(self, client: Mailkit) -> None:
        self.raw: Final = RawReport(client)
