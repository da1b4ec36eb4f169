"""Names and defaults shared by the loader: table names, reason codes, file kinds, limits."""

from __future__ import annotations

PIPELINE_NAME = "pexip_engage_webhooks"
SOURCE_NAME = "webhook_archive"
RAW_DATASET = "raw"

DEFAULT_SOURCE = "data/archive"
DEFAULT_DATABASE = "data/warehouse.duckdb"
# DuckDB's own default is 80% of RAM, and it keeps every page it wrote cached up to that:
# the job's memory then grows with the warehouse. Past this limit DuckDB evicts and spills.
# Measured at 200k events: peak RSS 1.9 GB with DuckDB's default, 1.2 GB at 512MB, 0.96 GB at
# 256MB, for +2% wall time.
DEFAULT_DUCKDB_MEMORY_LIMIT = "256MB"
# the marts build, after a load in the same process, needs more than the load: at 256MB it
# ran out of memory after a 200k-event load (session 5) and after a million-event load under a
# 128MB load cap (session 7: `stg_callback_request_events`, 243.9 of 244.1 MiB), where a fresh
# process builds the same marts at 256MB. 384MB built every size measured
DEFAULT_DUCKDB_BUILD_MEMORY_LIMIT = "384MB"
# DuckDB threads of dlt's load into a file: every thread holds its own buffers beside the
# memory limit. Measured at 20k events: load peak RSS 537 -> 470 MB, load time 2.5 -> 2.4 s
LOAD_DUCKDB_THREADS = 1
# rows (events and rejections) one dlt load takes: a first load, a `--full-refresh` or a
# backfill becomes several loads, so that memory is bounded by this and not by the archive
DEFAULT_MAX_EVENTS_PER_LOAD = 20_000
# a lake keeps the snapshots of this long for time travel (`AT (TIMESTAMP => ...)`), then
# expires them and deletes the files only they referenced: a week and a day, so "what did last
# Monday's report say" still works on the Monday after, whatever time it is asked
DEFAULT_SNAPSHOT_RETENTION = "8 days"
# loads whose package folder (in <database>.dlt-pipelines) and stored dlt state are kept
LOADS_KEPT = 10

# raw tables written by the loader
CALLBACK_REQUEST_EVENTS = "callback_request_events"
APPOINTMENT_EVENTS = "appointment_events"
REJECTED_EVENTS = "rejected_events"
FILE_AUDIT = "file_audit"
# each distinct `translations` object, once: translated objects hold its `translations_key`
TRANSLATION_SETS = "translation_sets"

# envelope `entity` value -> raw table
ENTITY_TABLES = {
    "Callback Request": CALLBACK_REQUEST_EVENTS,
    "Appointment": APPOINTMENT_EVENTS,
}
# entity -> key of its payload object inside `data`, and the name its `id` gets in raw
ENTITY_PAYLOADS = {
    "Callback Request": ("callbackRequest", "callbackRequestId"),
    "Appointment": ("appointment", "appointmentId"),
}

# required envelope fields (strings of length >= 1) and the required object
REQUIRED_STRING_FIELDS = ("id", "correlationId", "entity", "version", "webhookConfigurationId")

# rejection reason codes (stable: analysts and the generator's manifest use them)
INVALID_JSON = "invalid_json"
INVALID_ENCODING = "invalid_encoding"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
EMPTY_FIELD = "empty_field"
WRONG_TYPE = "wrong_type"
UNKNOWN_ENTITY = "unknown_entity"
RECORD_TOO_LARGE = "record_too_large"
UNREADABLE_FILE = "unreadable_file"
TOO_DEEPLY_NESTED = "too_deeply_nested"

# file name endings the loader reads; everything else is skipped and counted
LINE_FORMATS = (".jsonl", ".ndjson")
DOCUMENT_FORMATS = (".json",)
GZIP_SUFFIX = ".gz"

# limits that keep memory bounded on hostile input
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
RAW_TEXT_KEEP_BYTES = 1024 * 1024
# a gzip file may inflate to at most this many times its size (but always to MIN_INFLATED_CAP)
MAX_INFLATION_RATIO = 100
MIN_INFLATED_CAP = 16 * 1024 * 1024
# nested tables deeper than this are kept as JSON columns; records nested deeper than the
# JSON serializer's limit (255 levels) are rejected, since dlt could not store them
MAX_TABLE_NESTING = 8
DEPTH_CHECK_BRACKETS = 250

# columns whose names say they hold timestamps are typed as timestamps (dlt preferred types)
TIMESTAMP_COLUMNS_REGEX = r"re:(^|__)((created|updated|deleted)_at|(start|end)_date)$"
