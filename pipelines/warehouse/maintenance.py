"""Housekeeping of a lake after a run that changed it: DuckLake's own maintenance functions.

Every commit to a lake is a snapshot, and DuckLake deletes nothing by itself: a run every 15
minutes would keep every snapshot (time travel to each) and every Parquet file it ever wrote.
After a run that loaded something or rebuilt the marts, the job therefore:

1. expires the snapshots older than `warehouse.snapshot_retention` (default 8 days: "what
   did last Monday's report say" must still work at any hour of the Monday after), keeping
   the one that was current at the cutoff; the newest snapshot is never expired. Within the
   retention only the snapshots that close a run are kept: each 'marts built' snapshot (and
   the newest of all). dlt commits ~50 snapshots per load (one per table, its scratch
   copies, state, loads) whose half-loaded states nobody should query; they are expired
   once `INTERMEDIATE_SNAPSHOT_DELAY` old, and `AT (TIMESTAMP => t)` then answers with the
   marts of the run current at t all the same;
2. writes the rows DuckLake keeps inlined in the catalog (inserts of a few rows) out to
   data files once the current tables hold `FLUSH_AFTER_INLINED_ROWS` of them
   (`ducklake_flush_inlined_data`), so the catalog does not grow with every run;
3. merges small data files (`ducklake_merge_adjacent_files`, files under
   `SMALL_FILE_BYTES` only) once a table has `MERGE_AFTER_SMALL_FILES` of them, after
   rewriting those with many deleted rows (`ducklake_rewrite_data_files`): merging keeps
   time travel (the merged file records which snapshot wrote which rows), and its cost then
   stays bounded instead of rewriting the same files every 15 minutes;
4. deletes the files no snapshot references any more (`ducklake_cleanup_old_files`) once
   they were unreferenced for at least `FILE_DELETION_DELAY`, so a reader that started a
   query on an older snapshot just before still finds its files; and files in the data path
   the catalog never referenced (`ducklake_delete_orphaned_files`, e.g. written by a killed
   run), after the same delay.

Timestamps: with a SQLite catalog, DuckLake 1.0 (DuckDB 1.5.5) compares `older_than` with
the stored times as text, at day granularity (any bound on day D also matches everything of
day D). So snapshots are expired by id, chosen here with a real timestamp comparison, and the
file deletion bound is rounded down to the end of the previous UTC day: files are deleted at
least `FILE_DELETION_DELAY` (up to a day more) after they became unreferenced, never sooner.

Fewer snapshots alone do not make runs faster (measured: a lake with 593 of its 605
snapshots expired ran in the same CPU time). What slowed each run was the catalog's history
of table versions: every marts build replaced ~20 tables (`create or replace`), each 'marts
built' snapshot kept for the retention kept their versions (tables, columns, files) in the
catalog, and every commit and attach got slower with them (measured per commit and attach).
The marts build now rebuilds a lake's tables in place (`pipelines.marts.runner`): a run adds
data files, which the steps above bound, but no table versions, and one snapshot.

A DuckDB file needs none of this: DuckDB checkpoints its WAL into the file itself and reuses
the blocks of replaced tables.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb

from pipelines import settings as s
from pipelines.common.errors import EXIT_USAGE, ExpectedFailure
from pipelines.warehouse.connection import as_warehouse, connect, sql_literal
from pipelines.warehouse.location import LAKE_ALIAS, Warehouse

log = logging.getLogger(__name__)

# a data file under this size counts as small (DuckLake's own target file size is 512 MB)
SMALL_FILE_BYTES = 16 * 1024 * 1024
# merge once one table holds this many small files (one per run that inserts into it)
MERGE_AFTER_SMALL_FILES = 32
# a data file with at least this share of its rows deleted is rewritten before the merge
REWRITE_DELETED_SHARE = 0.5
# DuckLake keeps small inserts (a few events) in catalog tables instead of files ("inlined");
# past this many inlined rows in the current tables they are written out to Parquet files,
# which the merge then folds together, so the catalog does not grow with every run
FLUSH_AFTER_INLINED_ROWS = 100_000
# how long a file that no snapshot references any more is kept for readers still reading it
FILE_DELETION_DELAY = timedelta(hours=1)
# how long dlt's intermediate snapshots of a run are kept: a reader's transaction pinned to an
# expired snapshot gets no error but silently reads the tables it had not read yet as empty
# (DuckLake 1.0 drops their file rows at once; measured), so the same delay as for files
INTERMEDIATE_SNAPSHOT_DELAY = FILE_DELETION_DELAY
# the snapshot of each marts build says so: `select * from lake.snapshots() where
# commit_message = 'marts built'` lists the runs an analyst can time travel to
MARTS_COMMIT_AUTHOR = "pipelines.run"
MARTS_COMMIT_MESSAGE = "marts built"
# DuckLake's metadata tables, as DuckDB attaches them beside the lake
METADATA = f"__ducklake_metadata_{LAKE_ALIAS}"


def label_marts_commit(
    connection: duckdb.DuckDBPyConnection, database: Warehouse | str | Path
) -> None:
    """In a lake, name the snapshot the marts build commits (author `pipelines.run`, message
    `MARTS_COMMIT_MESSAGE`), so analysts find each run's marts in `lake.snapshots()`."""
    if as_warehouse(database).is_lake:
        connection.execute(
            f"call ducklake_set_commit_message('{LAKE_ALIAS}', ?, ?)",
            [MARTS_COMMIT_AUTHOR, MARTS_COMMIT_MESSAGE],
        )


