"""`make bench`: the ELT job against dlt's defaults and DuckDB's own JSON reader, in one run.

Measures on one generated archive of N events: (a) `python -m pipelines.run` end to end,
(b) a naive dlt pipeline with default settings, (c) DuckDB read_json + UNNEST (the floor),
(d) a no-op re-run of (a), (e) (a) after 1% new files. Each runs as a child process; its
peak RSS is the largest resident set among the process and its children.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench")

# run a command and report the peak RSS of its process tree (ru_maxrss of waited children)
_MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


@dataclass
class Measurement:
    """One timed command."""

    name: str
    seconds: float
    peak_rss_mb: float


def measure(
    name: str, command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> Measurement:
    """Run `command` in a child process; return wall time and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {proc.stderr.strip().splitlines()[-2:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    log.info("%s: %.1f s, peak RSS %.0f MB", name, seconds, peak_kb / 1024)
    return Measurement(name, seconds, peak_kb / 1024)


def _count(database: Path, sql: str) -> int:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def archive_bytes(path: Path) -> int:
    """Size of the archive's files."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate(out: Path, events: int, seed: int) -> dict:
    """Generate (or reuse) an uncompressed archive and return its manifest."""
    manifest = out.with_name(out.name + ".manifest.json")
    if not manifest.exists():
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.generate",
                "--events",
                str(events),
                "--out",
                str(out),
                "--seed",
                str(seed),
                "--gzip-share",
                "0",
                "-q",
            ],
            cwd=REPO,
            check=True,
        )
    return json.loads(manifest.read_text())


def machine() -> str:
    """CPU model, cores and memory of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{cpu}, {os.cpu_count()} cores, {int(mem) / 1024 / 1024:.0f} GiB RAM"


def run_benchmark(events: int, seed: int, workdir: Path) -> dict:
    """Measure (a) to (e) and return the figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    archive = workdir / f"archive-{events}-{seed}"
    manifest = generate(archive, events, seed)
    size = archive_bytes(archive)
    for leftover in workdir.glob("*.duckdb*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    job = [sys.executable, "-m", "pipelines.run", "--source", str(archive)]
    results = {}
    results["a"] = measure(
        "(a) pipelines.run", [*job, "--database", str(workdir / "a.duckdb")], REPO
    )
    with tempfile.TemporaryDirectory() as empty:
        results["b"] = measure(
            "(b) dlt defaults",
            [
                sys.executable,
                str(REPO / "bench" / "naive_dlt.py"),
                str(archive),
                str(workdir / "b.duckdb"),
            ],
            Path(empty),
            {"RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": empty},
        )
    results["c"] = measure(
        "(c) duckdb read_json",
        [
            sys.executable,
            str(REPO / "bench" / "duckdb_native.py"),
            str(archive),
            str(workdir / "c.duckdb"),
        ],
        REPO,
    )
    stored = {
        "a": _count(
            workdir / "a.duckdb",
            "select (select count(*) from raw.callback_request_events)"
            " + (select count(*) from raw.appointment_events)",
        ),
        "b": _count(workdir / "b.duckdb", "select count(*) from raw.events"),
        "c": _count(workdir / "c.duckdb", "select count(*) from events"),
    }
    results["d"] = measure(
        "(d) no-op re-run", [*job, "--database", str(workdir / "a.duckdb")], REPO
    )
    extra = archive / "incremental"
    try:
        generate(extra, max(events // 100, 20), seed + 1)
        results["e"] = measure(
            "(e) +1% new files", [*job, "--database", str(workdir / "a.duckdb")], REPO
        )
    finally:
        shutil.rmtree(extra, ignore_errors=True)
        extra.with_name(extra.name + ".manifest.json").unlink(missing_ok=True)
    figures = {key: asdict(m) for key, m in results.items()}
    for m in figures.values():
        m["events_per_s"] = events / m["seconds"]
        m["mb_per_s"] = size / 1e6 / m["seconds"]
    return {
        "machine": machine(),
        "events": events,
        "distinct_events": manifest["distinct_events"],
        "archive_mb": size / 1e6,
        "files": manifest["files_total"],
        "events_stored": stored,
        "figures": figures,
        "a_over_c": results["a"].seconds / results["c"].seconds,
        "b_over_a": results["b"].seconds / results["a"].seconds,
        "e_over_a": results["e"].seconds / results["a"].seconds,
    }


def to_markdown(result: dict) -> str:
    """The results table, with the targets beside the figures."""
    lines = [
        f"Machine: {result['machine']}. N = {result['events']:,} events ({result['distinct_events']:,} distinct),"
        f" {result['files']} files, {result['archive_mb']:.0f} MB uncompressed.",
        "",
        "| run | wall s | events/s | MB/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in result["figures"].values():
        lines.append(
            f"| {m['name']} | {m['seconds']:.1f} | {m['events_per_s']:,.0f} | {m['mb_per_s']:.1f} | {m['peak_rss_mb']:.0f} |"
        )
    f = result["figures"]
    lines += [
        "",
        "- distinct events stored: "
        + ", ".join(f"({k}) {v:,}" for k, v in result["events_stored"].items())
        + f" (the archive holds {result['distinct_events']:,}; DuckDB's reader skips what it cannot parse)",
        f"- a/c = {result['a_over_c']:.1f} (target <= 4); b/a = {result['b_over_a']:.1f}",
        f"- peak RSS of (a) = {f['a']['peak_rss_mb']:.0f} MB (target <= 1024)",
        f"- no-op re-run = {f['d']['seconds']:.1f} s (target <= 3 s, includes ~1 s of interpreter and dlt start-up)",
        f"- +1% new files = {f['e']['seconds']:.1f} s = {result['e_over_a']:.2f} of (a)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print the results table."""
    parser = argparse.ArgumentParser(prog="python -m bench.benchmark", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench")
    parser.add_argument("--output", type=Path, help="also write the results (.json or .md)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    result = run_benchmark(args.events, args.seed, args.workdir.resolve())
    table = to_markdown(result)
    print(table)
    if args.output:
        args.output.write_text(
            json.dumps(result, indent=2) if args.output.suffix == ".json" else table + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
