"""The job on a DuckLake with a SQLite catalog and a folder data path (`ducklake:sqlite:PATH`):
the same raw, staging and marts as a DuckDB file on the same archive, the same incremental
runs, refresh, rebuild and drift, readers in other processes that never block a run and see the
marts swap in one commit, one-line errors, and `make clean`. Real job processes throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    DLT_IDS,
    REPO,
    appointment_event,
    callback_event,
    jsonl,
    lake_query,
    marts_contents,
    run_job,
    schema_contents,
    warehouse_counts,
    write_files,
)

SAMPLE = REPO / "data" / "archive"
EVENT_TABLES = ("callback_request_events", "appointment_events")
# columns that say when a row was written, by which load, or carry dlt's row ids (staging keeps
# them to join raw rows): differ between any two runs, into a file or a lake alike
RUN_COLUMNS = (
    *DLT_IDS,
    "read_at",
    "rejected_at",
    "load_id",
    "event_row_id",
    "answer_row_id",
    "participant_row_id",
    "owner_dlt_id",
)


def lake_of(folder: Path) -> str:
    """The `--database` of a SQLite-catalog lake in `folder` (data in `catalog.sqlite.files`)."""
    return f"ducklake:sqlite:{folder / 'catalog.sqlite'}"


def job(archive: Path, database: str | Path, *args: str) -> subprocess.CompletedProcess:
    proc = run_job("--source", str(archive), "--database", str(database), *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def sample_on_both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The committed sample archive loaded into a file and into a lake."""
    root = tmp_path_factory.mktemp("lake_vs_file")
    database = root / "warehouse.duckdb"
    lake = lake_of(root)
    job(SAMPLE, database)
    lake_run = job(SAMPLE, lake)
    assert f"database    {lake}" in lake_run.stdout
    return database, lake, lake_run.stdout


@pytest.mark.slow
def test_sample_archive_gives_the_same_warehouse_on_a_file_and_a_lake(
    sample_on_both: tuple[Path, str, str],
) -> None:
    database, lake, stdout = sample_on_both
    assert "events      2,746 loaded, 212 duplicates" in stdout
    assert "audit       all 318 file reads reconcile" in stdout
    assert warehouse_counts(lake) == warehouse_counts(database)
    raw_lake = schema_contents(lake, "raw", RUN_COLUMNS)
    raw_file = schema_contents(database, "raw", RUN_COLUMNS)
    assert raw_lake.keys() == raw_file.keys()
    for table in (*EVENT_TABLES, "rejected_events", "file_audit"):
        assert raw_lake[table] == raw_file[table], table
    for table in EVENT_TABLES:  # ordered by event id, dlt's ids and load ids left out
        sql = f"select * exclude (_dlt_id, _dlt_load_id) from raw.{table} order by event_id"
        assert lake_query(lake, sql) == lake_query(database, sql)
    for schema in ("staging", "intermediate"):
        assert schema_contents(lake, schema, RUN_COLUMNS) == schema_contents(
            database, schema, RUN_COLUMNS
        ), schema
    marts = marts_contents(lake)
    assert marts == marts_contents(database)
    assert len(marts) == 11 and all(marts.values())


@pytest.mark.slow
def test_a_second_run_on_a_lake_loads_nothing_and_rebuilds_nothing(
    sample_on_both: tuple[Path, str, str],
) -> None:
    _, lake, _ = sample_on_both
    before = marts_contents(lake)
    again = job(SAMPLE, lake)
    assert "events      0 loaded, 0 duplicates" in again.stdout
    assert "files       0 read, 318 unchanged" in again.stdout
    assert marts_contents(lake) == before


def small_archive(archive: Path) -> None:
    write_files(
        archive,
        {
            "2024/08/17/a.jsonl": jsonl(
                callback_event("e1", "cr-1"),
                callback_event("e2", "cr-1", status="CLOSED", updated_at="2024-08-17T12:00:00Z"),
                appointment_event("a1", "ap-1", "cr-1"),
            )
            + b'{"broken\n'
            + jsonl({"id": "x", "entity": "Unknown"}),
        },
    )


