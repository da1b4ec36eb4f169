"""The streaming loop: request arrivals -> planned events -> delayed deliveries -> files.

Two heaps keep memory bounded: `life` holds each active request once, keyed by the time
of its next event; `pending` holds built deliveries keyed by delivery time. An event at
time t is only built once every request arriving before t exists, and a delivery at time
d is only written once every event before d is built, so deliveries reach the writer in
delivery-time order. A request's state is dropped with its last event.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from devtools.generator.archive import ArchiveWriter
from devtools.generator.catalog import build_catalog
from devtools.generator.corrupt import KINDS, CorruptFactory
from devtools.generator.firehose import EXCLUDED_KINDS, FIREHOSE, FirehoseWriter
from devtools.generator.lifecycle import (
    Planner,
    RequestPlan,
    arrival_times,
    day_weight,
)
from devtools.generator.payloads import EventBuilder
from devtools.generator.stats import Stats
from devtools.generator.timeutil import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, date_to_ms, iso_ms

log = logging.getLogger(__name__)

INF = math.inf
SKIPPED_FILE_NAME = "delivery-log.csv"


@dataclass(slots=True)
class GeneratorConfig:
    """What to generate."""

    events: int
    out: Path
    seed: int = 42
    corrupt: bool = False
    start: date = date(2025, 1, 6)
    days: int = 30
    gzip_share: float = 0.3
    layout: str = "receiver"  # or "firehose": see devtools/generator/firehose.py

    def corrupt_kinds(self) -> list[str]:
        """The corrupt kinds `--corrupt` writes in this layout."""
        excluded = EXCLUDED_KINDS if self.layout == FIREHOSE else frozenset()
        return [kind for kind in KINDS if kind not in excluded]

    def corrupt_per_kind(self) -> int:
        """How many corrupt records of each kind `--corrupt` adds."""
        return max(1, self.events // 1000) if self.corrupt else 0

    def corrupt_total(self) -> int:
        """Total corrupt records (all kinds)."""
        return self.corrupt_per_kind() * len(self.corrupt_kinds())


class Engine:
    """Generates one archive; `run()` returns the manifest."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.start_ms = date_to_ms(cfg.start)
        self.end_ms = self.start_ms + cfg.days * DAY_MS
        self.catalog = build_catalog(cfg.seed)
        self.stats = Stats()
        self.good_target = cfg.events - cfg.corrupt_total()
        est_requests = max(1, self.good_target // 3)
        self.planner = Planner(self.catalog, self.rng, self.end_ms, int(est_requests * 0.85))
        self.builder = EventBuilder(self.catalog, self.planner, self.rng)
        self.builder.renewed_after = self.start_ms + int(cfg.days * 0.6) * DAY_MS
        factory = None
        due: list[tuple[int, str]] = []
        if cfg.corrupt:
            factory = CorruptFactory(self.catalog, cfg.seed, self.end_ms)
            kinds = [k for k in cfg.corrupt_kinds() for _ in range(cfg.corrupt_per_kind())]
            crng = factory.rng
            crng.shuffle(kinds)
            positions = sorted(crng.randrange(max(1, self.good_target)) for _ in kinds)
            due = list(zip(positions, kinds, strict=True))
        writer = FirehoseWriter if cfg.layout == FIREHOSE else ArchiveWriter
        self.writer = writer(
            cfg.out,
            random.Random(f"{cfg.seed}:files"),
            self.stats,
            cfg.gzip_share,
            max_per_file=min(300, max(5, cfg.events // 40)),
            corrupt=factory,
            corrupt_due=due,
        )
        self.delay_rng = random.Random(f"{cfg.seed}:delivery")
        self.outages = self._outages()
        self.life: list[tuple[int, int, RequestPlan]] = []
        self.pending: list[tuple[int, int, bytes]] = []
        self.delivery_seq = 0
        self.planned = 0
        self.plans = 0

    # -- delivery timing ------------------------------------------------------------------------
    def _outages(self) -> list[tuple[int, int]]:
        """Receiver outages: deliveries inside one are retried and land after it, shuffled."""
        rng = self.delay_rng
        out = []
        for _ in range(max(1, self.cfg.days // 15)):
            begin = self.start_ms + rng.randrange(self.cfg.days * DAY_MS)
            out.append((begin, begin + rng.randint(30, 180) * MINUTE_MS))
        return sorted(out)

    def _first_delay(self, at: int) -> int:
        rng = self.delay_rng
        r = rng.random()
        if r < 0.85:
            delay = rng.randint(50, 3000)
        elif r < 0.95:
            delay = rng.randint(3 * SECOND_MS, 2 * MINUTE_MS)
        elif r < 0.99:
            delay = rng.randint(2 * MINUTE_MS, 2 * HOUR_MS)
        else:
            delay = rng.randint(2 * HOUR_MS, 30 * HOUR_MS)
        when = at + delay
        for begin, end in self.outages:
            if begin <= when < end:
                when = end + rng.randint(0, 30 * MINUTE_MS)
                break
        return when

    def _duplicate_delay(self) -> int:
        rng = self.delay_rng
        r = rng.random()
        if r < 0.45:
            return rng.randint(100, 10 * SECOND_MS)
        if r < 0.85:
            return rng.randint(10 * MINUTE_MS, 6 * HOUR_MS)
        return rng.randint(DAY_MS, 3 * DAY_MS)

    # -- events ---------------------------------------------------------------------------------
    def _process(self, plan: RequestPlan) -> None:
        step = plan.steps[plan.next]
        event = self.builder.build(plan, step)
        raw = orjson.dumps(event)
        data = event["data"]
        stats = self.stats
        stats.on_event(event["entity"], data["eventType"], step.copies)
        if step.kind == "cr":
            if step.action == "create":
                cr = data["callbackRequest"]
                stats.on_request_created(plan.created_at, cr["createdAt"])
            if plan.next == plan.last_cr:
                stats.on_request_final(data["callbackRequest"])
        else:
            appt_steps = [i for i, s in enumerate(plan.steps) if s.kind == "appt"]
            if plan.next == appt_steps[0]:
                stats.on_appointment(plan.appointment_linked)
            if plan.next == appt_steps[-1]:
                stats.on_appointment_final(step.status)
        when = self._first_delay(step.at)
        self._push(when, raw)
        for _ in range(step.copies - 1):
            when += self._duplicate_delay()
            self._push(when, raw)
        plan.next += 1
        if plan.next < len(plan.steps):
            heapq.heappush(self.life, (plan.steps[plan.next].at, plan.seq, plan))
        else:
            plan.state = {}  # the request is done: drop its state

    def _push(self, when: int, raw: bytes) -> None:
        self.delivery_seq += 1
        heapq.heappush(self.pending, (when, self.delivery_seq, raw))

    def _advance(self, t: float) -> None:
        """Build every event and write every delivery with a time <= t, in time order."""
        life, pending = self.life, self.pending
        while True:
            next_event = life[0][0] if life else INF
            next_delivery = pending[0][0] if pending else INF
            if pending and next_delivery <= t and next_delivery <= next_event:
                when, _, raw = heapq.heappop(pending)
                self.writer.deliver(when, raw)
            elif life and next_event <= t:
                _, _, plan = heapq.heappop(life)
                self._process(plan)
            else:
                return

    def _arrive(self, at: int) -> None:
        self._advance(at)
        plan = self.planner.new_plan(at, self.good_target - self.planned)
        self.planned += plan.deliveries
        self.plans += 1
        heapq.heappush(self.life, (at, plan.seq, plan))

    def _expected_deliveries(self) -> list[float]:
        """Mean deliveries of a request arriving on each day, from a dry run of the planner.

        Only the distance to the window end matters (later events are cut off): the last
        days are sampled one by one, earlier days share one steady value.
        """
        rng = random.Random(f"{self.cfg.seed}:calibration")
        near = min(self.cfg.days, 14)
        steady_planner = Planner(self.catalog, rng, 1 << 62, customer_pool=100)
        at0 = self.start_ms
        steady = [steady_planner.new_plan(at, 1 << 30).deliveries
                  for at in arrival_times(rng, at0, 800)]  # fmt: skip
        by_distance = []
        dry = Planner(self.catalog, rng, self.end_ms, customer_pool=100)
        for k in range(near):
            day_start = self.end_ms - (k + 1) * DAY_MS
            plans = [dry.new_plan(at, 1 << 30) for at in arrival_times(rng, day_start, 250)]
            by_distance.append(sum(p.deliveries for p in plans) / len(plans))
        mean_steady = sum(steady) / len(steady)
        last = self.cfg.days - 1
        return [by_distance[last - d] if last - d < near else mean_steady for d in range(last + 1)]

    # -- run ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Generate the archive and return the manifest dict."""
        cfg = self.cfg
        calendar = random.Random(f"{cfg.seed}:calendar")
        weights = [day_weight(self.start_ms + d * DAY_MS, calendar) for d in range(cfg.days)]
        expected = self._expected_deliveries()
        for d in range(cfg.days):
            remaining = self.good_target - self.planned
            if remaining <= 0:
                break
            # requests per day follow the weights; deliveries per request shrink near the end
            weighted_cost = sum(w * e for w, e in zip(weights[d:], expected[d:], strict=True))
            count = round(remaining * weights[d] / weighted_cost)
            log.debug(
                "day %d: weight %.2f, expect %.2f, %d arrivals", d, weights[d], expected[d], count
            )
            day_start = self.start_ms + d * DAY_MS
            last = day_start
            for at in arrival_times(self.rng, day_start, count):
                if self.planned >= self.good_target:
                    break
                self._arrive(at)
                last = at
            if d == cfg.days - 1:
                day_end = day_start + DAY_MS
                while self.planned < self.good_target:
                    # still short on the last day: a few more arrivals late in the day
                    need = math.ceil((self.good_target - self.planned) / expected[d])
                    span = max(1, day_end - last)
                    extra = sorted(last + self.rng.randrange(span) for _ in range(need))
                    for at in extra:
                        if self.planned >= self.good_target:
                            break
                        self._arrive(at)
                        last = at
            if d % 7 == 6:
                log.info("day %d/%d: %d requests, %d deliveries planned", d + 1, cfg.days,
                         self.plans, self.planned)  # fmt: skip
        self._advance(INF)
        self.writer.finish()
        if cfg.corrupt:
            self._write_skipped_file()
        return self.stats.manifest(
            {
                "generator": "devtools.generate",
                "seed": cfg.seed,
                "events_requested": cfg.events,
                "start": cfg.start.isoformat(),
                "days": cfg.days,
                "window_end": iso_ms(self.end_ms),
                "corrupt": cfg.corrupt,
                "gzip_share": cfg.gzip_share,
                "layout": cfg.layout,
            }
        )

    def _write_skipped_file(self) -> None:
        """One non-event file the loader must skip (and count)."""
        rel = f"{iso_ms(self.start_ms)[:10].replace('-', '/')}/{SKIPPED_FILE_NAME}"
        path = self.cfg.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "delivered_at,status,bytes\n"
            f"{iso_ms(self.start_ms + 3_600_000)},200,7312\n"
            f"{iso_ms(self.start_ms + 3_660_000)},503,0\n",
            encoding="utf-8",
        )
        self.stats.skipped_files.append(rel)


def generate(cfg: GeneratorConfig) -> dict[str, Any]:
    """Write the archive described by `cfg` into `cfg.out` and return its manifest."""
    return Engine(cfg).run()
