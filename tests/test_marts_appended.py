"""Staging appended with the new events instead of rebuilt (`pipelines.marts.incremental`):
after every scheduled run, staging, intermediate and marts hold exactly what a full rebuild of
the same raw holds, on a file and on a lake; and each condition that makes appending wrong
(changed models, a replaced or removed raw event, a load left half done, a partial rebuild of
staging, an appended build that fails a check) rebuilds every model instead."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import pytest
from conftest import generate, lake_query, marts_contents, schema_contents

from pipelines.load.pipeline import load_archive
from pipelines.marts import keyed
from pipelines.marts.incremental import APPEND_MAX_SHARE
from pipelines.marts.runner import BUILD_STATE, TRANSFORMS_DIR, BuildResult, Model, build_models
from pipelines.marts.transform_settings import TransformSettings
from pipelines.warehouse.connection import connect

SETTINGS = TransformSettings(freshness_max_age=None)
# these runs add a third of the archive at a time, far above the share of new events a real
# scheduled run brings (a full build above `APPEND_MAX_SHARE`, see its own test)
ANY_SHARE = 100.0
# the runner's warning when an appended build failed and every model was rebuilt instead
FAILED_APPEND = "appending the new events to staging failed"
# the models whose docs say `incremental_by = "callback_request_id"` (pipelines.marts.keyed)
KEYED_MODELS = {
    "intermediate.int_callback_request_events_ordered",
    "intermediate.int_callback_requests_current",
    "marts.fct_callback_requests",
    "marts.fct_callback_request_status_changes",
    "marts.fct_callback_request_answers",
}


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path]]:
    """The files of a generated archive (600 deliveries, re-deliveries and updates of a
    request spread over files, a share gzipped), in a seeded random order: a run's files hold
    updates of requests that earlier runs loaded, and events older than those."""
    root = tmp_path_factory.mktemp("generated") / "archive"
    generate(root, 600, 7)
    files = sorted((p, p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    random.Random(7).shuffle(files)
    return files


def _add(files: list[tuple[Path, Path]], archive: Path) -> None:
    for path, relative in files:
        target = archive / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _built(warehouse: Path | str) -> dict[str, dict[str, list[tuple]]]:
    contents = {layer: schema_contents(warehouse, layer) for layer in ("staging", "intermediate")}
    contents["marts"] = marts_contents(warehouse)
    return contents


def _run(archive: Path, warehouse: Path | str, max_share: float = ANY_SHARE) -> BuildResult:
    load_archive(str(archive), warehouse)
    return build_models(warehouse, SETTINGS, append_max_share=max_share)


def _rebuilt(warehouse: Path | str, tmp_path: Path) -> dict[str, dict[str, list[tuple]]]:
    """What a full rebuild of `warehouse`'s raw gives (a file: on a copy; a lake: in place)."""
    copy = warehouse
    if isinstance(warehouse, Path):
        copy = tmp_path / "rebuilt.duckdb"
        shutil.copy2(warehouse, copy)
    assert build_models(copy, SETTINGS, force=True).appended_rows is None
    return _built(copy)


def _raw_mark(warehouse: Path | str) -> str | None:
    return lake_query(warehouse, f"select raw_mark_load_id from marts.{BUILD_STATE}")[0][0]


