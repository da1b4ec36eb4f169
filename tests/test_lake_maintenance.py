"""Lake housekeeping (`pipelines.warehouse.maintenance`) and time travel for analysts.

Lakes here are real SQLite-catalog DuckLakes made with `connect()`; time in them is moved by
ageing the catalog's timestamps (the catalog is a SQLite file), never by sleeping. The last
test runs the job twice as real processes and travels back to the first run's marts.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import callback_event, jsonl, run_job, write_files

from pipelines import settings as s
from pipelines.config import warehouse_config
from pipelines.warehouse.connection import connect
from pipelines.warehouse.maintenance import (
    INTERMEDIATE_SNAPSHOT_DELAY,
    MARTS_COMMIT_MESSAGE,
    MERGE_AFTER_SMALL_FILES,
    inlined_rows,
    label_marts_commit,
    maintain_lake,
    parse_retention,
)


def _lake(tmp_path: Path) -> tuple[str, Path]:
    catalog = tmp_path / "lake" / "catalog.sqlite"
    catalog.parent.mkdir()
    return f"ducklake:sqlite:{catalog}", catalog


def _data_files(catalog: Path) -> list[Path]:
    return [p for p in catalog.with_name(catalog.name + ".files").rglob("*") if p.is_file()]


def _insert_batches(lake: str, batches: int, rows: int = 300) -> None:
    """One snapshot and one data file per batch (more rows than DuckLake inlines), each
    labelled as a run's marts build (housekeeping keeps those within the retention)."""
    with connect(lake) as con:
        con.execute("create schema if not exists raw")
        con.execute("create table if not exists raw.t (i integer, s varchar)")
        start = con.execute("select count(*) from raw.t").fetchone()[0]
        for batch in range(batches):
            low = start + batch * rows
            con.execute("begin transaction")
            con.execute(f"insert into raw.t select range, 'x' from range({low}, {low + rows})")
            label_marts_commit(con, lake)
            con.execute("commit")


def _age(catalog: Path, days: float, *, snapshots_below: int | None = None) -> None:
    """Move snapshot times (those with an id below `snapshots_below`, or all) and the times
    files were scheduled for deletion `days` into the past."""
    shift = f"-{int(days * 86400)} seconds"
    with sqlite3.connect(catalog) as db:
        where = "" if snapshots_below is None else f" where snapshot_id < {snapshots_below}"
        db.execute(  # the fraction of the second kept: a run's snapshots stay in order
            "update ducklake_snapshot set snapshot_time ="
            f" datetime(substr(snapshot_time, 1, 19), '{shift}') || substr(snapshot_time, 20)"
            f"{where}"
        )
        db.execute(
            "update ducklake_files_scheduled_for_deletion set schedule_start ="
            f" datetime(substr(schedule_start, 1, 19), '{shift}') || '.000000+00'"
        )


def _snapshot_ids(lake: str) -> list[int]:
    with connect(lake, read_only=True) as con:
        rows = con.execute("select snapshot_id from lake.snapshots() order by 1").fetchall()
        return [row[0] for row in rows]


def test_retention_setting_default_env_and_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAREHOUSE__SNAPSHOT_RETENTION", raising=False)
    assert warehouse_config().snapshot_retention == s.DEFAULT_SNAPSHOT_RETENTION == "8 days"
    monkeypatch.setenv("WAREHOUSE__SNAPSHOT_RETENTION", "36 hours")
    assert warehouse_config().snapshot_retention == "36 hours"
    monkeypatch.setenv("WAREHOUSE__SNAPSHOT_RETENTION", "")
    assert warehouse_config().snapshot_retention == "8 days"
    assert parse_retention("2 weeks") == "2 weeks"
    for wrong in ("a week", "-1 day", "7"):
        with pytest.raises(Exception, match="snapshot_retention"):
            parse_retention(wrong)


