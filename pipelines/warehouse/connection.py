"""Open the warehouse: every DuckDB connection to it (the job's, the tests', the notebook's, the
analysts' guide's) and dlt's destination for it are made here, for a DuckDB file and for a
DuckLake alike.

A lake is attached under the name `lake` and made the default database (`USE lake`), so the
same SQL (`raw.x`, `marts.y`) runs on both. Extensions are loaded from their packages (see
`extensions`), bucket keys become DuckDB secrets of the connection, and so does a PostgreSQL
catalog's password: never in the attach string, so never in an error, a log line or dlt's trace.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs.connection_string_credentials import (
    ConnectionStringCredentials,
)
from dlt.common.destination import Destination
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
from dlt.destinations.impl.ducklake.configuration import DuckLakeCredentials

from pipelines import settings as s
from pipelines.warehouse.extensions import OFFLINE_CONFIG, lake_extensions, load_statements
from pipelines.warehouse.location import LAKE_ALIAS, Warehouse, parse_warehouse

# DuckLake's metadata tables in a PostgreSQL catalog live in this schema (dlt and every
# connection of ours name it, so they always meet the same lake)
METADATA_SCHEMA = "ducklake"
# bucket credentials of a lake's data path: [warehouse.storage.credentials] in
# .dlt/secrets.toml, or WAREHOUSE__STORAGE__CREDENTIALS__AWS_ACCESS_KEY_ID and the like
STORAGE_SECTIONS = ("warehouse", "storage")
# the secret the postgres extension applies to every PostgreSQL connection of a DuckDB session
# (a catalog's password; see `catalog_secret_statements`)
CATALOG_SECRET = "__default_postgres"


def as_warehouse(database: Warehouse | str | Path) -> Warehouse:
    """A `Warehouse` from itself or from a `database` setting (a path or a lake spelling)."""
    return database if isinstance(database, Warehouse) else parse_warehouse(str(database))


def sql_literal(text: str) -> str:
    """`text` as a quoted SQL string literal, for the few queries that must not bind a
    parameter (see `pipelines.load.warehouse_sync.warehouse_loads`)."""
    return "'" + text.replace("'", "''") + "'"


def _memory_config(memory_limit: str | None) -> dict[str, Any]:
    return {"memory_limit": memory_limit} if memory_limit else {}


def spill_path(warehouse: Warehouse) -> Path:
    """Where DuckDB spills beyond its memory limit: `<file>.tmp` (DuckDB's default for a
    file), and for a lake (an in-memory database, which would spill into `./.tmp`) the same
    name beside its local anchor, so `make clean` finds it."""
    anchor = warehouse.local_anchor
    return anchor.with_name(anchor.name + ".tmp")


def _lake_config(warehouse: Warehouse, memory_limit: str | None) -> dict[str, Any]:
    return {
        **OFFLINE_CONFIG,
        **_memory_config(memory_limit),
        "temp_directory": str(spill_path(warehouse)),
    }


def _is_bucket(url: str) -> bool:
    return "://" in url and not url.startswith("file://")


@functools.cache
def storage_configuration(data_path: str) -> FilesystemConfiguration:
    """The data path with its credentials, resolved the dlt way (`[warehouse.storage]`)."""
    if not _is_bucket(data_path):
        return FilesystemConfiguration(bucket_url=data_path)
    return resolve_configuration(FilesystemConfiguration(data_path), sections=STORAGE_SECTIONS)


def _secret_statements(data_path: str) -> list[str]:
    """`CREATE SECRET` statements that let DuckDB read and write a bucket data path."""
    if not _is_bucket(data_path):
        return []
    storage = storage_configuration(data_path)
    return DuckDbSqlClient._build_secret_statements(
        data_path, storage.credentials, "lake_storage", "", False
    )


def _sql_text(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def catalog_secret_statements(warehouse: Warehouse) -> list[str]:
    """The PostgreSQL catalog's password as DuckDB's default postgres secret.

    The postgres extension adds a secret's keywords to the libpq string it is given, and the
    attach string stays without a password: DuckDB quotes that string whole in its errors
    ("Unable to connect to Postgres at ..."), which reach logs and dlt's trace. Without a
    configured password libpq's own `PGPASSWORD` / `~/.pgpass` apply."""
    if warehouse.catalog_kind != "postgres" or not warehouse.catalog_password:
        return []
    password = _sql_text(warehouse.catalog_password)
    return [f"create or replace secret {CATALOG_SECRET} (type postgres, password {password})"]


def attach_statement(warehouse: Warehouse, read_only: bool = False) -> str:
    """DuckDB's `ATTACH` of the lake as `lake` (no password: see `catalog_secret_statements`)."""
    data_path = warehouse.resolved_data_path
    if not _is_bucket(data_path):
        data_path = str(Path(data_path.removeprefix("file://")).resolve())
    options = [f"data_path '{data_path}'"]
    if warehouse.catalog_kind == "sqlite":
        target = f"ducklake:sqlite:{Path(warehouse.catalog).resolve()}"
        options += ["meta_journal_mode 'WAL'", "meta_busy_timeout 1000"]
    else:
        target = f"ducklake:postgres:{warehouse.catalog}"
        options.append(f"metadata_schema '{METADATA_SCHEMA}'")
    if read_only:
        options.append("read_only")
    target = target.replace("'", "''")
    return f"attach '{target}' as {LAKE_ALIAS} ({', '.join(options)})"


