"""One-line messages: every error the lake reports names what failed in one line."""

from __future__ import annotations


def first_line(error: BaseException | str) -> str:
    """The first non-empty line of an error (its type's name when it says nothing): what a one-line
    message quotes of a driver's or a library's multi-line error."""
    text = str(error).strip()
    if text:
        return text.splitlines()[0]
    return type(error).__name__ if isinstance(error, BaseException) else "?"


class UserError(ValueError):
    """An error the user can fix (a setting, an argument, a file): the CLI shows its one line without
    a traceback. Other exceptions, bugs included, keep theirs."""
