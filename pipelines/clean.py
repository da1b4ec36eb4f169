"""`python -m pipelines.clean`: delete the warehouse and everything the job keeps beside it.

The warehouse path comes from the job's own setting (`--database`, else `warehouse.database` /
`WAREHOUSE__DATABASE`, else `data/warehouse.duckdb`), and the paths beside it from the
functions the job uses, so `make clean` removes what `make run` made, wherever it put it.
Refuses (exit 4) while a run holds the warehouse.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from pipelines.errors import EXIT_OK, ExpectedFailure
from pipelines.load import pipelines_dir_for
from pipelines.run import database_setting
from pipelines.run_lock import exclusive_run, lock_path_for


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


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, clean, print what went; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.clean",
        description="Delete the warehouse and the files the job keeps beside it.",
    )
    parser.add_argument("--database", help="DuckDB file (default: the job's setting)")
    parser.add_argument("--dry-run", action="store_true", help="only list what would go")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    database = Path(database_setting(args.database))
    try:
        removed = clean(database, args.wait, args.dry_run)
    except ExpectedFailure as failure:
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    if not removed:
        print(f"nothing to remove for {database}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
