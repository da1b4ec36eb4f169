"""Command line of the ELT job: `python -m pipelines.run` loads the archive, then builds marts.

Settings come from the command line, else dlt config (`pipelines.config`: `.dlt/config.toml`,
environment variables such as `SOURCES__WEBHOOK_ARCHIVE__BUCKET_URL` and `WAREHOUSE__DATABASE`),
else the defaults (`data/archive` into `data/warehouse.duckdb`). The warehouse is a DuckDB file
or a DuckLake (`ducklake:sqlite:PATH`, `ducklake:postgres:...` with `--data-path`): see
`pipelines.warehouse.location`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from dlt.common.configuration.exceptions import ConfigurationException

from pipelines import settings as s
from pipelines.cli.progress import Progress
from pipelines.cli.summary import format_summary
from pipelines.common.errors import (
    CREDENTIALS_HINT,
    EXIT_OK,
    EXIT_SOURCE,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    ExpectedFailure,
    classify,
)
from pipelines.common.native_memory import fix_mmap_threshold
from pipelines.common.redact import (
    has_credentials,
    install_log_redaction,
    redact_url,
    remember,
    url_secrets,
)
from pipelines.config import source_config, warehouse_config, warehouse_location
from pipelines.load.pipeline import LoadResult, load_archive
from pipelines.marts.runner import BuildResult, build_models
from pipelines.marts.transform_settings import load_transform_settings
from pipelines.warehouse.location import Warehouse
from pipelines.warehouse.maintenance import after_run
from pipelines.warehouse.run_lock import exclusive_run

log = logging.getLogger("pipelines")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line; unset options fall back to dlt config, then to defaults."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.run",
        description="Load archived Pexip Engage webhook deliveries into a DuckDB warehouse.",
    )
    parser.add_argument(
        "--source", help=f"archive folder or bucket URL (default {s.DEFAULT_SOURCE})"
    )
    parser.add_argument(
        "--database",
        help=f"DuckDB file (default {s.DEFAULT_DATABASE}), or a DuckLake: "
        "ducklake:sqlite:PATH (one machine) or "
        "'ducklake:postgres:dbname=... host=... user=...' (a team; password from "
        "WAREHOUSE__CATALOG_PASSWORD or PGPASSWORD)",
    )
    parser.add_argument(
        "--data-path",
        metavar="DIR_OR_URL",
        help="a lake's table files: a folder or a bucket URL (s3://, gs://, az://; default for "
        "a SQLite catalog: <catalog>.files/ beside it)",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="forget what was loaded and load the whole archive again, replacing the raw tables",
    )
    parser.add_argument(
        "--max-record-bytes",
        type=int,
        help="records larger than this are rejected unread (default 16 MiB)",
    )
    parser.add_argument(
        "--transforms-only",
        action="store_true",
        help="do not load: only rebuild staging, intermediate and marts from raw",
    )
    parser.add_argument(
        "--select",
        metavar="MODEL[+]",
        help="with --transforms-only: rebuild MODEL only, or MODEL and every model downstream"
        " of it (MODEL+), with their data checks, in one transaction",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for another run or open connection to release the warehouse",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.select is not None and not args.transforms_only:
        parser.error("--select needs --transforms-only")
    try:
        warehouse = warehouse_config()
        source = source_config()
    except ConfigurationException as exc:  # a value of the wrong type, a secret in config.toml
        parser.error(f"configuration: {exc}")
    args.warehouse = warehouse
    args.source = args.source or source.bucket_url
    args.memory_limit = warehouse.duckdb_memory_limit
    args.build_memory_limit = warehouse.duckdb_build_memory_limit
    args.max_record_bytes = args.max_record_bytes or warehouse.max_record_bytes
    return args


def _setup_logging(verbose: bool) -> None:
    # every line, dlt's and tracebacks included, without URL credentials or known secrets
    install_log_redaction()
    logging.basicConfig(
        level=logging.INFO,  # not DEBUG: botocore's debug lines print request headers
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pipelines").setLevel(logging.DEBUG if verbose else logging.INFO)


def _refuse_credentials_in_url(source: str) -> None:
    """Credentials or a query string in the source URL cannot work (s3fs and gcsfs take
    `key:secret@bucket` for a bucket name, a query string becomes part of the listed prefix,
    an SAS token is not read from the URL) and would reach dlt's trace: refuse them."""
    if has_credentials(source):
        raise ExpectedFailure(
            EXIT_SOURCE,
            f"source {redact_url(source)}: credentials and query strings are not read from the "
            f"source URL, remove them and {CREDENTIALS_HINT}",
        )


