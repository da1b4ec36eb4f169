"""The reporting notebook and the analysts' guide run against a real warehouse."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import duckdb
import nbformat
import pytest
from conftest import REPO, query, run_job
from nbclient import NotebookClient
from nbconvert import HTMLExporter

NOTEBOOK = REPO / "notebooks" / "callback_requests_report.ipynb"
TEMPLATE = REPO / "notebooks" / "report.html.j2"  # `make report`'s template
GUIDE = REPO / "docs" / "analysts_guide.md"
CHARTS = 8  # volume (day and week), per office, per meeting type, status and funnel,
# time to close, answers, workload, office map
KERNEL_CHECK = "import sys\nprint(f'kernel prefix: {sys.prefix}')"
# days of creation in UTC, whatever the session's time zone
CREATED_DAY = "cast(timezone('UTC', created_at) as date)"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("notebook") / "w.duckdb"
    proc = run_job("--source", str(REPO / "data" / "archive"), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    return database


def execute(
    env: dict[str, str] | None = None, **parameters: str
) -> tuple[nbformat.NotebookNode, str, int]:
    """Run the notebook as nbconvert would (kernel in its folder); return it, its text, images.

    Parameters are injected papermill-style, in a cell right after the `parameters` cell; a
    last cell prints the kernel's sys.prefix so the test can check which python ran it.
    """
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    (index,) = [
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    ]
    injected = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(injected))
    notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_CHECK))
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute(env={**os.environ, **(env or {})})

    text, images = "", 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", "\n".join(output.get("traceback", []))
            text += output.get("text", "")
            images += "image/png" in output.get("data", {})
    assert f"kernel prefix: {sys.prefix}\n" in text  # the kernel is this venv's python
    return notebook, text, images


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.outputs == [], cell.source[:80]
        assert cell.execution_count is None, cell.source[:80]
    assert notebook.metadata.kernelspec.name == "python3"


def test_parameters_cell_defaults_to_all_data() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("database_path", "start_date", "end_date"):
        assert re.search(rf"^{name} = None\b", tagged[0].source, re.MULTILINE), name


def test_notebook_runs_top_to_bottom(warehouse: Path) -> None:
    # the path comes from the environment, as with `make report`
    notebook, text, images = execute(env={"WAREHOUSE_DATABASE": str(warehouse)})
    (count,) = query(warehouse, "select count(*) from marts.fct_callback_requests")[0]
    assert count > 0
    assert f"warehouse: {warehouse.resolve()}\n" in text
    assert f"callback requests in range: {count}\n" in text
    assert "no data" not in text
    assert images == CHARTS

    # every chart has a "How to read" line in the markdown cell just above it
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])):
            above = cells[index - 1]
            assert above.cell_type == "markdown" and "How to read:" in above.source, cell.source

    # as `make report` renders it: one HTML file, charts embedded, nothing loaded from elsewhere
    html, _ = HTMLExporter(template_file=str(TEMPLATE), exclude_input=True).from_notebook_node(
        notebook
    )
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', html)) == CHARTS
    assert not re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["']?(?:https?:)?//""", html)
    assert "callback requests in range" in html and "database_path =" not in html


def test_notebook_filters_on_the_date_range(warehouse: Path) -> None:
    (count,) = query(
        warehouse,
        "select count(*) from marts.fct_callback_requests "
        f"where {CREATED_DAY} between date '2026-09-07' and date '2026-09-13'",
    )[0]
    (total,) = query(warehouse, "select count(*) from marts.fct_callback_requests")[0]
    assert 0 < count < total
    _, text, images = execute(
        database_path=str(warehouse), start_date="2026-09-07", end_date="2026-09-13"
    )
    assert f"callback requests in range: {count}\n" in text
    assert images == CHARTS


def test_notebook_handles_an_empty_date_range(warehouse: Path) -> None:
    _, text, images = execute(
        database_path=str(warehouse), start_date="1990-01-01", end_date="1990-01-31"
    )
    assert "callback requests in range: 0\n" in text
    assert text.count("no data in the chosen date range") == CHARTS - 1
    assert images == 1  # only the office map, which shows every office


def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(), re.DOTALL | re.MULTILINE)


def test_every_query_of_the_analysts_guide_runs(warehouse: Path) -> None:
    blocks = guide_blocks("sql")
    assert len(blocks) >= 5
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for sql in blocks:
            assert con.execute(sql).fetchall(), sql


def test_the_python_examples_of_the_analysts_guide_run(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (code,) = guide_blocks("python")
    assert "data/warehouse.duckdb" in code
    (closed,) = query(
        warehouse, "select count(*) from marts.fct_callback_requests where status = 'CLOSED'"
    )[0]
    (weeks,) = query(
        warehouse,
        "select count(distinct date_trunc('week', timezone('UTC', created_at))) "
        "from marts.fct_callback_requests",
    )[0]
    namespace: dict = {}
    exec(code.replace("data/warehouse.duckdb", str(warehouse)), namespace)
    assert namespace["closed"] == closed > 0
    assert len(namespace["weekly"]) == weeks > 0
    assert f"{closed} closed requests" in capsys.readouterr().out
