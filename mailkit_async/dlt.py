"""A dlt source for the raw bounce report: load bounces into any destination dlt knows.

```python
import dlt
from mailkit_async.dlt import mailkit_source

pipeline = dlt.pipeline("mailkit", destination="duckdb", dataset_name="mailkit")
pipeline.run(mailkit_source())  # credentials from MAILKIT_CLIENT_ID / MAILKIT_CLIENT_MD5
```
Needs the optional extra: ``pip install "mailkit-async[dlt]"``. The `raw_bounces` table is merged on
`undelivered_log_id`, and the cursor lives in dlt's pipeline state, which dlt keeps in the
destination too: a run on a fresh machine continues where the last one stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

import msgspec

try:
    import dlt
except ImportError as exc:
    raise ImportError('mailkit_async.dlt needs dlt: pip install "mailkit-async[dlt]"') from exc
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract import DltResource, DltSource

from ._client import Mailkit, _base_url, _client_id, _client_md5
from ._codecs import ProtocolName, get_codec
from ._exceptions import InvalidParameterError
from ._models import Bounce
from ._ratelimit import RateLimit
from .resources._params import optional_positive_id, positive_id

__all__ = ["TABLE", "mailkit_source"]

TABLE: Final = "raw_bounces"
CURSOR: Final = "undelivered_log_id"

_INTS: Final = ("message_id", "email_id", "send_id", "send_message_id", "user_list_id")
_TEXTS: Final = (
    "text_status",
    "status",
    "email",
    "remote_mta",
    "recipient_status",
    "bounce_category",
    "utm_campaign",
    "campaign_name",
    "subject",
)
# Typed fields keep their types even on a page where a column is all NULL (dlt would skip it).
COLUMNS: Final[TTableSchemaColumns] = {
    CURSOR: {"data_type": "bigint", "nullable": False},
    **{name: {"data_type": "bigint", "nullable": True} for name in _INTS},
    **{name: {"data_type": "text", "nullable": True} for name in _TEXTS},
}
_TYPED: Final = frozenset(COLUMNS)
_NAMING: Final = NamingConvention()

PageSource = Callable[[int], AsyncIterator[list[Bounce]]]
"""Opens the stream of pages after a cursor: `pages(after_id)`."""


def mailkit_source(
    client_id: int | str | None = None,
    client_md5: str | None = None,
    *,
    base_url: str | None = None,
    protocol: ProtocolName = "json",
    rate_limit: RateLimit | None = None,
    message_id: int | None = None,
    send_id: int | None = None,
    message_ids: Sequence[int] | None = None,
) -> DltSource:
    """The Mailkit source: one `raw_bounces` resource, or one per campaign with `message_ids`.

    Every resource loads the one `raw_bounces` table, incrementally on `undelivered_log_id`, merged
    on it; each campaign's resource keeps its own cursor and dlt runs them side by side, all under
    the one `rate_limit`. Arguments are checked now, before anything is sent; each run opens its
    own `Mailkit` client on dlt's event loop and closes it when the run ends.

    Args:
        client_id: The account's client ID. Default `None`: `MAILKIT_CLIENT_ID`.
        client_md5: The account's secret. Default `None`: `MAILKIT_CLIENT_MD5`.
        base_url: The API address. Default `None`: `MAILKIT_BASE_URL`, else
            `https://api.mailkit.eu`.
        protocol: The wire protocol, `"json"` or `"xmlrpc"`. Default `"json"`.
        rate_limit: A `RateLimit` every request of every resource waits on. Default `None`: no
            client-side limit.
        message_id: Only this campaign's bounces, in one resource. Default `None`: every campaign.
        send_id: Only this send's bounces. Default `None`: every send.
        message_ids: One resource per campaign (`raw_bounces_<id>`), each with its own cursor,
            all loading the `raw_bounces` table. Default `None`: one resource for `message_id`.

    Returns:
        A dlt source named `mailkit` to pass to `pipeline.run()`.

    Raises:
        MailkitError: No `client_id` or `client_md5` was passed nor set in the environment.
        InvalidParameterError: A bad argument: a `client_id` that is not a positive integer, an
            empty `client_md5`, a `base_url` that is not a usable http(s) URL, an unknown
            `protocol`, a `rate_limit` that is not a `RateLimit`, a `message_id` or `send_id` that
            is not a positive ID, a `message_ids` that is empty, repeats an ID or is not a list of
            positive IDs, or both `message_id` and `message_ids`.
    """
    # Checked as the client itself checks them (credentials from the environment included), but
    # without building one: a client would open a connection pool nobody closes.
    _client_id(client_id)
    _client_md5(client_md5)
    _base_url(base_url)
    get_codec(protocol)
    if rate_limit is not None and not isinstance(rate_limit, RateLimit):
        raise InvalidParameterError(f"rate_limit must be a RateLimit, not {type(rate_limit).__name__}")
    message_id = optional_positive_id("message_id", message_id)
    send_id = optional_positive_id("send_id", send_id)
    shards = _campaigns(message_ids)
    if shards and message_id is not None:
        raise InvalidParameterError("pass message_id or message_ids, not both")

    def opener(campaign: int | None) -> PageSource:
        async def pages(after_id: int) -> AsyncIterator[list[Bounce]]:
            async with Mailkit(
                client_id, client_md5, base_url=base_url, protocol=protocol, rate_limit=rate_limit
            ) as mk:
                async for page in mk.report.raw.bounce_pages(
                    message_id=campaign, send_id=send_id, after_id=after_id
                ):
                    yield page

        return pages

    if not shards:
        resources = [bounce_resource(TABLE, opener(message_id))]
    else:
        resources = [bounce_resource(f"{TABLE}_{campaign}", opener(campaign)) for campaign in shards]
    source = _source(resources)
    # Values as sent: a text that looks like a timestamp ("2026-01-01 10:00:00") stays text.
    source.schema.remove_type_detection("iso_timestamp")
    return source


@dlt.source(name="mailkit")
def _source(resources: list[DltResource]) -> list[DltResource]:
    return resources


def bounce_resource(name: str, pages: PageSource) -> DltResource:
    """A resource named `name` loading the pages `pages(after_id)` yields into `raw_bounces`."""

    # dlt finds the cursor by the argument's default and keeps its value in the pipeline state.
    async def raw_bounces(
        cursor: dlt.sources.incremental[int] = dlt.sources.incremental(CURSOR, initial_value=0),  # noqa: B008
    ) -> AsyncIterator[list[dict[str, Any]]]:
        async for page in pages(cursor.last_value or 0):
            yield rows(page)

    resource: DltResource = dlt.resource(
        raw_bounces,
        name=name,
        table_name=TABLE,
        primary_key=CURSOR,
        write_disposition="merge",
        columns=COLUMNS,
    )
    return resource()


def rows(page: list[Bounce]) -> list[dict[str, Any]]:
    """A page as dlt rows: the typed fields by name, the rest (`extra`) as columns of their own."""
    out = []
    for bounce in page:
        row = msgspec.structs.asdict(bounce)
        extra = row.pop("extra")
        if extra:
            for key, value in extra.items():
                row[_column(key)] = value
        out.append(row)
    return out


_columns: dict[str, str] = {}


def _column(key: str) -> str:
    """The column for a field the service sent beyond the typed ones: its own name, unless dlt would
    fold it onto a typed column (``Email`` next to ``EMAIL``): then ``extra__<name>``, never lost."""
    column = _columns.get(key)
    if column is None:
        normal = _NAMING.normalize_identifier(key)
        column = _columns[key] = f"extra__{normal}" if normal in _TYPED else key
    return column


def _campaigns(message_ids: Sequence[int] | None) -> list[int]:
    if message_ids is None:
        return []
    if isinstance(message_ids, (str, bytes)) or not isinstance(message_ids, Sequence):
        raise InvalidParameterError("message_ids must be a list of campaign IDs")
    ids = [positive_id("message_ids[]", value) for value in message_ids]
    if not ids:
        raise InvalidParameterError("message_ids must not be empty (pass None for every campaign)")
    if len(set(ids)) != len(ids):
        raise InvalidParameterError("message_ids must not repeat a campaign")
    return ids
