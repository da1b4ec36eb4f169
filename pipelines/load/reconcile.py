"""Whole-warehouse reconciliation: every record read is loaded, a duplicate, or rejected."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlt.pipeline.pipeline import Pipeline

from pipelines import settings as s
from pipelines.common.errors import EXIT_CHECK_FAILED, ExpectedFailure
from pipelines.load.raw_repair import remove_replayed_rows
from pipelines.warehouse.connection import read_existing
from pipelines.warehouse.location import Warehouse


@dataclass
class AuditReport:
    """Totals of raw.file_audit over all runs, and what disagrees with the raw tables."""

    file_reads: int = 0
    records_read: int = 0
    events_loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    events_stored: int = 0
    problems: list[str] = field(default_factory=list)


def _count_sql(table: str) -> str:
    """Rows, and distinct keys (event ids, or a translation set's key), of a raw table."""
    key = "translations_key" if table == s.TRANSLATION_SETS else "event_id"
    return f"select count(*), count(distinct {key}) from {s.RAW_DATASET}.{table}"


def reconcile_warehouse(
    pipeline: Pipeline, warehouse: Warehouse, resumed: bool = False
) -> AuditReport:
    """Check, for the whole warehouse, per file read: read = loaded + duplicates + rejected;
    that the events counted as loaded are exactly the events stored; that no event (and no
    translation set) is stored twice. Rows a resumed load inserted twice are removed first
    (see `raw_repair`). Raise an expected failure naming the first problem.

    Read on a read-only connection of our own (see `warehouse_sync.warehouse_loads` for why
    not dlt's); only a repair takes dlt's sql client. After a `resumed` load every chain of
    tables is repaired first: dlt does not deduplicate a load (the reader does, see the
    `x-stage-data-deduplicated` hints), so a copy job it replays may double child rows only."""
    report = AuditReport()
    if resumed:
        with pipeline.sql_client() as client:
            for root in (s.CALLBACK_REQUEST_EVENTS, s.APPOINTMENT_EVENTS, s.TRANSLATION_SETS):
                remove_replayed_rows(client, root)  # logs what it removed, if anything
    with read_existing(warehouse) as connection:
        if connection is None:  # nothing loaded into a new warehouse yet
            return report
        tables = {
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables"
                " where table_catalog = current_database()"
                f" and table_schema = '{s.RAW_DATASET}'"
            ).fetchall()
        }
        if s.FILE_AUDIT not in tables:
            return report
        totals = connection.execute(
            "select count(*), coalesce(sum(records_read), 0), coalesce(sum(events_loaded), 0),"
            " coalesce(sum(duplicates), 0), coalesce(sum(rejected), 0),"
            " count(*) filter (where records_read <> events_loaded + duplicates + rejected)"
            f" from {s.RAW_DATASET}.{s.FILE_AUDIT}"
        ).fetchall()[0]
        key_counts = {
            table: connection.execute(_count_sql(table)).fetchall()[0]
            for table in (s.CALLBACK_REQUEST_EVENTS, s.APPOINTMENT_EVENTS, s.TRANSLATION_SETS)
            if table in tables
        }
    (
        report.file_reads,
        report.records_read,
        report.events_loaded,
        report.duplicates,
        report.rejected,
        unbalanced,
    ) = (int(value) for value in totals)
    if unbalanced:
        report.problems.append(
            f"{unbalanced} file reads where read != loaded + duplicates + rejected"
        )
    for table, (rows, ids) in key_counts.items():
        if rows != ids:  # only then: the check costs nothing on a healthy warehouse
            with pipeline.sql_client() as client:
                remove_replayed_rows(client, table)  # logs what it removed
                rows, ids = client.execute_sql(_count_sql(table))[0]
        if table == s.TRANSLATION_SETS:
            if rows != ids:
                report.problems.append(f"{table} holds {rows - ids} duplicate sets")
            continue
        report.events_stored += rows
        if rows != ids:
            report.problems.append(f"{table} holds {rows - ids} duplicate event rows")
    if report.events_stored != report.events_loaded:
        report.problems.append(
            f"raw holds {report.events_stored} events but the audit counts "
            f"{report.events_loaded} loaded"
        )
    if report.problems:
        raise ExpectedFailure(EXIT_CHECK_FAILED, f"reconciliation failed: {report.problems[0]}")
    return report
