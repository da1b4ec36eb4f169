"""Floor (c): DuckDB's own JSON reader plus UNNEST of every nested array, deduplicated by id.

Usage: python bench/duckdb_native.py ARCHIVE DATABASE

One `read_json` reads every archive file (.json, .jsonl, .ndjson, gzipped or not) with
`union_by_name` (without it DuckDB types columns from a sample of the first files and
silently nulls values of fields that were always null there, e.g. `employee.deletedAt`).
One row per envelope `id` is kept; events are split by entity into `callback_request_events`
and `appointment_events`; and, as dlt does, nested objects become columns
(`office__location__postal_code`) and every array a child table named like dlt's
(`callback_request_events__participants__employee__available_roles`, ...) with
`_parent_key`, `_list_idx` and `_key`. As the job does, every `translations` object becomes
its content key (`office__translations_key`: the MD5 of its non-null fields' JSON, by field
name), and each distinct one is stored once in `translation_sets` (`translations_key`) with a
child table per translated field (`translation_sets__name`, ...). So this does the work of the
job's raw layer, in SQL.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
from duckdb.sqltypes import DuckDBPyType

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
Columns = list[tuple[str, Path_]]
Arrays = list[tuple[str, Path_, DuckDBPyType]]
# (column, path, struct type) of each `translations` object
Sets = list[tuple[str, Path_, DuckDBPyType]]
TRANSLATIONS = "translations"
TRANSLATION_SETS = "translation_sets"


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


def walk(type_: DuckDBPyType, path: Path_ = ()) -> tuple[Columns, Arrays, Sets]:
    """Flatten a struct type: (column, path) for each leaf, (name, path, item type) per array,
    (key column, path, type) per `translations` object (not flattened: see `set_key`)."""
    columns: Columns = []
    arrays: Arrays = []
    sets: Sets = []
    for name, child in type_.children:
        child_path = (*path, name)
        column = "__".join(snake(part) for part in child_path)
        if name == TRANSLATIONS and child.id == "struct":
            sets.append((f"{column}_key", child_path, child))
        elif child.id == "struct":
            more_columns, more_arrays, more_sets = walk(child, child_path)
            columns += more_columns
            arrays += more_arrays
            sets += more_sets
        elif child.id == "list":
            arrays.append((column, child_path, child.child))
        else:
            columns.append((column, child_path))
    return columns, arrays, sets


def set_key(base: str, path: Path_, type_: DuckDBPyType) -> str:
    """SQL for the content key of the translations struct at `path`: equal non-null fields,
    equal key, whatever struct type (owner) holds them; null when the object is."""
    parts = []
    for name, _ in sorted(type_.children):
        value = field(base, (*path, name))
        label = ('"' + name + '":').replace("'", "''")
        parts.append(f"case when {value} is not null then '{label}' || to_json({value}) end")
    return f"case when {field(base, path)} is not null then md5(concat_ws(',', {', '.join(parts)})) end"


def _select_keys(base: str, sets: Sets) -> list[str]:
    return [f"{set_key(base, p, t)} as {quote(c)}" for c, p, t in sets]


def build_children(
    con: duckdb.DuckDBPyConnection,
    parent: str,
    source: str,
    arrays: Arrays,
    set_sources: list[tuple[str, Path_, DuckDBPyType]],
) -> None:
    """One table per array of the parent's items; recurse into arrays of the arrays' items.

    `source` is a subquery of the parent's rows with columns `_key` and `item`. Rows of a table
    that exists already (a translated field of a second kind of owner) are added to it.
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
            columns, child_arrays, child_sets = walk(item_type)
        else:
            columns, child_arrays, child_sets = [("value", ())], [], []
        select = [f"{field('item', p)} as {quote(c)}" for c, p in columns]
        select += _select_keys("item", child_sets)
        rows = f"select _parent_key, _list_idx, _key, {', '.join(select)} from {child_source}"
        if table in _tables(con):
            con.execute(f"insert into {quote(table)} by name {rows}")
        else:
            con.execute(f"create table {quote(table)} as {rows}")
        set_sources.extend((child_source, p, t) for _, p, t in child_sets)
        build_children(con, table, child_source, child_arrays, set_sources)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()}


def build_translation_sets(
    con: duckdb.DuckDBPyConnection, set_sources: list[tuple[str, Path_, DuckDBPyType]]
) -> None:
    """`translation_sets`: each distinct translations object once, and its translated fields.

    `set_sources` are (subquery with column `item`, path of the struct in it, struct type).
    Each set is taken from the first source that holds it (all hold the same content).
    """
    if not set_sources:
        return
    for i, (source, path, type_) in enumerate(set_sources):
        con.execute(
            f"create temp table _sets_{i} as select distinct on (k) k, t from"
            f" (select {set_key('item', path, type_)} as k, {field('item', path)} as t"
            f" from {source}) where k is not null"
        )
    keys = " union all ".join(f"select k, {i} as i from _sets_{i}" for i in range(len(set_sources)))
    con.execute(f"create temp table _set_owner as select k, min(i) as i from ({keys}) group by k")
    con.execute(
        f"create table {TRANSLATION_SETS} as select k as translations_key, k as _key"
        " from _set_owner order by k"
    )
    for i, (_, _, type_) in enumerate(set_sources):
        _, arrays, _ = walk(type_)
        source = (
            f"(select k as _key, t as item from _sets_{i} join _set_owner using (k) where i = {i})"
        )
        build_children(con, TRANSLATION_SETS, source, arrays, [])
        con.execute(f"drop table _sets_{i}")
    con.execute("drop table _set_owner")


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
    set_sources: list[tuple[str, Path_, DuckDBPyType]] = []
    for entity, (table, payload) in ENTITIES.items():
        if payload not in data_fields:
            continue  # no event of this entity in the archive
        columns, arrays, sets = walk(data_fields[payload])
        where = f"entity = '{entity}'"
        source = f"(select id as _key, data.{quote(payload)} as item from events where {where})"
        envelope = [f"{quote(k)} as {v}" for k, v in ENVELOPE.items()]
        select = envelope + [
            f"{field('data', (payload, *p))} as {quote(snake(payload) + '_id' if c == 'id' else c)}"
            for c, p in columns
        ]
        select += _select_keys(f"data.{quote(payload)}", sets)
        set_sources.extend((source, p, t) for _, p, t in sets)
        for name, type_ in data_fields.items():
            if name == payload or not _present(con, f"data.{quote(name)}", where):
                continue  # e.g. `appointment` in callback request events
            if type_.id == "struct":
                more_columns, _, more_sets = walk(type_, (name,))
                select += [f"{field('data', p)} as {quote(c)}" for c, p in more_columns]
                select += _select_keys("data", more_sets)
                extras = f"(select data as item from events where {where})"
                set_sources.extend((extras, p, t) for _, p, t in more_sets)
            else:
                select.append(f"{field('data', (name,))} as {quote(snake(name))}")
        con.execute(f"create table {table} as select {', '.join(select)} from events where {where}")
        build_children(con, table, source, arrays, set_sources)
    build_translation_sets(con, set_sources)
    con.close()


def main() -> None:
    """Command line: ARCHIVE DATABASE."""
    load(Path(sys.argv[1]), sys.argv[2])


if __name__ == "__main__":
    main()
