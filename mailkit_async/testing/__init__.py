"""A stateful emulator of the Mailkit API for tests, demos and benchmarks.

```python
from mailkit_async.testing import Fault, MailkitEmulator

emu = MailkitEmulator(client_id=1, client_md5="emulator")
emu.seed_bounces(100_000, gap_every=50)
emu.faults.add(Fault.status(503, retry_after=1), function="mailkit.report.raw.bounces")
http = httpx.AsyncClient(transport=emu.transport())  # in-process
with emu.serve() as server:                            # or real HTTP/1.1 on loopback
    ...
with EmulatorProcess("--records", "1000") as child:   # or in a process of its own
    ...
```
Names load lazily, so importing this package (as the pytest plugin does) costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._emulator import MailkitEmulator
    from ._exchange import ConnectionDropped, Exchange, Reply, RequestRecord
    from ._faults import Fault, FaultPlan, FaultRule
    from ._process import EmulatorProcess
    from ._scenarios import seed_tour
    from ._server import EmulatorServer
    from ._state import (
        Campaign,
        MassSendFailure,
        RevalidationRecord,
        ScheduledSend,
        Subscriber,
        UnsubscribeRecord,
    )
    from ._transport import EmulatorTransport
    from ._wire import Call

__all__ = [
    "Call",
    "Campaign",
    "ConnectionDropped",
    "EmulatorProcess",
    "EmulatorServer",
    "EmulatorTransport",
    "Exchange",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "MailkitEmulator",
    "MassSendFailure",
    "Reply",
    "RequestRecord",
    "RevalidationRecord",
    "ScheduledSend",
    "Subscriber",
    "UnsubscribeRecord",
    "seed_tour",
]

_HOMES: Final = {
    "Call": "._wire",
    "Campaign": "._state",
    "ConnectionDropped": "._exchange",
    "EmulatorProcess": "._process",
    "EmulatorServer": "._server",
    "EmulatorTransport": "._transport",
    "Exchange": "._exchange",
    "Fault": "._faults",
    "FaultPlan": "._faults",
    "FaultRule": "._faults",
    "MailkitEmulator": "._emulator",
    "MassSendFailure": "._state",
    "Reply": "._exchange",
    "RequestRecord": "._exchange",
    "RevalidationRecord": "._state",
    "ScheduledSend": "._state",
    "Subscriber": "._state",
    "UnsubscribeRecord": "._state",
    "seed_tour": "._scenarios",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
