"""The warehouse is the source of truth: deleted, restored from an older copy or swapped for
another one, the next run notices, discards dlt's working folder, loads what the warehouse
lacks and ends equal to a clean run (real processes, whole mart contents compared)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import callback_event, generate, jsonl, run_job, write_files
from test_kill_resume import fingerprint, start_and_kill

from pipelines.load.warehouse_sync import WarehouseLoads, WorkingFolderLoads, mismatch

WARNING = "discarded dlt's working folder"


def run(archive: Path, database: Path) -> str:
    """Run the job; fail the test unless it exits 0; return its stderr and stdout."""
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stderr + proc.stdout


def delete_warehouse(database: Path) -> None:
    """What a user does to start over: the DuckDB file (and its WAL, if any) only."""
    database.unlink()
    database.with_name(database.name + ".wal").unlink(missing_ok=True)


def replace_warehouse(database: Path, copy: Path) -> None:
    """Put the DuckDB file `copy` where `database` is (a restore from a backup, a swap)."""
    delete_warehouse(database)
    shutil.copy2(copy, database)


@pytest.fixture(scope="module")
def full_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("restore") / "archive"
    generate(out, 600, 5, "--corrupt", "--gzip-share", "0")
    return out


@pytest.fixture(scope="module")
def reference(full_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A clean run of the full archive."""
    database = tmp_path_factory.mktemp("reference") / "w.duckdb"
    run(full_archive, database)
    return fingerprint(database)


def first_version(full_archive: Path, out: Path) -> tuple[Path, int]:
    """The archive as it was earlier: every third file missing, and the first half of the
    lines of every fifth line file (those grew since). Returns it and how many event files
    were added or changed since."""
    later = 0
    for number, path in enumerate(sorted(p for p in full_archive.rglob("*") if p.is_file())):
        target = out / path.relative_to(full_archive)
        event_file = path.name.removesuffix(".gz").endswith((".json", ".jsonl", ".ndjson"))
        if number % 3 == 0:
            later += event_file
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = path.read_bytes().splitlines(keepends=True)
        if number % 5 == 0 and path.suffix in (".jsonl", ".ndjson") and len(lines) > 1:
            target.write_bytes(b"".join(lines[: len(lines) // 2]))
            later += 1
        else:
            shutil.copy2(path, target)
    return out, later


@pytest.mark.slow
def test_deleted_warehouse_is_loaded_again(
    full_archive: Path, reference: dict[str, object], tmp_path: Path
) -> None:
    database = tmp_path / "w.duckdb"
    run(full_archive, database)
    delete_warehouse(database)
    output = run(full_archive, database)
    assert f"warehouse {database} is missing: {WARNING}" in output
    assert "resynced    warehouse is missing" in output
    assert fingerprint(database) == reference
    again = run(full_archive, database)
    assert WARNING not in again and "events      0 loaded" in again


@pytest.mark.slow
def test_older_copy_of_the_warehouse_gets_what_it_lacks(
    full_archive: Path, reference: dict[str, object], tmp_path: Path
) -> None:
    database, backup = tmp_path / "w.duckdb", tmp_path / "backup.duckdb"
    archive, later = first_version(full_archive, tmp_path / "archive")
    run(archive, database)
    shutil.copy2(database, backup)
    shutil.rmtree(archive)
    shutil.copytree(full_archive, archive)  # files added, and the changed ones grew
    run(archive, database)
    replace_warehouse(database, backup)
    output = run(archive, database)
    assert f"warehouse {database} is older than the working folder" in output, output
    assert "state taken from the warehouse" in output
    assert f"read {later} files" in output  # what the backup lacks, no more
    assert fingerprint(database) == reference


@pytest.mark.slow
def test_swapped_in_warehouse_is_kept_and_gets_the_source(tmp_path: Path) -> None:
    """Warehouse B (from archive B) is put where warehouse A was. B is the truth: it keeps
    what it holds and receives archive A's files, as if it had its own working folder: equal
    to a clean run of archive B followed by a run of archive A, never A's working folder's
    idea that everything is loaded."""
    archive_a = write_files(
        tmp_path / "a",
        {
            "a/1.jsonl": jsonl(callback_event("a1", "cr-a"), callback_event("a2", "cr-b")),
            "a/2.jsonl": jsonl(callback_event("a3", "cr-a", status="CLOSED")),
        },
    )
    archive_b = write_files(
        tmp_path / "b",
        {
            "b/1.jsonl": jsonl(callback_event("b1", "cr-c"), callback_event("a2", "cr-b")),
            "a/2.jsonl": jsonl(callback_event("b2", "cr-d")),  # same path, other content
        },
    )
    warehouse_a, warehouse_b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    run(archive_a, warehouse_a)
    run(archive_b, warehouse_b)
    expected = tmp_path / "expected.duckdb"
    run(archive_b, expected)
    run(archive_a, expected)

    replace_warehouse(warehouse_a, warehouse_b)
    output = run(archive_a, warehouse_a)
    assert f"warehouse {warehouse_a} is not the one the working folder loaded" in output
    assert "read 2 files" in output  # both of A's: B's state lists neither (a/2 differs)
    assert fingerprint(warehouse_a) == fingerprint(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "after"),
    [("normalizing", 0.0), ("loading into", 0.5)],  # an extracted, a partly loaded package
)
def test_deleted_warehouse_with_a_pending_load(
    full_archive: Path, reference: dict[str, object], tmp_path: Path, stage: str, after: float
) -> None:
    """A run killed after extract leaves a package for the warehouse that is then deleted:
    the package is discarded with the working folder and every file is read again."""
    database = tmp_path / "w.duckdb"
    archive, _ = first_version(full_archive, tmp_path / "archive")
    run(archive, database)
    shutil.rmtree(archive)
    shutil.copytree(full_archive, archive)
    log = start_and_kill(archive, database, stage, after)
    assert stage in log and "run summary" not in log, log
    delete_warehouse(database)
    output = run(archive, database)
    assert "is missing" in output and "pending load(s) included" in output, output
    assert "finishing a load left pending" not in output
    assert fingerprint(database) == reference


def test_the_rule() -> None:
    """In step: the working folder's newest completed load is in the warehouse, and the
    warehouse's newest load is one the working folder knows (completed or pending)."""
    local = WorkingFolderLoads(completed=["1", "2"], pending=["3"])
    assert mismatch(WorkingFolderLoads([], []), WarehouseLoads(exists=False)) is None
    assert mismatch(WorkingFolderLoads([], ["1"]), WarehouseLoads(exists=True)) is None
    assert mismatch(local, WarehouseLoads(True, "2", True)) is None  # pending load to finish
    assert mismatch(local, WarehouseLoads(True, "3", True)) is None  # committed, not yet noted
    assert mismatch(local, WarehouseLoads(exists=False)) == "is missing"
    assert mismatch(local, WarehouseLoads(exists=True)) == "holds no loads"
    assert mismatch(local, WarehouseLoads(True, "1", False)).startswith("is older")
    assert mismatch(local, WarehouseLoads(True, "0", False)).startswith("is not the one")
    assert mismatch(local, WarehouseLoads(True, "4", True)).startswith("has loads")
    assert mismatch(WorkingFolderLoads([], ["1"]), WarehouseLoads(True, "4", False)).startswith(
        "has loads"
    )
    # no working folder (deleted by hand, or a new machine): dlt takes the warehouse's state
    assert mismatch(WorkingFolderLoads([], []), WarehouseLoads(True, "4", False)) is None
