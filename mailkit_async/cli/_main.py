"""Argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mailkit-async", description="Mailkit API client tools.")
    parser.add_argument("--version", action="version", version=f"mailkit-async {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
