"""`make bench`: the ELT job against dlt's defaults and DuckDB's own JSON reader, in one run.

On one generated, uncompressed archive of N deliveries (reused when it already exists for
the same N and seed) it measures, each as a real child process:

- (a) `python -m pipelines.run` end to end (load and marts) into a fresh warehouse;
- (b) the same load as the naive dlt pipeline a user writes first (`bench/naive_dlt.py`,
  dlt's defaults, run from an empty folder so the repository's `.dlt/config.toml` is unused);
- (c) DuckDB's `read_json` plus `UNNEST` of the same nested arrays (`bench/duckdb_native.py`),
  the practical floor on this machine;
- (d) a re-run of (a) with nothing new (no-op);
- (e) a run of (a) after 1% new files (a small archive of another seed, copied into a new
  sub-folder of the archive and removed again afterwards);
- (f) (a) into a DuckLake with a SQLite catalog (`--database ducklake:sqlite:...`, data files
  in the folder beside it) instead of a DuckDB file, on the same archive.

For each: wall time, events/s, MB/s (uncompressed archive bytes / wall) and the peak RSS of
the process tree (the sum over the child and its descendants, polled every 50 ms, and never
less than the kernel's high-water mark of the largest of them). It checks what each run
stored against the generator's manifest, prints a markdown table with the targets beside
the figures (it never fails on a target) and writes it, or JSON, to `--output`.

    python -m bench.benchmark [--events 20000] [--seed 1] [--workdir data/bench] [--keep]
                              [--output data/bench/results.md]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
# the sub-folder of the archive that holds the new files of run (e)
INCREMENT_FOLDER = "bench-increment"
POLL_SECONDS = 0.05
# issue 13's targets: the job within 2x the floor; peak RSS of the process tree within 1 GB
# and within +15% of the 20k-delivery figure (`--rss-baseline`) at any size; a no-op run
# within 1 s; a run after +1% new files within 5% of the full load
TARGET_A_OVER_C = 2.0
TARGET_RSS_MB = 1024.0
TARGET_RSS_GROWTH = 1.15
TARGET_NOOP_SECONDS = 1.0
TARGET_E_OVER_A = 0.05
ALL_RUNS = "abcdef"
RUN_NAMES = {
    "a": "(a) pipelines.run",
    "b": "(b) dlt defaults",
    "c": "(c) duckdb read_json + UNNEST",
    "d": "(d) no-op re-run of (a)",
    "e": "(e) (a) after +1% new files",
    "f": "(f) (a) into a lake (SQLite catalog)",
}
# run (f)'s lake, in the work folder: the catalog, and its data files in `<catalog>.files/`
LAKE_CATALOG = "f-lake/catalog.sqlite"
log = logging.getLogger("bench")


@dataclass
class Measurement:
    """One timed child process: wall time, peak memory, and what it processed."""

    name: str
    seconds: float
    peak_rss_mb: float  # process tree: sum of RSS over the child and its descendants
    largest_process_rss_mb: float  # kernel high-water mark of the largest single process
    events: int = 0  # deliveries in the files it had to read
    mb: float = 0.0  # uncompressed MB of those files
    killed: str | None = None  # why the benchmark stopped it (memory or time limit)
    steps: dict[str, float] = field(default_factory=dict)  # the job's time per step

    @property
    def events_per_s(self) -> float | None:
        """Deliveries read per second of wall time."""
        return self.events / self.seconds if self.events else None

    @property
    def mb_per_s(self) -> float | None:
        """Uncompressed archive MB per second of wall time."""
        return self.mb / self.seconds if self.mb else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, throughput included."""
        return {**asdict(self), "events_per_s": self.events_per_s, "mb_per_s": self.mb_per_s}


def _tree(proc: psutil.Process | None) -> list[psutil.Process]:
    if proc is None:
        return []
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _rss(proc: psutil.Process) -> int:
    try:
        return proc.memory_info().rss
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def _kill_tree(proc: psutil.Process | None) -> None:
    """Stop the child this benchmark started and every process it started."""
    for member in reversed(_tree(proc)):
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGKILL)


