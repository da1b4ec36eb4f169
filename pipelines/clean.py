"""`python -m pipelines.clean`: delete the warehouse and everything the job keeps beside it.

The warehouse path comes from the job's own setting (`--database`, else `warehouse.database` /
`WAREHOUSE__DATABASE`, else `data/warehouse.duckdb`); what goes is decided by
`pipelines.warehouse.clean`. Refuses (exit 4) while a run holds the warehouse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlt.common.configuration.exceptions import ConfigurationException

from pipelines.common.errors import EXIT_OK, ExpectedFailure
from pipelines.config import database_setting
from pipelines.warehouse.clean import clean


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
    try:
        database = Path(database_setting(args.database))
    except ConfigurationException as exc:
        parser.error(f"configuration: {exc}")
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
