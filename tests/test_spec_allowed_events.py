"""Every event the spec allows must build: only the envelope and the payload's `id` are required.

Events are generated from the spec's example: for every path inside `data.callbackRequest`
(nested objects and list elements too) one event where the value is null, one where it is
missing and some where it has another type; then seeded random combinations of several such
changes, and the smallest events. The same for appointment events. The real loader loads them,
the real build builds the marts (every data check included), and the marts must hold one row
per request and per appointment, with the events without a usable timestamp counted.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import EXAMPLE, jsonl, query, run_job, write_files
from test_transforms import SETTINGS

from pipelines.load.pipeline import load_archive
from pipelines.marts.runner import build_models

Path_ = tuple[str | int, ...]
MISSING = object()  # the mutation that removes the value
SEED = 10
COMBINATIONS = 60
TIMESTAMP = "2024-08-17T10:00:00.000Z"

# values of another type, by the type of the value they replace (several per type: events
# of one load then disagree with each other as well as with the example)
OTHER_TYPES: dict[type, list[Any]] = {
    dict: ["text", 7, ["a", 1], True],
    list: ["text", {"k": "v"}, 3, [None, 1, "x", [2]]],
    str: [7, {"k": "v"}, ["x", "y"], False, "not a timestamp"],
    bool: ["yes", 1, {"k": True}],
    int: ["seven", {"k": 1}, [1], 2.5],
    float: ["north", {"k": 1.0}, [1.0], 3],
}


def envelope(event_id: str, entity: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event with every envelope field the spec requires around `data`."""
    return {
        "id": event_id,
        "correlationId": f"corr-{event_id}",
        "entity": entity,
        "version": "1",
        "webhookConfigurationId": "wh-1",
        "data": data,
    }


def base_request() -> dict[str, Any]:
    """The example's callback request with realistic codes, so that every dimension fills."""
    request = copy.deepcopy(EXAMPLE["data"]["callbackRequest"])
    request.update(status="OPEN", meetingType="PHONE", updatedAt=TIMESTAMP)
    employee, customer = copy.deepcopy(request["participants"][0]), request["participants"][0]
    employee.update(role="PRIMARY", type="EMPLOYEE", customer=None)
    customer.update(role="PRIMARY", type="CUSTOMER", employee=None)
    request["participants"] = [employee, customer]
    return request


def base_appointment() -> dict[str, Any]:
    """An appointment as the spec describes it, linked to a callback request."""
    return {
        "id": "ap",
        "status": "ACCEPTED",
        "meetingType": "VIDEO",
        "startDate": "2024-08-20T10:00:00.000Z",
        "endDate": "2024-08-20T10:30:00.000Z",
        "office": {"id": "123"},
        "subject": {"id": "123"},
        "callbackRequest": {"id": "cr-linked"},
        "createdAt": "2024-08-17T09:00:00.000Z",
        "updatedAt": TIMESTAMP,
    }


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path below `value`: object keys and list positions, depth first."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        yield (*prefix, key)
        if isinstance(child, dict | list):
            yield from paths(child, (*prefix, key))


def mutate(document: Any, path: Path_, new: Any) -> bool:
    """Set (or, for MISSING, remove) the value at `path`; False when the path is gone."""
    parent = document
    for key in path[:-1]:
        if (
            isinstance(parent, dict)
            and key in parent
            or isinstance(parent, list)
            and (isinstance(key, int) and key < len(parent))
        ):
            parent = parent[key]
        else:
            return False
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str) and last in parent:
        if new is MISSING:
            del parent[last]
        else:
            parent[last] = new
        return True
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        if new is MISSING:
            del parent[last]
        else:
            parent[last] = new
        return True
    return False


def variants(original: Any, index: int) -> list[Any]:
    """null, missing, and two values of other types (rotating, so all of them get used)."""
    others = OTHER_TYPES.get(type(original), ["text", 1])
    return [None, MISSING, others[index % len(others)], others[(index + 1) % len(others)]]


