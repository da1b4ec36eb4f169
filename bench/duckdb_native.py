"""Floor (c): DuckDB's own JSON reader plus UNNEST of every nested array, deduplicated by id.

Usage: python bench/duckdb_native.py ARCHIVE DATABASE

One `read_json` reads every archive file (.json, .jsonl, .ndjson, gzipped or not) with
`union_by_name` (without it DuckDB types columns from a sample of the first files and
silently nulls values of fields that were always null there, e.g. `employee.deletedAt`).
One row per envelope `id` is kept; events are split by entity into `callback_request_events`
and `appointment_events`; and, as dlt does, nested objects become columns
(`office__location__postal_code`) and every array a child table named like dlt's
(`callback_request_events__participants__employee__available_roles`, ...) with
`_parent_key`, `_list_idx` and `_key`. So this does the work of the job's raw layer, in SQL.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb

SUFFIXES = (".json", ".jsonl", ".ndjson")
MAX_OBJECT_BYTES = 64 * 1024 * 1024
# envelope `entity` -> (root table, payload key inside `data`)
ENTITIES = {
    "Callback Request": ("callback_request_events", "callbackRequest"),
    "Appointment": ("appointment_events", "appointment"),
}
ENVELOPE = {
    "id": "event_id",
    "correlationId": "correlation_id",
    "entity": "entity",
    "version": "version",
    "webhookConfigurationId": "webhook_configuration_id",
}
_BREAK_1 = re.compile("([^_])([A-Z][a-z]+)")
_BREAK_2 = re.compile("([a-z0-9])([A-Z])")

Path_ = tuple[str, ...]


def snake(name: str) -> str:
    """dlt's snake_case for the identifiers of this archive (camelCase -> camel_case)."""
    return _BREAK_2.sub(r"\1_\2", _BREAK_1.sub(r"\1_\2", name)).lower()


def quote(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def field(base: str, path: Path_) -> str:
    """SQL for the struct field at `path` below `base`."""
    return base + "".join(f".{quote(part)}" for part in path)


def archive_files(archive: Path) -> list[str]:
    """Every file the job would read: .json/.jsonl/.ndjson, optionally .gz, not hidden."""
    return sorted(
        str(path)
        for path in archive.rglob("*")
        if path.is_file()
        and not path.name.startswith(".")
        and path.name.lower().removesuffix(".gz").endswith(SUFFIXES)
    )


def walk(
    type_: duckdb.DuckDBPyType, path: Path_ = ()
) -> tuple[list[tuple[str, Path_]], list[tuple[str, Path_, duckdb.DuckDBPyType]]]:
    """Flatten a struct type: (column, path) for each leaf, (name, path, item type) per array."""
    columns: list[tuple[str, Path_]] = []
    arrays: list[tuple[str, Path_, duckdb.DuckDBPyType]] = []
    for name, child in type_.children:
        child_path = (*path, name)
        column = "__".join(snake(part) for part in child_path)
        if child.id == "struct":
            more_columns, more_arrays = walk(child, child_path)
            columns += more_columns
            arrays += more_arrays
        elif child.id == "list":
            arrays.append((column, child_path, child.child))
        else:
            columns.append((column, child_path))
    return columns, arrays


def build_children(
    con: duckdb.DuckDBPyConnection,
    parent: str,
    source: str,
    arrays: list[tuple[str, Path_, duckdb.DuckDBPyType]],
) -> None:
    """One table per array of the parent's items; recurse into arrays of the arrays' items.

    `source` is a subquery of the parent's rows with columns `_key` and `item`.
    """
    for name, path, item_type in arrays:
        table = f"{parent}__{name}"
        items = field("item", path)
        # select-list unnest: a lateral `unnest(...) with ordinality` is ~100x slower here
        child_source = (
            "(select _parent_key, _list_idx, _parent_key::varchar || '/' || _list_idx::varchar"
            f" as _key, item from (select _key as _parent_key, unnest({items}) as item,"
            f" generate_subscripts({items}, 1) - 1 as _list_idx from {source}))"
        )
        if item_type.id == "struct":
            columns, child_arrays = walk(item_type)
        else:
            columns, child_arrays = [("value", ())], []
        select = ", ".join(f"{field('item', p)} as {quote(c)}" for c, p in columns)
        con.execute(
            f"create table {quote(table)} as"
            f" select _parent_key, _list_idx, _key, {select} from {child_source}"
        )
        build_children(con, table, child_source, child_arrays)


def _present(con: duckdb.DuckDBPyConnection, expr: str, where: str) -> bool:
    return con.execute(f"select count({expr}) > 0 from events where {where}").fetchone()[0]


def load(archive: Path, database: str) -> None:
    """Read every file, keep one row per event id, unnest the arrays into tables."""
    files = archive_files(archive)
    con = duckdb.connect(database)
    con.execute(
        "create temp table events as select * from read_json(?, format = 'auto',"
        f" union_by_name = true, maximum_object_size = {MAX_OBJECT_BYTES})"
        " qualify row_number() over (partition by id) = 1",
        [files],
    )
    events = con.sql("from events limit 0")
    data_fields = dict(events.types[events.columns.index("data")].children)
    for entity, (table, payload) in ENTITIES.items():
        if payload not in data_fields:
            continue  # no event of this entity in the archive
        columns, arrays = walk(data_fields[payload])
        envelope = [f"{quote(k)} as {v}" for k, v in ENVELOPE.items()]
        select = envelope + [
            f"{field('data', (payload, *p))} as {quote(snake(payload) + '_id' if c == 'id' else c)}"
            for c, p in columns
        ]
        where = f"entity = '{entity}'"
        for name, type_ in data_fields.items():
            if name == payload or not _present(con, f"data.{quote(name)}", where):
                continue  # e.g. `appointment` in callback request events
            if type_.id == "struct":
                more_columns, _ = walk(type_, (name,))
                select += [f"{field('data', p)} as {quote(c)}" for c, p in more_columns]
            else:
                select.append(f"{field('data', (name,))} as {quote(snake(name))}")
        con.execute(f"create table {table} as select {', '.join(select)} from events where {where}")
        source = f"(select id as _key, data.{quote(payload)} as item from events where {where})"
        build_children(con, table, source, arrays)
    con.close()


def main() -> None:
    """Command line: ARCHIVE DATABASE."""
    load(Path(sys.argv[1]), sys.argv[2])


if __name__ == "__main__":
    main()
