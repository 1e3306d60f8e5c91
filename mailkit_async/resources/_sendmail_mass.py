"""`mailkit.sendmail_mass.results`: which recipients a transactional mass send failed for."""

from __future__ import annotations

from typing import Final

import msgspec

from .._answers import api_error, check_auth_text, error_status, expect_mapping, parse_timestamp
from .._codecs import Readers
from .._codecs._records import RecordReader
from .._exceptions import ResponseDecodeError
from .._models import MassSendError, MassSendResults, WireId
from .._request import Request
from .._service import RESULTS
from ._params import named_async, optional_positive_id, positive_id
from ._resource import Resource

__all__ = ["SendmailMass"]


class _Row(msgspec.Struct, kw_only=True, gc=False):
    """One failed recipient as the service names its fields (the reader applies the ID rule)."""

    code: WireId | None = msgspec.field(default=None, name="ERROR_CODE")
    info: str = msgspec.field(default="", name="INFO")
    date: str = msgspec.field(default="", name="DATE")
    email: str = msgspec.field(default="", name="EMAIL")
    email_id: WireId | None = msgspec.field(default=None, name="ID_EMAIL")
    send_id: WireId | None = msgspec.field(default=None, name="ID_SEND")
    send_message_id: WireId | None = msgspec.field(default=None, name="ID_SEND_MESSAGE")


_ROWS: Final = RecordReader(_Row, ids=("ERROR_CODE",))


class SendmailMass(Resource):
    """`mk.sendmail_mass`: the `mailkit.sendmail_mass.*` functions."""

    @named_async("sendmail_mass.results")
    async def results(self, request_id: int, *, send_id: int | None = None) -> MassSendResults:
        """The recipients a `mailkit.sendmail_mass` request failed for (`mailkit.sendmail_mass.results`).

        ``status == "ERROR"`` is a successful call reporting failed recipients, not an exception.
        The service answers "OK" while the job still runs: call it 30+ minutes after the send.
        A read: no side effect, every transient fault is retried.

        Args:
            request_id: The ID `mailkit.sendmail_mass` returned for the request.
            send_id: Only the failures of this send of the request. Default: all of them.

        Returns:
            The status (`"OK"` or `"ERROR"`) and the failed recipients, each with its error code.

        Raises:
            InvalidParameterError: An ID that is not a positive int, before anything is sent.
            APIError: The service refused the call.
            AuthenticationError: The credentials or the caller's IP were refused.
            TransientError: Once retries were spent: `RateLimitError` (429, or 503 with
                `Retry-After`), `ServerError` (5xx) or `TransportError` (network, timeouts).
            ResponseDecodeError: The answer is not what the function returns.
        """
        request_id = positive_id("request_id", request_id)
        send_id = optional_positive_id("send_id", send_id)
        json: dict[str, object] = {} if send_id is None else {"ID_send": send_id}
        json["request_id"] = request_id
        request = Request(RESULTS, json, (send_id or 0, request_id), idempotent=True)
        return await self._call(request, _MASS_RESULTS)


def _results_xmlrpc(value: object) -> MassSendResults:
    # A refusal comes as a bare text where the struct would be.
    if isinstance(value, str):
        check_auth_text(value)
        raise api_error(value)
    return _results(value)


def _results(value: object) -> MassSendResults:
    answer = expect_mapping(value)
    status = answer.get("status")
    # error_status is 1 when status is "ERROR": that is a report, not a refusal.
    if not isinstance(status, str):
        if error_status(answer):
            raise api_error(str(answer.get("error", "")))
        raise ResponseDecodeError("the answer has no status", excerpt=repr(value))
    rows = answer.get("results") or []
    if not isinstance(rows, list):
        raise ResponseDecodeError("results is not a list", excerpt=repr(rows))
    try:
        errors = [_error(row) for row in _ROWS.convert(rows)]
    except TypeError as exc:
        raise ResponseDecodeError(f"unexpected result row ({exc})", excerpt=repr(rows)) from None
    return MassSendResults(status=status, errors=errors)


_MASS_RESULTS: Final = Readers(json=_results, xmlrpc=_results_xmlrpc)


def _error(row: _Row) -> MassSendError:
    return MassSendError(
        code=row.code or 0,
        info=row.info,
        date=parse_timestamp(row.date),
        email=row.email,
        email_id=row.email_id,
        send_id=row.send_id,
        send_message_id=row.send_message_id,
    )
