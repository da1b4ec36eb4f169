"""The SQL transforms against small hand-written archives with expected rows per mart."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import EXAMPLE, appointment_event, callback_event, jsonl, query, run_job, write_files

from pipelines.common.errors import ExpectedFailure
from pipelines.load.pipeline import load_archive
from pipelines.marts.runner import TRANSFORMS_DIR, build_models, discover_models, order_models
from pipelines.marts.transform_settings import TransformSettings

KEY = "test-key"
SETTINGS = TransformSettings(language_preference=("en", "nl", "fr"), pseudonymization_key=KEY)


def tr(**values: str) -> list[dict]:
    return [{"language": lang, "value": value} for lang, value in values.items()]


def participants(employee: str | None, customer: str | None) -> list[dict]:
    template = EXAMPLE["data"]["callbackRequest"]["participants"][0]
    result = []
    if employee:
        p = copy.deepcopy(template)
        p.update(role="PRIMARY", type="EMPLOYEE", customer=None)
        p["employee"].update(id=employee, firstName="Eva", lastName=f"Agent-{employee}")
        p["employee"]["translations"] = {"function": tr(nl="Adviseur", en="Advisor")}
        result.append(p)
    if customer:
        p = copy.deepcopy(template)
        p.update(role="PRIMARY", type="CUSTOMER", employee=None)
        p["customer"].update(
            id=customer,
            firstName="Jan",
            lastName="Secret",
            email=f"{customer}@mail.example",
            phoneNumber="+32 470 00 00 00",
        )
        result.append(p)
    return result


def request(
    event_id: str,
    request_id: str,
    status: str,
    updated_at: str,
    *,
    event_type: str = "Callback-request.update",
    office: str = "o1",
    subject: str = "s1",
    meeting_type: str = "PHONE",
    employee: str | None = "emp-1",
    customer: str | None = "cust-1",
    answers: int = 1,
) -> dict:
    event = callback_event(
        event_id, request_id, status=status, event_type=event_type, updated_at=updated_at
    )
    cr = event["data"]["callbackRequest"]
    cr.update(createdAt="2024-08-01T09:00:00.000Z", meetingType=meeting_type)
    cr["office"].update(id=office, updatedAt=updated_at)
    cr["office"]["translations"] = {"name": tr(nl=f"Kantoor {office}")}
    cr["subject"].update(id=subject)
    cr["subject"]["translations"] = {"name": tr(fr=f"Sujet {subject}", en=f"Subject {subject}")}
    cr["subject"]["subjectGroup"].update(id="g1")
    cr["subject"]["subjectGroup"]["translations"] = {"name": tr(de="Gruppe", fr="Groupe")}
    cr["listing"].update(id="l1", tags=["a", "b"])
    cr["participants"] = participants(employee, customer)
    answer = cr["answers"][0]
    answer["question"]["translations"] = {"label": tr(en="Why?")}
    answer["selectedAnswerOptions"] = [
        {"id": "opt1", "value": "Mortgage"},
        {"id": "opt2", "value": "Savings"},
    ]
    cr["answers"] = [dict(answer, id=f"ans-{i}", value=f"text {i}") for i in range(answers)]
    return event


def scenario() -> dict[str, bytes]:
    r1_create = request(
        "e1", "cr-1", "OPEN", "2024-08-01T09:00:00.000Z", event_type="Callback-request.create"
    )
    r1_progress = request("e2", "cr-1", "IN_PROGRESS", "2024-08-01T10:00:00.000Z")
    r1_closed = request("e3", "cr-1", "CLOSED", "2024-08-01T14:00:00.000Z", answers=2)
    r2_create = request(
        "e4",
        "cr-2",
        "OPEN",
        "2024-08-02T09:00:00.000Z",
        event_type="Callback-request.create",
        office="o2",
        meeting_type="VIDEO",
        customer="cust-2",
    )
    # same updatedAt as the create: the update wins the tie
    r2_tie = request(
        "e5",
        "cr-2",
        "ASSIGNED",
        "2024-08-02T09:00:00.000Z",
        office="o2",
        meeting_type="VIDEO",
        customer="cust-2",
    )
    return {
        # delivered out of order and twice
        "2024/08/02/late.jsonl": jsonl(r1_closed, r2_tie),
        "2024/08/01/early.jsonl": jsonl(r1_create, r1_progress, r1_create),
        "2024/08/03/again.json": json.dumps([r1_closed, r2_create]).encode(),
        "2024/08/03/appointments.jsonl": jsonl(
            appointment_event("a1", "ap-1", "cr-1"), appointment_event("a2", "ap-2", "cr-99")
        ),
    }


@pytest.fixture
def warehouse(archive: Path, database: Path) -> Path:
    write_files(archive, scenario())
    load_archive(str(archive), database)
    build_models(database, SETTINGS)
    return database


def rows(database: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def key(customer_id: str) -> str:
    return hmac.new(KEY.encode(), customer_id.encode(), hashlib.sha256).hexdigest()[:32]


def test_fct_callback_requests_current_state(warehouse: Path) -> None:
    got = rows(
        warehouse,
        "select callback_request_id, status, meeting_type, office_id, office_name, subject_name,"
        " subject_group_name, listing_id, events_count, participants_count, answers_count,"
        " employee_key, customer_key, is_closed, closed_at, time_to_close_seconds, first_seen_at,"
        " last_seen_at from marts.fct_callback_requests order by 1",
    )
    assert got == [
        {
            "callback_request_id": "cr-1",
            "status": "CLOSED",
            "meeting_type": "PHONE",
            "office_id": "o1",
            "office_name": "Kantoor o1",  # only Dutch available
            "subject_name": "Subject s1",  # English preferred over French
            "subject_group_name": "Groupe",  # neither preferred: fr before de by preference
            "listing_id": "l1",
            "events_count": 3,
            "participants_count": 2,
            "answers_count": 2,
            "employee_key": "emp-1",
            "customer_key": key("cust-1"),
            "is_closed": True,
            "closed_at": ts("2024-08-01 14:00:00"),
            "time_to_close_seconds": 5 * 3600,
            "first_seen_at": ts("2024-08-01 09:00:00"),
            "last_seen_at": ts("2024-08-01 14:00:00"),
        },
        {
            "callback_request_id": "cr-2",
            "status": "ASSIGNED",
            "meeting_type": "VIDEO",
            "office_id": "o2",
            "office_name": "Kantoor o2",
            "subject_name": "Subject s1",
            "subject_group_name": "Groupe",
            "listing_id": "l1",
            "events_count": 2,
            "participants_count": 2,
            "answers_count": 1,
            "employee_key": "emp-1",
            "customer_key": key("cust-2"),
            "is_closed": False,
            "closed_at": None,
            "time_to_close_seconds": None,
            "first_seen_at": ts("2024-08-02 09:00:00"),
            "last_seen_at": ts("2024-08-02 09:00:00"),
        },
    ]


def test_status_changes(warehouse: Path) -> None:
    got = query(
        warehouse,
        "select callback_request_id, change_index, from_status, to_status, changed_at,"
        " time_in_previous_status_seconds from marts.fct_callback_request_status_changes order by 1, 2",
    )
    assert got == [
        ("cr-1", 1, None, "OPEN", ts("2024-08-01 09:00:00"), None),
        ("cr-1", 2, "OPEN", "IN_PROGRESS", ts("2024-08-01 10:00:00"), 3600),
        ("cr-1", 3, "IN_PROGRESS", "CLOSED", ts("2024-08-01 14:00:00"), 4 * 3600),
        ("cr-2", 1, None, "OPEN", ts("2024-08-02 09:00:00"), None),
        ("cr-2", 2, "OPEN", "ASSIGNED", ts("2024-08-02 09:00:00"), 0),
    ]


def build(archive: Path, database: Path, files: dict[str, bytes]) -> Path:
    write_files(archive, files)
    load_archive(str(archive), database)
    build_models(database, SETTINGS)
    return database


def repeating_statuses() -> list[dict]:
    """OPEN, OPEN again, ASSIGNED, ASSIGNED again, CLOSED: three changes, two repeats."""
    return [
        request(
            "r1", "cr-1", "OPEN", "2024-08-01T09:00:00.000Z", event_type="Callback-request.create"
        ),
        request("r2", "cr-1", "OPEN", "2024-08-01T09:30:00.000Z"),
        request("r3", "cr-1", "ASSIGNED", "2024-08-01T10:00:00.000Z"),
        request("r4", "cr-1", "ASSIGNED", "2024-08-01T11:00:00.000Z"),
        request("r5", "cr-1", "CLOSED", "2024-08-01T12:30:00.000Z"),
    ]


@pytest.mark.parametrize(
    "delivery",
    [
        pytest.param(lambda e: {"a.jsonl": jsonl(*e)}, id="in-order"),
        pytest.param(lambda e: {"a.jsonl": jsonl(*reversed(e))}, id="reversed"),
        pytest.param(  # later events in earlier files, a repeat delivered twice
            lambda e: {
                "1.jsonl": jsonl(e[4], e[1]),
                "2.json": json.dumps([e[3], e[0]]).encode(),
                "3.jsonl": jsonl(e[2], e[1]),
            },
            id="shuffled-with-redelivery",
        ),
    ],
)
def test_status_changes_skip_events_that_repeat_the_previous_status(
    archive: Path, database: Path, delivery
) -> None:
    build(archive, database, delivery(repeating_statuses()))
    got = query(
        database,
        "select callback_request_id, change_index, from_status, to_status, changed_at,"
        " time_in_previous_status_seconds, event_id, is_initial_status"
        " from marts.fct_callback_request_status_changes order by 1, 2",
    )
    assert got == [
        ("cr-1", 1, None, "OPEN", ts("2024-08-01 09:00:00"), None, "r1", True),
        ("cr-1", 2, "OPEN", "ASSIGNED", ts("2024-08-01 10:00:00"), 3600, "r3", False),
        ("cr-1", 3, "ASSIGNED", "CLOSED", ts("2024-08-01 12:30:00"), 9000, "r5", False),
    ]
    assert query(database, "select events_count, status from marts.fct_callback_requests") == [
        (5, "CLOSED")
    ]


def test_closed_at_is_the_first_closing_and_is_closed_the_current_state(
    archive: Path, database: Path
) -> None:
    """Closing statuses match whatever their case (the default list is upper case)."""
    created = "Callback-request.create"
    closed_twice = [  # closed, reopened, closed again (lower case): closed since the first
        request("a1", "cr-a", "OPEN", "2024-08-01T09:00:00.000Z", event_type=created),
        request("a2", "cr-a", "CLOSED", "2024-08-01T11:00:00.000Z"),
        request("a3", "cr-a", "OPEN", "2024-08-01T12:00:00.000Z"),
        request("a4", "cr-a", "completed", "2024-08-01T15:00:00.000Z"),
    ]
    reopened = [  # closed (lower case), then reopened: open now, closed_at kept
        request("b1", "cr-b", "OPEN", "2024-08-01T09:00:00.000Z", event_type=created),
        request("b2", "cr-b", "closed", "2024-08-01T10:00:00.000Z"),
        request("b3", "cr-b", "OPEN", "2024-08-01T13:00:00.000Z"),
    ]
    never = [  # a status that merely contains a closing word does not close
        request("c1", "cr-c", "OPEN", "2024-08-01T09:00:00.000Z", event_type=created),
        request("c2", "cr-c", "NOT_CLOSED", "2024-08-01T09:30:00.000Z"),
    ]
    # delivered newest first, so that neither file order nor load order can stand in for time
    events = sorted(
        closed_twice + reopened + never,
        key=lambda e: e["data"]["callbackRequest"]["updatedAt"],
        reverse=True,
    )
    build(archive, database, {"a.jsonl": jsonl(*events)})
    got = query(
        database,
        "select callback_request_id, status, is_closed, closed_at, time_to_close_seconds,"
        " time_to_close_hours, created_at from marts.fct_callback_requests order by 1",
    )
    created_at = ts("2024-08-01 09:00:00")
    assert got == [
        ("cr-a", "completed", True, ts("2024-08-01 11:00:00"), 7200, 2.0, created_at),
        ("cr-b", "OPEN", False, ts("2024-08-01 10:00:00"), 3600, 1.0, created_at),
        ("cr-c", "NOT_CLOSED", False, None, None, None, created_at),
    ]


def test_answers_of_current_state(warehouse: Path) -> None:
    got = query(
        warehouse,
        "select callback_request_id, answer_index, answer_id, question_label, value,"
        " selected_options, selected_option_count from marts.fct_callback_request_answers order by 1, 2",
    )
    assert got == [
        ("cr-1", 0, "ans-0", "Why?", "text 0", ["Mortgage", "Savings"], 2),
        ("cr-1", 1, "ans-1", "Why?", "text 1", ["Mortgage", "Savings"], 2),
        ("cr-2", 0, "ans-0", "Why?", "text 0", ["Mortgage", "Savings"], 2),
    ]


def test_dimensions(warehouse: Path) -> None:
    assert query(warehouse, "select office_id, name from marts.dim_offices order by 1") == [
        ("o1", "Kantoor o1"),
        ("o2", "Kantoor o2"),
    ]
    assert query(
        warehouse,
        "select subject_id, name, subject_group_id, subject_group_name from marts.dim_subjects",
    ) == [("s1", "Subject s1", "g1", "Groupe")]
    assert query(warehouse, "select listing_id, tags from marts.dim_listings") == [
        ("l1", ["a", "b"])
    ]
    assert query(
        warehouse, "select employee_key, display_name, function from marts.dim_employees"
    ) == [("emp-1", "Eva Agent-emp-1", "Advisor")]
    assert query(
        warehouse,
        "select customer_key, callback_requests_count from marts.dim_customers order by 2, 1",
    ) == sorted([(key("cust-1"), 1), (key("cust-2"), 1)], key=lambda r: (r[1], r[0]))


def test_daily_aggregate(warehouse: Path) -> None:
    got = query(
        warehouse,
        "select day::varchar, office_id, meeting_type, created, closed, open_at_end_of_day,"
        " median_time_to_close_hours from marts.agg_callback_requests_daily order by 1, 2",
    )
    assert got == [
        ("2024-08-01", "o1", "PHONE", 1, 1, 0, 5.0),
        ("2024-08-01", "o2", "VIDEO", 1, 0, 1, None),  # cr-2 createdAt is 2024-08-01 too
        ("2024-08-02", "o2", "VIDEO", 0, 0, 1, None),
    ]


def test_appointments_link_to_known_requests(warehouse: Path) -> None:
    assert query(
        warehouse,
        "select appointment_id, status, callback_request_id, callback_request_ref"
        " from marts.fct_appointments order by 1",
    ) == [("ap-1", "ACCEPTED", "cr-1", "cr-1"), ("ap-2", "ACCEPTED", None, "cr-99")]


def test_marts_hold_no_customer_personal_data(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
        for (table,) in tables:
            text = json.dumps(con.execute(f"select * from marts.{table}").fetchall(), default=str)
            for secret in ("Secret", "cust-1@mail.example", "+32 470", "cust-1", "Jan"):
                assert secret not in text, (table, secret)


def test_language_preference_is_configurable(archive: Path, database: Path) -> None:
    write_files(archive, scenario())
    load_archive(str(archive), database)
    build_models(database, TransformSettings(language_preference=("fr",), pseudonymization_key=KEY))
    assert query(database, "select distinct subject_name from marts.fct_callback_requests") == [
        ("Sujet s1",)
    ]


def test_failed_check_keeps_previous_marts(warehouse: Path, tmp_path: Path) -> None:
    before = query(warehouse, "select count(*) from marts.fct_callback_requests")
    broken = tmp_path / "transforms"
    shutil.copytree(Path(__file__).resolve().parents[1] / "transforms", broken)
    model = broken / "marts" / "fct_callback_requests.sql"
    model.write_text(f"select * replace ('x' as callback_request_id) from ({model.read_text()})")
    with pytest.raises(ExpectedFailure, match="data check failed"):
        build_models(warehouse, SETTINGS, broken)
    assert query(warehouse, "select count(*) from marts.fct_callback_requests") == before
    (broken / "marts" / "fct_callback_requests.sql").write_text("select * from nowhere")
    with pytest.raises(ExpectedFailure, match="model marts.fct_callback_requests failed"):
        build_models(warehouse, SETTINGS, broken)
    assert query(warehouse, "select count(*) from marts.fct_callback_requests") == before


LAYERS = ("staging", "intermediate", "marts")


def references_in_files(transforms_dir: Path) -> dict[str, set[str]]:
    """`layer.table` of every model file -> the `layer.table` names its SQL (not its
    comments) reads, itself excluded: read from the files, independently of the runner."""
    pattern = re.compile(r"\b(staging|intermediate|marts)\.(\w+)", re.IGNORECASE)
    found = {}
    for layer in LAYERS:
        for path in sorted((transforms_dir / layer).glob("*.sql")):
            sql = re.sub(r"--[^\n]*", "", path.read_text())
            refs = {f"{a.lower()}.{b.lower()}" for a, b in pattern.findall(sql)}
            found[f"{layer}.{path.stem}"] = refs - {f"{layer}.{path.stem}"}
    return found


def test_models_run_in_dependency_order_and_never_read_upward() -> None:
    files = references_in_files(TRANSFORMS_DIR)
    order = [m.table for m in order_models(discover_models())]
    assert sorted(order) == sorted(files)
    for model, refs in files.items():
        for ref in refs:
            assert ref in files, (model, ref)
            assert LAYERS.index(ref.split(".")[0]) <= LAYERS.index(model.split(".")[0]), (
                f"{model} reads {ref}, a higher layer"
            )
            assert order.index(ref) < order.index(model), (model, ref)
    # not vacuous: models read lower layers and their own layer
    assert (
        "staging.stg_callback_request_events"
        in files["intermediate.int_callback_request_events_ordered"]
    )
    assert "staging.stg_translations" in files["staging.stg_display_names"]
    assert "marts.fct_callback_requests" in files["marts.agg_callback_requests_daily"]


def transforms_copy(tmp_path: Path, extra: dict[str, str]) -> Path:
    """A copy of transforms/ with `extra` model files (`layer/name.sql` -> SQL) added."""
    copy_dir = tmp_path / "transforms"
    shutil.copytree(TRANSFORMS_DIR, copy_dir)
    for name, sql in extra.items():
        (copy_dir / name).write_text(sql)
    return copy_dir


@pytest.mark.parametrize(
    ("name", "sql", "higher"),
    [
        (
            "staging/stg_upward.sql",
            "select * from marts.fct_callback_requests",
            "marts.fct_callback_requests",
        ),
        (
            "staging/stg_upward.sql",
            "select 1 as x from src_callback_request_events\n"
            "union all select 1 from intermediate.int_callback_requests_current",
            "intermediate.int_callback_requests_current",
        ),
        ("intermediate/int_upward.sql", "select * from MARTS.Dim_Offices", "marts.dim_offices"),
    ],
    ids=["staging-reads-a-mart", "staging-reads-intermediate", "intermediate-reads-a-mart"],
)
def test_a_model_that_reads_a_higher_layer_is_refused(
    tmp_path: Path, name: str, sql: str, higher: str
) -> None:
    broken = transforms_copy(tmp_path, {name: sql})
    model = name.replace("/", ".").removesuffix(".sql")
    with pytest.raises(ExpectedFailure) as failure:
        discover_models(broken)
    assert failure.value.exit_code == 7
    assert failure.value.message == f"model {model} reads {higher}, a higher layer"


def test_two_models_of_one_name_are_refused(tmp_path: Path) -> None:
    """A build names its temp tables and views by model name (`<name>__delta`)."""
    broken = transforms_copy(tmp_path, {"marts/stg_callback_request_events.sql": "select 1 as x"})
    with pytest.raises(ExpectedFailure) as failure:
        discover_models(broken)
    assert failure.value.exit_code == 7
    assert failure.value.message == (
        "models staging.stg_callback_request_events and marts.stg_callback_request_events"
        " have the same name"
    )


def test_incremental_by_must_name_one_column(tmp_path: Path) -> None:
    broken = transforms_copy(tmp_path, {})
    docs = broken / "marts" / "_models.toml"
    docs.write_text(
        docs.read_text().replace(
            'incremental_by = "callback_request_id"', 'incremental_by = ["callback_request_id"]', 1
        )
    )
    with pytest.raises(ExpectedFailure) as failure:
        discover_models(broken)
    assert failure.value.exit_code == 7
    assert "incremental_by must be one column name, not ['callback_request_id']" in (
        failure.value.message
    )


def test_a_higher_layer_named_in_a_comment_is_not_a_read(tmp_path: Path) -> None:
    fine = transforms_copy(
        tmp_path,
        {"staging/stg_note.sql": "-- feeds marts.fct_callback_requests\nselect 1 as x"},
    )
    note = next(m for m in discover_models(fine) if m.table == "staging.stg_note")
    assert note.depends_on == set()


def test_models_that_read_each_other_are_refused(tmp_path: Path, database: Path) -> None:
    cyclic = transforms_copy(
        tmp_path,
        {
            "marts/mart_a.sql": "select * from marts.mart_b",
            "marts/mart_b.sql": "select * from marts.mart_a",
        },
    )
    with pytest.raises(ExpectedFailure, match="models depend on each other") as failure:
        order_models(discover_models(cyclic))
    assert failure.value.exit_code == 7
    assert "marts.mart_a" in failure.value.message and "marts.mart_b" in failure.value.message
    with pytest.raises(ExpectedFailure, match="models depend on each other"):
        build_models(database, SETTINGS, cyclic)
    assert not database.exists()  # refused before the warehouse is opened


def test_only_appointments_still_builds(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(appointment_event("a1", "ap-1", "cr-1"))})
    load_archive(str(archive), database)
    result = build_models(database, SETTINGS)
    assert result.row_counts["marts.fct_appointments"] == 1
    assert result.row_counts["marts.fct_callback_requests"] == 0


def test_cli_builds_marts_and_transforms_only(archive: Path, database: Path) -> None:
    write_files(archive, scenario())
    env = {"WAREHOUSE__PSEUDONYMIZATION_KEY": KEY}
    proc = run_job("--source", str(archive), "--database", str(database), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "marts.fct_callback_requests" in proc.stdout
    assert "development pseudonymization key" not in proc.stdout
    assert query(database, "select customer_key from marts.dim_customers order by 1") == sorted(
        [(key("cust-1"),), (key("cust-2"),)]
    )
    again = run_job("--database", str(database), "--transforms-only")
    assert again.returncode == 0, again.stderr
    assert "files" not in again.stdout
    assert "development pseudonymization key" in again.stdout


def test_unchanged_warehouse_is_not_rebuilt(archive: Path, database: Path) -> None:
    write_files(archive, {"a.jsonl": jsonl(callback_event("e1"))})
    load_archive(str(archive), database)
    first = build_models(database, SETTINGS)
    again = build_models(database, SETTINGS)
    assert not first.up_to_date and again.up_to_date
    assert again.row_counts == first.row_counts
    other_languages = TransformSettings(language_preference=("fr",), pseudonymization_key=KEY)
    assert not build_models(database, other_languages).up_to_date  # settings changed
    other_key = TransformSettings(language_preference=("fr",), pseudonymization_key="other-key")
    assert not build_models(database, other_key).up_to_date  # the key changed
    assert build_models(database, other_key).up_to_date
    assert not build_models(database, other_languages).up_to_date  # and back
    write_files(archive, {"b.jsonl": jsonl(callback_event("e2", "cr-2"))})
    load_archive(str(archive), database)
    rebuilt = build_models(database, other_languages)  # new data
    assert not rebuilt.up_to_date
    assert rebuilt.row_counts["marts.fct_callback_requests"] == 2
    assert build_models(database, other_languages, force=True).checks_passed > 0
