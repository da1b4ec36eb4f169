"""Expected failures of a run, each with its exit code and a one-line message for cron logs."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import TYPE_CHECKING

import duckdb
from dlt.common.configuration.exceptions import ConfigFieldMissingException, LookupTraces
from dlt.extract.exceptions import ResourceExtractionError

from pipelines.common.redact import redact_text

if TYPE_CHECKING:
    from pipelines.warehouse.location import Warehouse

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_SOURCE = 3
EXIT_LOCKED = 4
EXIT_PERMISSION = 5
EXIT_DISK_FULL = 6
EXIT_CHECK_FAILED = 7
EXIT_OUT_OF_MEMORY = 8

# name of the resource of dlt's filesystem source that lists the archive (pipelines/load/source.py)
LISTING_RESOURCE = "filesystem"
CREDENTIALS_HINT = (
    "set [sources.filesystem.credentials] in .dlt/secrets.toml "
    "or SOURCES__FILESYSTEM__CREDENTIALS__* environment variables"
)
# what DuckDB's sqlite and postgres extensions say when a lake's catalog cannot be used; the
# messages echo the attach string (a PostgreSQL password included), so only our words are shown
CATALOG_UNREADABLE = (
    "file is not a database",
    "unable to open database file",
    "database disk image is malformed",
    "attempt to write a readonly database",
)
CATALOG_UNREACHABLE = (
    "Unable to connect to Postgres",
    "could not connect to server",
    "Connection refused",
    "could not translate host name",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "SSL SYSCALL error",
    "no connection to the server",
    "timeout expired",
)
CATALOG_REFUSED = (
    "password authentication failed",
    "no password supplied",
    "permission denied for",
    "pg_hba.conf rejects",
)


class ExpectedFailure(Exception):
    """A failure the operator can fix; reported as one line, without a traceback.

    The message is redacted (URL credentials, query strings, remembered secrets) when made:
    it may echo a source URL or a storage client's error, and it reaches cron logs and dlt's
    trace of the failed step."""

    def __init__(self, exit_code: int, message: str) -> None:
        message = redact_text(message)
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


def classify(exc: BaseException, warehouse: Warehouse | str) -> ExpectedFailure | None:
    """Map a raised exception to an expected failure, or None when it is a bug.

    `warehouse` is named in the message: a `Warehouse` by its `display` (no password)."""
    database = warehouse if isinstance(warehouse, str) else warehouse.display
    chain = list(_chain(exc))
    for current in chain:
        if isinstance(current, ExpectedFailure):
            return current
    source_failure = _source_failure(chain)
    if source_failure is not None:
        return source_failure
    if not isinstance(warehouse, str) and warehouse.is_lake:
        lake_failure = _catalog_failure(chain, warehouse)
        if lake_failure is not None:
            return lake_failure
    for current in chain:
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
        if isinstance(current, duckdb.OutOfMemoryException):
            return ExpectedFailure(
                EXIT_OUT_OF_MEMORY,
                f"DuckDB ran out of memory writing {database} "
                f"({text.splitlines()[0].removeprefix('Out of Memory Error: ')}): raise "
                "warehouse.duckdb_memory_limit; the next run finishes the pending load",
            )
        if isinstance(current, duckdb.IOException) and (
            "lock" in text.lower() or "Conflicting" in text
        ):
            return ExpectedFailure(
                EXIT_LOCKED,
                f"database {database} is locked by another process "
                "(close other connections to it, or wait for the other run)",
            )
    return None


def _catalog_failure(chain: list[BaseException], warehouse: Warehouse) -> ExpectedFailure | None:
    """A lake whose catalog cannot be used: a SQLite file that is no catalog or cannot be
    opened, a PostgreSQL server that cannot be reached or refuses the credentials."""
    texts = [str(current) for current in chain if isinstance(current, Exception)]

    def said(phrases: tuple[str, ...]) -> str | None:
        return next(
            (phrase for text in texts for phrase in phrases if phrase.lower() in text.lower()),
            None,
        )

    if warehouse.catalog_kind == "sqlite":
        if any("Permission denied" in text for text in texts):
            return ExpectedFailure(
                EXIT_PERMISSION, f"no permission to access the lake catalog {warehouse.display}"
            )
        reason = said(CATALOG_UNREADABLE)
        if reason is not None:
            return ExpectedFailure(
                EXIT_SOURCE, f"lake catalog {warehouse.display} is unreadable: {reason}"
            )
        return None
    reason = said(CATALOG_REFUSED)
    if reason is not None:
        return ExpectedFailure(
            EXIT_PERMISSION,
            f"the catalog server of {warehouse.display} refused the connection: {reason} "
            "(check the user and WAREHOUSE__CATALOG_PASSWORD)",
        )
    reason = said(CATALOG_UNREACHABLE)
    if reason is not None:
        return ExpectedFailure(
            EXIT_SOURCE,
            f"the catalog server of {warehouse.display} is unreachable: {reason}",
        )
    return None


def _source_failure(chain: list[BaseException]) -> ExpectedFailure | None:
    """A bucket that could not be listed: missing, wrong or missing credentials, unreachable."""
    for current in chain:
        if isinstance(current, ConfigFieldMissingException):
            missing = ", ".join(_missing_fields(current.traces))
            return ExpectedFailure(
                EXIT_SOURCE,
                f"missing source credentials or settings ({missing}): {CREDENTIALS_HINT}",
            )
    listing = next(
        (
            current
            for current in chain
            if isinstance(current, ResourceExtractionError)
            and current.pipe_name == LISTING_RESOURCE
        ),
        None,
    )
    reason = next((current for current in chain if isinstance(current, OSError)), None)
    if listing is None or reason is None:
        return None
    detail = " ".join(listing.msg.split())  # one line, whatever the storage client said
    if isinstance(reason, PermissionError):
        return ExpectedFailure(
            EXIT_PERMISSION,
            f"no permission to list the source: {detail} (check its credentials: "
            f"{CREDENTIALS_HINT})",
        )
    if isinstance(reason, FileNotFoundError):
        return ExpectedFailure(EXIT_SOURCE, f"source not found: {detail}")
    return ExpectedFailure(EXIT_SOURCE, f"cannot list the source: {detail}")


def _missing_fields(traces: dict[str, list]) -> list[str]:
    """Dotted names of the missing fields of a dlt configuration, e.g. credentials.aws_...

    When nested configurations (credentials) are missing fields, only those are named: dlt
    also lists plain fields (`local_dir`) that do not matter for a bucket.
    """
    nested = [
        f"{name}.{leaf}"
        for name, field_traces in traces.items()
        for trace in field_traces[:1]
        if isinstance(trace, LookupTraces)
        for leaf in _missing_fields(trace.traces)
    ]
    return nested or list(traces)
