"""Read the warehouse for analysts: the notebook, the analysts' guide, `make sql`.

`configured_warehouse()` resolves the same setting as the job (`warehouse.database` in
`.dlt/config.toml`, `WAREHOUSE__DATABASE`, `warehouse.data_path`, ...) as the job would from the
repository root, wherever the caller runs (the notebook runs in `notebooks/`).

`Reader.query(sql)` returns a pandas DataFrame. On a DuckDB file it opens the file read-only,
runs the query and closes the file again, so that nothing holds the file between queries and a
scheduled run is never stopped by an open notebook. A lake is attached once, read-only, and
kept: a lake reader never blocks a run (DuckLake's snapshots), and attaching costs ~0.5 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import (
    ConfigTomlProvider,
    EnvironProvider,
    SecretsTomlProvider,
)
from dlt.common.configuration.specs.config_providers_context import ConfigProvidersContainer
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from pipelines.common.errors import EXIT_SOURCE, ExpectedFailure
from pipelines.config import warehouse_location
from pipelines.warehouse.connection import connect
from pipelines.warehouse.location import LAKE_PREFIX, Warehouse

if TYPE_CHECKING:  # pandas is imported by DuckDB when a result is asked for
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]
# every reader's session: days and weeks in UTC, like the marts
DEFAULT_SETUP = ("set TimeZone = 'UTC'",)


@contextlib.contextmanager
def _settings_of(root: Path) -> Iterator[None]:
    """dlt's providers as the job at `root` sees them: the environment, then `root/.dlt`."""
    run_context = Container()[PluggableRunContext]
    settings_dir = str(root / ".dlt")
    global_dir = run_context.context.global_dir
    saved = run_context.providers
    run_context.providers = ConfigProvidersContainer(
        [
            EnvironProvider(),
            SecretsTomlProvider(settings_dir, global_dir),
            ConfigTomlProvider(settings_dir, global_dir),
        ]
    )
    try:
        yield
    finally:
        run_context.providers = saved


def _anchored(path: str, root: Path) -> str:
    """A local path relative to `root`; URLs and absolute paths unchanged."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str(root / path)


def configured_warehouse(
    database: str | Path | None = None,
    data_path: str | None = None,
    root: Path = REPO_ROOT,
) -> Warehouse:
    """The warehouse the job run from `root` would use, local paths made absolute.

    `database` and `data_path` override the settings as `--database` and `--data-path` do,
    and are relative to `root` too."""
    with _settings_of(root):
        warehouse = warehouse_location(str(database) if database else None, data_path)
    if not warehouse.is_lake:
        return dataclasses.replace(warehouse, setting=_anchored(warehouse.setting, root))
    if warehouse.catalog_kind == "sqlite":
        setting = f"{LAKE_PREFIX}sqlite:{_anchored(warehouse.catalog, root)}"
        warehouse = dataclasses.replace(warehouse, setting=setting)
    if warehouse.data_path:
        warehouse = dataclasses.replace(warehouse, data_path=_anchored(warehouse.data_path, root))
    return warehouse


def missing_warehouse(warehouse: Warehouse) -> ExpectedFailure | None:
    """A one-line failure when the warehouse was never built (file or SQLite catalog)."""
    if warehouse.exists():
        return None
    return ExpectedFailure(
        EXIT_SOURCE, f"no warehouse at {warehouse.display}: run `make run` first"
    )


def to_dataframe(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """`relation.df()` without the warning DuckDB 1.5's pandas conversion of `timestamp with
    time zone` columns triggers in pandas 3.1 (its own `DataFrame.drop(inplace=True)`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The inplace keyword in DataFrame.drop is deprecated"
        )
        return relation.df()


class Reader:
    """Queries on the warehouse, read-only; a file is held only while a query runs.

    `setup` runs at the start of every session (file: every query), e.g. temp views."""

    def __init__(
        self,
        database: Warehouse | str | Path | None = None,
        data_path: str | None = None,
        setup: Sequence[str] = DEFAULT_SETUP,
    ) -> None:
        if isinstance(database, Warehouse):
            self.warehouse = database
        else:
            self.warehouse = configured_warehouse(database, data_path)
        self.setup = list(setup)
        self._lake: duckdb.DuckDBPyConnection | None = None

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for a few queries in a row; a file is closed afterwards."""
        if self.warehouse.is_lake:
            if self._lake is None:
                self._lake = self._open()
            yield self._lake
            return
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        failure = missing_warehouse(self.warehouse)
        if failure is not None:
            raise FileNotFoundError(failure.message)
        con = connect(self.warehouse, read_only=True, memory_limit=None)
        try:
            for statement in self.setup:
                con.execute(statement)
        except BaseException:
            con.close()
            raise
        return con

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run `sql` (`?` placeholders take `params`) and return the whole result."""
        with self.connection() as con:
            return to_dataframe(con.sql(sql, params=params))

    def close(self) -> None:
        """Detach a lake (a file is never held between queries)."""
        if self._lake is not None:
            self._lake.close()
            self._lake = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def query(sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """One query on the configured warehouse (opened and closed again), as a DataFrame."""
    with Reader() as reader:
        return reader.query(sql, params)
