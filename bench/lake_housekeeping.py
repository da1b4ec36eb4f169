"""How many files and how large a catalog a lake holds after many small incremental runs,
without housekeeping and with it (`pipelines.warehouse.maintenance`).

Generates a base archive and a pool of small files (a few events each), runs the job once on
the base, then `--runs` times after adding one pool file each time: every run is a real
`python -m pipelines.run` process into a SQLite-catalog lake. With `--no-housekeeping` the
job's housekeeping call is replaced by a no-op (in that child process only). After each run
it records the data files under the data path (count, bytes), the catalog's size (SQLite
file and its WAL), the snapshots and the files scheduled for deletion. At the end, with
`--final-housekeeping`, it runs housekeeping once with the default retention, then with a
retention of 0 and no deletion delay (what the lake converges to once the retention passed).
Each run's time per step (the job's summary line) is recorded too, and a table printed.

The runs follow each other within seconds, not 15 minutes: dlt's intermediate snapshots
would never reach `INTERMEDIATE_SNAPSHOT_DELAY` (1 hour, ~4 scheduled runs). With
`--intermediate-delay SECONDS` the job's children use that delay instead (e.g. 60: about 4
runs back, as on the schedule).

    python -m bench.lake_housekeeping --workdir /tmp/lakefiles --runs 100 [--no-housekeeping]
        [--intermediate-delay 60] [--final-housekeeping] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.warehouse.maintenance import maintain_lake

REPO = Path(__file__).resolve().parents[1]
NO_HOUSEKEEPING = (
    "import sys, pipelines.run as r; r.after_run = lambda *a, **k: None;"
    " sys.exit(r.main(sys.argv[1:]))"
)
SHORT_INTERMEDIATE_DELAY = (
    "import sys, datetime, pipelines.run as r, pipelines.warehouse.maintenance as m;"
    " m.INTERMEDIATE_SNAPSHOT_DELAY = datetime.timedelta(seconds={seconds});"
    " sys.exit(r.main(sys.argv[1:]))"
)
STEP = re.compile(r"(\w+) ([0-9.]+)s")


def lake_state(catalog: Path) -> dict[str, Any]:
    """Data files (count, bytes), catalog bytes, snapshots, files scheduled for deletion."""
    data = catalog.with_name(catalog.name + ".files")
    files = [p for p in data.rglob("*") if p.is_file()] if data.exists() else []
    catalog_bytes = sum(
        p.stat().st_size for p in (catalog, catalog.with_name(catalog.name + "-wal")) if p.exists()
    )
    # closed at once: the final housekeeping opens the catalog with DuckDB's own SQLite in
    # this process, and two SQLite copies holding one file clash on POSIX locks (corruption)
    with closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as db:
        snapshots = db.execute("select count(*) from ducklake_snapshot").fetchone()[0]
        scheduled = db.execute(
            "select count(*) from ducklake_files_scheduled_for_deletion"
        ).fetchone()[0]
        live = db.execute(
            "select count(*) from ducklake_data_file where end_snapshot is null"
        ).fetchone()[0]
    return {
        "data_files": len(files),
        "data_mb": sum(p.stat().st_size for p in files) / 1e6,
        "catalog_mb": catalog_bytes / 1e6,
        "snapshots": snapshots,
        "scheduled_for_deletion": scheduled,
        "live_data_files": live,
    }


def _generate(out: Path, events: int, seed: int) -> None:
    if out.exists():
        return
    command = [sys.executable, "-m", "devtools.generate", "--events", str(events)]
    command += ["--out", str(out), "--seed", str(seed), "--quiet", "--gzip-share", "0"]
    subprocess.run(command, cwd=REPO, check=True)


def _run_job(
    archive: Path, catalog: Path, housekeeping: bool, log: Path, delay: float | None = None
) -> tuple[float, dict[str, float]]:
    """One run of the job: its wall time and the time per step from its summary, plus the
    run's CPU time (`cpu`: user + system, less disturbed than wall times on a busy machine)."""
    if not housekeeping:
        entry = ["-c", NO_HOUSEKEEPING]
    elif delay is not None:
        entry = ["-c", SHORT_INTERMEDIATE_DELAY.format(seconds=delay)]
    else:
        entry = ["-m", "pipelines.run"]
    command = [sys.executable, *entry, "--source", str(archive)]
    command += ["--database", f"ducklake:sqlite:{catalog}"]
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True)
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    with log.open("ab") as out:
        out.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"run failed (exit {proc.returncode}), see {log}")
    timing = [line for line in proc.stdout.decode().splitlines() if line.strip().startswith("time")]
    steps = {name: float(value) for name, value in STEP.findall(timing[-1])} if timing else {}
    return seconds, {**steps, "cpu": round(cpu, 2)}


