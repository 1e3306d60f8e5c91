"""The measuring discipline every benchmark shares: alternate contenders, take medians, compare.

A shared machine drifts over seconds; running contenders in turn (A B C A B C ...) exposes each of
them to the same drift, and the median of the repeats ignores the odd stall. A contender is an async
callable that does its work once and returns a `Timing` of its timed part (opening clients stays
outside the clock). Each timing holds the wall-clock seconds (what a user waits) and the client
process's CPU seconds (what the client itself spends: immune to waiting for a busy CPU).

Ratios are paired: the median, over the repeats, of this contender's figure divided by the
reference's figure from the same repeat (the two ran back to back, under the same load).
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Literal

__all__ = [
    "Contender",
    "Row",
    "Stopwatch",
    "Target",
    "Timing",
    "alternate",
    "paired_ratio",
    "rate_row",
    "warm_up",
]

Op = Literal[">=", "<="]


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds of one run: wall clock, and CPU time of this process (all its threads)."""

    wall: float
    cpu: float


Contender = Callable[[], Awaitable[Timing]]


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.timing``."""

    def __init__(self) -> None:
        self.timing = Timing(0.0, 0.0)
        self._wall = self._cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.timing = Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


@dataclasses.dataclass(frozen=True)
class Target:
    """A bound on a ratio: ``ratio >= value`` or ``ratio <= value``."""

    op: Op
    value: float

    def met(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def paired_ratio(values: list[float], references: list[float]) -> float:
    """The median of per-repeat ratios ``values[i] / references[i]``."""
    return _median([value / reference for value, reference in zip(values, references, strict=True)])


@dataclasses.dataclass
class Row:
    """One line of the results table: a contender's median figure, and how it compares with a
    reference (another row of the same benchmark, or a computed bound named in `reference`).

    `samples` hold the figure per repeat from wall-clock time; `cpu_samples`, where it applies, the
    same figure from the client's CPU time."""

    benchmark: str
    contender: str
    unit: str
    samples: list[float]
    cpu_samples: list[float] = dataclasses.field(default_factory=list)
    reference: str | None = None
    ratio: float | None = None
    cpu_ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""
    params: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def median(self) -> float:
        return _median(self.samples)

    @property
    def cpu_median(self) -> float:
        return _median(self.cpu_samples)

    def judged(
        self, reference: str, ratio: float, target: Target | None, cpu_ratio: float | None = None
    ) -> Row:
        """A copy of this row compared with `reference`: `ratio`, judged against `target`."""
        return dataclasses.replace(
            self,
            reference=reference,
            ratio=ratio,
            cpu_ratio=cpu_ratio,
            target=None if target is None else str(target),
            met=None if target is None else target.met(ratio),
        )

    def against(self, reference: Row, target: Target | None = None) -> Row:
        """A copy of this row with paired ratios against `reference` (same repeats, same unit)."""
        cpu = (
            paired_ratio(self.cpu_samples, reference.cpu_samples)
            if self.cpu_samples and reference.cpu_samples
            else None
        )
        return self.judged(reference.contender, paired_ratio(self.samples, reference.samples), target, cpu)


def rate_row(benchmark: str, contender: str, unit: str, work: float, timings: list[Timing]) -> Row:
    """A row of rates (`work` units per second), from wall-clock and from CPU time."""
    return Row(
        benchmark,
        contender,
        unit,
        [work / t.wall for t in timings],
        [work / max(t.cpu, 1e-9) for t in timings],
    )


async def warm_up(contenders: Mapping[str, Contender]) -> None:
    """Run each contender once, untimed: fills the server's page cache, opens connections."""
    for run in contenders.values():
        await run()


async def alternate(contenders: Mapping[str, Contender], repeats: int) -> dict[str, list[Timing]]:
    """Timings of each contender, run in turn `repeats` times (A B C A B C ...)."""
    samples: dict[str, list[Timing]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            gc.collect()  # the previous contender's garbage is not this one's bill
            samples[name].append(await run())
    return samples
