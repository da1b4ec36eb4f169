"""`python -m pipelines.run` as cron runs it: real processes, exit codes and one-line errors."""

from __future__ import annotations

import fcntl
import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, callback_event, jsonl, query, run_job, write_files


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_defaults_load_data_archive_into_data_warehouse(tmp_path: Path) -> None:
    write_files(tmp_path / "data" / "archive", {"2024/08/17/a.jsonl": jsonl(callback_event("e1"))})
    proc = run_job(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert query(
        tmp_path / "data" / "warehouse.duckdb", "select event_id from raw.callback_request_events"
    ) == [("e1",)]
    assert "events      1 loaded, 0 duplicates" in proc.stdout
    assert "\r" not in proc.stderr  # no progress display when not on a terminal


def test_settings_from_environment_the_dlt_way(tmp_path: Path) -> None:
    archive = write_files(tmp_path / "elsewhere", {"a.json": jsonl(callback_event("e1"))})
    database = tmp_path / "db" / "w.duckdb"
    env = {
        "SOURCES__WEBHOOK_ARCHIVE__BUCKET_URL": f"file://{archive}",
        "WAREHOUSE__DATABASE": str(database),
    }
    proc = run_job(cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert query(database, "select count(*) from raw.callback_request_events") == [(1,)]


def test_summary_reports_reads_duplicates_rejections(archive: Path, database: Path) -> None:
    event = callback_event("e1")
    write_files(archive, {"a.jsonl": jsonl(event, event) + b"[]\n", "b.txt": "x"})
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "files       1 read, 0 unchanged, 1 skipped" in out
    assert "records     3 read" in out
    assert "events      1 loaded, 1 duplicates" in out
    assert "rejected    1 (not_an_object 1)" in out
    tables = "callback_request_events, file_audit, rejected_events, translation_sets"
    assert f"new tables  {tables} and 17 child tables" in out  # translations: once per set
    for step in ("extract", "normalize", "load", "total"):
        assert f"{step} " in out
    again = run_job("--source", str(archive), "--database", str(database))
    assert "files       0 read, 1 unchanged" in again.stdout
    assert "normalize" not in again.stdout  # nothing new: dlt's normalize and load are skipped


def test_missing_source_fails_with_one_line(tmp_path: Path, database: Path) -> None:
    proc = run_job("--source", str(tmp_path / "nope"), "--database", str(database))
    assert_one_line_error(proc, 3, "nope", "does not exist")


def test_database_locked_by_another_process(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(database)!r})
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        proc = run_job("--source", str(archive), "--database", str(database))
    finally:
        holder.communicate("", timeout=30)
    assert_one_line_error(proc, 4, "locked")


def test_second_run_fails_fast_while_one_is_running(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    with open(database.with_name(database.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = run_job("--source", str(archive), "--database", str(database))
    assert_one_line_error(proc, 4, "another pipeline run")
    assert not database.exists()


def test_no_permission(archive: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    proc = run_job("--source", str(archive), "--database", "/sys/warehouse.duckdb")
    assert_one_line_error(proc, 5, "no permission")


@dataclass
class Unprivileged:
    """How to run the job so that file permissions apply to it, and a folder it can use."""

    prefix: list[str]  # command prefix that runs the job without root's powers
    base: Path  # traversable by that user; `writable(...)` makes folders it may write
    owner: tuple[int, int] | None  # (uid, gid) that must own what it writes; None: as is

    def writable(self, name: str) -> Path:
        path = self.base / name
        path.mkdir()
        if self.owner is not None:
            os.chown(path, *self.owner)
        return path


def _can_run_the_job(prefix: list[str], base: Path) -> bool:
    """Whether `prefix` runs this very interpreter with the job's imports and reaches `base`."""
    probe = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-c",
            f"import os, sys, pipelines.run; os.listdir({str(base)!r}); print(sys.version)",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # the same version: an interpreter that cannot reach its own files may start anyway,
    # on another Python's library (seen with a pyenv Python under /root and setpriv)
    return probe.returncode == 0 and probe.stdout.strip() == sys.version


@functools.cache
def _without_privileges() -> tuple[tuple[str, ...], tuple[int, int] | None]:
    """(command prefix, owner of what it writes) to run the job so that file
    permissions apply to it. CI runs the tests as root, and root reads any file: then the
    job runs as `nobody`, or, when `nobody` cannot run this interpreter or repository (say,
    under /root), as root without the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return (), None
    setpriv = shutil.which("setpriv")
    assert setpriv, "tests run as root need setpriv (util-linux) to test file permissions"
    probe_dir = Path(tempfile.mkdtemp(prefix="unprivileged-probe-"))
    try:
        probe_dir.chmod(0o755)
        nobody = pwd.getpwnam("nobody")
        as_nobody = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}"]
        as_nobody.append("--clear-groups")
        if _can_run_the_job(as_nobody, probe_dir):
            return tuple(as_nobody), (nobody.pw_uid, nobody.pw_gid)
        no_override = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
        assert _can_run_the_job(no_override, probe_dir), "cannot drop root's permission bypass"
        return tuple(no_override), None
    finally:
        shutil.rmtree(probe_dir)


@pytest.fixture
def unprivileged() -> Iterator[Unprivileged]:
    """Runs the job so that file permissions apply (see `_without_privileges`); never
    skipped. Its folder is made with mkdtemp, not under pytest's 0700 folders."""
    prefix, owner = _without_privileges()
    base = Path(tempfile.mkdtemp(prefix="unprivileged-"))
    base.chmod(0o755)
    try:
        yield Unprivileged(list(prefix), base, owner)
    finally:
        for folder, subfolders, _ in os.walk(base):  # top down: open each before entering
            for name in subfolders:
                os.chmod(os.path.join(folder, name), 0o755)
        shutil.rmtree(base)


def run_unprivileged(user: Unprivileged, archive: Path, database: Path):
    return run_job(
        "--source",
        str(archive),
        "--database",
        str(database),
        prefix=user.prefix,
        env={"HOME": str(user.base / "home")},
    )


@pytest.fixture
def private(unprivileged: Unprivileged) -> tuple[Unprivileged, Path, Path]:
    """The unprivileged runner, an archive folder it can read, and where its database goes."""
    unprivileged.writable("home")
    archive = unprivileged.base / "archive"
    archive.mkdir()
    return unprivileged, archive, unprivileged.writable("db") / "warehouse.duckdb"


def test_unreadable_source(private: tuple[Unprivileged, Path, Path]) -> None:
    user, archive, database = private
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    archive.chmod(0)
    proc = run_unprivileged(user, archive, database)
    assert_one_line_error(proc, 3, f"source {archive} is not readable")
    assert not database.exists()


def test_unreadable_file_stops_the_run_and_the_next_run_reads_it(
    private: tuple[Unprivileged, Path, Path],
) -> None:
    user, archive, database = private
    write_files(
        archive,
        {"a.jsonl": jsonl(callback_event("e1")), "b.jsonl": jsonl(callback_event("e2", "cr-2"))},
    )
    (archive / "a.jsonl").chmod(0)
    proc = run_unprivileged(user, archive, database)
    assert_one_line_error(proc, 5, f"no permission to read file://{archive}/a.jsonl")
    assert not database.exists()  # nothing loaded: not even the readable b.jsonl
    (archive / "a.jsonl").chmod(0o644)
    again = run_unprivileged(user, archive, database)
    assert again.returncode == 0, again.stderr
    assert "files       2 read, 0 unchanged" in again.stdout
    assert query(database, "select event_id from raw.callback_request_events order by 1") == [
        ("e1",),
        ("e2",),
    ]


def test_unreadable_folder_inside_the_source_fails_the_run(
    private: tuple[Unprivileged, Path, Path],
) -> None:
    user, archive, database = private
    write_files(
        archive,
        {"a.jsonl": jsonl(callback_event("e1")), "sub/b.jsonl": jsonl(callback_event("e2"))},
    )
    (archive / "sub").chmod(0)
    proc = run_unprivileged(user, archive, database)
    assert_one_line_error(proc, 5, f"cannot list folder {archive}/sub of the source")
    assert not database.exists()  # nothing loaded: a partial archive is not read


def test_disk_full(tmp_path: Path, archive: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(small)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        events = [callback_event(f"e{i}", f"cr-{i}") for i in range(600)]
        write_files(archive, {"a.jsonl": jsonl(*events)})
        proc = run_job("--source", str(archive), "--database", str(small / "w.duckdb"))
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
    assert_one_line_error(proc, 6, "disk full")


def test_summary_reconciles_the_whole_warehouse_and_fails_when_it_does_not(
    archive: Path, database: Path
) -> None:
    event = callback_event("e1")
    write_files(archive, {"a.jsonl": jsonl(event, event, callback_event("e2", "cr-2")) + b"{\n"})
    proc = run_job("--source", str(archive), "--database", str(database))
    assert (
        "audit       all 1 file reads reconcile: 4 read = 2 loaded + 1 duplicates + 1 rejected;"
        " raw holds 2 events" in proc.stdout
    )
    import duckdb

    with duckdb.connect(str(database)) as con:  # damage the warehouse behind the loader's back
        con.execute(  # a second row for an event, not a copy of a row (that is repaired)
            "insert into raw.callback_request_events"
            " select * replace (_dlt_id || '-2' as _dlt_id) from raw.callback_request_events limit 1"
        )
    write_files(archive, {"b.jsonl": jsonl(callback_event("e3", "cr-3"))})
    broken = run_job("--source", str(archive), "--database", str(database))
    assert_one_line_error(broken, 7, "reconciliation failed", "1 duplicate event rows")


def test_an_event_deleted_from_raw_fails_the_reconciliation_of_every_later_run(
    archive: Path, database: Path
) -> None:
    """The events counted as loaded over all runs must be the events stored: a raw row lost
    behind the loader's back (here deleted with its child rows) fails the next run, whether
    it loads anything or not, and every run after it."""
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"), callback_event("e2", "cr-2"))})
    first = run_job("--source", str(archive), "--database", str(database))
    assert first.returncode == 0, first.stderr
    assert "2 read = 2 loaded + 0 duplicates + 0 rejected; raw holds 2 events" in first.stdout
    import duckdb

    with duckdb.connect(str(database)) as con:
        children = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.columns where table_schema = 'raw'"
                " and table_name like 'callback\\_request\\_events\\_\\_%' escape '\\'"
                " and column_name = '_dlt_root_id'"
            ).fetchall()
        ]
        assert children  # the example event has nested arrays: the deletion is a whole event
        lost = "(select _dlt_id from raw.callback_request_events where event_id = 'e2')"
        for child in children:
            con.execute(f'delete from raw."{child}" where _dlt_root_id in {lost}')
        con.execute("delete from raw.callback_request_events where event_id = 'e2'")

    # nothing new to load: the run still reconciles the whole warehouse
    idle = run_job("--source", str(archive), "--database", str(database))
    assert "files       0 read, 1 unchanged" not in idle.stdout  # no summary: the run failed
    assert_one_line_error(
        idle, 7, "reconciliation failed", "raw holds 1 events but the audit counts 2 loaded"
    )
    # a run that loads a new file is caught too, after its own rows reconciled
    write_files(archive, {"b.jsonl": jsonl(callback_event("e3", "cr-3"))})
    loading = run_job("--source", str(archive), "--database", str(database))
    assert_one_line_error(
        loading, 7, "reconciliation failed", "raw holds 2 events but the audit counts 3 loaded"
    )
    assert query(database, "select event_id from raw.callback_request_events order by 1") == [
        ("e1",),
        ("e3",),
    ]
    assert query(
        database, "select callback_request_id from marts.fct_callback_requests order by 1"
    ) == [
        ("cr-1",),
        ("cr-2",),
    ]  # the marts were not rebuilt from a warehouse that does not reconcile


def test_wait_lets_a_reader_finish_first(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    assert run_job("--source", str(archive), "--database", str(database)).returncode == 0
    write_files(archive, {"b.jsonl": jsonl(callback_event("e2", "cr-2"))})
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(database)!r}, read_only=True);"
            " print('ready', flush=True); time.sleep(3); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "ready"
    proc = run_job("--source", str(archive), "--database", str(database), "--wait", "30")
    reader.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert query(database, "select count(*) from raw.callback_request_events") == [(2,)]


def test_an_empty_source_warns(archive: Path, database: Path) -> None:
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    assert "holds no files: check the path or prefix" in proc.stderr
    assert "files       0 read, 0 unchanged, 0 skipped" in proc.stdout


def test_full_refresh_of_an_empty_source_is_refused(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    assert run_job("--source", str(archive), "--database", str(database)).returncode == 0
    (archive / "a.jsonl").unlink()
    proc = run_job("--source", str(archive), "--database", str(database), "--full-refresh")
    assert_one_line_error(proc, 3, "holds no files", "full refresh would empty the warehouse")
    assert query(database, "select count(*) from raw.callback_request_events") == [(1,)]
    again = run_job("--source", str(archive), "--database", str(database))
    assert again.returncode == 0 and "finishing a load" not in again.stderr