def parse_retention(value: str | None, setting: str = "warehouse.snapshot_retention") -> str:
    """A retention as DuckDB interval text (`7 days`, `36 hours`, `2 weeks`); exit 2 when it
    is not one, has no unit, or is negative. Empty means the default."""
    text = (value or "").strip() or s.DEFAULT_SNAPSHOT_RETENTION
    try:
        # DuckDB's own interval syntax, on its default in-memory database (not the warehouse),
        # with no parameter (see `pipelines.load.warehouse_sync.warehouse_loads`)
        query = f"select {sql_literal(text)}::interval < interval 0 seconds"
        row = duckdb.execute(query).fetchall()
        negative = row[0][0]
    except duckdb.Error:
        negative = None
    # a bare number is seconds to DuckDB, surely not what `7` meant: a unit is required
    if negative is None or negative or not any(char.isalpha() for char in text):
        raise ExpectedFailure(
            EXIT_USAGE,
            f"{setting}: {text!r} is not a duration such as '7 days' or '36 hours'",
        )
    return text


@dataclass
class MaintenanceResult:
    """What housekeeping did to the lake."""

    retention: str
    inlined_rows_flushed: int = 0  # rows moved from catalog tables into data files
    snapshots_expired: int = 0  # older than the retention
    intermediate_expired: int = 0  # within it, but no run's end (dlt's per-table commits)
    snapshots_kept: int = 0
    files_rewritten: int = 0  # files with many deleted rows rewritten without them
    files_merged: int = 0  # small files rewritten into...
    files_written: int = 0  # ...this many merged files
    files_deleted: int = 0  # unreferenced files removed (expired, merged or replaced)
    orphans_deleted: int = 0  # files in the data path the catalog never referenced
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for the log and the summary."""
        merged = (
            f"merged {self.files_merged} small files into {self.files_written}"
            if self.files_merged
            else "no merge needed"
        )
        if self.files_rewritten:
            merged = f"rewrote {self.files_rewritten} files with deleted rows, {merged}"
        orphans = f" and {self.orphans_deleted} orphaned" if self.orphans_deleted else ""
        flushed = (
            f"wrote {self.inlined_rows_flushed} inlined rows to files, "
            if self.inlined_rows_flushed
            else ""
        )
        return (
            f"lake housekeeping: {flushed}expired {self.snapshots_expired} snapshots older than "
            f"{self.retention} and {self.intermediate_expired} intermediate ones "
            f"({self.snapshots_kept} kept for time travel), {merged}, "
            f"deleted {self.files_deleted} unreferenced files{orphans} "
            f"({self.seconds:.1f} s)"
        )


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    # fetchall, never fetchone: a DuckLake function's changes are committed only once its
    # result is read to the end (with fetchone a flush was silently lost)
    rows = connection.execute(sql, params or []).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _expire(
    connection: duckdb.DuckDBPyConnection, retention: str, intermediate_delay: timedelta
) -> tuple[int, int]:
    """Expire the snapshots older than `retention`, and the intermediate ones (neither a
    'marts built' snapshot nor the newest) older than `intermediate_delay`; return how many
    of each.

    Of the snapshots left, the newest older than the cutoff is kept: it is the state of the
    lake at the cutoff, so `AT (TIMESTAMP => t)` answers for every `t` within the retention
    (and the newest snapshot of all is never expired)."""
    rows = connection.execute(
        f"""
            with snapshots as (
                select snapshot_id, snapshot_time,
                    coalesce(author = ? and commit_message = ?, false) as closes_run
                from ducklake_snapshots('{LAKE_ALIAS}')
            ),
            kept as (
                select * from snapshots
                where closes_run
                    or snapshot_id = (select max(snapshot_id) from snapshots)
                    or snapshot_time > now() - ?::interval
            )
            select snapshot_id, snapshot_id < coalesce(anchor, -1) as old from snapshots, (
                -- the state at the retention cutoff
                select max(snapshot_id) as anchor from kept
                where snapshot_time <= now() - ?::interval
            )
            where snapshot_id not in (select snapshot_id from kept) or old
            order by snapshot_id
            """,
        [
            MARTS_COMMIT_AUTHOR,
            MARTS_COMMIT_MESSAGE,
            f"{int(intermediate_delay.total_seconds())} seconds",
            retention,
        ],
    ).fetchall()
    versions = [row[0] for row in rows]
    if versions:
        # by id: `older_than` compares at day granularity with a SQLite catalog (see above)
        connection.execute(
            f"select count(*) from ducklake_expire_snapshots('{LAKE_ALIAS}', versions => ?)",
            [versions],
        ).fetchall()
    old = sum(1 for row in rows if row[1])
    return old, len(rows) - old


def inlined_rows(connection: duckdb.DuckDBPyConnection) -> int:
    """Rows the current tables keep inlined in the catalog."""
    names = connection.execute(
        f"""
        select i.table_name from {METADATA}.ducklake_inlined_data_tables i
        join {METADATA}.ducklake_table t using (table_id)
        where t.end_snapshot is null
        """
    ).fetchall()
    if not names:
        return 0
    counts = " union all ".join(
        f'select count(*) as n from {METADATA}."{name}"' for (name,) in names
    )
    return _scalar(connection, f"select sum(n) from ({counts})")


def _flush(connection: duckdb.DuckDBPyConnection, threshold: int) -> int:
    """Write inlined rows to data files once there are `threshold` of them; return how many."""
    if inlined_rows(connection) < threshold:
        return 0
    return _scalar(
        connection, f"select sum(rows_flushed) from ducklake_flush_inlined_data('{LAKE_ALIAS}')"
    )


def small_files_per_table(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Current data files under `SMALL_FILE_BYTES`, per table (table id -> count)."""
    rows = connection.execute(
        f"""
        select table_id, count(*) from {METADATA}.ducklake_data_file
        where end_snapshot is null and file_size_bytes < ?
        group by table_id
        """,
        [SMALL_FILE_BYTES],
    ).fetchall()
    return {str(table): count for table, count in rows}


