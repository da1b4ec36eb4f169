"""Schema drift: later deliveries change types, drop objects, add arrays and fields; nothing
is lost in raw, and staging and marts keep building with the values folded back in."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import callback_event, jsonl, lake_query, write_files
from test_transforms import SETTINGS

from pipelines.load.pipeline import load_archive
from pipelines.marts.runner import _source_view_sql, build_models


@pytest.fixture(params=["file", pytest.param("lake", marks=pytest.mark.slow)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A DuckDB file, and a lake with a SQLite catalog (its `src_` views read `raw`'s columns
    of the lake only, not those of another attached database)."""
    if request.param == "lake":
        return f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    return str(tmp_path / "warehouse.duckdb")


def test_drifting_archive_loads_and_marts_keep_working(archive: Path, warehouse: str) -> None:
    database = warehouse
    write_files(archive, {"2024/08/17/a.jsonl": jsonl(callback_event("e1", "cr-1"))})
    load_archive(str(archive), database)
    build_models(database, SETTINGS)

    drifted = callback_event("e2", "cr-2", updated_at="2024-08-18T10:00:00.000Z")
    cr = drifted["data"]["callbackRequest"]
    cr["subject"]["order"] = "7th"  # number -> string
    cr["office"]["id"] = 4711  # string -> number
    cr["leadSegment"] = None  # object -> null
    cr["listing"] = "L-9"  # object -> string
    cr["reminders"] = [{"at": "2024-08-19T09:00:00.000Z", "channel": "SMS"}]  # new nested array
    cr["priority"] = "HIGH"  # new field
    late = callback_event("e3", "cr-3", updated_at="not a timestamp")  # timestamp -> text
    write_files(archive, {"2024/08/18/b.jsonl": jsonl(drifted, late)})
    result = load_archive(str(archive), database)
    assert result.stats.rejected_total == 0
    assert "callback_request_events__reminders" in result.new_tables
    assert {"priority", "listing", "subject__order__v_text", "updated_at__v_text"} <= set(
        result.new_columns["callback_request_events"]
    )
    # raw keeps every value, in the variant columns where the type changed
    assert lake_query(
        database,
        "select subject__order__v_text, office__id, listing, priority from raw.callback_request_events"
        " where event_id = 'e2'",
    ) == [("7th", "4711", "L-9", "HIGH")]
    assert lake_query(database, "select channel from raw.callback_request_events__reminders") == [
        ("SMS",)
    ]

    built = build_models(database, SETTINGS)
    assert built.row_counts["marts.fct_callback_requests"] == 3
    assert lake_query(
        database,
        "select subject_order, office_id, lead_segment_id from staging.stg_callback_request_events"
        " where event_id = 'e2'",
    ) == [(None, "4711", None)]
    assert lake_query(
        database,
        "select callback_request_id, updated_at from marts.fct_callback_requests order by 1",
    )[2] == ("cr-3", None)
    assert lake_query(
        database, "select count(*) from marts.dim_offices where office_id = '4711'"
    ) == [(1,)]


def test_variant_columns_fold_back_into_the_contract_column() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.t as select * from (values"
        " (1, null, 'x', null), (null, '2', 'y', null), (null, 'three', 'z', '2024-08-17T10:00:00Z'))"
        " as v(n, n__v_text, other, seen_at__v_text)"
    )
    contract = {"n": "bigint", "seen_at": "timestamptz", "absent": "varchar"}
    columns = {"n", "n__v_text", "other", "seen_at__v_text"}
    con.execute(f"create view v as {_source_view_sql('t', contract, columns)}")
    assert con.execute(
        "select n, seen_at is not null, absent, other from v order by other"
    ).fetchall() == [
        (1, False, None, "x"),
        (2, False, None, "y"),
        (None, True, None, "z"),
    ]
    con.execute(f"create view empty as {_source_view_sql('gone', contract, None)}")
    assert con.execute("select count(*), max(n) from empty").fetchall() == [(0, None)]