@pytest.mark.slow
def test_incremental_runs_full_refresh_and_transforms_only_on_a_lake(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    small_archive(archive)
    lake = lake_of(tmp_path)
    first = job(archive, lake)
    assert "events      3 loaded, 0 duplicates" in first.stdout
    assert "rejected    2" in first.stdout
    assert lake_query(lake, "select reason from raw.rejected_events order by 1") == [
        ("invalid_json",),
        ("missing_field",),
    ]
    # a new file: only its new event loads, the re-delivered one is a duplicate
    write_files(
        archive,
        {
            "2024/08/18/b.jsonl": jsonl(
                callback_event("e1", "cr-1"),
                callback_event("e3", "cr-2", updated_at="2024-08-18T10:00:00Z"),
            )
        },
    )
    second = job(archive, lake)
    assert "files       1 read, 1 unchanged" in second.stdout
    assert "events      1 loaded, 1 duplicates" in second.stdout
    assert lake_query(lake, "select count(*) from raw.file_audit") == [(2,)]
    assert lake_query(
        lake, "select callback_request_id, status from marts.fct_callback_requests order by 1"
    ) == [("cr-1", "CLOSED"), ("cr-2", "OPEN")]
    marts = marts_contents(lake)

    refreshed = job(archive, lake, "--full-refresh")
    assert "events      4 loaded, 1 duplicates" in refreshed.stdout
    assert lake_query(lake, "select count(*) from raw.callback_request_events") == [(3,)]
    assert marts_contents(lake) == marts

    rebuilt = job(archive, lake, "--transforms-only")
    assert "models      19 built" in rebuilt.stdout and "events" not in rebuilt.stdout
    assert marts_contents(lake) == marts

    # the same archive into a file gives the same marts
    database = tmp_path / "warehouse.duckdb"
    job(archive, database)
    assert marts_contents(database) == marts


READER = """
import json, sys, time
from pathlib import Path
from pipelines.warehouse.connection import connect
con = connect(sys.argv[1], read_only=True)
stop = Path(sys.argv[2])
sql = ("select (select count(*) from marts.fct_callback_requests),"
       " (select count(*) from marts.dim_customers),"
       " (select build_key from marts._build_state)")
print(json.dumps(con.execute(sql).fetchone()), flush=True)
while not stop.exists():
    print(json.dumps(con.execute(sql).fetchone()), flush=True)
    time.sleep(0.02)
print(json.dumps(con.execute(sql).fetchone()), flush=True)
con.close()
"""


@pytest.mark.slow
def test_a_reader_holding_the_lake_never_blocks_a_run_and_sees_one_commit(
    tmp_path: Path,
) -> None:
    """A process keeps the lake attached through a whole run (load and marts): the run
    succeeds, and every answer the reader gets is the old set of marts or the new one."""
    archive = tmp_path / "archive"
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1", "cr-1"))})
    lake = lake_of(tmp_path)
    job(archive, lake)
    write_files(
        archive,
        {"b.jsonl": jsonl(*(callback_event(f"e{n}", f"cr-{n}") for n in range(2, 40)))},
    )
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, lake, str(stop)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        old = tuple(json.loads(reader.stdout.readline()))  # attached before the run starts
        started = time.monotonic()
        proc = run_job("--source", str(archive), "--database", lake)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    seen = [tuple(json.loads(line)) for line in out.splitlines()]
    new = seen[-1]
    assert old[0] == 1 and new[0] == 39 and old[2] != new[2]
    assert set(seen) <= {old, new}, set(seen)  # never a half-built set
    assert len(seen) > 10, f"the reader answered only {len(seen)} times in {elapsed:.1f} s"
    first_new = seen.index(new)
    assert all(answer == new for answer in seen[first_new:])  # no going back after the commit


def test_transforms_only_on_a_missing_lake_fails_as_for_a_file(tmp_path: Path) -> None:
    proc = run_job("--database", lake_of(tmp_path), "--transforms-only")
    assert_one_line_error(proc, 3, f"database {lake_of(tmp_path)} does not exist yet")


def test_a_catalog_that_is_not_a_catalog_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "catalog.sqlite").write_text("not a database")
    proc = run_job("--database", lake_of(tmp_path), "--transforms-only")
    assert_one_line_error(proc, 3, f"lake catalog {lake_of(tmp_path)} is unreadable")


def test_an_unreachable_catalog_server_is_one_line_without_the_password(
    tmp_path: Path, archive: Path
) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    setting = "ducklake:postgres:dbname=lake host=127.0.0.1 port=1 user=job"
    proc = run_job(
        "--source",
        str(archive),
        "--database",
        setting,
        "--data-path",
        str(tmp_path / "data"),
        cwd=tmp_path,
        env={"WAREHOUSE__CATALOG_PASSWORD": "pg-secret-value"},
    )
    line = assert_one_line_error(proc, 3, "catalog server", "unreachable", "dbname=lake")
    assert "pg-secret-value" not in proc.stderr + proc.stdout, line


def test_a_lake_spelling_duckdb_would_not_understand_is_refused(tmp_path: Path) -> None:
    proc = run_job("--database", "ducklake:mysql:x", cwd=tmp_path)
    assert_one_line_error(proc, 2, "ducklake:sqlite:PATH")
    proc = run_job("--database", str(tmp_path / "w.duckdb"), "--data-path", "x", cwd=tmp_path)
    assert_one_line_error(proc, 2, "--data-path is for a lake")