def timestamp_of(value: Any) -> datetime | None:
    """The timestamp the warehouse gets from an `updatedAt` value, or None: unusable.

    An ISO 8601 string is one; dlt also reads a number in a timestamp column as Unix epoch
    seconds (7 -> 1970-01-01T00:00:07Z), so numbers count too. Anything else is unusable.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def has_timestamp(value: Any) -> bool:
    """Whether the warehouse gets a usable timestamp from an `updatedAt` value."""
    return timestamp_of(value) is not None


def payload_variants(
    base: dict[str, Any], rng: random.Random, *, walk_id: bool = False
) -> Iterator[dict[str, Any]]:
    """One payload per (path, variant), then COMBINATIONS payloads with 2-6 changes each.

    The payload's own `id` is left alone unless `walk_id` (a callback request's `id` is the one
    field the spec requires; an appointment's is not).
    """
    all_paths = [p for p in paths(base) if walk_id or p != ("id",)]
    for index, path in enumerate(all_paths):
        original = base
        for key in path:
            original = original[key]
        for new in variants(original, index):
            payload = copy.deepcopy(base)
            assert mutate(payload, path, new)
            yield payload
    for _ in range(COMBINATIONS):
        payload = copy.deepcopy(base)
        for path in rng.sample(all_paths, rng.randint(2, 6)):
            original: Any = payload
            for key in path:
                if not isinstance(original, dict | list):
                    break
                try:
                    original = original[key]
                except (KeyError, IndexError, TypeError):
                    break
            mutate(payload, path, rng.choice(variants(original, rng.randrange(8))))
        yield payload


def callback_events() -> list[dict[str, Any]]:
    """Generated callback request events: one per request, some two; the smallest at the end."""
    rng = random.Random(SEED)
    events = []
    for n, payload in enumerate(payload_variants(base_request(), rng)):
        # every tenth request has two events (one in each requests file)
        payload["id"] = f"cr-{n - 1:05d}" if n % 10 == 1 else f"cr-{n:05d}"
        if n % 3 == 0:  # a third also without timestamps: several changes together
            payload.pop("createdAt", None)
            payload.pop("updatedAt", None)
        events.append(
            envelope(
                f"ev-{n:05d}",
                "Callback Request",
                {"eventType": "Callback-request.update", "callbackRequest": payload},
            )
        )
    # the smallest events: the request's id and nothing else, with and without an eventType
    events.append(envelope("ev-min-1", "Callback Request", {"callbackRequest": {"id": "cr-min-1"}}))
    events.append(
        envelope(
            "ev-min-2",
            "Callback Request",
            {"eventType": "Callback-request.create", "callbackRequest": {"id": "cr-min-2"}},
        )
    )
    events.append(
        envelope(
            "ev-min-3",
            "Callback Request",
            {
                "eventType": "Callback-request.update",
                "callbackRequest": {"id": "cr-min-3", "createdAt": None, "updatedAt": None},
            },
        )
    )
    return events


def grouped_events() -> dict[str, list[dict[str, Any]]]:
    """Requests with several events, some without timestamps, spread over two files.

    Expected current state: a dated event beats every undated one; undated events follow
    each other by their place in the archive (file path, then position in the file), a create
    first on a tie. Event ids run against the archive's order, so that they cannot decide.
    """

    def event(event_id: str, request_id: str, status: str | None, **fields: Any) -> dict:
        request = {"id": request_id, **({"status": status} if status else {}), **fields}
        return envelope(
            event_id,
            "Callback Request",
            {"eventType": "Callback-request.update", "callbackRequest": request},
        )

    early = [
        event("g1-z", "cr-g1", "OPEN"),  # undated, first in the archive
        event("g2-z", "cr-g2", "OPEN", updatedAt=TIMESTAMP),  # the only dated one: current
        event("g3-z", "cr-g3", "OPEN", createdAt=None, updatedAt="soon"),
    ]
    late = [
        event("g1-a", "cr-g1", "ASSIGNED"),  # undated, later in the archive: current
        event("g2-a", "cr-g2", "CLOSED"),  # undated, later, but g2-z is dated
        event("g3-b", "cr-g3", None, updatedAt=None),
        event("g3-a", "cr-g3", "CLOSED", updatedAt={"at": "later"}),  # last undated: current
        # closed (updatedAt) the day before it was created: a day of its own in the aggregate
        event("g4-a", "cr-g4", "CLOSED", createdAt="2024-08-18T09:00:00Z", updatedAt=TIMESTAMP),
    ]
    return {"2024/08/17/early.jsonl": early, "2024/08/18/late.jsonl": late}


GROUP_CURRENT = {
    "cr-g1": ("g1-a", "ASSIGNED", 2, 2),
    "cr-g2": ("g2-z", "OPEN", 2, 1),
    "cr-g3": ("g3-a", "CLOSED", 3, 3),
    "cr-g4": ("g4-a", "CLOSED", 1, 0),
}


def appointment_events() -> list[dict[str, Any]]:
    """Generated appointment events, then the smallest ones (no appointment, no id)."""
    rng = random.Random(SEED + 1)
    events = []
    for n, payload in enumerate(payload_variants(base_appointment(), rng, walk_id=True)):
        if payload.get("id") == "ap":  # not changed: an appointment of its own
            payload["id"] = f"ap-{n:05d}"
        events.append(
            envelope(
                f"apev-{n:05d}",
                "Appointment",
                {"eventType": "ACCEPT", "message": "accepted", "appointment": payload},
            )
        )
    events.append(envelope("apev-min-1", "Appointment", {}))
    events.append(envelope("apev-min-2", "Appointment", {"appointment": {}}))
    events.append(envelope("apev-min-3", "Appointment", {"appointment": {"status": "X"}}))
    events.append(envelope("apev-min-4", "Appointment", {"appointment": "ap-as-text"}))
    events.append(envelope("apev-min-5", "Appointment", {"appointment": {"id": "ap-min-5"}}))
    events.append(envelope("apev-min-6", "Appointment", {"appointment": {"id": 4711}}))
    # two undated events of one appointment: the later one in the archive is current
    events.append(
        envelope("apev-two-a", "Appointment", {"appointment": {"id": "ap-two", "status": "A"}})
    )
    events.append(
        envelope("apev-two-b", "Appointment", {"appointment": {"id": "ap-two", "status": "B"}})
    )
    return events


def appointment_id(event: dict[str, Any]) -> str | None:
    """The appointment id the warehouse keys an event by: text as is, others as JSON text."""
    payload = event["data"].get("appointment")
    if not isinstance(payload, dict) or payload.get("id") is None:
        return None
    if isinstance(payload["id"], str):
        return payload["id"]
    return json.dumps(payload["id"], sort_keys=True, separators=(",", ":"))


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    """The archive's files and the truths the marts must show."""
    requests = callback_events()
    groups = grouped_events()
    appointments = appointment_events()
    files = {
        "2024/08/17/requests-1.jsonl": jsonl(*requests[::2]),
        "2024/08/17/requests-2.jsonl": jsonl(*requests[1::2]),
        "2024/08/19/appointments.jsonl": jsonl(*appointments),
        **{name: jsonl(*events) for name, events in groups.items()},
    }
    # where each event is in the archive, and which event of a request must be current:
    # dated ones by updatedAt (then event_id), after every undated one (by archive position)
    place = {e["id"]: ("requests-1", i) for i, e in enumerate(requests[::2])}
    place |= {e["id"]: ("requests-2", i) for i, e in enumerate(requests[1::2])}
    by_request: dict[str, list[dict[str, Any]]] = {}
    for e in requests:
        by_request.setdefault(e["data"]["callbackRequest"]["id"], []).append(e)

    def order(event: dict[str, Any]) -> tuple:
        at = timestamp_of(event["data"]["callbackRequest"].get("updatedAt"))
        return (1, at, "", 0, event["id"]) if at else (0, None, *place[event["id"]], event["id"])

    current = {r: max(events, key=order)["id"] for r, events in by_request.items()}
    undated = Counter(
        e["data"]["callbackRequest"]["id"]
        for e in requests
        if not has_timestamp(e["data"]["callbackRequest"].get("updatedAt"))
    )
    return {
        "files": files,
        "request_ids": {e["data"]["callbackRequest"]["id"] for e in requests} | set(GROUP_CURRENT),
        "undated": undated,
        "current": current,
        "events_per_request": {r: len(events) for r, events in by_request.items()},
        "appointment_ids": {i for e in appointments if (i := appointment_id(e))},
        "appointments_without_id": sum(appointment_id(e) is None for e in appointments),
        "appointment_events": len(appointments),
        "undated_appointments": sum(
            not has_timestamp((e["data"].get("appointment") or {}).get("updatedAt"))
            for e in appointments
            if appointment_id(e)
        ),
    }


