"""Open the warehouse: every DuckDB connection of the job to its warehouse is made here.

The warehouse is named by its `database` setting (today a DuckDB file path), so another kind
of warehouse only changes this module.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines import settings as s


def connect(
    database: str | Path,
    read_only: bool = False,
    memory_limit: str | None = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse `database`; `memory_limit=None` keeps DuckDB's default."""
    config = {"memory_limit": memory_limit} if memory_limit else {}
    return duckdb.connect(str(database), read_only=read_only, config=config)
