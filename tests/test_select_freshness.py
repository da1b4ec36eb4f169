"""`--transforms-only --select MODEL[+]` (a partial rebuild in one transaction with its checks)
and the freshness warning, on warehouses written by hand (no dlt load)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import query, run_job
from test_docs_site import make_warehouse

from pipelines.common.errors import ExpectedFailure
from pipelines.marts.freshness import format_age, parse_age
from pipelines.marts.runner import TRANSFORMS_DIR, build_models
from pipelines.marts.transform_settings import TransformSettings


def columns(database: Path, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        c
        for (c,) in query(
            database,
            "select column_name from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = '{name}'",
        )
    ]


def with_probe(transforms: Path, model: str, extra: str = "") -> None:
    path = transforms / f"{model.replace('.', '/')}.sql"
    path.write_text(f"select *, 'new' as probe from (\n{path.read_text()}\n) {extra}")


def test_select_rebuilds_the_model_and_downstream_only(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    make_warehouse(str(database))
    state = query(database, "select build_key, built_at from marts._build_state")
    copy = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, copy)
    for model in (
        "intermediate.int_callback_requests_current",
        "marts.fct_callback_requests",
        "marts.dim_offices",
        "staging.stg_callback_request_events",
    ):
        with_probe(copy, model)
    result = build_models(database, TransformSettings(), copy, select="fct_callback_requests+")
    assert result.selected
    assert set(result.row_counts) == {
        "marts.fct_callback_requests",
        "marts.fct_appointments",
        "marts.agg_callback_requests_daily",
    }
    assert "probe" in columns(database, "marts.fct_callback_requests")
    for untouched in (
        "intermediate.int_callback_requests_current",
        "marts.dim_offices",
        "staging.stg_callback_request_events",
    ):
        assert "probe" not in columns(database, untouched), untouched
    # a partial build keeps the state of the last full build: the next run rebuilds
    assert query(database, "select build_key, built_at from marts._build_state") == state
    # MODEL alone: only itself
    only = build_models(database, TransformSettings(), copy, select="marts.dim_offices")
    assert set(only.row_counts) == {"marts.dim_offices"}
    assert "probe" in columns(database, "marts.dim_offices")


def test_a_failed_check_of_a_selected_model_keeps_the_previous_tables(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    make_warehouse(str(database))
    copy = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, copy)
    with_probe(copy, "marts.fct_callback_requests")
    duplicated = copy / "marts" / "fct_callback_requests.sql"
    duplicated.write_text(
        f"{duplicated.read_text()} union all select * from ({duplicated.read_text()})"
    )
    with pytest.raises(ExpectedFailure, match=r"unique\(marts.fct_callback_requests"):
        build_models(database, TransformSettings(), copy, select="fct_callback_requests+")
    assert "probe" not in columns(database, "marts.fct_callback_requests")
    assert query(database, "select count(*) from marts.fct_callback_requests") == [(2,)]


def test_cli_select(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    make_warehouse(str(database))
    proc = run_job("--database", str(database), "--transforms-only", "--select", "dim_offices+")
    assert proc.returncode == 0, proc.stderr
    assert "1 built (selected)" in proc.stdout
    assert "marts.dim_offices" in proc.stdout and "marts.fct_callback_requests" not in proc.stdout
    unknown = run_job("--database", str(database), "--transforms-only", "--select", "dim_nope+")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1] == (
        "error: --select dim_nope+: no model named dim_nope in transforms/"
    )
    assert "error:" in unknown.stderr and unknown.stderr.count("error:") == 1
    alone = run_job("--database", str(database), "--select", "dim_offices")
    assert alone.returncode == 2 and "--select needs --transforms-only" in alone.stderr


def test_freshness_warns_and_the_summary_shows_the_newest_event(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    make_warehouse(str(database))  # newest event 2026-09-02 10:00 UTC
    stale = run_job(
        "--database",
        str(database),
        "--transforms-only",
        env={"WAREHOUSE__FRESHNESS_MAX_AGE": "1 day"},
    )
    assert stale.returncode == 0, stale.stderr
    assert "freshness   newest event 2026-09-02 10:00 UTC (" in stale.stdout
    assert "ago): older than warehouse.freshness_max_age" in stale.stdout
    assert "WARNING" in stale.stderr and "is the archive still receiving" in stale.stderr
    fresh = run_job(
        "--database",
        str(database),
        "--transforms-only",
        env={"WAREHOUSE__FRESHNESS_MAX_AGE": "100000 days"},
    )
    assert fresh.returncode == 0, fresh.stderr
    assert "freshness   newest event 2026-09-02 10:00 UTC (" in fresh.stdout
    assert "older than" not in fresh.stdout and "still receiving" not in fresh.stderr
    wrong = run_job(
        "--database",
        str(database),
        "--transforms-only",
        env={"WAREHOUSE__FRESHNESS_MAX_AGE": "soon"},
    )
    assert wrong.returncode == 2
    assert "warehouse.freshness_max_age" in wrong.stderr


def test_ages() -> None:
    assert parse_age("3 days") == timedelta(days=3)
    assert parse_age("36 hours") == parse_age("36h") == timedelta(hours=36)
    assert parse_age("90 min") == timedelta(minutes=90)
    assert parse_age("1w") == timedelta(weeks=1)
    for wrong in ("", "soon", "3 fortnights", "-1 day"):
        with pytest.raises(ExpectedFailure) as failure:
            parse_age(wrong)
        assert failure.value.exit_code == 2
    assert format_age(timedelta(minutes=52)) == "52 min"
    assert format_age(timedelta(hours=7, minutes=30)) == "7.5 h"
    assert format_age(timedelta(days=3, hours=5)) == "3.2 days"
