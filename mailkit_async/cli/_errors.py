"""The exit codes of the command line, the error that carries one with its message, and the rule
that gives a library error its code."""

from __future__ import annotations

from typing import Final

from .._exceptions import AuthenticationError, InvalidParameterError, MailkitError, TransientError

__all__ = ["EXIT", "CliError", "exit_code", "output_error", "usage_error"]

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


def exit_code(error: MailkitError) -> int:
    """The exit code for a library error, by its kind alone.

    Bad usage is an argument the library refused (`InvalidParameterError`, missing credentials
    included); a fault that may pass is the service unreachable or failing; any other failure
    (a refusal, an answer that cannot be read, a demo emulator that did not start) is 1.
    """
    if isinstance(error, AuthenticationError):
        return EXIT["auth"]
    if isinstance(error, InvalidParameterError):
        return EXIT["usage"]
    if isinstance(error, TransientError):
        return EXIT["network"]
    return EXIT["api"]
