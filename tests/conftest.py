"""Shared test helpers: build archives from the spec's example event, run the job for real."""

from __future__ import annotations

import copy
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads(
    (Path(__file__).parent / "fixtures" / "callback-request-create.example.json").read_text()
)

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def callback_event(
    event_id: str,
    request_id: str = "cr-1",
    *,
    status: str = "OPEN",
    event_type: str = "Callback-request.create",
    updated_at: str = "2024-08-17T10:00:00.000Z",
    **extra: Any,
) -> dict[str, Any]:
    """A Callback Request event shaped exactly like the spec's example."""
    event = copy.deepcopy(EXAMPLE)
    event.update(
        id=event_id,
        correlationId=f"corr-{event_id}",
        version="1",
        webhookConfigurationId="wh-1",
    )
    event["data"]["eventType"] = event_type
    request = event["data"]["callbackRequest"]
    request.update(id=request_id, status=status, updatedAt=updated_at, **extra)
    return event


def appointment_event(
    event_id: str, appointment_id: str = "ap-1", request_id: str | None = "cr-1"
) -> dict:
    """An Appointment event as the spec describes it."""
    appointment: dict[str, Any] = {
        "id": appointment_id,
        "status": "ACCEPTED",
        "createdAt": "2024-08-17T10:00:00.000Z",
        "updatedAt": "2024-08-17T11:00:00.000Z",
    }
    if request_id:
        appointment["callbackRequest"] = {"id": request_id}
    return {
        "id": event_id,
        "correlationId": f"corr-{event_id}",
        "entity": "Appointment",
        "version": "1",
        "webhookConfigurationId": "wh-1",
        "data": {"eventType": "ACCEPT", "message": "accepted", "appointment": appointment},
    }


def jsonl(*events: Any) -> bytes:
    """Events as JSON lines."""
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def write_files(root: Path, files: dict[str, bytes | str]) -> Path:
    """Write `files` (relative path -> content; `.gz` names are gzipped) under `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return root


def job_command(archive: Path, database: Path | str, *args: str) -> list[str]:
    """The command line of `python -m pipelines.run` for `archive` into `database` (a file
    warehouse or a lake setting)."""
    return [
        sys.executable,
        "-m",
        "pipelines.run",
        "--source",
        str(archive),
        "--database",
        str(database),
        *args,
    ]


def run_job(
    *args: str,
    cwd: Path = REPO,
    env: dict | None = None,
    timeout: int = 300,
    prefix: Sequence[str] = (),
):
    """Run `python -m pipelines.run` as a real process (`prefix`: a command that runs it,
    such as `setpriv ...` to run it as another user)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [*prefix, sys.executable, "-m", "pipelines.run", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def query(database: Path, sql: str) -> list[tuple]:
    """Run a read-only query against a warehouse file."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def table_counts(database: Path, schema: str = "raw") -> dict[str, int]:
    """Row count of every table of `schema` (dlt's bookkeeping tables excluded)."""
    with duckdb.connect(str(database), read_only=True) as con:
        names = [
            n
            for (n,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_type = 'BASE TABLE' and table_name not like '\\_dlt%' escape '\\'",
                [schema],
            ).fetchall()
        ]
        return {n: con.execute(f'select count(*) from {schema}."{n}"').fetchone()[0] for n in names}


def mart_names(database: Path) -> list[str]:
    """Every mart of a warehouse (`_build_state` records when the marts were built, not data)."""
    return [
        name
        for (name,) in query(
            database,
            "select table_name from information_schema.tables where table_schema = 'marts'"
            " and table_name not like '\\_%' escape '\\' order by 1",
        )
    ]


def generate(out: Path, events: int, seed: int, *extra: str) -> dict:
    """Generate an archive with the project's generator; return its manifest of truths."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.generate",
            "--events",
            str(events),
            "--out",
            str(out),
            "--seed",
            str(seed),
            *extra,
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads(out.with_name(out.name + ".manifest.json").read_text())


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An empty archive folder."""
    path = tmp_path / "archive"
    path.mkdir()
    return path


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Where the test's warehouse goes."""
    return tmp_path / "warehouse.duckdb"


# dlt's per-row and per-load ids differ between any two loads: left out when comparing warehouses
DLT_IDS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id")


def _table_names(con: Any, schema: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables"
            " where table_catalog = current_database() and table_schema = ?"
            " and table_name not like '\\_%' escape '\\' order by 1",
            [schema],
        ).fetchall()
    ]


def schema_contents(
    warehouse: Any, schema: str = "marts", exclude: Sequence[str] = ()
) -> dict[str, list[tuple]]:
    """Every table of `schema` (names starting with `_` left out), all rows sorted, through
    `pipelines.warehouse.connection.connect`: compares a file with a lake. `exclude`: columns
    left out (such as `DLT_IDS`)."""
    from pipelines.warehouse.connection import connect

    con = connect(warehouse, read_only=True)
    try:
        contents = {}
        for name in _table_names(con, schema):
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_catalog = current_database() and table_schema = ?"
                    " and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in exclude
            ]
            selected = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {selected} from {schema}."{name}"').fetchall()
            contents[name] = sorted(rows, key=repr)
        return contents
    finally:
        con.close()


def marts_contents(warehouse: Any) -> dict[str, list[tuple]]:
    """All marts of a warehouse (file or lake), every row, sorted: equal on equal data."""
    return schema_contents(warehouse, "marts")


def warehouse_counts(warehouse: Any, schema: str = "raw") -> dict[str, int]:
    """Row count of every table of `schema` of a warehouse (file or lake), dlt's own left out."""
    from pipelines.warehouse.connection import connect

    con = connect(warehouse, read_only=True)
    try:
        return {
            name: con.execute(f'select count(*) from {schema}."{name}"').fetchone()[0]
            for name in _table_names(con, schema)
        }
    finally:
        con.close()


def lake_query(warehouse: Any, sql: str) -> list[tuple]:
    """A read-only query against a warehouse (file or lake)."""
    from pipelines.warehouse.connection import connect

    con = connect(warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed sample archive loaded by the job into a file warehouse (one per module;
    modules that need another warehouse define their own `warehouse`)."""
    database = tmp_path_factory.mktemp("sample") / "w.duckdb"
    proc = run_job("--source", str(REPO / "data" / "archive"), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    return database


@pytest.fixture(scope="module")
def lake(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite-catalog lake with the same marts as `warehouse`; its `database` setting."""
    from lake_copy import copy_marts_to_lake

    return copy_marts_to_lake(warehouse, tmp_path_factory.mktemp("lake") / "catalog.sqlite")
