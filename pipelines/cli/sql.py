"""`python -m pipelines.sql` (`make sql`): the DuckDB CLI on the configured warehouse, read-only.

The CLI is the venv's own (`duckdb-cli`, pinned with the library), so it reads what the job
wrote and loads the same extension binaries. The warehouse comes from the job's setting
(`--database` / `--data-path`, `warehouse.database`, `WAREHOUSE__DATABASE`, ...):

- a DuckDB file opens with `-readonly`;
- a lake is attached read-only into an in-memory session by an init file (`-init`) holding
  `lake_setup_statements`. Those may carry the catalog password or bucket keys, so they never
  go on the command line (visible in `ps`): the file is written with mode 0600 in a private
  temporary folder (0700) and removed when the CLI exits.

Every other argument goes to the CLI as is (`-c "select ..."`, `-csv`, `-json`, ...). The
session starts in UTC (days and weeks as in the marts) and never downloads an extension.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
from dlt.common.configuration.exceptions import ConfigurationException

from pipelines.common.errors import EXIT_UNEXPECTED, EXIT_USAGE, ExpectedFailure
from pipelines.warehouse.connection import lake_setup_statements
from pipelines.warehouse.extensions import OFFLINE_CONFIG
from pipelines.warehouse.location import Warehouse
from pipelines.warehouse.reader import configured_warehouse, missing_warehouse

USAGE = """usage: python -m pipelines.sql [--database SETTING] [--data-path DIR_OR_URL] [DUCKDB ARGS...]

Opens the DuckDB CLI of the venv on the job's warehouse (file or lake), read-only.
--database, --data-path   override the job's setting, as for `python -m pipelines.run`
DUCKDB ARGS               passed to the CLI, e.g. -c "select count(*) from marts.dim_offices"
"""
OWN_OPTIONS = ("--database", "--data-path")


def cli_path() -> Path:
    """The DuckDB CLI installed in this venv (`duckdb-cli`, in the lock file)."""
    return Path(sys.prefix) / "bin" / "duckdb"


def check_cli(cli: Path) -> None:
    """Fail with one line when the CLI is missing or is not the library's version."""
    if not cli.exists():
        raise ExpectedFailure(
            EXIT_UNEXPECTED,
            f"the DuckDB CLI is not installed at {cli} (package duckdb-cli=={duckdb.__version__}): "
            "run `make venv` to install the lock file",
        )
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=30)
    words = out.stdout.split()
    version = words[0].removeprefix("v") if words else "unknown"
    if version != duckdb.__version__:
        raise ExpectedFailure(
            EXIT_UNEXPECTED,
            f"the DuckDB CLI {cli} is version {version}, the library {duckdb.__version__}: "
            "pin duckdb and duckdb-cli to the same version in requirements.lock",
        )


def split_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Our leading options (`--database X`, `--data-path=X`), then the CLI's arguments."""
    own: dict[str, str] = {}
    args = list(argv)
    while args:
        head = args[0]
        if head == "--":
            args.pop(0)
            break
        name, eq, value = head.partition("=")
        if name not in OWN_OPTIONS:
            break
        args.pop(0)
        if not eq:
            if not args:
                raise ExpectedFailure(EXIT_USAGE, f"{name} needs a value")
            value = args.pop(0)
        own[name] = value
    return own, args


def session_statements(warehouse: Warehouse) -> list[str]:
    """What the CLI runs first: offline, UTC, and for a lake the read-only attach."""
    statements = [f"set {name} = {str(value).lower()}" for name, value in OFFLINE_CONFIG.items()]
    statements.append("set TimeZone = 'UTC'")
    if warehouse.is_lake:
        statements += lake_setup_statements(warehouse, read_only=True)
    return statements


def run_cli(cli: Path, warehouse: Warehouse, args: Sequence[str]) -> int:
    """Run the CLI on the warehouse until it exits; return its exit code."""
    private = Path(tempfile.mkdtemp(prefix="pipelines-sql-"))  # mode 0700
    try:
        init = private / "init.sql"
        fd = os.open(init, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{statement};\n" for statement in session_statements(warehouse)))
        target = [] if warehouse.is_lake else ["-readonly", str(warehouse.path)]
        command = [str(cli), "-init", str(init), *target, *args]
        # Ctrl-C belongs to the CLI (it cancels a query); a handler, unlike SIG_IGN, is not
        # inherited by the CLI. SIGTERM/SIGHUP are passed on, so the init file goes too.
        child = subprocess.Popen(command)

        def forward(signum: int, _frame: object) -> None:
            child.send_signal(signum)

        handlers = {
            signal.SIGINT: lambda *_: None,
            signal.SIGTERM: forward,
            signal.SIGHUP: forward,
        }
        saved = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
        try:
            return child.wait()
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Resolve the warehouse, check the CLI, run it; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    try:
        own, args = split_args(argv)
        try:
            warehouse = configured_warehouse(
                own.get("--database"), own.get("--data-path"), root=Path.cwd()
            )
        except ConfigurationException as exc:
            raise ExpectedFailure(EXIT_USAGE, f"configuration: {exc}") from None
        failure = missing_warehouse(warehouse)
        if failure is not None:
            raise failure
        cli = cli_path()
        check_cli(cli)
        return run_cli(cli, warehouse, args)
    except ExpectedFailure as failure:
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
