"""dlt source for the archive of webhook deliveries.

Lists the archive (a bucket with dlt's filesystem source, a local folder with
`archive.local_listing`, which yields the same file items faster), reads only files
that are new or changed since the last run, validates every record, drops re-deliveries of
events already seen (same envelope `id`), and routes each record to its raw table:
`callback_request_events`, `appointment_events`, or `rejected_events`. A `file_audit` row per
file read records what became of its records. Every `translations` object of an event is
stored once per run in `translation_sets`, and the event holds its key (see
`records.prepare_row`).
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import dlt
import orjson
from dlt.common.data_types import TDataType
from dlt.common.schema.typing import TSimpleRegex, TTableSchemaColumns
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem
from fsspec.spec import AbstractBufferedFile

from pipelines import settings as s
from pipelines.archive.files import RawRecord, file_format, is_hidden, iter_records
from pipelines.archive.local_listing import is_local_folder, list_local_files
from pipelines.archive.records import prepare_row, to_raw_row, validate
from pipelines.common.errors import EXIT_PERMISSION, EXIT_SOURCE, ExpectedFailure
from pipelines.common.redact import redact_url
from pipelines.load.run_stats import RunStats

# the whole listing is one page (fsspec lists a bucket or folder completely before the first
# page anyway), so that files are read in path order: which delivery of a re-delivered event
# is kept must not depend on the order a filesystem happens to list its folders in
_FILES_PER_PAGE = sys.maxsize
# read-ahead buffer of bucket files (see `_open`)
_BUCKET_READ_BUFFER = 1024 * 1024

# given event ids, return those the warehouse already holds
KnownEventsLookup = Callable[[list[str]], set[str]]


@dataclass
class ReadBatch:
    """Bounds one extract of a run to about `max_events` rows (events and rejections), so that
    a first load, a `--full-refresh` or a backfill is several dlt loads of bounded size and
    memory. A pass stops after the file that reaches the bound; the files it did not reach
    wait in `remaining` for the next pass of the same run (listed once, read in path order)."""

    max_events: int | None = None
    passes: int = 0
    # files listed but not yet read by this run; None while the current pass has not stopped
    remaining: list[FileItemDict] | None = None
    rows_at_start: int = 0  # the run's rows when the current pass began

    @property
    def continues(self) -> bool:
        """Whether a pass stopped early, leaving files for the next pass."""
        return bool(self.remaining)

    def start_pass(self, stats: RunStats) -> list[FileItemDict] | None:
        """Begin a pass; return the files left by the previous one (None: list the archive)."""
        left = self.remaining if self.continues else None
        self.remaining = None
        self.passes += 1
        self.rows_at_start = stats.events_loaded + stats.rejected_total
        return left

    def is_full(self, stats: RunStats) -> bool:
        """Whether this pass has read its rows (it then stops before the next file)."""
        if self.remaining is not None:  # stopped on an earlier page of the listing
            return True
        rows = stats.events_loaded + stats.rejected_total - self.rows_at_start
        return bool(self.max_events) and rows >= self.max_events  # type: ignore[operator]


def _columns(**types: TDataType) -> TTableSchemaColumns:
    """Complete column hints (snake_case names, as dlt names them), all nullable."""
    return {name: {"data_type": kind, "nullable": True} for name, kind in types.items()}


# delete-insert (not insert-only): if a load is killed midway and re-run, dlt deletes what
# the first attempt inserted, root and child rows alike, so nothing is stored twice
_EVENT_TABLE_HINTS = {
    "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
    "primary_key": "event_id",
    # the reader already sends each event once per load (its ids, and the warehouse's): dlt's
    # own dedup of the load (a window over every child table's staging rows) ran out of memory
    # at 200,000 events under the 256MB cap. Rows a resumed load copies twice are removed by
    # the reconciliation (`raw_repair`).
    "additional_table_hints": {"x-stage-data-deduplicated": True},
}
TABLE_HINTS = {
    s.CALLBACK_REQUEST_EVENTS: dlt.mark.make_hints(
        table_name=s.CALLBACK_REQUEST_EVENTS, **_EVENT_TABLE_HINTS
    ),
    s.APPOINTMENT_EVENTS: dlt.mark.make_hints(
        table_name=s.APPOINTMENT_EVENTS, **_EVENT_TABLE_HINTS
    ),
    # one row per distinct translations object; re-stored when a later run meets it again
    s.TRANSLATION_SETS: dlt.mark.make_hints(
        table_name=s.TRANSLATION_SETS,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key="translations_key",
        additional_table_hints={"x-stage-data-deduplicated": True},  # each set once per run
    ),
    s.REJECTED_EVENTS: dlt.mark.make_hints(
        table_name=s.REJECTED_EVENTS,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key="rejection_id",
        columns=_columns(
            rejection_id="text",
            source_file="text",
            file_url="text",
            position_kind="text",
            position="bigint",
            reason="text",
            detail="text",
            event_id="text",
            raw_text="text",
            raw_size_bytes="bigint",
            raw_truncated="bool",
            rejected_at="timestamp",
        ),
    ),
    s.FILE_AUDIT: dlt.mark.make_hints(
        table_name=s.FILE_AUDIT,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=["file", "read_at"],
        columns=_columns(
            file="text",
            file_url="text",
            format="text",
            recognised_by="text",
            size_bytes="bigint",
            modified_at="timestamp",
            read_at="timestamp",
            records_read="bigint",
            events_loaded="bigint",
            duplicates="bigint",
            rejected="bigint",
            rejected_by_reason="text",
        ),
    ),
}
# the quarantine and the audit exist from the first run on, empty or not (see `raw_tables`)
MATERIALIZED_TABLES = (s.REJECTED_EVENTS, s.FILE_AUDIT)


@dlt.source(name=s.SOURCE_NAME)
def webhook_archive(
    bucket_url: str = dlt.config.value,
    file_glob: str = "**/*",
    max_record_bytes: int = s.DEFAULT_MAX_RECORD_BYTES,
    stats: RunStats | None = None,
    known_events: KnownEventsLookup | None = None,
    on_file: Callable[[RunStats], None] | None = None,
    seen_ids: set[str] | None = None,
    seen_sets: set[str] | None = None,
    batch: ReadBatch | None = None,
) -> list[DltResource]:
    """Read the archive at `bucket_url` (folder path or s3://, gs://, az://, file:// URL).

    Credentials for buckets come from dlt config, secrets or environment variables
    (`SOURCES__FILESYSTEM__CREDENTIALS__...`), as for dlt's filesystem source.
    `stats` is filled while reading; `known_events` tells which ids are already loaded;
    `on_file` is called after each file (progress display). `seen_ids` and `seen_sets` collect
    the event ids this pass met and the translation set keys this run stored (a caller that
    passes `seen_ids` can empty it once the pass's extract is done). `batch` bounds the rows of one
    extract: when it continues a run, its `remaining` files are read instead of a new listing.
    """
    dlt.current.source_schema().update_preferred_types(
        {TSimpleRegex(s.TIMESTAMP_COLUMNS_REGEX): "timestamp"}
    )
    batch = batch if batch is not None else ReadBatch()
    stats = stats if stats is not None else RunStats()
    left = batch.start_pass(stats)
    if left is not None:
        files: DltResource = dlt.resource([left], name="listed_files")
    elif is_local_folder(bucket_url) and file_glob == "**/*":
        files = dlt.resource(_local_listing(bucket_url), name="local_files")
    else:
        files = filesystem(
            bucket_url=bucket_url, file_glob=file_glob, files_per_page=_FILES_PER_PAGE
        )
    reader = dlt.transformer(name="archive_records", max_table_nesting=s.MAX_TABLE_NESTING)(
        _archive_records
    )
    records = files | reader(
        max_record_bytes=max_record_bytes,
        stats=stats,
        seen_ids=set() if seen_ids is None else seen_ids,  # shared by every page of files
        seen_sets=set() if seen_sets is None else seen_sets,  # translation sets, likewise
        known_events=known_events,
        on_file=on_file,
        batch=batch,
    )
    return [records, dlt.resource(raw_tables, name="raw_tables")]


def _local_listing(root: str) -> Iterator[list[FileItemDict]]:
    """A local folder's files as one page, the way `filesystem` lists them (see
    `local_listing`)."""
    yield list_local_files(root)


def raw_tables() -> Iterator[Any]:
    """Create the quarantine and audit tables, empty, on the first run (and after a refresh).

    Without this they would appear only once a record is rejected, and the README's queries
    would fail with "table does not exist". Only the first run does it (the resource's state
    remembers), so a run with nothing new still extracts nothing.
    """
    state = dlt.current.resource_state()
    if state.get("materialized"):
        return
    for table in MATERIALIZED_TABLES:
        yield dlt.mark.with_hints(
            dlt.mark.materialize_table_schema(), TABLE_HINTS[table], create_table_variant=True
        )
    state["materialized"] = True


def _archive_records(
    file_items: Iterable[FileItemDict],
    max_record_bytes: int,
    stats: RunStats,
    seen_ids: set[str],
    seen_sets: set[str],
    known_events: KnownEventsLookup | None,
    on_file: Callable[[RunStats], None] | None,
    batch: ReadBatch,
) -> Iterator[Any]:
    """Yield raw rows, rejections and one audit row for every new or changed file.

    Files are read in path order (sorted here, whatever order the listing gives).
    Called once per page of listed files, in practice once (see `_FILES_PER_PAGE`);
    `seen_ids` (event ids met earlier in this pass) and `seen_sets` (keys of the translation
    sets this run stored) span all pages. Stops after the file that brings the rows of this
    pass to `batch.max_events`, leaving the files after it (and any later page) in
    `batch.remaining`.
    """
    state = dlt.current.resource_state()
    seen_files: dict[str, str] = state.setdefault("files", {})
    tables_hinted: set[str] = set()

    def mark(table: str, row: dict[str, Any]) -> Any:
        if table in tables_hinted:
            return dlt.mark.with_table_name(row, table)
        tables_hinted.add(table)
        return dlt.mark.with_hints(row, TABLE_HINTS[table], create_table_variant=True)

    listed = sorted(file_items, key=lambda item: item["relative_path"])
    if batch.passes == 1:  # later passes read what the first one listed
        stats.files_listed += len(listed)
    for index, item in enumerate(listed):
        if batch.is_full(stats):  # the next pass reads the rest (see `ReadBatch`)
            batch.remaining = (batch.remaining or []) + listed[index:]
            return
        path = item["relative_path"]
        if is_hidden(path):
            _skipped(stats, path)
            continue
        fingerprint = f"{item.get('size_in_bytes')}|{item['modification_date'].isoformat()}"
        if seen_files.get(path) == fingerprint:
            stats.files_unchanged += 1
            continue
        # a name that does not say the format (None) leaves it to the file's first bytes
        fmt = file_format(path)
        for table, row in _read_file(
            item, path, fmt, max_record_bytes, stats, seen_ids, known_events, seen_sets
        ):
            yield mark(table, row)
        if stats.last_skipped == path:
            continue  # not an archive after all: looked at again next run, like any skipped file
        seen_files[path] = fingerprint
        if on_file is not None:
            on_file(stats)


def _skipped(stats: RunStats, path: str) -> None:
    stats.files_skipped += 1
    stats.last_skipped = path
    if len(stats.skipped_examples) < 5:
        stats.skipped_examples.append(path)


def _read_file(
    item: FileItemDict,
    path: str,
    fmt: str | None,
    max_record_bytes: int,
    stats: RunStats,
    seen_ids: set[str],
    known_events: KnownEventsLookup | None,
    seen_sets: set[str] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Read one file; buffer its valid rows to check them against the warehouse in one query.

    A new event's translation sets not yet stored by this run (`seen_sets`) come before it."""
    if seen_sets is None:
        seen_sets = set()
    read_at = datetime.now(UTC)
    counts: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    pending: list[tuple[str, dict[str, Any]]] = []

    def flush() -> Iterator[tuple[str, dict[str, Any]]]:
        already = known_events([row["eventId"] for _, row in pending]) if known_events else set()
        for table, row in pending:
            if row["eventId"] in already:
                counts["duplicates"] += 1
            else:
                counts["loaded"] += 1
                stats.loaded_by_table[table] += 1
                for translation_set in prepare_row(row, seen_sets):
                    yield s.TRANSLATION_SETS, translation_set
                yield table, row
        pending.clear()

    with _open(item) as raw_stream:
        records = iter_records(raw_stream, fmt, max_record_bytes, item.get("size_in_bytes"))
        for record in records:
            counts["read"] += 1
            problem = _problem(record)
            if problem is not None:
                rejected[problem[0]] += 1
                yield s.REJECTED_EVENTS, _rejection_row(item, path, record, *problem)
                continue
            event_id = record.value["id"]
            if event_id in seen_ids:
                counts["duplicates"] += 1
                continue
            seen_ids.add(event_id)
            pending.append(to_raw_row(record.value, path, record.position))
            if len(pending) >= 1000:
                yield from flush()
        yield from flush()

    if not records.is_archive:
        _skipped(stats, path)
        return
    fmt = records.format  # what was read (the name may not have said)
    stats.files_read += 1
    stats.files_by_recognition[records.recognised_by] += 1
    stats.bytes_read += int(item.get("size_in_bytes") or 0)
    stats.records_read += counts["read"]
    stats.events_loaded += counts["loaded"]
    stats.duplicates += counts["duplicates"]
    stats.rejected.update(rejected)
    yield (
        s.FILE_AUDIT,
        {
            "file": path,
            "fileUrl": redact_url(item["file_url"]),
            "format": fmt,
            "recognisedBy": records.recognised_by,
            "sizeBytes": item.get("size_in_bytes"),
            "modifiedAt": item["modification_date"],
            "readAt": read_at,
            "recordsRead": counts["read"],
            "eventsLoaded": counts["loaded"],
            "duplicates": counts["duplicates"],
            "rejected": sum(rejected.values()),
            "rejectedByReason": orjson.dumps(dict(sorted(rejected.items()))).decode(),
        },
    )


def _open(item: FileItemDict) -> IO[bytes]:
    """Open an archived file for reading; failing to open it fails the run.

    Bucket files (s3, gs, az) are wrapped: fsspec's buffered files take no limit in
    `readline()` (which bounds memory per line), and their I/O errors (network, expired or
    revoked credentials, an object deleted meanwhile) must fail the run, not reject the file
    as unreadable, so that the next run reads it again.
    """
    url = item["file_url"]
    try:
        opened = item.open(mode="rb", compression="disable")
    except OSError as exc:
        raise _read_failure(url, exc) from exc
    if isinstance(opened, AbstractBufferedFile):
        return io.BufferedReader(_BucketFile(opened, url), buffer_size=_BUCKET_READ_BUFFER)
    return opened


def _read_failure(url: str, exc: OSError) -> ExpectedFailure:
    detail = " ".join(str(exc).split())
    url = redact_url(url)  # ExpectedFailure redacts the detail
    if isinstance(exc, PermissionError):
        return ExpectedFailure(EXIT_PERMISSION, f"no permission to read {url}: {detail}")
    return ExpectedFailure(EXIT_SOURCE, f"cannot read {url}: {detail}")


class _BucketFile(io.RawIOBase):
    """A bucket file as a raw stream whose I/O errors fail the run (see `_open`)."""

    def __init__(self, file: AbstractBufferedFile, url: str) -> None:
        super().__init__()
        self._file = file
        self._url = url

    def readable(self) -> bool:
        """Always readable: opened for reading."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from the bucket file; an I/O error becomes an expected failure."""
        try:
            return self._file.readinto(buffer)
        except OSError as exc:
            raise _read_failure(self._url, exc) from exc

    def close(self) -> None:
        """Close the bucket file too."""
        if not self.closed:
            self._file.close()
        super().close()


def _problem(record: RawRecord) -> tuple[str, str] | None:
    if record.reason is not None:
        return record.reason, record.detail or ""
    rejection = validate(record.value)
    if rejection is not None:
        return rejection.reason, rejection.detail
    return _nesting_problem(record)


def _nesting_problem(record: RawRecord) -> tuple[str, str] | None:
    """Reject records nested too deeply for dlt to store (it serializes them with orjson).

    Nesting depth is at most the number of brackets, so only records with many brackets
    (or parsed from arrays, without raw text) pay for the exact check.
    """
    if record.raw and record.raw.count(b"{") + record.raw.count(b"[") <= s.DEPTH_CHECK_BRACKETS:
        return None
    try:
        orjson.dumps(record.value)
    except orjson.JSONEncodeError as exc:
        return s.TOO_DEEPLY_NESTED, f"record cannot be stored: {exc}"
    return None


def _dump(value: Any) -> bytes:
    if value is None:
        return b""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # nested too deeply to serialize: keep a marker
        return b"<record nested too deeply to serialize>"


def _rejection_row(
    item: FileItemDict, path: str, record: RawRecord, reason: str, detail: str
) -> dict[str, Any]:
    raw = record.raw or _dump(record.value)
    kept = raw[: s.RAW_TEXT_KEEP_BYTES]
    digest = hashlib.sha256(
        f"{path}\x00{record.position_kind}\x00{record.position}\x00".encode() + raw
    ).hexdigest()
    event_id = record.value.get("id") if isinstance(record.value, dict) else None
    return {
        "rejectionId": digest,
        "sourceFile": path,
        "fileUrl": redact_url(item["file_url"]),
        "positionKind": record.position_kind,
        "position": record.position,
        "reason": reason,
        "detail": detail[:2000],
        "eventId": event_id if isinstance(event_id, str) else None,
        "rawText": kept.decode("utf-8", errors="backslashreplace"),
        "rawSizeBytes": record.raw_size or len(raw),
        "rawTruncated": (record.raw_size or len(raw)) > len(kept),
        "rejectedAt": datetime.now(UTC),
    }
