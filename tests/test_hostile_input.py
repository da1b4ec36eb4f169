"""Hostile input: each bad file is rejected or skipped with a clear reason, memory stays
bounded, and the run goes on to load the good events."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import REPO, callback_event, job_command, jsonl, query, write_files

MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(proc.returncode)
"""


def gzip_bomb(path: Path, inflated_bytes: int) -> None:
    """A small .gz file that inflates to `inflated_bytes` of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"0" * (16 * 1024 * 1024)
    with path.open("wb") as out:
        for _ in range(inflated_bytes // len(chunk)):
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.slow
def test_hostile_archive(tmp_path: Path) -> None:
    archive = tmp_path / "arch ive é"
    database = tmp_path / "w.duckdb"
    sql_event = callback_event("sql'; drop table raw.callback_request_events; --", "cr-sql")
    sql_event["data"]["callbackRequest"]["internalNotes"] = "'); delete from raw.file_audit; --"
    sql_event["data"]["callbackRequest"]['weird"; drop table x; --'] = "value"
    deep_event = callback_event("deep-event", "cr-deep")
    deep_event["data"]["callbackRequest"]["nested"] = json.loads(deep(300))
    write_files(
        archive,
        {
            "dossier été/2024 08/good events.jsonl": jsonl(callback_event("good-1"), sql_event),
            "bad-utf8.jsonl": b'{"id": "\xff\xfe broken"}\n'
            + jsonl(callback_event("good-2", "cr-2")),
            "deep-line.jsonl": (deep(10_000) + "\n").encode()
            + jsonl(callback_event("good-3", "cr-3")),
            "deep-array.json": "[" + deep(10_000) + "]",
            "deep-event.json": json.dumps([deep_event, callback_event("good-4", "cr-4")]),
        },
    )
    with (archive / "huge-line.jsonl").open("wb") as out:
        out.write(b'{"id": "huge", "pad": "')
        for _ in range(200):
            out.write(b"x" * (1024 * 1024))
        out.write(b'"}\n')
        out.write(jsonl(callback_event("good-5", "cr-5")))
    gzip_bomb(archive / "bomb.jsonl.gz", 2 * 1024 * 1024 * 1024)
    assert (archive / "bomb.jsonl.gz").stat().st_size < 3 * 1024 * 1024

    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, *job_command(archive, database)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.split("PEAK_RSS_KB")[1]) / 1024
    assert peak_mb < 700, f"peak RSS {peak_mb:.0f} MB"

    loaded = {r[0] for r in query(database, "select event_id from raw.callback_request_events")}
    assert loaded == {"good-1", "good-2", "good-3", "good-4", "good-5", sql_event["id"]}
    rejected = dict(query(database, "select source_file, reason from raw.rejected_events"))
    assert rejected == {
        "bad-utf8.jsonl": "invalid_encoding",
        "deep-line.jsonl": "invalid_json",  # the JSON parser refuses 10,000 levels
        "deep-array.json": "invalid_json",  # an array element is a record like a line
        "deep-event.json": "too_deeply_nested",
        "huge-line.jsonl": "record_too_large",
        "bomb.jsonl.gz": "unreadable_file",
    }
    detail = query(
        database, "select detail from raw.rejected_events where source_file = 'bomb.jsonl.gz'"
    )
    assert "gzip bomb" in detail[0][0]
    # SQL-looking text is data: stored as is, nothing executed
    assert query(database, "select count(*) from raw.file_audit") == [(7,)]
    notes = query(
        database,
        "select internal_notes from raw.callback_request_events where callback_request_id = 'cr-sql'",
    )
    assert notes == [("'); delete from raw.file_audit; --",)]
    assert query(database, "select count(*) from marts.fct_callback_requests") == [(6,)]
