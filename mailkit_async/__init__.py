"""An async, typed client for the Mailkit e-mail marketing API (JSON and XML-RPC).

```python
from mailkit_async import Mailkit

async with Mailkit(client_id=123, client_md5="...") as mk:
    async for bounce in mk.report.raw.bounces(after_id=0):
        ...
```
"""

from ._client import Mailkit
from ._exceptions import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    InvalidParameterError,
    MailkitError,
    NotUnsubscribedError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TransientError,
    TransportError,
    UnplacedRecordError,
)
from ._models import (
    Bounce,
    MassSendError,
    MassSendErrorCode,
    MassSendResults,
    Revalidation,
    ScheduleResult,
    Unsubscription,
)
from ._ratelimit import RateLimit
from ._retry import RetryPolicy
from ._version import __version__
from .resources import UNSET, BouncePages, BounceStream

__all__ = [
    "UNSET",
    "APIError",
    "AuthenticationError",
    "Bounce",
    "BouncePages",
    "BounceStream",
    "ClientClosedError",
    "InvalidParameterError",
    "Mailkit",
    "MailkitError",
    "MassSendError",
    "MassSendErrorCode",
    "MassSendResults",
    "NotUnsubscribedError",
    "PaginationError",
    "RateLimit",
    "RateLimitError",
    "ResponseDecodeError",
    "Revalidation",
    "RetryPolicy",
    "ScheduleResult",
    "ServerError",
    "TransientError",
    "TransportError",
    "UnplacedRecordError",
    "Unsubscription",
    "__version__",
]
