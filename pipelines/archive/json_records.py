"""Split a decompressed byte stream into JSON records, each measured and parsed on its own.

Two readers. `iter_lines` reads JSON lines (one value per line, C `readline`). `JsonValues`
reads everything else: one document, arrays (each element a record), and values back to
back with or without whitespace between them (AWS Data Firehose writes `{...}{...}`); it
recognises JSON lines under any name too and hands them to `iter_lines`.

Why our own splitter: orjson parses only a complete document, and ijson builds a whole
array element before anyone can measure it, so neither bounds memory per record nor
gives the raw text of a record to quarantine. Here orjson does the common case in C: given
a window of bytes it parses the first value and stops at the first byte after it
("unexpected content after document" at that position), which gives the record's end. A
scanner that jumps between brackets and quotes (regex, in C) takes over only where orjson
cannot say: a record that is not JSON (to find where it ends), a record cut at the end of
the file, or a record over the size limit, which it skips chunk by chunk without keeping.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import IO

import orjson

from pipelines import settings as s
from pipelines.archive.raw_records import RawRecord, parse, too_large, unparsable, unreadable

BOM = b"\xef\xbb\xbf"
READ_ERRORS = (OSError, EOFError, zlib.error)
# a gzip stream that breaks off raises and loses what the same read inflated before the
# break: small reads keep all but the last few KiB of a truncated file
_CHUNK = 64 * 1024
_SKIP_CHUNK = 1024 * 1024
# orjson's first try covers this much (a whole small file: one parse); later tries 1.5 times
# the previous record, at least _MIN_WINDOW
_FIRST_WINDOW = 64 * 1024
_MIN_WINDOW = 4 * 1024
# orjson is tried on windows up to this size (it needs several times a window in memory);
# a longer record is delimited by the scanner, then parsed once if it is within the limit
_MAX_WINDOW = 256 * 1024
_WHITESPACE = b" \t\r\n"
_WS = re.compile(rb"[ \t\r\n]*")
# at top level anything that is not a value start is garbage up to the next object or array
_TOP_RUN = re.compile(rb"[^\[{]*")
# in an array a number, a literal or garbage runs up to the next separator or value start
_ELEMENT_RUN = re.compile(rb'[^ \t\r\n,\]\[{"]*')
_STRUCTURE = re.compile(rb'["{}\[\]]')
_STRING_STOP = re.compile(rb'["\\]')
_TRAILING = "unexpected content after document"
_ENDED = "unexpected end of data"
_NOT_UTF8 = "str is not valid UTF-8"
_OPEN = {0x7B, 0x5B}  # { [
_QUOTE = 0x22
_BACKSLASH = 0x5C

# what a file held, for raw.file_audit.format (without the ".gz" of a gzipped file)
LINES = "jsonl"
DOCUMENT = "json"
ARRAY = "json-array"
CONCATENATED = "json-concatenated"
EMPTY = "empty"


def iter_lines(stream: IO[bytes], limit: int, first_line: int = 1) -> Iterator[RawRecord]:
    """Yield the record of every non-blank line; a line over `limit` bytes is skipped unread."""
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
                yield too_large(line_no, "line", line, size, limit)
                continue
            text = line.strip()
            if not text:
                continue
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield from _broken_line(text, line_no, limit, exc)
                continue
            yield RawRecord(line_no, "line", text, value=value)
    except READ_ERRORS as exc:
        yield unreadable(line_no + 1, "line", exc)


def _broken_line(
    text: bytes, line_no: int, limit: int, exc: orjson.JSONDecodeError
) -> Iterator[RawRecord]:
    """A line orjson refused: not JSON, or several values on one line (`{...}{...}`)."""
    if not exc.msg.startswith(_TRAILING):
        yield unparsable(text, line_no, "line", exc)
        return
    for record in JsonValues(_BytesStream(text), limit):  # each value is a record of the line
        record.position, record.position_kind = line_no, "line"
        yield record


class _BytesStream:
    """Bytes as a read-only stream (no copy: `io.BytesIO` would copy a line once more)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        """Everything on the first call, then nothing."""
        data, self._data = self._data, b""
        return data


class Replay:
    """A read-only stream that replays bytes already read before the rest of `stream`."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._at = 0
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all when negative), the replayed bytes first."""
        if self._at < len(self._head):
            end = len(self._head) if size < 0 else min(len(self._head), self._at + size)
            data = self._head[self._at : end]
            self._at = end
            if size < 0:
                return data + self._stream.read()
            return data
        return self._stream.read(size)

    def readline(self, size: int = -1) -> bytes:
        """Read one line of at most `size` bytes, across the replayed bytes and the stream."""
        if self._at >= len(self._head):
            return self._stream.readline(size)
        newline = self._head.find(b"\n", self._at)
        end = len(self._head) if newline < 0 else newline + 1
        if size >= 0:
            end = min(end, self._at + size)
        data = self._head[self._at : end]
        self._at = end
        if newline < 0 and end == len(self._head) and (size < 0 or len(data) < size):
            data += self._stream.readline(-1 if size < 0 else size - len(data))
        return data


