"""Argument parsing and dispatch; expected failures end in one short line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import anyio

from .._exceptions import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    MailkitError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .._version import __version__

__all__ = ["EXIT", "main"]

#: Exit codes: 0 done; 1 the service refused; 2 bad usage; 3 bad credentials;
#: 4 service unreachable or failing; 5 output not writable; 130 interrupted.
EXIT = {"ok": 0, "api": 1, "usage": 2, "auth": 3, "network": 4, "output": 5, "interrupted": 130}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailkit-async", description="Mailkit API client tools.")
    parser.add_argument("--version", action="version", version=f"mailkit-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="stream bounces from the built-in emulator (no account needed)")
    demo.add_argument("--records", type=_count, default=300_000, help="bounces to seed (default 300000)")
    demo.add_argument("--protocol", choices=("json", "xmlrpc"), default="json")

    bounces = commands.add_parser("bounces", help="the raw bounce report")
    actions = bounces.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export",
        help="copy bounces into a file or database",
        description="Credentials come from MAILKIT_CLIENT_ID and MAILKIT_CLIENT_MD5.",
    )
    export.add_argument("--format", choices=("jsonl", "csv", "sqlite"), required=True)
    export.add_argument("--output", required=True, metavar="PATH")
    export.add_argument("--after-id", type=_count, default=None, metavar="N")
    export.add_argument("--resume", action="store_true", help="continue after the last record in PATH")
    export.add_argument("--message-id", type=_positive, default=None, metavar="N")
    export.add_argument("--send-id", type=_positive, default=None, metavar="N")
    export.add_argument("--protocol", choices=("json", "xmlrpc"), default="json")
    export.add_argument("--base-url", default=None, metavar="URL")
    return parser


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from ._demo import run_demo

            return anyio.run(run_demo, args)
        from ._export import run_export

        return anyio.run(run_export, args)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Python 3.10's asyncio runner surfaces Ctrl-C as the main task's CancelledError.
        _fail("interrupted; what was reported as written is saved (continue with --resume)")
        return EXIT["interrupted"]
    except MailkitError as error:
        _fail(str(error))
        return _code(error)
    except (FileExistsError, ValueError) as error:
        _fail(str(error))
        return EXIT["usage"]
    except OSError as error:
        _fail(f"cannot write the output: {error.strerror or error}")
        return EXIT["output"]


def _code(error: MailkitError) -> int:
    if isinstance(error, AuthenticationError):
        return EXIT["auth"]
    if isinstance(error, InvalidParameterError) or error.function is None:
        return EXIT["usage"]
    if isinstance(error, APIError):
        return EXIT["api"]
    if isinstance(error, (TransportError, ServerError, RateLimitError)):
        return EXIT["network"]
    return EXIT["api"]


def _fail(message: str) -> None:
    print(f"mailkit-async: error: {message}", file=sys.stderr)
