"""The whole job on generated archives, checked against the generator's manifest of truths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import generate, query, run_job


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    root = tmp_path_factory.mktemp("manifest")
    archive = root / "archive"
    manifest = generate(archive, 2500, 7, "--corrupt")
    database = root / "warehouse.duckdb"
    proc = run_job("--source", str(archive), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    return database, manifest, proc.stdout


def test_events_duplicates_and_rejections_match(loaded: tuple[Path, dict, str]) -> None:
    database, manifest, stdout = loaded
    assert query(database, "select count(*) from raw.callback_request_events") == [
        (manifest["callback_request_events"],)
    ]
    assert query(database, "select count(*) from raw.appointment_events") == [
        (manifest["appointment_events"],)
    ]
    reasons = dict(query(database, "select reason, count(*) from raw.rejected_events group by 1"))
    assert reasons == {k: v for k, v in manifest["rejected_by_reason"].items() if v}
    assert query(
        database,
        "select sum(records_read), sum(events_loaded), sum(duplicates), sum(rejected) from raw.file_audit",
    ) == [
        (
            manifest["deliveries_written"],
            manifest["distinct_events"],
            manifest["duplicate_deliveries"],
            manifest["rejected_total"],
        )
    ]
    assert f"{manifest['skipped_files']} skipped" in stdout


def test_marts_match_the_truth(loaded: tuple[Path, dict, str]) -> None:
    database, manifest, _ = loaded
    assert query(database, "select count(*) from marts.fct_callback_requests") == [
        (manifest["callback_requests"],)
    ]
    statuses = dict(
        query(database, "select status, count(*) from marts.fct_callback_requests group by 1")
    )
    assert statuses == manifest["final_status_counts"]
    assert query(database, "select count(*) from marts.fct_callback_requests where is_closed") == [
        (manifest["closed_requests"],)
    ]
    offices = dict(
        query(database, "select office_id, count(*) from marts.fct_callback_requests group by 1")
    )
    assert offices == manifest["requests_by_office"]
    meeting = dict(
        query(database, "select meeting_type, count(*) from marts.fct_callback_requests group by 1")
    )
    assert meeting == manifest["requests_by_meeting_type"]
    assert query(database, "select count(*) from marts.fct_callback_request_answers") == [
        (manifest["answers_in_final_state"],)
    ]
    assert query(database, "select sum(participants_count) from marts.fct_callback_requests") == [
        (manifest["participants_in_final_state"],)
    ]
    assert query(database, "select count(*) from marts.fct_appointments") == [
        (manifest["appointments"],)
    ]
    first, last = query(
        database, "select min(created_at), max(created_at) from marts.fct_callback_requests"
    )[0]
    assert first.strftime("%Y-%m-%dT%H:%M:%S") == manifest["first_created_at"][:19]
    assert last.strftime("%Y-%m-%dT%H:%M:%S") == manifest["last_created_at"][:19]


def test_second_run_and_full_refresh_give_identical_marts(
    loaded: tuple[Path, dict, str], tmp_path: Path
) -> None:
    database, manifest, _ = loaded
    snapshot_sql = (
        "select callback_request_id, status, updated_at, events_count, customer_key, closed_at"
        " from marts.fct_callback_requests order by 1"
    )
    before = query(database, snapshot_sql)
    archive = database.parent / "archive"
    again = run_job("--source", str(archive), "--database", str(database))
    assert again.returncode == 0 and "events      0 loaded" in again.stdout
    assert query(database, snapshot_sql) == before
    refreshed = run_job("--source", str(archive), "--database", str(database), "--full-refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"events      {manifest['distinct_events']:,} loaded" in refreshed.stdout
    assert query(database, snapshot_sql) == before
    # the whole archive re-delivered under new names: every event is a duplicate
    for path in sorted(p for p in archive.rglob("*") if p.is_file()):
        copy = archive / "redelivered" / f"again-{path.name}"
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, copy)
    replayed = run_job("--source", str(archive), "--database", str(database))
    assert replayed.returncode == 0, replayed.stderr
    valid = manifest["distinct_events"] + manifest["duplicate_deliveries"]
    assert f"events      0 loaded, {valid:,} duplicates" in replayed.stdout
    assert query(database, snapshot_sql) == before
