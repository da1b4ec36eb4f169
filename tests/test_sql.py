"""`python -m pipelines.sql` (`make sql`) and the readers' warehouse setting, as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, query

from pipelines.cli import sql as sql_cli
from pipelines.common.errors import ExpectedFailure
from pipelines.warehouse.location import Warehouse
from pipelines.warehouse.reader import configured_warehouse

COUNT = "select count(*) as n from marts.fct_callback_requests"


def sql(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO, **kwargs):
    """`python -m pipelines.sql ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.sql", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.mark.parametrize("kind", ["file", "lake"])
def test_the_cli_queries_the_configured_warehouse_read_only(
    kind: str, warehouse: Path, lake: str
) -> None:
    setting = str(warehouse) if kind == "file" else lake
    (expected,) = query(warehouse, COUNT)[0]
    # the setting as the job takes it (WAREHOUSE__DATABASE), CLI flags passed through; the
    # session starts in UTC, like the marts
    proc = sql(
        "-csv",
        "-noheader",
        "-c",
        f"select current_setting('TimeZone'), ({COUNT})",
        env={"WAREHOUSE__DATABASE": setting},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"UTC,{expected}"]

    # read-only: a write fails and creates nothing (statements on stdin, as `make sql < f.sql`)
    proc = sql(
        "--database",
        setting,
        "-csv",
        "-noheader",
        input="create table marts.x as select 1;\n"
        "select count(*) from duckdb_tables() where table_name = 'x';\n",
    )
    assert "read-only" in proc.stderr, proc.stderr
    assert proc.stdout.splitlines() == ["0"], proc.stderr


def test_a_missing_file_warehouse_is_one_line_exit_3(tmp_path: Path) -> None:
    proc = sql("-c", "select 1", env={"WAREHOUSE__DATABASE": str(tmp_path / "none.duckdb")})
    assert proc.returncode == 3
    assert (
        proc.stderr == f"error: no warehouse at {tmp_path / 'none.duckdb'}: run `make run` first\n"
    )
    assert not (tmp_path / "none.duckdb").exists()


def test_a_cli_of_another_version_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "duckdb"
    fake.write_text("#!/bin/sh\necho 'v1.4.0 (Andium) abcdef'\n")
    fake.chmod(0o755)
    with pytest.raises(ExpectedFailure, match=r"is version 1\.4\.0, the library 1\.5\.5"):
        sql_cli.check_cli(fake)
    sql_cli.check_cli(sql_cli.cli_path())  # the venv's own CLI agrees with the library


def test_lake_secrets_stay_off_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statements that reach a lake (a catalog password here) go through a 0600 file in a
    private folder, removed when the CLI exits; the command line only names that file."""
    password = "s3cr3t-not-in-ps"
    lake = Warehouse(
        "ducklake:postgres:dbname=lake host=db.example user=reader",
        data_path=str(tmp_path / "files"),
        catalog_password=password,
    )
    seen: dict = {}
    real_popen = subprocess.Popen

    def spy(command: list[str]):
        init = Path(command[command.index("-init") + 1])
        seen.update(
            command=command,
            init=init,
            mode=init.stat().st_mode & 0o777,
            folder_mode=init.parent.stat().st_mode & 0o777,
            text=init.read_text(),
        )
        return real_popen(["true"])

    monkeypatch.setattr(sql_cli.subprocess, "Popen", spy)
    assert sql_cli.run_cli(sql_cli.cli_path(), lake, ["-c", "select 1"]) == 0
    assert password in seen["text"] and "read_only" in seen["text"]
    assert not any(password in word for word in seen["command"])
    assert seen["mode"] == 0o600 and seen["folder_mode"] == 0o700
    assert not seen["init"].parent.exists()


def test_the_readers_resolve_the_setting_from_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    (root / ".dlt").mkdir(parents=True)
    (root / ".dlt" / "config.toml").write_text('[warehouse]\ndatabase = "shared/w.duckdb"\n')
    monkeypatch.chdir(tmp_path)  # elsewhere, like the notebook in notebooks/
    monkeypatch.delenv("WAREHOUSE__DATABASE", raising=False)
    assert configured_warehouse(root=root).path == root / "shared" / "w.duckdb"
    monkeypatch.setenv("WAREHOUSE__DATABASE", "ducklake:sqlite:lake/catalog.sqlite")
    monkeypatch.setenv("WAREHOUSE__DATA_PATH", "lake/files")
    lake = configured_warehouse(root=root)
    assert lake.path == root / "lake" / "catalog.sqlite"
    assert lake.data_path == str(root / "lake" / "files")
    # an explicit value wins, relative to the root as well
    monkeypatch.delenv("WAREHOUSE__DATA_PATH")
    assert configured_warehouse("other.duckdb", root=root).path == root / "other.duckdb"


def test_make_sql_from_a_fresh_shell(warehouse: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "-s", "sql", f"PY={sys.executable}", "STAMP="],
        cwd=REPO,
        env={**os.environ, "WAREHOUSE__DATABASE": str(warehouse)},
        input=COUNT + ";\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (expected,) = query(warehouse, COUNT)[0]
    assert str(expected) in proc.stdout
    assert time.monotonic() - started < 30
    with duckdb.connect(str(warehouse)) as con:  # nothing holds the file afterwards
        con.execute("select 1")
