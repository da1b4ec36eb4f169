"""Archive files: shapes (.jsonl/.ndjson/.json array/single .json, gzip, CRLF, BOM...) and writing.

Deliveries arrive here in delivery-time order. A "stream" file collects consecutive
deliveries until it is full or the day changes; now and then a delivery goes to its own
single-event `.json` file instead. Files are named and foldered by the delivery time of
their first record: `YYYY/MM/DD/<prefix>-<YYYYMMDDTHHMMSSmmmZ>-<seq>.<ext>`. Gzip output
is deterministic (`mtime=0`, no file name in the header).
"""

from __future__ import annotations

import gzip
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from devtools.generator.corrupt import ARRAY_SAFE, CorruptFactory, CorruptRecord
from devtools.generator.stats import Stats
from devtools.generator.timeutil import DAY_MS, compact_stamp, day_folder

BOM = b"\xef\xbb\xbf"
STREAM_FORMATS = (("jsonl", 0.55), ("ndjson", 0.25), ("array", 0.20))
SINGLE_SHARE = 0.025
GZIP_LEVEL = 6


@dataclass(slots=True, frozen=True)
class Shape:
    """How one file is written."""

    fmt: str  # jsonl | ndjson | array | single
    gz: bool = False
    crlf: bool = False
    bom: bool = False
    blank_lines: bool = False
    indent: bool = False
    final_newline: bool = True

    @property
    def ext(self) -> str:
        """File name extension without the leading dot, e.g. `jsonl.gz`."""
        base = "json" if self.fmt in ("array", "single") else self.fmt
        return base + (".gz" if self.gz else "")

    @property
    def lines(self) -> bool:
        """True for one-record-per-line formats."""
        return self.fmt in ("jsonl", "ndjson")


# the file that takes corrupt records no other file could hold
LEFTOVER_SHAPE = Shape("jsonl")

# shapes used for the first files, so that small archives hold every shape
FORCED_STREAM_SHAPES = (
    Shape("jsonl"),
    Shape("ndjson"),
    Shape("array"),
    Shape("jsonl", gz=True),
    Shape("ndjson", gz=True),
    Shape("array", gz=True),
    Shape("jsonl", crlf=True),
    Shape("ndjson", bom=True),
    Shape("jsonl", blank_lines=True),
    Shape("ndjson", crlf=True, bom=True, blank_lines=True, gz=True),
    Shape("array", indent=True),
    Shape("jsonl", final_newline=False),
)
FORCED_SINGLE_SHAPES = (
    Shape("single"),
    Shape("single", gz=True),
    Shape("single", indent=True),
)


@dataclass(slots=True)
class OpenFile:
    """A stream file being filled."""

    shape: Shape
    first_at: int
    day: int
    capacity: int
    seq: int
    records: list[bytes] = field(default_factory=list)
    corrupt: list[tuple[int, CorruptRecord]] = field(default_factory=list)
    tail: CorruptRecord | None = None


