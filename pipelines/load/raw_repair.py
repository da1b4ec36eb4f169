"""Remove rows a resumed load inserted twice into a raw event table and its child tables.

Own code because dlt 1.31 falls short here: when a run is killed after DuckDB committed a
staging copy job but before dlt marked the job done, the resumed load copies that file again,
and the delete-insert merge keeps both copies of each root row (it selects root rows by
`_dlt_id IN (...)`; only child tables are deduplicated by row key). Both copies are the same
row, with the same `_dlt_id`, so keeping one of each restores exactly what a clean run holds.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _tables_of_chain(client, root: str) -> list[str]:  # noqa: ANN001 - dlt's sql client
    """The root table and every child table (`root__...`) that has a `_dlt_id` column."""
    rows = client.execute_sql(
        "select table_name from information_schema.columns"
        " where table_catalog = current_database() and table_schema = %s"
        " and column_name = '_dlt_id'"
        " and (table_name = %s or starts_with(table_name, %s))",
        client.dataset_name,
        root,
        root + "__",
    )
    return sorted(name for (name,) in rows)


def remove_replayed_rows(client, root: str) -> dict[str, int]:  # noqa: ANN001 - dlt's sql client
    """Keep one row per `_dlt_id` in `root` and its child tables, in one transaction; log and
    return the number of rows removed per table (only tables that had any)."""
    removed: dict[str, int] = {}
    with client.begin_transaction():
        for table in _tables_of_chain(client, root):
            qualified = client.make_qualified_table_name(table)
            copies = client.execute_sql(
                f"select count(*) - count(distinct _dlt_id) from {qualified}"
            )[0][0]
            if not copies:
                continue
            client.execute_sql(
                f"delete from {qualified} where rowid in (select rowid from"
                f" (select rowid, row_number() over (partition by _dlt_id order by rowid) as copy"
                f" from {qualified}) where copy > 1)"
            )
            removed[table] = int(copies)
    for table, count in removed.items():
        log.warning("removed %d rows a resumed load had inserted twice into raw.%s", count, table)
    return removed
