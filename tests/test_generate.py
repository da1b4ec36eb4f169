"""Tests of the archive generator: determinism, shapes, and the manifest against a read-back."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.generate import main

SPEC_EXAMPLES = (
    Path(__file__).parent / "fixtures" / "callback-request-create.example.json",
    Path("/work/shared/spec/callback-request-create.example.json"),
)
ENVELOPE = ("id", "correlationId", "entity", "version", "webhookConfigurationId")
ENTITY_PAYLOAD = {"Callback Request": "callbackRequest", "Appointment": "appointment"}
CLOSING = {"CLOSED", "COMPLETED", "CANCELLED"}
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BOM = b"\xef\xbb\xbf"
EVENT_SUFFIXES = (".jsonl", ".ndjson", ".json")

# compact copy of the spec's callback-request-create.example.json
EXAMPLE_JSON = (
    '{"id":"string","correlationId":"string","entity":"Callback Request","version":"string","'
    'webhookConfigurationId":"string","data":{"eventType":"string","callbackRequest":{"id":"1'
    '23","status":"string","subject":{"id":"123","externalId":"ABCD1234","enabledForCustomerU'
    'se":true,"enabledForInternalUse":true,"order":5,"cancellationByAgentForm":{"id":"123"},"'
    'cancellationByCustomerForm":{"id":"123"},"completionByAgentForm":{"id":"123"},"questionn'
    'aireForm":{"id":"123"},"subjectGroup":{"id":"123","externalId":"ABCD1234","order":5,"col'
    'or":"string","image":"string","translations":{"name":[{"language":"string","value":"stri'
    'ng"}]},"createdAt":"2022-08-17T19:05:21.362Z","updatedAt":"2022-08-17T19:05:21.362Z","de'
    'letedAt":"2022-08-17T19:05:21.362Z"},"translations":{"name":[{"language":"string","value'
    '":"string"}],"description":[{"language":"string","value":"string"}],"instructions":[{"la'
    'nguage":"string","value":"string"}]},"createdAt":"2022-08-17T19:05:21.362Z","updatedAt":'
    '"2022-08-17T19:05:21.362Z","deletedAt":"2022-08-17T19:05:21.362Z"},"office":{"id":"123",'
    '"active":true,"email":"string","externalId":"ABCD1234","phoneNumber":"string","timeZone"'
    ':"string","usesIndependentAgents":true,"virtual":true,"location":{"postalCode":"string",'
    '"countryCode":"string","geolocation":{"latitude":51.0479466,"longitude":3.6912248},"tran'
    'slations":{"city":[{"language":"string","value":"string"}],"street1":[{"language":"strin'
    'g","value":"string"}],"street2":[{"language":"string","value":"string"}],"state":[{"lang'
    'uage":"string","value":"string"}]}},"translations":{"name":[{"language":"string","value"'
    ':"string"}],"description":[{"language":"string","value":"string"}],"directions":[{"langu'
    'age":"string","value":"string"}],"parkingInfo":[{"language":"string","value":"string"}]}'
    ',"createdAt":"2022-08-17T19:05:21.362Z","updatedAt":"2022-08-17T19:05:21.362Z","deletedA'
    't":"2022-08-17T19:05:21.362Z"},"participants":[{"role":"string","type":"string","created'
    'At":"2022-08-17T19:05:21.362Z","employee":{"id":"123","communicationEmail":"string","ema'
    'il":"string","externalId":"ABCD1234","firstName":"string","lastName":"string","language"'
    ':"string","onlinePlanning":true,"phoneNumber":"string","profilePictureUrl":"string","sta'
    'ticVideoUrl":"string","translations":{"function":[{"language":"string","value":"string"}'
    ']},"availableRoles":["string"],"status":"string","timeZone":"string","createdAt":"2022-0'
    '8-17T19:05:21.362Z","updatedAt":"2022-08-17T19:05:21.362Z","deletedAt":"2022-08-17T19:05'
    ':21.362Z"},"customer":{"id":"123","company":"string","customerNumber":"string","email":"'
    'string","existing":true,"externalId":"ABCD1234","firstName":"string","lastName":"string"'
    ',"language":"string","phoneNumber":"string","timeZone":"string","location":{"postalCode"'
    ':"string","countryCode":"string","geolocation":{"latitude":51.0479466,"longitude":3.6912'
    '248},"translations":{"city":[{"language":"string","value":"string"}],"street1":[{"langua'
    'ge":"string","value":"string"}],"street2":[{"language":"string","value":"string"}],"stat'
    'e":[{"language":"string","value":"string"}]}}},"cancelUrl":"string","editUrl":"string","'
    'inviteUrl":"string","declineUrl":"string","office365CalendarUrl":"string","googleCalenda'
    'rUrl":"string","icalUrl":"string"}],"answers":[{"id":"123","form":{"id":"123"},"question'
    '":{"id":"123","externalId":"ABCD1234","order":5,"translations":{"label":[{"language":"st'
    'ring","value":"string"}]},"createdAt":"2022-08-17T19:05:21.362Z","updatedAt":"2022-08-17'
    'T19:05:21.362Z","deletedAt":"2022-08-17T19:05:21.362Z"},"answerType":"string","value":"s'
    'tring","selectedAnswerOptions":[{"id":"123","externalId":"ABCD1234","value":"string","cr'
    'eatedAt":"2022-08-17T19:05:21.362Z","updatedAt":"2022-08-17T19:05:21.362Z","deletedAt":"'
    '2022-08-17T19:05:21.362Z"}],"files":[{"id":"123"}],"createdAt":"2022-08-17T19:05:21.362Z'
    '","updatedAt":"2022-08-17T19:05:21.362Z"}],"location":{"postalCode":"string","countryCod'
    'e":"string","geolocation":{"latitude":51.0479466,"longitude":3.6912248},"translations":{'
    '"city":[{"language":"string","value":"string"}],"street1":[{"language":"string","value":'
    '"string"}],"street2":[{"language":"string","value":"string"}],"state":[{"language":"stri'
    'ng","value":"string"}]}},"listing":{"id":"123","active":true,"externalId":"string","time'
    'Zone":"string","tags":["string"],"location":{"postalCode":"string","countryCode":"string'
    '","geolocation":{"latitude":51.0479466,"longitude":3.6912248},"translations":{"city":[{"'
    'language":"string","value":"string"}],"street1":[{"language":"string","value":"string"}]'
    ',"street2":[{"language":"string","value":"string"}],"state":[{"language":"string","value'
    '":"string"}]}},"translations":{"name":[{"language":"string","value":"string"}],"descript'
    'ion":[{"language":"string","value":"string"}]},"createdAt":"2022-08-17T19:05:21.362Z","u'
    'pdatedAt":"2022-08-17T19:05:21.362Z","deletedAt":"2022-08-17T19:05:21.362Z"},"leadSegmen'
    't":{"id":"123","code":"string","description":"string","createdAt":"2022-08-17T19:05:21.3'
    '62Z","updatedAt":"2022-08-17T19:05:21.362Z","deletedAt":"2022-08-17T19:05:21.362Z"},"mee'
    'tingType":"string","externalId":"ABCD1234","internalNotes":"string","createdAt":"2022-08'
    '-17T19:05:21.362Z","createdById":"string","createdByType":"string","createdFrom":"string'
    '","updatedAt":"2022-08-17T19:05:21.362Z","updatedById":"string","updatedByType":"string"'
    ',"updatedFrom":"string"}}}'
)


# -- a reference reader of the archive -------------------------------------------------------------
@dataclass
class Record:
    file: str
    where: dict[str, int]
    raw: bytes | None  # the line's bytes for line files
    obj: Any
    reason: str | None  # None: a good event


def classify(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return "not_an_object"
    if any(k not in obj for k in (*ENVELOPE, "data")):
        return "missing_field"
    if any(not isinstance(obj[k], str) for k in ENVELOPE) or not isinstance(obj["data"], dict):
        return "wrong_type"
    if any(obj[k] == "" for k in ENVELOPE):
        return "empty_field"
    if obj["entity"] not in ENTITY_PAYLOAD:
        return "unknown_entity"
    if not isinstance(obj["data"].get(ENTITY_PAYLOAD[obj["entity"]]), dict):
        return "wrong_type"
    return None


def read_file(path: Path, rel: str) -> list[Record]:
    data = path.read_bytes()
    name = path.name
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        name = name[:-3]
    out = []
    if name.endswith((".jsonl", ".ndjson")):
        if data.startswith(BOM):
            data = data[len(BOM) :]
        for number, line in enumerate(data.split(b"\n"), 1):
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                out.append(Record(rel, {"line": number}, line, None, "invalid_encoding"))
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                out.append(Record(rel, {"line": number}, line, None, "invalid_json"))
                continue
            out.append(Record(rel, {"line": number}, line, obj, classify(obj)))
    else:
        doc = json.loads(data.decode("utf-8"))
        items = doc if isinstance(doc, list) else [doc]
        for index, obj in enumerate(items):
            out.append(Record(rel, {"index": index}, None, obj, classify(obj)))
    return out


@dataclass
class Archive:
    root: Path
    manifest: dict[str, Any]
    records: list[Record]
    event_files: list[str]
    other_files: list[str]

    @property
    def good(self) -> list[Record]:
        return [r for r in self.records if r.reason is None]


def read_archive(root: Path, manifest_path: Path) -> Archive:
    records: list[Record] = []
    event_files, other_files = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.name.removesuffix(".gz").endswith(EVENT_SUFFIXES):
            event_files.append(rel)
            records.extend(read_file(path, rel))
        else:
            other_files.append(rel)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return Archive(root, manifest, records, event_files, other_files)


def generate(out: Path, *args: str) -> Path:
    assert main(["--out", str(out), "-q", *args]) == 0
    return Path(str(out) + ".manifest.json")


@pytest.fixture(scope="module")
def corrupt_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    out = tmp_path_factory.mktemp("gen") / "archive"
    manifest = generate(out, "--events", "2000", "--seed", "7", "--corrupt")
    return read_archive(out, manifest)


@pytest.fixture(scope="module")
def clean_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    out = tmp_path_factory.mktemp("gen") / "archive"
    manifest = generate(
        out, "--events", "2000", "--seed", "3", "--start", "2026-03-02", "--days", "20"
    )
    return read_archive(out, manifest)


def final_states(archive: Archive) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for rec in archive.good:
        if rec.obj["entity"] != "Callback Request":
            continue
        cr = rec.obj["data"]["callbackRequest"]
        seen = latest.get(cr["id"])
        if seen is None or cr["updatedAt"] > seen["updatedAt"]:
            latest[cr["id"]] = cr
    return latest


# -- determinism -----------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    args = ("--events", "600", "--corrupt", "--gzip-share", "0.5")
    m1 = generate(tmp_path / "a", "--seed", "11", *args)
    m2 = generate(tmp_path / "b", "--seed", "11", *args)
    m3 = generate(tmp_path / "c", "--seed", "12", *args)
    a, b, c = snapshot(tmp_path / "a"), snapshot(tmp_path / "b"), snapshot(tmp_path / "c")
    assert a == b
    assert m1.read_bytes() == m2.read_bytes()
    assert a != c
    assert m1.read_bytes() != m3.read_bytes()
    for name, data in a.items():  # deterministic gzip header: mtime 0
        if name.endswith(".gz"):
            assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"


# -- manifest against the read-back ----------------------------------------------------------------
@pytest.mark.parametrize("which", ["corrupt_archive", "clean_archive"])
def test_manifest_matches_archive(which: str, request: pytest.FixtureRequest) -> None:
    archive: Archive = request.getfixturevalue(which)
    m = archive.manifest
    good = archive.good
    ids = Counter(r.obj["id"] for r in good)
    assert m["deliveries_written"] == len(archive.records) == m["events_requested"]
    assert m["distinct_events"] == len(ids)
    assert m["duplicate_deliveries"] == len(good) - len(ids)
    by_id = {r.obj["id"]: r.obj for r in good}
    entities = Counter(o["entity"] for o in by_id.values())
    assert m["callback_request_events"] == entities["Callback Request"]
    assert m["appointment_events"] == entities["Appointment"]
    assert m["events_by_event_type"] == dict(
        Counter(o["data"]["eventType"] for o in by_id.values())
    )
    appointments = {
        o["data"]["appointment"]["id"]: o for o in by_id.values() if o["entity"] == "Appointment"
    }
    assert m["appointments"] == len(appointments)
    linked = {
        o["data"]["appointment"]["id"]
        for o in by_id.values()
        if o["entity"] == "Appointment" and "callbackRequest" in o["data"]["appointment"]
    }
    assert m["appointments_linked_to_request"] == len(linked)

    finals = final_states(archive)
    assert m["callback_requests"] == len(finals)
    statuses = Counter(cr["status"] for cr in finals.values())
    assert m["final_status_counts"] == dict(statuses)
    assert m["closed_requests"] == sum(n for s, n in statuses.items() if s in CLOSING)
    assert m["requests_by_office"] == dict(Counter(cr["office"]["id"] for cr in finals.values()))
    assert m["requests_by_meeting_type"] == dict(
        Counter(cr["meetingType"] for cr in finals.values())
    )
    assert m["answers_in_final_state"] == sum(len(cr["answers"]) for cr in finals.values())
    assert m["participants_in_final_state"] == sum(
        len(cr["participants"]) for cr in finals.values()
    )
    assert m["first_created_at"] == min(cr["createdAt"] for cr in finals.values())
    assert m["last_created_at"] == max(cr["createdAt"] for cr in finals.values())

    reasons = Counter(r.reason for r in archive.records if r.reason is not None)
    assert {k: v for k, v in m["rejected_by_reason"].items() if v} == dict(reasons)
    assert m["rejected_total"] == sum(reasons.values())
    located = sorted(
        (r.file, r.where.get("line", r.where.get("index")), r.reason)
        for r in archive.records
        if r.reason is not None
    )
    listed = sorted(
        (x["file"], x.get("line", x.get("index")), x["reason"]) for x in m["rejected_records"]
    )
    assert located == listed

    formats = Counter()
    for name in archive.event_files:
        for fmt in ("jsonl.gz", "ndjson.gz", "json.gz", "jsonl", "ndjson", "json"):
            if name.endswith("." + fmt):
                formats[fmt] += 1
                break
    assert m["files_by_format"] == dict(formats)
    assert m["files_total"] == len(archive.event_files)
    assert m["skipped_files"] == len(archive.other_files)
    assert m["skipped_file_paths"] == archive.other_files


def test_corrupt_archive_has_every_reason(corrupt_archive: Archive) -> None:
    m = corrupt_archive.manifest
    expected = {
        "invalid_json",
        "invalid_encoding",
        "not_an_object",
        "missing_field",
        "empty_field",
        "wrong_type",
        "unknown_entity",
    }
    assert set(m["rejected_by_reason"]) == expected
    assert all(n > 0 for n in m["rejected_by_reason"].values())
    kinds = m["corrupt_records_by_kind"]
    assert sum(k["count"] for k in kinds.values()) == m["rejected_total"]
    assert kinds["truncated_tail"]["reason"] == "invalid_json"
    assert m["skipped_files"] == 1
    # a truncated tail is the last line of its (uncompressed) file, without a newline
    for row in m["rejected_records"]:
        if row["kind"] == "truncated_tail":
            data = (corrupt_archive.root / row["file"]).read_bytes()
            assert not data.endswith(b"\n")
            assert len(data.split(b"\n")) == row["line"]
    # corrupt records never reuse the id of a good event
    good_ids = {r.obj["id"] for r in corrupt_archive.good}
    bad_ids = {
        r.obj.get("id")
        for r in corrupt_archive.records
        if r.reason is not None and isinstance(r.obj, dict)
    }
    assert not good_ids & bad_ids
    for r in corrupt_archive.records:
        if r.reason == "invalid_encoding":
            assert b"\xff\xfe" in r.raw or b"Fran\xe7ois" in r.raw


def test_clean_archive_has_no_corruption(clean_archive: Archive) -> None:
    m = clean_archive.manifest
    assert m["rejected_total"] == 0 and m["rejected_by_reason"] == {}
    assert m["skipped_files"] == 0 and not clean_archive.other_files
    assert all(r.reason is None for r in clean_archive.records)
    assert m["first_created_at"] >= "2026-03-02" and m["last_created_at"] < "2026-03-22"


# -- event shape -----------------------------------------------------------------------------------
def example() -> dict[str, Any]:
    embedded = json.loads(EXAMPLE_JSON)
    for path in SPEC_EXAMPLES:  # the embedded copy must match the spec wherever it is found
        if path.exists():
            assert json.loads(path.read_text(encoding="utf-8")) == embedded
    return embedded


def check_shape(actual: Any, spec: Any, path: str) -> None:
    """`actual` has exactly the keys of `spec`, recursively; null is allowed for any value."""
    if actual is None:
        return
    if isinstance(spec, dict):
        assert isinstance(actual, dict), path
        assert set(actual) == set(spec), f"{path}: {set(actual) ^ set(spec)}"
        for key, sub in spec.items():
            check_shape(actual[key], sub, f"{path}.{key}")
    elif isinstance(spec, list):
        assert isinstance(actual, list), path
        for i, item in enumerate(actual):
            check_shape(item, spec[0], f"{path}[{i}]")
    elif isinstance(spec, bool):
        assert isinstance(actual, bool), path
    elif isinstance(spec, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), path
    else:
        assert isinstance(actual, str), path
        if path.endswith(("At", "Date")):
            assert ISO_MS.match(actual), f"{path}: {actual}"


def test_every_good_event_has_the_documented_shape(clean_archive: Archive) -> None:
    spec = example()
    seen_translation_langs: Counter[int] = Counter()
    for rec in clean_archive.good:
        event = rec.obj
        for key in ENVELOPE:
            assert isinstance(event[key], str) and event[key], key
        if event["entity"] == "Callback Request":
            check_shape(event, spec, "event")
            cr = event["data"]["callbackRequest"]
            assert event["data"]["eventType"].startswith("Callback-request.")
            for p in cr["participants"]:
                assert p["role"] in {"PRIMARY", "SECONDARY"}
                assert p["type"] in {"CUSTOMER", "EMPLOYEE"}
                assert p[p["type"].lower()] is not None
                if p["employee"]:
                    assert set(p["employee"]["availableRoles"]) <= {
                        "ADMIN",
                        "AGENT",
                        "CENTRAL_PLANNER",
                        "OFFICE_MANAGER",
                    }
            assert cr["meetingType"] in {"OFFICE", "ON_LOCATION", "PHONE", "VIDEO"}
            seen_translation_langs[len(cr["subject"]["translations"]["name"])] += 1
        else:
            assert event["entity"] == "Appointment"
            assert set(event["data"]) == {"eventType", "message", "appointment"}
            appt = event["data"]["appointment"]
            assert {"id", "status", "startDate", "endDate", "meetingType", "office", "subject",
                    "participants", "createdAt", "updatedAt"} <= set(appt)  # fmt: skip
            assert ISO_MS.match(appt["startDate"]) and ISO_MS.match(appt["updatedAt"])
    # partial translations: some names exist in one language only, others in several
    assert seen_translation_langs[1] > 0 and len(seen_translation_langs) > 1


def test_every_file_shape_is_present(corrupt_archive: Archive) -> None:
    m = corrupt_archive.manifest
    assert set(m["files_by_format"]) == {
        "jsonl",
        "ndjson",
        "json",
        "jsonl.gz",
        "ndjson.gz",
        "json.gz",
    }
    found: Counter[str] = Counter()
    for rel in corrupt_archive.event_files:
        data = (corrupt_archive.root / rel).read_bytes()
        if rel.endswith(".gz"):
            data = gzip.decompress(data)
        if rel.removesuffix(".gz").endswith(".json"):
            doc = json.loads(data)
            found["json_array" if isinstance(doc, list) else "json_single"] += 1
            found["json_indented"] += b"\n  " in data
            continue
        found["bom"] += data.startswith(BOM)
        found["crlf"] += b"\r\n" in data
        found["blank_lines"] += bool(re.search(rb"(^|\n)\r?\n", data.removeprefix(BOM)))
        found["no_final_newline"] += not data.endswith(b"\n")
    for shape in ("json_array", "json_single", "json_indented", "bom", "crlf", "blank_lines"):
        assert found[shape] > 0, shape
    assert found["no_final_newline"] > 0
    sizes = Counter(r.file for r in corrupt_archive.records)
    assert min(sizes.values()) == 1 and max(sizes.values()) > 20
    for rel in corrupt_archive.event_files:  # folders are delivery days: YYYY/MM/DD/
        assert re.match(r"^\d{4}/\d{2}/\d{2}/[^/]+$", rel)


# -- delivery realism ------------------------------------------------------------------------------
def test_duplicates_share_identical_payload(clean_archive: Archive) -> None:
    by_id: dict[str, list[Record]] = defaultdict(list)
    for rec in clean_archive.good:
        by_id[rec.obj["id"]].append(rec)
    dups = {k: v for k, v in by_id.items() if len(v) > 1}
    share = clean_archive.manifest["duplicate_deliveries"] / len(clean_archive.good)
    assert 0.04 <= share <= 0.11
    files_apart = 0
    for recs in dups.values():
        assert all(r.obj == recs[0].obj for r in recs)
        raws = {r.raw for r in recs if r.raw is not None}
        assert len(raws) <= 1  # byte-identical lines
        files_apart += len({r.file for r in recs}) > 1
    assert files_apart > 0
    assert any(len({r.file.rsplit("/", 1)[0] for r in recs}) > 1 for recs in dups.values())


def file_stamp(rec: Record) -> str:
    """The delivery time in a file name: `<prefix>-<YYYYMMDDTHHMMSSmmmZ>-<seq>.<ext>`."""
    return rec.file.rsplit("-", 2)[-2]


def test_updates_are_later_and_some_arrive_out_of_order(clean_archive: Archive) -> None:
    events: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for rec in clean_archive.good:
        if rec.obj["entity"] == "Callback Request":
            cr = rec.obj["data"]["callbackRequest"]
            events[cr["id"]][rec.obj["id"]] = (cr["updatedAt"], rec.obj["data"]["eventType"], rec)
    out_of_order = 0
    for evs in events.values():
        times = [t for t, _, _ in evs.values()]
        assert len(set(times)) == len(times)  # strictly increasing: no ties per request
        creates = [(t, r) for t, e, r in evs.values() if e == "Callback-request.create"]
        assert len(creates) == 1
        created_at, create_rec = creates[0]
        for t, e, r in evs.values():
            if e != "Callback-request.create":
                assert t > created_at
                # file names sort by delivery time: an update filed before its create
                out_of_order += file_stamp(r) < file_stamp(create_rec)
    assert out_of_order > 0


def test_realistic_content(clean_archive: Archive) -> None:
    m = clean_archive.manifest
    assert 8 <= len(m["requests_by_office"]) <= 14
    assert set(m["requests_by_meeting_type"]) == {"OFFICE", "ON_LOCATION", "PHONE", "VIDEO"}
    assert {"OPEN", "COMPLETED", "CLOSED", "CANCELLED"} <= set(m["final_status_counts"])
    share = m["appointments"] / m["callback_requests"]
    assert 0.07 <= share <= 0.25
    finals = final_states(clean_archive)
    answer_types = Counter(
        a["answerType"] for cr in finals.values() for a in cr["answers"]
    ).most_common()
    assert answer_types[0][0] == "SUBJECT_QUESTIONNAIRE" and len(answer_types) > 1
    # weekday seasonality: more requests on weekdays than on weekend days
    from datetime import datetime

    wd = Counter(
        datetime.fromisoformat(cr["createdAt"].replace("Z", "+00:00")).weekday() < 5
        for cr in finals.values()
    )
    assert wd[True] / 5 > 2 * (wd[False] / 2)


# -- command line ----------------------------------------------------------------------------------
def test_cli_refuses_non_empty_out_and_overwrites_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "arch"
    generate(out, "--events", "50")
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(out), "--events", "50", "-q"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "not empty" in err and len(err.splitlines()) == 1
    (out / "stray.txt").write_text("x")
    generate(out, "--events", "50", "--overwrite")
    assert not (out / "stray.txt").exists()
    assert (tmp_path / "arch.manifest.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--events", "0"],
        ["--events", "x"],
        ["--events", "10", "--start", "2025-13-01"],
        ["--events", "10", "--gzip-share", "2"],
        ["--events", "10", "--corrupt"],
        ["--events", "10", "--manifest", "INSIDE"],
    ],
)
def test_cli_bad_arguments_exit_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "arch"
    args = [a.replace("INSIDE", str(out / "m.json")) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(out), *args])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_small_archive_exact_count(tmp_path: Path) -> None:
    for n in (1, 7, 123):
        out = tmp_path / f"n{n}"
        manifest = generate(out, "--events", str(n), "--days", "3")
        archive = read_archive(out, manifest)
        assert len(archive.records) == n == archive.manifest["deliveries_written"]
