"""Open the warehouse: every DuckDB connection of the job to its warehouse, and dlt's
destination for it, are made here.

The warehouse is named by its `database` setting (today a DuckDB file path), so another kind
of warehouse only changes this module.
"""

from __future__ import annotations

from pathlib import Path

import dlt
import duckdb
from dlt.common.destination import Destination
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from pipelines import settings as s


def connect(
    database: str | Path,
    read_only: bool = False,
    memory_limit: str | None = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse `database`; `memory_limit=None` keeps DuckDB's default."""
    config = {"memory_limit": memory_limit} if memory_limit else {}
    return duckdb.connect(str(database), read_only=read_only, config=config)


def dlt_destination(
    database: str | Path, memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT
) -> Destination:
    """dlt's destination writing to the warehouse `database` (its `raw` dataset)."""
    credentials = DuckDbCredentials(str(database), global_config={"memory_limit": memory_limit})
    return dlt.destinations.duckdb(credentials)
