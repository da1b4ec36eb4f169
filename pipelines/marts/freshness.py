"""Freshness: how old the newest event in the warehouse is.

The newest event time is the latest `updatedAt` or `createdAt` over the staged events (callback
requests and appointments); a timestamp more than a day in the future is left out (the spec
allows any timestamp, and one bogus event must not hide a stopped archive). When it is older
than `warehouse.freshness_max_age` the run logs a warning (not a failure: the data is still
right, only late) and the summary and the catalog show the age.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import duckdb

from pipelines.common.errors import EXIT_USAGE, ExpectedFailure
from pipelines.config import DEFAULT_FRESHNESS_MAX_AGE  # noqa: F401 - re-exported

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$", re.IGNORECASE)
STAGED_EVENTS = ("staging.stg_callback_request_events", "staging.stg_appointment_events")


def parse_age(text: str, setting: str = "warehouse.freshness_max_age") -> timedelta:
    """`2 days`, `36 hours`, `90 min`, `1w` -> a timedelta; anything else exits 2."""
    match = _AGE.match(text or "")
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or not unit:
        raise ExpectedFailure(
            EXIT_USAGE,
            f"configuration: {setting} = {text!r} is not an age such as '3 days' or '36 hours'",
        )
    return timedelta(seconds=float(match.group(1)) * unit)


def format_age(age: timedelta) -> str:
    """A short human age: `52 min`, `7.5 h`, `3.2 days`."""
    seconds = age.total_seconds()
    if seconds < 3600:
        return f"{max(seconds, 0) / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def newest_event_at(connection: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest event time in staging, or None when there is no staging or no timestamp."""
    parts = " union all ".join(
        f"select greatest(updated_at, created_at) as event_at from {table}"
        for table in STAGED_EVENTS
    )
    try:
        row = connection.execute(
            f"select max(event_at) from ({parts}) where event_at <= now() + interval 1 day"
        ).fetchone()
    except duckdb.CatalogException:  # not built yet
        return None
    value = row[0] if row else None
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def describe_newest(newest: datetime | None, now: datetime | None = None) -> str:
    """`2026-10-31 17:02 UTC (28.3 days ago)`, or `none` when no event has a time."""
    if newest is None:
        return "none (no event carries a timestamp)"
    now = now or datetime.now(UTC)
    stamp = newest.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp} ({format_age(now - newest)} ago)"
