"""`python -m pipelines.clean`: delete the warehouse and everything the job keeps beside it.

The warehouse comes from the job's own settings (`--database` / `--data-path`, else
`warehouse.database` / `warehouse.data_path` / `WAREHOUSE__DATABASE` ..., else
`data/warehouse.duckdb`); what goes is decided by `pipelines.warehouse.clean` (for a lake with
a PostgreSQL catalog only this machine's files: the catalog and the data are left alone).
Refuses (exit 4) while a run holds the warehouse.
"""

from __future__ import annotations

import argparse
import sys

from dlt.common.configuration.exceptions import ConfigurationException

from pipelines.common.errors import EXIT_OK, ExpectedFailure
from pipelines.common.redact import remember
from pipelines.config import warehouse_location
from pipelines.warehouse.clean import clean, left_alone


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, clean, print what went; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.clean",
        description="Delete the warehouse and the files the job keeps beside it.",
    )
    parser.add_argument(
        "--database",
        help="DuckDB file, ducklake:sqlite:PATH or ducklake:postgres:... (default: the job's)",
    )
    parser.add_argument("--data-path", help="a lake's data path (default: the job's)")
    parser.add_argument("--dry-run", action="store_true", help="only list what would go")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    try:
        try:
            warehouse = warehouse_location(args.database, args.data_path)
        except ConfigurationException as exc:
            parser.error(f"configuration: {exc}")
        remember(*([warehouse.catalog_password] if warehouse.catalog_password else []))
        removed = clean(warehouse, args.wait, args.dry_run)
    except ExpectedFailure as failure:
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    verb = "would remove" if args.dry_run else "removed"
    for path in removed:
        print(f"{verb} {path}")
    if not removed:
        print(f"nothing to remove for {warehouse.display}")
    for kept in left_alone(warehouse):
        print(f"left alone: {kept}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
