"""A SQLite-catalog lake holding a file warehouse's marts, for the readers' tests (the notebook,
the analysts' guide, `python -m pipelines.sql`), made with the project's own `connect`."""

from __future__ import annotations

from pathlib import Path

from pipelines.warehouse.connection import connect


def copy_marts_to_lake(database: Path, catalog: Path) -> str:
    """Copy every table of `database`'s marts into a new lake at `catalog`; return its setting."""
    setting = f"ducklake:sqlite:{catalog}"
    with connect(setting) as con:
        con.execute(f"attach '{database}' as source (read_only)")
        tables = con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = 'source' and schema_name = 'marts'"
        ).fetchall()
        con.execute("create schema if not exists marts")
        for (name,) in tables:
            con.execute(f'create table marts."{name}" as select * from source.marts."{name}"')
        con.execute("detach source")
    return setting
