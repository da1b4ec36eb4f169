"""The model docs (`transforms/<layer>/_models.toml`) against the SQL and the README: every
built column is described, every described column is built, the README's marts table says
what the docs say, and the checks the runner runs come from the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.common.errors import ExpectedFailure
from pipelines.marts.data_checks import load_checks
from pipelines.marts.model_docs import inherited_description, load_model_docs
from pipelines.marts.runner import TRANSFORMS_DIR, discover_models, select_models
from pipelines.marts.sandbox import built_columns

README = Path(__file__).resolve().parents[1] / "README.md"
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5}


@pytest.fixture(scope="module")
def built() -> dict[str, list[tuple[str, str]]]:
    return built_columns()


def test_every_model_has_docs_and_every_doc_a_model() -> None:
    models = {m.table for m in discover_models()}
    assert set(load_model_docs(TRANSFORMS_DIR)) == models


def test_every_built_column_is_described_and_every_described_column_built(built) -> None:
    docs = load_model_docs(TRANSFORMS_DIR)
    depends_on = {m.table: m.depends_on for m in discover_models()}
    undescribed, missing, inherited_in_marts = [], [], []
    for table, columns in built.items():
        names = [name for name, _ in columns]
        for name in names:
            text, where = inherited_description(table, name, docs, depends_on)
            if text is None:
                undescribed.append(f"{table}.{name}")
            elif table.startswith("marts.") and where != table:
                inherited_in_marts.append(f"{table}.{name}")
        missing += [f"{table}.{c}" for c in docs[table].columns if c not in names]
        for column in (*docs[table].key, *docs[table].not_null):
            assert column in names, f"{table}: checks name {column}, which it does not build"
    assert undescribed == [], "columns without a description"
    assert missing == [], "described columns the model does not build"
    assert inherited_in_marts == [], "mart columns must be described in the mart itself"


def test_relationships_point_at_built_columns(built) -> None:
    for doc in load_model_docs(TRANSFORMS_DIR).values():
        for column, to, field in doc.relationships:
            assert column in dict(built[doc.table]), (doc.table, column)
            assert field in dict(built[to]), (doc.table, to, field)


def readme_marts_table() -> dict[str, tuple[str, str]]:
    text = README.read_text()
    section = text[text.index("`marts` (grain and keys):") :]
    rows = {}
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("table", "---") or set(cells[0]) <= {"-"}:
            continue
        rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_the_readme_marts_table_matches_the_docs() -> None:
    docs = {t: d for t, d in load_model_docs(TRANSFORMS_DIR).items() if t.startswith("marts.")}
    table = readme_marts_table()
    assert set(table) == {t.removeprefix("marts.") for t in docs}
    for name, (grain, key) in table.items():
        doc = docs[f"marts.{name}"]
        assert grain == doc.grain, name
        spelled = re.fullmatch(r"all (\w+)", key)
        if spelled:  # "all four": the key is every dimension of the grain
            assert NUMBERS[spelled.group(1)] == len(doc.key), name
        else:
            assert [k.strip().strip("`") for k in key.split(",")] == list(doc.key), name


def test_sql_headers_leave_grain_and_key_to_the_docs() -> None:
    for path in sorted(TRANSFORMS_DIR.glob("*/*.sql")):
        if path.parent.name == "checks":
            continue
        header = path.read_text().split("\nwith", 1)[0]
        assert not re.search(r"^-- *(grain|keys?):", header, re.I | re.M), path
        assert f"transforms/{path.parent.name}/_models.toml" in header, path


def test_checks_come_from_the_docs() -> None:
    names = {c.name for c in load_checks(TRANSFORMS_DIR)}
    # what transforms/checks.toml held, among others
    assert "unique(marts.fct_callback_requests: callback_request_id)" in names
    assert (
        "unique(marts.agg_callback_requests_daily: day, office_id, subject_id, meeting_type)"
        in names
    )
    assert "not_null(marts.dim_customers: customer_key)" in names
    assert (
        "relationships(marts.fct_appointments.callback_request_id -> "
        "marts.fct_callback_requests.callback_request_id)" in names
    )
    assert (
        "accepted_values(marts.agg_event_quality.entity: 'Callback Request', 'Appointment')"
        in names
    )
    assert {n for n in names if n.startswith("reconciliation(")} == {
        f"reconciliation({p.stem})" for p in (TRANSFORMS_DIR / "checks").glob("*.sql")
    }
    assert all(c.description for c in load_checks(TRANSFORMS_DIR) if c.name.startswith("recon"))
    assert not (TRANSFORMS_DIR / "checks.toml").exists()


def test_a_partial_build_runs_the_checks_that_read_the_rebuilt_models() -> None:
    rebuilt = {"marts.dim_offices"}
    names = {c.name for c in load_checks(TRANSFORMS_DIR, rebuilt)}
    assert "unique(marts.dim_offices: office_id)" in names
    # the relationship that points at it
    assert (
        "relationships(marts.fct_callback_requests.office_id -> marts.dim_offices.office_id)"
        in names
    )
    assert "unique(marts.fct_callback_requests: callback_request_id)" not in names
    assert not any(n.startswith("reconciliation(") for n in names)


def test_select_a_model_and_what_is_downstream() -> None:
    models = discover_models()
    assert [m.table for m in select_models(models, "dim_offices")] == ["marts.dim_offices"]
    downstream = {m.table for m in select_models(models, "int_callback_requests_current+")}
    assert downstream == {
        "intermediate.int_callback_requests_current",
        "marts.fct_callback_requests",
        "marts.fct_callback_request_answers",
        "marts.fct_appointments",
        "marts.agg_callback_requests_daily",
    }
    assert {m.table for m in select_models(models, "staging.stg_translations+")} >= {
        "staging.stg_display_names",
        "marts.dim_customers",
        "marts.agg_event_quality",
    }
    with pytest.raises(ExpectedFailure, match="no model named nope") as failure:
        select_models(models, "nope+")
    assert failure.value.exit_code == 2
