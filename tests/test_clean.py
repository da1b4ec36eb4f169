"""`make clean` / `python -m pipelines.clean`: the warehouse and everything the job keeps beside
it go, found from the job's own database setting; nothing else goes, and never under a run."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, callback_event, jsonl, run_job, write_files

BESIDE = (".wal", ".tmp", ".dlt-pipelines", ".lock")


def clean_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m pipelines.clean` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.clean", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def leftovers(database: Path) -> list[str]:
    """Names of `database` and its companions that exist."""
    names = [database.name, *(database.name + suffix for suffix in BESIDE)]
    return [name for name in names if (database.parent / name).exists()]


def fake_companions(database: Path) -> None:
    """What a killed run can leave: DuckDB's WAL and spill folder."""
    database.with_name(database.name + ".wal").write_bytes(b"wal")
    (database.with_name(database.name + ".tmp") / "spill").mkdir(parents=True)


def test_clean_removes_what_a_run_left_and_nothing_else(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    assert run_job("--source", str(archive), "--database", str(database)).returncode == 0
    fake_companions(database)
    neighbour = database.with_name("other.duckdb")
    neighbour.write_bytes(b"keep")
    assert set(leftovers(database)) == {database.name, *(database.name + s for s in BESIDE)}

    proc = clean_command("--database", str(database))
    assert proc.returncode == 0, proc.stderr
    assert f"removed {database}\n" in proc.stdout
    assert leftovers(database) == []
    assert neighbour.exists() and archive.exists()
    assert clean_command("--database", str(database)).stdout.startswith("nothing to remove")


def test_clean_follows_the_environment_setting(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "w.duckdb"
    database.parent.mkdir()
    database.write_bytes(b"")
    fake_companions(database)
    env = {"WAREHOUSE__DATABASE": str(database)}
    listed = clean_command("--dry-run", env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"would remove {database}.dlt-pipelines" not in listed.stdout  # none was made
    assert f"would remove {database}.wal" in listed.stdout
    assert leftovers(database) == ["w.duckdb", "w.duckdb.wal", "w.duckdb.tmp"]
    assert clean_command(env=env).returncode == 0
    assert leftovers(database) == []


def test_clean_refuses_while_a_run_holds_the_warehouse(database: Path) -> None:
    database.write_bytes(b"")
    with open(database.with_name(database.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = clean_command("--database", str(database))
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: another pipeline run")
    assert database.exists()


def test_make_clean_uses_the_job_setting(tmp_path: Path) -> None:
    """`make clean` with a stand-in venv (removed too) and the warehouse set by environment."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    database = tmp_path / "data" / "w.duckdb"
    database.parent.mkdir()
    database.write_bytes(b"")
    fake_companions(database)
    proc = subprocess.run(
        ["make", "--no-print-directory", "clean", f"VENV={venv}"],
        cwd=REPO,
        env={**os.environ, "WAREHOUSE__DATABASE": str(database)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert leftovers(database) == [] and not venv.exists()
