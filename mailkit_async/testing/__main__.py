"""`python -m mailkit_async.testing`: run the emulator's HTTP server in the foreground.

For the README's tour, demos and benchmarks that want the service in a separate process: it prints
``listening on http://HOST:PORT`` (flushed) as its first line once it accepts connections, and
serves until interrupted (SIGINT or SIGTERM), then exits 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from .._service import JSON_PATH, MAX_PAGE_SIZE, XMLRPC_PATH
from ._bounces import CACHE_MIB, CACHE_PAGES
from ._process import listening_line

if TYPE_CHECKING:
    from ._emulator import MailkitEmulator
    from ._wire import EmptyPage

_EPILOG = """\
Point a client at it with the printed URL and the accepted credentials:

  export MAILKIT_BASE_URL=http://127.0.0.1:PORT MAILKIT_CLIENT_ID=1 MAILKIT_CLIENT_MD5=emulator

Scenarios:
  none  the default account only: campaigns 1, 2, 3 and 12345, one mailing list, and the
        bounce records --records asks for
  tour  everything the README's tour touches: campaign 1234, someone@example.com (subscribed),
        mass-send request 987 with two failed recipients, and 2500 bounce records (or --records)

Exit status: 0 when stopped by SIGINT (Ctrl-C) or SIGTERM, 2 for bad usage, 1 if the address
cannot be bound.
"""


N = TypeVar("N", int, float)


def _ids(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError("expected one or more positive IDs, comma-separated")
    return values


def _not_negative(convert: Callable[[str], N], what: str) -> Callable[[str], N]:
    """An argument type: `convert`ed, 0 or more (NaN refused too)."""

    def read(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}") from None
        if not value >= 0:
            raise argparse.ArgumentTypeError("expected 0 or more")
        return value

    return read


_count = _not_negative(int, "a whole number")
_seconds = _not_negative(float, "seconds")


def _page_cap(text: str) -> int:
    value = _count(text)
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_PAGE_SIZE}")
    return value


_EMPTY_PAGES = {"[]": "[]", "{}": "{}", '""': '""', "empty": ""}


def _number(
    group: argparse._ArgumentGroup,
    option: str,
    kind: Callable[[str], N],
    default: N,
    metavar: str,
    what: str,
    note: str = "",
) -> None:
    """An option that takes a number; its help ends with the default."""
    default_text = f"{default}, {note}" if note else f"{default}"
    group.add_argument(
        option, type=kind, default=default, metavar=metavar, help=f"{what} (default: {default_text})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mailkit_async.testing",
        description="Serve the Mailkit emulator (JSON at "
        f"{JSON_PATH}, XML-RPC at {XMLRPC_PATH}) over HTTP\n"
        "on loopback until Ctrl-C. Its first line of output is 'listening on URL'.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    server.add_argument(
        "--port", type=_count, default=0, help="port to bind; 0 picks a free one (default: 0)"
    )
    account = parser.add_argument_group("account")
    account.add_argument(
        "--client-id", type=int, default=1, help="the client_id the emulator accepts (default: 1)"
    )
    account.add_argument(
        "--client-md5",
        default="emulator",
        metavar="MD5",
        help="the client_md5 the emulator accepts (default: emulator)",
    )
    account.add_argument(
        "--scenario",
        choices=("none", "tour"),
        default="none",
        help="what the account holds besides its defaults: 'tour' seeds what the README's tour "
        "calls (default: none; see below)",
    )
    account.add_argument(
        "--subscriber",
        action="append",
        metavar="EMAIL",
        help="put EMAIL in the address book, subscribed; repeat it for more (default: none)",
    )
    bounces = parser.add_argument_group("bounce records (mailkit.report.raw.bounces)")
    bounces.add_argument(
        "--records",
        type=_count,
        default=0,
        metavar="N",
        help="seed N deterministic bounce records, IDs from 1 (default: 0, or 2500 with --scenario tour)",
    )
    for option, default, what in (("--message-ids", 12345, "campaign"), ("--send-ids", 123456, "send")):
        bounces.add_argument(
            option,
            type=_ids,
            default=[default],
            metavar="ID,ID...",
            help=f"{what} IDs the records cycle through (default: {default})",
        )
    bounces.add_argument(
        "--gap-every",
        type=_count,
        default=0,
        metavar="N",
        help="leave one ID out after every N records, as the real log has gaps (default: 0, no gaps)",
    )
    bounces.add_argument(
        "--extra-fields",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="records carry the fields real ones carry beyond the Czech page (BOUNCE_CAT, "
        "UTM_CAMPAIGN, CAMPAIGN_NAME, SUBJECT) (default: on)",
    )
    bounces.add_argument(
        "--protocol-neutral",
        action="store_true",
        help="records without extra fields or text either protocol must escape, so JSON and XML-RPC "
        "pages carry the same information, for comparing the protocols (default: off)",
    )
    quirks = parser.add_argument_group("the service's behaviour")
    _number(
        quirks, "--page-cap", _page_cap, MAX_PAGE_SIZE, "N",
        "the most records one page holds, whatever the client asks", "the service's",
    )  # fmt: skip
    quirks.add_argument(
        "--cursor",
        choices=("exclusive", "inclusive"),
        default="exclusive",
        help="how ID_undelivered_log is read: 'exclusive' returns records after it, 'inclusive' "
        "from it on (default: exclusive)",
    )
    quirks.add_argument(
        "--empty-page",
        choices=tuple(_EMPTY_PAGES),
        default="[]",
        metavar="FORM",
        help="how a JSON answer says 'no more records': [] (default), {}, \"\" (an empty JSON "
        "string), or empty (no body at all). Quote it in the shell: --empty-page '{}'",
    )
    _number(
        quirks, "--bounce-delay", _seconds, 0.0, "SECONDS",
        "wait SECONDS before every bounce answer, after the page was read, as a slow service does",
    )  # fmt: skip
    cache = parser.add_argument_group("rendered-page cache")
    _number(
        cache, "--cache-pages", _count, CACHE_PAGES, "N",
        "how many rendered bounce pages are kept for clients that ask again",
    )  # fmt: skip
    _number(
        cache, "--cache-mib", _count, CACHE_MIB, "MIB",
        "the most MiB those pages may take; make both big enough to hold every page of a run, and "
        "a warm-up pass leaves nothing to render while a client is timed",
    )  # fmt: skip
    return parser


def build_emulator(args: argparse.Namespace) -> MailkitEmulator:
    """The emulator the parsed command line describes."""
    from .._service import BOUNCES
    from ._emulator import MailkitEmulator
    from ._faults import Fault
    from ._scenarios import TOUR_BOUNCES, seed_tour

    emulator = MailkitEmulator(
        args.client_id,
        args.client_md5,
        page_cap=args.page_cap,
        cursor=args.cursor,
        empty_page=cast("EmptyPage", _EMPTY_PAGES[args.empty_page]),
    )
    emulator.page_cache.max_entries = args.cache_pages
    emulator.page_cache.max_bytes = args.cache_mib * 2**20
    if args.records:
        emulator.seed_bounces(
            args.records,
            message_ids=args.message_ids,
            send_ids=args.send_ids,
            gap_every=args.gap_every,
            extra_fields=args.extra_fields and not args.protocol_neutral,
            plain=args.protocol_neutral,
        )
    for email in args.subscriber or ():
        emulator.add_subscriber(email)
    if args.scenario == "tour":
        seed_tour(emulator, bounces=0 if args.records else TOUR_BOUNCES)
    if args.bounce_delay:
        # After processing: the page is read, then the answer waits (once).
        emulator.faults.add(Fault.delay(args.bounce_delay).after_processing(), times=None, function=BOUNCES)
    return emulator


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emulator = build_emulator(args)
    try:
        server = emulator.serve(args.host, args.port)
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1

    print(listening_line(server.url), flush=True)
    if args.scenario == "tour":
        # The default md5 is public (documented); one given on the command line is not echoed.
        md5 = "emulator" if args.client_md5 == "emulator" else "<your --client-md5>"
        print(
            "tour account ready; in another shell:\n"
            f"  export MAILKIT_BASE_URL={server.url} MAILKIT_CLIENT_ID={args.client_id} "
            f"MAILKIT_CLIENT_MD5={md5}",
            flush=True,
        )
    server.serve_until_signalled()
    return 0


if __name__ == "__main__":
    sys.exit(main())
