"""The file readers on their own: formats recognised by name or content, record boundaries,
positions, the per-record size limit in every file kind, and memory bounded per record."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from typing import Any

import pytest

from pipelines.archive.files import file_format, iter_records
from pipelines.archive.json_records import JsonValues

BOM = b"\xef\xbb\xbf"


def event(i: int, pad: int = 0) -> bytes:
    return json.dumps({"id": f"e{i}", "note": "é" * 3, "pad": "x" * pad}).encode()


class OneWayStream:
    """A non-seekable stream without peek, like a bucket object: only `read`."""

    def __init__(self, data: bytes, chunk: int = 7) -> None:
        self._data = io.BytesIO(data)
        self._chunk = chunk

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._chunk if size < 0 else min(size, self._chunk))

    def readline(self, size: int = -1) -> bytes:
        return self._data.readline(size)


def read(
    data: bytes, name: str = "2024/08/17/stream-1-2024-08-17-10-00-00-uuid", limit: int = 1 << 20
) -> tuple[str | None, str, list[tuple[str, int, str | None, Any]]]:
    """(format, recognised by, [(position kind, position, reason, value or raw head)])."""
    records = iter_records(OneWayStream(data), file_format(name), limit, len(data))
    rows = [
        (r.position_kind, r.position, r.reason, r.value if r.reason is None else r.raw[:20])
        for r in records
    ]
    return records.format, records.recognised_by, rows


def ok(kind: str, position: int, i: int) -> tuple[str, int, None, dict]:
    return (kind, position, None, json.loads(event(i)))


# -- concatenated values ------------------------------------------------------------------------
@pytest.mark.parametrize("separator", [b"", b" ", b"\n\n", b"\r\n  \t"])
def test_values_back_to_back_are_one_record_each(separator: bytes) -> None:
    data = separator.join(event(i) for i in range(3))
    fmt, by, rows = read(data)
    assert by == "content"
    newlines = separator.count(b"\n")
    if newlines:  # JSON lines: numbered by line
        assert fmt == "jsonl"
        assert rows == [ok("line", 1 + i * newlines, i) for i in range(3)]
    else:  # values back to back: numbered by index
        assert fmt == "json-concatenated"
        assert rows == [ok("index", i, i) for i in range(3)]


def test_concatenated_values_in_every_file_kind() -> None:
    data = event(0) + event(1)
    for name in ("a.json", "a.jsonl", "a.ndjson", "a"):
        fmt, by, rows = read(data, name)
        kind = "line" if name in ("a.jsonl", "a.ndjson") else "index"
        positions = [1, 1] if kind == "line" else [0, 1]
        assert rows == [ok(kind, positions[0], 0), ok(kind, positions[1], 1)], name
        assert by == ("content" if name == "a" else "name")
    # a .jsonl line holding two values: both records of that line, the next line goes on
    fmt, _, rows = read(event(0) + event(1) + b"\n" + event(2) + b"\n", "a.jsonl")
    assert fmt == "jsonl"
    assert rows == [ok("line", 1, 0), ok("line", 1, 1), ok("line", 2, 2)]


def test_single_document_array_and_json_lines_under_a_json_name() -> None:
    assert read(BOM + b"  " + event(0) + b"\n", "a.json") == (
        "json",
        "name",
        [ok("document", 0, 0)],
    )
    array = b"[" + b",\n".join(event(i) for i in range(3)) + b"]"
    assert read(array, "a.json")[::2] == ("json-array", [ok("index", i, i) for i in range(3)])
    lines = b"\n" + b"\n".join(event(i) for i in range(3)) + b"\n"
    assert read(lines, "a.json")[::2] == ("jsonl", [ok("line", i + 2, i) for i in range(3)])
    assert read(b"", "a.json") == ("empty", "name", [])


def test_last_record_cut_off_only_rejects_itself() -> None:
    data = event(0) + event(1) + event(2)[:-9]
    fmt, _, rows = read(data)
    assert rows[:2] == [ok("index", 0, 0), ok("index", 1, 1)]
    assert rows[2][:3] == ("index", 2, "invalid_json")
    assert fmt == "json-concatenated"


def test_truncated_gzip_keeps_the_records_before_the_break() -> None:
    data = b"".join(event(i, pad=3000) for i in range(2000))  # several MB: several reads
    packed = gzip.compress(data, mtime=0)
    fmt, _, rows = read(packed[: len(packed) // 2])
    assert fmt == "json-concatenated.gz"
    assert rows[-1][2] == "unreadable_file"
    assert len(rows) > 100
    assert all(reason is None for _, _, reason, _ in rows[:-1])
    assert [position for _, position, _, _ in rows] == list(range(len(rows)))


def test_garbage_between_records_is_rejected_up_to_the_next_object() -> None:
    data = event(0) + b"garbage\n" + event(1) + b"}}" + event(2) + b'{"id": tru}' + event(3)
    _, _, rows = read(data)
    assert [(p, reason, value) for _, p, reason, value in rows] == [
        (0, None, json.loads(event(0))),
        (1, "invalid_json", b"garbage"),
        (2, None, json.loads(event(1))),
        (3, "invalid_json", b"}}"),
        (4, None, json.loads(event(2))),
        (5, "invalid_json", b'{"id": tru}'),
        (6, None, json.loads(event(3))),
    ]


def test_bad_bytes_reject_one_record() -> None:
    data = event(0) + b'{"id": "\xff"}' + event(1)
    _, _, rows = read(data)
    assert [reason for _, _, reason, _ in rows] == [None, "invalid_encoding", None]


def test_array_elements_of_every_kind() -> None:
    data = b'[{"id": 1}, 12, "s", tru, {"a": [1, {"b": "]}"}]}, [3]]'
    _, _, rows = read(data, "a.json")
    assert rows == [
        ("index", 0, None, {"id": 1}),
        ("index", 1, None, 12),
        ("index", 2, None, "s"),
        ("index", 3, "invalid_json", b"tru"),
        ("index", 4, None, {"a": [1, {"b": "]}"}]}),
        ("index", 5, None, [3]),
    ]
    _, _, rows = read(b'[{"id": 1}, {"id": ', "a.json")  # cut inside an element
    assert [(p, reason) for _, p, reason, _ in rows] == [(0, None), (1, "invalid_json")]


# -- recognised by content ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("stream-1-2024-08-17-10-00-00-uuid", b"\n " + event(0) + event(1), "json-concatenated"),
        ("stream-1-2024-08-17-10-00-00-uuid", BOM + b"[" + event(0) + b"]", "json-array"),
        ("stream-1-2024-08-17-10-00-00-uuid.gz", event(0) + event(1), "json-concatenated.gz"),
        ("no-extension-but-gzip", event(0), "json.gz"),
        ("export.gz", event(0) + b"\n" + event(1) + b"\n", "jsonl.gz"),
        ("notes.txt", b"not an archive", "not-json"),
        ("rows.csv", b'"a","b"\n1,2\n', "not-json"),
        ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not-json"),
        ("blank", b" \n\n ", "not-json"),
        ("empty", b"", "not-json"),
        ("text.gz", b"plain text, gzipped", "not-json"),
    ],
)
def test_format_recognised_by_content(name: str, data: bytes, expected: str) -> None:
    if name.endswith(".gz") or name == "no-extension-but-gzip":
        data = gzip.compress(data, mtime=0)
    assert file_format(name) is None
    fmt, by, rows = read(data, name)
    assert (fmt, by) == (expected, "content")
    assert (rows == []) == (expected == "not-json")
    assert all(reason is None for _, _, reason, _ in rows)


def test_names_that_decide_the_format() -> None:
    assert file_format("2024/08/17/a.JSONL.gz") == "jsonl.gz"
    assert file_format("a.ndjson") == "ndjson"
    assert file_format("a.json") == "json"
    assert file_format(".hidden.json") is None
    assert file_format("stream-1-2024-08-17-10-00-00-uuid") is None


# -- the size limit holds per record, in every file kind ---------------------------------------
def exactly(size: int, i: int) -> bytes:
    """A record of exactly `size` bytes."""
    base = event(i)
    return event(i, pad=size - len(base))


LIMIT = 1000
SHAPES = {
    "a.jsonl": lambda rs: b"\n".join(rs) + b"\n",
    "a.json": lambda rs: b"[" + b",".join(rs) + b"]",  # array elements
    "b.json": lambda rs: b"\n".join(rs) + b"\n",  # JSON lines under a .json name
    "c.json": lambda rs: b"".join(rs),  # back to back
    "stream-1-2024-08-17-10-00-00-uuid": lambda rs: b"".join(rs),
    "a.json.gz": lambda rs: gzip.compress(b"[" + b", ".join(rs) + b"]", mtime=0),
    "a.jsonl.gz": lambda rs: gzip.compress(b"\n".join(rs), mtime=0),
    "stream-1-2024-08-17-10-00-00-uuid.gz": lambda rs: gzip.compress(b"\n".join(rs), mtime=0),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_records_just_under_and_just_over_the_limit(name: str) -> None:
    small = [exactly(200, i) for i in range(3)]
    records = [small[0], exactly(LIMIT, 1), small[1], exactly(LIMIT + 1, 2), small[2]]
    data = SHAPES[name](records)
    _, _, rows = read(data, name, limit=LIMIT)
    reasons = [reason for _, _, reason, _ in rows]
    assert reasons == [None, None, None, "record_too_large", None], name
    assert [v["id"] for _, _, reason, v in rows if reason is None] == ["e0", "e1", "e1", "e2"]


@pytest.mark.parametrize("name", ["a.json", "a.json.gz"])
def test_single_document_just_under_and_just_over_the_limit(name: str) -> None:
    pack = gzip.compress if name.endswith(".gz") else bytes
    for size, reason in ((LIMIT, None), (LIMIT + 1, "record_too_large")):
        _, _, rows = read(pack(exactly(size, 0)), name, limit=LIMIT)
        assert [(kind, r) for kind, _, r, _ in rows] == [("document", reason)]


def test_issue_reproductions() -> None:
    # an array element of 5,024 bytes under a 1,000-byte limit: rejected, the rest loads
    big = exactly(5024, 9)
    _, _, rows = read(b"[" + event(0) + b"," + big + b"," + event(1) + b"]", "a.json", LIMIT)
    assert [(p, reason) for _, p, reason, _ in rows] == [
        (0, None),
        (1, "record_too_large"),
        (2, None),
    ]
    assert rows[1][3].startswith(b'{"id": "e9"')  # the head of its text is kept
    # a 2,450-byte .json of small JSON lines under a 1,000-byte limit: every line loads
    lines = b"".join(event(i, pad=10) + b"\n" for i in range(60))[:2450]
    lines = lines[: lines.rindex(b"\n") + 1]
    assert 2 * LIMIT < len(lines) <= 2450
    _, _, rows = read(lines, "daily.json", LIMIT)
    assert len(rows) == lines.count(b"\n")
    assert all(reason is None for _, _, reason, _ in rows)


def test_an_oversized_record_is_skipped_without_being_held() -> None:
    huge = b'{"id": "huge", "pad": "' + b"x" * (40 * 1024 * 1024) + b'"}'
    data = event(0) + huge + event(1)
    tracemalloc.start()
    try:
        rows = list(JsonValues(OneWayStream(data, chunk=1 << 20), 1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.reason for r in rows] == [None, "record_too_large", None]
    assert rows[1].raw_size == len(huge)
    assert peak < 8 * 1024 * 1024  # a few chunks, never the 40 MB record


def test_a_huge_line_in_a_json_file_is_skipped_per_record() -> None:
    data = b"\n".join([event(0), exactly(5000, 1), event(2)]) + b"\n"
    _, _, rows = read(data, "a.json", LIMIT)
    assert [(k, p, reason) for k, p, reason, _ in rows] == [
        ("line", 1, None),
        ("line", 2, "record_too_large"),
        ("line", 3, None),
    ]


def test_json_lines_in_a_truncated_gzip_without_a_name() -> None:
    lines = b"".join(
        json.dumps({"id": i, "h": f"{i**7:x}" * 9}).encode() + b"\n" for i in range(4000)
    )
    packed = gzip.compress(lines, mtime=0)
    fmt, by, rows = read(packed[: len(packed) // 2], "export-without-extension")
    assert (fmt, by) == ("jsonl.gz", "content")
    assert rows[-1][2] == "unreadable_file"
    assert [p for _, p, _, _ in rows] == list(range(1, len(rows) + 1))
    assert len(rows) > 100
    # a gzip file that breaks before its first bytes inflate: one unreadable_file record
    fmt, by, rows = read(gzip.compress(lines[:300], mtime=0)[:-12], "tiny-export")
    assert (fmt, [r[2] for r in rows]) == ("empty.gz", ["unreadable_file"])


def test_a_gzip_that_breaks_after_its_first_value_keeps_it() -> None:
    first = event(0, pad=100)
    rest = b"".join(json.dumps({"id": i, "h": f"{i**7:x}" * 9}).encode() for i in range(4000))
    packed = gzip.compress(first + rest, mtime=0)
    fmt, _, rows = read(packed[: len(packed) // 2], "a.json.gz")
    assert rows[0] == ("index", 0, None, json.loads(first))
    assert rows[-1][2] == "unreadable_file"


class BreaksAfter(OneWayStream):
    """A stream that fails (like a truncated gzip) once `data` is read."""

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        if not chunk:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = super().readline(size)
        if not line.endswith(b"\n"):
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        return line


@pytest.mark.parametrize(
    "data",
    [
        event(0) + event(1) + event(2)[:30],
        b"[" + event(0) + b", " + event(1) + b", " + event(2)[:30],
        event(0) + b"\n" + event(1) + b"\n" + event(2)[:30],
        event(0) + b"\n",
    ],
)
def test_records_read_before_a_stream_breaks_are_kept(data: bytes) -> None:
    rows = list(JsonValues(BreaksAfter(data, chunk=1 << 16), 1 << 20))
    good = data.count(b"}")  # one closing brace per complete record
    assert [r.reason for r in rows] == [None] * good + ["unreadable_file"]
