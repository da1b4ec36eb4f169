"""What the catalog shows: every model with its docs, SQL, checks and lineage, plus what the
current warehouse says (column types, row counts, newest event) when it can be read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.marts.data_checks import DataCheck, checks_of, singular_checks
from pipelines.marts.freshness import newest_event_at
from pipelines.marts.model_docs import ModelDoc, inherited_description, load_model_docs
from pipelines.marts.runner import TRANSFORMS_DIR, _raw_contract, discover_models, order_models
from pipelines.marts.sandbox import built_columns
from pipelines.warehouse.connection import connect
from pipelines.warehouse.location import Warehouse

_SOURCE = re.compile(r"\bsrc_([a-z0-9_]+)\b", re.IGNORECASE)


@dataclass
class Column:
    """One column of a model: its type (from the built table) and description."""

    name: str
    type: str
    description: str | None
    described_in: str | None  # the model whose docs describe it (itself, or one it reads)


@dataclass
class ModelEntry:
    """One model as the catalog shows it."""

    table: str
    layer: str
    name: str
    sql: str
    doc: ModelDoc | None
    columns: list[Column]
    checks: list[DataCheck]
    upstream: list[str]  # models and raw tables (`raw.<table>`) it reads
    downstream: list[str] = field(default_factory=list)
    row_count: int | None = None  # None: not built


@dataclass
class Catalog:
    """Every model, the raw tables they read, and the state of the warehouse."""

    models: dict[str, ModelEntry]
    raw_tables: dict[str, dict[str, str]]  # raw table -> contract columns and types
    raw_downstream: dict[str, list[str]]
    reconciliations: list[DataCheck]
    warehouse: str
    warehouse_state: str  # "built", "not built", or why it could not be read
    newest_event_at: datetime | None = None
    generated_at: datetime | None = None


def _comment_free(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _read_warehouse(
    warehouse: Warehouse,
) -> tuple[str, dict[str, list[tuple[str, str]]], dict[str, int], datetime | None]:
    """(state, columns by table, row counts, newest event) of the warehouse, read-only."""
    if not warehouse.exists():
        return "not built", {}, {}, None
    try:
        connection = connect(warehouse, read_only=True)
    except duckdb.Error as exc:
        return f"not readable ({str(exc).splitlines()[0]})", {}, {}, None
    try:
        columns: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, kind in connection.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns "
            "where table_catalog = current_database() "
            "and table_schema in ('staging', 'intermediate', 'marts') "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall():
            columns.setdefault(f"{schema}.{table}", []).append((column, kind))
        counts = {
            table: connection.execute(f"select count(*) from {table}").fetchone()[0]
            for table in columns
        }
        newest = newest_event_at(connection)
    finally:
        connection.close()
    return ("built" if counts else "not built"), columns, counts, newest


def build_catalog(warehouse: Warehouse, transforms_dir: Path = TRANSFORMS_DIR) -> Catalog:
    """Gather the catalog from transforms/ and, when it exists, the warehouse."""
    models = order_models(discover_models(transforms_dir))
    docs = load_model_docs(transforms_dir)
    contract = _raw_contract(transforms_dir)
    state, built, counts, newest = _read_warehouse(warehouse)
    empty_build = built_columns(transforms_dir)
    depends_on = {m.table: m.depends_on for m in models}
    entries: dict[str, ModelEntry] = {}
    raw_downstream: dict[str, list[str]] = {table: [] for table in contract}
    for model in models:
        sources = sorted(
            {s.lower() for s in _SOURCE.findall(_comment_free(model.sql))} & set(contract)
        )
        for source in sources:
            raw_downstream[source].append(model.table)
        columns = []
        for name, kind in built.get(model.table) or empty_build.get(model.table, []):
            text, where = inherited_description(model.table, name, docs, depends_on)
            columns.append(Column(name, kind, text, where))
        doc = docs.get(model.table)
        entries[model.table] = ModelEntry(
            table=model.table,
            layer=model.layer,
            name=model.name,
            sql=model.sql,
            doc=doc,
            columns=columns,
            checks=checks_of(doc) if doc else [],
            upstream=sorted(model.depends_on) + [f"raw.{s}" for s in sources],
            row_count=counts.get(model.table),
        )
    reconciliations = singular_checks(transforms_dir)
    for entry in entries.values():
        for upstream in entry.upstream:
            if upstream in entries:
                entries[upstream].downstream.append(entry.table)
        entry.checks += [c for c in reconciliations if entry.table in c.models]
    return Catalog(
        models=entries,
        raw_tables=contract,
        raw_downstream=raw_downstream,
        reconciliations=reconciliations,
        warehouse=warehouse.display,
        warehouse_state=state,
        newest_event_at=newest,
    )
