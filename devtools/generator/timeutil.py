"""Millisecond UTC timestamps: parsing a start date and formatting ISO 8601 with a trailing Z."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def date_to_ms(day: date) -> int:
    """Return midnight UTC of `day` as milliseconds since the epoch."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * SECOND_MS


def iso_ms(ms: int) -> str:
    """Format epoch milliseconds as `2022-08-17T19:05:21.362Z`."""
    seconds, millis = divmod(ms, SECOND_MS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def compact_stamp(ms: int) -> str:
    """Format epoch milliseconds for file names: `20220817T190521362Z`."""
    seconds, millis = divmod(ms, SECOND_MS)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f"{millis:03d}Z"


def day_folder(ms: int) -> str:
    """Return the `YYYY/MM/DD` partition folder of epoch milliseconds."""
    return time.strftime("%Y/%m/%d", time.gmtime(ms // SECOND_MS))


def weekday(ms: int) -> int:
    """Return the UTC weekday (Monday 0) of epoch milliseconds."""
    return time.gmtime(ms // SECOND_MS).tm_wday


def hour_of_day(ms: int) -> int:
    """Return the UTC hour of epoch milliseconds."""
    return (ms % DAY_MS) // HOUR_MS