def test_wrong_retention_exits_2_naming_the_setting(tmp_path: Path) -> None:
    proc = run_job(
        "--source", str(tmp_path), "--database", str(tmp_path / "w.duckdb"),
        env={"WAREHOUSE__SNAPSHOT_RETENTION": "soon"},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "warehouse.snapshot_retention" in proc.stderr and "'soon'" in proc.stderr


def test_a_file_warehouse_needs_no_housekeeping(tmp_path: Path) -> None:
    assert maintain_lake(tmp_path / "w.duckdb") is None


def test_expired_snapshots_are_gone_and_the_retention_is_honoured(tmp_path: Path) -> None:
    lake, catalog = _lake(tmp_path)
    _insert_batches(lake, 6)
    before = _snapshot_ids(lake)  # 0-2 create the schema and table, 3-8 insert 300 rows each
    assert before == list(range(9))
    counts = {snapshot: 300 * (snapshot - 2) for snapshot in before[3:]}
    # the first snapshots are 9 days old: within a 10-day retention only the unlabelled
    # ones (no run's end) expire
    _age(catalog, 9, snapshots_below=5)
    done = maintain_lake(lake, "10 days")
    assert done is not None and (done.snapshots_expired, done.intermediate_expired) == (0, 3)
    assert _snapshot_ids(lake) == before[3:]

    # with the default 8 days: those older go, but the one current 8 days ago stays
    done = maintain_lake(lake)
    assert done is not None and (done.snapshots_expired, done.intermediate_expired) == (1, 0)
    assert _snapshot_ids(lake) == before[4:]
    with connect(lake, read_only=True) as con:
        with pytest.raises(duckdb.Error):
            con.execute("select count(*) from raw.t at (version => 3)").fetchall()
        for snapshot in before[5:]:
            got = con.execute(f"select count(*) from raw.t at (version => {snapshot})").fetchone()
            assert got[0] == counts[snapshot]
        # a time inside the retention, before the kept snapshots: answered by snapshot 4
        at = con.execute(
            "select count(*) from raw.t at (timestamp => now() - interval 8 days + interval 1 hour)"
        ).fetchone()[0]
        assert at == counts[4] == 600
        assert con.execute("select count(*) from raw.t").fetchone()[0] == 1800


def test_merge_keeps_time_travel_and_files_go_only_after_the_delay(tmp_path: Path) -> None:
    lake, catalog = _lake(tmp_path)
    _insert_batches(lake, MERGE_AFTER_SMALL_FILES - 1)
    done = maintain_lake(lake)
    assert done is not None and done.files_merged == 0  # below the threshold: left alone
    _insert_batches(lake, 1)
    assert len(_data_files(catalog)) == MERGE_AFTER_SMALL_FILES
    done = maintain_lake(lake)
    assert done is not None
    assert (done.files_merged, done.files_written) == (MERGE_AFTER_SMALL_FILES, 1)
    assert done.files_deleted == 0  # replaced files wait for readers still reading them
    assert len(_data_files(catalog)) == MERGE_AFTER_SMALL_FILES + 1
    with connect(lake, read_only=True) as con:
        assert con.execute("select count(*) from raw.t at (version => 5)").fetchone()[0] == 900
        assert con.execute("select count(*) from raw.t").fetchone()[0] == 300 * 32

    _age(catalog, 2)  # the merge was two days ago: past the deletion delay
    done = maintain_lake(lake, "30 days")
    assert done is not None and done.files_deleted == MERGE_AFTER_SMALL_FILES
    assert len(_data_files(catalog)) == 1
    with connect(lake, read_only=True) as con:  # time travel still reads the merged file
        assert con.execute("select count(*) from raw.t at (version => 5)").fetchone()[0] == 900
        assert con.execute("select count(*) from raw.t").fetchone()[0] == 300 * 32


def test_orphaned_files_are_deleted_after_the_delay_live_ones_never(tmp_path: Path) -> None:
    lake, catalog = _lake(tmp_path)
    _insert_batches(lake, 3)
    live = sorted(_data_files(catalog))
    stray = (
        catalog.with_name(catalog.name + ".files") / "raw" / "t" / "left-by-a-killed-run.parquet"
    )
    with duckdb.connect() as con:
        con.execute(f"copy (select 1 as i) to '{stray}' (format parquet)")
    done = maintain_lake(lake)
    assert done is not None and done.orphans_deleted == 0 and stray.exists()  # too recent
    old = time.time() - 3 * 86400
    os.utime(stray, (old, old))
    done = maintain_lake(lake)
    assert done is not None and done.orphans_deleted == 1 and not stray.exists()
    assert sorted(_data_files(catalog)) == live
    done = maintain_lake(lake, "0 seconds", deletion_delay=timedelta(0))
    assert done is not None and done.orphans_deleted == 0
    with connect(lake, read_only=True) as con:
        assert con.execute("select count(*) from raw.t").fetchone()[0] == 900


def test_rows_inlined_in_the_catalog_are_written_to_files_past_a_threshold(
    tmp_path: Path,
) -> None:
    lake, catalog = _lake(tmp_path)
    _insert_batches(lake, 10, rows=3)  # a few rows per insert: kept in the catalog
    assert _data_files(catalog) == []
    with connect(lake, read_only=True) as con:
        assert inlined_rows(con) == 30
    done = maintain_lake(lake, flush_after_inlined_rows=31)
    assert done is not None and done.inlined_rows_flushed == 0
    done = maintain_lake(lake, flush_after_inlined_rows=30)
    assert done is not None and done.inlined_rows_flushed == 30
    assert len(_data_files(catalog)) == 1
    with connect(lake, read_only=True) as con:
        assert inlined_rows(con) == 0
        assert con.execute("select count(*) from raw.t").fetchone()[0] == 30
        assert con.execute("select count(*) from raw.t at (version => 4)").fetchone()[0] == 6


def _past_the_intermediate_delay(catalog: Path) -> None:
    _age(catalog, (INTERMEDIATE_SNAPSHOT_DELAY + timedelta(minutes=10)).total_seconds() / 86400)


def _snapshots(lake: str) -> list[tuple]:
    """(id, time, closes a run) of each snapshot, oldest first."""
    with connect(lake, read_only=True) as con:
        return con.execute(
            "select snapshot_id, snapshot_time, commit_message is not distinct from ?"
            " from lake.snapshots() order by 1",
            [MARTS_COMMIT_MESSAGE],
        ).fetchall()


def test_intermediate_snapshots_expire_after_the_delay_each_runs_marts_stay(
    tmp_path: Path,
) -> None:
    lake, catalog = _lake(tmp_path)
    with connect(lake) as con:
        for sql in ("create schema raw", "create schema marts", "create table raw.t (i int)"):
            con.execute(sql)
        for run in range(1, 5):
            for _ in range(3):  # a load: one commit per table, each a half-loaded state
                con.execute(f"insert into raw.t values ({run})")
            if run < 4:  # run 4 loaded, but its marts build failed (previous marts kept)
                con.execute("begin transaction")
                con.execute("create or replace table marts.m as select count(*) n from raw.t")
                label_marts_commit(con, lake)
                con.execute("commit")
    done = maintain_lake(lake)  # all younger than the delay: a reader may be on any
    assert done is not None and done.intermediate_expired == done.snapshots_expired == 0

    _past_the_intermediate_delay(catalog)
    before = _snapshots(lake)
    runs = [snapshot for snapshot, _, closes_run in before if closes_run]
    assert len(runs) == 3
    newest = before[-1][0]
    done = maintain_lake(lake)
    assert done is not None and done.snapshots_expired == 0
    assert done.intermediate_expired == len(before) - 4
    assert _snapshot_ids(lake) == [*runs, newest]
    with connect(lake, read_only=True) as con:
        for run, snapshot in enumerate(runs, start=1):
            got = con.execute(f"select n from marts.m at (version => {snapshot})").fetchone()
            assert got[0] == 3 * run
        # a time between two runs, or in the middle of a load (an expired snapshot's time):
        # the marts of the run current then
        for snapshot, at, _ in before:
            if runs[0] <= snapshot and snapshot not in runs:
                previous = max(run for run in runs if run < snapshot)
                got = con.execute("select n from marts.m at (timestamp => ?)", [at]).fetchone()
                assert got[0] == 3 * (runs.index(previous) + 1), snapshot
        assert con.execute("select n from marts.m").fetchone()[0] == 9
        assert con.execute("select count(*) from raw.t").fetchone()[0] == 12  # run 4's load


@pytest.mark.slow  # two runs of the job into a lake, housekeeping (~40 s)
def test_time_travel_returns_the_earlier_runs_marts(tmp_path: Path) -> None:
    lake, catalog = _lake(tmp_path)
    archive = tmp_path / "archive"
    write_files(
        archive, {"a.jsonl": jsonl(*(callback_event(f"e{i}", f"cr-{i}") for i in range(3)))}
    )
    first = run_job("--source", str(archive), "--database", lake)
    assert first.returncode == 0, first.stderr
    assert "lake housekeeping: expired 0 snapshots older than 8 days" in first.stderr
    assert "housekeeping" in first.stdout  # the summary's time per step
    write_files(
        archive, {"b.jsonl": jsonl(*(callback_event(f"f{i}", f"cr-9{i}") for i in range(2)))}
    )
    second = run_job("--source", str(archive), "--database", lake)
    assert second.returncode == 0, second.stderr

    sql = "select count(*) from marts.fct_callback_requests"
    with connect(lake, read_only=True) as con:
        runs = con.execute(
            "select snapshot_id, snapshot_time from lake.snapshots()"
            " where commit_message = ? order by snapshot_id",
            [MARTS_COMMIT_MESSAGE],
        ).fetchall()
        assert len(runs) == 2
        (v1, t1), (v2, _) = runs
        assert con.execute(sql).fetchone()[0] == 5
        assert con.execute(f"{sql} at (version => {v1})").fetchone()[0] == 3
        assert con.execute(f"{sql} at (version => {v2})").fetchone()[0] == 5
        assert con.execute(f"{sql} at (timestamp => ?)", [t1]).fetchone()[0] == 3

    # an hour later: dlt's intermediate snapshots (~50 a run) expire, the runs' marts stay
    _past_the_intermediate_delay(catalog)
    before = _snapshots(lake)
    assert len(before) > 40
    done = maintain_lake(lake)
    assert done is not None and done.snapshots_expired == 0
    assert done.intermediate_expired == len(before) - len({v1, v2, before[-1][0]})
    assert _snapshot_ids(lake) == sorted({v1, v2, before[-1][0]})
    with connect(lake, read_only=True) as con:
        assert con.execute(sql).fetchone()[0] == 5
        assert con.execute(f"{sql} at (version => {v1})").fetchone()[0] == 3
        # the second run's load, half done: the first run's marts
        at = next(at for snapshot, at, _ in before if v1 < snapshot < v2)
        assert con.execute(f"{sql} at (timestamp => ?)", [at]).fetchone()[0] == 3


def test_files_with_deleted_rows_are_rewritten_and_merged(tmp_path: Path) -> None:
    # rows stored again (dlt's delete-insert, as translation sets are) leave files with deletes,
    # which DuckLake's merge alone leaves as they are
    lake, catalog = _lake(tmp_path)
    _insert_batches(lake, MERGE_AFTER_SMALL_FILES)
    with connect(lake) as con:
        con.execute("delete from raw.t where i % 300 < 200")  # two thirds of every file
        before = con.execute("select count(*), sum(i) from raw.t").fetchone()
        version = con.execute("select max(snapshot_id) from lake.snapshots()").fetchone()[0]
    done = maintain_lake(lake)
    assert done is not None and done.files_rewritten == MERGE_AFTER_SMALL_FILES
    assert "rewrote 32 files with deleted rows" in done.describe()
    with connect(lake, read_only=True) as con:
        assert con.execute("select count(*), sum(i) from raw.t").fetchone() == before
        files = con.execute(
            "select count(*), count(delete_file) from ducklake_list_files('lake', 't', schema => 'raw')"
        ).fetchone()
        assert files == (1, 0)
        travelled = con.execute(f"select count(*) from raw.t at (version => {version})").fetchone()
        assert travelled == (before[0],)
        assert con.execute("select count(*) from raw.t at (version => 5)").fetchone() == (900,)
