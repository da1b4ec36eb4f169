"""Smoke test of `make bench`: every measurement is taken, on the events the manifest lists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


@pytest.mark.slow
def test_benchmark_measures_every_run(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.benchmark",
            "--events",
            "300",
            "--workdir",
            str(tmp_path),
            "--output",
            str(output),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(output.read_text())
    assert set(result["figures"]) == {"a", "b", "c", "d", "e"}
    for figure in result["figures"].values():
        assert figure["seconds"] > 0 and figure["peak_rss_mb"] > 0
    assert result["events_stored"]["a"] == result["distinct_events"]
    assert result["events_stored"]["b"] == result["distinct_events"]
    assert 0 < result["events_stored"]["c"] <= result["distinct_events"]
    assert result["a_over_c"] > 0 and "| (a) pipelines.run |" in proc.stdout
