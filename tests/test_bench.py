"""Smoke test of `make bench`: all six runs are measured, on exactly the manifest's events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # generates an archive and runs the job five ways


def _count(database: Path, sql: str) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def test_benchmark_measures_every_run(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    command = [sys.executable, str(REPO / "bench" / "benchmark.py"), "--events", "300"]
    command += ["--workdir", str(tmp_path), "--keep", "--output", str(output)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr

    result = json.loads(output.read_text())
    figures = result["figures"]
    assert set(figures) == {"a", "b", "c", "d", "e", "f"}
    for figure in figures.values():
        assert figure["seconds"] > 0 and figure["peak_rss_mb"] > 0 and figure["killed"] is None
    assert figures["a"]["events"] == 300 and figures["a"]["events_per_s"] > 0
    assert figures["e"]["events"] == 3
    assert {"extract", "normalize", "load", "transforms", "total"} <= set(figures["a"]["steps"])
    assert result["a_over_c"] > 0 and result["b_over_a"] > 0 and result["e_over_a"] > 0
    assert result["f_over_a"] > 0 and result["f_over_a_rss"] > 0
    assert figures["f"]["events"] == 300 and "housekeeping" in figures["f"]["steps"]
    assert "| (f) (a) into a lake (SQLite catalog) |" in proc.stdout
    assert "| f/a (lake / file warehouse), wall time |" in proc.stdout
    assert "| (a) pipelines.run |" in proc.stdout and "| a/c (job / DuckDB floor) |" in proc.stdout

    # what each run stored, read from its DuckDB file, against the generator's manifests
    manifest = json.loads((tmp_path / "archive-300-1.manifest.json").read_text())
    increment = json.loads((tmp_path / "increment-3-2.manifest.json").read_text())
    distinct = manifest["distinct_events"]
    a_db, b_db, c_db = (tmp_path / f"{name}.duckdb" for name in "abc")
    events = "select count(*) from (select _source_file from raw.callback_request_events union all select _source_file from raw.appointment_events)"
    assert _count(a_db, f"{events} where _source_file not like 'bench-increment/%'") == distinct
    assert (
        _count(a_db, f"{events} where _source_file like 'bench-increment/%'")
        == (increment["distinct_events"])
    )
    assert _count(b_db, "select count(distinct id) from raw.events") == distinct
    assert _count(b_db, "select count(*) from raw.events") == distinct
    roots = "(select event_id from callback_request_events union all select event_id from appointment_events)"
    assert _count(c_db, f"select count(*) from {roots}") == distinct
    assert _count(c_db, f"select count(distinct event_id) from {roots}") == distinct
    assert result["checks"]["a_nested_rows"] == result["checks"]["c_nested_rows"]
    assert result["checks"]["f_events"] == distinct  # the lake holds what the file holds
    assert (tmp_path / "f-lake" / "catalog.sqlite").exists()
    # the benchmark leaves the archive as generated, so the next run reuses it
    assert not (tmp_path / "archive-300-1" / "bench-increment").exists()
