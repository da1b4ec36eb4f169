"""Load the webhook archive into DuckDB `raw` with dlt: extract, normalize, load, reconcile."""

from __future__ import annotations

import errno
import gc
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.pipeline import Pipeline
from dlt.sources.filesystem import filesystem

from pipelines import settings as s
from pipelines.archive.local_listing import is_local_folder, list_local_files
from pipelines.common.errors import EXIT_CHECK_FAILED, EXIT_PERMISSION, EXIT_SOURCE, ExpectedFailure
from pipelines.common.redact import redact_url
from pipelines.load.housekeeping import prune_loaded_packages, prune_state_history
from pipelines.load.known_events import WarehouseEventIndex
from pipelines.load.reconcile import AuditReport, reconcile_warehouse
from pipelines.load.run_stats import RunStats
from pipelines.load.source import ReadBatch, webhook_archive
from pipelines.load.warehouse_sync import attach_to_warehouse
from pipelines.warehouse.connection import as_warehouse, dlt_destination
from pipelines.warehouse.location import Warehouse

if TYPE_CHECKING:  # the progress line is the command line's; the load only calls it
    from pipelines.cli.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    """What a load did: counters, new tables and columns, and time per step."""

    stats: RunStats
    load_ids: list[str] = field(default_factory=list)
    resumed_load_ids: list[str] = field(default_factory=list)
    new_tables: list[str] = field(default_factory=list)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    audit: AuditReport | None = None
    # why dlt's working folder was discarded before this load (see `warehouse_sync`), if it was
    resynced: str | None = None


def pipelines_dir_for(database: Warehouse | str | Path) -> Path:
    """dlt's working folder lives beside the warehouse's local anchor (the DuckDB file, a
    lake's SQLite catalog), so each warehouse resumes its own runs."""
    anchor = as_warehouse(database).local_anchor
    return anchor.with_name(anchor.name + ".dlt-pipelines")


def make_pipeline(
    database: Warehouse | str | Path, memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT
) -> Pipeline:
    """The dlt pipeline that writes the `raw` dataset of the warehouse (file or lake)."""
    warehouse = as_warehouse(database)
    return dlt.pipeline(
        pipeline_name=s.PIPELINE_NAME,
        destination=dlt_destination(warehouse, memory_limit),
        dataset_name=s.RAW_DATASET,
        pipelines_dir=str(pipelines_dir_for(warehouse)),
        progress=None,
    )


