"""``python -m benchmarks [run] [--quick] [--only a,b] [--repeats N]``, ``chart``, ``table``, ``profile``.

`run` (the default) runs the selected benchmarks, prints the table and writes
``benchmarks/results/latest.json``; `chart` renders ``benchmarks/chart.png`` from that file and
`table` prints its table again (``--markdown`` for the README); `profile` runs one library path
under pyinstrument and prints where its time goes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from ._harness import Row
from ._results import LATEST, Results, format_markdown, format_table, new_results, print_summary, save
from ._settings import FULL, QUICK, Settings

Benchmark = Callable[[Settings], list[Row]]


# Benchmark name -> the module whose `run(settings)` measures it, in the order of the targets.
MODULES: Final = {
    "stream-json": "._stream",
    "xmlrpc": "._xmlrpc",
    "calls": "._calls",
    "memory": "._memory",
    "overlap": "._overlap",
    "retry": "._retry",
    "export": "._export",
    "responsiveness": "._responsiveness",
}
NAMES: Final = tuple(MODULES)


def _benchmark(name: str) -> Benchmark:
    run: Benchmark = importlib.import_module(MODULES[name], __package__).run
    return run


def _selection(text: str | None) -> list[str]:
    if not text:
        return list(NAMES)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}"
        )
    return chosen


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark mailkit_async against plain httpx, a naive pydantic client and the stdlib.",
    )
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run benchmarks and print the table (the default)")
    _add_run_options(parser)
    # Options given after `run` override those before it; absent ones must not reset them.
    _add_run_options(run, default=argparse.SUPPRESS)
    chart = commands.add_parser("chart", help="render benchmarks/chart.png from the latest results")
    chart.add_argument("--input", type=Path, default=LATEST)
    chart.add_argument("--output", type=Path, default=None)
    table = commands.add_parser("table", help="print the table of the latest results again")
    table.add_argument("--input", type=Path, default=LATEST)
    table.add_argument("--markdown", action="store_true", help="as Markdown (for benchmarks/README.md)")
    profile = commands.add_parser("profile", help="profile one library path with pyinstrument")
    profile.add_argument("target", choices=("stream-json", "stream-pages", "xmlrpc-decode", "calls"))
    profile.add_argument("--records", type=int, default=FULL.stream_records)
    profile.add_argument("--concurrency", type=int, default=1)
    return parser


def _add_run_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    def value(normal: object) -> object:
        return normal if default is None else default

    parser.add_argument(
        "--quick",
        action="store_true",
        default=value(False),
        help="fewer records and repeats (under 2 minutes)",
    )
    parser.add_argument(
        "--only", type=_selection, default=value(None), help=f"comma-separated: {','.join(NAMES)}"
    )
    parser.add_argument(
        "--repeats", type=_positive, default=value(None), help="repeats per contender (default 5, quick 3)"
    )
    parser.add_argument("--output", type=Path, default=value(LATEST), help="where to write the raw results")


def run(args: argparse.Namespace) -> int:
    settings = (QUICK if args.quick else FULL).with_repeats(args.repeats)
    rows: list[Row] = []
    for name in args.only or NAMES:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(_benchmark(name)(settings))
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    results = new_results(settings, rows)
    path = save(results, args.output)
    print_summary(results, sys.stdout)
    print(f"raw results: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chart":
        from ._chart import render

        print(render(args.input, args.output))
        return 0
    if args.command == "table":
        results = Results.load(args.input)
        print(format_markdown(results.rows) if args.markdown else format_table(results.rows))
        return 0
    if args.command == "profile":
        from ._profile import profile

        return profile(args.target, records=args.records, concurrency=args.concurrency)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
