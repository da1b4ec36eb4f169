"""Look up which event ids the warehouse already holds, to count re-deliveries as duplicates."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines import settings as s
from pipelines.warehouse.connection import as_warehouse, connect
from pipelines.warehouse.location import Warehouse

if TYPE_CHECKING:
    import numpy as np

# after this many lookups the index reads the stored digests: a lookup query costs ~8 ms at
# a million stored events, reading every digest ~1 s (a run reading a few files never does)
DIGESTS_AFTER_LOOKUPS = 100
# the first 64 bits of an id's MD5, the same in DuckDB and in Python (see `_digest`)
_DIGEST_SQL = "('0x' || md5(event_id)[1:16])::ubigint"


def _digest(event_id: str) -> int:
    return int.from_bytes(hashlib.md5(event_id.encode()).digest()[:8], "big")


class WarehouseEventIndex:
    """Answers "which of these event ids are loaded already?" from the raw event tables.

    Opens the warehouse read-only on first use. After `DIGESTS_AFTER_LOOKUPS` lookups (a large
    load: one per file read) it reads a 64-bit digest of every stored event id (8 bytes an
    event, sorted): ids whose digest is not there are new without a query; only the few that
    match (re-deliveries, and by chance about one new id in 2^64 / stored events) are looked
    up. One query per file cost ~8 ms at a million events: ~6 minutes of a batched first load.
    `close()` must be called before dlt writes to the same warehouse from this process; the
    next call opens it again and sees what was written meanwhile.
    """

    def __init__(
        self, database: Warehouse | str | Path, memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT
    ) -> None:
        self._database = as_warehouse(database)
        self._memory_limit = memory_limit
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._tables: list[str] | None = None
        self._digests: np.ndarray | None = None
        self._lookups = 0

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

    @staticmethod
    def _stored_digests(connection: duckdb.DuckDBPyConnection, tables: list[str]) -> np.ndarray:
        import numpy as np  # only runs that read files need it

        union = " union all ".join(
            f"select {_DIGEST_SQL} as digest from {s.RAW_DATASET}.{table}" for table in tables
        )
        digests = connection.execute(union).fetchnumpy()["digest"]
        return np.sort(np.asarray(digests, dtype=np.uint64))

    def _candidates(self, event_ids: list[str]) -> list[str]:
        """The ids whose digest a stored event has: the only ones that may be stored."""
        stored = self._digests
        if stored is None:
            return event_ids
        if not len(stored):
            return []
        import numpy as np

        wanted = np.fromiter((_digest(i) for i in event_ids), dtype=np.uint64, count=len(event_ids))
        positions = np.minimum(np.searchsorted(stored, wanted), len(stored) - 1)
        matches = stored[positions] == wanted
        return [event_id for event_id, match in zip(event_ids, matches, strict=True) if match]

    def __call__(self, event_ids: list[str]) -> set[str]:
        """Return the subset of `event_ids` already present in raw."""
        tables = self._open()
        if not tables or not event_ids or self._connection is None:
            return set()
        self._lookups += 1
        if self._digests is None and self._lookups > DIGESTS_AFTER_LOOKUPS:
            self._digests = self._stored_digests(self._connection, tables)
        candidates = self._candidates(event_ids)
        if not candidates:
            return set()
        union = " union all ".join(
            f"select event_id from {s.RAW_DATASET}.{table} where event_id in (select unnest($ids))"
            for table in tables
        )
        rows = self._connection.execute(union, {"ids": candidates}).fetchall()
        return {event_id for (event_id,) in rows}

    def close(self) -> None:
        """Release the read-only connection and the digests."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._tables = None
        self._digests = None
        self._lookups = 0