def _merge(connection: duckdb.DuckDBPyConnection, force: bool) -> tuple[int, int, int]:
    """Merge the small files of the lake when a table has enough of them; return (files
    rewritten, files merged, files written)."""
    small = small_files_per_table(connection)
    if not force and max(small.values(), default=0) < MERGE_AFTER_SMALL_FILES:
        return 0, 0, 0
    # files with deleted rows are not merged (DuckLake 1.0): rewrite them first. Measured over
    # 100 runs: translation sets stored again (delete + insert) left 56 small files in one table
    rewritten = connection.execute(
        f"select files_processed from ducklake_rewrite_data_files("
        f"'{LAKE_ALIAS}', delete_threshold => {REWRITE_DELETED_SHARE})"
    ).fetchall()
    merged = connection.execute(
        f"select files_processed, files_created from ducklake_merge_adjacent_files("
        f"'{LAKE_ALIAS}', max_file_size => {SMALL_FILE_BYTES})"
    ).fetchall()
    return (
        sum(row[0] for row in rewritten),
        sum(row[0] for row in merged),
        sum(row[1] for row in merged),
    )


def _deletion_bound(connection: duckdb.DuckDBPyConnection, delay: timedelta) -> str:
    """The `older_than` of the file deletions: `delay` ago, rounded down to the end of the
    previous UTC day (DuckLake compares it by day with a SQLite catalog)."""
    row = connection.execute(
        "select strftime(date_trunc('day', (now() - ?::interval) at time zone 'UTC')"
        " - interval 1 second, '%Y-%m-%d %H:%M:%S') || '+00'",
        [f"{int(delay.total_seconds())} seconds"],
    ).fetchone()
    return str(row[0])  # type: ignore[index]