def marts(database: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted."""
    with duckdb.connect(str(database), read_only=True) as con:
        names = [
            n
            for (n,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
                " and table_name not like '\\_%' escape '\\' order by 1"
            ).fetchall()
        ]
        return {n: con.execute(f"select * from marts.{n} order by all").fetchall() for n in names}


@pytest.fixture(scope="module")
def built(generated: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All generated files loaded in one run, marts built."""
    root = tmp_path_factory.mktemp("spec_allowed")
    archive = write_files(root / "archive", generated["files"])
    database = root / "warehouse.duckdb"
    result = load_archive(str(archive), database)
    assert result.stats.rejected_total == 0, result.stats.rejected
    build_models(database, SETTINGS)
    return database


@pytest.mark.slow
def test_every_request_has_one_row(built: Path, generated: dict[str, Any]) -> None:
    rows = query(built, "select callback_request_id from marts.fct_callback_requests")
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == len(generated["request_ids"]) > 1000
    assert set(ids) == generated["request_ids"]
    current = {
        r: (e, n)
        for r, e, n in query(
            built,
            "select callback_request_id, last_event_id, events_count"
            " from marts.fct_callback_requests where callback_request_id not like 'cr-g%'",
        )
    }
    counts = generated["events_per_request"]
    assert current == {r: (e, counts[r]) for r, e in generated["current"].items()}
    assert sum(n == 2 for n in counts.values()) > 100  # requests with two generated events


@pytest.mark.slow
def test_events_without_timestamp_are_counted(built: Path, generated: dict[str, Any]) -> None:
    counted = dict(
        query(
            built,
            "select callback_request_id, events_without_timestamp from marts.fct_callback_requests"
            " where callback_request_id not like 'cr-g%'",
        )
    )
    expected = {r: generated["undated"].get(r, 0) for r in counted}
    assert counted == expected
    assert sum(expected.values()) > 400  # the generator made plenty of them
    assert {r: counted[r] for r in ("cr-min-1", "cr-min-2", "cr-min-3")} == {
        "cr-min-1": 1,
        "cr-min-2": 1,
        "cr-min-3": 1,
    }
    # the smallest events: a row with nulls where nothing is known
    assert query(
        built,
        "select callback_request_id, status, created_at, updated_at, first_seen_at,"
        " events_count, participants_count, answers_count from marts.fct_callback_requests"
        " where callback_request_id like 'cr-min-%' order by 1",
    ) == [(f"cr-min-{n}", None, None, None, None, 1, 0, 0) for n in (1, 2, 3)]
    quality = dict(
        query(
            built,
            "select entity, events_without_timestamp from marts.agg_event_quality",
        )
    )
    total_undated = sum(generated["undated"].values()) + sum(g[3] for g in GROUP_CURRENT.values())
    assert quality == {
        "Callback Request": total_undated,
        "Appointment": generated["undated_appointments"],
    }


@pytest.mark.slow
def test_undated_events_follow_the_archive(built: Path) -> None:
    current = query(
        built,
        "select callback_request_id, last_event_id, status, events_count, events_without_timestamp"
        " from marts.fct_callback_requests where callback_request_id like 'cr-g%' order by 1",
    )
    assert current == [(r, *GROUP_CURRENT[r]) for r in sorted(GROUP_CURRENT)]
    # status changes follow the same order: g1 went OPEN -> ASSIGNED
    assert query(
        built,
        "select change_index, from_status, to_status from marts.fct_callback_request_status_changes"
        " where callback_request_id = 'cr-g1' order by 1",
    ) == [(1, None, "OPEN"), (2, "OPEN", "ASSIGNED")]


@pytest.mark.slow
def test_appointments_build(built: Path, generated: dict[str, Any]) -> None:
    ids = [r[0] for r in query(built, "select appointment_id from marts.fct_appointments")]
    assert len(ids) == len(set(ids)) == len(generated["appointment_ids"])
    assert set(ids) == generated["appointment_ids"]
    assert query(
        built,
        "select events, objects, events_without_id from marts.agg_event_quality"
        " where entity = 'Appointment'",
    ) == [
        (
            generated["appointment_events"],
            len(generated["appointment_ids"]),
            generated["appointments_without_id"],
        )
    ]
    assert generated["appointments_without_id"] >= 4
    # the events without an appointment id stay in staging
    assert query(
        built, "select count(*) from staging.stg_appointment_events where appointment_id is null"
    ) == [(generated["appointments_without_id"],)]
    assert query(
        built,
        "select status, events_count, events_without_timestamp from marts.fct_appointments"
        " where appointment_id = 'ap-two'",
    ) == [("B", 2, 2)]
    # a link to a request the archive does not hold (a gap) is kept as a reference only
    linked, resolved = query(
        built,
        "select count(*), count(callback_request_id) from marts.fct_appointments"
        " where callback_request_ref = 'cr-linked'",
    )[0]
    assert (linked > 10, resolved) == (True, 0)


def small_archive() -> dict[str, bytes]:
    """Undated events of the same requests and appointments over several files."""
    requests = callback_events()
    return {
        "2024/08/17/requests.jsonl": jsonl(*requests[:40], *requests[-3:]),
        "2024/08/19/appointments.jsonl": jsonl(*appointment_events()[-8:]),
        **{name: jsonl(*events) for name, events in grouped_events().items()},
    }


def test_file_order_and_reruns_give_identical_marts(tmp_path: Path) -> None:
    """Files loaded one run each in reverse path order give the marts of one run over all."""
    files = small_archive()
    at_once = write_files(tmp_path / "at_once", files)
    load_archive(str(at_once), tmp_path / "at_once.duckdb")
    build_models(tmp_path / "at_once.duckdb", SETTINGS)
    expected = marts(tmp_path / "at_once.duckdb")
    assert len(expected["fct_callback_requests"]) == 36 + 3 + len(GROUP_CURRENT)  # 4 pairs

    one_by_one, database = tmp_path / "one_by_one", tmp_path / "one_by_one.duckdb"
    for name in sorted(files, reverse=True):
        write_files(one_by_one, {name: files[name]})
        load_archive(str(one_by_one), database)
    build_models(database, SETTINGS)
    assert marts(database) == expected
    build_models(database, SETTINGS, force=True)  # a second build changes nothing
    assert marts(database) == expected


def test_the_issue_archive_runs_twice(archive: Path, database: Path) -> None:
    """Issue 10: three events the spec allows made every run exit 7 from then on."""
    write_files(archive, {"2024/08/17/a.jsonl": jsonl(*callback_events()[-3:])})
    for _ in range(2):
        result = run_job("--source", str(archive), "--database", str(database))
        assert result.returncode == 0, result.stderr
    assert query(
        database,
        "select callback_request_id, events_without_timestamp, first_seen_at"
        " from marts.fct_callback_requests order by 1",
    ) == [(f"cr-min-{n}", 1, None) for n in (1, 2, 3)]


def test_request_closed_before_it_was_created(archive: Path, database: Path) -> None:
    """A closing updatedAt before createdAt (nothing forbids it) still counts on its own day."""
    closing = grouped_events()["2024/08/18/late.jsonl"][-1]
    write_files(archive, {"2024/08/18/a.jsonl": jsonl(closing)})
    load_archive(str(archive), database)
    build_models(database, SETTINGS)
    assert query(
        database, "select day, created, closed from marts.agg_callback_requests_daily order by 1"
    ) == [(date(2024, 8, 17), 0, 1), (date(2024, 8, 18), 1, 0)]


def test_daily_aggregate_over_any_dates(archive: Path, database: Path) -> None:
    """A createdAt of 0001 and an updatedAt of 9999 are valid: the daily spine stays small.

    Every calendar day is listed while something happens at most 31 days before; a longer
    quiet stretch is cut after 31 days.
    """

    def request(n: int, office: str, status: str, created: str, updated: str) -> dict:
        return envelope(
            f"day-{n}",
            "Callback Request",
            {
                "callbackRequest": {
                    "id": f"cr-day-{n}",
                    "status": status,
                    "office": {"id": office},
                    "createdAt": created,
                    "updatedAt": updated,
                }
            },
        )

    events = [
        request(1, "oA", "CLOSED", "2024-01-01T09:00:00Z", "2024-01-05T09:00:00Z"),
        request(2, "oB", "CLOSED", "2024-03-01T09:00:00Z", "2024-06-01T09:00:00Z"),
        request(3, "oC", "OPEN", "0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"),
    ]
    write_files(archive, {"2024/08/17/a.jsonl": jsonl(*events)})
    load_archive(str(archive), database)
    build_models(database, SETTINGS)

    def office_rows(office: str) -> list[tuple]:
        return query(
            database,
            "select day, created, closed, open_at_end_of_day from marts.agg_callback_requests_daily"
            f" where office_id = '{office}' order by day",
        )

    assert office_rows("oA") == [
        (date(2024, 1, 1), 1, 0, 1),
        (date(2024, 1, 2), 0, 0, 1),
        (date(2024, 1, 3), 0, 0, 1),
        (date(2024, 1, 4), 0, 0, 1),
        (date(2024, 1, 5), 0, 1, 0),
    ]
    b = office_rows("oB")
    # 2024-03-01 and the 31 days after it, then nothing until the closing day
    assert [r[0] for r in b] == [date(2024, 3, 1) + timedelta(days=k) for k in range(32)] + [
        date(2024, 6, 1)
    ]
    assert (b[0], b[-1]) == ((date(2024, 3, 1), 1, 0, 1), (date(2024, 6, 1), 0, 1, 0))
    c = office_rows("oC")
    assert c[0] == (date(1, 1, 1), 1, 0, 1) and c[-1] == (date(9999, 12, 31), 0, 0, 1)
    assert len(c) < 32 * 8  # 8 activity days, each with at most 31 quiet days after it
