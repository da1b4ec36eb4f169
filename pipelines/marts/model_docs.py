"""The model docs: `transforms/<layer>/_models.toml`, one file per layer beside its SQL.

Each model has a table named after it (the SQL file's stem) with:

- `description`: what a row is about, for the catalog (`make docs`) and analysts;
- `grain`: what one row is; `key`: the columns that identify a row (checked unique);
- `not_null`: columns checked never null; `relationships`: `{ column, to = "layer.table",
  field }` checked to exist in the other model; `accepted_values`: `{ column = [values] }`;
- `incremental_by`: a column such that the model's rows of one value of it come only from
  rows with that value in what it reads (one callback request's events): every window,
  aggregate and join is per value of it. An appended build recomputes the model only for the
  values with new rows (`pipelines.marts.keyed`); nothing checks the promise but the test
  that compares appended runs with a full rebuild (`tests/test_marts_appended.py`, which lists
  the declared models);
- `[<model>.columns]`: `name = "description"` for every column the model builds. A column
  that keeps the name and meaning of a column of a model it reads may be left out: it takes
  that column's description (`inherited_description`). Types come from the built table.

The runner builds the data checks from these (`pipelines.marts.data_checks`); the tests check
that every built column is described and every described column is built.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.common.errors import EXIT_CHECK_FAILED, ExpectedFailure

DOCS_FILE = "_models.toml"
LAYERS = ("staging", "intermediate", "marts")
_FIELDS = {
    "description",
    "grain",
    "key",
    "not_null",
    "relationships",
    "accepted_values",
    "columns",
    "incremental_by",
}


@dataclass(frozen=True)
class ModelDoc:
    """What the docs say about one model."""

    table: str  # layer.name
    description: str
    grain: str
    key: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    relationships: tuple[tuple[str, str, str], ...] = ()  # (column, to table, to field)
    accepted_values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    # rows of one value of this column come only from rows with that value in what the model
    # reads: an appended build recomputes only the values with new rows (pipelines.marts.keyed)
    incremental_by: str | None = None

    @property
    def check_names(self) -> list[str]:
        """The checks of this model, as `pipelines.marts.data_checks` names them."""
        from pipelines.marts.data_checks import checks_of  # a cycle at import time otherwise

        return [check.name for check in checks_of(self)]


def _refuse(path: Path, message: str) -> ExpectedFailure:
    return ExpectedFailure(EXIT_CHECK_FAILED, f"{path}: {message}")


def load_model_docs(transforms_dir: Path) -> dict[str, ModelDoc]:
    """Every model's docs, by `layer.name`; a layer without a docs file has none."""
    docs: dict[str, ModelDoc] = {}
    for layer in LAYERS:
        path = transforms_dir / layer / DOCS_FILE
        if not path.exists():
            continue
        try:
            spec = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise _refuse(path, f"not valid TOML: {exc}") from None
        for name, entry in spec.items():
            unknown = set(entry) - _FIELDS
            if unknown:
                raise _refuse(path, f"{name}: unknown fields {sorted(unknown)}")
            try:
                docs[f"{layer}.{name}"] = ModelDoc(
                    table=f"{layer}.{name}",
                    description=" ".join(entry["description"].split()),
                    grain=entry["grain"],
                    key=tuple(entry.get("key", ())),
                    not_null=tuple(entry.get("not_null", ())),
                    relationships=tuple(
                        (r["column"], r["to"], r["field"]) for r in entry.get("relationships", ())
                    ),
                    accepted_values={
                        column: tuple(values)
                        for column, values in entry.get("accepted_values", {}).items()
                    },
                    columns={
                        column: " ".join(text.split())
                        for column, text in entry.get("columns", {}).items()
                    },
                    incremental_by=_column_name(path, name, entry.get("incremental_by")),
                )
            except KeyError as exc:
                raise _refuse(path, f"{name}: missing {exc.args[0]}") from None
    return docs


def _column_name(path: Path, model: str, value: Any) -> str | None:
    """`incremental_by`: a plain column name, or none."""
    if value is None or (isinstance(value, str) and value.isidentifier()):
        return value
    raise _refuse(path, f"{model}: incremental_by must be one column name, not {value!r}")


def inherited_description(
    table: str, column: str, docs: dict[str, ModelDoc], depends_on: dict[str, set[str]]
) -> tuple[str | None, str | None]:
    """The column's description and the model it is written in: the model's own, else that
    of the same column in a model it reads (nearest first, then by name)."""
    seen: set[str] = set()
    frontier = [table]
    while frontier:
        for current in frontier:
            doc = docs.get(current)
            if doc is not None and column in doc.columns:
                return doc.columns[column], current
        seen.update(frontier)
        frontier = sorted({up for t in frontier for up in depends_on.get(t, ())} - seen)
    return None, None
