"""One run at a time per warehouse: an advisory lock file beside the DuckDB file."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.errors import EXIT_LOCKED, ExpectedFailure


@contextmanager
def exclusive_run(database: Path) -> Iterator[None]:
    """Hold `<database>.lock` for the duration of a run; fail fast if another run holds it."""
    lock_path = database.with_name(database.name + ".lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ExpectedFailure(
                EXIT_LOCKED,
                f"another pipeline run (pid {holder}) is using {database}; try again when it ends",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
