"""`mailkit.campaigns.single.schedule`: schedule (or cancel) a one-off send of a campaign."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

from .._answers import api_error, error_status, json_outcome, xmlrpc_text
from .._codecs import Readers
from .._exceptions import APIError, InvalidParameterError, ResponseDecodeError
from .._models import ScheduleResult
from .._request import Request
from .._secrets import quote
from .._service import SCHEDULE
from ._params import UNSET, Unset, bounded_int, named_async, offset_text, optional_positive_id, positive_id
from ._params import time_zone as parse_time_zone
from ._resource import Resource

if TYPE_CHECKING:
    from .._client import Mailkit

__all__ = ["Campaigns", "SingleCampaign"]

_CANCEL_DATE: Final = "0000-00-00"
# "OK, send_date: 2022-05-13 12:45:00 (Europe/Prague)" (JSON) or without the zone (XML-RPC).
_OK = re.compile(
    r"OK\b,?\s*(?:send_date:\s*(?P<date>\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?))?"
    r"\s*(?:\((?P<zone>[^)]*)\))?"
)


class SingleCampaign(Resource):
    """`mk.campaigns.single`: one-off sends of a campaign."""

    @named_async("campaigns.single.schedule")
    async def schedule(
        self,
        message_id: int,
        send_date: datetime | Literal["now"],
        *,
        time_zone: str | None = None,
        subject: str | None = None,
        template_id: int | None = None,
        query_id: int | Unset = UNSET,
        delivery_feed_id: int | None = None,
    ) -> ScheduleResult:
        """Schedule a one-off send of campaign `message_id` (`mailkit.campaigns.single.schedule`).

        ```python
        when = datetime.now(ZoneInfo("Europe/Prague")) + timedelta(days=7)
        result = await mk.campaigns.single.schedule(1234, when, subject="Spring news")
        ```
        Each call adds a send: a campaign may hold several scheduled sends at once, so scheduling
        twice sends twice. The call is therefore never re-sent once it may have reached the
        service (only connect failures and 429 are retried).

        Args:
            message_id: The campaign's ID.
            send_date: `"now"`, or a datetime. A timezone-aware one brings its own offset; a naive
                one needs `time_zone`. The service takes minutes: seconds are dropped.
            time_zone: The offset of a naive `send_date`: `"hh:mm"` or `"-hh:mm"` (`"02:00"`,
                `"-03:00"`). Default: none (an aware datetime's own offset; `"now"` needs none).
            subject: The send's subject. Default: the campaign's own.
            template_id: The template to send with. Default: the campaign's own.
            query_id: A conditional-delivery rule (`ID_query`) to attach to the campaign; `0`
                clears the campaign's rule. Default `UNSET`: left as the campaign has it.
            delivery_feed_id: A delivery feed to attach to the campaign, which detaches its
                mailing list (as the service documents). Default: none. Cannot be combined with a
                non-zero `query_id`.

        Returns:
            The date the service confirmed (naive, as it printed it) and, over JSON, the zone name
            it printed (`None` over XML-RPC).

        Raises:
            InvalidParameterError: A bad argument, before anything is sent: an ID that is not a
                positive int, a naive `send_date` without `time_zone` (or a `time_zone` that
                contradicts an aware date's offset), a malformed `time_zone`, a `query_id` together
                with a `delivery_feed_id`.
            APIError: The service refused: an unknown campaign ("Missing ID of campaign"), a date
                in the past by its clock, an invalid rule or feed.
            AuthenticationError: The credentials or the caller's IP were refused.
            TransientError: Once retries were spent: `RateLimitError` (429, or 503 with
                `Retry-After`), `ServerError` (5xx) or `TransportError` (network, timeouts).
            ResponseDecodeError: The answer is not what the function returns.
                After a read timeout or a 5xx the send may have been scheduled: check the
                campaign before trying again.
        """
        message_id = positive_id("message_id", message_id)
        date, zone = _send_date(send_date, time_zone)
        if subject is not None and not isinstance(subject, str):
            raise InvalidParameterError(f"subject must be a str, not {subject!r}")
        template_id = optional_positive_id("template_id", template_id)
        delivery_feed_id = optional_positive_id("delivery_feed_id", delivery_feed_id)
        if query_id is not UNSET:
            query_id = bounded_int("query_id", query_id, 0)
        if isinstance(query_id, int) and query_id and delivery_feed_id is not None:
            raise InvalidParameterError(
                "query_id and delivery_feed_id cannot be combined: the service refuses conditional "
                "delivery together with a delivery feed"
            )
        request = _request(
            message_id,
            date,
            zone,
            subject,
            template_id,
            query_id,
            delivery_feed_id,
            idempotent=False,
        )
        outcome = self._codec.reader(_OUTCOME)
        return await self._client._execute(request, lambda value: _scheduled(outcome, value))

    @named_async("campaigns.single.cancel")
    async def cancel(self, message_id: int) -> ScheduleResult | None:
        """Cancel every scheduled send of campaign `message_id`.

        This is the form the schedule page documents: `mailkit.campaigns.single.schedule` with the
        send date `0000-00-00`. Cancelling twice cancels once, so every transient fault is retried.

        Args:
            message_id: The campaign's ID.

        Returns:
            `None` when the service prints no date (what it does for a cancel), else its
            confirmation.

        Raises:
            InvalidParameterError: `message_id` is not a positive int.
            APIError: The service refused (an unknown campaign).
            AuthenticationError: The credentials or the caller's IP were refused.
            TransientError: Once retries were spent: `RateLimitError` (429, or 503 with
                `Retry-After`), `ServerError` (5xx) or `TransportError` (network, timeouts).
            ResponseDecodeError: The answer is not what the function returns.
        """
        message_id = positive_id("message_id", message_id)
        request = _request(message_id, _CANCEL_DATE, "", None, None, UNSET, None, idempotent=True)
        outcome = self._codec.reader(_OUTCOME)
        return await self._client._execute(request, lambda value: _confirmation(outcome(value)))


class Campaigns:
    """`mk.campaigns`: the `mailkit.campaigns.*` functions."""

    def __init__(self, client: Mailkit) -> None:
        self.single: Final = SingleCampaign(client)


def _send_date(send_date: object, time_zone: object) -> tuple[str, str]:
    """The wire `send_date` and `time_zone` (``hh:mm`` / ``-hh:mm``, "" when not needed)."""
    if time_zone is not None:
        time_zone = parse_time_zone(time_zone)
    if send_date == "now":
        return "now", time_zone or ""
    if not isinstance(send_date, datetime):
        hint = " (use campaigns.single.cancel() to cancel)" if send_date == _CANCEL_DATE else ""
        raise InvalidParameterError(f"send_date must be 'now' or a datetime, not {send_date!r}{hint}")
    offset = send_date.utcoffset()
    if offset is None:
        if time_zone is None:
            raise InvalidParameterError(
                "send_date is a naive datetime: pass time_zone='hh:mm' (e.g. '02:00') or an aware datetime"
            )
        return send_date.strftime("%Y-%m-%d %H:%M"), time_zone
    own = offset_text(offset)
    if time_zone is not None and time_zone != own:
        raise InvalidParameterError(
            f"send_date carries the offset {own}, which contradicts time_zone={time_zone!r}"
        )
    return send_date.strftime("%Y-%m-%d %H:%M"), own


def _request(
    message_id: int,
    send_date: str,
    time_zone: str,
    subject: str | None,
    template_id: int | None,
    query_id: int | Unset,
    delivery_feed_id: int | None,
    *,
    idempotent: bool,
) -> Request:
    json: dict[str, object] = {"ID_message": message_id}
    if subject is not None:
        json["subject"] = subject
    json["send_date"] = send_date
    json["time_zone"] = time_zone
    if template_id is not None:
        json["ID_template"] = template_id
    # XML-RPC carries the two optional IDs in a trailing struct, as strings (as the docs show).
    options: dict[str, object] = {}
    if query_id is not UNSET:
        json["ID_query"] = query_id
        options["ID_query"] = str(query_id)
    if delivery_feed_id is not None:
        json["ID_delivery_feed"] = delivery_feed_id
        options["ID_delivery_feed"] = str(delivery_feed_id)
    # `condition` is the documented empty placeholder kept for backward compatibility.
    positional = (message_id, subject or "", send_date, time_zone, "", template_id or 0, options)
    return Request(SCHEDULE, json, positional, idempotent)


def _json_outcome(value: object) -> str:
    """JSON: the outcome text, in `error` (a success's too); a refusal flagged by `error_status`."""
    answer, text = json_outcome(value)
    if error_status(answer):
        raise api_error(text)
    return text


# The outcome text ("OK, send_date: ..." or a refusal) as each protocol carries it.
_OUTCOME: Final = Readers(json=_json_outcome, xmlrpc=xmlrpc_text)


def _scheduled(outcome: Callable[[object], str], value: object) -> ScheduleResult:
    result = _confirmation(outcome(value))
    if result is None:
        raise ResponseDecodeError("the service confirmed no send date", excerpt=repr(value))
    return result


def _confirmation(text: str) -> ScheduleResult | None:
    """Success is the text "OK, send_date: ..." (no date for a cancel); anything else a refusal."""
    match = _OK.match(text.strip())
    if match is None:
        raise APIError(text.strip() or "the service refused the call without a reason")
    date = match["date"]
    if date is None or date.startswith(_CANCEL_DATE):
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            when = datetime.strptime(date, fmt)
        except ValueError:
            continue
        zone = (match["zone"] or "").strip() or None
        return ScheduleResult(send_date=when, time_zone=zone, message=text.strip())
    raise ResponseDecodeError(f"unexpected send_date {quote(date)}", excerpt=text)