def _rebuilt_because(
    warehouse: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    """The next build rebuilds staging by a guard (not by a failed append), logs `reason`,
    and gives what a full rebuild gives."""
    with caplog.at_level(logging.INFO, logger="pipelines.marts"):
        assert build_models(warehouse, SETTINGS, append_max_share=ANY_SHARE).appended_rows is None
    assert FAILED_APPEND not in caplog.text
    assert f"staging is rebuilt: {reason}" in caplog.text
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def _runs_equal_a_rebuild(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, warehouse: Path | str
) -> None:
    archive = tmp_path / "archive"
    parts = [deliveries[: len(deliveries) // 3], deliveries[len(deliveries) // 3 :: 2]]
    parts.append(deliveries[len(deliveries) // 3 + 1 :: 2])
    _add(parts[0], archive)
    first = _run(archive, warehouse)
    assert first.appended_rows is None  # nothing to append to
    assert _raw_mark(warehouse) is not None
    earlier_requests_recomputed = False
    for part in parts[1:]:
        _add(part, archive)
        result = _run(archive, warehouse)
        assert result.appended_rows is not None  # a failed append would rebuild: None
        events = result.appended_rows["staging.stg_callback_request_events"]
        assert 0 < events < result.row_counts["staging.stg_callback_request_events"]
        assert result.appended_rows["staging.stg_translations"] > 0
        assert result.row_counts["marts.fct_callback_requests"] > 0
        # the per-request models were recomputed for the requests with new events only
        recomputed = result.recomputed_rows or {}
        assert set(recomputed) == KEYED_MODELS
        ordered = recomputed["intermediate.int_callback_request_events_ordered"]
        assert ordered < result.row_counts["intermediate.int_callback_request_events_ordered"]
        # ... and with them the events of those requests that earlier runs loaded
        earlier_requests_recomputed |= ordered > events
    assert earlier_requests_recomputed
    nothing_new = _run(archive, warehouse)
    assert nothing_new.up_to_date

    appended = _built(warehouse)
    assert sum(len(rows) for rows in appended["staging"].values()) > 10_000
    assert appended == _rebuilt(warehouse, tmp_path)
    # and the marts of one run over the whole archive (other raw row ids, the same marts)
    one_run = tmp_path / "one-run.duckdb"
    assert _run(archive, one_run).appended_rows is None
    assert appended["marts"] == marts_contents(one_run)


def test_appended_runs_equal_one_run_in_a_file(
    deliveries: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    _runs_equal_a_rebuild(deliveries, tmp_path, tmp_path / "w.duckdb")


@pytest.mark.slow
def test_appended_runs_equal_one_run_in_a_lake(
    deliveries: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    (tmp_path / "lake").mkdir()
    lake = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _runs_equal_a_rebuild(deliveries, tmp_path, lake)


def _first_run(deliveries: list[tuple[Path, Path]], tmp_path: Path) -> tuple[Path, Path]:
    archive, warehouse = tmp_path / "archive", tmp_path / "w.duckdb"
    _add(deliveries[: len(deliveries) // 2], archive)
    assert _run(archive, warehouse).appended_rows is None
    _add(deliveries[len(deliveries) // 2 :], archive)  # what the next run loads
    return archive, warehouse


def test_changed_models_rebuild_staging(
    deliveries: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    transforms = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, transforms)
    model = transforms / "staging" / "stg_callback_request_events.sql"
    model.write_text(model.read_text() + "\n-- a comment changes the definition\n")

    load_archive(str(archive), warehouse)
    assert (
        build_models(warehouse, SETTINGS, transforms, append_max_share=ANY_SHARE).appended_rows
        is None
    )
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def test_a_replaced_raw_event_rebuilds_staging(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    load_archive(str(archive), warehouse)
    # what dlt's merge does to a stored id that a load brings again: the row gets that load's
    # id, so appending the load's events would add it to staging a second time
    with connect(warehouse) as con:
        con.execute(
            "update raw.callback_request_events"
            " set _dlt_load_id = (select max(load_id) from raw._dlt_loads)"
            " where event_id = (select min(event_id) from raw.callback_request_events)"
        )

    _rebuilt_because(warehouse, tmp_path, caplog, "raw's events up to the last build changed")


def test_a_load_left_half_done_is_read_again_whole(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    first = _raw_mark(warehouse)
    load_archive(str(archive), warehouse)
    # a killed run: rows of its loads in raw, the loads not yet marked completed in _dlt_loads
    with connect(warehouse) as con:
        completed = con.execute("from raw._dlt_loads where load_id > ?", [first]).fetchall()
        con.execute("delete from raw._dlt_loads where load_id > ?", [first])
    assert completed
    assert build_models(warehouse, SETTINGS).up_to_date  # nothing completed since the build
    build_models(warehouse, SETTINGS, force=True)  # --transforms-only: reads the half load
    assert _raw_mark(warehouse) is None  # the next build may not append

    with connect(warehouse) as con:  # the resumed loads complete
        placeholders = ", ".join("?" * len(completed[0]))
        con.executemany(f"insert into raw._dlt_loads values ({placeholders})", completed)
    _rebuilt_because(warehouse, tmp_path, caplog, "the last build left no mark of raw")
    assert _raw_mark(warehouse) is not None


def test_a_selected_staging_rebuild_forgets_the_mark(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    assert build_models(warehouse, SETTINGS, select="stg_translations+").selected
    assert _raw_mark(warehouse) is None

    load_archive(str(archive), warehouse)
    _rebuilt_because(warehouse, tmp_path, caplog, "the last build left no mark of raw")


def test_an_appended_build_that_fails_a_check_rebuilds_everything(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    with connect(warehouse) as con:  # staging lost an event: appending cannot bring it back
        con.execute(
            "delete from staging.stg_callback_request_events"
            " where event_id = (select min(event_id) from staging.stg_callback_request_events)"
        )

    with caplog.at_level(logging.WARNING, logger="pipelines.marts.runner"):
        result = _run(archive, warehouse)
    assert result.appended_rows is None
    assert f"{FAILED_APPEND} (data check failed" in caplog.text
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def test_only_models_reading_keyed_rows_are_recomputed_per_key() -> None:
    """A model is recomputed per key only when all it reads has the key and is staging or
    recomputed per the same key: a row of a whole-rebuilt model could change for any key."""
    key = "callback_request_id"
    staging_columns = {"staging.events": {key, "event_id"}, "staging.sets": {"set_id"}}
    ordered = Model("intermediate", "ordered", "", {"staging.events"}, key)
    models = [
        ordered,
        Model("intermediate", "by_set", "", {"staging.events", "staging.sets"}, key),
        Model("marts", "dims", "", {"staging.events"}),  # not declared: rebuilt whole
        Model("marts", "facts", "", {"intermediate.ordered"}, key),
        Model("marts", "with_dims", "", {"intermediate.ordered", "marts.dims"}, key),
        Model("marts", "other_key", "", {"intermediate.ordered"}, "event_id"),
    ]
    recomputed = keyed.recomputable(models, lambda t: staging_columns[t])
    assert [m.name for m in recomputed] == ["ordered", "facts"]


def test_a_keyed_model_without_its_key_column_rebuilds_everything(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong `incremental_by` (the model has no such column) cannot give wrong marts: the
    appended build fails and every model is rebuilt."""
    archive, warehouse = tmp_path / "archive", tmp_path / "w.duckdb"
    transforms = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, transforms)
    docs = transforms / "marts" / "_models.toml"
    docs.write_text(
        docs.read_text().replace(
            "[agg_callback_requests_daily]\n",
            '[agg_callback_requests_daily]\nincremental_by = "callback_request_id"\n',
        )
    )
    _add(deliveries[: len(deliveries) // 2], archive)
    load_archive(str(archive), warehouse)
    build_models(warehouse, SETTINGS, transforms)
    _add(deliveries[len(deliveries) // 2 :], archive)
    load_archive(str(archive), warehouse)

    with caplog.at_level(logging.WARNING, logger="pipelines.marts.runner"):
        result = build_models(warehouse, SETTINGS, transforms, append_max_share=ANY_SHARE)
    assert result.appended_rows is None
    assert (
        f"{FAILED_APPEND} (marts.agg_callback_requests_daily has no column callback_request_id"
        in caplog.text
    )
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def test_an_appended_key_met_before_fails_the_narrowed_key_check(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    mark = _raw_mark(warehouse)
    load_archive(str(archive), warehouse)
    with connect(warehouse) as con:  # staging already holds a row of an event appended next
        con.execute(
            "insert into staging.stg_callback_request_events"
            " select * replace ((select min(event_id) from raw.callback_request_events"
            "  where _dlt_load_id > ?) as event_id)"
            " from staging.stg_callback_request_events limit 1",
            [mark],
        )

    with caplog.at_level(logging.WARNING, logger="pipelines.marts.runner"):
        result = build_models(warehouse, SETTINGS, append_max_share=ANY_SHARE)
    assert result.appended_rows is None
    assert f"{FAILED_APPEND} (data check failed, previous marts kept: unique(staging" in caplog.text
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def test_a_child_row_removed_under_an_earlier_event_rebuilds_staging(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    mark = _raw_mark(warehouse)
    load_archive(str(archive), warehouse)
    # what the repair of a resumed load does to a row it copied twice, or a hand edit: the
    # event's staging rows (its participants) change, its own raw row does not
    with connect(warehouse) as con:
        con.execute(
            "delete from raw.callback_request_events__participants where _dlt_id = (select"
            " min(p._dlt_id) from raw.callback_request_events__participants p"
            " join raw.callback_request_events e on e._dlt_id = p._dlt_root_id"
            " where e._dlt_load_id <= ?)",
            [mark],
        )

    _rebuilt_because(warehouse, tmp_path, caplog, "raw's events up to the last build changed")


def test_a_missing_staging_table_rebuilds_staging(
    deliveries: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    with connect(warehouse) as con:
        con.execute("drop table staging.stg_display_names")

    assert _run(archive, warehouse).appended_rows is None
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def test_many_new_events_rebuild_staging(
    deliveries: list[tuple[Path, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive, warehouse = tmp_path / "archive", tmp_path / "w.duckdb"
    cut = len(deliveries) * 9 // 10
    _add(deliveries[:cut], archive)
    assert _run(archive, warehouse, APPEND_MAX_SHARE).appended_rows is None
    _add(deliveries[cut:], archive)  # about a tenth: appended
    assert _run(archive, warehouse, APPEND_MAX_SHARE).appended_rows is not None

    archive, warehouse = tmp_path / "archive-2", tmp_path / "w-2.duckdb"
    _add(deliveries[: len(deliveries) // 2], archive)
    assert _run(archive, warehouse, APPEND_MAX_SHARE).appended_rows is None
    _add(deliveries[len(deliveries) // 2 :], archive)  # as many as before: rebuilt
    with caplog.at_level(logging.INFO, logger="pipelines.marts"):
        assert _run(archive, warehouse, APPEND_MAX_SHARE).appended_rows is None
    assert "more than 10% of the" in caplog.text
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)


def test_loads_without_new_events_rebuild_nothing(
    deliveries: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    archive, warehouse = _first_run(deliveries, tmp_path)
    assert _run(archive, warehouse).appended_rows  # the second half: appended
    before = _built(warehouse)
    # the same files again under new names: a load of re-deliveries only
    _add([(path, Path("redelivered") / relative) for path, relative in deliveries[:5]], archive)
    loaded = load_archive(str(archive), warehouse)
    assert loaded.load_ids and loaded.stats.events_loaded == 0
    assert loaded.stats.duplicates > 0

    result = build_models(warehouse, SETTINGS, append_max_share=ANY_SHARE)
    assert (result.up_to_date, result.appended_rows, result.checks_passed) == (True, {}, 0)
    assert _built(warehouse) == before
    assert _raw_mark(warehouse) == max(
        load for (load,) in lake_query(warehouse, "select load_id from raw._dlt_loads")
    )
    assert build_models(warehouse, SETTINGS).up_to_date  # and the next build has nothing to do
    assert _built(warehouse) == _rebuilt(warehouse, tmp_path)