def run_measured(
    key: str,
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    logs: Path,
    max_rss_mb: float,
    timeout_s: float,
) -> tuple[Measurement, str]:
    """Run `command` (run `key` of RUN_NAMES); return its measurement and standard output.

    The child is killed (and the measurement marked) if its process tree grows past
    `max_rss_mb` or it runs longer than `timeout_s`; any other failure raises SystemExit.
    """
    name = RUN_NAMES.get(key, key)
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = logs / f"{key}.stdout", logs / f"{key}.stderr"
    peak_tree = peak_single = 0
    killed = None
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        try:
            proc: psutil.Process | None = psutil.Process(child.pid)
        except psutil.NoSuchProcess:  # already gone: wait4 still has its figures
            proc = None
        try:
            while True:
                # wait4 reaps the child with its rusage: ru_maxrss is the high-water mark of
                # the largest process among the child and its waited-for descendants
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                sizes = [_rss(member) for member in _tree(proc)]
                peak_tree = max(peak_tree, sum(sizes))
                peak_single = max(peak_single, max(sizes, default=0))
                if killed is None:
                    if peak_tree > max_rss_mb * 2**20:
                        killed = f"process tree over {max_rss_mb:,.0f} MB"
                    elif time.perf_counter() - started > timeout_s:
                        killed = f"still running after {timeout_s:,.0f} s"
                    if killed is not None:
                        log.warning("%s: stopping it, %s", name, killed)
                        _kill_tree(proc)
                time.sleep(POLL_SECONDS)
        except BaseException:  # Ctrl-C or a bug here: leave no run behind
            _kill_tree(proc)
            child.wait()
            raise
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    largest = max(peak_single, usage.ru_maxrss * 1024)
    measurement = Measurement(
        name=name,
        seconds=seconds,
        peak_rss_mb=max(peak_tree, largest) / 2**20,
        largest_process_rss_mb=largest / 2**20,
        killed=killed,
    )
    if child.returncode != 0 and killed is None:
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-15:]
        raise SystemExit(f"{name} failed (exit {child.returncode}):\n" + "\n".join(tail))
    log.info(
        "%s: %.1f s, peak RSS %.0f MB%s",
        name,
        seconds,
        measurement.peak_rss_mb,
        f" (killed: {killed})" if killed else "",
    )
    return measurement, stdout_path.read_text(errors="replace")


def uncompressed_bytes(folder: Path) -> int:
    """Bytes of every file under `folder`, gzipped files counted inflated."""
    total = 0
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                total += sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b""))
        else:
            total += path.stat().st_size
    return total


def generate_archive(out: Path, events: int, seed: int, gzip_share: float = 0.0) -> dict[str, Any]:
    """Generate an archive with the project's generator (`gzip_share` of its files gzipped,
    none by default), or reuse it.

    An archive is reused when its manifest says it was made with the same N, seed and gzip
    share, and every file it lists is there. Returns the manifest.
    """
    manifest_path = out.with_name(out.name + ".manifest.json")
    if manifest_path.exists() and out.is_dir():
        manifest = json.loads(manifest_path.read_text())
        files = sum(1 for path in out.rglob("*") if path.is_file())
        if (
            manifest.get("events_requested") == events
            and manifest.get("seed") == seed
            and manifest.get("gzip_share") == gzip_share
            and manifest.get("files_total") == files
        ):
            log.info("reusing %s (%d files)", out, files)
            return manifest
    log.info("generating %s: %d deliveries, seed %d, gzip share %g", out, events, seed, gzip_share)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "devtools.generate", "--events", str(events)]
    command += ["--out", str(out), "--seed", str(seed), "--gzip-share", str(gzip_share)]
    command += ["--overwrite", "-q"]
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return json.loads(manifest_path.read_text())


