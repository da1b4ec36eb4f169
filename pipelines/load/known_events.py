"""Look up which event ids the warehouse already holds, to count re-deliveries as duplicates."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines import settings as s
from pipelines.warehouse.connection import as_warehouse, connect
from pipelines.warehouse.location import Warehouse


class WarehouseEventIndex:
    """Answers "which of these event ids are loaded already?" from the raw event tables.

    Opens the warehouse read-only on first use; `close()` must be called before dlt
    writes to the same warehouse from this process.
    """

    def __init__(
        self, database: Warehouse | str | Path, memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT
    ) -> None:
        self._database = as_warehouse(database)
        self._memory_limit = memory_limit
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._tables: list[str] | None = None

    def _open(self) -> list[str]:
        if self._tables is None:
            self._tables = []
            if self._database.exists():
                self._connection = connect(
                    self._database, read_only=True, memory_limit=self._memory_limit
                )
                present = {
                    name
                    for (name,) in self._connection.execute(
                        "select table_name from information_schema.tables"
                        " where table_catalog = current_database()"
                        " and table_schema = ? and table_name in (?, ?)",
                        [s.RAW_DATASET, s.CALLBACK_REQUEST_EVENTS, s.APPOINTMENT_EVENTS],
                    ).fetchall()
                }
                self._tables = sorted(present)
        return self._tables

    def __call__(self, event_ids: list[str]) -> set[str]:
        """Return the subset of `event_ids` already present in raw."""
        tables = self._open()
        if not tables or not event_ids or self._connection is None:
            return set()
        union = " union all ".join(
            f"select event_id from {s.RAW_DATASET}.{table} where event_id in (select unnest($ids))"
            for table in tables
        )
        rows = self._connection.execute(union, {"ids": event_ids}).fetchall()
        return {event_id for (event_id,) in rows}

    def close(self) -> None:
        """Release the read-only connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._tables = None
