"""Corrupt records for `--corrupt`: one defect per record, each kind mapped to a reason code.

Decoys are realistic callback-request events with fresh ids (never the id of a good
event) and request ids outside the good range, then broken in exactly one way.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import orjson

from devtools.generator.catalog import Catalog
from devtools.generator.lifecycle import CR_CREATE, Planner, RequestPlan, Step, new_uuid
from devtools.generator.payloads import EventBuilder
from pipelines.settings import (
    EMPTY_FIELD,
    INVALID_ENCODING,
    INVALID_JSON,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    UNKNOWN_ENTITY,
    WRONG_TYPE,
)

# kind -> reason code; `truncated_tail` is the cut last line of a .jsonl file (a crash)
KINDS: dict[str, str] = {
    "broken_line": INVALID_JSON,
    "syntax_error": INVALID_JSON,
    "truncated_tail": INVALID_JSON,
    "invalid_utf8": INVALID_ENCODING,
    "latin1_text": INVALID_ENCODING,
    "json_array": NOT_AN_OBJECT,
    "json_string": NOT_AN_OBJECT,
    "json_number": NOT_AN_OBJECT,
    "missing_field": MISSING_FIELD,
    "empty_field": EMPTY_FIELD,
    "data_not_object": WRONG_TYPE,
    "payload_not_object": WRONG_TYPE,
    "field_not_string": WRONG_TYPE,
    "unknown_entity": UNKNOWN_ENTITY,
}
# kinds that are syntactically valid JSON objects and may also sit inside a JSON array file
ARRAY_SAFE = frozenset(
    {
        "missing_field",
        "empty_field",
        "data_not_object",
        "payload_not_object",
        "field_not_string",
        "unknown_entity",
    }
)
ENVELOPE_FIELDS = ("id", "correlationId", "entity", "version", "webhookConfigurationId", "data")
EMPTYABLE = ("id", "correlationId", "version", "webhookConfigurationId")
NUMBERABLE = ("version", "webhookConfigurationId", "correlationId")
BAD_UTF8 = b"\xff\xfe"
_MARK = "@@MARK@@"


@dataclass(slots=True)
class CorruptRecord:
    """One corrupt record: its kind, reason code and the exact bytes written (no newline)."""

    kind: str
    reason: str
    raw: bytes


class CorruptFactory:
    """Builds corrupt records from decoy events, with its own random stream."""

    def __init__(self, catalog: Catalog, seed: int, end_ms: int) -> None:
        self.rng = random.Random(f"{seed}:corrupt")
        self.planner = Planner(catalog, self.rng, end_ms, customer_pool=500)
        self.planner.next_request_id = 990_000_000
        self.builder = EventBuilder(catalog, self.planner, self.rng)
        self.counters: dict[str, int] = {}

    def decoy(self, at: int) -> dict[str, Any]:
        """A realistic callback-request create event that is not part of the good stream."""
        plan: RequestPlan = self.planner.new_plan(at, budget=1)
        step = Step(at, "cr", "create", "OPEN", CR_CREATE)
        event = self.builder.build(plan, step)
        event["id"] = new_uuid(self.rng)
        return event

    def make(self, kind: str, at: int) -> CorruptRecord:
        """Build a corrupt record of `kind` for a delivery around `at`."""
        rng = self.rng
        n = self.counters.get(kind, 0)
        self.counters[kind] = n + 1
        reason = KINDS[kind]
        if kind == "json_array":
            return CorruptRecord(kind, reason, rng.choice([b"[1, 2]", b'["a", "b"]', b"[]"]))
        if kind == "json_string":
            return CorruptRecord(kind, reason, rng.choice([b'"hello"', b'"OK"', b'"ping"']))
        if kind == "json_number":
            return CorruptRecord(kind, reason, rng.choice([b"42", b"3.14", b"-1"]))
        event = self.decoy(at)
        if kind in ("broken_line", "truncated_tail"):
            raw = orjson.dumps(event)
            return CorruptRecord(kind, reason, _cut(rng, raw))
        if kind == "syntax_error":
            raw = orjson.dumps(event)
            return CorruptRecord(kind, reason, raw[:-1] + b",}")
        if kind == "invalid_utf8":
            event["data"]["callbackRequest"]["internalNotes"] = f"Klant belt terug {_MARK} morgen"
            raw = orjson.dumps(event).replace(_MARK.encode(), BAD_UTF8)
            return CorruptRecord(kind, reason, raw)
        if kind == "latin1_text":
            customer = event["data"]["callbackRequest"]["participants"][0]["customer"]
            customer = copy.deepcopy(customer)
            customer["firstName"] = f"Fran{_MARK}ois"
            event["data"]["callbackRequest"]["participants"][0]["customer"] = customer
            raw = orjson.dumps(event).replace(_MARK.encode(), "ç".encode("latin-1"))
            return CorruptRecord(kind, reason, raw)
        if kind == "missing_field":
            del event[ENVELOPE_FIELDS[n % len(ENVELOPE_FIELDS)]]
        elif kind == "empty_field":
            event[EMPTYABLE[n % len(EMPTYABLE)]] = ""
        elif kind == "data_not_object":
            event["data"] = rng.choice(["Callback-request.create", ["callbackRequest"]])
        elif kind == "payload_not_object":
            event["data"]["callbackRequest"] = rng.choice(
                [event["data"]["callbackRequest"]["id"], []]
            )
        elif kind == "field_not_string":
            event[NUMBERABLE[n % len(NUMBERABLE)]] = rng.choice([1, 2, 12345])
        elif kind == "unknown_entity":
            entity = rng.choice(["Invoice", "Customer"])
            event["entity"] = entity
            key = entity[0].lower() + entity[1:]
            event["data"] = {
                "eventType": f"{entity}.create",
                key: {"id": str(rng.randrange(10**6)), "status": "NEW"},
            }
        return CorruptRecord(kind, reason, orjson.dumps(event))


def _cut(rng: random.Random, raw: bytes) -> bytes:
    """A strict prefix of `raw`, cut at an ASCII byte (so the text stays valid UTF-8)."""
    pos = int(len(raw) * rng.uniform(0.2, 0.9))
    while pos > 1 and raw[pos] >= 0x80:
        pos -= 1
    return raw[:pos]
