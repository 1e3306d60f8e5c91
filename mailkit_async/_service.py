"""Facts about the Mailkit service, each written once: its address, paths, content types,
function names, page cap, and which calls are safe to repeat.

A leaf: it imports nothing of the package, so the client, the emulator, the tests and the
benchmarks all take their facts from here. What a call's parameters are, in which XML-RPC order,
is not here: the client's resources and the emulator's functions each write it on purpose, as each
other's oracle, with the documented examples as the arbiter.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BOUNCES",
    "DEFAULT_BASE_URL",
    "DOCUMENTED",
    "JSON_CONTENT_TYPE",
    "JSON_PATH",
    "MAILINGLIST_LIST",
    "MAX_PAGE_SIZE",
    "RESULTS",
    "REVALIDATE",
    "SCHEDULE",
    "UNSUBSCRIBE",
    "XMLRPC_CONTENT_TYPE",
    "XMLRPC_PATH",
]

DEFAULT_BASE_URL: Final = "https://api.mailkit.eu"

# Both endpoints answer under any prefix of the base URL (behind a proxy, say).
JSON_PATH: Final = "/json.fcgi"
XMLRPC_PATH: Final = "/rpc.fcgi"
JSON_CONTENT_TYPE: Final = "application/json"
XMLRPC_CONTENT_TYPE: Final = "text/xml"

BOUNCES: Final = "mailkit.report.raw.bounces"
SCHEDULE: Final = "mailkit.campaigns.single.schedule"
RESULTS: Final = "mailkit.sendmail_mass.results"
REVALIDATE: Final = "mailkit.email.revalidate"
UNSUBSCRIBE: Final = "mailkit.email.unsubscribe"
#: Undocumented here, but every account has one: what `Mailkit.call` is shown with.
MAILINGLIST_LIST: Final = "mailkit.mailinglist.list"

#: The functions this client types, in the order the documentation lists them.
DOCUMENTED: Final = (SCHEDULE, RESULTS, REVALIDATE, UNSUBSCRIBE, BOUNCES)

#: The most records one `report.raw.bounces` page holds, whatever `limit` asks.
MAX_PAGE_SIZE: Final = 25_000

# Which calls are safe to send again after they may have reached the service (each resource
# declares it on the `Request` it builds; `RetryPolicy.may_retry` enforces it):
#
#     report.raw.bounces, sendmail_mass.results       reads                  safe
#     email.unsubscribe, campaigns.single.cancel      same end state         safe
#     email.revalidate(agreement=True)                same end state         safe
#     email.revalidate(agreement=False)               mails the recipient    NOT safe
#     campaigns.single.schedule                       may send twice         NOT safe
#     call(...)                                       unknown                NOT unless idempotent=True
