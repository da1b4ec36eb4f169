"""The job's configuration, typed and resolved the dlt way (`.dlt/config.toml`,
`.dlt/secrets.toml`, environment variables), then the documented defaults.

- `WarehouseConfiguration` (with `WarehouseLocation`, its `database` alone), section `[warehouse]` (`WAREHOUSE__<FIELD>`): the warehouse, DuckDB's
  memory limit, the record size limit and the settings of the marts, the pseudonymization key
  a secret (read from `.dlt/secrets.toml` or the environment, never from `config.toml`).
- `WebhookArchiveConfiguration`, section `[sources.webhook_archive]`
  (`SOURCES__WEBHOOK_ARCHIVE__BUCKET_URL`): where the archive is.

Command-line values override both (see `pipelines.run`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigurationValueError
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from pipelines import settings as s
from pipelines.common.errors import ExpectedFailure
from pipelines.warehouse.location import Warehouse, parse_warehouse

DEFAULT_LANGUAGES = ("en", "nl", "fr", "de")
DEFAULT_CLOSING_STATUSES = ("CLOSED", "COMPLETED", "CANCELLED")
# the archive receives deliveries every business day: a weekend without any (~64 h) must not
# warn, a whole business day without any must (pipelines.marts.freshness)
DEFAULT_FRESHNESS_MAX_AGE = "3 days"


def _as_tuple(value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list from TOML, or a comma-separated string (`WAREHOUSE__LANGUAGE_PREFERENCE=en,nl`)."""
    if value in (None, "", []):
        return default
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(str(item).strip() for item in items if str(item).strip())


def _retention(value: str | None) -> str:
    """A DuckDB interval (`7 days`), else the default; not a duration: a configuration error."""
    from pipelines.warehouse.maintenance import parse_retention  # imports DuckDB: only here

    try:
        return parse_retention(value)
    except ExpectedFailure as failure:
        raise ConfigurationValueError(failure.message) from None


@configspec
class WarehouseLocation(BaseConfiguration):
    """`[warehouse] database` alone: all `make clean` needs (an empty value = the default)."""

    database: str | None = s.DEFAULT_DATABASE
    # a lake's table files (folder or bucket URL); see pipelines.warehouse.location
    data_path: str | None = None
    # a PostgreSQL catalog's password: a secret, never part of `database`
    catalog_password: TSecretStrValue | None = None

    __section__: ClassVar[str] = "warehouse"  # looked up as `warehouse.<field>` only

    def on_resolved(self) -> None:
        """An empty value falls back to the default."""
        self.database = self.database or s.DEFAULT_DATABASE
        self.data_path = self.data_path or None
        self.catalog_password = self.catalog_password or None


@configspec
class WarehouseConfiguration(WarehouseLocation):
    """`[warehouse]`: the warehouse and the settings of its marts (an empty value = default)."""

    max_record_bytes: int | None = s.DEFAULT_MAX_RECORD_BYTES
    # rows one dlt load takes; a larger first load or backfill is split (0: never split)
    max_events_per_load: int | None = s.DEFAULT_MAX_EVENTS_PER_LOAD
    duckdb_memory_limit: str | None = s.DEFAULT_DUCKDB_MEMORY_LIMIT
    # DuckDB's memory cap while the marts are built (the load's is duckdb_memory_limit)
    duckdb_build_memory_limit: str | None = s.DEFAULT_DUCKDB_BUILD_MEMORY_LIMIT
    # a TOML list or a comma-separated string; a tuple of str once resolved
    language_preference: Any | None = DEFAULT_LANGUAGES
    closing_statuses: Any | None = DEFAULT_CLOSING_STATUSES
    # the run warns when the newest event is older than this (see pipelines.marts.freshness)
    freshness_max_age: str | None = DEFAULT_FRESHNESS_MAX_AGE
    # a secret: never in a repr, a log line or an error (None: the development key is used)
    pseudonymization_key: TSecretStrValue | None = None
    # a lake's time travel window (DuckDB interval text); older snapshots are expired
    snapshot_retention: str | None = s.DEFAULT_SNAPSHOT_RETENTION

    def on_resolved(self) -> None:
        """Empty values fall back to the defaults; lists become tuples, normalised in case."""
        super().on_resolved()
        self.max_record_bytes = self.max_record_bytes or s.DEFAULT_MAX_RECORD_BYTES
        if self.max_events_per_load is None:
            self.max_events_per_load = s.DEFAULT_MAX_EVENTS_PER_LOAD
        if self.max_events_per_load < 0:
            raise ConfigurationValueError("warehouse.max_events_per_load must be 0 or more")
        self.duckdb_memory_limit = self.duckdb_memory_limit or s.DEFAULT_DUCKDB_MEMORY_LIMIT
        self.duckdb_build_memory_limit = (
            self.duckdb_build_memory_limit or s.DEFAULT_DUCKDB_BUILD_MEMORY_LIMIT
        )
        self.freshness_max_age = self.freshness_max_age or DEFAULT_FRESHNESS_MAX_AGE
        self.language_preference = tuple(
            lang.lower() for lang in _as_tuple(self.language_preference, DEFAULT_LANGUAGES)
        )
        self.closing_statuses = tuple(
            status.upper() for status in _as_tuple(self.closing_statuses, DEFAULT_CLOSING_STATUSES)
        )
        self.pseudonymization_key = self.pseudonymization_key or None
        self.snapshot_retention = _retention(self.snapshot_retention)


@configspec
class WebhookArchiveConfiguration(BaseConfiguration):
    """`[sources.webhook_archive]`: the archive folder or bucket URL."""

    bucket_url: str | None = s.DEFAULT_SOURCE

    __section__: ClassVar[str] = s.SOURCE_NAME

    def on_resolved(self) -> None:
        """An empty value falls back to the default."""
        self.bucket_url = self.bucket_url or s.DEFAULT_SOURCE


def warehouse_config() -> WarehouseConfiguration:
    """Resolve `[warehouse]` from dlt's providers."""
    return resolve_configuration(WarehouseConfiguration())


def source_config() -> WebhookArchiveConfiguration:
    """Resolve `[sources.webhook_archive]` from dlt's providers."""
    return resolve_configuration(WebhookArchiveConfiguration(), sections=("sources",))


def warehouse_location(database: str | None = None, data_path: str | None = None) -> Warehouse:
    """The warehouse: command-line values, else `[warehouse]` settings, else the default file."""
    config = resolve_configuration(WarehouseLocation())
    return parse_warehouse(
        database or str(config.database),
        data_path or config.data_path,
        str(config.catalog_password) if config.catalog_password else None,
    )


def database_setting(cli_value: str | None = None) -> str:
    """The warehouse: `cli_value`, else `warehouse.database` / `WAREHOUSE__DATABASE`, else the
    default."""
    return cli_value or str(resolve_configuration(WarehouseLocation()).database)
