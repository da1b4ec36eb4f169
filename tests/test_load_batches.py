"""A large load split into several dlt loads (`warehouse.max_events_per_load`): the same raw
tables and marts as one load, deduplication across batches, and a run that stops between
batches keeps what it loaded and reads only the rest next time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    DLT_IDS,
    appointment_event,
    callback_event,
    jsonl,
    lake_query,
    marts_contents,
    query,
    run_job,
    schema_contents,
    table_counts,
    write_files,
)
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.load.known_events import DIGESTS_AFTER_LOOKUPS, WarehouseEventIndex
from pipelines.load.pipeline import load_archive
from pipelines.load.run_stats import RunStats

# the audit's read time and the quarantine's rejection time differ between any two loads
RUN_TIMES = ("read_at", "rejected_at")


def _archive(root: Path) -> Path:
    """12 files of 3 events, with re-deliveries in later files, an invalid line, an
    appointment, and an office name shared by events of every batch."""
    files: dict[str, bytes | str] = {}
    for day in range(12):
        events = [
            callback_event(
                f"e{day}-{n}", f"cr-{day % 5}", updated_at=f"2024-08-{day + 1:02}T1{n}:00:00Z"
            )
            for n in range(3)
        ]
        if day >= 4:
            events.append(callback_event(f"e{day - 4}-0", f"cr-{(day - 4) % 5}"))  # re-delivered
        files[f"2024/08/{day + 1:02}/hooks.jsonl"] = jsonl(*events)
    files["2024/08/05/appointments.json"] = json.dumps(appointment_event("a1", "ap-1", "cr-1"))
    files["2024/08/07/broken.jsonl"] = b"{not json\n"
    return write_files(root, files)


def _raw(database: Path) -> dict[str, list[tuple]]:
    return schema_contents(database, "raw", exclude=(*DLT_IDS, *RUN_TIMES))


def test_batched_load_equals_one_load(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    one, batched = tmp_path / "one.duckdb", tmp_path / "batched.duckdb"
    whole = load_archive(str(archive), one, max_events_per_load=None)
    split = load_archive(str(archive), batched, max_events_per_load=8)

    assert len(whole.load_ids) == 1
    # 38 rows (37 events, 1 rejection; duplicates cost nothing): a load stops after the file
    # that reaches 8 rows, and files hold 3 or 4 rows, so a load takes 9 or 10 of them
    assert len(split.load_ids) == 4
    for stats in (whole.stats, split.stats):
        assert (stats.files_listed, stats.files_read, stats.events_loaded) == (14, 14, 37)
        assert (stats.duplicates, stats.rejected_total) == (8, 1)
    assert split.stats.loaded_by_table == whole.stats.loaded_by_table
    assert split.audit is not None and not split.audit.problems
    assert _raw(batched) == _raw(one)
    assert table_counts(batched)["callback_request_events"] == 36

    # every later run reads nothing: each batch recorded its files
    again = load_archive(str(archive), batched, max_events_per_load=8)
    assert (again.stats.files_read, again.stats.files_unchanged, again.load_ids) == (0, 14, [])


def _job(archive: Path, warehouse: Path | str, max_events_per_load: str) -> str:
    """Run the job; return its summary."""
    done = run_job(
        "--source", str(archive), "--database", str(warehouse),
        env={"WAREHOUSE__MAX_EVENTS_PER_LOAD": max_events_per_load},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_batched_job_builds_the_same_marts(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    one, batched = tmp_path / "one.duckdb", tmp_path / "batched.duckdb"
    for database, cap in ((one, "0"), (batched, "5")):
        _job(archive, database, cap)
    loads = "select count(*) from raw._dlt_loads"
    assert query(one, loads) == [(1,)]
    assert query(batched, loads) == [(6,)]  # 38 rows, 5 or more per load, whole files
    assert marts_contents(batched) == marts_contents(one)


def test_full_refresh_in_batches_replaces_raw(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    database = tmp_path / "w.duckdb"
    load_archive(str(archive), database, max_events_per_load=8)
    (archive / "2024/08/12/hooks.jsonl").unlink()  # gone from the archive: gone from raw
    refreshed = load_archive(str(archive), database, full_refresh=True, max_events_per_load=8)
    assert len(refreshed.load_ids) > 1
    reference = tmp_path / "reference.duckdb"
    load_archive(str(archive), reference, max_events_per_load=None)
    assert _raw(database) == _raw(reference)
    assert query(
        database, "select count(*) from raw.callback_request_events where event_id like 'e11-%'"
    ) == [(0,)]


class _VanishAfter:
    """The run's progress callback: after `files` files, one file not yet read disappears (an
    archive pruned while a run reads it)."""

    def __init__(self, files: int, victim: Path) -> None:
        self.files, self.victim, self.content = files, victim, victim.read_bytes()

    def update(self, stats: RunStats) -> None:
        if stats.files_read == self.files and self.victim.exists():
            self.victim.unlink()

    def finish(self) -> None:
        pass


def test_a_run_that_fails_between_batches_keeps_them_and_resumes(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    database = tmp_path / "w.duckdb"
    victim = archive / "2024/08/11/hooks.jsonl"
    vanish = _VanishAfter(6, victim)
    with pytest.raises(PipelineStepFailed, match="cannot read"):  # the job says it in one line
        load_archive(str(archive), database, max_events_per_load=8, progress=vanish)
    # the batches before the failure are loaded and recorded
    kept = query(database, "select count(*) from raw.file_audit")[0][0]
    assert 6 <= kept < 14
    victim.write_bytes(vanish.content)
    rest = load_archive(str(archive), database, max_events_per_load=8)
    assert rest.stats.files_read == 14 - kept
    assert rest.audit is not None and not rest.audit.problems
    reference = tmp_path / "reference.duckdb"
    load_archive(str(archive), reference, max_events_per_load=None)
    assert _raw(database) == _raw(reference)


@pytest.mark.slow
def test_batched_load_into_a_lake_equals_one_load_into_a_file(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    database, lake = tmp_path / "one.duckdb", f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    for warehouse, cap in ((database, "0"), (lake, "8")):
        assert "audit       all 14 file reads reconcile" in _job(archive, warehouse, cap)
    assert lake_query(lake, "select count(*) from raw._dlt_loads") == [(4,)]
    assert schema_contents(lake, "raw", (*DLT_IDS, *RUN_TIMES)) == _raw(database)
    assert marts_contents(lake) == marts_contents(database)


def test_the_event_index_finds_exactly_the_stored_ids(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    database = tmp_path / "w.duckdb"
    load_archive(str(archive), database, max_events_per_load=None)
    stored = [row[0] for row in query(database, "select event_id from raw.callback_request_events")]
    stored += ["a1"]  # the appointment
    new = [f"new-{n}" for n in range(5_000)]
    index = WarehouseEventIndex(database)
    try:
        for lookup in range(DIGESTS_AFTER_LOOKUPS + 2):  # by queries, then by digests first
            assert index(new + stored + ["e0-0"]) == set(stored), lookup
        # new ids are told apart by their digests alone: none of them is looked up
        assert index._candidates(new) == []
        assert set(index._candidates(stored)) == set(stored)
    finally:
        index.close()
    assert WarehouseEventIndex(tmp_path / "none.duckdb")(["e0-0"]) == set()
