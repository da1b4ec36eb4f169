"""Freed large blocks go back to the system (`pipelines.common.native_memory`): in a real
process, 100 MiB freed between small live blocks stay resident under glibc's dynamic mmap
threshold and are returned with the job's fixed one."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
from conftest import REPO

PROBE = """
import sys
from pipelines.common.native_memory import fix_mmap_threshold

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

print(fix_mmap_threshold() if sys.argv[1] == "fixed" else None)
first = bytearray(8 << 20)
del first  # glibc's dynamic threshold now serves blocks below 8 MiB from its heap
before = rss_mib()
blocks, pins = [], []
for _ in range(100):
    blocks.append(bytearray(1 << 20))
    pins.append(bytearray(600))  # malloc'd (not Python's small-object allocator), stays live
del blocks
print(rss_mib() - before)
"""


def _probe(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    fixed, retained = proc.stdout.split()
    return fixed, int(retained)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_freed_large_blocks_go_back_to_the_system() -> None:
    assert _probe("default") == ("None", pytest.approx(100, abs=10))
    fixed, retained = _probe("fixed")
    assert fixed == "True"
    assert retained < 10


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_an_operators_own_threshold_is_kept() -> None:
    fixed, retained = _probe("fixed", {"MALLOC_MMAP_THRESHOLD_": str(16 << 20)})
    assert fixed == "False"
    assert retained > 90  # glibc applies the operator's 16 MiB: 1 MiB blocks from its heap