def clean(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.clean", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_clean_removes_a_sqlite_lake_and_what_the_job_keeps_beside_it(tmp_path: Path) -> None:
    from pipelines.warehouse.connection import connect

    lake = lake_of(tmp_path)
    con = connect(lake)  # a real lake: catalog and data folder
    con.execute("create schema raw")
    con.execute("create table raw.t as select range as x from range(100000)")
    con.close()
    catalog = tmp_path / "catalog.sqlite"
    for suffix in (".dlt-pipelines", ".tmp"):
        (tmp_path / f"catalog.sqlite{suffix}").mkdir()
    (tmp_path / "catalog.sqlite.lock").write_text("")
    (tmp_path / "catalog.sqlite-wal").write_text("")
    (tmp_path / "neighbour.sqlite").write_text("keep")
    assert any((tmp_path / "catalog.sqlite.files").rglob("*.parquet"))
    listed = clean("--database", lake, "--dry-run")
    assert listed.returncode == 0 and f"would remove {catalog}.files" in listed.stdout
    assert catalog.exists()
    proc = clean("--database", lake)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neighbour.sqlite"]
    assert "left alone" not in proc.stdout


def test_clean_leaves_a_configured_data_path_and_a_postgres_lake_alone(tmp_path: Path) -> None:
    data = tmp_path / "shared-data"
    data.mkdir()
    (data / "x.parquet").write_text("keep")
    (tmp_path / "catalog.sqlite").write_text("")
    proc = clean("--database", lake_of(tmp_path), "--data-path", str(data))
    assert proc.returncode == 0, proc.stderr
    assert f"left alone: the lake's data path {data}" in proc.stdout
    assert not (tmp_path / "catalog.sqlite").exists() and (data / "x.parquet").exists()

    setting = "ducklake:postgres:dbname=lake host=db.example user=job"
    (tmp_path / "data").mkdir()
    proc = clean("--database", setting, "--data-path", "s3://bucket/lake", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "left alone: the catalog ducklake:postgres:dbname=lake" in proc.stdout
    assert "s3://bucket/lake" in proc.stdout


@pytest.mark.slow
def test_a_failed_build_on_a_lake_keeps_the_previous_marts(tmp_path: Path) -> None:
    """The build's transaction rolls back on a lake as in a file: exit 7, old marts kept."""
    import shutil

    from test_transforms import SETTINGS, scenario

    from pipelines.common.errors import ExpectedFailure
    from pipelines.load.pipeline import load_archive
    from pipelines.marts.runner import build_models

    archive = write_files(tmp_path / "archive", scenario())
    lake = lake_of(tmp_path)
    load_archive(str(archive), lake)
    build_models(lake, SETTINGS)
    before = marts_contents(lake)
    assert before["fct_callback_requests"]
    broken = tmp_path / "transforms"
    shutil.copytree(REPO / "transforms", broken)
    model = broken / "marts" / "fct_callback_requests.sql"
    model.write_text(f"select * replace ('x' as callback_request_id) from ({model.read_text()})")
    with pytest.raises(ExpectedFailure, match="data check failed"):
        build_models(lake, SETTINGS, broken)
    assert marts_contents(lake) == before
    model.write_text("select * from nowhere")
    with pytest.raises(ExpectedFailure, match="model marts.fct_callback_requests failed"):
        build_models(lake, SETTINGS, broken)
    assert marts_contents(lake) == before


def test_the_repair_of_a_resumed_load_works_on_a_lake(tmp_path: Path) -> None:
    """Rows a resumed load inserted twice (same `_dlt_id`) go, through dlt's ducklake client:
    a lake table takes `delete ... where rowid in (...)`."""
    from pipelines.load.pipeline import make_pipeline
    from pipelines.load.raw_repair import remove_replayed_rows
    from pipelines.warehouse.connection import connect

    lake = lake_of(tmp_path)
    con = connect(lake)
    con.execute("create schema raw")
    con.execute(
        "create table raw.callback_request_events as"
        " select 'e' || range as event_id, 'id' || range as _dlt_id from range(5)"
    )
    con.execute(
        "create table raw.callback_request_events__participants as"
        " select 'p' || range as _dlt_id, 'id' || range as _dlt_parent_id from range(3)"
    )
    for table in ("callback_request_events", "callback_request_events__participants"):
        con.execute(f"insert into raw.{table} select * from raw.{table} limit 2")
    con.close()
    with make_pipeline(lake).sql_client() as client:
        removed = remove_replayed_rows(client, "callback_request_events")
    assert removed == {"callback_request_events": 2, "callback_request_events__participants": 2}
    assert lake_query(
        lake, "select count(*), count(distinct _dlt_id) from raw.callback_request_events"
    ) == [(5, 5)]
