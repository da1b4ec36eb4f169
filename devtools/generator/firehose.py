"""The AWS Data Firehose layout: extensionless objects of records back to back, hourly folders.

A Firehose stream fed by an HTTP endpoint writes objects named
`<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>` (`.gz` when compressed) under `YYYY/MM/dd/HH/`,
holding the records with no delimiter (`{...}{...}`). Objects here roll over when full or
after an hour. Only corrupt records that end where they should (valid JSON of the wrong
shape, bad bytes inside a string, a syntax error inside balanced brackets) sit among the
records; a cut record (`broken_line`, `truncated_tail`) is always the last of its object,
as when a writer crashed. Every object starts with an object. Top-level arrays and numbers are not written: back to back they
would not be one record each (`[1, 2]` is two, `42` and `3.14` run together).
"""

from __future__ import annotations

import time
import uuid

from devtools.generator.archive import ArchiveWriter, OpenFile, Shape
from devtools.generator.corrupt import CorruptRecord
from devtools.generator.timeutil import HOUR_MS, SECOND_MS

STREAM_NAME = "engage-webhooks"
STREAM_VERSION = 1
# corrupt kinds a Firehose archive never holds (see the module docstring)
EXCLUDED_KINDS = frozenset({"json_array", "json_number"})
CUT_KINDS = frozenset({"broken_line", "truncated_tail"})
FIREHOSE = "firehose"


def object_name(at: int, object_id: uuid.UUID, gz: bool) -> str:
    """`YYYY/MM/dd/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]` for a first record at `at`."""
    stamp = time.gmtime(at // SECOND_MS)
    folder = time.strftime("%Y/%m/%d/%H", stamp)
    when = time.strftime("%Y-%m-%d-%H-%M-%S", stamp)
    return f"{folder}/{STREAM_NAME}-{STREAM_VERSION}-{when}-{object_id}" + (".gz" if gz else "")


class FirehoseWriter(ArchiveWriter):
    """Writes deliveries as a Firehose delivery stream to S3 would."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._leftover_shape = Shape(FIREHOSE)

    def _period(self, at: int) -> int:
        return at // HOUR_MS

    def _stream_shape(self) -> tuple[Shape, int]:
        return Shape(FIREHOSE, gz=self.rng.random() < self.gzip_share), self._capacity()

    def _single_shape(self) -> Shape | None:
        return None

    def _place_pending(self, cur: OpenFile) -> None:
        keep = []
        for rec in self.pending:
            if rec.kind in CUT_KINDS:
                if cur.tail is None:
                    cur.tail = rec
                else:
                    keep.append(rec)
            elif cur.records or rec.raw.startswith(b"{"):
                cur.corrupt.append((len(cur.records), rec))
                cur.records.append(rec.raw)
            else:
                keep.append(rec)  # objects start with an object (the loader sniffs "{")
        self.pending = keep

    def _write_file(
        self,
        shape: Shape,
        first_at: int,
        seq: int,
        records: list[bytes],
        corrupt: list[tuple[int, CorruptRecord]],
        tail: CorruptRecord | None,
    ) -> None:
        records, corrupt = _object_first(records, corrupt)
        object_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        rel = object_name(first_at, object_id, shape.gz)
        data = b"".join(records) + (tail.raw if tail is not None else b"")
        self._write_bytes(rel, data, shape.gz)
        count = len(records) + (tail is not None)

        def where(index: int) -> dict[str, int]:
            # the loader numbers values by index; a lone value is the file's document
            return {"index": index} if count > 1 else {"document": 0}

        rows = [(rec, where(index)) for index, rec in corrupt]
        if tail is not None:
            rows.append((tail, where(len(records))))
        self.stats.on_file(rel, shape, count, rows)


def _object_first(
    records: list[bytes], corrupt: list[tuple[int, CorruptRecord]]
) -> tuple[list[bytes], list[tuple[int, CorruptRecord]]]:
    """Move the first object to the front (left-over corrupt records may start with a string)."""
    first = next((i for i, raw in enumerate(records) if raw.startswith(b"{")), 0)
    if first == 0:
        return records, corrupt
    order = [first, *(i for i in range(len(records)) if i != first)]
    moved = {old: new for new, old in enumerate(order)}
    return [records[i] for i in order], [(moved[i], rec) for i, rec in corrupt]
