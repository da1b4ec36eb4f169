"""One record as read from a file, or why it could not be read: shared by the file readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pipelines import settings as s


@dataclass
class RawRecord:
    """One record read from a file, or the reason it could not be parsed."""

    position: int  # 1-based line number, or 0-based value index, or 0 for a whole document
    position_kind: str  # "line", "index" or "document"
    raw: bytes  # the record's text as read (possibly cut to RAW_TEXT_KEEP_BYTES)
    value: Any = None
    reason: str | None = None
    detail: str | None = None
    raw_size: int | None = None  # the full size when `raw` was cut


def parse(text: bytes, position: int, kind: str) -> RawRecord:
    """Parse one record's bytes; a failure becomes an invalid_json or invalid_encoding record."""
    try:
        return RawRecord(position, kind, text, value=orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        return unparsable(text, position, kind, exc)


def unparsable(text: bytes, position: int, kind: str, exc: Exception) -> RawRecord:
    """The rejection of bytes orjson refused: not UTF-8, or not JSON."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as bad:
        return RawRecord(
            position, kind, text, reason=s.INVALID_ENCODING, detail=f"not UTF-8: {bad}"
        )
    return RawRecord(position, kind, text, reason=s.INVALID_JSON, detail=str(exc))


def too_large(position: int, kind: str, head: bytes, size: int, limit: int) -> RawRecord:
    """A record over the size limit, of which only `head` was kept."""
    return RawRecord(
        position,
        kind,
        head[: s.RAW_TEXT_KEEP_BYTES],
        reason=s.RECORD_TOO_LARGE,
        detail=f"record of {size} bytes or more exceeds the limit of {limit} bytes",
        raw_size=size,
    )


def unreadable(position: int, kind: str, exc: BaseException) -> RawRecord:
    """The file broke off (I/O or decompression error) at this record."""
    return RawRecord(
        position,
        kind,
        b"",
        reason=s.UNREADABLE_FILE,
        detail=f"file could not be read past this point: {type(exc).__name__}: {exc}",
    )