def main(argv: list[str] | None = None) -> int:
    """Run the job; return the process exit code."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv or "--verbose" in argv
    # dlt logs its workers' tracebacks as warnings, and a load job that failed on a lost
    # connection (a catalog server that went away) as an error with its traceback: keep cron
    # output to our own lines (the run's `error:` line says it once)
    os.environ["RUNTIME__LOG_LEVEL"] = "INFO" if verbose else "CRITICAL"
    args = parse_args(argv)
    _setup_logging(args.verbose)
    fix_mmap_threshold()  # before the work: freed large blocks go back to the system
    try:
        warehouse = warehouse_location(args.database, args.data_path)
    except ExpectedFailure as failure:  # a lake spelling DuckDB would not understand
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    except ConfigurationException as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _run(args, warehouse)


def _run(args: argparse.Namespace, warehouse: Warehouse) -> int:
    """Load, then build; return the exit code."""
    steps: dict[str, float] = {}
    result: LoadResult | None = None
    built: BuildResult | None = None
    started = time.perf_counter()
    remember(
        *url_secrets(args.source),
        *url_secrets(warehouse.setting),
        *url_secrets(warehouse.data_path or ""),
        *([warehouse.catalog_password] if warehouse.catalog_password else []),
    )
    try:
        if not args.transforms_only:
            _refuse_credentials_in_url(args.source)
        warehouse.local_anchor.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_run(warehouse, args.wait):
            if not args.transforms_only:
                log.info("loading %s into %s", redact_url(args.source), warehouse.display)
                result = load_archive(
                    args.source,
                    warehouse,
                    full_refresh=args.full_refresh,
                    max_record_bytes=args.max_record_bytes,
                    progress=Progress(),
                    memory_limit=args.memory_limit,
                    max_events_per_load=args.warehouse.max_events_per_load or None,
                )
                steps.update(result.step_seconds)
            elif not warehouse.exists():
                raise ExpectedFailure(
                    EXIT_SOURCE, f"database {warehouse.display} does not exist yet"
                )
            timer = time.perf_counter()
            log.info("building staging, intermediate and marts")
            built = build_models(
                warehouse,
                load_transform_settings(args.warehouse),
                force=args.transforms_only,
                memory_limit=args.build_memory_limit,
                select=args.select,
            )
            steps["transforms"] = time.perf_counter() - timer
            timer = time.perf_counter()
            retention = args.warehouse.snapshot_retention  # a lake only, after a change
            if after_run(warehouse, retention, not built.up_to_date, args.memory_limit):
                steps["housekeeping"] = time.perf_counter() - timer
    except ExpectedFailure as failure:
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    except Exception as exc:  # noqa: BLE001 - classify, then fall back to a full traceback
        failure = classify(exc, warehouse)
        if failure is None:
            log.exception("run failed unexpectedly")
            return EXIT_UNEXPECTED
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    steps["total"] = time.perf_counter() - started
    print(format_summary(args.source, warehouse.display, result, built, steps))
    return EXIT_OK


def _exit_now(code: int) -> None:
    """Flush and leave without tearing down dlt's ~1,000 imported modules (~0.4 s, a third of
    a no-op run). Safe here: main() has closed every DuckDB connection and file it opened."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
