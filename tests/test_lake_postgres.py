"""A lake with a PostgreSQL catalog and its table files in a bucket, all real: a throwaway
PostgreSQL cluster and moto's S3-compatible server (tests/servers.py), the job as a process.

- the same raw tables and marts as a DuckDB file on the same archive;
- analysts with a read-only role and read-only bucket keys can query every mart, write nothing;
- a reader holding the lake through a run sees the old marts, then the new, never a mix;
- two runs started together: one writes, the other exits 4 (or waits with --wait); the lock
  in the catalog is released when its holder is killed;
- a run killed with SIGKILL while loading or building the marts, then a run, equals a clean run;
- the catalog server stopped mid-run: one `error:` line, then a run with the server back
  completes with nothing lost or doubled.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, generate, job_command, run_job
from servers import (
    PostgresServer,
    S3Server,
    no_ambient_aws_credentials,
    postgres_server,
    s3_server,
)

from pipelines.common.errors import EXIT_LOCKED, ExpectedFailure
from pipelines.warehouse import connection
from pipelines.warehouse.catalog_lock import catalog_run_lock
from pipelines.warehouse.connection import METADATA_SCHEMA, connect
from pipelines.warehouse.location import parse_warehouse

pytestmark = pytest.mark.slow  # real servers and many real runs

BUCKET = "lake"
_names = itertools.count()

# SQL that lets analysts read the lake and change nothing (the README gives the same): the role,
# made by an administrator (a role with CREATEROLE) ...
ANALYST_ROLE_SQL = "create role {analyst} login password '{password}'"
# ... and its grants, by the job's role (the owner of the catalog database), before or after the
# first run: default privileges cover the tables DuckLake creates later
ANALYST_GRANTS_SQL = """
create schema if not exists ducklake;
grant connect on database {dbname} to {analyst};
grant usage on schema ducklake to {analyst};
grant select on all tables in schema ducklake to {analyst};
alter default privileges for role {owner} in schema ducklake grant select on tables to {analyst};
"""


@dataclass
class Servers:
    postgres: PostgresServer
    s3: S3Server


@dataclass
class Lake:
    """One lake: its own catalog database and its own prefix in the bucket."""

    servers: Servers
    dbname: str
    workdir: Path  # the job's working folder: dlt's state lives under data/ here

    @property
    def setting(self) -> str:
        return self.servers.postgres.setting(self.dbname)

    @property
    def data_path(self) -> str:
        return f"s3://{BUCKET}/{self.dbname}"

    def env(self) -> dict[str, str]:
        return {
            **self.servers.s3.lake_env(),
            "WAREHOUSE__CATALOG_PASSWORD": self.servers.postgres.password,
        }

    def command(self, archive: Path, *extra: str) -> list[str]:
        return job_command(archive, self.setting, "--data-path", self.data_path, *extra)

    def run(self, archive: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return run_job(
            *self.command(archive, *extra)[3:], env=self.env(), cwd=self.workdir, timeout=timeout
        )

    def popen(self, archive: Path, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(archive, *extra),
            cwd=self.workdir,
            env={**os.environ, **self.env(), "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def secrets(self) -> tuple[str, str]:
        return self.servers.postgres.password, self.servers.s3.secret


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("servers")
    with no_ambient_aws_credentials(), postgres_server() as postgres, s3_server(root) as s3:
        s3.client().create_bucket(Bucket=BUCKET)
        yield Servers(postgres, s3)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("lake-archive") / "archive"
    manifest = generate(out, 800, 7, "--corrupt", "--gzip-share", "0.2")
    return out, manifest


@pytest.fixture(scope="module")
def reference(archive: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fingerprint of a clean run into a DuckDB file."""
    database = tmp_path_factory.mktemp("reference") / "w.duckdb"
    proc = run_job("--source", str(archive[0]), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(database), read_only=True) as con:
        return fingerprint(con)


