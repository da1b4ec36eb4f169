"""The reporting notebook and the analysts' guide run against a real warehouse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, query, run_job
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbconvert import HTMLExporter

from pipelines.warehouse.reader import Reader

NOTEBOOK = REPO / "notebooks" / "callback_requests_report.ipynb"
TEMPLATE = REPO / "notebooks" / "report.html.j2"  # `make report`'s template
GUIDE = REPO / "docs" / "analysts_guide.md"
CHARTS = 8  # volume (day and week), per office, per meeting type, status and funnel,
# time to close, answers, workload, office map
KERNEL_CHECK = "import sys\nprint(f'kernel prefix: {sys.prefix}')"
# days of creation in UTC, whatever the session's time zone
CREATED_DAY = "cast(timezone('UTC', created_at) as date)"


def prepared(**parameters: str) -> nbformat.NotebookNode:
    """The notebook with `parameters` injected papermill-style, in a cell right after the
    `parameters` cell, and a last cell that prints the kernel's sys.prefix (which python ran)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    (index,) = [
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    ]
    injected = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(injected))
    notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_CHECK))
    return notebook


def client(notebook: nbformat.NotebookNode) -> NotebookClient:
    """A client that runs the kernel in the notebook's folder, as nbconvert and Jupyter do."""
    return NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )


def execute(
    env: dict[str, str] | None = None, **parameters: str
) -> tuple[nbformat.NotebookNode, str, int]:
    """Run the notebook as nbconvert would (kernel in its folder); return it, its text, images."""
    notebook = prepared(**parameters)
    client(notebook).execute(env={**os.environ, **(env or {})})
    return (notebook, *outputs(notebook))


def outputs(notebook: nbformat.NotebookNode) -> tuple[str, int]:
    """The text the notebook printed and the number of images; no cell may have failed."""
    text, images = "", 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", "\n".join(output.get("traceback", []))
            text += output.get("text", "")
            images += "image/png" in output.get("data", {})
    assert f"kernel prefix: {sys.prefix}\n" in text  # the kernel is this venv's python
    return text, images


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
    for name in ("database", "data_path", "start_date", "end_date"):
        assert re.search(rf"^{name} = None\b", tagged[0].source, re.MULTILINE), name


def test_notebook_runs_top_to_bottom(warehouse: Path) -> None:
    # the warehouse comes from the job's own setting, as with `make report`
    notebook, text, images = execute(env={"WAREHOUSE__DATABASE": str(warehouse)})
    (count,) = query(warehouse, "select count(*) from marts.fct_callback_requests")[0]
    assert count > 0
    assert f"warehouse: {warehouse}\n" in text
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
    assert "callback requests in range" in html and "database =" not in html


def test_notebook_runs_on_a_lake(warehouse: Path, lake: str) -> None:
    _, text, images = execute(env={"WAREHOUSE__DATABASE": lake})
    (count,) = query(warehouse, "select count(*) from marts.fct_callback_requests")[0]
    assert f"warehouse: {lake}\n" in text
    assert f"callback requests in range: {count}\n" in text
    assert images == CHARTS


def test_an_open_notebook_does_not_stop_a_run(warehouse: Path) -> None:
    # control: a connection kept open stops a run (exit 4), so the run does need the file
    job = ("--database", str(warehouse), "--source", str(REPO / "data" / "archive"))
    with Reader(warehouse).connection():
        blocked = run_job(*job)
    assert blocked.returncode == 4, blocked.stderr

    # every cell but the last one (which only closes the reader) has run, the kernel lives on
    notebook = prepared()
    assert notebook.cells[-2].source.startswith("warehouse.close()")
    del notebook.cells[-2]
    runner = client(notebook)
    with runner.setup_kernel(env={**os.environ, "WAREHOUSE__DATABASE": str(warehouse)}):
        for index, cell in enumerate(notebook.cells):
            runner.execute_cell(cell, index)
        text, _ = outputs(notebook)
        assert "callback requests in range: " in text
        assert run_sync(runner.kc.is_alive)()
        proc = run_job(*job)
        assert proc.returncode == 0, proc.stderr
        # and the notebook goes on querying the warehouse the run just wrote
        cell = nbformat.v4.new_code_cell(
            "print('after the run:', len(q('select * from requests')))"
        )
        notebook.cells.append(cell)
        runner.execute_cell(cell, len(notebook.cells) - 1)
        assert "after the run: " in cell.outputs[0]["text"]


