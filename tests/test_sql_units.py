"""SQL unit tests: one model run on a few literal rows in a throwaway in-memory DuckDB
(`pipelines.marts.sandbox.run_model`), its output compared with the expected rows. No dlt load:
the inputs are the `src_` views or upstream models, with only the columns that matter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipelines.marts.sandbox import run_model
from pipelines.marts.transform_settings import TransformSettings

SETTINGS = TransformSettings(language_preference=("en", "nl"), pseudonymization_key="k")
CREATE = "Callback-request.create"
UPDATE = "Callback-request.update"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(event_id: str, status: str, updated_at: str | None, **extra: object) -> dict:
    row = {
        "event_id": event_id,
        "callback_request_id": extra.pop("request", "cr-1"),
        "event_type": extra.pop("event_type", UPDATE),
        "status": status,
        "updated_at": updated_at,
    }
    return row | extra


def ordered(events: list[dict]) -> list[dict]:
    return run_model(
        "int_callback_request_events_ordered",
        {"staging.stg_callback_request_events": events},
        settings=SETTINGS,
    )


def sequence(rows: list[dict]) -> list[str]:
    return [r["event_id"] for r in sorted(rows, key=lambda r: r["event_sequence"])]


def test_ties_put_a_create_before_an_update_then_order_by_event_id() -> None:
    same = "2026-09-01T10:00:00"
    rows = ordered(
        [
            event("e9", "ASSIGNED", same),
            event("e1", "IN_PROGRESS", same),
            event("e5", "OPEN", same, event_type=CREATE),
        ]
    )
    assert sequence(rows) == ["e5", "e1", "e9"]
    assert {r["events_count"] for r in rows} == {3}


def test_events_delivered_out_of_order_are_ordered_by_updated_at() -> None:
    rows = ordered(
        [
            event("e1", "CLOSED", "2026-09-03T09:00:00"),
            event("e2", "OPEN", "2026-09-01T09:00:00", event_type=CREATE),
            event("e3", "IN_PROGRESS", "2026-09-02T09:00:00"),
            event("x1", "OPEN", "2026-09-01T08:00:00", request="cr-2"),
        ]
    )
    assert sequence([r for r in rows if r["callback_request_id"] == "cr-1"]) == ["e2", "e3", "e1"]
    assert [r["event_sequence"] for r in rows if r["callback_request_id"] == "cr-2"] == [1]


def test_undated_events_come_first_in_archive_order_a_create_first() -> None:
    rows = ordered(
        [
            event("d1", "IN_PROGRESS", "2026-09-01T09:00:00"),
            event("u1", "OPEN", None, source_file="b.jsonl", source_position=1),
            event("u2", "OPEN", None, source_file="a.jsonl", source_position=7),
            event("u3", "OPEN", None, source_file="a.jsonl", source_position=3),
            event("u4", "OPEN", None, source_file="z.jsonl", source_position=0, event_type=CREATE),
        ]
    )
    assert sequence(rows) == ["u4", "u3", "u2", "u1", "d1"]
    assert {r["events_without_timestamp"] for r in rows} == {4}
    assert {r["event_id"] for r in rows if r["is_undated"]} == {"u1", "u2", "u3", "u4"}


def current(events: list[dict]) -> list[dict]:
    return run_model(
        "int_callback_requests_current",
        {"intermediate.int_callback_request_events_ordered": ordered(events)},
        settings=SETTINGS,
    )


def test_current_state_is_the_last_event_and_closed_at_the_first_closing() -> None:
    (row,) = current(
        [
            event(
                "e1",
                "OPEN",
                "2026-09-01T09:00:00",
                event_type=CREATE,
                created_at="2026-09-01T09:00:00",
            ),
            event("e2", "closed", "2026-09-02T10:00:00"),  # closing, in any case
            event("e3", "IN_PROGRESS", "2026-09-03T11:00:00"),  # reopened
            event("e4", "COMPLETED", "2026-09-04T12:00:00"),
            event("e0", "OPEN", None),  # undated: never the current state
        ]
    )
    assert row["event_id"] == "e4" and row["status"] == "COMPLETED"
    assert row["closed_at"] == ts("2026-09-02T10:00:00")
    assert row["first_seen_at"] == ts("2026-09-01T09:00:00")
    assert row["last_seen_at"] == ts("2026-09-04T12:00:00")
    assert row["first_created_at"] == ts("2026-09-01T09:00:00")
    assert (row["events_count"], row["events_without_timestamp"]) == (5, 1)


def test_a_request_never_closed_has_no_closed_at_and_undated_only_has_no_times() -> None:
    rows = {
        r["callback_request_id"]: r
        for r in current(
            [
                event("e1", "OPEN", "2026-09-01T09:00:00", request="open"),
                event("e2", "ASSIGNED", None, request="undated"),
            ]
        )
    }
    assert rows["open"]["closed_at"] is None
    assert rows["undated"]["first_seen_at"] is None and rows["undated"]["status"] == "ASSIGNED"


def test_status_changes_skip_repeated_statuses() -> None:
    rows = run_model(
        "fct_callback_request_status_changes",
        {
            "intermediate.int_callback_request_events_ordered": ordered(
                [
                    event("e1", "OPEN", "2026-09-01T09:00:00", event_type=CREATE),
                    event("e2", "OPEN", "2026-09-01T09:30:00"),  # repeats: not a change
                    event("e3", "ASSIGNED", "2026-09-01T10:00:00"),
                    event("e4", "ASSIGNED", "2026-09-01T11:00:00"),  # repeats
                    event("e5", "CLOSED", "2026-09-01T13:00:00"),
                ]
            )
        },
        settings=SETTINGS,
    )
    got = [
        (
            r["change_index"],
            r["from_status"],
            r["to_status"],
            r["event_id"],
            r["time_in_previous_status_seconds"],
            r["is_initial_status"],
        )
        for r in sorted(rows, key=lambda r: r["change_index"])
    ]
    assert got == [
        (1, None, "OPEN", "e1", None, True),
        (2, "OPEN", "ASSIGNED", "e3", 3600, False),
        (3, "ASSIGNED", "CLOSED", "e5", 3 * 3600, False),
    ]


def test_display_name_prefers_the_configured_languages_then_any_by_code() -> None:
    def name(key: str, index: int, language: str, value: str) -> dict:
        parent = f"set-{key}"
        return {
            "_dlt_parent_id": parent,
            "_dlt_list_idx": index,
            "language": language,
            "value": value,
        }

    # raw stores each translations object once (translation_sets); events hold its key
    translations = run_model(
        "stg_translations",
        {
            "src_callback_request_events": [
                {"_dlt_id": owner, "subject__translations_key": key}
                for owner, key in (("a", "k1"), ("b", "k2"), ("c", "k3"), ("a2", "k1"))
            ],
            "src_translation_sets": [
                {"translations_key": key, "_dlt_id": f"set-{key}"} for key in ("k1", "k2", "k3")
            ],
            "src_translation_sets__name": [
                # preferred language wins, wherever it is in the list
                name("k1", 0, "fr", "Sujet"),
                name("k1", 1, "nl", "Onderwerp"),
                name("k1", 2, " EN ", "Subject"),
                # no preferred language: any, by code (de before fr)
                name("k2", 0, "fr", "Sujet"),
                name("k2", 1, "de", "Thema"),
                # an empty value is no translation: the next preference
                name("k3", 0, "en", ""),
                name("k3", 1, "nl", "Lening"),
            ],
        },
        settings=SETTINGS,
    )
    # one set, shared by two events: each event gets its translations
    assert sorted(
        (r["list_index"], r["value"]) for r in translations if r["owner_dlt_id"] == "a2"
    ) == [
        (0, "Sujet"),
        (1, "Onderwerp"),
        (2, "Subject"),
    ]
    rows = run_model(
        "stg_display_names", {"staging.stg_translations": translations}, settings=SETTINGS
    )
    got = {r["owner_dlt_id"]: (r["display_value"], r["display_language"]) for r in rows}
    assert got == {
        "a": ("Subject", "en"),
        "a2": ("Subject", "en"),
        "b": ("Thema", "de"),
        "c": ("Lening", "nl"),
    }
    assert {(r["owner"], r["field"]) for r in rows} == {("subject", "name")}


def test_translations_are_gathered_from_every_owner_and_only_its_fields() -> None:
    def item(parent: str, language: str, value: str) -> dict:
        return {"_dlt_parent_id": parent, "_dlt_list_idx": 0, "language": language, "value": value}

    rows = run_model(
        "stg_translations",
        {
            "src_callback_request_events": [
                {
                    "_dlt_id": "e",
                    "office__translations_key": "k-office",
                    "office__location__translations_key": "k-address",
                }
            ],
            "src_callback_request_events__participants": [
                {"_dlt_id": "p", "employee__translations_key": "k-employee"}
            ],
            "src_callback_request_events__answers": [
                {"_dlt_id": "q", "question__translations_key": "k-question"}
            ],
            "src_translation_sets": [
                {"translations_key": key, "_dlt_id": key}
                for key in ("k-office", "k-address", "k-employee", "k-question")
            ],
            "src_translation_sets__name": [item("k-office", "en", "Ghent")],
            "src_translation_sets__city": [item("k-address", "en", "Ghent")],
            "src_translation_sets__street1": [item("k-address", "en", "Main St")],
            "src_translation_sets__function": [item("k-employee", "en", "Advisor")],
            "src_translation_sets__label": [item("k-question", "en", "Why?")],
            # a field staging does not gather for that owner (an address has no description)
            "src_translation_sets__description": [item("k-address", "en", "not a field of it")],
        },
        settings=SETTINGS,
    )
    got = sorted((r["owner_dlt_id"], r["owner"], r["field"], r["value"]) for r in rows)
    assert got == [
        ("e", "office", "name", "Ghent"),
        ("e", "office_location", "city", "Ghent"),
        ("e", "office_location", "street1", "Main St"),
        ("p", "employee", "function", "Advisor"),
        ("q", "question", "label", "Why?"),
    ]


def test_translations_of_events_loaded_before_translation_sets_are_read_inline() -> None:
    # a warehouse loaded before raw stored translation sets keeps its events' translations in
    # one child table per field; after the upgrade both kinds of event get their names
    rows = run_model(
        "stg_translations",
        {
            "src_callback_request_events": [
                {"_dlt_id": "old", "office__translations_key": None},
                {"_dlt_id": "new", "office__translations_key": "k"},
            ],
            "src_callback_request_events__office__translations__name": [
                {"_dlt_parent_id": "old", "_dlt_list_idx": 1, "language": "nl", "value": "Gent"}
            ],
            "src_translation_sets": [{"translations_key": "k", "_dlt_id": "set-k"}],
            "src_translation_sets__name": [
                {"_dlt_parent_id": "set-k", "_dlt_list_idx": 0, "language": "en", "value": "Ghent"}
            ],
        },
        settings=SETTINGS,
    )
    got = sorted(
        (r["owner_dlt_id"], r["owner"], r["field"], r["list_index"], r["value"]) for r in rows
    )
    assert got == [("new", "office", "name", 0, "Ghent"), ("old", "office", "name", 1, "Gent")]


def test_daily_aggregate_counts_created_closed_and_open_per_day() -> None:
    def request(created: str | None, closed: str | None, last: str, hours: float | None) -> dict:
        return {
            "callback_request_id": f"cr-{created}-{closed}",
            "office_id": "o1",
            "subject_id": "s1",
            "meeting_type": "PHONE",
            "created_at": created,
            "closed_at": closed,
            "last_seen_at": last,
            "time_to_close_hours": hours,
        }

    rows = run_model(
        "agg_callback_requests_daily",
        {
            "marts.fct_callback_requests": [
                request("2026-09-01T09:00:00", "2026-09-01T17:00:00", "2026-09-01T17:00:00", 8.0),
                request("2026-09-01T10:00:00", "2026-09-04T10:00:00", "2026-09-04T10:00:00", 72.0),
                request("2026-09-02T23:30:00", None, "2026-09-02T23:30:00", None),
                request(None, "2026-09-03T10:00:00", "2026-09-03T10:00:00", None),  # no day
            ]
        },
        settings=SETTINGS,
    )
    got = [
        (
            r["day"],
            r["created"],
            r["closed"],
            r["open_at_end_of_day"],
            r["median_time_to_close_hours"],
        )
        for r in sorted(rows, key=lambda r: r["day"])
    ]
    assert got == [
        (date(2026, 9, 1), 2, 1, 1, 8.0),
        (date(2026, 9, 2), 1, 0, 2, None),
        (date(2026, 9, 3), 0, 0, 2, None),  # a day without activity of this group is listed
        (date(2026, 9, 4), 0, 1, 1, 72.0),
    ]


def test_unknown_inputs_and_columns_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown inputs"):
        run_model("stg_display_names", {"staging.nope": []})
    with pytest.raises(ValueError, match="has no columns"):
        run_model("stg_display_names", {"staging.stg_translations": [{"nope": 1}]})
