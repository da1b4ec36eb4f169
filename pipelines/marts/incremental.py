"""Staging appended, not rebuilt: only the raw events loaded since the last build are read.

Every staging model has rows of one raw event each (the event, its participants, its answers,
the translations of its objects): the rows a full rebuild would give for the events of earlier
loads never change while raw only grows, so a build can add the rows of the new events and
rebuild intermediate and marts from the whole of staging. At a million events staging was
three quarters of a build, and a scheduled run that added 1% of the events rebuilt all of it.

The build records where raw stood (`RawMark`: the newest completed load it read, and a count
and fingerprint of every event row up to it). The next build appends only when all of these
hold, and rebuilds everything otherwise:

- the same models, checks and settings as the last build (`definition_key`);
- the last build read only completed loads: a load that a killed run left half in raw (one
  table chain merged, not the next) is read again whole by the next build;
- raw's event rows up to that load are the ones it read: none replaced (dlt's merge gives a
  re-delivered id a new row and a new load id), none removed, none added late;
- every staging table exists, with the columns its model returns now.

The appended rows go through every data check of the build: a key check finds any row appended
twice, `raw_events_reach_staging` any event missed. The runner rebuilds everything when a check
of an appended build fails.
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
DELTA_SUFFIX = "__delta"  # the temp table holding a staging model's new rows
NEW_SOURCE_PREFIX = "new_"  # `new_src_<table>`: the rows of the new events only
_SOURCE_REFERENCE = re.compile(r"\bsrc_([a-z0-9_]+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RawMark:
    """Where raw stood at a build: the newest completed load, and per marked root table the
    count of rows up to it and a fingerprint of their `_dlt_id`s (event tables only)."""

    load_id: str
    fingerprint: str


def _root_of(table: str) -> str:
    return table.split("__", 1)[0]


def _present(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute(
        "select table_name from information_schema.tables"
        " where table_catalog = current_database() and table_schema = ?",
        [s.RAW_DATASET],
    ).fetchall()
    return {name for (name,) in rows}


def _fingerprint(connection: duckdb.DuckDBPyConnection, load_id: str, present: set[str]) -> str:
    parts = []
    for table in EVENT_ROOTS:
        if table in present:
            count, total = connection.execute(
                f"select count(*), coalesce(sum(hash(_dlt_id)), 0)::varchar"
                f" from {s.RAW_DATASET}.{table} where _dlt_load_id <= ?",
                [load_id],
            ).fetchall()[0]
            parts.append(f"{table}:{count}:{total}")
    return ";".join(parts)


def current_mark(connection: duckdb.DuckDBPyConnection) -> RawMark | None:
    """The mark of raw as it is now, or None when a build cannot be appended to: no completed
    load, or rows of a load that is not completed (a killed run's, to be resumed)."""
    present = _present(connection)
    if "_dlt_loads" not in present:
        return None
    completed = f"select load_id from {s.RAW_DATASET}._dlt_loads where status = 0"
    (load_id,) = connection.execute(f"select max(load_id) from ({completed})").fetchall()[0]
    if load_id is None:
        return None
    for table in EVENT_ROOTS:
        if table in present:
            (incomplete,) = connection.execute(
                f"select count(*) from {s.RAW_DATASET}.{table}"
                f" where _dlt_load_id not in ({completed})"
            ).fetchall()[0]
            if incomplete:
                log.info("raw holds rows of a load that is not completed: staging is rebuilt")
                return None
    return RawMark(load_id, _fingerprint(connection, load_id, present))


def raw_unchanged_since(connection: duckdb.DuckDBPyConnection, mark: RawMark) -> bool:
    """Whether raw's rows up to `mark` are exactly those the marked build read."""
    return _fingerprint(connection, mark.load_id, _present(connection)) == mark.fingerprint


def create_new_source_views(
    connection: duckdb.DuckDBPyConnection, tables: list[str], mark: RawMark
) -> None:
    """`new_src_<table>` for each contract table: `src_<table>` restricted to the events loaded
    after `mark` (an event table by load id, its child tables by root row), every other
    table whole."""
    present = _present(connection)
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
