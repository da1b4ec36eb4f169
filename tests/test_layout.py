"""The package layout keeps its promises: one module opens the warehouse."""

from __future__ import annotations

from conftest import REPO


def test_only_the_warehouse_module_connects_to_duckdb() -> None:
    callers = sorted(
        path.relative_to(REPO).as_posix()
        for path in (REPO / "pipelines").rglob("*.py")
        if "duckdb.connect(" in path.read_text() or "DuckDbCredentials(" in path.read_text()
    )
    assert callers == ["pipelines/warehouse/connection.py"]
