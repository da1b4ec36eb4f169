"""Baseline (b): the dlt pipeline a user writes first, with dlt's default settings.

Usage: python naive_dlt.py ARCHIVE DATABASE (run from an empty folder: no .dlt/config.toml).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import dlt


def read_events(archive: Path) -> Iterator[dict]:
    """Every event of every archive file, parsed with the standard json module."""
    for path in sorted(archive.rglob("*")):
        name = path.name.removesuffix(".gz")
        if not path.is_file() or not name.endswith((".json", ".jsonl", ".ndjson")):
            continue
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            if name.endswith(".json"):
                try:
                    document = json.load(handle)
                except json.JSONDecodeError:
                    continue
                yield from document if isinstance(document, list) else [document]
            else:
                for line in handle:
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError:
                            continue


def main() -> None:
    """Load the archive with merge on `id`, everything else default."""
    archive, database = Path(sys.argv[1]), sys.argv[2]
    events = dlt.resource(
        read_events(archive), name="events", write_disposition="merge", primary_key="id"
    )
    pipeline = dlt.pipeline(
        "naive", destination=dlt.destinations.duckdb(database), dataset_name="raw"
    )
    pipeline.run(events)


if __name__ == "__main__":
    main()
