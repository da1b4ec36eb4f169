"""Data checks: the generic ones declared in the model docs (`transforms/<layer>/_models.toml`:
`key` is unique, `not_null`, `relationships`, `accepted_values`) and the reconciliation
queries (`transforms/checks/*.sql`, each described by its first comment line).

Each check is a query that returns offending rows; a check passes when it returns none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.marts.model_docs import ModelDoc, load_model_docs

_REFERENCE = re.compile(r"\b(staging|intermediate|marts)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DataCheck:
    """A named query that must return no rows, and the models it reads."""

    name: str
    sql: str
    models: frozenset[str] = frozenset()
    description: str = ""
    # a generic check of one model's rows: "unique" (of `columns`), or "row" (each row on its
    # own: not_null, accepted_values); `for_new_rows` narrows these to appended rows
    kind: str = ""
    columns: tuple[str, ...] = ()


def _unique(model: str, columns: Iterable[str]) -> DataCheck:
    cols = ", ".join(columns)
    return DataCheck(
        f"unique({model}: {cols})",
        f"select {cols}, count(*) as n from {model} group by all having count(*) > 1",
        frozenset({model}),
        kind="unique",
        columns=tuple(columns),
    )


def _not_null(model: str, columns: Iterable[str]) -> DataCheck:
    columns = list(columns)
    where = " or ".join(f"{column} is null" for column in columns)
    return DataCheck(
        f"not_null({model}: {', '.join(columns)})",
        f"select * from {model} where {where}",
        frozenset({model}),
        kind="row",
    )


def _relationship(model: str, column: str, to: str, field: str) -> DataCheck:
    return DataCheck(
        f"relationships({model}.{column} -> {to}.{field})",
        f"select child.{column} from {model} as child "
        f"where child.{column} is not null "
        f"and not exists (select 1 from {to} as parent where parent.{field} = child.{column})",
        frozenset({model, to}),
    )


def _sql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _accepted_values(model: str, column: str, values: tuple[object, ...]) -> DataCheck:
    listed = ", ".join(_sql_literal(v) for v in values)
    return DataCheck(
        f"accepted_values({model}.{column}: {listed})",
        f"select {column}, count(*) as n from {model} "
        f"where {column} is not null and {column} not in ({listed}) group by all",
        frozenset({model}),
        kind="row",
    )


def for_new_rows(check: DataCheck, new_rows: dict[str, str]) -> DataCheck:
    """`check` reading only what rows added to a model can break, when the model's other rows
    passed it before and are unchanged (`new_rows`: model -> table of its added rows): a row
    check reads the added rows, a key check the rows that share a key with an added row.
    Other checks are returned as they are."""
    (model,) = check.models if len(check.models) == 1 else (None,)
    if model not in new_rows or check.kind not in ("unique", "row"):
        return check
    added = new_rows[model]
    if check.kind == "row":
        sql = re.sub(rf"\bfrom {re.escape(model)}\b", f"from {added}", check.sql, count=1)
        return DataCheck(check.name, sql, check.models, check.description, check.kind)
    cols = ", ".join(check.columns)
    same = " and ".join(f"m.{c} is not distinct from a.{c}" for c in check.columns)
    sql = (
        f"select {cols}, count(*) as n from {model} as m"
        f" semi join (select distinct {cols} from {added}) as a on {same}"
        " group by all having count(*) > 1"
    )
    return DataCheck(check.name, sql, check.models, check.description, check.kind, check.columns)


def checks_of(doc: ModelDoc) -> list[DataCheck]:
    """The generic checks one model's docs declare."""
    checks = [_unique(doc.table, doc.key)] if doc.key else []
    if doc.not_null:
        checks.append(_not_null(doc.table, doc.not_null))
    checks += [_relationship(doc.table, c, to, f) for c, to, f in doc.relationships]
    checks += [_accepted_values(doc.table, c, v) for c, v in doc.accepted_values.items()]
    return checks


def singular_checks(transforms_dir: Path) -> list[DataCheck]:
    """The reconciliation queries of `transforms/checks/`, with the models they read."""
    checks = []
    for path in sorted((transforms_dir / "checks").glob("*.sql")):
        sql = path.read_text()
        code = re.sub(r"--[^\n]*", "", sql)
        models = frozenset(f"{a.lower()}.{b.lower()}" for a, b in _REFERENCE.findall(code))
        comment = []
        for line in sql.splitlines():
            if not line.startswith("--"):
                break
            comment.append(line.removeprefix("--").strip())
        checks.append(DataCheck(f"reconciliation({path.stem})", sql, models, " ".join(comment)))
    return checks


def load_checks(transforms_dir: Path, rebuilt: set[str] | None = None) -> list[DataCheck]:
    """All checks: the generic ones from the model docs, then the reconciliation queries.

    With `rebuilt` (a partial build), only the checks that read a rebuilt model: its own,
    relationships that point at it, and the reconciliations that read it."""
    checks = [c for doc in load_model_docs(transforms_dir).values() for c in checks_of(doc)]
    checks += singular_checks(transforms_dir)
    if rebuilt is not None:
        checks = [c for c in checks if c.models & rebuilt]
    return checks


def failed_checks(
    connection: duckdb.DuckDBPyConnection,
    checks: list[DataCheck],
    rewrite: Callable[[str], str] = lambda sql: sql,
) -> list[str]:
    """Run every check (its SQL passed through `rewrite`, e.g. to read a build's shadow
    tables); return one line per failed check with a sample of what failed."""
    failures = []
    for check in checks:
        sql = rewrite(check.sql)
        rows = connection.execute(f"select * from ({sql}) limit 3").fetchall()
        if rows:
            total = connection.execute(f"select count(*) from ({sql})").fetchone()[0]
            failures.append(f"{check.name}: {total} offending rows, e.g. {rows[0]}")
    return failures
