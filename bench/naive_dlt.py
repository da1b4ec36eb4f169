"""Baseline (b): the dlt pipeline a user writes first, with dlt's default settings.

Usage: python bench/naive_dlt.py ARCHIVE DATABASE

Run it from an empty folder (no `.dlt/config.toml`) with `DLT_DATA_DIR` pointing to an empty
folder: then nothing is tuned: default loader file format, default normalize and buffer
settings, one `pipeline.run`. Events are parsed with the standard `json` module; records that
are not JSON are skipped (the archive of the benchmark has none).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

SUFFIXES = (".json", ".jsonl", ".ndjson")


def read_file(path: Path) -> Iterator[Any]:
    """The records of one file: JSON lines, or one JSON document (an object or an array)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as handle:
        if path.name.removesuffix(".gz").endswith(".json"):
            try:
                document = json.load(handle)
            except json.JSONDecodeError:
                return
            yield from document if isinstance(document, list) else [document]
            return
        for line in handle:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def make_resource(archive: Path) -> Any:
    """The resource: every event of every archive file, merged on the envelope `id`."""

    @dlt.resource(name="events", write_disposition="merge", primary_key="id")
    def events() -> Iterator[Any]:
        for path in sorted(archive.rglob("*")):
            if path.is_file() and path.name.removesuffix(".gz").endswith(SUFFIXES):
                yield from read_file(path)

    return events


def main() -> None:
    """Command line: ARCHIVE DATABASE."""
    archive, database = Path(sys.argv[1]), sys.argv[2]
    pipeline = dlt.pipeline(
        pipeline_name="naive", destination=dlt.destinations.duckdb(database), dataset_name="raw"
    )
    pipeline.run(make_resource(archive))


if __name__ == "__main__":
    main()
