"""A PostgreSQL catalog's password never reaches an attach string (DuckDB quotes it whole in its
errors, and dlt keeps those in its trace): it goes to DuckDB's postgres secret. Quick checks
without a server; tests/test_lake_postgres.py runs the real thing."""

from __future__ import annotations

from dlt.destinations.impl.ducklake.sql_client import DuckLakeSqlClient

from pipelines.warehouse.catalog_lock import lock_key
from pipelines.warehouse.connection import (
    METADATA_SCHEMA,
    _lake_credentials,
    attach_statement,
    catalog_secret_statements,
    lake_setup_statements,
)
from pipelines.warehouse.location import parse_warehouse

SETTING = "ducklake:postgres:dbname=lake host=db.example port=5433 user=loader sslmode=require"
PASSWORD = "p'ss w0rd-SECRET"


def test_password_goes_to_a_secret_never_to_the_attach_string() -> None:
    warehouse = parse_warehouse(SETTING, "/tmp/lake-data", PASSWORD)
    attach = attach_statement(warehouse)
    assert PASSWORD not in attach and "password" not in attach
    assert "dbname=lake host=db.example port=5433 user=loader sslmode=require" in attach
    assert f"metadata_schema '{METADATA_SCHEMA}'" in attach
    (secret,) = catalog_secret_statements(warehouse)
    assert "type postgres" in secret and "'p''ss w0rd-SECRET'" in secret
    # the secret is made before the attach that uses it
    statements = lake_setup_statements(warehouse)
    assert statements.index(secret) < statements.index(attach)


def test_no_password_configured_leaves_it_to_libpq() -> None:
    warehouse = parse_warehouse(SETTING, "/tmp/lake-data")
    assert catalog_secret_statements(warehouse) == []
    assert catalog_secret_statements(parse_warehouse("ducklake:sqlite:/tmp/c.sqlite")) == []


def test_dlt_attaches_the_catalog_as_a_libpq_string_without_password() -> None:
    warehouse = parse_warehouse(SETTING, "/tmp/lake-data", PASSWORD)
    credentials = _lake_credentials(warehouse, "256MB")
    attach = DuckLakeSqlClient.build_attach_statement(
        ducklake_name="lake",
        metadata_schema=credentials.metadata_schema,
        catalog=credentials.catalog,
        storage_url="/tmp/lake-data",
    )
    assert "'ducklake:postgres:dbname=lake host=db.example port=5433 user=loader" in attach
    assert "sslmode=require" in attach
    assert PASSWORD not in attach and "://" not in attach
    assert PASSWORD not in str(credentials.catalog)
    assert credentials.statements == catalog_secret_statements(warehouse)
    # the lake's identity for dlt: host, port, database and metadata schema, no user or password
    assert credentials.catalog_location() == f"postgres://db.example:5433/lake#{METADATA_SCHEMA}"


def test_lock_key_is_the_lakes_identity() -> None:
    assert lock_key("ducklake") == lock_key("ducklake")
    assert lock_key("ducklake") != lock_key("another")
    assert -(2**63) <= lock_key("ducklake") < 2**63
