"""The manifest of truths: counts of exactly what the generator wrote into the archive."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from devtools.generator.corrupt import KINDS
from devtools.generator.lifecycle import CLOSING_STATUSES

if TYPE_CHECKING:
    from devtools.generator.archive import Shape
    from devtools.generator.corrupt import CorruptRecord

REASON_CODES = sorted(set(KINDS.values()))


class Stats:
    """Accumulates the manifest while the archive is being written (bounded memory)."""

    def __init__(self) -> None:
        self.deliveries_written = 0
        self.distinct_events = 0
        self.duplicate_deliveries = 0
        self.events_by_entity: Counter[str] = Counter()
        self.events_by_event_type: Counter[str] = Counter()
        self.callback_requests = 0
        self.appointments = 0
        self.appointments_linked = 0
        self.final_status: Counter[str] = Counter()
        self.appointment_final_status: Counter[str] = Counter()
        self.by_office: Counter[str] = Counter()
        self.by_meeting_type: Counter[str] = Counter()
        self.by_subject: Counter[str] = Counter()
        self.answers_final = 0
        self.participants_final = 0
        self.first_created: int | None = None
        self.last_created: int | None = None
        self.first_created_iso = ""
        self.last_created_iso = ""
        self.files_by_format: Counter[str] = Counter()
        self.files_by_shape: Counter[str] = Counter()
        self.max_records_per_file = 0
        self.corrupt_by_kind: Counter[str] = Counter()
        self.rejected_records: list[dict[str, Any]] = []
        self.skipped_files: list[str] = []

    def on_event(self, entity: str, event_type: str, copies: int) -> None:
        """A good event was built and will be delivered `copies` times."""
        self.distinct_events += 1
        self.duplicate_deliveries += copies - 1
        self.events_by_entity[entity] += 1
        self.events_by_event_type[event_type] += 1

    def on_request_created(self, created_at: int, created_iso: str) -> None:
        """A callback request's create event was built."""
        self.callback_requests += 1
        if self.first_created is None or created_at < self.first_created:
            self.first_created, self.first_created_iso = created_at, created_iso
        if self.last_created is None or created_at > self.last_created:
            self.last_created, self.last_created_iso = created_at, created_iso

    def on_request_final(self, request: dict[str, Any]) -> None:
        """The request's latest (by updatedAt) written state, as a `callbackRequest` dict."""
        self.final_status[request["status"]] += 1
        self.by_office[request["office"]["id"]] += 1
        self.by_meeting_type[request["meetingType"]] += 1
        self.by_subject[request["subject"]["id"]] += 1
        self.answers_final += len(request["answers"])
        self.participants_final += len(request["participants"])

    def on_appointment(self, linked: bool) -> None:
        """An appointment's first event was built."""
        self.appointments += 1
        self.appointments_linked += linked

    def on_appointment_final(self, status: str) -> None:
        """The appointment's latest written status."""
        self.appointment_final_status[status] += 1

    def on_file(
        self,
        rel: str,
        shape: Shape,
        records: int,
        corrupt: list[tuple[CorruptRecord, dict[str, int]]],
    ) -> None:
        """An event file was written with `records` records, some of them corrupt."""
        self.deliveries_written += records
        self.files_by_format[shape.ext] += 1
        self.max_records_per_file = max(self.max_records_per_file, records)
        self.files_by_shape[shape.fmt] += 1
        for flag in ("gz", "crlf", "bom", "blank_lines", "indent"):
            if getattr(shape, flag):
                self.files_by_shape[flag] += 1
        if shape.lines and not shape.final_newline:
            self.files_by_shape["no_final_newline"] += 1
        for rec, where in corrupt:
            self.corrupt_by_kind[rec.kind] += 1
            self.rejected_records.append(
                {"file": rel, **where, "kind": rec.kind, "reason": rec.reason}
            )
            if rec.kind == "truncated_tail":
                self.files_by_shape["truncated_tail"] += 1

    def manifest(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The manifest dict (settings first, then the counts)."""
        by_reason = {code: 0 for code in REASON_CODES} if settings.get("corrupt") else {}
        for kind, n in self.corrupt_by_kind.items():
            by_reason[KINDS[kind]] = by_reason.get(KINDS[kind], 0) + n
        closed = sum(self.final_status[s] for s in CLOSING_STATUSES)
        rejected = sorted(self.rejected_records, key=lambda r: (r["file"], r.get("line", 0)))
        return {
            **settings,
            "deliveries_written": self.deliveries_written,
            "distinct_events": self.distinct_events,
            "callback_request_events": self.events_by_entity["Callback Request"],
            "appointment_events": self.events_by_entity["Appointment"],
            "duplicate_deliveries": self.duplicate_deliveries,
            "callback_requests": self.callback_requests,
            "appointments": self.appointments,
            "appointments_linked_to_request": self.appointments_linked,
            "rejected_by_reason": by_reason,
            "rejected_total": sum(by_reason.values()),
            "corrupt_records_by_kind": {
                kind: {"reason": KINDS[kind], "count": n}
                for kind, n in sorted(self.corrupt_by_kind.items())
            },
            "skipped_files": len(self.skipped_files),
            "skipped_file_paths": self.skipped_files,
            "files_total": sum(self.files_by_format.values()),
            "files_by_format": dict(sorted(self.files_by_format.items())),
            "files_by_shape": dict(sorted(self.files_by_shape.items())),
            "max_records_per_file": self.max_records_per_file,
            "final_status_counts": dict(sorted(self.final_status.items())),
            "closing_statuses": list(CLOSING_STATUSES),
            "closed_requests": closed,
            "open_requests": self.callback_requests - closed,
            "events_by_event_type": dict(sorted(self.events_by_event_type.items())),
            "requests_by_office": dict(sorted(self.by_office.items())),
            "requests_by_meeting_type": dict(sorted(self.by_meeting_type.items())),
            "requests_by_subject": dict(sorted(self.by_subject.items())),
            "appointment_final_status_counts": dict(sorted(self.appointment_final_status.items())),
            "first_created_at": self.first_created_iso or None,
            "last_created_at": self.last_created_iso or None,
            "answers_in_final_state": self.answers_final,
            "participants_in_final_state": self.participants_final,
            "rejected_records": rejected,
        }
