"""Expected failures of a run, each with its exit code and a one-line message for cron logs."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import duckdb

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_SOURCE = 3
EXIT_LOCKED = 4
EXIT_PERMISSION = 5
EXIT_DISK_FULL = 6
EXIT_CHECK_FAILED = 7


class ExpectedFailure(Exception):
    """A failure the operator can fix; reported as one line, without a traceback."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Walk an exception, the exceptions it wraps (dlt's step failures) and their causes."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (
            getattr(current, "exception", None),
            current.__cause__,
            current.__context__,
        ):
            if isinstance(nested, BaseException):
                todo.append(nested)


def classify(exc: BaseException, database: str) -> ExpectedFailure | None:
    """Map a raised exception to an expected failure, or None when it is a bug."""
    for current in _chain(exc):
        if isinstance(current, ExpectedFailure):
            return current
        text = str(current)
        if (
            isinstance(current, OSError)
            and current.errno == errno.ENOSPC
            or ("No space left on device" in text)
        ):
            return ExpectedFailure(EXIT_DISK_FULL, f"disk full while writing {database}")
        if isinstance(current, PermissionError) or "Permission denied" in text:
            target = getattr(current, "filename", None) or database
            return ExpectedFailure(EXIT_PERMISSION, f"no permission to access {target}")
        if isinstance(current, duckdb.IOException) and (
            "lock" in text.lower() or "Conflicting" in text
        ):
            return ExpectedFailure(
                EXIT_LOCKED,
                f"database {database} is locked by another process "
                "(close other connections to it, or wait for the other run)",
            )
    return None
