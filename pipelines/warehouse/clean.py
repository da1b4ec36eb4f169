"""Delete the warehouse and everything the job keeps beside it (`python -m pipelines.clean`).

The warehouse path comes from the job's own setting (`--database`, else `warehouse.database` /
`WAREHOUSE__DATABASE`, else `data/warehouse.duckdb`), and the paths beside it from the
functions the job uses, so `make clean` removes what `make run` made, wherever it put it.
Refuses (exit 4) while a run holds the warehouse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.load.pipeline import pipelines_dir_for
from pipelines.warehouse.run_lock import exclusive_run, lock_path_for


def warehouse_files(database: Path) -> list[Path]:
    """The warehouse, DuckDB's WAL and spill folder, dlt's working folder and the run lock."""
    beside = [database.with_name(database.name + suffix) for suffix in (".wal", ".tmp")]
    return [database, *beside, pipelines_dir_for(database), lock_path_for(database)]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def clean(database: Path, wait_seconds: float = 0.0, dry_run: bool = False) -> list[Path]:
    """Delete the files of `database` that exist (only list them with `dry_run`); return them."""
    present = [path for path in warehouse_files(database) if os.path.lexists(path)]
    if dry_run or not present:
        return present
    lock = lock_path_for(database)
    with exclusive_run(database, wait_seconds):  # never under a running job
        for path in present:
            if path != lock:
                _remove(path)
    _remove(lock)
    return present