def test_notebook_filters_on_the_date_range(warehouse: Path) -> None:
    (count,) = query(
        warehouse,
        "select count(*) from marts.fct_callback_requests "
        f"where {CREATED_DAY} between date '2026-09-07' and date '2026-09-13'",
    )[0]
    (total,) = query(warehouse, "select count(*) from marts.fct_callback_requests")[0]
    assert 0 < count < total
    _, text, images = execute(
        database=str(warehouse), start_date="2026-09-07", end_date="2026-09-13"
    )
    assert f"callback requests in range: {count}\n" in text
    assert images == CHARTS


def test_notebook_handles_an_empty_date_range(warehouse: Path) -> None:
    _, text, images = execute(
        database=str(warehouse), start_date="1990-01-01", end_date="1990-01-31"
    )
    assert "callback requests in range: 0\n" in text
    assert text.count("no data in the chosen date range") == CHARTS - 1
    assert images == 1  # only the office map, which shows every office


def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(), re.DOTALL | re.MULTILINE)


@pytest.fixture(params=["file", "lake"])
def either(request: pytest.FixtureRequest, warehouse: Path, lake: str) -> str:
    """The `database` setting of the file warehouse, then of the lake with the same marts."""
    return str(warehouse) if request.param == "file" else lake


def test_every_query_of_the_analysts_guide_runs(either: str) -> None:
    blocks = guide_blocks("sql")
    assert len(blocks) >= 5
    with Reader(either) as warehouse, warehouse.connection() as con:
        for sql in blocks:
            assert con.execute(sql).fetchall(), sql


def test_the_python_examples_of_the_analysts_guide_run(
    either: str,
    warehouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (code,) = guide_blocks("python")
    (closed,) = query(
        warehouse, "select count(*) from marts.fct_callback_requests where status = 'CLOSED'"
    )[0]
    (weeks,) = query(
        warehouse,
        "select count(distinct date_trunc('week', timezone('UTC', created_at))) "
        "from marts.fct_callback_requests",
    )[0]
    # the guide's code finds the warehouse as the job does, from the repository root
    monkeypatch.setenv("WAREHOUSE__DATABASE", either)
    monkeypatch.chdir(REPO)
    namespace: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(code, namespace)
    assert not [w for w in caught if "inplace" in str(w.message)], caught
    assert namespace["closed"] == closed > 0
    assert len(namespace["weekly"]) == weeks > 0
    assert f"{closed} closed requests" in capsys.readouterr().out


@pytest.mark.slow
def test_the_readers_on_a_lake_the_job_built(tmp_path: Path) -> None:
    """The job's own lake (dlt's ducklake destination): `python -m pipelines.sql` and the
    notebook find it from the same `WAREHOUSE__DATABASE` as the job, read-only."""
    setting = f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    env = {"WAREHOUSE__DATABASE": setting}
    proc = run_job("--source", str(REPO / "data" / "archive"), env=env)
    assert proc.returncode == 0, proc.stderr
    with Reader(setting) as lake:
        count = int(lake.query("select count(*) as n from marts.fct_callback_requests")["n"][0])
        events = int(lake.query("select count(*) as n from raw.callback_request_events")["n"][0])
    assert count > 0 and events > 0

    cli = subprocess.run(
        [sys.executable, "-m", "pipelines.sql", "-csv", "-noheader"],
        input="select count(*) from marts.fct_callback_requests;\n"
        "select count(*) from raw.callback_request_events;\n"
        "create table marts.x as select 1;\n",
        cwd=REPO,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.stdout.splitlines() == [str(count), str(events)], cli.stderr
    assert "read-only" in cli.stderr

    _, text, images = execute(env=env)
    assert f"callback requests in range: {count}\n" in text
    assert images == CHARTS
