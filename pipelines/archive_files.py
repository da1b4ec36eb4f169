"""Stream the records out of one archived file: JSON lines, a JSON document or array, gzipped.

Each file is read as a stream, so memory stays bounded by the largest record we accept,
never by the file's size. Everything that cannot become a record is reported as a
`RawRecord` with an error instead of raising, so the caller can quarantine it.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson
import orjson

from pipelines import settings as s

BOM = b"\xef\xbb\xbf"
_SKIP_CHUNK = 1024 * 1024
_READ_ERRORS = (OSError, EOFError, zlib.error)


@dataclass
class RawRecord:
    """One record read from a file, or the reason it could not be parsed."""

    position: int  # 1-based line number, or 0-based array index, or 0 for a whole document
    position_kind: str  # "line", "index" or "document"
    raw: bytes  # the record's text as read (possibly cut to RAW_TEXT_KEEP_BYTES)
    value: Any = None
    reason: str | None = None
    detail: str | None = None
    raw_size: int | None = None  # the full size when `raw` was cut


def file_format(name: str) -> str | None:
    """Return the archive format of a file name ("jsonl", "json.gz", ...) or None to skip it."""
    lowered = name.lower()
    base = lowered.removesuffix(s.GZIP_SUFFIX)
    if base.rsplit("/", 1)[-1].startswith("."):
        return None  # hidden files (.DS_Store, editor swap files) are never archives
    for suffix in s.LINE_FORMATS + s.DOCUMENT_FORMATS:
        if base.endswith(suffix):
            return lowered[lowered.rindex(suffix) + 1 :]
    return None


class InflationLimitExceeded(OSError):
    """A compressed file inflates far beyond any real archive file: a gzip bomb."""


class _InflationLimit:
    """A read-only stream that stops a decompressed stream after `limit` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._limit:
            raise InflationLimitExceeded(
                f"decompressed data exceeds {self._limit} bytes "
                f"({s.MAX_INFLATION_RATIO}x the file size): a gzip bomb?"
            )
        return data

    def read(self, size: int = -1) -> bytes:
        """Read like the wrapped stream, counting decompressed bytes."""
        return self._count(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        """Read a line like the wrapped stream, counting decompressed bytes."""
        return self._count(self._stream.readline(size))


def open_decompressed(raw_stream: IO[bytes], fmt: str, size: int | None = None) -> IO[bytes]:
    """Wrap a binary stream in a gzip reader, capped against gzip bombs, when the format says so."""
    if fmt.endswith("gz"):
        limit = max(s.MIN_INFLATED_CAP, s.MAX_INFLATION_RATIO * (size or 0))
        return _InflationLimit(gzip.GzipFile(fileobj=raw_stream, mode="rb"), limit)  # type: ignore[return-value]
    return raw_stream


def iter_records(stream: IO[bytes], fmt: str, max_record_bytes: int) -> Iterator[RawRecord]:
    """Yield every record of a decompressed stream in file order."""
    if fmt.removesuffix(".gz") in ("jsonl", "ndjson"):
        yield from _iter_lines(stream, max_record_bytes, first_line=1)
    else:
        yield from _iter_document(stream, max_record_bytes)


def _parse(text: bytes, position: int, kind: str) -> RawRecord:
    try:
        return RawRecord(position, kind, text, value=orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as bad:
            return RawRecord(
                position, kind, text, reason=s.INVALID_ENCODING, detail=f"not UTF-8: {bad}"
            )
        return RawRecord(position, kind, text, reason=s.INVALID_JSON, detail=str(exc))


def _too_large(position: int, kind: str, head: bytes, size: int, limit: int) -> RawRecord:
    return RawRecord(
        position,
        kind,
        head[: s.RAW_TEXT_KEEP_BYTES],
        reason=s.RECORD_TOO_LARGE,
        detail=f"record of {size} bytes or more exceeds the limit of {limit} bytes",
        raw_size=size,
    )


def _unreadable(position: int, kind: str, exc: BaseException) -> RawRecord:
    return RawRecord(
        position,
        kind,
        b"",
        reason=s.UNREADABLE_FILE,
        detail=f"file could not be read past this point: {type(exc).__name__}: {exc}",
    )


def _iter_lines(stream: IO[bytes], limit: int, first_line: int) -> Iterator[RawRecord]:
    line_no = first_line - 1
    try:
        while True:
            line = stream.readline(limit + 1)
            if not line:
                return
            line_no += 1
            if line_no == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if len(line) > limit and not line.endswith(b"\n"):
                size = len(line)
                while True:  # skip the rest of the oversized line without keeping it
                    chunk = stream.readline(_SKIP_CHUNK)
                    size += len(chunk)
                    if not chunk or chunk.endswith(b"\n"):
                        break
                yield _too_large(line_no, "line", line, size, limit)
                continue
            text = line.strip()
            if text:
                yield _parse(text, line_no, "line")
    except _READ_ERRORS as exc:
        yield _unreadable(line_no + 1, "line", exc)


def _first_significant_byte(stream: IO[bytes]) -> tuple[bytes, bytes]:
    """Read past a BOM and whitespace; return (bytes consumed, first significant byte)."""
    consumed = b""
    while True:
        byte = stream.read(1)
        consumed += byte
        if not byte:
            return consumed, b""
        if consumed == BOM[: len(consumed)] and len(consumed) <= len(BOM):
            continue
        if not byte.isspace():
            return consumed, byte


def _iter_document(stream: IO[bytes], limit: int) -> Iterator[RawRecord]:
    try:
        consumed, first = _first_significant_byte(stream)
        if not first:
            return  # an empty file holds no records
        if first == b"[":
            yield from _iter_array(stream)
            return
        body = consumed + stream.read(limit + 1 - len(consumed))
        if len(body) > limit:
            size = len(body) + sum(
                len(chunk) for chunk in iter(lambda: stream.read(_SKIP_CHUNK), b"")
            )
            yield _too_large(0, "document", body, size, limit)
            return
    except _READ_ERRORS as exc:
        yield _unreadable(0, "document", exc)
        return
    body = body.removeprefix(BOM)
    record = _parse(body.strip(), 0, "document")
    if record.reason == s.INVALID_JSON and b"\n" in body.strip():
        # JSON lines saved under a .json name: read it as lines if its first line is an object
        first_line = body.lstrip().split(b"\n", 1)[0].strip()
        if isinstance(_parse(first_line, 1, "line").value, dict):
            yield from _iter_lines(io.BytesIO(body), limit, first_line=1)
            return
    yield record


def _iter_array(stream: IO[bytes]) -> Iterator[RawRecord]:
    # ijson streams a large array element by element; it resumes after the "[" we consumed
    index = 0
    events = ijson.items(_Prepend(b"[", stream), "item", use_float=True)
    while True:
        try:
            value = next(events)
        except StopIteration:
            return
        except ijson.JSONError as exc:
            yield RawRecord(index, "index", b"", reason=s.INVALID_JSON, detail=f"array: {exc}")
            return
        except UnicodeDecodeError as exc:
            yield RawRecord(index, "index", b"", reason=s.INVALID_ENCODING, detail=str(exc))
            return
        except _READ_ERRORS as exc:
            yield _unreadable(index, "index", exc)
            return
        yield RawRecord(index, "index", b"", value=value)
        index += 1


class _Prepend:
    """A read-only stream that replays a few consumed bytes before the rest of `stream`."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes, the replayed head first."""
        if self._head and size != 0:  # ijson probes with read(0) first
            head, self._head = self._head, b""
            if size < 0:
                return head + self._stream.read()
            return head + self._stream.read(max(size - len(head), 0))
        return self._stream.read(size)