def lake_setup_statements(warehouse: Warehouse, read_only: bool = False) -> list[str]:
    """What a fresh DuckDB session runs to reach the lake: load the extensions, create the
    bucket secret, attach the lake and make it the default database."""
    data_path = warehouse.resolved_data_path
    return [
        *load_statements(lake_extensions(str(warehouse.catalog_kind), data_path)),
        *_secret_statements(data_path),
        *catalog_secret_statements(warehouse),
        attach_statement(warehouse, read_only),
        f"use {LAKE_ALIAS}",
    ]


def connect(
    database: Warehouse | str | Path,
    read_only: bool = False,
    memory_limit: str | None = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse; `memory_limit=None` keeps DuckDB's default.

    A lake is attached read-only when `read_only`: such a connection can query every table
    and takes no lock, so it never blocks a run."""
    warehouse = as_warehouse(database)
    if not warehouse.is_lake:
        config = {**OFFLINE_CONFIG, **_memory_config(memory_limit)}
        return duckdb.connect(str(warehouse.path), read_only=read_only, config=config)
    connection = duckdb.connect(":memory:", config=_lake_config(warehouse, memory_limit))
    try:
        for statement in lake_setup_statements(warehouse, read_only):
            connection.execute(statement)
    except BaseException:
        connection.close()
        raise
    return connection


# DuckDB's words when a read-only attach finds a PostgreSQL catalog that holds no DuckLake yet
_NO_LAKE_YET = "creating a new DuckLake is explicitly disabled"


@contextmanager
def read_existing(database: Warehouse | str | Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection to the warehouse, or None when there is none yet: no file, or a
    PostgreSQL catalog in which no run created the lake (a read-only attach does not)."""
    warehouse = as_warehouse(database)
    if not warehouse.exists():
        yield None
        return
    try:
        connection = connect(warehouse, read_only=True, memory_limit=None)
    except duckdb.InvalidInputException as exc:
        if _NO_LAKE_YET not in str(exc):
            raise
        yield None
        return
    try:
        yield connection
    finally:
        connection.close()


class _LibpqString(str):
    """A libpq `key=value` string where dlt expects a URL object (`render_as_string`)."""

    def render_as_string(self, hide_password: bool = True) -> str:
        """The string itself: it never holds a password."""
        return str(self)


@configspec(init=False)
class PostgresCatalogCredentials(ConnectionStringCredentials):
    """A PostgreSQL catalog as dlt's ducklake destination attaches it: a libpq `key=value`
    string without a password, not dlt's URL (`postgres://user:password@host/db`).

    The postgres extension merges its secret (the password, `catalog_secret_statements`) only
    into a `key=value` string, and DuckDB quotes the attach string whole in its errors, which
    dlt keeps in its trace."""

    def to_url(self) -> Any:
        """The libpq string (dlt calls `render_as_string` on it)."""
        words = {
            "dbname": self.database,
            "host": self.host,
            "port": self.port,
            "user": self.username,
            **self.get_query(),
        }
        return _LibpqString(
            " ".join(f"{key}={shlex.quote(str(value))}" for key, value in words.items() if value)
        )

    def __str__(self) -> str:
        return str(self.to_url())


def _lake_credentials(warehouse: Warehouse, memory_limit: str | None) -> DuckLakeCredentials:
    if warehouse.catalog_kind == "sqlite":
        catalog = ConnectionStringCredentials(
            {"drivername": "sqlite", "database": str(Path(warehouse.catalog).resolve())}
        )
    else:
        params = dict(warehouse.postgres_params)
        catalog = PostgresCatalogCredentials(
            {
                "drivername": "postgres",
                "database": params.pop("dbname"),
                "host": params.pop("host", None),
                "port": int(params.pop("port")) if "port" in params else None,
                "username": params.pop("user", None),
                "query": params or None,
            }
        )
        catalog.resolve()  # kept as it is by dlt's resolution (not copied into its base class)
    data_path = warehouse.resolved_data_path
    if not _is_bucket(data_path):
        storage: Any = str(Path(data_path.removeprefix("file://")).resolve())
    else:
        storage = storage_configuration(data_path)
    credentials = DuckLakeCredentials(
        LAKE_ALIAS, metadata_schema=METADATA_SCHEMA, catalog=catalog, storage=storage
    )
    # dlt loads an extension with `LOAD <name>`: a quoted path loads it from its package
    credentials.extensions = [
        statement.removeprefix("load ")
        for statement in load_statements(lake_extensions(str(warehouse.catalog_kind), data_path))
    ]
    credentials.global_config = _lake_config(warehouse, memory_limit)
    # run on every connection dlt opens, before its ATTACH (a secret field: dlt's trace hides it)
    credentials.statements = catalog_secret_statements(warehouse) or None
    return credentials


def dlt_destination(
    database: Warehouse | str | Path, memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT
) -> Destination:
    """dlt's destination writing to the warehouse's `raw` dataset: `duckdb` for a file,
    `ducklake` for a lake."""
    warehouse = as_warehouse(database)
    if not warehouse.is_lake:
        credentials = DuckDbCredentials(
            str(warehouse.path),
            global_config={"memory_limit": memory_limit, "threads": s.LOAD_DUCKDB_THREADS},
        )
        return dlt.destinations.duckdb(credentials)
    return dlt.destinations.ducklake(credentials=_lake_credentials(warehouse, memory_limit))
