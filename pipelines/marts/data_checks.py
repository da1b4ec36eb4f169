"""Declarative data checks (transforms/checks.toml) and reconciliation queries (checks/*.sql).

Each check is a query that returns offending rows; a check passes when it returns none.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class DataCheck:
    """A named query that must return no rows."""

    name: str
    sql: str


def _unique(model: str, columns: list[str]) -> DataCheck:
    cols = ", ".join(columns)
    return DataCheck(
        f"unique({model}: {cols})",
        f"select {cols}, count(*) as n from {model} group by all having count(*) > 1",
    )


def _not_null(model: str, columns: list[str]) -> DataCheck:
    where = " or ".join(f"{column} is null" for column in columns)
    return DataCheck(
        f"not_null({model}: {', '.join(columns)})", f"select * from {model} where {where}"
    )


def _relationship(model: str, column: str, to: str, field: str) -> DataCheck:
    return DataCheck(
        f"relationships({model}.{column} -> {to}.{field})",
        f"select child.{column} from {model} as child "
        f"where child.{column} is not null "
        f"and not exists (select 1 from {to} as parent where parent.{field} = child.{column})",
    )


def load_checks(transforms_dir: Path) -> list[DataCheck]:
    """All checks: generic ones from checks.toml, then the reconciliation queries."""
    spec = tomllib.loads((transforms_dir / "checks.toml").read_text())
    checks = [_unique(c["model"], c["columns"]) for c in spec.get("unique", [])]
    checks += [_not_null(c["model"], c["columns"]) for c in spec.get("not_null", [])]
    checks += [
        _relationship(c["model"], c["column"], c["to"], c["field"])
        for c in spec.get("relationships", [])
    ]
    for path in sorted((transforms_dir / "checks").glob("*.sql")):
        checks.append(DataCheck(f"reconciliation({path.stem})", path.read_text()))
    return checks


def failed_checks(connection: duckdb.DuckDBPyConnection, checks: list[DataCheck]) -> list[str]:
    """Run every check; return one line per failed check with a sample of what failed."""
    failures = []
    for check in checks:
        rows = connection.execute(f"select * from ({check.sql}) limit 3").fetchall()
        if rows:
            total = connection.execute(f"select count(*) from ({check.sql})").fetchone()[0]
            failures.append(f"{check.name}: {total} offending rows, e.g. {rows[0]}")
    return failures
