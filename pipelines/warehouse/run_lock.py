"""One run at a time per warehouse: an advisory lock file beside the DuckDB file, and an
optional wait for other processes (another run, an analyst's open connection) to let go."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.common.errors import EXIT_LOCKED, ExpectedFailure
from pipelines.warehouse.connection import connect

_POLL_SECONDS = 1.0


def lock_path_for(database: Path) -> Path:
    """The run lock of `database`: a file beside it."""
    return database.with_name(database.name + ".lock")


@contextmanager
def exclusive_run(database: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold `<database>.lock` for the duration of a run.

    Fail fast when another run holds it, or wait up to `wait_seconds` for it; then wait
    (within the same budget) until no other process keeps the DuckDB file open.
    """
    deadline = time.monotonic() + wait_seconds
    handle = open(lock_path_for(database), "a+")  # noqa: SIM115 - held open for the whole run
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise ExpectedFailure(
                        EXIT_LOCKED,
                        f"another pipeline run (pid {holder}) is using {database}; "
                        "try again when it ends (or pass --wait SECONDS)",
                    ) from None
                time.sleep(_POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _wait_for_database(database, deadline)
        yield
    finally:
        handle.close()


def _wait_for_database(database: Path, deadline: float) -> None:
    """Wait until DuckDB lets this process open the file for writing, or the deadline passes."""
    if not database.exists():
        return
    while time.monotonic() < deadline:
        try:
            connect(database, memory_limit=None).close()
            return
        except duckdb.IOException:
            time.sleep(_POLL_SECONDS)
    # past the deadline: the run itself will report the lock if it is still held
