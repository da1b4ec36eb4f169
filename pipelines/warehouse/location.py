"""Where the warehouse lives, read from its `database` setting in DuckDB's own spelling.

- a path (`data/warehouse.duckdb`): one DuckDB file, the default;
- `ducklake:sqlite:PATH`: a DuckLake whose catalog is a SQLite file (one machine, no server);
- `ducklake:postgres:dbname=... host=... user=...`: a DuckLake whose catalog is a PostgreSQL
  database (a team: several machines share it).

A lake keeps its table data as Parquet files under its data path (`--data-path`, a folder or a
bucket URL); a SQLite catalog defaults to the folder `<catalog>.files/` beside it. The
catalog's password never goes in the setting: it comes from `warehouse.catalog_password` in
`.dlt/secrets.toml`, `WAREHOUSE__CATALOG_PASSWORD` or libpq's `PGPASSWORD`.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.common.errors import EXIT_USAGE, ExpectedFailure
from pipelines.common.redact import redact_text

LAKE_PREFIX = "ducklake:"
CATALOG_KINDS = ("sqlite", "postgres")
# the name the lake is attached under in every connection (`USE lake`, then `raw.x` as in a file)
LAKE_ALIAS = "lake"
# where the job keeps dlt's working folder and its lock for a lake without a local catalog file
DEFAULT_LAKE_WORKDIR = Path("data")


@dataclass(frozen=True)
class Warehouse:
    """A DuckDB file or a DuckLake: what every connection, dlt's destination, the run lock and
    `make clean` need to know about the warehouse."""

    setting: str  # as configured; may name a catalog user, never a password
    data_path: str | None = None  # a lake's table files: a folder or a bucket URL
    catalog_password: str | None = field(default=None, repr=False)

    @property
    def is_lake(self) -> bool:
        """Whether the warehouse is a DuckLake (catalog + data path), not a DuckDB file."""
        return self.setting.startswith(LAKE_PREFIX)

    @property
    def catalog_kind(self) -> str | None:
        """`sqlite` or `postgres` for a lake, None for a file."""
        if not self.is_lake:
            return None
        return self.setting[len(LAKE_PREFIX) :].split(":", 1)[0]

    @property
    def catalog(self) -> str:
        """What follows `ducklake:<kind>:`: the SQLite path or the libpq connection string."""
        return self.setting[len(LAKE_PREFIX) :].split(":", 1)[1]

    @property
    def path(self) -> Path | None:
        """The local file of the warehouse: the DuckDB file, or a lake's SQLite catalog."""
        if not self.is_lake:
            return Path(self.setting)
        if self.catalog_kind == "sqlite":
            return Path(self.catalog)
        return None

    @property
    def postgres_params(self) -> dict[str, str]:
        """The catalog's libpq keywords (`dbname`, `host`, `port`, `user`, ...)."""
        params = {}
        for word in shlex.split(self.catalog):
            key, _, value = word.partition("=")
            params[key.strip()] = value
        return params

    @property
    def local_anchor(self) -> Path:
        """The local path beside which the job keeps dlt's working folder and the run lock.

        A PostgreSQL catalog has no local file: the anchor is named after the catalog (host,
        port, database, never a password), under `data/`, so each machine keeps its own."""
        if self.path is not None:
            return self.path
        params = self.postgres_params
        identity = "|".join(params.get(key, "") for key in ("host", "port", "dbname", "user"))
        digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
        return DEFAULT_LAKE_WORKDIR / f"lake-{params.get('dbname', 'catalog')}-{digest}"

    @property
    def resolved_data_path(self) -> str:
        """A lake's data path: as configured, else `<sqlite catalog>.files/` beside it."""
        if self.data_path:
            return self.data_path
        if self.catalog_kind == "sqlite":
            return str(Path(self.catalog).with_name(Path(self.catalog).name + ".files"))
        raise ExpectedFailure(
            EXIT_USAGE,
            "a lake with a PostgreSQL catalog needs a data path: --data-path DIR_OR_URL, "
            "warehouse.data_path or WAREHOUSE__DATA_PATH",
        )

    @property
    def display(self) -> str:
        """How the warehouse is named in logs and the summary: no password, ever."""
        if not self.is_lake:
            return self.setting
        shown = redact_text(self.setting)
        if self.data_path:
            shown += f" (data {redact_text(self.data_path)})"
        return shown

    def exists(self) -> bool:
        """Whether the warehouse was created already (a PostgreSQL catalog is assumed to be:
        the job never creates the database, and an empty one holds no loads)."""
        path = self.path
        return path.exists() if path is not None else True


def parse_warehouse(
    setting: str, data_path: str | None = None, catalog_password: str | None = None
) -> Warehouse:
    """Read the `database` setting; refuse a lake spelling DuckDB would not understand, and a
    password written into the setting itself (it would reach logs and dlt's trace)."""
    warehouse = Warehouse(setting.strip(), data_path or None, catalog_password or None)
    if not warehouse.is_lake:
        if data_path:
            raise ExpectedFailure(EXIT_USAGE, "--data-path is for a lake (ducklake:...) only")
        return warehouse
    rest = setting[len(LAKE_PREFIX) :]
    kind, sep, catalog = rest.partition(":")
    if kind not in CATALOG_KINDS or not sep or not catalog.strip():
        raise ExpectedFailure(
            EXIT_USAGE,
            f"database {redact_text(setting)}: a lake is ducklake:sqlite:PATH or "
            "ducklake:postgres:'dbname=... host=... user=...'",
        )
    if kind == "postgres":
        params = warehouse.postgres_params
        if "password" in params:
            raise ExpectedFailure(
                EXIT_USAGE,
                "the catalog password does not belong in the database setting: set "
                "WAREHOUSE__CATALOG_PASSWORD (or warehouse.catalog_password in "
                ".dlt/secrets.toml, or PGPASSWORD)",
            )
        if "dbname" not in params:
            raise ExpectedFailure(
                EXIT_USAGE, f"database {redact_text(setting)}: the catalog needs dbname=..."
            )
    return warehouse
