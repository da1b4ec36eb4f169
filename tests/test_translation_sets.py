"""The reader's split of translations objects into content-keyed sets (no dlt load)."""

from __future__ import annotations

import copy
import json

import orjson
from conftest import EXAMPLE, callback_event

from pipelines.archive.records import prepare_row, to_raw_row, translations_key


def row_of(event: dict) -> dict:
    return to_raw_row(event, "a.jsonl", 0)[1]


def test_equal_content_gives_equal_keys_whatever_the_key_order() -> None:
    a = {"name": [{"language": "en", "value": "A"}], "city": [{"language": "nl", "value": "B"}]}
    b = {"city": [{"value": "B", "language": "nl"}], "name": [{"value": "A", "language": "en"}]}
    assert translations_key(a) == translations_key(b)
    reordered = {"name": list(reversed(a["name"] + [{"language": "fr", "value": "C"}]))}
    assert translations_key(reordered) != translations_key({"name": a["name"]})
    assert len(translations_key(a)) == 32


def test_every_translations_object_is_replaced_and_each_set_returned_once() -> None:
    seen: set[str] = set()
    first = row_of(callback_event("e1"))
    sets = prepare_row(first, seen)
    text = orjson.dumps(first).decode()
    assert '"translations"' not in text  # nowhere left, participants and answers included
    assert first["office"]["translationsKey"] in seen
    assert first["participants"][0]["employee"]["translationsKey"] in seen
    assert first["answers"][0]["question"]["translationsKey"] in seen
    assert len(sets) == len(seen) == len({s["translationsKey"] for s in sets})
    office_set = next(s for s in sets if s["translationsKey"] == first["office"]["translationsKey"])
    original = EXAMPLE["data"]["callbackRequest"]["office"]["translations"]
    assert {k: v for k, v in office_set.items() if k != "translationsKey"} == original
    # the same objects in the next event: keys, but no new sets
    second = row_of(callback_event("e2"))
    assert prepare_row(second, seen) == []
    assert second["office"]["translationsKey"] == first["office"]["translationsKey"]


def test_translations_that_are_not_objects_stay_as_delivered() -> None:
    event = callback_event("e1")
    request = event["data"]["callbackRequest"]
    request["office"]["translations"] = [{"language": "en", "value": "x"}]
    request["subject"]["translations"] = "text"
    request["listing"]["translations"] = None
    row = row_of(event)
    prepare_row(row, set())
    assert row["office"]["translations"] == [{"language": "en", "value": "x"}]
    assert row["subject"]["translations"] == "text"
    assert row["listing"]["translations"] is None
    assert "translationsKey" not in row["office"]


def test_deep_records_are_walked_without_recursion() -> None:
    # as deep as the reader lets through (it rejects what orjson cannot serialize)
    inner: dict = {"translations": {"label": [{"language": "en", "value": "deep"}]}}
    node = inner
    for _ in range(120):  # 240 levels, plus the event's own
        node = {"a": [node]}
    event = callback_event("e1", extra=node)
    assert orjson.dumps(event)  # still serializable: such a record reaches the reader
    row = row_of(copy.deepcopy(event))
    sets = prepare_row(row, set())
    assert any(s.get("label") == [{"language": "en", "value": "deep"}] for s in sets)
    assert '"translations"' not in json.dumps(row, default=str)
