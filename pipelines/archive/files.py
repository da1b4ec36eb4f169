"""Recognise an archived file (by its name, else by its first bytes) and stream its records.

A name ending in .jsonl/.ndjson/.json (optionally .gz) says what the file is. Any other
file that is not hidden is recognised by its content, so that extensionless objects
(AWS Data Firehose writes `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`) load: gzip by
its magic bytes (then the inflated bytes are looked at again), JSON by its first
significant byte (`{` or `[`, after an optional BOM and whitespace). Everything else is
not an archive and is skipped. Sniffing reads a few bytes and replays them, so bucket
streams (not seekable) work the same as local files.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import IO

from pipelines import settings as s
from pipelines.archive import json_records as jr
from pipelines.archive.raw_records import RawRecord

__all__ = ["RawRecord", "ArchiveRecords", "file_format", "is_hidden", "iter_records"]

GZIP_MAGIC = b"\x1f\x8b"
BY_NAME = "name"
BY_CONTENT = "content"
_SNIFF_CHUNK = 4096
# a file that starts with more whitespace than this is not taken for JSON
_SNIFF_LIMIT = 64 * 1024


def is_hidden(name: str) -> bool:
    """Hidden files (.DS_Store, editor swap files) are never archives."""
    return name.rsplit("/", 1)[-1].startswith(".")


def file_format(name: str) -> str | None:
    """The archive format a file name says ("jsonl", "json.gz", ...), or None if it does not."""
    lowered = name.lower()
    base = lowered.removesuffix(s.GZIP_SUFFIX)
    if is_hidden(base):
        return None
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


def _inflate(raw_stream: IO[bytes], size: int | None) -> IO[bytes]:
    """A gzip reader, capped against gzip bombs."""
    limit = max(s.MIN_INFLATED_CAP, s.MAX_INFLATION_RATIO * (size or 0))
    return _InflationLimit(gzip.GzipFile(fileobj=raw_stream, mode="rb"), limit)  # type: ignore[return-value]


class _Broken:
    """The rest of a stream that broke off while its first bytes were sniffed."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def read(self, size: int = -1) -> bytes:
        """Raise the error the stream raised."""
        raise self._error

    def readline(self, size: int = -1) -> bytes:
        """Raise the error the stream raised."""
        raise self._error


def _json_head(stream: IO[bytes]) -> tuple[bytes | None, IO[bytes]]:
    """Read the first bytes; return them (or None when they do not open JSON) and the rest."""
    head = b""
    while len(head) < _SNIFF_LIMIT:
        try:
            chunk = stream.read(_SNIFF_CHUNK)
        except jr.READ_ERRORS as exc:  # a truncated gzip file: its records before the break count
            stream, chunk = _Broken(exc), b""  # type: ignore[assignment]
        if not chunk:
            text = head.removeprefix(jr.BOM).lstrip(b" \t\r\n")
            if not text and isinstance(stream, _Broken):
                return head, stream  # broke before any byte: read it, as an unreadable file
            return (head if text[:1] in (b"{", b"[") else None), stream
        head += chunk
        if len(head) < len(jr.BOM) and jr.BOM.startswith(head):
            continue
        text = head.removeprefix(jr.BOM).lstrip(b" \t\r\n")
        if text:
            return (head if text[:1] in (b"{", b"[") else None), stream
    return None, stream


class ArchiveRecords:
    """The records of one archived file; after reading, what it held and how it was known.

    `format` (None until read) names what was read, as in raw.file_audit: `jsonl`, `json`
    (one document), `json-array`, `json-concatenated`, `empty`, each with `.gz` when
    gzipped; `not-json` when a file recognised by content turned out not to be an archive.
    """

    def __init__(
        self, raw_stream: IO[bytes], name_format: str | None, limit: int, size: int | None
    ) -> None:
        self._raw = raw_stream
        self._name_format = name_format
        self._limit = limit
        self._size = size
        self.recognised_by = BY_NAME if name_format is not None else BY_CONTENT
        self.format: str | None = None

    @property
    def is_archive(self) -> bool:
        """False when the file, recognised by content, holds no JSON (skip it)."""
        return self.format != "not-json"

    def __iter__(self) -> Iterator[RawRecord]:
        """Yield every record in file order (nothing when the file is not an archive)."""
        if self._name_format is not None:
            yield from self._by_name(self._name_format)
        else:
            yield from self._by_content()

    def _by_name(self, fmt: str) -> Iterator[RawRecord]:
        gz = fmt.endswith(".gz")
        stream = _inflate(self._raw, self._size) if gz else self._raw
        suffix = ".gz" if gz else ""
        if fmt.removesuffix(".gz") in ("jsonl", "ndjson"):
            self.format = jr.LINES + suffix
            yield from jr.iter_lines(stream, self._limit)
            return
        values = jr.JsonValues(stream, self._limit)
        try:
            yield from values
        finally:
            self.format = values.layout + suffix

    def _by_content(self) -> Iterator[RawRecord]:
        magic = self._raw.read(len(GZIP_MAGIC))
        stream: IO[bytes] = jr.Replay(magic, self._raw)  # type: ignore[assignment]
        suffix = ""
        if magic == GZIP_MAGIC:
            stream, suffix = _inflate(stream, self._size), ".gz"
        head, stream = _json_head(stream)
        if head is None:
            self.format = "not-json"
            return
        values = jr.JsonValues(stream, self._limit, head=head)
        try:
            yield from values
        finally:
            self.format = values.layout + suffix


def iter_records(
    raw_stream: IO[bytes], name_format: str | None, limit: int, size: int | None = None
) -> ArchiveRecords:
    """The records of a file as read from storage (compressed or not); reads lazily."""
    return ArchiveRecords(raw_stream, name_format, limit, size)
