"""Request plans: when requests arrive, which status path they follow, when each change happens.

A plan is decided in full when its request arrives (times, statuses, event types, how
many times each event is delivered), so the number of deliveries of the whole archive
is known exactly before any event is built. The payload of each event is built later,
when the engine reaches the event's time (see `payloads`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devtools.generator.catalog import Catalog
from devtools.generator.timeutil import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS

CR_CREATE = "Callback-request.create"
CR_UPDATE = "Callback-request.update"
CLOSING_STATUSES = ("CLOSED", "COMPLETED", "CANCELLED")

# weekday (Monday 0) and UTC hour-of-day weights of request arrivals
WEEKDAY_WEIGHTS = (1.2, 1.05, 1.0, 1.0, 0.9, 0.35, 0.12)
HOUR_WEIGHTS = (
    0.04, 0.02, 0.02, 0.02, 0.03, 0.08, 0.3, 0.75, 1.0, 1.0, 0.95, 0.85,
    0.9, 1.0, 0.95, 0.85, 0.6, 0.45, 0.42, 0.4, 0.35, 0.25, 0.15, 0.08,
)  # fmt: skip

# actions after the create, with weights (the status path of a request)
STATUS_PATHS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (10, ()),
    (4, ("note",)),
    (8, ("cancel_customer",)),
    (30, ("assign", "start", "complete")),
    (10, ("assign", "start", "close")),
    (6, ("assign", "cancel_agent")),
    (8, ("assign", "start")),
    (5, ("assign",)),
    (6, ("assign", "reassign", "start", "complete")),
    (5, ("assign", "start", "note", "complete")),
    (3, ("start", "close")),
    (2, ("assign", "hold")),
    (2, ("assign", "hold", "resume", "complete")),
    (2, ("assign", "change_meeting", "start", "complete")),
)
ACTION_STATUS = {
    "create": "OPEN",
    "assign": "ASSIGNED",
    "reassign": "ASSIGNED",
    "start": "IN_PROGRESS",
    "complete": "COMPLETED",
    "close": "CLOSED",
    "cancel_customer": "CANCELLED",
    "cancel_agent": "CANCELLED",
    "hold": "ON_HOLD",
    "resume": "IN_PROGRESS",
}
# action -> (median delay after the previous step, log-sigma, done by an employee in office hours)
ACTION_DELAY: dict[str, tuple[int, float, bool]] = {
    "assign": (3 * HOUR_MS, 1.3, True),
    "reassign": (4 * HOUR_MS, 1.0, True),
    "start": (40 * MINUTE_MS, 1.2, True),
    "complete": (50 * MINUTE_MS, 1.4, True),
    "close": (2 * HOUR_MS, 1.4, True),
    "cancel_customer": (20 * HOUR_MS, 1.2, False),
    "cancel_agent": (DAY_MS, 0.9, True),
    "hold": (3 * HOUR_MS, 1.0, True),
    "resume": (2 * DAY_MS, 0.6, True),
    "note": (2 * HOUR_MS, 1.2, True),
    "change_meeting": (HOUR_MS, 1.0, True),
}
MEETING_TYPES = (("PHONE", 45), ("VIDEO", 22), ("OFFICE", 25), ("ON_LOCATION", 8))
CHANNELS = (
    (("CUSTOMER", "WIDGET"), 70),
    (("CUSTOMER", "CUSTOMER_PORTAL"), 10),
    (("EMPLOYEE", "BACK_OFFICE"), 15),
    (("INTEGRATION", "API"), 5),
)
MAX_LIFETIME_MS = 30 * DAY_MS
APPOINTMENT_SHARE = 0.19  # of requests that get an employee (~78%): ~15% of all requests
DUPLICATE_ONE = 0.065
DUPLICATE_TWO = 0.008
LOST_UPDATE = 0.01


@dataclass(slots=True)
class Step:
    """One event of a plan: a callback-request change (`cr`) or an appointment change."""

    at: int
    kind: str
    action: str
    status: str
    event_type: str
    copies: int = 1
    start: int = 0
    end: int = 0


@dataclass(slots=True)
class RequestPlan:
    """A callback request, its planned events and the mutable state its payloads are built from."""

    seq: int
    request_id: str
    correlation_id: str
    created_at: int
    office: int
    subject: int
    meeting_type: str
    customer_no: int
    second_customer_no: int | None
    listing: int | None
    lead_segment: int | None
    channel: tuple[str, str]
    creator: int | None
    steps: list[Step]
    appointment_id: str | None = None
    appointment_linked: bool = True
    next: int = 0
    last_cr: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def deliveries(self) -> int:
        """Number of deliveries (copies) of all planned events."""
        return sum(s.copies for s in self.steps)


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (deterministic)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def lognormal_ms(rng: random.Random, median: int, sigma: float) -> int:
    """A log-normally distributed delay in milliseconds with the given median."""
    return max(SECOND_MS, int(median * math.exp(rng.gauss(0.0, sigma))))


def in_office_hours(rng: random.Random, at: int) -> int:
    """Move `at` to the next weekday 07:00-16:30 UTC window most of the time (employees' work)."""
    day, rest = divmod(at, DAY_MS)
    wday = (day + 3) % 7  # 1970-01-01 was a Thursday
    if wday < 5 and 7 * HOUR_MS <= rest < 16 * HOUR_MS + 30 * MINUTE_MS:
        return at
    if rng.random() < 0.12:  # some overtime / weekend duty
        return at
    if rest >= 7 * HOUR_MS:
        day += 1
    while (day + 3) % 7 >= 5:
        day += 1
    return day * DAY_MS + 7 * HOUR_MS + rng.randrange(0, 150 * MINUTE_MS)


class Choice:
    """A weighted choice among values: `Choice([(value, weight), ...]).pick(rng)`."""

    __slots__ = ("values", "cum", "total")

    def __init__(self, pairs: Iterable[tuple[Any, float]]) -> None:
        pairs = list(pairs)
        self.values = [v for v, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        """One value, drawn proportionally to its weight."""
        i = bisect.bisect_right(self.cum, rng.random() * self.total)
        return self.values[min(i, len(self.values) - 1)]


def day_weight(day_start_ms: int, rng: random.Random) -> float:
    """Relative volume of one day: weekday seasonality with a little day-to-day noise."""
    wday = (day_start_ms // DAY_MS + 3) % 7
    return WEEKDAY_WEIGHTS[wday] * math.exp(rng.gauss(0.0, 0.12))


def arrival_times(rng: random.Random, day_start_ms: int, count: int) -> list[int]:
    """`count` sorted arrival times within one day, following the hour-of-day weights."""
    hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
    return sorted(day_start_ms + h * HOUR_MS + rng.randrange(HOUR_MS) for h in hours)


class Planner:
    """Creates request plans: ids, reference picks, status path, times and delivery copies."""

    def __init__(
        self, catalog: Catalog, rng: random.Random, end_ms: int, customer_pool: int
    ) -> None:
        self.catalog = catalog
        self.rng = rng
        self.end_ms = end_ms
        self.customer_pool = max(20, customer_pool)
        self.next_request_id = 250_000
        self.next_appointment_id = 70_000
        self.seq = 0
        self.offices = Choice((i, o.weight) for i, o in enumerate(catalog.offices))
        self.subjects = Choice((i, s.weight) for i, s in enumerate(catalog.subjects))
        self.leads = Choice(enumerate((5, 2, 1, 1.5, 1.5)))
        self.paths = Choice((p, w) for w, p in STATUS_PATHS)
        self.meetings = Choice(MEETING_TYPES)
        self.channels = Choice(CHANNELS)

    def _copies(self) -> int:
        r = self.rng.random()
        return 3 if r < DUPLICATE_TWO else 2 if r < DUPLICATE_ONE + DUPLICATE_TWO else 1

    def new_plan(self, at: int, budget: int) -> RequestPlan:
        """Plan a request arriving at `at`, using at most `budget` deliveries (`budget >= 1`)."""
        rng = self.rng
        cat = self.catalog
        self.seq += 1
        self.next_request_id += rng.randint(1, 3)
        office = self.offices.pick(rng)
        if cat.offices[office].virtual:
            meeting = "VIDEO" if rng.random() < 0.85 else "PHONE"
        else:
            meeting = self.meetings.pick(rng)
        listing = None
        if rng.random() < 0.3:
            local = [i for i, (_, o) in enumerate(cat.listings) if o in (office, -1)]
            listing = rng.choice(local)
        channel = self.channels.pick(rng)
        creator = None
        if channel[0] == "EMPLOYEE":
            creator = self.pick_employee(office)
        plan = RequestPlan(
            seq=self.seq,
            request_id=str(self.next_request_id),
            correlation_id=new_uuid(rng),
            created_at=at,
            office=office,
            subject=self.subjects.pick(rng),
            meeting_type=meeting,
            customer_no=rng.randrange(self.customer_pool),
            second_customer_no=rng.randrange(self.customer_pool) if rng.random() < 0.05 else None,
            listing=listing,
            lead_segment=self.leads.pick(rng) if rng.random() < 0.75 else None,
            channel=channel,
            creator=creator,
            steps=[],
        )
        steps = [Step(at, "cr", "create", "OPEN", CR_CREATE, self._copies())]
        path = self.paths.pick(rng)
        t = at
        status = "OPEN"
        employee_time = None
        for action in path:
            median, sigma, office_hours = ACTION_DELAY[action]
            t_next = t + lognormal_ms(rng, median, sigma)
            if office_hours:
                t_next = in_office_hours(rng, t_next)
            t = max(t_next, t + SECOND_MS + rng.randrange(SECOND_MS))
            status = ACTION_STATUS.get(action, status)
            if employee_time is None and action in ("assign", "start"):
                employee_time = t
            if rng.random() < LOST_UPDATE:
                continue  # given up after three failed deliveries: a gap in the archive
            steps.append(Step(t, "cr", action, status, CR_UPDATE, self._copies()))
        if employee_time is not None and rng.random() < APPOINTMENT_SHARE:
            steps.extend(self._appointment_steps(employee_time))
            self.next_appointment_id += rng.randint(1, 4)
            plan.appointment_id = str(self.next_appointment_id)
            plan.appointment_linked = rng.random() < 0.85
        limit = min(self.end_ms, at + MAX_LIFETIME_MS)
        steps = [s for s in steps if s.at < limit or s.action == "create"]
        steps.sort(key=lambda s: (s.at, s.kind != "cr"))
        kept: list[Step] = []
        for s in steps:  # fit the budget: drop extra copies, then the latest events
            if budget <= 0:
                break
            s.copies = min(s.copies, budget)
            budget -= s.copies
            kept.append(s)
        plan.steps = kept
        if not any(s.kind == "appt" for s in kept):
            plan.appointment_id = None
        plan.last_cr = max(i for i, s in enumerate(kept) if s.kind == "cr")
        return plan

    def pick_employee(self, office: int, other_than: int | None = None) -> int:
        """An employee who can take a request of `office` (office staff, sometimes a planner)."""
        cat = self.catalog
        pool = cat.employees_by_office.get(office, [])
        if not pool or self.rng.random() < 0.1:
            pool = (
                pool + cat.planners + [i for i, e in enumerate(cat.employees) if e.assignable][:6]
            )
        choices = [e for e in pool if e != other_than] or pool
        return self.rng.choice(choices)

    def _appointment_steps(self, anchor: int) -> list[Step]:
        rng = self.rng
        t = anchor + lognormal_ms(rng, 15 * MINUTE_MS, 1.0)
        start = self._slot(t + rng.randint(1, 8) * DAY_MS)
        end = start + rng.choice((30, 45, 60)) * MINUTE_MS
        steps = []
        if rng.random() < 0.6:
            steps.append(Step(t, "appt", "invite", "OUTGOING_INVITE", "INVITE", 0, start, end))
        else:
            steps.append(Step(t, "appt", "request", "INCOMING_REQUEST", "REQUEST", 0, start, end))

        def later(median: int, sigma: float) -> int:
            nonlocal t
            t = t + lognormal_ms(rng, median, sigma) + rng.randrange(SECOND_MS)
            return t

        r = rng.random()
        if r < 0.05:
            steps.append(
                Step(
                    later(3 * HOUR_MS, 1.0),
                    "appt",
                    "decline",
                    "CANCELLED",
                    "DECLINE",
                    0,
                    start,
                    end,
                )
            )
        else:
            if r < 0.17:
                at = later(3 * HOUR_MS, 1.0)
                shift = rng.randint(1, 3) * DAY_MS
                start, end = self._slot(start + shift), 0
                end = start + rng.choice((30, 45, 60)) * MINUTE_MS
                steps.append(
                    Step(at, "appt", "propose", "ALTERNATIVE_DATE_REQUESTED",
                         "PROPOSE_ALTERNATIVE", 0, start, end)
                )  # fmt: skip
            accept = later(HOUR_MS, 1.2)
            steps.append(Step(accept, "appt", "accept", "ACCEPTED", "ACCEPT", 0, start, end))
            r = rng.random()
            if r < 0.58:
                at = max(end + rng.randint(5, 90) * MINUTE_MS, accept + SECOND_MS)
                steps.append(Step(at, "appt", "complete", "COMPLETED", "COMPLETE", 0, start, end))
            elif r < 0.66:
                at = max(start + rng.randint(15, 40) * MINUTE_MS, accept + SECOND_MS)
                steps.append(Step(at, "appt", "no_show", "NO_SHOW", "NO_SHOW", 0, start, end))
            elif r < 0.80:
                at = accept + max(SECOND_MS, int((start - accept) * rng.random()))
                steps.append(Step(at, "appt", "cancel", "CANCELLED", "CANCEL", 0, start, end))
        for s in steps:
            s.copies = self._copies()
        return steps

    def _slot(self, at: int) -> int:
        """The next weekday business slot (quarter hour, 07:00-15:45 UTC) on or after `at`."""
        day = at // DAY_MS
        while (day + 3) % 7 >= 5:
            day += 1
        return day * DAY_MS + 7 * HOUR_MS + self.rng.randrange(36) * 15 * MINUTE_MS
