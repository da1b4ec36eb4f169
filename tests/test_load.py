"""The loader end to end: real dlt runs into real DuckDB files in temporary folders."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from conftest import (
    appointment_event,
    callback_event,
    jsonl,
    query,
    table_counts,
    write_files,
)

from pipelines import settings as s
from pipelines.load.housekeeping import prune_loaded_packages, prune_state_history
from pipelines.load.pipeline import load_archive, make_pipeline, pipelines_dir_for
from pipelines.marts.runner import build_models
from pipelines.marts.transform_settings import TransformSettings

BOM = b"\xef\xbb\xbf"


def ids(database: Path, table: str = "callback_request_events") -> list[str]:
    return sorted(r[0] for r in query(database, f"select event_id from raw.{table}"))


def test_every_input_shape_is_read(archive: Path, database: Path) -> None:
    e = [callback_event(f"e{i}", f"cr-{i}") for i in range(12)]
    write_files(
        archive,
        {
            "2024/08/17/a.jsonl": jsonl(e[0], e[1]),
            "2024/08/17/b.ndjson": b"\n" + jsonl(e[2]) + b"\n   \n",
            "2024/08/18/c.json": json.dumps(e[3], indent=2),
            "2024/08/18/d.json": json.dumps([e[4], e[5]]),
            "2024/08/19/e.jsonl.gz": jsonl(e[6]),
            "2024/08/19/f.json.gz": json.dumps([e[7]]),
            "2024/08/19/g.ndjson.gz": jsonl(e[8]),
            "2024/08/20/h.jsonl": BOM + jsonl(e[9]).replace(b"\n", b"\r\n"),
            "2024/08/20/i.json": BOM + json.dumps(e[10]).encode(),
            "2024/08/20/j.json": jsonl(e[11]),  # JSON lines saved under a .json name
            "2024/08/20/notes.txt": "not an archive",
            "2024/08/20/k.csv": "a,b\n1,2\n",
            "empty.json": "",
        },
    )
    result = load_archive(str(archive), database)
    assert ids(database) == sorted(f"e{i}" for i in range(12))
    st = result.stats
    assert (st.files_read, st.files_skipped, st.records_read) == (11, 2, 12)
    assert (st.events_loaded, st.duplicates, st.rejected_total) == (12, 0, 0)


def test_every_rejection_reason_is_quarantined(archive: Path, database: Path) -> None:
    good = callback_event("good")
    no_id = callback_event("x")
    del no_id["id"]
    empty_version = callback_event("empty-version", version="1")
    empty_version["version"] = ""
    numeric_id = callback_event("n")
    numeric_id["id"] = 17
    data_string = callback_event("data-string")
    data_string["data"] = "oops"
    request_list = callback_event("request-list")
    request_list["data"]["callbackRequest"] = ["not", "an", "object"]
    no_request = callback_event("no-request")
    del no_request["data"]["callbackRequest"]
    invoice = callback_event("invoice")
    invoice["entity"] = "Invoice"
    big = callback_event("big", internalNotes="x" * 5000)
    lines = [
        json.dumps(good).encode(),
        b'{"id": "broken", "correlationId": ',
        b'{"id": "bad-utf8 \xff\xfe", "entity": "Callback Request"}',
        b"[1, 2]",
        b'"just a string"',
        json.dumps(no_id).encode(),
        json.dumps(empty_version).encode(),
        json.dumps(numeric_id).encode(),
        json.dumps(data_string).encode(),
        json.dumps(request_list).encode(),
        json.dumps(no_request).encode(),
        json.dumps(invoice).encode(),
        json.dumps(big).encode(),
        json.dumps(callback_event("after-big")).encode(),
    ]
    write_files(archive, {"2024/08/17/mixed.jsonl": b"\n".join(lines) + b"\n"})
    truncated = jsonl(callback_event("in-truncated-gz"), callback_event("lost"))
    import gzip

    (archive / "2024/08/17/cut.jsonl.gz").write_bytes(gzip.compress(truncated, mtime=0)[:-30])
    write_files(archive, {"2024/08/17/broken-array.json": b'[{"id": 1}, {"id": '})

    result = load_archive(str(archive), database, max_record_bytes=9000)

    assert ids(database) == ["after-big", "good", "in-truncated-gz"]
    rejected = query(
        database,
        "select source_file, position, reason from raw.rejected_events order by source_file, position",
    )
    assert rejected == [
        ("2024/08/17/broken-array.json", 0, "wrong_type"),
        ("2024/08/17/broken-array.json", 1, "invalid_json"),
        ("2024/08/17/cut.jsonl.gz", 2, "unreadable_file"),
        ("2024/08/17/mixed.jsonl", 2, "invalid_json"),
        ("2024/08/17/mixed.jsonl", 3, "invalid_encoding"),
        ("2024/08/17/mixed.jsonl", 4, "not_an_object"),
        ("2024/08/17/mixed.jsonl", 5, "not_an_object"),
        ("2024/08/17/mixed.jsonl", 6, "missing_field"),
        ("2024/08/17/mixed.jsonl", 7, "empty_field"),
        ("2024/08/17/mixed.jsonl", 8, "wrong_type"),
        ("2024/08/17/mixed.jsonl", 9, "wrong_type"),
        ("2024/08/17/mixed.jsonl", 10, "wrong_type"),
        ("2024/08/17/mixed.jsonl", 11, "missing_field"),
        ("2024/08/17/mixed.jsonl", 12, "unknown_entity"),
        ("2024/08/17/mixed.jsonl", 13, "record_too_large"),
    ]
    # the raw text is kept so that the record can be fixed and replayed
    (raw_text,) = query(database, "select raw_text from raw.rejected_events where position = 12")[0]
    assert json.loads(raw_text)["entity"] == "Invoice"
    (raw_text,) = query(database, "select raw_text from raw.rejected_events where position = 3")[0]
    assert raw_text.startswith('{"id": "bad-utf8 \\xff\\xfe"')
    assert result.stats.rejected == {
        "invalid_json": 2,
        "invalid_encoding": 1,
        "not_an_object": 2,
        "missing_field": 2,
        "empty_field": 1,
        "wrong_type": 4,
        "unknown_entity": 1,
        "record_too_large": 1,
        "unreadable_file": 1,
    }
    # a truncated gzip file keeps what could be read before the break
    assert result.stats.events_loaded == 3


def test_load_twice_changes_nothing(archive: Path, database: Path) -> None:
    write_files(
        archive,
        {
            "a.jsonl": jsonl(callback_event("e1", "cr-1"), callback_event("e2", "cr-2")),
            "b.json": json.dumps(appointment_event("a1")),
            "c.jsonl": b"not json\n",
        },
    )
    load_archive(str(archive), database)
    first = table_counts(database)
    second_run = load_archive(str(archive), database)
    assert table_counts(database) == first
    assert second_run.stats.files_read == 0 and second_run.stats.files_unchanged == 3
    assert first["callback_request_events"] == 2
    assert first["appointment_events"] == 1
    assert first["rejected_events"] == 1
    assert first["callback_request_events__participants"] == 2


def test_same_event_in_two_files_is_stored_once(archive: Path, database: Path) -> None:
    event = callback_event("dup", "cr-1")
    write_files(
        archive, {"2024/08/17/a.jsonl": jsonl(event, event), "2024/08/18/b.jsonl": jsonl(event)}
    )
    result = load_archive(str(archive), database)
    assert ids(database) == ["dup"]
    assert (result.stats.events_loaded, result.stats.duplicates) == (1, 2)
    assert query(database, "select count(*) from raw.callback_request_events__participants") == [
        (1,)
    ]
    # delivered again in a later run, in a new file: still one row
    write_files(archive, {"2024/08/19/c.jsonl": jsonl(event)})
    again = load_archive(str(archive), database)
    assert (again.stats.events_loaded, again.stats.duplicates) == (0, 1)
    assert ids(database) == ["dup"]


def test_duplicates_across_many_files_are_stored_once(archive: Path, database: Path) -> None:
    # dlt lists files in pages of 100: a re-delivery can sit in another page
    event = callback_event("dup", "cr-1")
    write_files(
        archive, {f"f{i:03}.jsonl": jsonl(callback_event(f"e{i}", f"cr-{i}")) for i in range(150)}
    )
    write_files(archive, {"a000.jsonl": jsonl(event), "z999.jsonl": jsonl(event)})
    result = load_archive(str(archive), database)
    assert (result.stats.events_loaded, result.stats.duplicates) == (151, 1)
    assert query(
        database, "select count(*), count(distinct event_id) from raw.callback_request_events"
    ) == [(151, 151)]


def test_changed_file_is_read_again_and_only_new_events_load(archive: Path, database: Path) -> None:
    path = archive / "a.jsonl"
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    load_archive(str(archive), database)
    path.write_bytes(jsonl(callback_event("e1"), callback_event("e2", "cr-2")))
    future = time.time() + 5
    os.utime(path, (future, future))
    result = load_archive(str(archive), database)
    assert (result.stats.files_read, result.stats.events_loaded, result.stats.duplicates) == (
        1,
        1,
        1,
    )
    assert ids(database) == ["e1", "e2"]


def test_full_refresh_rebuilds_the_same_raw_tables(archive: Path, database: Path) -> None:
    write_files(
        archive,
        {
            "a.jsonl": jsonl(callback_event("e1"), callback_event("e2", "cr-2"), [1]),
            "b.json": json.dumps([appointment_event("a1"), callback_event("e1")]),
        },
    )
    load_archive(str(archive), database)
    before = table_counts(database)
    assert before["translation_sets"] > 0 and before["translation_sets__name"] > 0
    result = load_archive(str(archive), database, full_refresh=True)
    after = table_counts(database)
    assert {k: v for k, v in after.items() if k != "file_audit"} == {
        k: v for k, v in before.items() if k != "file_audit"
    }
    assert (result.stats.files_read, result.stats.events_loaded, result.stats.duplicates) == (
        2,
        3,
        1,
    )
    assert after["file_audit"] == 2  # the audit restarts with the reloaded files


def test_child_tables_and_table_shape(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"), appointment_event("a1"))})
    load_archive(str(archive), database)
    counts = table_counts(database)
    for child in (
        "callback_request_events__participants",
        "callback_request_events__answers",
        "callback_request_events__answers__selected_answer_options",
        "callback_request_events__answers__files",
        "callback_request_events__listing__tags",
        "callback_request_events__participants__employee__available_roles",
    ):
        assert counts[child] == 1, child
    assert not any("__data__" in name for name in counts)
    # translations live once per distinct object in translation_sets, not under the event
    assert not any("__translations" in name for name in counts)
    assert counts["translation_sets__name"] >= 1 and counts["translation_sets__city"] >= 1
    columns = dict(
        query(
            database,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'callback_request_events'",
        )
    )
    for name in (
        "event_id",
        "correlation_id",
        "entity",
        "version",
        "webhook_configuration_id",
        "event_type",
        "callback_request_id",
        "status",
        "external_id",
        "meeting_type",
        "office__id",
        "subject__subject_group__id",
    ):
        assert name in columns, name
    assert columns["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert columns["subject__updated_at"] == "TIMESTAMP WITH TIME ZONE"
    row = query(
        database,
        "select appointment_id, event_type, message, callback_request__id from raw.appointment_events",
    )
    assert row == [("ap-1", "ACCEPT", "accepted", "cr-1")]


def test_unknown_fields_and_values_are_data(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    load_archive(str(archive), database)
    novel = callback_event("e2", status="SOMETHING_NEW", event_type="Callback-request.snoozed")
    novel["data"]["callbackRequest"]["priorityScore"] = 7
    novel["deliveryAttempt"] = 2
    write_files(archive, {"b.jsonl": jsonl(novel)})
    result = load_archive(str(archive), database)
    assert result.new_columns["callback_request_events"] == ["delivery_attempt", "priority_score"]
    assert query(
        database,
        "select status, event_type, priority_score from raw.callback_request_events where event_id = 'e2'",
    ) == [("SOMETHING_NEW", "Callback-request.snoozed", 7)]


def _translations(node: object) -> list[dict]:
    """Every `translations` object anywhere in `node`."""
    if isinstance(node, list):
        return [found for item in node for found in _translations(item)]
    if not isinstance(node, dict):
        return []
    own = [node["translations"]] if isinstance(node.get("translations"), dict) else []
    return own + [
        found for k, v in node.items() if k != "translations" for found in _translations(v)
    ]


def _with_office_name(event: dict, *names: tuple[str, str]) -> dict:
    office = event["data"]["callbackRequest"]["office"]
    office["translations"]["name"] = [{"language": lang, "value": value} for lang, value in names]
    return event


def test_each_distinct_translations_object_is_stored_once(archive: Path, database: Path) -> None:
    same = [callback_event(f"e{i}", f"cr-{i}") for i in range(20)]
    renamed = _with_office_name(callback_event("x1", "cr-x"), ("nl", "Gent"), ("fr", "Gand"))
    write_files(archive, {"a.jsonl": jsonl(*same, renamed)})
    load_archive(str(archive), database)
    counts = table_counts(database)
    # 20 events with the example's translations, and one whose office name differs: the
    # example's distinct sets once, plus one set for the other office
    distinct = {json.dumps(found, sort_keys=True) for found in _translations(same[0])}
    assert len(distinct) >= 5  # offices, subjects, groups, employees, addresses, ...
    assert counts["translation_sets"] == len(distinct) + 1
    assert query(database, "select count(distinct translations_key) from raw.translation_sets") == [
        (len(distinct) + 1,)
    ]
    offices = query(
        database,
        "select count(*), count(distinct office__translations_key)"
        " from raw.callback_request_events",
    )
    assert offices == [(21, 2)]
    keys = dict(
        query(
            database, "select event_id, office__translations_key from raw.callback_request_events"
        )
    )
    assert len({keys[f"e{i}"] for i in range(20)}) == 1 and keys["x1"] != keys["e0"]
    # one event's office name translations, rebuilt from raw by joining on the key
    name_sql = (
        "select n.language, n.value from raw.callback_request_events e"
        " join raw.translation_sets t on t.translations_key = e.office__translations_key"
        " join raw.translation_sets__name n on n._dlt_parent_id = t._dlt_id"
        " where e.event_id = '{}' order by n._dlt_list_idx"
    )
    assert query(database, name_sql.format("x1")) == [("nl", "Gent"), ("fr", "Gand")]
    assert query(database, name_sql.format("e7")) == [("string", "string")]
    # participants and answers hold the keys of their own translated objects
    assert query(
        database,
        "select count(employee__translations_key), count(customer__location__translations_key)"
        " from raw.callback_request_events__participants",
    ) == [(21, 21)]
    assert query(
        database,
        "select count(distinct question__translations_key) from raw.callback_request_events__answers",
    ) == [(1,)]

    # a later run that meets the same sets again stores them again, in place: nothing doubles
    before = table_counts(database)
    write_files(archive, {"b.jsonl": jsonl(callback_event("e99", "cr-99"))})
    load_archive(str(archive), database)
    after = table_counts(database)
    assert after["callback_request_events"] == before["callback_request_events"] + 1
    for table, rows in before.items():
        if table.startswith("translation_sets"):
            assert after[table] == rows, table
    assert query(database, name_sql.format("e99")) == [("string", "string")]


def test_translations_in_other_shapes_still_load_and_build(archive: Path, database: Path) -> None:
    odd = callback_event("e1")
    request = odd["data"]["callbackRequest"]
    request["office"]["translations"] = [{"language": "en", "value": "Office"}]
    request["subject"]["translations"] = "Subject"
    request["subject"]["subjectGroup"]["translations"] = None
    request["listing"]["translations"] = {}
    request["answers"][0]["question"]["translations"] = {"label": "not a list"}
    write_files(archive, {"a.jsonl": jsonl(odd, callback_event("e2", "cr-2"))})
    load_archive(str(archive), database)
    result = build_models(database, TransformSettings())
    assert result.row_counts["marts.fct_callback_requests"] == 2
    # what is not an object stays with its owner, as dlt stores it
    assert query(
        database,
        "select subject__translations, office__translations_key from raw.callback_request_events"
        " where event_id = 'e1'",
    ) == [("Subject", None)]
    assert query(
        database, "select value from raw.callback_request_events__office__translations"
    ) == [("Office",)]
    # an object in an unexpected shape is still a set, with its fields as dlt types them
    assert query(
        database, "select count(*) from raw.translation_sets where label = 'not a list'"
    ) == [(1,)]


def test_audit_reconciles_per_file(archive: Path, database: Path) -> None:
    event = callback_event("e1")
    write_files(archive, {"a.jsonl": jsonl(event, event, callback_event("e2")) + b"{bad\n"})
    write_files(archive, {"b.json": json.dumps([event, appointment_event("a1")])})
    load_archive(str(archive), database)
    assert query(
        database,
        "select file, records_read, events_loaded, duplicates, rejected from raw.file_audit order by file",
    ) == [("a.jsonl", 4, 2, 1, 1), ("b.json", 2, 1, 1, 0)]
    assert query(
        database,
        "select count(*) from raw.file_audit "
        "where records_read <> events_loaded + duplicates + rejected",
    ) == [(0,)]
    loaded = query(database, "select sum(events_loaded) from raw.file_audit")[0][0]
    stored = query(
        database,
        "select (select count(*) from raw.callback_request_events)"
        " + (select count(*) from raw.appointment_events)",
    )[0][0]
    assert loaded == stored == 3


def test_working_folder_merge_scratch_and_state_do_not_grow(archive: Path, database: Path) -> None:
    """dlt's scratch copies are emptied: merge staging tables after each load, loaded packages'
    data files at once; old loaded packages' folders and stored states are pruned."""
    for i in range(3):
        write_files(archive, {f"{i}.jsonl": jsonl(callback_event(f"e{i}", f"cr-{i}"))})
        load_archive(str(archive), database)
    loaded = pipelines_dir_for(database) / s.PIPELINE_NAME / "load" / "loaded"
    packages = sorted(loaded.iterdir())
    assert len(packages) == 3
    assert [p for p in loaded.rglob("*") if p.suffix in (".parquet", ".jsonl", ".sql")] == []
    assert query(database, "select count(*) from raw.callback_request_events") == [(3,)]
    scratch = query(
        database,
        "select table_name from information_schema.tables"
        " where table_schema = '_dlt_raw_staging' and table_name not like '\\_dlt%' escape '\\'",
    )
    assert len(scratch) > 5  # the event table and its child tables
    assert table_counts(database, "_dlt_raw_staging") == {name: 0 for (name,) in scratch}
    schemas = {r[0] for r in query(database, "select schema_name from duckdb_schemas()")}
    assert "raw_staging" not in schemas

    pipeline = make_pipeline(database)
    assert prune_loaded_packages(pipeline, keep=1) == 2
    assert sorted(loaded.iterdir()) == packages[-1:]
    assert query(database, "select count(*) from raw._dlt_pipeline_state") == [(3,)]
    assert prune_state_history(pipeline, keep=1) == 2
    # the state kept is the newest: a fresh working folder restores it and reads nothing again
    shutil.rmtree(pipelines_dir_for(database))
    again = load_archive(str(archive), database)
    assert again.stats.files_unchanged == 3 and again.stats.files_read == 0
    assert query(database, "select count(*) from raw.callback_request_events") == [(3,)]


def test_the_loaders_duckdb_connections_are_memory_limited(database: Path) -> None:
    """DuckDB's default (80% of RAM, pages kept cached) would let the job grow with the warehouse."""
    with make_pipeline(database, "300MB").sql_client() as client:
        limit = client.execute_sql("select current_setting('memory_limit')")[0][0]
    assert limit in ("286.1 MiB", "300.0 MB"), limit
