"""Validate one parsed webhook record against the envelope rules and shape it into a raw row."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from pipelines import settings as s

# envelope fields renamed in raw so that the payload's own fields can sit beside them
_ENVELOPE_RENAMES = {"id": "eventId"}
# a translated object's `translations` and the key that replaces it (see `prepare_row`)
_TRANSLATIONS = "translations"
_TRANSLATIONS_KEY = "translationsKey"
# keys whose columns dlt types as timestamps (settings.TIMESTAMP_COLUMNS_REGEX after dlt's
# snake_case); their ISO strings are parsed here, ~15x faster than dlt's normalizer does it
_TIMESTAMP_KEYS = frozenset(
    ("createdAt", "updatedAt", "deletedAt", "startDate", "endDate")
    + ("created_at", "updated_at", "deleted_at", "start_date", "end_date")
)


@dataclass(frozen=True)
class Rejection:
    """Why a record cannot be loaded: a stable reason code and a human-readable detail."""

    reason: str
    detail: str


def _check_required_string(record: dict[str, Any], field: str, where: str) -> Rejection | None:
    if field not in record or record[field] is None:
        return Rejection(s.MISSING_FIELD, f"required field {where}{field} is missing")
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, str | int):
        return Rejection(s.WRONG_TYPE, f"{where}{field} must be a string, got {_kind(value)}")
    if isinstance(value, int):
        if where:  # nested ids may be numbers; envelope fields must be strings
            return None
        return Rejection(s.WRONG_TYPE, f"{where}{field} must be a string, got a number")
    if len(value) == 0:
        return Rejection(s.EMPTY_FIELD, f"{where}{field} is an empty string")
    return None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def validate(record: Any) -> Rejection | None:
    """Return why `record` breaks the envelope rules of the spec, or None when it is loadable."""
    if not isinstance(record, dict):
        return Rejection(s.NOT_AN_OBJECT, f"record is {_kind(record)}, not a JSON object")
    for field in s.REQUIRED_STRING_FIELDS:
        if problem := _check_required_string(record, field, ""):
            return problem
    if "data" not in record or record["data"] is None:
        return Rejection(s.MISSING_FIELD, "required field data is missing")
    data = record["data"]
    if not isinstance(data, dict):
        return Rejection(s.WRONG_TYPE, f"data must be an object, got {_kind(data)}")
    entity = record["entity"]
    if entity not in s.ENTITY_TABLES:
        return Rejection(s.UNKNOWN_ENTITY, f"unknown entity {entity[:100]!r}")
    if entity == "Callback Request":
        payload = data.get("callbackRequest")
        if payload is None:
            return Rejection(s.MISSING_FIELD, "required field data.callbackRequest is missing")
        if not isinstance(payload, dict):
            return Rejection(
                s.WRONG_TYPE, f"data.callbackRequest must be an object, got {_kind(payload)}"
            )
        return _check_required_string(payload, "id", "data.callbackRequest.")
    return None


def _prefixed(key: str, taken: dict[str, Any], prefix: str) -> str:
    """Keep a payload field that collides with an envelope column under a prefixed name."""
    return f"{prefix}_{key}" if key in taken else key


def _id_text(value: Any) -> str:
    """A payload id that is not a string, as text: a number as its digits, anything else (an
    appointment's id is not validated) as its JSON text, so the warehouse can key by it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def to_raw_row(record: dict[str, Any], source_file: str, position: int) -> tuple[str, dict]:
    """Flatten a valid record into (raw table, row): envelope beside the entity's own fields.

    The payload's `id` becomes `<entity>Id`; other keys of `data` (an appointment's `message`,
    unknown extras) become columns too, so nothing is lost. Keys stay camelCase here: dlt's
    naming convention turns them into snake_case.
    """
    entity = record["entity"]
    table = s.ENTITY_TABLES[entity]
    payload_key, id_name = s.ENTITY_PAYLOADS[entity]
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key != "data":
            row[_ENVELOPE_RENAMES.get(key, key)] = value
    data = dict(record["data"])
    row["eventType"] = data.pop("eventType", None)
    payload = data.pop(payload_key, None)
    row["_sourceFile"] = source_file
    row["_sourcePosition"] = position
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "id":
                row[id_name] = value if isinstance(value, str) or value is None else _id_text(value)
            else:
                row[_prefixed(key, row, payload_key)] = value
    elif payload is not None:
        data[payload_key] = payload
    for key, value in data.items():
        row[_prefixed(key, row, "data")] = value
    return table, row


def translations_key(translations: dict[str, Any]) -> str:
    """The content key of a translations object: equal content (whatever its key order), equal
    key. 16 bytes of BLAKE2b, hex."""
    text = orjson.dumps(translations, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _set_key(translations: Any) -> str | None:
    """The key of a translations object; None for anything else (kept as delivered)."""
    if type(translations) is not dict:
        return None
    try:
        return translations_key(translations)
    except orjson.JSONEncodeError:  # not expected of a parsed, depth-checked record
        return None


def parse_timestamp(value: str) -> datetime | str:
    """An ISO 8601 date and time with a UTC offset (`2024-05-01T09:30:00.123Z`) as an aware
    UTC datetime, the value dlt's own parser gives; anything else unchanged, for dlt to parse
    or to keep as text as before."""
    if len(value) < 20 or value[10] != "T" or value[4] != "-":
        return value
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:  # no offset: left to dlt
            return value
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return value


def prepare_row(row: dict[str, Any], seen: set[str]) -> list[dict[str, Any]]:
    """Prepare a raw row for dlt, in place, in one walk: parse its timestamps (see
    `parse_timestamp`; only under the keys dlt types as timestamps) and replace every
    `translations` object anywhere in it by its content key.

    An object's `translations` (a JSON object: `{name: [{language, value}], ...}`) gives way to
    `translationsKey` (dlt names it `translations_key`), and the object itself is returned as
    a translation set row `{..., translationsKey}` unless its key is in `seen` (it is added),
    so each distinct set is stored once per run, in `raw.translation_sets`. A `translations`
    that is not an object stays where it is. The row must be valid and serializable (see
    `source._problem`, which rejects records nested too deeply first); nested lists and
    objects are walked without recursion.
    """
    new_sets: list[dict[str, Any]] = []
    pending: list[Any] = [row]
    pop, push = pending.pop, pending.append
    while pending:
        node = pop()
        if type(node) is list:
            for value in node:
                if type(value) is dict or type(value) is list:
                    push(value)
            continue
        for name in _TIMESTAMP_KEYS.intersection(node):
            if type(value := node[name]) is str:
                node[name] = parse_timestamp(value)
        if _TRANSLATIONS in node and (key := _set_key(node[_TRANSLATIONS])) is not None:
            translations = node.pop(_TRANSLATIONS)
            node[_TRANSLATIONS_KEY] = key
            if key not in seen:
                seen.add(key)
                new_sets.append({**translations, _TRANSLATIONS_KEY: key})
        for value in node.values():
            if type(value) is dict or type(value) is list:
                push(value)
    return new_sets
