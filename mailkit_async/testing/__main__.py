"""`python -m mailkit_async.testing`: run the emulator's HTTP server in the foreground.

For benchmarks and demos that want the service in a separate process: it prints
``listening on http://127.0.0.1:PORT`` (flushed) once it accepts connections, and serves until
interrupted (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _ids(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one ID")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mailkit_async.testing",
        description="Serve the Mailkit emulator (JSON at /json.fcgi, XML-RPC at /rpc.fcgi) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--client-id", type=int, default=1, help="accepted client_id (default: 1)")
    parser.add_argument("--client-md5", default="emulator", help="accepted client_md5 (default: emulator)")
    parser.add_argument("--records", type=int, default=0, help="raw bounce records to seed (default: 0)")
    parser.add_argument("--message-ids", type=_ids, default=[12345], help="comma-separated campaign IDs")
    parser.add_argument("--send-ids", type=_ids, default=[123456], help="comma-separated send IDs")
    parser.add_argument("--gap-every", type=int, default=0, help="leave an ID gap after every N records")
    parser.add_argument(
        "--extra-fields",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="records carry BOUNCE_CAT, UTM_CAMPAIGN, CAMPAIGN_NAME, SUBJECT, as real ones do (default: on)",
    )
    parser.add_argument(
        "--protocol-neutral",
        action="store_true",
        help="records without extra fields or text either protocol must escape, so JSON and XML-RPC "
        "pages carry the same information (for comparing the protocols)",
    )
    parser.add_argument("--page-cap", type=int, default=25_000, help="records per page at most")
    parser.add_argument("--cursor", choices=("exclusive", "inclusive"), default="exclusive")
    parser.add_argument(
        "--empty-page", choices=("[]", "{}", '""', "empty"), default="[]", help="JSON answer for no records"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ._emulator import MailkitEmulator

    emulator = MailkitEmulator(
        args.client_id,
        args.client_md5,
        page_cap=args.page_cap,
        cursor=args.cursor,
        empty_page="" if args.empty_page == "empty" else args.empty_page,
    )
    if args.records:
        emulator.seed_bounces(
            args.records,
            message_ids=args.message_ids,
            send_ids=args.send_ids,
            gap_every=args.gap_every,
            extra_fields=args.extra_fields and not args.protocol_neutral,
            plain=args.protocol_neutral,
        )
    server = emulator.serve(args.host, args.port)

    print(f"listening on {server.url}", flush=True)
    server.serve_until_signalled()
    return 0


if __name__ == "__main__":
    sys.exit(main())
