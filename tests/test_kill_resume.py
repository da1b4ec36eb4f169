"""Kill and resume: a run killed with SIGKILL at any stage, then a normal run, yields exactly
the warehouse a clean run yields."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from conftest import (
    REPO,
    callback_event,
    generate,
    job_command,
    jsonl,
    mart_names,
    query,
    run_job,
    table_counts,
    write_files,
)


def fingerprint(database: Path) -> dict[str, object]:
    """Row counts of every raw table and a content hash of every mart."""
    result: dict[str, object] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
            " and table_name not like '\\_dlt%' escape '\\' and table_name <> 'file_audit'"
        ).fetchall()
        for (table,) in tables:
            result[f"raw.{table}"] = con.execute(f'select count(*) from raw."{table}"').fetchone()[
                0
            ]
        result["raw.distinct_events"] = con.execute(
            "select count(distinct event_id) from raw.callback_request_events"
        ).fetchone()[0]
        for mart in mart_names(database):
            rows = con.execute(f"select * from marts.{mart} order by all").fetchall()
            result[f"marts.{mart}"] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        audit = con.execute(
            "select sum(records_read), sum(events_loaded), count(*) filter"
            " (where records_read <> events_loaded + duplicates + rejected) from raw.file_audit"
        ).fetchone()
        result["audit.broken_rows"] = audit[2]
    return result


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kill") / "archive"
    generate(out, 2500, 11, "--corrupt", "--gzip-share", "0.2")
    return out


@pytest.fixture(scope="module")
def reference(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    database = tmp_path_factory.mktemp("reference") / "w.duckdb"
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    return fingerprint(database)


def start_and_kill(archive: Path, database: Path, stage: str, after: float) -> str:
    """Start a run; SIGKILL it and its workers `after` seconds into `stage` (a log line)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "RUNTIME__DLTHUB_TELEMETRY": "false"}
    proc = subprocess.Popen(
        job_command(archive, database),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if stage in line:
            break
    time.sleep(after)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    output, _ = proc.communicate(timeout=60)
    return "".join(seen) + output


@pytest.mark.slow
@pytest.mark.parametrize(
    "kills",
    [
        [("INFO pipelines: loading", 0.5)],  # reading files
        [("normalizing", 1.0)],
        [("loading into", 0.2)],
        [("loading into", 1.5)],
        [("building staging", 0.3)],  # building the marts
        # killed twice in a row: in normalize, then while loading what the first run left
        [("normalizing", 0.5), ("loading the pending load", 0.5)],
    ],
)
def test_killed_run_then_normal_run_equals_clean_run(
    archive: Path, reference: dict[str, object], tmp_path: Path, kills: list[tuple[str, float]]
) -> None:
    database = tmp_path / "w.duckdb"
    logs = []
    for stage, after in kills:
        logs.append(start_and_kill(archive, database, stage, after))
        assert stage in logs[-1], logs[-1]
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    # the pending load was this warehouse's: resumed, not discarded (see warehouse_sync)
    assert "discarded dlt's working folder" not in proc.stderr, proc.stderr
    diff = {
        k: (v, reference.get(k)) for k, v in fingerprint(database).items() if reference.get(k) != v
    }
    assert not diff, f"{diff}\nkilled runs:\n{logs}\nrecovery:\n{proc.stderr}{proc.stdout}"
    again = run_job("--source", str(archive), "--database", str(database))
    assert again.returncode == 0 and "events      0 loaded" in again.stdout
    assert fingerprint(database) == reference


# the job, killed right after dlt committed the extracted package (with its new state) and
# before dlt saved that state in the working folder: a window too narrow to hit with a timer
KILL_AFTER_COMMIT = """
import os, sys
from dlt.pipeline.pipeline import Pipeline
save_state = Pipeline._save_state
def die_before_saving_an_extracted_state(self, state):
    if self.list_extracted_load_packages():  # the extract's package is committed
        os._exit(9)
    save_state(self, state)
Pipeline._save_state = die_before_saving_an_extracted_state
import pipelines.run
sys.exit(pipelines.run.main(sys.argv[1:]))
"""


def kill_after_package_commit(archive: Path, database: Path) -> None:
    """Run the job and kill it in dlt's window between package commit and state save."""
    command = job_command(archive, database)
    killed = subprocess.run(
        [command[0], "-c", KILL_AFTER_COMMIT, *command[3:]],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr


@pytest.mark.parametrize("first_run", [True, False])
def test_kill_between_package_commit_and_state_save_reads_nothing_twice(
    tmp_path: Path, first_run: bool
) -> None:
    archive = write_files(
        tmp_path / "archive", {"a.jsonl": jsonl(callback_event("e1"), callback_event("e2", "cr-2"))}
    )
    database = tmp_path / "w.duckdb"
    if not first_run:
        assert run_job("--source", str(archive), "--database", str(database)).returncode == 0
    write_files(archive, {"b.jsonl": jsonl(callback_event("e3", "cr-3"))})
    kill_after_package_commit(archive, database)
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    if first_run:  # dlt saved no schema: the package is dropped and its files read again
        assert "files       2 read, 0 unchanged" in proc.stdout
    else:  # the package is loaded, and the state it carried is taken from the warehouse
        assert "resumed     1 interrupted load(s)" in proc.stdout
        assert "files       0 read, 2 unchanged" in proc.stdout
    assert query(database, "select sum(events_loaded) from raw.file_audit") == [(3,)]
    assert query(database, "select count(*) from raw.callback_request_events") == [(3,)]
    again = run_job("--source", str(archive), "--database", str(database))
    assert "files       0 read, 2 unchanged" in again.stdout, again.stdout


def test_rows_a_resumed_load_inserted_twice_are_removed(tmp_path: Path) -> None:
    """dlt can copy a staging file twice when a kill lands between DuckDB's commit and dlt's
    bookkeeping; the merge then keeps both copies of each root row. The next run removes the
    extra copies (same `_dlt_id`) instead of failing reconciliation forever."""
    archive, database, clean = tmp_path / "archive", tmp_path / "w.duckdb", tmp_path / "c.duckdb"
    write_files(
        archive, {"a.jsonl": jsonl(*(callback_event(f"e{i}", f"cr-{i}") for i in range(6)))}
    )
    assert run_job("--source", str(archive), "--database", str(database)).returncode == 0
    with duckdb.connect(str(database)) as con:  # what the replayed copy job leaves behind
        con.execute(
            "insert into raw.callback_request_events select * from raw.callback_request_events"
            " where callback_request_id in ('cr-1', 'cr-4')"
        )
    # a new file too, so that the marts are rebuilt from the repaired raw tables
    write_files(archive, {"b.jsonl": jsonl(callback_event("e9", "cr-9"))})
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    assert "removed 2 rows a resumed load had inserted twice into raw.callback_request_events" in (
        proc.stderr
    )
    assert run_job("--source", str(archive), "--database", str(clean)).returncode == 0
    assert table_counts(database) == table_counts(clean)
    for mart in mart_names(database):
        sql = f"select * from marts.{mart} order by all"
        assert query(database, sql) == query(clean, sql), mart


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.1, 0.3, 0.5])
def test_killed_appended_build_then_normal_run_equals_clean_run(
    archive: Path, reference: dict[str, object], tmp_path: Path, after: float
) -> None:
    """A run that appends new events to staging (see pipelines.marts.incremental), killed
    while it builds: the next run appends them again, and ends equal to a clean run."""
    source = tmp_path / "archive"
    files = sorted(p.relative_to(archive) for p in archive.rglob("*") if p.is_file())
    held_back = set(files[::25])  # ~4% of the files: appended, not rebuilt
    for relative in files:
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative not in held_back:
            target.write_bytes((archive / relative).read_bytes())
    database = tmp_path / "w.duckdb"
    first = run_job("--source", str(source), "--database", str(database))
    assert first.returncode == 0, first.stderr
    for relative in held_back:
        (source / relative).write_bytes((archive / relative).read_bytes())

    log = start_and_kill(source, database, "building staging", after)
    assert "building staging" in log and "run summary" not in log, log  # killed in the build
    proc = run_job("--source", str(source), "--database", str(database))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert fingerprint(database) == reference, f"killed run:\n{log}\nrecovery:\n{proc.stdout}"
    # the recovery appended (a kill before the commit leaves the last build's mark), or found
    # the killed run's build committed and had nothing left to do
    assert "staging appended" in proc.stdout or "up to date" in proc.stdout, proc.stdout
