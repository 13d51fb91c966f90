"""The one error type configuration loading raises: a message a user can act on, never a traceback."""

from __future__ import annotations


class ConfigError(Exception):
    """Bad flags, an unreadable or malformed config file, an unknown key or a wrong type.

    `str(err)` is the full message, naming the key and the file like Consul does.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class HelpRequested(ConfigError):
    """`agent -h`/`-help`: the message is the usage text; print it and exit 0."""


def multi_error(errors: list[str]) -> str:
    """Format several problems like hashicorp/go-multierror does."""
    if len(errors) == 1:
        head = "1 error occurred:"
    else:
        head = f"{len(errors)} errors occurred:"
    return head + "".join(f"\n\t* {e}" for e in errors)
