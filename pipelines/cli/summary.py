"""The run summary printed at the end of `python -m pipelines.run`."""

from __future__ import annotations

from pipelines.common.redact import redact_text, redact_url
from pipelines.load.pipeline import LoadResult
from pipelines.marts.freshness import describe_newest
from pipelines.marts.runner import BuildResult


def _n(value: int) -> str:
    return f"{value:,}"


def format_summary(
    source: str,
    database: str,
    result: LoadResult | None,
    built: BuildResult | None,
    steps: dict[str, float],
) -> str:
    """Render the summary: files, records, events, duplicates, rejections, schema, time."""
    lines = [
        "run summary",
        f"  source      {redact_url(source)}",
        f"  database    {redact_text(database)}",
    ]
    if result is not None:
        st = result.stats
        skipped = f", {st.files_skipped} skipped (not JSON by name or content)"
        if st.skipped_examples:
            skipped += f" e.g. {', '.join(st.skipped_examples[:3])}"
        lines.append(
            f"  files       {_n(st.files_read)} read, {_n(st.files_unchanged)} unchanged{skipped}"
        )
        if st.files_read:
            by = st.files_by_recognition
            lines.append(
                f"              format known by name {_n(by['name'])}"
                f" (.json/.jsonl/.ndjson[.gz]), by content {_n(by['content'])}"
            )
        lines += [
            f"  records     {_n(st.records_read)} read ({st.bytes_read / 1e6:,.1f} MB)",
            f"  events      {_n(st.events_loaded)} loaded, {_n(st.duplicates)} duplicates",
        ]
        by_table = ", ".join(f"{t} {_n(n)}" for t, n in sorted(st.loaded_by_table.items()))
        if by_table:
            lines.append(f"              {by_table}")
        reasons = ", ".join(f"{r} {_n(n)}" for r, n in sorted(st.rejected.items()))
        lines.append(
            f"  rejected    {_n(st.rejected_total)}"
            + (f" ({reasons}) -> raw.rejected_events" if reasons else "")
        )
        if result.new_tables:
            roots = [t for t in result.new_tables if "__" not in t]
            children = len(result.new_tables) - len(roots)
            lines.append(
                f"  new tables  {', '.join(roots)}"
                + (f" and {children} child tables" if children else "")
                if roots
                else f"  new tables  {', '.join(result.new_tables)}"
            )
        for table, columns in sorted(result.new_columns.items()):
            lines.append(f"  new columns {table}: {', '.join(columns)}")
        if result.audit is not None and result.audit.file_reads:
            a = result.audit
            lines.append(
                f"  audit       all {_n(a.file_reads)} file reads reconcile: {_n(a.records_read)} read"
                f" = {_n(a.events_loaded)} loaded + {_n(a.duplicates)} duplicates"
                f" + {_n(a.rejected)} rejected; raw holds {_n(a.events_stored)} events"
            )
        if result.resynced:
            lines.append(f"  resynced    {result.resynced}: dlt's working folder was discarded")
        if result.resumed_load_ids:
            lines.append(f"  resumed     {len(result.resumed_load_ids)} interrupted load(s)")
    if built is not None:
        marts = {t: n for t, n in built.row_counts.items() if t.startswith("marts.")}
        lines.append(
            "  models      up to date: nothing new since the last build"
            if built.up_to_date
            else f"  models      {len(built.row_counts)} built"
            + (" (selected)" if built.selected else "")
            + (
                f" (staging appended: {_n(sum(built.appended_rows.values()))} new rows"
                + (
                    f"; {len(built.recomputed_rows)} recomputed for the requests with new events"
                    if built.recomputed_rows
                    else ""
                )
                + ")"
                if built.appended_rows is not None
                else ""
            )
            + f", {built.checks_passed} data checks passed"
        )
        lines += [f"    {table:<45} {_n(rows):>10} rows" for table, rows in sorted(marts.items())]
        lines.append(
            f"  freshness   newest event {describe_newest(built.newest_event_at)}"
            + (": older than warehouse.freshness_max_age" if built.stale else "")
        )
        if built.uses_dev_key:
            lines.append("  note        customer keys use the development pseudonymization key")
    timing = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in steps.items())
    lines.append(f"  time        {timing}")
    return "\n".join(lines)