def table(rows: list[dict[str, Any]]) -> str:
    """The runs as a text table: wall time, the job's slow steps, the lake's state."""
    head = "run  seconds    cpu   load  transf  house  files  data MB  catalog MB  snapshots"
    lines = [head]
    for row in rows:
        steps = row.get("steps", {})
        lines.append(
            f"{row['run']:>3}  {row['seconds']:7.1f}  {steps.get('cpu', 0):5.1f}"
            f"  {steps.get('load', 0):5.1f}"
            f"  {steps.get('transforms', 0):6.1f}  {steps.get('housekeeping', 0):5.1f}"
            f"  {row['data_files']:5d}  {row['data_mb']:7.1f}  {row['catalog_mb']:10.1f}"
            f"  {row['snapshots']:9d}"
        )
    return "\n".join(lines)


def final_housekeeping(catalog: Path) -> dict[str, Any]:
    """Housekeeping as the next run would do it (default retention), then with every small
    file merged, then with a retention of 0 and no deletion delay (what the lake comes down
    to once the retention has passed); the lake's state after each."""
    warehouse = f"ducklake:sqlite:{catalog}"
    final = {}
    for label, kwargs in (
        ("next run (defaults)", {}),
        ("merge forced", {"force_merge": True}),
        ("retention 0, no delay", {"retention": "0 seconds", "deletion_delay": timedelta(0)}),
    ):
        done = maintain_lake(warehouse, **kwargs)
        final[label] = {"did": done.describe() if done else None, **lake_state(catalog)}
        print(json.dumps({label: final[label]}), flush=True)
    return final


def main(argv: list[str] | None = None) -> int:
    """Command line: the runs, then the table of file counts and catalog sizes."""
    parser = argparse.ArgumentParser(prog="python -m bench.lake_housekeeping")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--base-events", type=int, default=1000)
    parser.add_argument("--no-housekeeping", action="store_true")
    parser.add_argument(
        "--intermediate-delay",
        type=float,
        help="seconds after which housekeeping expires dlt's intermediate snapshots"
        " (the job's default: 1 hour)",
    )
    parser.add_argument("--final-housekeeping", action="store_true")
    parser.add_argument(
        "--final-only",
        action="store_true",
        help="only the final housekeeping, on the lake a previous (interrupted) call left",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if args.final_only:
        catalog = args.workdir.resolve() / "lake" / "catalog.sqlite"
        result = {"before": lake_state(catalog), "final_housekeeping": final_housekeeping(catalog)}
        if args.output:
            args.output.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    base, pool = work / "base", work / "pool"
    _generate(base, args.base_events, 1)
    _generate(pool, max(args.runs * 5, 100), 2)  # ~4 events per file
    archive, lake = work / "archive", work / "lake"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(base, archive)
    lake.mkdir()
    catalog = lake / "catalog.sqlite"
    log = work / "runs.log"
    pool_files = sorted(p for p in pool.rglob("*") if p.is_file())
    housekeeping = not args.no_housekeeping
    rows = []
    delay = args.intermediate_delay
    seconds, steps = _run_job(archive, catalog, housekeeping, log, delay)
    rows.append({"run": 0, "seconds": seconds, "steps": steps, **lake_state(catalog)})
    print(json.dumps(rows[-1]), flush=True)
    for run in range(1, args.runs + 1):
        source = pool_files[(run - 1) % len(pool_files)]
        target = archive / "increments" / f"run-{run:03d}-{source.name}"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(source, target)
        seconds, steps = _run_job(archive, catalog, housekeeping, log, delay)
        rows.append({"run": run, "seconds": seconds, "steps": steps, **lake_state(catalog)})
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows), flush=True)
    result: dict[str, Any] = {
        "housekeeping_every_run": housekeeping,
        "intermediate_delay_seconds": delay,
        "runs": rows,
    }
    if args.final_housekeeping:
        result["final_housekeeping"] = final_housekeeping(catalog)
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
