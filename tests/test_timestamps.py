"""The reader parses ISO timestamps itself (`records.parse_timestamp`), faster than dlt's
normalizer: it must give what dlt's own parser gives, and leave everything else to dlt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dlt.common.time import ensure_pendulum_datetime

from pipelines.archive.records import parse_timestamp, prepare_row


@pytest.mark.parametrize(
    "text",
    [
        "2022-08-17T19:05:21.362Z",
        "2022-08-17T19:05:21Z",
        "2022-08-17T19:05:21.123456Z",
        "2022-08-17T19:05:21.362+02:00",
        "2022-08-17T01:05:21-05:30",
        "2022-08-17T19:05:21.362+00:00",
        "9999-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_a_timestamp_with_an_offset_parses_as_dlt_parses_it(text: str) -> None:
    parsed = parse_timestamp(text)
    assert isinstance(parsed, datetime) and parsed.tzinfo is UTC
    assert parsed == ensure_pendulum_datetime(text)


@pytest.mark.parametrize(
    "text",
    [
        "2022-08-17T19:05:21.362",  # no offset: dlt decides
        "2022-08-17",
        "2022-08-17 19:05:21Z",  # not the T form
        "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
        "2022-13-45T99:99:99Z",
        "yesterday at noon, roughly",
        "",
    ],
)
def test_anything_else_is_left_to_dlt(text: str) -> None:
    assert parse_timestamp(text) == text


def test_only_timestamp_keys_are_parsed_at_any_depth() -> None:
    row = {
        "createdAt": "2022-08-17T19:05:21Z",
        "note": "2022-08-17T19:05:21Z",
        "office": {"updatedAt": "2022-08-17T21:05:21+02:00", "deletedAt": None},
        "participants": [{"customer": {"createdAt": "2022-08-17T19:05:21Z"}}],
        "appointment": {"startDate": "2022-08-18T09:00:00Z", "endDate": 1660813200},
    }
    prepare_row(row, set())
    when = datetime(2022, 8, 17, 19, 5, 21, tzinfo=UTC)
    assert row["createdAt"] == when and row["office"]["updatedAt"] == when
    assert row["participants"][0]["customer"]["createdAt"] == when
    assert row["appointment"]["startDate"] == datetime(2022, 8, 18, 9, tzinfo=UTC)
    assert row["note"] == "2022-08-17T19:05:21Z"  # not a timestamp key: text, as before
    assert row["office"]["deletedAt"] is None and row["appointment"]["endDate"] == 1660813200
