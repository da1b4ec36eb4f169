"""DuckDB extensions from the installed packages, never from the network.

DuckDB downloads an extension on first use (`INSTALL`/autoload), which fails offline and on
locked-down servers. The lock file installs them as Python packages instead
(`duckdb-extension-<name>`, one binary each, built for one DuckDB version); every connection
loads them by path. Own code because DuckDB does not look inside those packages by itself.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from pathlib import Path

import duckdb

from pipelines.common.errors import EXIT_UNEXPECTED, ExpectedFailure

# extension name -> the package that carries it
PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
    "azure": "duckdb_extension_azure",
}
# what a lake needs, by catalog kind and data path scheme
CATALOG_EXTENSIONS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}
STORAGE_EXTENSIONS = {
    "s3": "httpfs",
    "gs": "httpfs",
    "gcs": "httpfs",
    "http": "httpfs",
    "https": "httpfs",
    "az": "azure",
    "azure": "azure",
    "abfss": "azure",
}
# connection settings that keep DuckDB from fetching anything itself
OFFLINE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


@functools.cache
def extension_path(name: str) -> Path:
    """The binary of extension `name` for the DuckDB library in use; fail with one line when
    its package is missing or built for another DuckDB version."""
    version = duckdb.__version__
    package = PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExpectedFailure(
            EXIT_UNEXPECTED,
            f"DuckDB extension {name} is not installed (package {package}=={version}): "
            "run `make venv` to install the lock file",
        )
    installed = importlib.metadata.version(package)
    binary = Path(next(iter(spec.submodule_search_locations))) / (
        f"extensions/v{version}/{name}.duckdb_extension"
    )
    if installed != version or not binary.exists():
        raise ExpectedFailure(
            EXIT_UNEXPECTED,
            f"DuckDB {version} and its extension package {package} {installed} disagree: "
            "pin them to the same version in requirements.lock",
        )
    return binary


def load_statements(names: list[str]) -> list[str]:
    """`LOAD '<path>'` for each extension, in order."""
    return [f"load '{extension_path(name)}'" for name in names]


def lake_extensions(catalog_kind: str, data_path: str) -> list[str]:
    """The extensions a lake with this catalog and data path needs, in load order."""
    scheme = data_path.split("://", 1)[0].lower() if "://" in data_path else "file"
    names = [CATALOG_EXTENSIONS[catalog_kind]]
    if scheme in STORAGE_EXTENSIONS:
        names.append(STORAGE_EXTENSIONS[scheme])
    return [*names, "ducklake"]
