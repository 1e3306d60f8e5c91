"""The exit codes of the command line, and the error that carries one with its message."""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT", "CliError", "output_error", "usage_error"]

#: 0 done; 1 the service refused; 2 bad usage; 3 bad credentials; 4 service unreachable or
#: failing; 5 output not writable; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
EXIT: Final = {
    "ok": 0,
    "api": 1,
    "usage": 2,
    "auth": 3,
    "network": 4,
    "output": 5,
    "interrupted": 130,
    "terminated": 143,
}


class CliError(Exception):
    """An expected failure: one line saying what went wrong and what to do, and its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def usage_error(message: str) -> CliError:
    return CliError(message, EXIT["usage"])


def output_error(message: str) -> CliError:
    return CliError(message, EXIT["output"])