def check_source(source: str) -> str:
    """Fail with a clear message when a local source folder is missing or unreadable."""
    if "://" in source and not source.startswith("file://"):
        return source  # buckets are checked when listed; their errors are classified later
    path = Path(source.removeprefix("file://"))
    if not path.exists():
        raise ExpectedFailure(EXIT_SOURCE, f"source {source} does not exist")
    if not path.is_dir():
        raise ExpectedFailure(EXIT_SOURCE, f"source {source} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ExpectedFailure(EXIT_SOURCE, f"source {source} is not readable")
    _check_subfolders(path)
    return str(path.resolve())


def _check_subfolders(root: Path) -> None:
    """Fail on a subfolder that cannot be listed: dlt's local listing (Python's glob) skips it
    without a word, and its files would silently be left out of the run."""

    def fail(exc: OSError) -> None:
        code = EXIT_PERMISSION if isinstance(exc, PermissionError) else EXIT_SOURCE
        raise ExpectedFailure(
            code, f"cannot list folder {exc.filename} of the source: {exc.strerror}"
        )

    for folder, subfolders, _ in os.walk(root, onerror=fail):
        for name in subfolders:
            if not os.access(os.path.join(folder, name), os.R_OK | os.X_OK):
                fail(PermissionError(errno.EACCES, "permission denied", os.path.join(folder, name)))


def _table_columns(pipeline: Pipeline) -> dict[str, set[str]]:
    if not pipeline.default_schema_name:
        return {}
    return {
        name: set(table.get("columns", {}))
        for name, table in pipeline.default_schema.tables.items()
        if not name.startswith("_dlt")
    }


def load_archive(
    source: str,
    database: Warehouse | str | Path,
    *,
    full_refresh: bool = False,
    max_record_bytes: int = s.DEFAULT_MAX_RECORD_BYTES,
    progress: Progress | None = None,
    memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
    max_events_per_load: int | None = s.DEFAULT_MAX_EVENTS_PER_LOAD,
) -> LoadResult:
    """Load new or changed files of `source` into the warehouse, in dlt loads of at most about
    `max_events_per_load` rows each (None: one load); return what happened."""
    warehouse = as_warehouse(database)
    bucket_url = check_source(source)
    if full_refresh and not _source_has_files(bucket_url):
        raise ExpectedFailure(
            EXIT_SOURCE, f"source {source} holds no files: a full refresh would empty the warehouse"
        )
    warehouse.local_anchor.parent.mkdir(parents=True, exist_ok=True)
    pipeline = make_pipeline(warehouse, memory_limit)
    result = LoadResult(stats=RunStats())
    timer = time.perf_counter()

    result.resynced = attach_to_warehouse(pipeline, warehouse)
    if pipeline.has_pending_data and not pipeline.default_schema_name:
        # a first run killed after dlt committed its package but before it saved its schema
        # and state: dlt cannot normalize that package, and nothing of it was loaded
        log.warning(
            "discarding a load a killed first run left unfinished: its files are read again"
        )
        pipeline.abort_packages()  # extracted packages only: deleted, nothing recorded
    if pipeline.has_pending_data:  # a previous run stopped after extract: finish it first
        log.warning("finishing a load left pending by an interrupted run")
        log.info("normalizing the pending load")
        pipeline.normalize()
        log.info("loading the pending load into %s", warehouse.display)
        result.resumed_load_ids.extend(_load_ids(pipeline.load()))
        # dlt commits a package with its new state before it saves that state locally: a run
        # killed in between leaves the working folder's state older than the load just
        # finished (it would read every file of that load again). Take the state it stored.
        pipeline.sync_destination()
    columns_before = {} if full_refresh else _table_columns(pipeline)
    result.step_seconds["prepare"] = time.perf_counter() - timer

    with _relaxed_gc():
        known = None if full_refresh else WarehouseEventIndex(warehouse, memory_limit)
        _extract_normalize_load(
            pipeline, result, bucket_url, warehouse, known, full_refresh, max_record_bytes,
            progress, memory_limit, max_events_per_load,
        )  # fmt: skip

    columns_after = _table_columns(pipeline)
    result.new_tables = sorted(set(columns_after) - set(columns_before))
    result.new_columns = {
        table: sorted(columns - columns_before[table])
        for table, columns in columns_after.items()
        if table in columns_before and columns - columns_before[table]
    }
    _reconcile(pipeline, result, warehouse)
    prune_loaded_packages(pipeline, keep=s.LOADS_KEPT)
    if result.load_ids or result.resumed_load_ids:
        prune_state_history(pipeline, keep=s.LOADS_KEPT)
    return result


@contextmanager
def _relaxed_gc() -> Iterator[None]:
    """Millions of short-lived acyclic dicts: fewer collector passes cut extract+normalize ~25%."""
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _extract_normalize_load(
    pipeline: Pipeline,
    result: LoadResult,
    bucket_url: str,
    warehouse: Warehouse,
    known: WarehouseEventIndex | None,
    full_refresh: bool,
    max_record_bytes: int,
    progress: Progress | None,
    memory_limit: str,
    max_events_per_load: int | None,
) -> None:
    """dlt's three steps, timed, once per batch of at most `max_events_per_load` rows (see
    `ReadBatch`); new files are read with the warehouse's known event ids."""
    batch = ReadBatch(max_events=max_events_per_load)
    # translation sets this run stored (a few MB at a million events): later passes skip them
    seen_sets: set[str] = set()
    try:
        while True:
            refresh = full_refresh and batch.passes == 0
            loaded = _one_pass(
                pipeline, result, bucket_url, warehouse, known, refresh, max_record_bytes,
                progress, batch, seen_sets,
            )  # fmt: skip
            if not loaded or not batch.continues:
                break
            # the next pass deduplicates against what this one loaded, from the warehouse (the
            # index reopens the warehouse on first use)
            known = known or WarehouseEventIndex(warehouse, memory_limit)
            log.info("read %d files so far: loading the next batch", result.stats.files_read)
    finally:
        if progress is not None:
            progress.finish()
    if result.stats.files_listed == 0:  # a mistyped path or bucket prefix lists nothing
        log.warning(
            "the source %s holds no files: check the path or prefix", redact_url(bucket_url)
        )


def _one_pass(
    pipeline: Pipeline,
    result: LoadResult,
    bucket_url: str,
    warehouse: Warehouse,
    known: WarehouseEventIndex | None,
    refresh: bool,
    max_record_bytes: int,
    progress: Progress | None,
    batch: ReadBatch,
    seen_sets: set[str],
) -> bool:
    """Extract one batch, then normalize and load it; return whether anything was loaded."""
    timer = time.perf_counter()
    # event ids this pass met, for its own deduplication (bounded by the batch; earlier passes'
    # ids are found in the warehouse), emptied before normalize and load
    seen_ids: set[str] = set()
    try:
        pipeline.extract(
            webhook_archive(
                bucket_url=bucket_url,
                max_record_bytes=max_record_bytes,
                stats=result.stats,
                known_events=known,
                on_file=progress.update if progress else None,
                seen_ids=seen_ids,
                seen_sets=seen_sets,
                batch=batch,
            ),
            refresh="drop_sources" if refresh else None,
            loader_file_format="parquet",
        )
    finally:
        seen_ids.clear()
        if known is not None:
            known.close()
    _add_seconds(result, "extract", timer)
    log.info(
        "read %d files (%d unchanged, %d skipped): %d records",
        result.stats.files_read,
        result.stats.files_unchanged,
        result.stats.files_skipped,
        result.stats.records_read,
    )

    timer = time.perf_counter()
    if not refresh and not _extracted_anything(pipeline):  # no data, no state change
        pipeline.normalize()  # only drops the empty package
        return False
    log.info("normalizing")
    pipeline.normalize()
    _add_seconds(result, "normalize", timer)
    timer = time.perf_counter()
    log.info("loading into %s", warehouse.display)
    result.load_ids.extend(_load_ids(pipeline.load()))
    _add_seconds(result, "load", timer)
    return True


def _add_seconds(result: LoadResult, step: str, started: float) -> None:
    result.step_seconds[step] = result.step_seconds.get(step, 0.0) + time.perf_counter() - started


def _source_has_files(bucket_url: str) -> bool:
    """Whether listing the source yields at least one file (of any kind)."""
    if is_local_folder(bucket_url):  # listed as a run lists it
        return bool(list_local_files(bucket_url))
    return next(iter(filesystem(bucket_url=bucket_url, file_glob="**/*")), None) is not None


def _extracted_anything(pipeline: Pipeline) -> bool:
    """Whether extract left any job (rows or a state change) to normalize and load."""
    return any(
        pipeline.get_load_package_info(load_id).jobs.get("new_jobs")
        for load_id in pipeline.list_extracted_load_packages()
    )


def _load_ids(info: LoadInfo | None) -> list[str]:
    return list(info.loads_ids) if info is not None else []


def _reconcile(pipeline: Pipeline, result: LoadResult, warehouse: Warehouse) -> None:
    """This run's new events must be exactly the rows its load inserted; then the whole
    warehouse must reconcile (see `reconcile_warehouse`)."""
    if result.load_ids and result.stats.loaded_by_table:
        placeholders = ", ".join(["%s"] * len(result.load_ids))
        with pipeline.sql_client() as client:
            for table, expected in result.stats.loaded_by_table.items():
                qualified = client.make_qualified_table_name(table)
                actual = client.execute_sql(
                    f"select count(*) from {qualified} where _dlt_load_id in ({placeholders})",
                    *result.load_ids,
                )[0][0]
                if actual != expected:
                    raise ExpectedFailure(
                        EXIT_CHECK_FAILED,
                        f"reconciliation failed: {table} received {actual} rows, "
                        f"the reader counted {expected} new events",
                    )
    result.audit = reconcile_warehouse(pipeline, warehouse, bool(result.resumed_load_ids))
