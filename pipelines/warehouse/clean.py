"""Delete the warehouse and everything the job keeps beside it (`python -m pipelines.clean`).

The warehouse comes from the job's own settings (`--database` / `--data-path`, else
`warehouse.database` / `warehouse.data_path`, else `data/warehouse.duckdb`), and the paths
beside it from the functions the job uses, so `make clean` removes what `make run` made,
wherever it put it:

- a DuckDB file: the file, its `.wal`, its `.tmp` spill folder, dlt's working folder, the lock;
- a lake with a SQLite catalog: the catalog and its `-wal`/`-shm`/`-journal`, the data folder
  only when it is the default `<catalog>.files/` (a configured data path may be shared or a
  bucket: it is left alone, and said so), the spill folder, dlt's working folder, the lock;
- a lake with a PostgreSQL catalog: only this machine's working folder, spill folder and
  lock; the catalog and the data are left alone (the team's, and maybe other machines').

Refuses (exit 4) while a run holds the warehouse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.load.pipeline import pipelines_dir_for
from pipelines.warehouse.connection import as_warehouse, spill_path
from pipelines.warehouse.location import Warehouse
from pipelines.warehouse.run_lock import exclusive_run, lock_path_for

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def default_data_path(warehouse: Warehouse) -> Path | None:
    """A SQLite lake's data folder when it is the default `<catalog>.files/`, else None."""
    if warehouse.catalog_kind != "sqlite" or warehouse.data_path:
        return None
    return Path(warehouse.resolved_data_path)


def warehouse_files(database: Warehouse | str | Path) -> list[Path]:
    """What `clean` removes for this warehouse (whether it exists or not)."""
    warehouse = as_warehouse(database)
    local = [spill_path(warehouse), pipelines_dir_for(warehouse), lock_path_for(warehouse)]
    if not warehouse.is_lake:
        path = Path(warehouse.setting)
        return [path, _beside(path, ".wal"), *local]
    if warehouse.catalog_kind == "sqlite":
        catalog = Path(warehouse.catalog)
        files = [catalog, *(_beside(catalog, suffix) for suffix in SQLITE_COMPANIONS)]
        data = default_data_path(warehouse)
        return [*files, *([data] if data is not None else []), *local]
    return local


def left_alone(database: Warehouse | str | Path) -> list[str]:
    """What belongs to the warehouse but `clean` never deletes, to say so."""
    warehouse = as_warehouse(database)
    if warehouse.catalog_kind == "postgres":
        return [
            f"the catalog {warehouse.display} and its data "
            f"{warehouse.data_path or '(no data path set)'}"
        ]
    if warehouse.catalog_kind == "sqlite" and warehouse.data_path:
        return [f"the lake's data path {warehouse.data_path}"]
    return []


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def clean(
    database: Warehouse | str | Path, wait_seconds: float = 0.0, dry_run: bool = False
) -> list[Path]:
    """Delete the files of the warehouse that exist (only list them with `dry_run`); return
    them."""
    warehouse = as_warehouse(database)
    present = [path for path in warehouse_files(warehouse) if os.path.lexists(path)]
    if dry_run or not present:
        return present
    lock = lock_path_for(warehouse)
    with exclusive_run(warehouse, wait_seconds):  # never under a running job
        for path in present:
            if path != lock:
                _remove(path)
    _remove(lock)
    return present
