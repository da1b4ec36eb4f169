"""The reporting notebook and the analysts' guide run against a real warehouse."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import nbformat
import pytest
from conftest import REPO, query, run_job
from nbclient import NotebookClient

NOTEBOOK = REPO / "notebooks" / "callback_requests_report.ipynb"
GUIDE = REPO / "docs" / "analysts_guide.md"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("notebook") / "w.duckdb"
    proc = run_job("--source", str(REPO / "data" / "archive"), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    return database


def execute(database: Path, **parameters: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source += "".join(f"\n{name} = {value!r}" for name, value in parameters.items())
    os.environ["WAREHOUSE_DATABASE"] = str(database)
    try:
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        ).execute()
    finally:
        del os.environ["WAREHOUSE_DATABASE"]
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> tuple[str, int]:
    text, images = "", 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", output
            text += output.get("text", "")
            images += "image/png" in output.get("data", {})
    return text, images


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_top_to_bottom(warehouse: Path) -> None:
    text, images = outputs(execute(warehouse))
    (count,) = query(warehouse, "select count(*) from marts.fct_callback_requests")[0]
    assert f"callback requests in range: {count}" in text
    assert images == 8  # one figure per chart


def test_notebook_handles_an_empty_date_range(warehouse: Path) -> None:
    text, images = outputs(execute(warehouse, start_date="1990-01-01", end_date="1990-01-31"))
    assert "callback requests in range: 0" in text
    assert "no data in the chosen date range" in text
    assert images == 1  # only the office map, which shows every office


def test_every_query_of_the_analysts_guide_runs(warehouse: Path) -> None:
    blocks = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert len(blocks) >= 5
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for sql in blocks:
            assert con.execute(sql).fetchall(), sql