def machine() -> dict[str, Any]:
    """CPU model, cores and memory (from /proc), and the versions that matter."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {
        "cpu": models[0] if models else platform.processor() or platform.machine(),
        "cores": len(models) or os.cpu_count(),
        "ram_gib": mem_kb / 2**20,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "dlt": version("dlt"),
        "duckdb": version("duckdb"),
    }


def parse_steps(summary: str) -> dict[str, float]:
    """Time per step from the job's summary line `time  prepare 0.1s, extract 8.0s, ...`."""
    line = next((ln for ln in summary.splitlines() if ln.strip().startswith("time ")), "")
    return {step: float(seconds) for step, seconds in re.findall(r"(\w+) ([\d.]+)s", line)}


def _query(database: Path | str, sql: str) -> Any:
    """A read-only query on a DuckDB file, or on a lake (`ducklake:...`)."""
    if str(database).startswith("ducklake:"):
        if str(REPO) not in sys.path:  # run as a script: bench/ is on the path, not the repo
            sys.path.insert(0, str(REPO))
        from pipelines.warehouse.connection import connect  # the job's own way into a lake

        with connect(str(database), read_only=True) as con:
            return con.execute(sql).fetchall()
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def job_events(database: Path | str) -> dict[str, int]:
    """Events the job stored: from the main archive, and from the increment folder."""
    rows = _query(
        database,
        f"""
        select _source_file like '{INCREMENT_FOLDER}/%' as new, count(*) from (
            select _source_file from raw.callback_request_events
            union all select _source_file from raw.appointment_events
        ) group by all
        """,
    )
    counts = dict(rows)
    return {"archive": counts.get(False, 0), "increment": counts.get(True, 0)}


def nested_rows(database: Path, schema: str) -> dict[str, int]:
    """Rows per non-empty child table (`<root>__<array>...`, any root) of a schema."""
    tables = _query(
        database,
        "select table_name from information_schema.tables"
        f" where table_schema = '{schema}' and table_name like '%\\_\\_%' escape '\\'"
        " and table_name not like '\\_dlt%' escape '\\'",
    )
    counts = {}
    for (table,) in tables:
        rows = _query(database, f'select count(*) from {schema}."{table}"')[0][0]
        if rows:
            counts[table] = rows
    return counts


