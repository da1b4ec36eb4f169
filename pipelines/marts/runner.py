"""Build staging, intermediate and marts from the plain SQL files in `transforms/`.

`transforms/<layer>/<table>.sql` holds one `select`; the folder is the schema, the file name
the table. Models run in dependency order (found from the `schema.table` names they use).
Each layer's `_models.toml` documents its models and declares their checks
(`pipelines.marts.model_docs`). Readers see the previous tables or the new ones, never a mix,
and a failed model or check leaves the previous tables as they were; how depends on the
warehouse:

- a lake: one transaction rebuilds every model, runs the checks, and commits (one snapshot,
  'marts built'), or rolls back on a failure. A model whose columns (names and types, in
  order) are unchanged is rebuilt in place (`delete`, `insert`): its table keeps its identity
  in the catalog, so a run adds no table versions to it. Replacing ~20 tables a run made
  every commit and attach slower over the retention (`bench.lake_housekeeping`, small
  incremental runs: 22 s of CPU per run for runs 1-5, 58 s for runs 16-20); in place it stays
  at 14 s. A model whose columns changed is replaced (`create or replace`). One transaction
  holds one model's memory at a time: DuckLake writes inserted rows to Parquet files as it
  goes (measured: the same peak as model by model);
- a DuckDB file: each model goes into a shadow table `<table>__next` committed (and
  checkpointed) on its own, so that the memory a build needs is one model's, not every
  model's uncommitted rows (one transaction over all models ran out of memory at 200,000
  events under the 256MB cap, and in place at 20,000 under 100MB, where shadows build). The
  checks run on the shadows, and one transaction swaps them in (drop, rename): a failure
  drops the shadows. A DuckDB file reuses the blocks of dropped tables: nothing grows.

After the first build, a build whose raw only gained loads appends the new events' rows to
staging instead of rebuilding it (`pipelines.marts.incremental` says when; `_try_appending`),
recomputes the models declared `incremental_by` for the requests with new events
(`pipelines.marts.keyed`), and rebuilds the other models the same way as above.

`select` rebuilds one model (`name`) or one model and every model downstream of it (`name+`),
with the checks that read them, the same way. `marts._build_state` (what the marts were built
from) is rewritten in place in the commit that makes the new marts visible.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from pipelines import settings as s
from pipelines.common.errors import EXIT_CHECK_FAILED, EXIT_USAGE, ExpectedFailure
from pipelines.marts import incremental, keyed
from pipelines.marts.data_checks import DataCheck, failed_checks, for_new_rows, load_checks
from pipelines.marts.freshness import describe_newest, format_age, newest_event_at
from pipelines.marts.incremental import (
    DELTA_SUFFIX,
    RawMark,
    check_appendable,
    create_new_source_views,
    current_mark,
    delta_sql,
    raw_columns,
)
from pipelines.marts.key_check import key_verifier, new_salt, same_key
from pipelines.marts.model_docs import load_model_docs
from pipelines.marts.transform_settings import TransformSettings
from pipelines.warehouse.connection import as_warehouse, connect, sql_literal
from pipelines.warehouse.location import Warehouse
from pipelines.warehouse.maintenance import label_marts_commit

LAYERS = ("staging", "intermediate", "marts")
BUILD_STATE = "_build_state"  # marts._build_state: what the current marts were built from
TRANSFORMS_DIR = Path(__file__).resolve().parents[2] / "transforms"
TRANSLATION_COLUMNS = {
    "language": "varchar",
    "value": "varchar",
    "_dlt_parent_id": "varchar",
    "_dlt_list_idx": "bigint",
}
log = logging.getLogger(__name__)
_REFERENCE = re.compile(r"\b(staging|intermediate|marts)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)
# in a file, a model is built as `<layer>.<name>__next`, then renamed in the swap (see
# the module doc); a lake drops those an older build left
SHADOW_SUFFIX = "__next"
# in a file, an appended build reads a staging model as `<name>__all`: its rows and the delta's
ALL_ROWS_SUFFIX = "__all"
# DuckDB memory each build thread gets at least: every thread holds its own hash tables,
# window and aggregate states, and some of them cannot spill. Measured at 1,000,000 events
# (issue 13): under a 384MB build cap, stg_callback_request_participants ran out of memory
# with 2 threads and built with 1. 366 MiB is 384MB (DuckDB reports its limit in MiB).
BUILD_MIB_PER_THREAD = 366
_SIZE_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _shadow_sql(sql: str, rebuilt: set[str], read_as: dict[str, str] | None = None) -> str:
    """`sql` reading the shadow tables of the models this build rebuilds, and the tables in
    `read_as` (model -> table or view) from where it says."""

    def shadow(match: re.Match[str]) -> str:
        table = f"{match[1].lower()}.{match[2].lower()}"
        if table in rebuilt:
            return table + SHADOW_SUFFIX
        return (read_as or {}).get(table, match[0])

    return _REFERENCE.sub(shadow, sql)


@dataclass
class Model:
    """One SQL model: `layer.name` built from `sql`."""

    layer: str
    name: str
    sql: str
    depends_on: set[str] = field(default_factory=set)
    incremental_by: str | None = None  # its docs' `incremental_by` (pipelines.marts.keyed)

    @property
    def table(self) -> str:
        """The qualified table the model builds."""
        return f"{self.layer}.{self.name}"


@dataclass
class BuildResult:
    """Tables built, with their row counts, and the number of checks that passed."""

    row_counts: dict[str, int]
    checks_passed: int
    uses_dev_key: bool = False
    up_to_date: bool = False  # nothing changed since the last build: nothing was rebuilt
    newest_event_at: datetime | None = None  # the newest event time in staging
    stale: bool = False  # newest_event_at is older than warehouse.freshness_max_age
    selected: bool = False  # a partial build (`select`): only the selected models were rebuilt
    # staging appended to, not rebuilt: the rows appended per staging table
    appended_rows: dict[str, int] | None = None
    # models recomputed only for the keys with new rows (pipelines.marts.keyed): their rows
    recomputed_rows: dict[str, int] | None = None


def discover_models(transforms_dir: Path = TRANSFORMS_DIR) -> list[Model]:
    """Read every model file, the models it depends on and its docs' `incremental_by`;
    refuse upward references."""
    docs = load_model_docs(transforms_dir)
    models = []
    for rank, layer in enumerate(LAYERS):
        for path in sorted((transforms_dir / layer).glob("*.sql")):
            sql = path.read_text()
            refs = {
                f"{m[0].lower()}.{m[1].lower()}" for m in _REFERENCE.findall(_strip_comments(sql))
            }
            for ref in refs:
                if LAYERS.index(ref.split(".")[0]) > rank:
                    raise ExpectedFailure(
                        EXIT_CHECK_FAILED,
                        f"model {layer}.{path.stem} reads {ref}, a higher layer",
                    )
            table = f"{layer}.{path.stem}"
            twin = next((m.table for m in models if m.name == path.stem), None)
            if twin is not None:  # temp tables and views of a build are named by model name
                raise ExpectedFailure(
                    EXIT_CHECK_FAILED, f"models {twin} and {table} have the same name"
                )
            doc = docs.get(table)
            models.append(
                Model(layer, path.stem, sql, refs - {table}, doc.incremental_by if doc else None)
            )
    return models


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def order_models(models: list[Model]) -> list[Model]:
    """Models in an order where each runs after the models it reads."""
    by_table = {m.table: m for m in models}
    for model in models:
        missing = model.depends_on - set(by_table)
        if missing:
            raise ExpectedFailure(
                EXIT_CHECK_FAILED, f"model {model.table} reads unknown models: {sorted(missing)}"
            )
    sorter = TopologicalSorter({m.table: sorted(m.depends_on) for m in models})
    try:
        return [by_table[table] for table in sorter.static_order()]
    except CycleError as exc:
        raise ExpectedFailure(
            EXIT_CHECK_FAILED, f"models depend on each other: {exc.args[1]}"
        ) from None


def select_models(models: list[Model], selector: str) -> list[Model]:
    """The models `selector` names, in build order: `name` or `layer.name` alone, or with a
    `+` suffix that model and every model downstream of it. Unknown -> exit 2."""
    name = selector.strip().removesuffix("+")
    matches = [m for m in models if name in (m.table, m.name)]
    if not matches:
        raise ExpectedFailure(
            EXIT_USAGE, f"--select {selector}: no model named {name} in transforms/"
        )
    chosen = {matches[0].table}
    if selector.strip().endswith("+"):
        grown = True
        while grown:
            downstream = {m.table for m in models if m.depends_on & chosen} - chosen
            chosen |= downstream
            grown = bool(downstream)
    return [m for m in models if m.table in chosen]


def _raw_contract(transforms_dir: Path) -> dict[str, dict[str, str]]:
    contract = tomllib.loads((transforms_dir / "raw_contract.toml").read_text())
    return {table: columns or dict(TRANSLATION_COLUMNS) for table, columns in contract.items()}


def _source_view_sql(table: str, contract: dict[str, str], raw_columns: set[str] | None) -> str:
    """`raw.<table>` with every contract column present and typed as the contract says.

    Schema drift is healed here: when a value changed type, dlt keeps it in a variant column
    (`<column>__v_<type>`); the contract column becomes the first value that casts.
    """
    if raw_columns is None:
        columns = ", ".join(f'cast(null as {kind}) as "{name}"' for name, kind in contract.items())
        return f"select {columns} where false"
    expressions = []
    for name, kind in contract.items():
        variants = sorted(c for c in raw_columns if c.startswith(f"{name}__v_"))
        sources = ([name] if name in raw_columns else []) + variants
        if not sources:
            expressions.append(f'cast(null as {kind}) as "{name}"')
        elif len(sources) == 1:
            expressions.append(f'try_cast("{sources[0]}" as {kind}) as "{name}"')
        else:
            casts = ", ".join(f'try_cast("{source}" as {kind})' for source in sources)
            expressions.append(f'coalesce({casts}) as "{name}"')
    present = [f'"{name}"' for name in contract if name in raw_columns]
    rest = f"* exclude ({', '.join(present)})" if present else "*"
    return f'select {rest}, {", ".join(expressions)} from {s.RAW_DATASET}."{table}"'


def _create_source_views(connection: duckdb.DuckDBPyConnection, transforms_dir: Path) -> None:
    """Expose each contract table as `src_<table>`: raw's rows with the contract's columns."""
    columns = raw_columns(connection)
    for table, contract in _raw_contract(transforms_dir).items():
        body = _source_view_sql(table, contract, columns.get(table))
        connection.execute(f"create or replace temp view src_{table} as {body}")


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _register_functions(connection: duckdb.DuckDBPyConnection, settings: TransformSettings) -> None:
    key = settings.pseudonymization_key.encode()

    def pseudonymize(value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]

    connection.create_function("pseudonymize", pseudonymize, ["VARCHAR"], "VARCHAR")
    connection.execute(
        "create or replace temp macro language_rank(lang) as "
        f"coalesce(list_position({_sql_list(settings.language_preference)}, lang), 1000)"
    )
    connection.execute(
        "create or replace temp macro is_closing_status(status) as "
        f"coalesce(list_contains({_sql_list(settings.closing_statuses)}, upper(status)), false)"
    )


def _definition_key(settings: TransformSettings, transforms_dir: Path) -> str:
    """What the models are: the SQL, the checks, the settings but the key (readable by
    analysts: see `pipelines.marts.key_check` for the key), and the code that runs them (this
    module, `pipelines.marts.incremental` and `.keyed`, DuckDB's version): staging rows
    appended by one version of the job are never mixed with rows another would give (an
    upgrade rebuilds)."""
    digest = hashlib.sha256(repr(settings.public_settings()).encode())
    digest.update(duckdb.__version__.encode())
    for module in (Path(__file__), Path(incremental.__file__), Path(keyed.__file__)):
        digest.update(module.read_bytes())
    for path in sorted(transforms_dir.rglob("*")):
        if path.is_file() and path.suffix in (".sql", ".toml"):
            digest.update(path.relative_to(transforms_dir).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def _build_key(connection: duckdb.DuckDBPyConnection, definition_key: str) -> str:
    """What a build depends on: the models (`_definition_key`) and the last completed load."""
    digest = hashlib.sha256(definition_key.encode())
    has_loads = connection.execute(  # no parameter: see warehouse_sync.warehouse_loads
        "select count(*) from information_schema.tables where table_catalog ="
        f" current_database() and table_schema = '{s.RAW_DATASET}' and table_name = '_dlt_loads'"
    ).fetchall()[0][0]
    if has_loads:
        last = connection.execute(
            f"select max(load_id), count(*) from {s.RAW_DATASET}._dlt_loads where status = 0"
        ).fetchall()[0]
        digest.update(repr(last).encode())
    return digest.hexdigest()


@dataclass
class _BuildState:
    build_key: str | None = None
    key_salt: str | None = None
    key_verifier: str | None = None
    definition_key: str | None = None
    raw_mark: RawMark | None = None  # where raw stood: what the next build may append to


def _previous_build_state(connection: duckdb.DuckDBPyConnection) -> _BuildState:
    columns = {
        name
        for (name,) in connection.execute(
            "select column_name from information_schema.columns"
            " where table_catalog = current_database()"
            f" and table_schema = 'marts' and table_name = '{BUILD_STATE}'"
        ).fetchall()
    }
    if "key_verifier" not in columns:  # no build yet, or one from before the key verifier
        return _BuildState()
    appendable = {"definition_key", "raw_mark_load_id", "raw_fingerprint"} <= columns
    extra = ", definition_key, raw_mark_load_id, raw_fingerprint" if appendable else ""
    row = connection.execute(
        f"select build_key, key_salt, key_verifier{extra} from marts.{BUILD_STATE} limit 1"
    ).fetchall()
    if not row:
        return _BuildState()
    state = _BuildState(*row[0][:3])
    if appendable:
        state.definition_key = row[0][3]
        if row[0][4] is not None and row[0][5] is not None:
            state.raw_mark = RawMark(row[0][4], row[0][5])
    return state


def _limit_threads(connection: duckdb.DuckDBPyConnection) -> None:
    """Fewer DuckDB threads when the memory limit leaves less than `BUILD_MIB_PER_THREAD` each
    (DuckDB's own advice for out-of-memory errors: fewer threads before more memory)."""
    limit, threads = connection.execute(
        "select current_setting('memory_limit'), current_setting('threads')"
    ).fetchall()[0]
    number, _, unit = str(limit).partition(" ")
    if unit not in _SIZE_UNITS:  # no limit set: DuckDB's default, a share of the machine's RAM
        return
    limit_bytes = float(number) * _SIZE_UNITS[unit]
    wanted = max(1, int(limit_bytes // (BUILD_MIB_PER_THREAD * 2**20)))
    if wanted < int(threads):
        log.debug("%s threads for the build under a %s memory limit", wanted, limit)
        connection.execute(f"set threads = {wanted}")


def _model_failed(model: Model, exc: duckdb.Error) -> ExpectedFailure:
    return ExpectedFailure(
        EXIT_CHECK_FAILED, f"model {model.table} failed: {str(exc).splitlines()[0]}"
    )


def _build_shadows(
    connection: duckdb.DuckDBPyConnection,
    models: list[Model],
    built: set[str],
    read_as: dict[str, str] | None = None,
) -> dict[str, int]:
    """Build each model into its shadow table, committed and checkpointed one by one (a
    DuckDB file keeps committed rows in memory until a checkpoint); return the row counts.
    A failing model drops the shadows built so far."""
    counts = {}
    for model in models:
        shadow = model.table + SHADOW_SUFFIX
        started = time.perf_counter()
        try:
            connection.execute(
                f"create or replace table {shadow} as {_shadow_sql(model.sql, built, read_as)}"
            )
        except duckdb.Error as exc:
            _drop_shadows(connection, models)
            raise _model_failed(model, exc) from exc
        counts[model.table] = connection.execute(f"select count(*) from {shadow}").fetchall()[0][0]
        connection.execute("checkpoint")
        _log_built(model.table, counts[model.table], started)
    return counts


def _drop_shadows(connection: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    for model in models:
        connection.execute(f"drop table if exists {model.table}{SHADOW_SUFFIX}")


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    """Every `schema.table` of the warehouse (the transaction's own view of it)."""
    rows = connection.execute(
        "select schema_name || '.' || table_name from duckdb_tables()"
        " where database_name = current_database()"
    ).fetchall()
    return {row[0] for row in rows}


def _columns(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """The (name, type) of each column `sql` returns, in order, without running it."""
    return [(row[0], row[1]) for row in connection.execute(f"describe {sql}").fetchall()]


def _rebuild(
    connection: duckdb.DuckDBPyConnection, table: str, sql: str, existing: set[str]
) -> None:
    """Fill `table` with the rows of `sql`. In place (delete, insert: the table keeps its
    identity, in a lake no new table version) when it exists with the same columns, names
    and types in order; replaced (`create or replace`) otherwise."""
    sql = sql.rstrip().removesuffix(";")
    query = f"select * from (\n{sql}\n)"  # a model may begin with `with`, end with a comment
    if table in existing:
        if _columns(connection, f"select * from {table}") == _columns(connection, query):
            connection.execute(f"delete from {table}")
            connection.execute(f"insert into {table} {query}")
            return
        # on a lake a new table version each time: say so, in case it happens every run
        log.info("%s has new or changed columns: replaced", table)
    connection.execute(f"create or replace table {table} as {sql}")


def _build_in_place(
    connection: duckdb.DuckDBPyConnection, models: list[Model], existing: set[str]
) -> dict[str, int]:
    """Rebuild each model in the open transaction, in place where its columns are unchanged
    (`_rebuild`); return the row counts."""
    counts = {}
    for model in models:
        started = time.perf_counter()
        try:
            _rebuild(connection, model.table, model.sql, existing)
        except duckdb.Error as exc:
            raise _model_failed(model, exc) from exc
        rows = connection.execute(f"select count(*) from {model.table}").fetchall()
        counts[model.table] = rows[0][0]
        _log_built(model.table, counts[model.table], started)
    return counts


def _log_built(table: str, rows: int, started: float) -> None:
    """One debug line per model (`-v`): which models a slow build spends its time on."""
    log.debug("built %s: %d rows in %.2f s", table, rows, time.perf_counter() - started)


def _write_build_state(
    connection: duckdb.DuckDBPyConnection,
    build_key: str,
    definition_key: str,
    key: str,
    existing: set[str],
) -> None:
    """Record what the marts were built from in `marts._build_state` (in the open
    transaction), with a new salt per build: the verifier tells nothing across builds."""
    salt = new_salt()
    mark = current_mark(connection)
    _rebuild(
        connection,
        f"marts.{BUILD_STATE}",
        f"select {sql_literal(build_key)} as build_key, {sql_literal(salt)} as key_salt,"
        f" {sql_literal(key_verifier(key, salt))} as key_verifier,"
        f" {sql_literal(definition_key)} as definition_key,"
        f" {_nullable(mark.load_id if mark else None)} as raw_mark_load_id,"
        f" {_nullable(mark.fingerprint if mark else None)} as raw_fingerprint,"
        " current_timestamp as built_at",
        existing,
    )


def _forget_raw_mark(connection: duckdb.DuckDBPyConnection, existing: set[str]) -> None:
    """After a partial build that rebuilt staging models: the next build rebuilds staging
    (its rows are no longer those of the recorded mark)."""
    state = f"marts.{BUILD_STATE}"
    if state in existing and "raw_mark_load_id" in dict(
        _columns(connection, f"select * from {state}")
    ):
        connection.execute(f"update {state} set raw_mark_load_id = null, raw_fingerprint = null")


def _nullable(value: str | None) -> str:
    return "cast(null as varchar)" if value is None else sql_literal(value)


def _raise_if_failed(
    connection: duckdb.DuckDBPyConnection, checks: list[DataCheck], rewrite: Callable[[str], str]
) -> None:
    failures = failed_checks(connection, checks, rewrite)
    if failures:
        raise ExpectedFailure(
            EXIT_CHECK_FAILED,
            f"data check failed, previous marts kept: {failures[0]}"
            + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""),
        )


def _drop_lake_shadows(
    connection: duckdb.DuckDBPyConnection, models: list[Model], existing: set[str]
) -> None:
    """Drop the shadows a killed build left from before the lake built in place."""
    for model in models:
        if model.table + SHADOW_SUFFIX in existing:
            connection.execute(f"drop table {model.table}{SHADOW_SUFFIX}")


def _build_lake(
    connection: duckdb.DuckDBPyConnection, models: list[Model], checks: list[DataCheck]
) -> dict[str, int]:
    """A lake: every model rebuilt, in place where it can be, and checked in one transaction,
    left open for the caller to commit. A DuckLake insert writes its rows to Parquet files as
    it runs (only a few rows stay inlined in memory until the commit), so one transaction
    holds one model's memory at a time; the caller rolls it back on a failure."""
    connection.execute("begin transaction")
    existing = _tables(connection)
    _drop_lake_shadows(connection, models, existing)
    counts = _build_in_place(connection, models, existing)
    _raise_if_failed(connection, checks, lambda sql: sql)
    return counts


def _build_file(
    connection: duckdb.DuckDBPyConnection,
    models: list[Model],
    checks: list[DataCheck],
    read_as: dict[str, str] | None = None,
) -> dict[str, int]:
    """A DuckDB file: every model into its shadow table, committed on its own, the checks on
    the shadows, then the swap in one transaction, left open for the caller to commit. A
    failure drops the shadows. The models and checks read the tables in `read_as` (model ->
    table or view) from where it says."""
    built = {m.table for m in models}
    _drop_shadows(connection, models)  # a killed build's, if any
    counts = _build_shadows(connection, models, built, read_as)
    try:
        _raise_if_failed(connection, checks, lambda sql: _shadow_sql(sql, built, read_as))
    except ExpectedFailure:
        _drop_shadows(connection, models)
        raise
    connection.execute("begin transaction")
    for model in models:  # the swap: metadata only
        connection.execute(f"drop table if exists {model.table}")
        connection.execute(f"alter table {model.table}{SHADOW_SUFFIX} rename to {model.name}")
    return counts


def _staging_deltas(
    connection: duckdb.DuckDBPyConnection, staging: list[Model], existing: set[str]
) -> dict[str, int] | None:
    """Each staging model's rows for the events loaded since the last build, in a temp table
    `<name>__delta`; return their counts, or None when a staging table is missing or its
    columns differ from what its model returns now (staging is then rebuilt)."""
    deltas = {m.table: m.name + DELTA_SUFFIX for m in staging}
    counts = {}
    for model in staging:
        if model.table not in existing:
            return None
        delta = deltas[model.table]
        try:
            connection.execute(
                f"create or replace temp table {delta} as {delta_sql(model.sql, deltas)}"
            )
        except duckdb.Error as exc:
            raise _model_failed(model, exc) from exc
        if _columns(connection, f"select * from {delta}") != _columns(
            connection, f"select * from {model.table}"
        ):
            log.info("%s has new or changed columns: staging is rebuilt", model.table)
            return None
        counts[model.table] = connection.execute(f"select count(*) from {delta}").fetchall()[0][0]
    return counts


def _append_deltas(connection: duckdb.DuckDBPyConnection, staging: list[Model]) -> dict[str, int]:
    """Insert each staging model's delta into its table (in the open transaction); return the
    tables' row counts."""
    counts = {}
    for model in staging:
        connection.execute(f"insert into {model.table} select * from {model.name}{DELTA_SUFFIX}")
        rows = connection.execute(f"select count(*) from {model.table}").fetchall()
        counts[model.table] = rows[0][0]
    return counts


def _drop_deltas(connection: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    keyed.drop_temp_objects(connection, models)
    for model in models:
        connection.execute(f"drop view if exists {model.name}{ALL_ROWS_SUFFIX}")
        connection.execute(f"drop table if exists {model.name}{DELTA_SUFFIX}")


def _keyed_deltas(
    connection: duckdb.DuckDBPyConnection,
    rest: list[Model],
    staging: list[Model],
    read_as: dict[str, str],
) -> dict[str, int] | None:
    """Recompute the intermediate and marts models that `pipelines.marts.keyed` allows for the
    values the new staging rows carry, each into `<name>__delta`; return their rows, or None
    when a model's table is missing or its columns differ from its delta's (staging is then
    rebuilt). Staging is read as `read_as` says (a file: its rows and the delta's)."""
    columns = {
        m.table: {name for name, _ in _columns(connection, f"select * from {m.name}{DELTA_SUFFIX}")}
        for m in staging
    }
    recomputed = keyed.recomputable(rest, lambda table: columns.get(table, set()))
    for model in rest:
        if model.incremental_by and model not in recomputed:
            log.info(
                "%s is rebuilt whole: not all it reads is recomputed by %s",
                model.table,
                model.incremental_by,
            )
    for key in sorted({str(m.incremental_by) for m in recomputed}):
        deltas = [f"{m.name}{DELTA_SUFFIX}" for m in staging if key in columns[m.table]]
        values = keyed.create_affected(connection, key, deltas)
        log.info("%d values of %s have new rows: their rows are recomputed", values, key)
    existing = _tables(connection)
    rows: dict[str, int] = {}
    for model in recomputed:
        if model.table not in existing:
            return None
        keyed.create_restricted_views(connection, model, read_as)
        delta = model.name + DELTA_SUFFIX
        started = time.perf_counter()
        try:
            connection.execute(
                f"create or replace temp table {delta} as"
                f" {_shadow_sql(model.sql, set(), keyed.delta_sources(model, set(rows)))}"
            )
        except duckdb.Error as exc:
            raise _model_failed(model, exc) from exc
        delta_columns = _columns(connection, f"select * from {delta}")
        if model.incremental_by not in {name for name, _ in delta_columns}:
            raise ExpectedFailure(
                EXIT_CHECK_FAILED,
                f"{model.table} has no column {model.incremental_by}, its incremental_by",
            )
        if delta_columns != _columns(connection, f"select * from {model.table}"):
            log.info("%s has new or changed columns: every model is rebuilt", model.table)
            return None
        rows[model.table] = connection.execute(f"select count(*) from {delta}").fetchall()[0][0]
        _log_built(f"{model.table} (recomputed rows)", rows[model.table], started)
    return rows


@dataclass
class _Appended:
    """What an appended build did: every model's row count, the rows appended per staging
    table ({}: no new event, nothing rebuilt), the rows recomputed per keyed model."""

    counts: dict[str, int]
    appended_rows: dict[str, int]
    recomputed_rows: dict[str, int] = field(default_factory=dict)


def _append_staging(
    connection: duckdb.DuckDBPyConnection,
    models: list[Model],
    checks: list[DataCheck],
    is_lake: bool,
) -> _Appended | None:
    """Staging appended with the rows of the new events; intermediate and marts recomputed for
    the requests with new events where `pipelines.marts.keyed` allows, rebuilt from staging
    otherwise; every check run; all left in an open transaction for the caller to commit (see
    `pipelines.marts.incremental`). None when staging must be rebuilt instead."""
    staging = [m for m in models if m.layer == "staging"]
    rest = [m for m in models if m.layer != "staging"]
    if is_lake:
        connection.execute("begin transaction")
    existing = _tables(connection)
    if not is_lake:
        _drop_shadows(connection, models)  # a killed build's, staging's too
    appended = _staging_deltas(connection, staging, existing)
    if appended is None:
        return None
    # a file: the models and checks read staging as its rows plus the delta's, and the
    # delta goes in with the swap, in one transaction (the shadows are committed on their own).
    # A lake: staging is appended in the open transaction, and read as it is
    read_as: dict[str, str] = {}
    if is_lake:
        counts = _append_deltas(connection, staging)
    else:
        for model in staging:
            view = model.name + ALL_ROWS_SUFFIX
            connection.execute(
                f"create or replace temp view {view} as select * from {model.table}"
                f" union all select * from {model.name}{DELTA_SUFFIX}"
            )
            read_as[model.table] = view
    recomputed_rows = _keyed_deltas(connection, rest, staging, read_as)
    if recomputed_rows is None:
        return None
    recomputed = [m for m in rest if m.table in recomputed_rows]
    # earlier rows passed their checks and are unchanged: the checks of staging and of the
    # recomputed models read what their new rows can break (at 200k events the key check of
    # stg_translations was 0.8 s in full)
    new_rows = {m.table: m.name + DELTA_SUFFIX for m in staging + recomputed}
    checks = [for_new_rows(c, new_rows) for c in checks]
    others = [m for m in rest if m not in recomputed]
    if is_lake:
        for model in recomputed:
            counts[model.table] = keyed.replace_affected(connection, model)
        _drop_lake_shadows(connection, models, existing)
        counts.update(_build_in_place(connection, others, existing))
        _raise_if_failed(connection, checks, lambda sql: sql)
        return _Appended(counts, appended, recomputed_rows)
    for model in recomputed:
        view = model.name + ALL_ROWS_SUFFIX
        connection.execute(f"create or replace temp view {view} as {keyed.kept_rows_sql(model)}")
        read_as[model.table] = view
    counts = _build_file(connection, others, checks, read_as)
    for model in recomputed:  # in the swap's transaction
        counts[model.table] = keyed.replace_affected(connection, model)
    counts.update(_append_deltas(connection, staging))
    return _Appended(counts, appended, recomputed_rows)


def _existing_counts(connection: duckdb.DuckDBPyConnection, models: list[Model]) -> dict[str, int]:
    return {
        m.table: connection.execute(f"select count(*) from {m.table}").fetchall()[0][0]
        for m in models
    }


def _freshness(
    connection: duckdb.DuckDBPyConnection, result: BuildResult, max_age: timedelta | None
) -> BuildResult:
    """Note the newest event time on `result`; warn when it is older than `max_age`."""
    result.newest_event_at = newest_event_at(connection)
    if max_age is not None and result.newest_event_at is not None:
        age = datetime.now(UTC) - result.newest_event_at
        result.stale = age > max_age
        if result.stale:
            log.warning(
                "newest event %s is older than warehouse.freshness_max_age (%s):"
                " is the archive still receiving deliveries?",
                describe_newest(result.newest_event_at),
                format_age(max_age),
            )
    return result


def _try_appending(
    connection: duckdb.DuckDBPyConnection,
    models: list[Model],
    checks: list[DataCheck],
    is_lake: bool,
    transforms_dir: Path,
    previous: _BuildState,
    definition_key: str,
    key_unchanged: bool,
    max_share: float,
) -> _Appended | None:
    """An appended build (`_append_staging`) when the last build allows one, left in an open
    transaction; None, with nothing changed, when staging must be rebuilt instead. No rows
    appended (`{}`) when no event was loaded since: nothing is rebuilt."""
    if previous.build_key is None:
        return None  # the first build
    if not key_unchanged or previous.definition_key != definition_key:
        log.info("staging is rebuilt: the models, their settings or the job changed")
        return None
    check = check_appendable(connection, previous.raw_mark, max_share)
    if check.reason is not None:
        log.info("staging is rebuilt: %s", check.reason)
        return None
    if check.new_events == 0 and {m.table for m in models} <= _tables(connection):
        # the loads since the last build brought no event (re-deliveries, rejected records
        # only): every model would come out the same (they read event rows and the sets they
        # name, which are stored by content). Only the build state is written anew.
        connection.execute("begin transaction")
        return _Appended(_existing_counts(connection, models), {})
    try:
        create_new_source_views(connection, list(_raw_contract(transforms_dir)), previous.raw_mark)
        built = _append_staging(connection, models, checks, is_lake)
    except (ExpectedFailure, duckdb.Error) as exc:
        with contextlib.suppress(duckdb.Error):
            connection.execute("rollback")
        reason = exc.message if isinstance(exc, ExpectedFailure) else str(exc).splitlines()[0]
        log.warning(
            "appending the new events to staging failed (%s): rebuilding every model", reason
        )
        built = None
    if built is None:
        with contextlib.suppress(duckdb.Error):  # a lake's transaction, if it is open
            connection.execute("rollback")
        _drop_shadows(connection, models)
        _drop_deltas(connection, models)
    return built


def build_models(
    database: Warehouse | str | Path,
    settings: TransformSettings,
    transforms_dir: Path = TRANSFORMS_DIR,
    *,
    force: bool = False,
    memory_limit: str = s.DEFAULT_DUCKDB_MEMORY_LIMIT,
    select: str | None = None,
    append_max_share: float = incremental.APPEND_MAX_SHARE,
) -> BuildResult:
    """Build every model and run every check; make them visible in one commit, only if all
    pass (see the module doc).

    When nothing was loaded and nothing in transforms/ or the settings changed since the last
    build, the marts are current and nothing is rebuilt (unless `force`). When only loads were
    added, staging gets the rows of the new events appended, the models declared
    `incremental_by` are recomputed for the requests with new events (`pipelines.marts.keyed`)
    and the other intermediate and marts models rebuilt (`pipelines.marts.incremental`; not
    when the new events are more than `append_max_share` of those built before); a failed
    check of such a build rebuilds every model instead. `force` rebuilds every model. With `select`, only the selected models
    are rebuilt (always), checked by the checks that read them; the other models and the build
    state are left as they are, so the next run still rebuilds what changed since the last
    full build.
    """
    models = order_models(discover_models(transforms_dir))
    if select is not None:
        models = select_models(models, select)
        force = True
    rebuilt = {m.table for m in models} if select is not None else None
    checks = load_checks(transforms_dir, rebuilt)
    is_lake = as_warehouse(database).is_lake
    connection = connect(database, memory_limit=memory_limit)
    try:
        definition_key = _definition_key(settings, transforms_dir)
        build_key = _build_key(connection, definition_key)
        previous = _previous_build_state(connection)
        key = settings.pseudonymization_key
        same = same_key(key, previous.key_salt, previous.key_verifier)
        if not force and previous.build_key == build_key and same:
            return _freshness(
                connection,
                BuildResult(
                    _existing_counts(connection, models), 0, settings.uses_dev_key, up_to_date=True
                ),
                settings.freshness_max_age,
            )
        _register_functions(connection, settings)
        _limit_threads(connection)
        connection.execute("set TimeZone = 'UTC'")  # days and weeks in the marts are UTC
        _create_source_views(connection, transforms_dir)
        for layer in LAYERS:
            connection.execute(f"create schema if not exists {layer}")
        built = None
        if not force:
            built = _try_appending(connection, models, checks, is_lake, transforms_dir, previous,
                                   definition_key, same, append_max_share)  # fmt: skip
        appended = recomputed = None
        if built is not None:
            counts, appended, recomputed = built.counts, built.appended_rows, built.recomputed_rows
        elif is_lake:
            counts = _build_lake(connection, models, checks)
        else:
            counts = _build_file(connection, models, checks)
        existing = _tables(connection)  # the transaction is open: the swapped-in tables
        if select is None:  # a partial build leaves the state of the last full build
            _write_build_state(connection, build_key, definition_key, key, existing)
        elif any(m.layer == "staging" for m in models):
            _forget_raw_mark(connection, existing)
        label_marts_commit(connection, database)
        connection.execute("commit")
        return _freshness(
            connection,
            BuildResult(
                counts,
                0 if appended == {} else len(checks),
                settings.uses_dev_key,
                up_to_date=appended == {},  # no new event: nothing rebuilt, nothing to check
                selected=select is not None,
                appended_rows=appended,
                recomputed_rows=recomputed,
            ),
            settings.freshness_max_age,
        )
    except BaseException:
        # nothing to roll back when the failure came before the transaction began
        with contextlib.suppress(duckdb.Error):
            connection.execute("rollback")
        raise
    finally:
        connection.close()
