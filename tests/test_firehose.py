"""AWS Data Firehose archives end to end, and the quarantine and audit tables from the first run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import callback_event, generate, jsonl, query, write_files

from pipelines.cli.summary import format_summary
from pipelines.load.pipeline import LoadResult, load_archive

NAME = "2024/08/17/10/engage-webhooks-1-2024-08-17-10-00-00-0b6ea1b7-0b4e-4d1c-9e8f-1c2d3e4f5a6b"


def rejected_positions(database: Path) -> list[tuple]:
    return sorted(
        query(
            database, "select source_file, position_kind, position, reason from raw.rejected_events"
        )
    )


def manifest_positions(manifest: dict) -> list[tuple]:
    return sorted(
        (r["file"], "index" if "index" in r else "document", r.get("index", 0), r["reason"])
        for r in manifest["rejected_records"]
    )


def test_generated_firehose_archive_loads_as_the_manifest_says(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    manifest = generate(archive, 900, 5, "--corrupt", "--layout", "firehose", "--gzip-share", "0.3")
    names = [p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file()]
    objects = [n for n in names if not n.endswith(".csv")]
    assert all("." not in n.removesuffix(".gz").rsplit("/", 1)[1] for n in objects)
    assert any(n.endswith(".gz") for n in objects) and any(not n.endswith(".gz") for n in objects)
    assert manifest["files_by_shape"].get("truncated_tail", 0) >= 1

    database = tmp_path / "w.duckdb"
    result = load_archive(str(archive), database)

    st = result.stats
    assert st.files_read == manifest["files_total"]
    assert st.files_by_recognition == {"content": manifest["files_total"]}
    assert st.files_skipped == manifest["skipped_files"] == 1
    assert st.records_read == manifest["deliveries_written"]
    assert (st.events_loaded, st.duplicates) == (
        manifest["distinct_events"],
        manifest["duplicate_deliveries"],
    )
    assert query(database, "select count(*) from raw.callback_request_events") == [
        (manifest["callback_request_events"],)
    ]
    assert query(database, "select count(*) from raw.appointment_events") == [
        (manifest["appointment_events"],)
    ]
    assert rejected_positions(database) == manifest_positions(manifest)
    formats = dict(query(database, "select format, count(*) from raw.file_audit group by 1"))
    assert set(formats) <= {"json-concatenated", "json-concatenated.gz", "json", "json.gz"}
    assert sum(formats.values()) == manifest["files_total"]
    summary = format_summary("src", "db", result, None, {})
    assert f"format known by name 0 (.json/.jsonl/.ndjson[.gz]), by content {st.files_read}" in (
        summary
    )


def test_firehose_objects_and_named_files_side_by_side(archive: Path, database: Path) -> None:
    e = [callback_event(f"e{i}", f"cr-{i}") for i in range(6)]
    cut = json.dumps(e[5]).encode()[:-40]
    write_files(
        archive,
        {
            NAME: b"".join(json.dumps(x).encode() for x in e[:3]) + cut,
            NAME.replace("10-00-00", "10-05-00") + ".gz": json.dumps(e[3]) + json.dumps(e[4]),
            "2024/08/17/named.jsonl": jsonl(e[0]),
            "2024/08/17/.hidden": json.dumps(e[0]),
            "2024/08/17/readme": "Firehose objects are in the hour folders",
        },
    )
    result = load_archive(str(archive), database)
    st = result.stats
    assert (st.files_read, st.files_skipped) == (3, 1)
    assert st.files_by_recognition == {"name": 1, "content": 2}
    assert (st.events_loaded, st.duplicates, st.rejected_total) == (5, 1, 1)
    assert rejected_positions(database) == [(NAME, "index", 3, "invalid_json")]
    assert query(database, "select file, format, recognised_by from raw.file_audit order by 1") == [
        (NAME, "json-concatenated", "content"),
        (NAME.replace("10-00-00", "10-05-00") + ".gz", "json-concatenated.gz", "content"),
        ("2024/08/17/named.jsonl", "jsonl", "name"),
    ]
    again = load_archive(str(archive), database)  # skipped files are looked at again, not read
    assert (again.stats.files_read, again.stats.files_unchanged) == (0, 3)
    assert again.stats.files_skipped == 1
    assert again.load_ids == []


# -- raw.rejected_events and raw.file_audit exist from the first run ---------------------------
README_QUERIES = (
    "select * from raw.rejected_events",
    "select count(*) as broken_files from raw.file_audit"
    " where records_read <> events_loaded + duplicates + rejected",
)


def assert_empty_tables_answer(database: Path, rejected: int, audited: int) -> None:
    assert query(database, "select count(*) from raw.rejected_events") == [(rejected,)]
    assert query(database, "select count(*) from raw.file_audit") == [(audited,)]
    for sql in README_QUERIES:
        query(database, sql)
    columns = dict(
        query(
            database,
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'rejected_events'",
        )
    )
    assert columns["position"] == "BIGINT"
    assert columns["raw_truncated"] == "BOOLEAN"
    assert columns["rejected_at"] == "TIMESTAMP WITH TIME ZONE"


def test_tables_exist_after_a_first_run_with_nothing_rejected(
    archive: Path, database: Path
) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    result: LoadResult = load_archive(str(archive), database)
    assert result.stats.rejected_total == 0
    assert_empty_tables_answer(database, rejected=0, audited=1)


def test_tables_exist_after_a_first_run_on_an_empty_archive(archive: Path, database: Path) -> None:
    load_archive(str(archive), database)
    assert_empty_tables_answer(database, rejected=0, audited=0)
    write_files(archive, {"a.jsonl": b"not json\n" + jsonl(callback_event("e1"))})
    load_archive(str(archive), database)  # the hinted tables take the first rows as usual
    assert_empty_tables_answer(database, rejected=1, audited=1)


def test_a_full_refresh_recreates_them(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    load_archive(str(archive), database)
    load_archive(str(archive), database, full_refresh=True)
    assert_empty_tables_answer(database, rejected=0, audited=1)


@pytest.mark.parametrize("limit", [1000])
def test_the_limit_holds_per_record_in_a_loaded_array(
    archive: Path, database: Path, limit: int
) -> None:
    big = callback_event("big", internalNotes="x" * 5000)
    small = [callback_event(f"s{i}", f"cr-{i}") for i in range(2)]
    for event in small:  # trimmed to fit the limit: the example event is larger
        event["data"]["callbackRequest"] = {"id": event["data"]["callbackRequest"]["id"]}
    write_files(archive, {"a.json": json.dumps([small[0], big, small[1]])})
    load_archive(str(archive), database, max_record_bytes=limit)
    assert rejected_positions(database) == [("a.json", "index", 1, "record_too_large")]
    assert query(database, "select event_id from raw.callback_request_events order by 1") == [
        ("s0",),
        ("s1",),
    ]


def test_firehose_layout_is_deterministic(tmp_path: Path) -> None:
    args = ("--corrupt", "--layout", "firehose", "--gzip-share", "0.5")
    first = generate(tmp_path / "a", 300, 11, *args)
    second = generate(tmp_path / "b", 300, 11, *args)
    assert first == second
    files = [sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
             for root in (tmp_path / "a", tmp_path / "b")]  # fmt: skip
    assert files[0] == files[1]
    assert all(
        (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in files[0]
    )
    assert first["layout"] == "firehose"
    assert "json_array" not in first["corrupt_records_by_kind"]