def _clean(workdir: Path) -> None:
    """Remove the databases and dlt folders of a previous benchmark run (only those)."""
    for db in ("a", "b", "c"):
        for path in workdir.glob(f"{db}.duckdb*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(workdir / Path(LAKE_CATALOG).parent, ignore_errors=True)


def _job(archive: Path, database: Path | str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipelines.run",
        "--source",
        str(archive),
        "--database",
        str(database),
    ]


def _naive_env(data_dir: Path) -> dict[str, str]:
    """The environment without dlt settings (SECTION__KEY variables): dlt's defaults only."""
    env = {k: v for k, v in os.environ.items() if "__" not in k}
    return {**env, "RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": str(data_dir)}


def run_benchmark(
    events: int,
    seed: int,
    workdir: Path,
    *,
    keep: bool = False,
    max_rss_mb: float | None = None,
    timeout_s: float = 7200.0,
    only: str = ALL_RUNS,
    gzip_share: float = 0.0,
) -> dict[str, Any]:
    """Measure (a) and the runs of `only` (default: all of (b) to (f)) on one archive;
    return the figures and the checks, JSON-ready."""
    only = "".join(key for key in ALL_RUNS if key == "a" or key in only)  # (a): always
    workdir.mkdir(parents=True, exist_ok=True)
    archive = (
        workdir / f"archive-{events}-{seed}"
        if not gzip_share
        else (workdir / f"archive-{events}-{seed}-gz{gzip_share:g}")
    )
    shutil.rmtree(archive / INCREMENT_FOLDER, ignore_errors=True)  # left by an interrupted run
    manifest = generate_archive(archive, events, seed, gzip_share)
    archive_mb = uncompressed_bytes(archive) / 1e6
    _clean(workdir)
    logs = workdir / "logs"
    limits = {
        "logs": logs,
        "max_rss_mb": max_rss_mb or 0.75 * psutil.virtual_memory().total / 2**20,
        "timeout_s": timeout_s,
    }
    job_env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    a_db, b_db, c_db = (workdir / f"{name}.duckdb" for name in "abc")
    runs: dict[str, Measurement] = {}
    checks: dict[str, Any] = {"distinct_events": manifest["distinct_events"]}

    startup, _ = run_measured(
        "startup",
        [sys.executable, "-m", "pipelines.run", "--help"],
        cwd=REPO,
        env=job_env,
        **limits,
    )
    runs["a"], summary = run_measured("a", _job(archive, a_db), cwd=REPO, env=job_env, **limits)
    runs["a"].steps = parse_steps(summary)
    checks["a_events"] = job_events(a_db)["archive"]
    checks["a_nested_rows"] = nested_rows(a_db, "raw")

    if "b" in only:
        with tempfile.TemporaryDirectory(prefix="bench-naive-") as empty:
            command = [sys.executable, str(BENCH / "naive_dlt.py"), str(archive), str(b_db)]
            runs["b"], _ = run_measured(
                "b", command, cwd=Path(empty), env=_naive_env(Path(empty)), **limits
            )
        if runs["b"].killed is None:
            checks["b_events"] = _query(b_db, "select count(*) from raw.events")[0][0]

    if "c" in only:
        with tempfile.TemporaryDirectory(prefix="bench-duckdb-") as empty:
            command = [sys.executable, str(BENCH / "duckdb_native.py"), str(archive), str(c_db)]
            runs["c"], _ = run_measured("c", command, cwd=Path(empty), env=job_env, **limits)
        checks["c_events"] = _query(
            c_db,
            "select (select count(*) from callback_request_events)"
            " + (select count(*) from appointment_events)",
        )[0][0]
        checks["c_nested_rows"] = nested_rows(c_db, "main")

    if "d" in only:
        runs["d"], summary = run_measured("d", _job(archive, a_db), cwd=REPO, env=job_env, **limits)
        runs["d"].steps = parse_steps(summary)

    if "e" in only:
        extra_events = max(events // 100, 1)
        extra = workdir / f"increment-{extra_events}-{seed + 1}"
        extra_manifest = generate_archive(extra, extra_events, seed + 1)
        try:
            shutil.copytree(extra, archive / INCREMENT_FOLDER)
            runs["e"], summary = run_measured(
                "e", _job(archive, a_db), cwd=REPO, env=job_env, **limits
            )
            runs["e"].steps = parse_steps(summary)
        finally:
            shutil.rmtree(archive / INCREMENT_FOLDER, ignore_errors=True)
        checks["increment_distinct_events"] = extra_manifest["distinct_events"]
        checks["e_events"] = job_events(a_db)
        runs["e"].events = extra_manifest["deliveries_written"]
        runs["e"].mb = uncompressed_bytes(extra) / 1e6

    lake_catalog = workdir / LAKE_CATALOG
    f_lake = f"ducklake:sqlite:{lake_catalog}"
    if "f" in only:
        lake_catalog.parent.mkdir(parents=True, exist_ok=True)
        runs["f"], summary = run_measured(
            "f", _job(archive, f_lake), cwd=REPO, env=job_env, **limits
        )
        runs["f"].steps = parse_steps(summary)
        checks["f_events"] = job_events(f_lake)["archive"]

    for key in "abcf":
        if key in runs:
            runs[key].events, runs[key].mb = manifest["deliveries_written"], archive_mb

    if not keep:
        _clean(workdir)
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "events": events,
        "seed": seed,
        "gzip_share": gzip_share,
        "distinct_events": manifest["distinct_events"],
        "files": manifest["files_total"],
        "archive_mb": archive_mb,
        "archive": str(archive),
        "startup_seconds": startup.seconds,
        "figures": {key: runs[key].as_dict() for key in ALL_RUNS if key in runs},
        "a_over_c": _ratio(runs, "a", "c"),
        "b_over_a": _ratio(runs, "b", "a"),
        "e_over_a": _ratio(runs, "e", "a"),
        "f_over_a": _ratio(runs, "f", "a"),
        "f_over_a_rss": _ratio(runs, "f", "a", "peak_rss_mb"),
        "checks": checks,
        "databases": {
            **{key: str(db) for key, db in zip("abc", (a_db, b_db, c_db), strict=True)},
            "f": f_lake,
        }
        if keep
        else {},
        "logs": str(logs),
    }


def _ratio(runs: dict[str, Measurement], top: str, bottom: str, what: str = "seconds") -> Any:
    """`top`/`bottom` of two runs' `what`, or None when either was not measured."""
    if top not in runs or bottom not in runs:
        return None
    return getattr(runs[top], what) / getattr(runs[bottom], what)


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def to_markdown(result: dict[str, Any], rss_baseline_mb: float | None = None) -> str:
    """The results table, with the targets beside the figures, and what was stored.

    `rss_baseline_mb` is (a)'s peak RSS at 20,000 deliveries, for the flat-memory target."""
    m, f, c = result["machine"], result["figures"], result["checks"]
    a = f["a"]
    rss_target = f"<= {TARGET_RSS_MB:,.0f} MB: {_met(a['peak_rss_mb'] <= TARGET_RSS_MB)}"
    if rss_baseline_mb:
        growth = a["peak_rss_mb"] / rss_baseline_mb
        rss_target += (
            f"; {growth - 1:+.0%} vs {rss_baseline_mb:,.0f} MB at 20k"
            f" (<= {TARGET_RSS_GROWTH - 1:+.0%}: {_met(growth <= TARGET_RSS_GROWTH)})"
        )
    targets = {"a": f"peak RSS {rss_target}"}
    if "d" in f:
        noop = f["d"]["seconds"] <= TARGET_NOOP_SECONDS
        targets["d"] = f"<= {TARGET_NOOP_SECONDS:.0f} s: {_met(noop)}"
    lines = [
        f"## make bench, {result['measured_at']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']:.1f} GiB RAM"
        f" (Linux {m['kernel']}, Python {m['python']}, dlt {m['dlt']}, DuckDB {m['duckdb']}).",
        f"Archive: N = {result['events']:,} deliveries ({result['distinct_events']:,} distinct"
        f" events), {result['files']:,} files, {result['archive_mb']:,.1f} MB uncompressed"
        f" (seed {result['seed']}"
        + (f", {result['gzip_share']:.0%} of files gzipped" if result.get("gzip_share") else "")
        + ").",
        "",
        "| run | wall s | events | events/s | MB | MB/s | peak RSS MB | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, run in f.items():
        wall = f"{run['seconds']:.1f}"
        if run["killed"]:
            wall = f"> {wall} (killed: {run['killed']})"
        lines.append(
            f"| {run['name']} | {wall} | {run['events']:,} | {_num(run['events_per_s'])}"
            f" | {_num(run['mb'] or None)} | {_num(run['mb_per_s'])}"
            f" | {run['peak_rss_mb']:,.0f} | {targets.get(key, '')} |"
        )
    ratios = [
        ("a_over_c", "a/c (job / DuckDB floor)", TARGET_A_OVER_C),
        ("b_over_a", "b/a (dlt defaults / job)", None),
        ("e_over_a", "e/a (+1% files / full load)", TARGET_E_OVER_A),
        ("f_over_a", "f/a (lake / file warehouse), wall time", None),
        ("f_over_a_rss", "f/a (lake / file warehouse), peak RSS", None),
    ]
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    for key, label, target in ratios:
        value = result.get(key)
        if value is None:
            continue
        shown = f"{'> ' if key == 'b_over_a' and f['b']['killed'] else ''}{value:.2f}"
        met = f"<= {target:g}: {_met(value <= target)}" if target else ""
        lines.append(f"| {label} | {shown} | {met} |")
    lines.append("")
    steps = a["steps"]
    total = steps.get("total") or a["seconds"]
    parts = [
        f"{step} {seconds:.1f} s ({100 * seconds / total:.0f}%)"
        for step, seconds in steps.items()
        if step != "total"
    ]
    lines.append(
        f"- (a) per step (job summary): {', '.join(parts)}; total {total:.1f} s in the job,"
        f" {a['seconds'] - total:.1f} s more in the process (interpreter, imports, exit);"
        f" start-up alone (`pipelines.run --help`) {result['startup_seconds']:.1f} s"
    )
    for key in "def":
        if f.get(key, {}).get("steps"):
            shown = ", ".join(f"{k} {v:.1f} s" for k, v in f[key]["steps"].items())
            lines.append(f"- ({key}) per step: {shown}")
    distinct = result["distinct_events"]
    stored = {"a": c["a_events"]}
    for key in "bcf":
        if f"{key}_events" in c:
            stored[key] = c[f"{key}_events"]
        elif key in f:
            stored[key] = None  # killed before it finished
    shown = ", ".join(f"({k}) {v:,}" if v is not None else f"({k}) n/a" for k, v in stored.items())
    mismatch = {v for v in stored.values() if v is not None} != {distinct}
    lines.append(
        f"- distinct events stored: {shown}; the manifest says {distinct:,}"
        + (" **MISMATCH**" if mismatch else "")
    )
    if "c_nested_rows" in c:
        a_nested, c_nested = c["a_nested_rows"], c["c_nested_rows"]
        differ = sorted(
            t for t in set(a_nested) | set(c_nested) if a_nested.get(t) != c_nested.get(t)
        )
        lines.append(
            f"- nested rows: (a) {sum(a_nested.values()):,} in {len(a_nested)} child tables,"
            f" (c) {sum(c_nested.values()):,} in {len(c_nested)}"
            + (": the same in every table" if not differ else f"; **differ**: {', '.join(differ)}")
        )
    if "e_events" in c:
        e = c["e_events"]
        lines.append(
            f"- after (e) the warehouse holds {e['archive']:,} + {e['increment']:,} events"
            f" (new files: {c['increment_distinct_events']:,} distinct)"
        )
    lines.append(
        "- peak RSS: the sum over the process tree (polled every 50 ms; forked workers' shared"
        " pages count twice), never below the kernel's high-water mark of the largest process"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark, print the results table, write `--output`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.benchmark",
        description="Measure the ELT job against dlt's defaults and DuckDB's own JSON reader.",
    )
    parser.add_argument("--events", type=int, default=20_000, help="deliveries (default 20000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO / "data" / "bench",
        help="archive, databases and logs (default data/bench, git-ignored)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases a/b/c.duckdb and f-lake/ for inspection",
    )
    parser.add_argument("--output", type=Path, help="write the results: .json, else markdown")
    parser.add_argument(
        "--max-rss-mb",
        type=float,
        help="stop a run whose process tree grows past this (default 75%% of RAM)",
    )
    parser.add_argument(
        "--timeout", type=float, default=7200.0, help="stop a run after this many seconds"
    )
    parser.add_argument(
        "--runs",
        default=ALL_RUNS,
        help="which runs to measure, e.g. acdef (default abcdef; (a) always runs): (b), dlt's"
        " defaults, needs ~10 GB of memory at 20,000 deliveries",
    )
    parser.add_argument(
        "--gzip-share",
        type=float,
        default=0.0,
        help="share of the archive's files gzipped (default 0: MB/s are then archive MB/s)",
    )
    parser.add_argument(
        "--rss-baseline",
        type=Path,
        help="a results .json of N = 20,000: (a)'s peak RSS there, for the flat-memory target",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    result = run_benchmark(
        args.events,
        args.seed,
        args.workdir.resolve(),
        keep=args.keep,
        max_rss_mb=args.max_rss_mb,
        timeout_s=args.timeout,
        only=args.runs,
        gzip_share=args.gzip_share,
    )
    baseline = None
    if args.rss_baseline:
        baseline = json.loads(args.rss_baseline.read_text())["figures"]["a"]["peak_rss_mb"]
    table = to_markdown(result, baseline)
    print(table)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result, indent=2) if args.output.suffix == ".json" else table
        args.output.write_text(text + "\n")
        if args.output.suffix != ".json":  # the figures too, e.g. for a later --rss-baseline
            args.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        log.info("results written to %s", args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