class _Buffer:
    """Bytes read ahead from a stream; `pos` is the first byte not consumed yet."""

    __slots__ = ("data", "eof", "pos", "stream")

    def __init__(self, stream: IO[bytes], head: bytes) -> None:
        self.stream = stream
        self.data = head
        self.pos = 0
        self.eof = False

    def fill(self) -> int:
        """Read one more chunk, dropping the consumed bytes; return how many were dropped.

        Returns -1 at the end of the stream (nothing dropped then).
        """
        if self.eof:
            return -1
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return -1
        dropped = self.pos
        self.data = self.data[dropped:] + chunk
        self.pos = 0
        return dropped

    def skip_whitespace(self) -> tuple[bool, int]:
        """Move past whitespace; return (a value follows, newlines skipped)."""
        newlines = 0
        while True:
            start = self.pos
            self.pos = _WS.match(self.data, start).end()
            newlines += self.data.count(b"\n", start, self.pos)
            if self.pos < len(self.data):
                return True, newlines
            if self.fill() < 0:
                return False, newlines


class JsonValues:
    """The records of a stream of JSON values; `layout` says what it held, once read.

    A single object (or other value) is a `document` at position 0; the elements of an
    array and values back to back are numbered by `index` (0-based, over the whole file);
    JSON lines (the first value alone on its line and an object) are numbered by `line`.
    """

    def __init__(self, stream: IO[bytes], limit: int, head: bytes = b"") -> None:
        self._buf = _Buffer(stream, head)
        self._limit = limit
        self._window = _FIRST_WINDOW
        self._index = 0
        self._held: RawRecord | None = None  # the first value, until we know what the file holds
        self.layout = EMPTY

    def __iter__(self) -> Iterator[RawRecord]:
        """Yield every record in file order; a read error ends the file with one record."""
        try:
            yield from self._read()
        except READ_ERRORS as exc:
            if self._held is not None:  # the file broke after its first value
                yield self._held
            kind = "line" if self.layout == LINES else "index"
            yield unreadable(self._index, kind, exc)

    def _read(self) -> Iterator[RawRecord]:
        buf = self._buf
        while len(buf.data) < len(BOM) and buf.fill() >= 0:
            pass
        if buf.data.startswith(BOM):
            buf.pos = len(BOM)
        more, lead_newlines = buf.skip_whitespace()
        if not more:
            return
        tops = 0
        while more:
            tops += 1
            if tops > 1:
                self.layout = CONCATENATED
            if buf.data[buf.pos] == 0x5B:  # [
                yield from self._release()
                buf.pos += 1
                if tops == 1:
                    self.layout = ARRAY
                yield from self._array()
            else:
                record = self._record(_TOP_RUN, self._index, "index")
                self._index += 1
                if tops == 1:
                    self.layout = DOCUMENT
                    self._held = record
                    more, newlines = buf.skip_whitespace()
                    if more and newlines and _starts_lines(record):
                        self.layout = LINES
                        record.position, record.position_kind = 1 + lead_newlines, "line"
                        yield from self._release()
                        rest = Replay(buf.data[buf.pos :], buf.stream)
                        first = 1 + lead_newlines + newlines
                        yield from iter_lines(rest, self._limit, first_line=first)
                        return
                    continue
                yield from self._release()
                yield record
            more, _ = buf.skip_whitespace()
        if self._held is not None and tops == 1:
            self._held.position_kind = "document"
        yield from self._release()

    def _release(self) -> Iterator[RawRecord]:
        """Yield the held first value, if any."""
        if self._held is not None:
            held, self._held = self._held, None
            yield held

    def _array(self) -> Iterator[RawRecord]:
        """The elements of an array whose `[` was consumed, up to and including its `]`."""
        buf = self._buf
        last_failed = False
        while True:
            more, _ = buf.skip_whitespace()
            if not more:
                if not last_failed:
                    yield RawRecord(
                        self._index,
                        "index",
                        b"",
                        reason=s.INVALID_JSON,
                        detail="array: the file ends before the array is closed",
                    )
                    self._index += 1
                return
            byte = buf.data[buf.pos]
            if byte == 0x5D:  # ]
                buf.pos += 1
                return
            if byte == 0x2C:  # ,
                buf.pos += 1
                continue
            record = self._record(_ELEMENT_RUN, self._index, "index")
            self._index += 1
            last_failed = record.reason is not None
            yield record

    def _record(self, run: re.Pattern[bytes], position: int, kind: str) -> RawRecord:
        """Read the value at the buffer's position (it is not whitespace)."""
        if self._buf.data[self._buf.pos] in _OPEN:
            found = self._fast()
            if found is not None:
                raw, value = found
                self._window = max(_MIN_WINDOW, len(raw) + len(raw) // 2)
                return RawRecord(position, kind, raw, value=value)
        return self._slow(run, position, kind)

    def _fast(self) -> tuple[bytes, object] | None:
        """Let orjson find the end of the object or array at `pos`; None when it cannot."""
        buf, cap = self._buf, min(self._limit + 1, _MAX_WINDOW)
        width = min(self._window, cap)
        data, start = buf.data, buf.pos
        # Firehose writes objects back to back: a "}{" ends the record unless it sits in a
        # string, and then the text before it does not parse; one parse instead of two
        joint = data.find(b"}{", start, start + width)
        if joint > 0:
            raw = data[start : joint + 1]
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
            else:
                buf.pos = joint + 1
                return raw, value
        while True:
            data, start = buf.data, buf.pos
            stop = min(start + width, len(data))
            final = buf.eof and stop == len(data)
            # parse what was read before reading more: a read that fails (a truncated gzip)
            # then loses no record that was complete before it
            short = not buf.eof and stop < start + width
            while start < stop < len(data) and data[stop] & 0xC0 == 0x80:
                stop -= 1  # end the window on a UTF-8 character boundary
            try:
                value = orjson.loads(memoryview(data)[start:stop])
            except orjson.JSONDecodeError as exc:
                if exc.msg.startswith(_TRAILING):
                    raw = data[start : start + _byte_offset(data, start, exc)]
                    raw = raw.rstrip(_WHITESPACE)
                    if len(raw) > self._limit:
                        return None
                    buf.pos = start + len(raw)
                    return raw, orjson.loads(raw)
                ended = exc.msg.startswith(_ENDED)
                if short and (ended or exc.msg.startswith(_NOT_UTF8)):
                    buf.fill()  # the window ends where the data read so far ends
                    continue
                if ended and not final and width < cap:
                    width = min(width * 4, cap)
                    continue
                return None
            raw = data[start:stop].rstrip(_WHITESPACE)
            if len(raw) > self._limit or (not final and raw[-1] not in b"}]"):
                return None
            buf.pos = start + len(raw)
            return raw, value

    def _slow(self, run: re.Pattern[bytes], position: int, kind: str) -> RawRecord:
        """Find the end of the value at `pos` by its brackets; skip it when over the limit."""
        buf, limit = self._buf, self._limit
        data = buf.data
        first = data[buf.pos]
        depth = 1 if first in _OPEN else 0
        in_string = first == _QUOTE
        scalar = depth == 0 and not in_string
        i = buf.pos + (0 if scalar else 1)
        head = b""
        skipped = 0  # bytes of an oversized value dropped so far
        while True:
            data = buf.data
            end = -1
            if scalar:
                i = run.match(data, i).end() if i < len(data) else i
                if i < len(data):
                    end = i
            else:
                end, i, depth, in_string = _scan(data, i, depth, in_string)
            if end >= 0:
                if head:
                    size = skipped + end - buf.pos
                    buf.pos = end
                    return too_large(position, kind, head, size, limit)
                raw = data[buf.pos : end]
                buf.pos = end
                if scalar:
                    raw = raw.rstrip(_WHITESPACE)
                if len(raw) > limit:
                    return too_large(position, kind, raw, len(raw), limit)
                return parse(raw, position, kind)
            if not head and len(data) - buf.pos > limit:
                head = data[buf.pos : buf.pos + s.RAW_TEXT_KEEP_BYTES]
            if head:  # oversized: keep nothing but the head from now on
                skipped += i - buf.pos
                buf.pos = i
            dropped = buf.fill()
            if dropped < 0:  # the file ends inside this value: it was cut off
                rest = data[buf.pos :]
                buf.pos = len(data)
                if head or len(rest) > limit:
                    return too_large(position, kind, head or rest, skipped + len(rest), limit)
                return parse(rest.rstrip(_WHITESPACE), position, kind)
            i -= dropped


def _scan(data: bytes, i: int, depth: int, in_string: bool) -> tuple[int, int, int, bool]:
    """Scan from `i` for the end of a value; return (end or -1, resume index, depth, in_string).

    Jumps from quote to bracket with C regex searches: per token, not per byte.
    """
    size = len(data)
    while True:
        if in_string:
            match = _STRING_STOP.search(data, i)
            if match is None:
                return -1, size, depth, True
            j = match.start()
            if data[j] == _BACKSLASH:
                if j + 1 >= size:
                    return -1, j, depth, True  # resume at the backslash once more is read
                i = j + 2
                continue
            in_string = False
            i = j + 1
            if depth == 0:
                return i, i, depth, False
            continue
        match = _STRUCTURE.search(data, i)
        if match is None:
            return -1, size, depth, False
        j = match.start()
        i = j + 1
        byte = data[j]
        if byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
        else:
            depth -= 1
            if depth <= 0:
                return i, i, 0, False


def _byte_offset(data: bytes, start: int, exc: orjson.JSONDecodeError) -> int:
    """orjson reports character positions; turn one into a byte offset from `start`."""
    chars = exc.pos
    if data[start : start + chars].isascii():
        return chars
    return len(exc.doc[:chars].encode("utf-8", "surrogatepass"))


def _starts_lines(record: RawRecord) -> bool:
    """A file whose first value is an object alone on its line is read as JSON lines."""
    return isinstance(record.value, dict) and b"\n" not in record.raw
