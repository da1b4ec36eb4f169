"""Floor (c): DuckDB's own read_json plus UNNEST of the nested arrays, deduplicated by id.

Usage: python duckdb_native.py ARCHIVE DATABASE
"""

from __future__ import annotations

import sys

import duckdb

SCALAR_LISTS = {"employee_available_roles", "listing_tags"}
# table -> (parent table, list expression); each becomes `event_id` + the list items' fields
UNNESTS = {
    "participants": ("callback_request_events", "data.callbackRequest.participants"),
    "answers": ("callback_request_events", "data.callbackRequest.answers"),
    "selected_answer_options": ("answers", "selectedAnswerOptions"),
    "answer_files": ("answers", "files"),
    "question_label_translations": ("answers", "question.translations.label"),
    "employee_available_roles": ("participants", "employee.availableRoles"),
    "employee_function_translations": ("participants", "employee.translations.function"),
    "listing_tags": ("callback_request_events", "data.callbackRequest.listing.tags"),
    "subject_name_translations": (
        "callback_request_events",
        "data.callbackRequest.subject.translations.name",
    ),
    "subject_group_name_translations": (
        "callback_request_events",
        "data.callbackRequest.subject.subjectGroup.translations.name",
    ),
    "office_name_translations": (
        "callback_request_events",
        "data.callbackRequest.office.translations.name",
    ),
    "office_city_translations": (
        "callback_request_events",
        "data.callbackRequest.office.location.translations.city",
    ),
    "listing_name_translations": (
        "callback_request_events",
        "data.callbackRequest.listing.translations.name",
    ),
}


def main() -> None:
    """Read every file, keep one row per event id, unnest the arrays into tables."""
    archive, database = sys.argv[1], sys.argv[2]
    con = duckdb.connect(database)
    # one scan of every file; the schema is sampled from the first files (union_by_name,
    # which samples every file, costs about 3x more on this archive)
    con.execute(
        f"""
        create table deliveries as
        select * from read_json(
            ['{archive}/**/*.json', '{archive}/**/*.jsonl', '{archive}/**/*.ndjson'],
            format = 'auto', maximum_object_size = 67108864, ignore_errors = true
        )
        """
    )
    con.execute(
        "create table events as select * from deliveries where id is not null"
        " qualify row_number() over (partition by id) = 1"
    )
    con.execute(
        "create table callback_request_events as select * from events where entity = 'Callback Request'"
    )
    con.execute(
        "create table appointment_events as select * from events where entity = 'Appointment'"
    )
    for table, (parent, items) in UNNESTS.items():
        key = "id" if parent.endswith("events") else "event_id"
        fields = "item as value" if table in SCALAR_LISTS else "item.*"
        con.execute(
            f"create table {table} as select event_id, {fields} from"
            f" (select {key} as event_id, unnest({items}) as item from {parent})"
        )
    con.close()


if __name__ == "__main__":
    main()
