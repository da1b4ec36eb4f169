"""Staging appended, not rebuilt: only the raw events loaded since the last build are read.

Every staging model has rows of one raw event each (the event, its participants, its answers,
the translations of its objects): the rows a full rebuild would give for the events of earlier
loads never change while raw only grows, so a build can add the rows of the new events, then
recompute the per-request models for the requests with new events (`pipelines.marts.keyed`)
and rebuild the other intermediate and marts models from the whole of staging. At a million
events staging was three quarters of a build, and a scheduled run that added 1% of the events
rebuilt all of it.

The build records where raw stood (`RawMark`: the newest completed load it read, and a
fingerprint of the event rows up to it and of the child rows under them). The next build
appends only when all of these hold, and rebuilds everything otherwise (`check_appendable`,
and the runner's `_try_appending`):

- the same models, checks, settings and job code as the last build (the runner's
  `_definition_key`);
- the last build read only completed loads: a load that a killed run left half in raw (one
  table chain merged, not the next) is read again whole by the next build;
- raw's event rows up to that load are the ones it read: none replaced (dlt's merge gives a
  re-delivered id a new row and a new load id), none removed, none added late, and no child
  row removed or added under them;
- at most `APPEND_MAX_SHARE` new events per event built before;
- every staging table exists, with the columns its model returns now.

The appended rows go through every data check of the build: a key check finds any row appended
twice, `raw_events_reach_staging` any event missed. The runner rebuilds everything when a check
or a query of an appended build fails. Loads without a new event rebuild nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import duckdb

from pipelines import settings as s

log = logging.getLogger(__name__)

# the raw tables whose rows belong to one event each: the event tables and their child
# tables. Translation sets are read whole (an event may use a set stored by an earlier load),
# and are not marked: a run stores again the sets it meets (the same content, new rows)
EVENT_ROOTS = (s.CALLBACK_REQUEST_EVENTS, s.APPOINTMENT_EVENTS)
# appending holds every staging model's new rows at once (temp tables, then one insert each in
# the commit), and the recomputed rows of the requests they belong to (pipelines.marts.keyed:
# at most the events of as many requests as there are new events), a full build one model at
# a time: many new events (a backfill) rebuild instead. A cap, not a measured limit: the full
# build's memory is what was measured up to 1M events
APPEND_MAX_SHARE = 0.10
DELTA_SUFFIX = "__delta"  # the temp table holding a staging model's new rows
NEW_SOURCE_PREFIX = "new_"  # `new_src_<table>`: the rows of the new events only
_SOURCE_REFERENCE = re.compile(r"\bsrc_([a-z0-9_]+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RawMark:
    """Where raw stood at a build: the newest completed load, and a fingerprint of the event
    rows up to it (per event table, the count and a sum of hashes of their `_dlt_id`s; per
    child table, the count of rows under them)."""

    load_id: str
    fingerprint: str

    @property
    def events(self) -> int:
        """The event rows up to the mark (the counts of the event tables' parts)."""
        parts = (part.split(":") for part in self.fingerprint.split(";"))
        return sum(int(part[1]) for part in parts if part[0] in EVENT_ROOTS)


def _root_of(table: str) -> str:
    return table.split("__", 1)[0]


def raw_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Every raw table with its columns."""
    tables: dict[str, set[str]] = {}
    for table, column in connection.execute(
        "select table_name, column_name from information_schema.columns"
        " where table_catalog = current_database() and table_schema = ?",
        [s.RAW_DATASET],
    ).fetchall():
        tables.setdefault(table, set()).add(column)
    return tables


def _event_tables(connection: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """raw's event tables and their child tables, with their columns."""
    return {t: c for t, c in raw_columns(connection).items() if _root_of(t) in EVENT_ROOTS}


def _fingerprint(
    connection: duckdb.DuckDBPyConnection, load_id: str, tables: dict[str, set[str]]
) -> str | None:
    """The fingerprint of raw's event rows up to `load_id` (see `RawMark`), or None when a
    child table has no `_dlt_root_id` (its new rows cannot be told apart)."""
    parts = []
    for root in EVENT_ROOTS:
        count, total = 0, "0"
        if root in tables:
            count, total = connection.execute(
                f"select count(*), coalesce(sum(hash(_dlt_id)), 0)::varchar"
                f" from {s.RAW_DATASET}.{root} where _dlt_load_id <= ?",
                [load_id],
            ).fetchall()[0]
        parts.append(f"{root}:{count}:{total}")
    for table in sorted(set(tables) - set(EVENT_ROOTS)):
        if "_dlt_root_id" not in tables[table]:
            return None
        root = _root_of(table)
        if root not in tables:
            return None
        # rows under the events up to the mark: a child row removed or added under an earlier
        # event (a resumed load's replayed rows removed, a hand edit) changes the count
        (count,) = connection.execute(
            f"select count(*) from {s.RAW_DATASET}.{table} where _dlt_root_id not in"
            f" (select _dlt_id from {s.RAW_DATASET}.{root} where _dlt_load_id > ?)",
            [load_id],
        ).fetchall()[0]
        if count:  # a table that only new events fill is no change
            parts.append(f"{table}:{count}")
    return ";".join(parts)


_COMPLETED_LOADS = f"select load_id from {s.RAW_DATASET}._dlt_loads where status = 0"


def current_mark(connection: duckdb.DuckDBPyConnection) -> RawMark | None:
    """The mark of raw as it is now, or None when a build cannot be appended to: no completed
    load, or rows of a load that is not completed (a killed run's, to be resumed)."""
    tables = _event_tables(connection)
    if not connection.execute(
        "select count(*) from information_schema.tables where table_catalog ="
        " current_database() and table_schema = ? and table_name = '_dlt_loads'",
        [s.RAW_DATASET],
    ).fetchall()[0][0]:
        return None
    (load_id,) = connection.execute(f"select max(load_id) from ({_COMPLETED_LOADS})").fetchall()[0]
    if load_id is None:
        return None
    for root in EVENT_ROOTS:
        if root in tables:
            (incomplete,) = connection.execute(
                f"select count(*) from {s.RAW_DATASET}.{root}"
                f" where _dlt_load_id not in ({_COMPLETED_LOADS})"
            ).fetchall()[0]
            if incomplete:
                return None
    fingerprint = _fingerprint(connection, load_id, tables)
    return None if fingerprint is None else RawMark(load_id, fingerprint)


@dataclass(frozen=True)
class AppendCheck:
    """Whether staging can be appended to: `reason` why not (None: it can), and how many
    events were loaded since the mark."""

    reason: str | None
    new_events: int = 0


def check_appendable(
    connection: duckdb.DuckDBPyConnection,
    mark: RawMark | None,
    max_share: float = APPEND_MAX_SHARE,
) -> AppendCheck:
    """Whether the rows of the events loaded after `mark` can be appended to staging: raw's
    rows up to it unchanged, and at most `max_share` new events per event built before."""
    if mark is None:
        return AppendCheck(
            "the last build left no mark of raw (it read a load not yet completed, or none)"
        )
    tables = _event_tables(connection)
    if _fingerprint(connection, mark.load_id, tables) != mark.fingerprint:
        return AppendCheck(
            "raw's events up to the last build changed (replaced, removed or added late)"
        )
    marked, new = mark.events, 0  # the fingerprint matched: its counts are raw's
    for root in EVENT_ROOTS:
        if root in tables:
            (after,) = connection.execute(
                f"select count(*) from {s.RAW_DATASET}.{root} where _dlt_load_id > ?",
                [mark.load_id],
            ).fetchall()[0]
            new += after
    if new > max_share * marked:
        return AppendCheck(
            f"{new} new events, more than {max_share:.0%} of the {marked} built before"
            " (a full build holds one model at a time)",
            new,
        )
    return AppendCheck(None, new)


def create_new_source_views(
    connection: duckdb.DuckDBPyConnection, tables: list[str], mark: RawMark
) -> None:
    """`new_src_<table>` for each contract table: `src_<table>` restricted to the events loaded
    after `mark` (an event table by load id, its child tables by root row), every other
    table whole."""
    present = _event_tables(connection)
    for table in tables:
        root = _root_of(table)
        view = f"src_{table}"
        if root not in EVENT_ROOTS or table not in present or root not in present:
            body = f"select * from {view}"
        elif table == root:
            body = f"select * from {view} where _dlt_load_id > {_literal(mark.load_id)}"
        else:
            body = (
                f"select * from {view} where _dlt_root_id in (select _dlt_id from"
                f" {s.RAW_DATASET}.{root} where _dlt_load_id > {_literal(mark.load_id)})"
            )
        connection.execute(f"create or replace temp view {NEW_SOURCE_PREFIX}{view} as {body}")


def delta_sql(sql: str, staging_tables: dict[str, str]) -> str:
    """A staging model's SQL reading the new events only: `src_<t>` -> `new_src_<t>`, and the
    staging models it reads -> their delta tables (`staging_tables`: model -> delta)."""
    sql = _SOURCE_REFERENCE.sub(lambda m: f"{NEW_SOURCE_PREFIX}src_{m[1]}", sql)
    for table, delta in staging_tables.items():
        sql = re.sub(rf"\b{re.escape(table)}\b", delta, sql, flags=re.IGNORECASE)
    return sql


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
