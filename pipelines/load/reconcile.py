"""Whole-warehouse reconciliation: every record read is loaded, a duplicate, or rejected."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlt.pipeline.pipeline import Pipeline

from pipelines import settings as s
from pipelines.common.errors import EXIT_CHECK_FAILED, ExpectedFailure
from pipelines.load.raw_repair import remove_replayed_rows


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


def _existing_tables(client) -> set[str]:  # noqa: ANN001 - dlt's sql client
    rows = client.execute_sql(
        "select table_name from information_schema.tables"
        " where table_catalog = current_database() and table_schema = %s",
        client.dataset_name,
    )
    return {name for (name,) in rows}


def _check_translation_sets(client, report: AuditReport) -> None:  # noqa: ANN001 - sql client
    """One row per translation set: a resumed load's replayed rows are removed, as for events."""
    qualified = client.make_qualified_table_name(s.TRANSLATION_SETS)
    count_sql = f"select count(*), count(distinct translations_key) from {qualified}"
    rows, keys = client.execute_sql(count_sql)[0]
    if rows != keys:
        remove_replayed_rows(client, s.TRANSLATION_SETS)
        rows, keys = client.execute_sql(count_sql)[0]
    if rows != keys:
        report.problems.append(f"{s.TRANSLATION_SETS} holds {rows - keys} duplicate sets")


def reconcile_warehouse(pipeline: Pipeline) -> AuditReport:
    """Check, for the whole warehouse, per file read: read = loaded + duplicates + rejected;
    that the events counted as loaded are exactly the events stored; that no event (and no
    translation set) is stored twice. Rows a resumed load inserted twice are removed first
    (see `raw_repair`).
    Raise an expected failure naming the first problem."""
    report = AuditReport()
    with pipeline.sql_client() as client:
        tables = _existing_tables(client)
        if s.FILE_AUDIT not in tables:
            return report
        audit = client.make_qualified_table_name(s.FILE_AUDIT)
        totals = client.execute_sql(
            "select count(*), coalesce(sum(records_read), 0), coalesce(sum(events_loaded), 0),"
            " coalesce(sum(duplicates), 0), coalesce(sum(rejected), 0),"
            " count(*) filter (where records_read <> events_loaded + duplicates + rejected)"
            f" from {audit}"
        )[0]
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
        for table in (s.CALLBACK_REQUEST_EVENTS, s.APPOINTMENT_EVENTS):
            if table not in tables:
                continue
            qualified = client.make_qualified_table_name(table)
            count_sql = f"select count(*), count(distinct event_id) from {qualified}"
            rows, ids = client.execute_sql(count_sql)[0]
            if rows != ids:  # only then: the check costs nothing on a healthy warehouse
                remove_replayed_rows(client, table)  # logs what it removed
                rows, ids = client.execute_sql(count_sql)[0]
            report.events_stored += rows
            if rows != ids:
                report.problems.append(f"{table} holds {rows - ids} duplicate event rows")
        if s.TRANSLATION_SETS in tables:
            _check_translation_sets(client, report)
        if report.events_stored != report.events_loaded:
            report.problems.append(
                f"raw holds {report.events_stored} events but the audit counts "
                f"{report.events_loaded} loaded"
            )
    if report.problems:
        raise ExpectedFailure(EXIT_CHECK_FAILED, f"reconciliation failed: {report.problems[0]}")
    return report