def _delete_files(connection: duckdb.DuckDBPyConnection, delay: timedelta) -> tuple[int, int]:
    """Delete unreferenced and orphaned files older than `delay`; return their counts."""
    if delay <= timedelta(0):
        bound = "cleanup_all => true"
    else:
        bound = f"older_than => '{_deletion_bound(connection, delay)}'::timestamptz"
    deleted = _scalar(
        connection, f"select count(*) from ducklake_cleanup_old_files('{LAKE_ALIAS}', {bound})"
    )
    orphans = _scalar(
        connection,
        f"select count(*) from ducklake_delete_orphaned_files('{LAKE_ALIAS}', {bound})",
    )
    return deleted, orphans


def maintain_lake(
    database: Warehouse | str | Path,
    retention: str = s.DEFAULT_SNAPSHOT_RETENTION,
    *,
    deletion_delay: timedelta = FILE_DELETION_DELAY,
    intermediate_delay: timedelta | None = None,
    force_merge: bool = False,
    flush_after_inlined_rows: int = FLUSH_AFTER_INLINED_ROWS,
    memory_limit: str | None = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> MaintenanceResult | None:
    """Expire old and intermediate snapshots, merge small files, delete unreferenced ones;
    None for a file warehouse (nothing to do). Call it after a run that changed the lake, under
    the run lock. `intermediate_delay`: default `INTERMEDIATE_SNAPSHOT_DELAY`."""
    warehouse = as_warehouse(database)
    if not warehouse.is_lake:
        return None
    started = time.perf_counter()
    result = MaintenanceResult(retention=parse_retention(retention))
    connection = connect(warehouse, memory_limit=memory_limit)
    try:
        if intermediate_delay is None:  # looked up now: the benchmark shortens it
            intermediate_delay = INTERMEDIATE_SNAPSHOT_DELAY
        result.snapshots_expired, result.intermediate_expired = _expire(
            connection, result.retention, intermediate_delay
        )
        result.inlined_rows_flushed = _flush(connection, flush_after_inlined_rows)
        result.files_rewritten, result.files_merged, result.files_written = _merge(
            connection, force_merge
        )
        result.files_deleted, result.orphans_deleted = _delete_files(connection, deletion_delay)
        result.snapshots_kept = _scalar(
            connection, f"select count(*) from ducklake_snapshots('{LAKE_ALIAS}')"
        )
    finally:
        connection.close()
    result.seconds = time.perf_counter() - started
    log.info("%s", result.describe())
    return result


def after_run(
    database: Warehouse | str | Path,
    retention: str,
    changed: bool,
    memory_limit: str | None = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> MaintenanceResult | None:
    """The job's call after a run: housekeeping when the run changed a lake. A failure is a
    warning (the run's data is committed; the next run tries again), never the run's exit."""
    if not changed or not as_warehouse(database).is_lake:
        return None
    try:
        return maintain_lake(database, retention, memory_limit=memory_limit)
    except duckdb.Error as exc:
        log.warning("lake housekeeping failed, the next run tries again: %s", exc)
        return None