@pytest.fixture
def lake(servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    """A fresh lake: a new catalog database owned by `loader`, a new bucket prefix; its bucket
    keys in this process too (for `connect()` here)."""
    dbname = f"lake_{os.getpid()}_{next(_names)}"
    postgres = servers.postgres
    postgres.execute(f"create database {dbname} owner {postgres.user}", "postgres")
    postgres.execute(f"revoke all on database {dbname} from public", "postgres")
    for key, value in servers.s3.lake_env().items():
        monkeypatch.setenv(key, value)
    connection.storage_configuration.cache_clear()
    yield Lake(servers, dbname, tmp_path)
    connection.storage_configuration.cache_clear()


def lake_connection(
    lake: Lake, user: str | None = None, password: str | None = None, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    postgres = lake.servers.postgres
    warehouse = parse_warehouse(
        postgres.setting(lake.dbname, user), lake.data_path, password or postgres.password
    )
    return connect(warehouse, read_only=read_only)


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_catalog ="
            " current_database() and table_schema = 'marts'"
            " and table_name not like '\\_%' escape '\\' order by 1"
        ).fetchall()
    ]


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Row counts of every raw table and a content hash of every mart (as test_kill_resume)."""
    result: dict[str, object] = {}
    tables = con.execute(
        "select table_name from information_schema.tables where table_catalog ="
        " current_database() and table_schema = 'raw' and table_type = 'BASE TABLE'"
        " and table_name not like '\\_dlt%' escape '\\' and table_name <> 'file_audit'"
    ).fetchall()
    for (table,) in tables:
        result[f"raw.{table}"] = con.execute(f'select count(*) from raw."{table}"').fetchone()[0]
    result["raw.distinct_events"] = con.execute(
        "select count(distinct event_id) from raw.callback_request_events"
    ).fetchone()[0]
    for mart in mart_names(con):
        rows = con.execute(f"select * from marts.{mart} order by all").fetchall()
        result[f"marts.{mart}"] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    result["audit.broken_rows"] = con.execute(
        "select count(*) from raw.file_audit"
        " where records_read <> events_loaded + duplicates + rejected"
    ).fetchone()[0]
    return result


def lake_fingerprint(lake: Lake) -> dict[str, object]:
    with lake_connection(lake) as con:
        return fingerprint(con)


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output, output
    return lines[0]


def assert_no_secret(lake: Lake, *outputs: str) -> None:
    """Neither the catalog password nor the bucket secret in the output nor in any file the
    job keeps (dlt's trace of the last run included)."""
    for secret in lake.secrets():
        for output in outputs:
            assert secret not in output
        found = subprocess.run(
            ["grep", "-rl", "--binary-files=text", "-F", secret, str(lake.workdir)],
            capture_output=True,
            text=True,
        )
        assert found.stdout == "", f"secret found in {found.stdout}"


def test_lake_gives_the_marts_of_a_file_warehouse(
    lake: Lake, archive: tuple[Path, dict], reference: dict
) -> None:
    source, manifest = archive
    first = lake.run(source)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "(data s3://lake/" in first.stdout
    loaded = manifest["distinct_events"]
    assert f"events      {loaded} loaded, {manifest['duplicate_deliveries']} duplicates" in (
        first.stdout
    )
    assert lake_fingerprint(lake) == reference
    with lake_connection(lake) as con:
        assert con.execute("select count(*) from raw.callback_request_events").fetchone() == (
            manifest["callback_request_events"],
        )
        assert con.execute("select count(*) from marts.fct_callback_requests").fetchone() == (
            manifest["callback_requests"],
        )
        # the table files are in the bucket, the catalog in PostgreSQL
        files = con.execute(
            f"select count(*) from glob('s3://{BUCKET}/{lake.dbname}/**/*.parquet')"
        ).fetchone()[0]
        assert files > 0
    tables = lake.servers.postgres.execute(
        f"select count(*) from information_schema.tables where table_schema = '{METADATA_SCHEMA}'",
        lake.dbname,
    )
    assert tables[0][0] > 10
    # nothing new: nothing loaded, the same marts
    again = lake.run(source)
    assert again.returncode == 0 and "events      0 loaded" in again.stdout, again.stderr
    assert lake_fingerprint(lake) == reference
    assert_no_secret(lake, first.stdout, first.stderr, again.stdout, again.stderr)


def test_analyst_role_reads_every_mart_and_writes_nothing(
    lake: Lake, archive: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres = lake.servers.postgres
    analyst, password = f"analyst_{lake.dbname}", "analyst-secret-1"
    # the set-up, before the first run (default privileges cover the tables DuckLake creates)
    postgres.execute(ANALYST_ROLE_SQL.format(analyst=analyst, password=password), "postgres")
    loader = postgres.connect(dbname=lake.dbname)
    with loader.cursor() as cursor:
        cursor.execute(
            ANALYST_GRANTS_SQL.format(analyst=analyst, dbname=lake.dbname, owner=postgres.user)
        )
    loader.close()
    proc = lake.run(archive[0])
    assert proc.returncode == 0, proc.stderr + proc.stdout

    s3 = lake.servers.s3
    for key, value in s3.lake_env(s3.read_only_key_id, s3.read_only_secret).items():
        monkeypatch.setenv(key, value)
    connection.storage_configuration.cache_clear()
    with lake_connection(lake, analyst, password) as con:
        marts = mart_names(con)
        assert len(marts) >= 11
        for mart in marts:
            con.execute(f"select * from marts.{mart}").fetchall()
        count = con.execute("select count(*) from marts.fct_callback_requests").fetchone()[0]
        assert count == archive[1]["callback_requests"]
        for statement in (
            "insert into marts.dim_offices select * from marts.dim_offices limit 1",
            "create table marts.mine as select 1 as x",
            "delete from raw.callback_request_events",
        ):
            with pytest.raises(duckdb.Error, match="read-only|read only"):
                con.execute(statement)
    # attached for writing, the catalog refuses the analyst's commit (and the bucket its file)
    with lake_connection(lake, analyst, password, read_only=False) as con:
        for statement in (
            "insert into marts.dim_offices select * from marts.dim_offices limit 1",
            "create table marts.mine as select 1 as x",
            "drop table marts.dim_offices",
        ):
            with pytest.raises(duckdb.Error) as refused:
                con.execute(statement)
            message = str(refused.value)
            assert (
                "permission denied" in message or "403" in message or "Access Denied" in (message)
            ), message
            assert password not in message
    # nothing changed
    with lake_connection(lake) as con:
        assert con.execute("select count(*) from marts.fct_callback_requests").fetchone() == (
            count,
        )
        assert "mine" not in mart_names(con)
    # the role cannot touch the catalog's tables directly either
    reader = postgres.connect(analyst, password, lake.dbname)
    with reader.cursor() as cursor, pytest.raises(Exception, match="permission denied"):
        cursor.execute(f"delete from {METADATA_SCHEMA}.ducklake_snapshot")
    reader.close()
    # and its bucket keys cannot write a table file
    with pytest.raises(Exception, match="AccessDenied|Access Denied"):
        s3.client(s3.read_only_key_id, s3.read_only_secret).put_object(
            Bucket=BUCKET, Key=f"{lake.dbname}/x.parquet", Body=b"x"
        )


READER = textwrap.dedent(
    """
    import sys, time
    from pipelines.warehouse.connection import connect
    from pipelines.warehouse.location import parse_warehouse
    import os
    warehouse = parse_warehouse(sys.argv[1], sys.argv[2], os.environ["WAREHOUSE__CATALOG_PASSWORD"])
    stop = sys.argv[3]
    con = connect(warehouse, read_only=True)
    print("attached", flush=True)
    while not os.path.exists(stop):
        row = con.execute(
            "select (select count(*) from marts.fct_callback_requests),"
            " (select count(*) from marts.fct_callback_request_status_changes),"
            " (select count(*) from raw.callback_request_events)"
        ).fetchone()
        print(*row, flush=True)
        time.sleep(0.2)
    con.close()
    """
)


def test_reader_holding_the_lake_never_blocks_a_run(
    lake: Lake, archive: tuple[Path, dict], tmp_path: Path
) -> None:
    source = archive[0]
    # the first run loads half the archive
    half = tmp_path / "half"
    files = sorted(p for p in source.rglob("*") if p.is_file())
    for path in files[: len(files) // 2]:
        target = half / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert lake.run(half).returncode == 0
    with lake_connection(lake) as con:
        old = con.execute(
            "select (select count(*) from marts.fct_callback_requests),"
            " (select count(*) from marts.fct_callback_request_status_changes),"
            " (select count(*) from raw.callback_request_events)"
        ).fetchone()
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, lake.setting, lake.data_path, str(stop)],
        cwd=REPO,
        env={**os.environ, **lake.env(), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "attached", reader.stderr
        # the second run, the whole archive, while the reader keeps the lake attached
        started = time.monotonic()
        proc = lake.run(source)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr + proc.stdout
        time.sleep(1.0)
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    seen = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    with lake_connection(lake) as con:
        new = con.execute(
            "select (select count(*) from marts.fct_callback_requests),"
            " (select count(*) from marts.fct_callback_request_status_changes),"
            " (select count(*) from raw.callback_request_events)"
        ).fetchone()
    assert new != old
    marts_seen = [row[:2] for row in seen]
    # the reader answered all along, saw the old marts, then the new ones, never a mix
    assert len(seen) > elapsed, (len(seen), elapsed)
    assert set(marts_seen) <= {old[:2], new[:2]}, set(marts_seen)
    switch = marts_seen.index(new[:2])
    assert switch > 0 and all(row == new[:2] for row in marts_seen[switch:])
    # raw grew (the load commits before the marts build), the marts followed in one commit
    assert seen[0][2] == old[2] and seen[-1][2] == new[2]


def test_two_runs_together_one_writes(lake: Lake, archive: tuple[Path, dict]) -> None:
    source = archive[0]
    first, second = lake.popen(source), lake.popen(source)
    outputs = [proc.communicate(timeout=600)[0] for proc in (first, second)]
    codes = sorted(proc.returncode for proc in (first, second))
    assert codes == [0, EXIT_LOCKED], outputs
    loser = outputs[[first.returncode, second.returncode].index(EXIT_LOCKED)]
    line = error_line(loser)
    assert line.startswith(f"error: another run holds the lake {lake.setting}"), line
    assert "pid " in line and " on " in line, line
    # together again, the second waiting: both succeed, the second finds nothing new
    first, second = lake.popen(source, "--wait", "600"), lake.popen(source, "--wait", "600")
    outputs = [proc.communicate(timeout=600)[0] for proc in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert all("events      0 loaded" in output for output in outputs), outputs


HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pipelines.warehouse.catalog_lock import catalog_run_lock
    from pipelines.warehouse.location import parse_warehouse
    warehouse = parse_warehouse(sys.argv[1], "s3://x/y", os.environ["WAREHOUSE__CATALOG_PASSWORD"])
    with catalog_run_lock(warehouse, "ducklake"):
        print("holding", flush=True)
        time.sleep(600)
    """
)


def test_catalog_lock_is_released_when_its_holder_is_killed(lake: Lake) -> None:
    postgres = lake.servers.postgres
    warehouse = parse_warehouse(lake.setting, lake.data_path, postgres.password)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, lake.setting],
        cwd=REPO,
        env={**os.environ, **lake.env(), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(ExpectedFailure) as held, catalog_run_lock(warehouse, "ducklake"):
            pass
        assert held.value.exit_code == EXIT_LOCKED
        assert f"pid {holder.pid} on " in held.value.message, held.value.message
        # another lake (another metadata schema) in the same database is not held
        with catalog_run_lock(warehouse, "another_lake"):
            pass
        # waiting: still held after 2 s
        started = time.monotonic()
        with pytest.raises(ExpectedFailure), catalog_run_lock(warehouse, "ducklake", 2):
            pass
        assert time.monotonic() - started >= 2
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        # the session ends with the process: the lock is free (within the wait budget)
        with catalog_run_lock(warehouse, "ducklake", 10):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
    # a wrong password: one line, exit 5, no password
    wrong = parse_warehouse(lake.setting, lake.data_path, "not-the-password")
    with pytest.raises(ExpectedFailure) as refused, catalog_run_lock(wrong, "ducklake"):
        pass
    assert refused.value.exit_code == 5
    assert "not-the-password" not in refused.value.message
    assert "password authentication failed" in refused.value.message


def run_until(proc: subprocess.Popen, stage: str, after: float) -> str:
    """Read the run's output until `stage` appears, then wait `after` seconds."""
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if stage in line:
            break
    time.sleep(after)
    return "".join(seen)


@pytest.mark.parametrize(
    "stage, after",
    [("loading into", 3.0), ("building staging", 0.5)],
    ids=["load", "marts"],
)
def test_killed_run_on_a_lake_then_a_run_equals_a_clean_run(
    lake: Lake, archive: tuple[Path, dict], reference: dict, stage: str, after: float
) -> None:
    proc = lake.popen(archive[0])
    log = run_until(proc, stage, after)
    assert stage in log, log
    assert proc.poll() is None, log + proc.communicate()[0]  # still running when killed
    os.killpg(proc.pid, signal.SIGKILL)
    log += proc.communicate(timeout=60)[0]
    recovery = lake.run(archive[0])
    assert recovery.returncode == 0, log + recovery.stderr + recovery.stdout
    assert "discarded dlt's working folder" not in recovery.stderr, recovery.stderr
    diff = {
        k: (v, reference.get(k)) for k, v in lake_fingerprint(lake).items() if reference.get(k) != v
    }
    assert not diff, f"{diff}\nkilled run:\n{log}\nrecovery:\n{recovery.stderr}{recovery.stdout}"
    again = lake.run(archive[0])
    assert again.returncode == 0 and "events      0 loaded" in again.stdout, again.stderr
    assert lake_fingerprint(lake) == reference


def test_catalog_server_stopped_mid_run(
    lake: Lake, archive: tuple[Path, dict], reference: dict
) -> None:
    postgres = lake.servers.postgres
    proc = lake.popen(archive[0])
    try:
        log = run_until(proc, "loading into", 3.0)
        assert proc.poll() is None, log
        postgres.stop("fast")  # ends every session: the run's lock and its catalog connections
        log += proc.communicate(timeout=300)[0]
    finally:
        if not postgres.is_running():
            postgres.start()
    assert proc.returncode == 3, log
    line = error_line(log)
    assert line.startswith(f"error: the catalog server of {lake.setting}"), line
    assert "unreachable" in line, line
    assert_no_secret(lake, log)
    recovery = lake.run(archive[0])
    assert recovery.returncode == 0, recovery.stderr + recovery.stdout
    diff = {
        k: (v, reference.get(k)) for k, v in lake_fingerprint(lake).items() if reference.get(k) != v
    }
    assert not diff, f"{diff}\nstopped run:\n{log}\nrecovery:\n{recovery.stderr}{recovery.stdout}"
    assert_no_secret(lake, recovery.stdout, recovery.stderr)
