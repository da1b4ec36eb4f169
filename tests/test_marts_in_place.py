"""The marts rebuilt in place on a lake (issue 12): a model whose columns are unchanged keeps
its DuckLake table (same `table_id`, no new table version in the catalog) and the whole build
is one snapshot, 'marts built'; a failed model or check leaves every table as it was; a model
whose columns changed is replaced, with `--select` too. Lakes written by hand (no dlt load)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import lake_query, marts_contents, schema_contents
from test_docs_site import make_warehouse
from test_select_freshness import with_probe

from pipelines.common.errors import ExpectedFailure
from pipelines.marts.runner import BUILD_STATE, TRANSFORMS_DIR, build_models
from pipelines.marts.transform_settings import TransformSettings
from pipelines.warehouse.connection import connect
from pipelines.warehouse.maintenance import MARTS_COMMIT_MESSAGE, METADATA

SETTINGS = TransformSettings(freshness_max_age=None)
# a new request in raw: a rebuild changes the rows of most models, not their columns
NEW_EVENT = (
    "insert into raw.callback_request_events values"
    " ('e4', 'cr-3', 'Callback-request.create', 'OPEN', timestamptz '2026-09-03 10:00:00+00')"
)


def make_lake(tmp_path: Path) -> str:
    (tmp_path / "lake").mkdir()
    lake = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    make_warehouse(lake)
    return lake


def table_ids(lake: str) -> dict[str, int]:
    """The DuckLake table id of each current table (`schema.table`)."""
    rows = lake_query(
        lake,
        f"select s.schema_name || '.' || t.table_name, t.table_id"
        f" from {METADATA}.ducklake_table t join {METADATA}.ducklake_schema s using (schema_id)"
        " where t.end_snapshot is null and s.end_snapshot is null",
    )
    return dict(rows)


def catalog_versions(lake: str) -> tuple[int, int]:
    """Table versions and column versions the catalog holds, current and ended."""
    rows = lake_query(
        lake,
        f"select (select count(*) from {METADATA}.ducklake_table),"
        f" (select count(*) from {METADATA}.ducklake_column)",
    )
    return rows[0]


def snapshots(lake: str) -> list[tuple[int, str | None]]:
    return lake_query(
        lake, "select snapshot_id, commit_message from lake.snapshots() order by snapshot_id"
    )


def everything(lake: str) -> dict[str, dict[str, list[tuple]]]:
    """Every built table's rows, the build state's too."""
    contents = {layer: schema_contents(lake, layer) for layer in ("staging", "intermediate")}
    contents["marts"] = marts_contents(lake)
    contents["state"] = {"_": lake_query(lake, f"select * from marts.{BUILD_STATE}")}
    return contents


def test_a_rebuild_on_a_lake_keeps_every_table_and_is_one_snapshot(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    ids, versions, before = table_ids(lake), catalog_versions(lake), snapshots(lake)
    assert len([t for t in ids if t.startswith("marts.")]) == 12  # 11 marts, the build state
    with connect(lake) as con:
        con.execute(NEW_EVENT)
    loaded = snapshots(lake)

    result = build_models(lake, SETTINGS, force=True)  # no dlt load: forced

    assert result.row_counts["marts.fct_callback_requests"] == 3
    assert lake_query(lake, "select count(*) from marts.fct_callback_requests") == [(3,)]
    assert table_ids(lake) == ids  # the same tables, rows replaced in place
    assert catalog_versions(lake) == versions  # no new table or column version
    new = snapshots(lake)[len(loaded) :]
    assert new == [(new[0][0], MARTS_COMMIT_MESSAGE)]  # one commit, the labelled one
    assert len(loaded) == len(before) + 1
    # an unchanged rebuild (forced) leaves the same rows
    contents = everything(lake)
    build_models(lake, SETTINGS, force=True)
    after = everything(lake)
    assert after.pop("state") != contents.pop("state")  # a new salt and time
    assert after == contents
    assert table_ids(lake) == ids


def test_a_failed_check_or_model_after_an_in_place_rebuild_keeps_the_previous_tables(
    tmp_path: Path,
) -> None:
    lake = make_lake(tmp_path)
    with connect(lake) as con:
        con.execute(NEW_EVENT)  # every model would get new rows: the old ones must stay
    before, ids, versions = everything(lake), table_ids(lake), catalog_versions(lake)
    snaps = snapshots(lake)
    broken = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, broken)
    model = broken / "marts" / "fct_callback_requests.sql"
    original = model.read_text()
    # same columns (in place), but every request gets one id: the unique check fails
    model.write_text(f"select * replace ('x' as callback_request_id) from (\n{original}\n)")
    with pytest.raises(ExpectedFailure, match="data check failed"):
        build_models(lake, SETTINGS, broken, force=True)
    assert everything(lake) == before
    assert (table_ids(lake), catalog_versions(lake), snapshots(lake)) == (ids, versions, snaps)

    model.write_text(original)
    (broken / "marts" / "agg_event_quality.sql").write_text("select * from nowhere")
    with pytest.raises(ExpectedFailure, match="model marts.agg_event_quality failed"):
        build_models(lake, SETTINGS, broken, force=True)
    assert everything(lake) == before
    assert (table_ids(lake), catalog_versions(lake), snapshots(lake)) == (ids, versions, snaps)


def columns(lake: str, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        c
        for (c,) in lake_query(
            lake,
            "select column_name from information_schema.columns where table_catalog ="
            f" current_database() and table_schema = '{schema}' and table_name = '{name}'"
            " order by ordinal_position",
        )
    ]


def test_changed_columns_replace_the_table_and_select_works_on_a_lake(tmp_path: Path) -> None:
    lake = make_lake(tmp_path)
    ids, built = table_ids(lake), marts_contents(lake)
    copy = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, copy)
    with_probe(copy, "marts.fct_callback_requests")

    result = build_models(lake, SETTINGS, copy, select="fct_callback_requests+")

    assert result.selected
    assert columns(lake, "marts.fct_callback_requests")[-1] == "probe"
    changed = {t for t, table_id in table_ids(lake).items() if ids[t] != table_id}
    assert changed == {"marts.fct_callback_requests"}  # its downstream keeps its columns
    assert lake_query(lake, "select distinct probe from marts.fct_callback_requests") == [("new",)]
    probed = table_ids(lake)
    # again with the same SQL: in place, downstream of it too
    build_models(lake, SETTINGS, copy, force=True)
    assert table_ids(lake) == probed
    # the original SQL: the column goes, the rows are the first build's
    build_models(lake, SETTINGS, force=True)
    assert "probe" not in columns(lake, "marts.fct_callback_requests")
    assert marts_contents(lake) == built
