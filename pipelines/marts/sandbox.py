"""Run models in a throwaway in-memory DuckDB: no warehouse, no dlt load.

- `built_columns()`: every model built on empty `src_` views, for the names and types of the
  columns it builds (the catalog shows them when the warehouse is not built yet, and the
  tests check the model docs against them);
- `run_model()`: one model's SQL on a few literal rows given for its inputs (`src_` views or
  upstream models), for SQL unit tests.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from pipelines.marts.runner import (
    LAYERS,
    TRANSFORMS_DIR,
    Model,
    _raw_contract,
    _register_functions,
    _source_view_sql,
    discover_models,
    order_models,
)
from pipelines.marts.transform_settings import TransformSettings
from pipelines.warehouse.connection import connect

Rows = list[dict[str, Any]]


@contextlib.contextmanager
def _session(settings: TransformSettings) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(":memory:", memory_limit=None)  # a throwaway database, not the warehouse
    try:
        _register_functions(connection, settings)
        connection.execute("set TimeZone = 'UTC'")
        for layer in LAYERS:
            connection.execute(f"create schema {layer}")
        yield connection
    finally:
        connection.close()


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    schema, name = table.split(".")
    return [
        (column, kind)
        for column, kind in connection.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def built_columns(
    transforms_dir: Path = TRANSFORMS_DIR, settings: TransformSettings | None = None
) -> dict[str, list[tuple[str, str]]]:
    """`layer.name` -> [(column, DuckDB type)] of every model, built on empty sources."""
    files = tuple(
        (path, path.stat().st_mtime_ns)
        for path in sorted(transforms_dir.rglob("*"))
        if path.is_file()
    )
    built = _built_columns(transforms_dir, settings or TransformSettings(), files)
    return {table: list(columns) for table, columns in built.items()}


@functools.lru_cache(maxsize=8)
def _built_columns(
    transforms_dir: Path, settings: TransformSettings, files: tuple[object, ...]
) -> dict[str, tuple[tuple[str, str], ...]]:
    with _session(settings) as connection:
        for table, contract in _raw_contract(transforms_dir).items():
            body = _source_view_sql(table, contract, None)
            connection.execute(f"create temp view src_{table} as {body}")
        result = {}
        for model in order_models(discover_models(transforms_dir)):
            connection.execute(f"create table {model.table} as {model.sql}")
            result[model.table] = tuple(_columns(connection, model.table))
        return result


def _insert(
    connection: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], rows: Rows
) -> None:
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"{table} has no columns {sorted(unknown)}")
        names = ", ".join(f'"{name}"' for name in row)
        marks = ", ".join("?" for _ in row)
        connection.execute(f"insert into {table} ({names}) values ({marks})", list(row.values()))


def run_model(
    model: str,
    inputs: dict[str, Rows],
    *,
    settings: TransformSettings | None = None,
    transforms_dir: Path = TRANSFORMS_DIR,
) -> Rows:
    """The rows `model` (`layer.name` or `name`) builds from `inputs`.

    `inputs` maps a source view (`src_<raw table>`) or an upstream model (`layer.name`) to
    its rows, each a dict of only the columns that matter: the others are null, and every
    input not given is empty. Columns are typed as the raw contract or the upstream model
    says (a timestamp may be given as ISO text)."""
    models = {m.table: m for m in discover_models(transforms_dir)}
    target: Model = models.get(model) or next((m for m in models.values() if m.name == model), None)  # type: ignore[assignment]
    if target is None:
        raise KeyError(f"unknown model {model}")
    types = built_columns(transforms_dir, settings)
    contract = _raw_contract(transforms_dir)
    unknown = {name for name in inputs if name.removeprefix("src_") not in contract} - set(types)
    if unknown:
        raise KeyError(f"unknown inputs {sorted(unknown)}")
    with _session(settings or TransformSettings()) as connection:
        for table, columns in contract.items():
            spec = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
            connection.execute(f"create temp table src_{table} ({spec})")
            _insert(connection, f"src_{table}", columns, inputs.get(f"src_{table}", []))
        for upstream in sorted(target.depends_on):
            columns = dict(types[upstream])
            spec = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
            connection.execute(f"create table {upstream} ({spec})")
            _insert(connection, upstream, columns, inputs.get(upstream, []))
        cursor = connection.execute(target.sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
