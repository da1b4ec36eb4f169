"""One run at a time per warehouse: `exclusive_run` is the only way in.

Today it holds an advisory lock file beside the warehouse's local anchor (the DuckDB file or a
lake's SQLite catalog; for a PostgreSQL catalog a name under `data/`, see
`Warehouse.local_anchor`). For a DuckDB file it then waits (within `--wait`) for other
processes that keep the file open; a lake needs no such wait: its readers take no lock, so
they never block a run. A lock every machine of a team sees (in the catalog) belongs here too,
behind the same function.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.common.errors import EXIT_LOCKED, ExpectedFailure
from pipelines.warehouse.connection import as_warehouse, connect
from pipelines.warehouse.location import Warehouse

_POLL_SECONDS = 1.0


def lock_path_for(database: Warehouse | str | Path) -> Path:
    """The local run lock of the warehouse: a file beside its local anchor."""
    anchor = as_warehouse(database).local_anchor
    return anchor.with_name(anchor.name + ".lock")


@contextmanager
def exclusive_run(database: Warehouse | str | Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the warehouse for the duration of a run.

    Fail fast when another run holds it, or wait up to `wait_seconds` for it; then, for a
    DuckDB file, wait (within the same budget) until no other process keeps the file open.
    """
    warehouse = as_warehouse(database)
    deadline = time.monotonic() + wait_seconds
    with _local_lock(warehouse, deadline):
        if not warehouse.is_lake:
            _wait_for_database(warehouse, deadline)
        yield


@contextmanager
def _local_lock(warehouse: Warehouse, deadline: float) -> Iterator[None]:
    """Hold `<anchor>.lock` (flock: released by the kernel when the holder dies)."""
    lock_path = lock_path_for(warehouse)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the whole run
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
                        f"another pipeline run (pid {holder}) is using {warehouse.display}; "
                        "try again when it ends (or pass --wait SECONDS)",
                    ) from None
                time.sleep(_POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _wait_for_database(warehouse: Warehouse, deadline: float) -> None:
    """Wait until DuckDB lets this process open the file for writing, or the deadline passes."""
    if not warehouse.exists():
        return
    while time.monotonic() < deadline:
        try:
            connect(warehouse, memory_limit=None).close()
            return
        except duckdb.IOException:
            time.sleep(_POLL_SECONDS)
    # past the deadline: the run itself will report the lock if it is still held