class ArchiveWriter:
    """Writes deliveries into files of many shapes and records what it wrote in `stats`."""

    def __init__(
        self,
        root: Path,
        rng: random.Random,
        stats: Stats,
        gzip_share: float,
        max_per_file: int,
        corrupt: CorruptFactory | None = None,
        corrupt_due: list[tuple[int, str]] | None = None,
    ) -> None:
        self.root = root
        self.rng = rng
        self.stats = stats
        self.gzip_share = gzip_share
        self.max_per_file = max(1, max_per_file)
        self.factory = corrupt
        self.due = list(reversed(corrupt_due or []))  # pop() from the end = earliest first
        self.pending: list[CorruptRecord] = []
        self.forced_stream = list(FORCED_STREAM_SHAPES)
        self.forced_single = list(FORCED_SINGLE_SHAPES)
        rng.shuffle(self.forced_stream)
        rng.shuffle(self.forced_single)
        self.current: OpenFile | None = None
        self.file_seq = 0
        self.good_written = 0
        self.last_at = 0
        self._leftover_shape = LEFTOVER_SHAPE

    # -- shapes ---------------------------------------------------------------------------------
    def _capacity(self) -> int:
        return max(1, int(math.exp(self.rng.uniform(0.0, math.log(self.max_per_file + 1)))))

    def _stream_shape(self) -> tuple[Shape, int]:
        rng = self.rng
        if self.forced_stream:
            return self.forced_stream.pop(), min(self._capacity(), 4)
        fmt = rng.choices([f for f, _ in STREAM_FORMATS], [w for _, w in STREAM_FORMATS])[0]
        gz = rng.random() < self.gzip_share
        if fmt == "array":
            shape = Shape(fmt, gz=gz, indent=rng.random() < 0.3)
        else:
            shape = Shape(
                fmt,
                gz=gz,
                crlf=rng.random() < 0.15,
                bom=rng.random() < 0.10,
                blank_lines=rng.random() < 0.10,
                final_newline=rng.random() >= 0.08,
            )
        return shape, self._capacity()

    def _single_shape(self) -> Shape | None:
        rng = self.rng
        if self.forced_single and rng.random() < 0.25:
            return self.forced_single.pop()
        if rng.random() >= SINGLE_SHARE:
            return None
        return Shape("single", gz=rng.random() < self.gzip_share, indent=rng.random() < 0.4)

    # -- delivery -------------------------------------------------------------------------------
    def deliver(self, at: int, raw: bytes) -> None:
        """Write one good delivery (compact JSON bytes) delivered at `at` (epoch ms)."""
        self.last_at = at
        while self.due and self.due[-1][0] <= self.good_written and self.factory is not None:
            _, kind = self.due.pop()
            self.pending.append(self.factory.make(kind, at))
        self.good_written += 1
        single = self._single_shape()
        if single is not None:
            self.file_seq += 1
            self._write_file(single, at, self.file_seq, [raw], [], None)
            return
        cur = self.current
        day = self._period(at)
        if cur is not None and (cur.day != day or len(cur.records) >= cur.capacity):
            self._flush()
            cur = None
        if cur is None:
            shape, capacity = self._stream_shape()
            self.file_seq += 1
            cur = self.current = OpenFile(shape, at, day, capacity, self.file_seq)
        self._place_pending(cur)
        cur.records.append(raw)
        if cur.tail is not None:
            self._flush()  # the receiver crashed while writing the next line

    def _period(self, at: int) -> int:
        """Files do not span periods (days): a new day starts a new file."""
        return at // DAY_MS

    def _place_pending(self, cur: OpenFile) -> None:
        if not self.pending:
            return
        keep = []
        for rec in self.pending:
            if rec.kind == "truncated_tail":
                if cur.shape.fmt == "jsonl" and not cur.shape.gz and cur.tail is None:
                    cur.tail = rec
                else:
                    keep.append(rec)
            elif cur.shape.lines or (cur.shape.fmt == "array" and rec.kind in ARRAY_SAFE):
                cur.corrupt.append((len(cur.records), rec))
                cur.records.append(rec.raw)
            else:
                keep.append(rec)
        self.pending = keep

    def _flush(self) -> None:
        cur = self.current
        self.current = None
        if cur is None:
            return
        self._write_file(cur.shape, cur.first_at, cur.seq, cur.records, cur.corrupt, cur.tail)

    def finish(self) -> None:
        """Flush the open file and write corrupt records that found no suitable file."""
        self._flush()
        while self.due and self.factory is not None:
            _, kind = self.due.pop()
            self.pending.append(self.factory.make(kind, self.last_at))
        tails = [r for r in self.pending if r.kind == "truncated_tail"]
        others = [r for r in self.pending if r.kind != "truncated_tail"]
        self.pending = []
        while others or tails:
            self.file_seq += 1
            corrupt = [(i, r) for i, r in enumerate(others)]
            tail = tails.pop() if tails else None
            records = [r.raw for r in others]
            self._write_file(
                self._leftover_shape, self.last_at, self.file_seq, records, corrupt, tail
            )
            others = []

    # -- files ----------------------------------------------------------------------------------
    def _write_file(
        self,
        shape: Shape,
        first_at: int,
        seq: int,
        records: list[bytes],
        corrupt: list[tuple[int, CorruptRecord]],
        tail: CorruptRecord | None,
    ) -> None:
        prefix = {"jsonl": "webhooks", "ndjson": "engage-events", "array": "batch"}.get(
            shape.fmt, "event"
        )
        rel = f"{day_folder(first_at)}/{prefix}-{compact_stamp(first_at)}-{seq:06d}.{shape.ext}"
        positions: dict[int, int] = {}
        if shape.lines:
            data, positions = self._lines(shape, records, tail)
        elif shape.fmt == "array":
            if shape.indent:
                items = [orjson.dumps(orjson.loads(r), option=orjson.OPT_INDENT_2) for r in records]
                data = b"[\n" + b",\n".join(items) + b"\n]\n"
            else:
                data = b"[" + b",".join(records) + b"]\n"
        else:
            data = records[0] + b"\n"
            if shape.indent:
                data = orjson.dumps(orjson.loads(records[0]), option=orjson.OPT_INDENT_2) + b"\n"
        self._write_bytes(rel, data, shape.gz)
        corrupt_rows = []
        for index, rec in corrupt:
            where = {"line": positions[index]} if shape.lines else {"index": index}
            corrupt_rows.append((rec, where))
        if tail is not None:
            corrupt_rows.append((tail, {"line": positions[len(records)]}))
        self.stats.on_file(rel, shape, len(records) + (tail is not None), corrupt_rows)

    def _write_bytes(self, rel: str, data: bytes, gz: bool) -> None:
        """Write one file under the archive root, gzipped deterministically when `gz`."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            if gz:
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=GZIP_LEVEL
                ) as out:
                    out.write(data)
            else:
                fh.write(data)

    def _lines(
        self, shape: Shape, records: list[bytes], tail: CorruptRecord | None
    ) -> tuple[bytes, dict[int, int]]:
        """Join records into lines; return the bytes and each record's 1-based line number."""
        rng = self.rng
        eol = b"\r\n" if shape.crlf else b"\n"
        parts: list[bytes] = [BOM] if shape.bom else []
        positions: dict[int, int] = {}
        line = 0
        blanks_left = max(1, len(records) // 8) if shape.blank_lines else 0
        for i, rec in enumerate(records):
            if blanks_left and (rng.random() < 0.15 or i == len(records) // 2):
                parts.append(eol)
                line += 1
                blanks_left -= 1
            line += 1
            positions[i] = line
            parts.append(rec)
            parts.append(eol)
        if tail is not None:
            line += 1
            positions[len(records)] = line
            parts.append(tail.raw)
        elif shape.blank_lines and rng.random() < 0.5:
            parts.append(eol)
        elif not shape.final_newline and parts:
            parts.pop()
        return b"".join(parts), positions
