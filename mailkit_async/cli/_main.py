"""Argument parsing and dispatch; expected failures end in one short line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import anyio

from .._client import DEFAULT_BASE_URL
from .._exceptions import AuthenticationError, MailkitError, RateLimitError, ServerError, TransportError
from .._version import __version__
from ._errors import EXIT, CliError, exit_code

__all__ = ["EXIT", "main"]

EXIT_CODES = """\
exit codes:
  0    done
  1    the service refused the call, or another failure (its message is shown)
  2    bad usage: an option, a missing credential, or an output that cannot be continued
  3    bad credentials (MAILKIT_CLIENT_ID / MAILKIT_CLIENT_MD5), or an IP the account does not allow
  4    the service is unreachable or failing (network error, HTTP 5xx, rate limited)
  5    the output is not writable (a directory, a missing directory, no permission, disk full)
  130  interrupted (Ctrl-C): what was reported as written is saved; continue with --resume
  143  terminated (SIGTERM): the same as Ctrl-C
"""

EXPORT_DESCRIPTION = """\
Copy every record of the raw bounce report (mailkit.report.raw.bounces) into a file or an SQLite
database, every field included: the typed fields under snake_case names, any other field the
service sends under its own name (CSV: one `extra` column holding a JSON object of them).

Each page is flushed and synced before it is counted, so an interrupted export keeps every record
it reported, and --resume continues after the last complete record (a record cut short by a crash
is dropped whole and fetched again). A run that fails before writing any record leaves no file.

Credentials come from the environment: MAILKIT_CLIENT_ID (the account's API ID) and
MAILKIT_CLIENT_MD5 (its MD5 key); MAILKIT_BASE_URL overrides the API address.
"""


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="mailkit-async",
        description="Mailkit API client tools.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"mailkit-async {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{demo,bounces}", help="run `COMMAND --help` for its options"
    )

    demo = commands.add_parser(
        "demo",
        help="stream bounces from the built-in emulator (no account needed)",
        description="Start the emulator on loopback and stream its bounces through the real client; "
        "prints throughput and peak memory.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    demo.add_argument(
        "--records", type=_count, default=300_000, metavar="N", help="bounce records to seed (default 300000)"
    )
    demo.add_argument(
        "--protocol", choices=("json", "xmlrpc"), default="json", help="wire protocol (default json)"
    )

    bounces = commands.add_parser(
        "bounces", help="the raw bounce report", description="The raw bounce report."
    )
    actions = bounces.add_subparsers(
        dest="action", required=True, metavar="{export}", help="run `export --help` for its options"
    )
    export = actions.add_parser(
        "export",
        help="copy bounces into a JSON-lines, CSV or SQLite file",
        description=EXPORT_DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    export.add_argument(
        "--format",
        choices=("jsonl", "csv", "sqlite"),
        required=True,
        help="jsonl: one JSON object a line; csv: a header, then a row a record (UTF-8); "
        "sqlite: table `bounces` keyed by undelivered_log_id, a column added for each new field",
    )
    export.add_argument(
        "--output",
        required=True,
        metavar="PATH",
        help="the file to write, created with the first record; an existing JSONL or CSV file "
        "needs --resume (an SQLite file is continued as is: records are upserted by ID)",
    )
    export.add_argument(
        "--resume",
        action="store_true",
        help="continue PATH after its last complete record (a record cut by a crash is dropped "
        "and fetched again; default: off)",
    )
    export.add_argument(
        "--after-id",
        type=_count,
        default=None,
        metavar="N",
        help="only records with undelivered_log_id > N (default 0: from the first); "
        "with --resume, the larger of N and PATH's last ID",
    )
    export.add_argument(
        "--message-id",
        type=_positive,
        default=None,
        metavar="N",
        help="only this campaign's bounces (default: all)",
    )
    export.add_argument(
        "--send-id", type=_positive, default=None, metavar="N", help="only this send's bounces (default: all)"
    )
    export.add_argument(
        "--protocol", choices=("json", "xmlrpc"), default="json", help="wire protocol (default json)"
    )
    export.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help=f"API address (default: $MAILKIT_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    export.add_argument(
        "--csv-raw",
        action="store_true",
        help="write CSV cells exactly as the service sent them; by default a cell that begins "
        "with =, +, -, @, tab or CR gets a leading ' so a spreadsheet shows it as text instead of "
        "running it as a formula (CSV injection)",
    )
    return parser


def _count(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def _positive(text: str) -> int:
    value = _integer(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def main(argv: Sequence[str] | None = None, *, backend: str = "asyncio") -> int:
    """Run the command line (`argv` defaults to ``sys.argv[1:]``); returns the exit code.

    `backend` is the anyio backend the command runs on ("asyncio" or "trio").
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "bounces" and args.csv_raw and args.format != "csv":
        parser.error("--csv-raw applies to --format csv only")
    try:
        if args.command == "demo":
            from ._demo import run_demo

            return anyio.run(run_demo, args, backend=backend)
        from ._export import run_export

        return anyio.run(run_export, args, backend=backend)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Python 3.10's asyncio runner surfaces Ctrl-C as the main task's CancelledError.
        _fail("interrupted; what was reported as written is saved (continue with --resume)")
        return EXIT["interrupted"]
    except CliError as error:
        _fail(error.message)
        return error.code
    except MailkitError as error:
        _fail(describe(error, getattr(args, "base_url", None)))
        return exit_code(error)
    except OSError as error:
        where = error.filename or getattr(args, "output", "the output")
        _fail(f"cannot write {where}: {error.strerror or error}")
        return EXIT["output"]


def describe(error: MailkitError, base_url: str | None) -> str:
    """The error's own text, and what to do about it (the resume hint is the summary's job)."""
    error.cursor = None  # "after_id=..." speaks to library users; the command says --resume
    text = str(error)
    if isinstance(error, AuthenticationError):
        return (
            f"{text}: check MAILKIT_CLIENT_ID and MAILKIT_CLIENT_MD5, and that the account allows "
            "this machine's IP address"
        )
    if isinstance(error, TransportError):
        return f"{text}: is the service at {base_url} reachable (see --base-url)?"
    if isinstance(error, (ServerError, RateLimitError)):
        return f"{text}: the service is failing or busy; try again later"
    return text


def _fail(message: str) -> None:
    print(f"mailkit-async: error: {message}", file=sys.stderr)
