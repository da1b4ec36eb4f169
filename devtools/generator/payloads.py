"""Event payloads: the webhook envelope, the callback request and the appointment objects.

`EventBuilder.build(plan, step)` applies one planned change to the request's state and
returns the event dict, shaped exactly like the documented example
(`callback-request-create.example.json`): every key present, absent values as `null`.
Catalog objects are shared between events and never mutated.
"""

from __future__ import annotations

import random
from typing import Any

from devtools.generator.catalog import FREE_TEXT, NOTES, PORTAL, SUMMARIES, Catalog, Form
from devtools.generator.lifecycle import Planner, RequestPlan, Step, new_uuid
from devtools.generator.timeutil import iso_ms

Json = dict[str, Any]

CALLBACK_ENTITY = "Callback Request"
APPOINTMENT_ENTITY = "Appointment"
VERSION = "1"

ANSWER_TYPES = {
    "questionnaire": "SUBJECT_QUESTIONNAIRE",
    "complete": "COMPLETION_BY_AGENT",
    "cancel_agent": "CANCELLATION_BY_AGENT",
    "cancel_customer": "CANCELLATION_BY_CUSTOMER",
}
APPOINTMENT_MESSAGES = {
    "invite": "Invitation sent to {customer} by {employee}",
    "request": "{customer} requested an appointment",
    "propose": "{customer} proposed another date",
    "accept": "Appointment accepted by {employee}",
    "decline": "Appointment declined by {employee}",
    "complete": "Appointment with {customer} completed",
    "no_show": "{customer} did not show up",
    "cancel": "Appointment cancelled by {who}",
}


def customer_participant(rng: random.Random, role: str, at: str, customer: Json, rid: str) -> Json:
    """A CUSTOMER participant with its self-service links."""
    base = f"{PORTAL}/c/{rid}/{rng.getrandbits(64):016x}"
    return {
        "role": role,
        "type": "CUSTOMER",
        "createdAt": at,
        "employee": None,
        "customer": customer,
        "cancelUrl": f"{base}/cancel",
        "editUrl": f"{base}/edit",
        "inviteUrl": None,
        "declineUrl": None,
        "office365CalendarUrl": f"{base}/calendar/office365",
        "googleCalendarUrl": f"{base}/calendar/google",
        "icalUrl": f"{base}/calendar.ics",
    }


def employee_participant(rng: random.Random, role: str, at: str, employee: Json, rid: str) -> Json:
    """An EMPLOYEE participant with its back-office links."""
    base = f"{PORTAL}/e/{rid}/{rng.getrandbits(64):016x}"
    return {
        "role": role,
        "type": "EMPLOYEE",
        "createdAt": at,
        "employee": employee,
        "customer": None,
        "cancelUrl": None,
        "editUrl": f"{PORTAL}/backoffice/callback-requests/{rid}",
        "inviteUrl": f"{base}/accept",
        "declineUrl": f"{base}/decline",
        "office365CalendarUrl": f"{base}/calendar/office365",
        "googleCalendarUrl": f"{base}/calendar/google",
        "icalUrl": f"{base}/calendar.ics",
    }


class EventBuilder:
    """Turns planned steps into event dicts, keeping each request's state on its plan."""

    def __init__(self, catalog: Catalog, planner: Planner, rng: random.Random) -> None:
        self.catalog = catalog
        self.planner = planner
        self.rng = rng
        self.next_answer_id = 1_000_000
        self.webhook_cr = new_uuid(rng)
        self.webhook_cr_renewed = new_uuid(rng)
        self.webhook_appointment = new_uuid(rng)
        self.renewed_after = 0  # requests created after this use the renewed subscription

    # -- answers --------------------------------------------------------------------------------
    def answers(self, form: Form, answer_type: str, at: str, language: str, share: float) -> list:
        """Answers to the questions of `form` (each question answered with probability `share`)."""
        rng = self.rng
        out = []
        for q in form.questions:
            if rng.random() >= share:
                continue
            selected: list[Json] = []
            files: list[Json] = []
            if q.kind == "choice":
                selected = [rng.choice(q.options)]
                value = selected[0]["value"]
            elif q.kind == "multi":
                selected = rng.sample(q.options, rng.randint(1, min(3, len(q.options))))
                value = ", ".join(o["value"] for o in selected)
            elif q.kind == "file":
                if rng.random() < 0.6:
                    continue
                files = [{"id": f"{rng.getrandbits(48):012x}"} for _ in range(rng.randint(1, 2))]
                value = ""
            elif answer_type == "COMPLETION_BY_AGENT":
                value = rng.choice(SUMMARIES)
            else:
                value = rng.choice(FREE_TEXT.get(language) or FREE_TEXT["en"])
            self.next_answer_id += 1
            out.append(
                {
                    "id": str(self.next_answer_id),
                    "form": {"id": form.id},
                    "question": q.data,
                    "answerType": answer_type,
                    "value": value,
                    "selectedAnswerOptions": selected,
                    "files": files,
                    "createdAt": at,
                    "updatedAt": at,
                }
            )
        return out

    # -- callback requests ----------------------------------------------------------------------
    def _init_state(self, plan: RequestPlan) -> dict[str, Any]:
        rng = self.rng
        cat = self.catalog
        at = iso_ms(plan.created_at)
        office = cat.offices[plan.office]
        customer = cat.customer(plan.customer_no, plan.office)
        participants = [customer_participant(rng, "PRIMARY", at, customer, plan.request_id)]
        if plan.second_customer_no is not None:
            partner = cat.customer(plan.second_customer_no, plan.office)
            participants.append(
                customer_participant(rng, "SECONDARY", at, partner, plan.request_id)
            )
        employees: list[Json] = []
        if plan.creator is not None and rng.random() < 0.5:
            emp = cat.employees[plan.creator].data
            employees.append(employee_participant(rng, "PRIMARY", at, emp, plan.request_id))
        subject = cat.subjects[plan.subject]
        answers = []
        if rng.random() < 0.9:
            form = cat.forms[subject.questionnaire]
            answers = self.answers(
                form, ANSWER_TYPES["questionnaire"], at, customer["language"], 0.88
            )
        if plan.channel[0] == "CUSTOMER":
            by = (customer["id"], "CUSTOMER", plan.channel[1])
        elif plan.channel[0] == "EMPLOYEE":
            by = (cat.employees[plan.creator].data["id"], "EMPLOYEE", plan.channel[1])
        else:
            by = ("crm-integration", "INTEGRATION", plan.channel[1])
        if plan.meeting_type == "ON_LOCATION":
            loc = customer["location"]
        elif plan.meeting_type == "OFFICE":
            loc = office.data["location"]
        else:
            loc = None
        return {
            "status": "OPEN",
            "customers": participants,
            "employees": employees,
            "answers": answers,
            "notes": rng.choice(NOTES) if by[1] == "EMPLOYEE" and rng.random() < 0.3 else None,
            "meeting_type": plan.meeting_type,
            "location": loc,
            "created_by": by,
            "updated_by": by,
            "external_id": f"SF-{rng.getrandbits(40):010X}" if rng.random() < 0.6 else None,
            "customer": customer,
            "employee": employees[0]["employee"] if employees else None,
            "webhook": self.webhook_cr
            if plan.created_at < self.renewed_after
            else self.webhook_cr_renewed,
        }

    def _apply(self, plan: RequestPlan, step: Step, state: dict[str, Any]) -> None:
        rng = self.rng
        cat = self.catalog
        at = iso_ms(step.at)
        action = step.action
        rid = plan.request_id
        current = state["employees"][0]["employee"] if state["employees"] else None
        current_idx = next(
            (i for i, e in enumerate(cat.employees) if current is not None and e.data is current),
            None,
        )
        actor = current
        if action in ("assign", "reassign") or (action == "start" and current is None):
            idx = self.planner.pick_employee(plan.office, other_than=current_idx)
            emp = cat.employees[idx].data
            employees = [employee_participant(rng, "PRIMARY", at, emp, rid)]
            if action == "assign" and rng.random() < 0.1:
                second = self.planner.pick_employee(plan.office, other_than=idx)
                employees.append(
                    employee_participant(rng, "SECONDARY", at, cat.employees[second].data, rid)
                )
            state["employees"] = employees
            actor = emp
        if action in ACTION_ANSWER_FORMS:
            form_key, share = ACTION_ANSWER_FORMS[action]
            if rng.random() < share:
                extra = self.answers(
                    cat.forms[form_key],
                    ANSWER_TYPES[action],
                    at,
                    state["customer"]["language"],
                    1.0,
                )
                state["answers"] = state["answers"] + extra
        if action == "note" or (action in ("hold", "complete", "close") and rng.random() < 0.4):
            state["notes"] = rng.choice(NOTES)
        if action == "change_meeting":
            options = [m for m in ("PHONE", "VIDEO", "OFFICE") if m != state["meeting_type"]]
            state["meeting_type"] = rng.choice(options)
            office = cat.offices[plan.office]
            state["location"] = (
                office.data["location"] if state["meeting_type"] == "OFFICE" else None
            )
        if action == "cancel_customer":
            state["updated_by"] = (state["customer"]["id"], "CUSTOMER", "CUSTOMER_PORTAL")
        elif action == "assign" and rng.random() < 0.25:
            state["updated_by"] = ("auto-assignment", "SYSTEM", "ROUND_ROBIN")
        elif actor is not None:
            state["updated_by"] = (actor["id"], "EMPLOYEE", "BACK_OFFICE")
        else:
            planner = cat.employees[cat.planners[0]].data if cat.planners else None
            pid = planner["id"] if planner else "system"
            state["updated_by"] = (pid, "EMPLOYEE", "BACK_OFFICE")
        state["status"] = step.status

    def callback_request(self, plan: RequestPlan, step: Step, state: dict[str, Any]) -> Json:
        """The `callbackRequest` object as it is after `step`."""
        cat = self.catalog
        listing = cat.listings[plan.listing][0] if plan.listing is not None else None
        lead = cat.lead_segments[plan.lead_segment] if plan.lead_segment is not None else None
        created_by = state["created_by"]
        updated_by = state["updated_by"]
        return {
            "id": plan.request_id,
            "status": state["status"],
            "subject": cat.subjects[plan.subject].data,
            "office": cat.offices[plan.office].data,
            "participants": state["customers"] + state["employees"],
            "answers": state["answers"],
            "location": state["location"],
            "listing": listing,
            "leadSegment": lead,
            "meetingType": state["meeting_type"],
            "externalId": state["external_id"],
            "internalNotes": state["notes"],
            "createdAt": iso_ms(plan.created_at),
            "createdById": created_by[0],
            "createdByType": created_by[1],
            "createdFrom": created_by[2],
            "updatedAt": iso_ms(step.at),
            "updatedById": updated_by[0],
            "updatedByType": updated_by[1],
            "updatedFrom": updated_by[2],
        }

    def build(self, plan: RequestPlan, step: Step) -> Json:
        """Apply `step` to the plan's state and return the full event (envelope + payload)."""
        if step.kind == "appt":
            return self._appointment_event(plan, step)
        if step.action == "create":
            plan.state = self._init_state(plan)
        else:
            self._apply(plan, step, plan.state)
        state = plan.state
        same_chain = step.action == "create" or self.rng.random() < 0.7
        return {
            "id": new_uuid(self.rng),
            "correlationId": plan.correlation_id if same_chain else new_uuid(self.rng),
            "entity": CALLBACK_ENTITY,
            "version": VERSION,
            "webhookConfigurationId": state["webhook"],
            "data": {
                "eventType": step.event_type,
                "callbackRequest": self.callback_request(plan, step, state),
            },
        }

    # -- appointments ---------------------------------------------------------------------------
    def _appointment_event(self, plan: RequestPlan, step: Step) -> Json:
        rng = self.rng
        state = plan.state
        appt = state.get("appointment")
        if appt is None:
            employee = state["employees"][0]["employee"] if state["employees"] else None
            if employee is None:
                employee = self.catalog.employees[self.planner.pick_employee(plan.office)].data
            at = iso_ms(step.at)
            meeting = state["meeting_type"]
            if meeting == "PHONE" and rng.random() < 0.3:
                meeting = "VIDEO"
            appt = {
                "created_at": at,
                "meeting_type": meeting,
                "participants": [
                    customer_participant(rng, "PRIMARY", at, state["customer"], plan.request_id),
                    employee_participant(rng, "PRIMARY", at, employee, plan.request_id),
                ],
                "employee": employee,
            }
            state["appointment"] = appt
        names = {
            "customer": f"{state['customer']['firstName']} {state['customer']['lastName']}",
            "employee": f"{appt['employee']['firstName']} {appt['employee']['lastName']}",
        }
        names["who"] = rng.choice((names["customer"], names["employee"]))
        payload: Json = {
            "id": plan.appointment_id,
            "status": step.status,
            "startDate": iso_ms(step.start),
            "endDate": iso_ms(step.end),
            "meetingType": appt["meeting_type"],
            "office": {"id": self.catalog.offices[plan.office].data["id"]},
            "subject": {"id": self.catalog.subjects[plan.subject].data["id"]},
        }
        if plan.appointment_linked:
            payload["callbackRequest"] = {"id": plan.request_id}
        payload["participants"] = appt["participants"]
        payload["createdAt"] = appt["created_at"]
        payload["updatedAt"] = iso_ms(step.at)
        return {
            "id": new_uuid(rng),
            "correlationId": plan.correlation_id,
            "entity": APPOINTMENT_ENTITY,
            "version": VERSION,
            "webhookConfigurationId": self.webhook_appointment,
            "data": {
                "eventType": step.event_type,
                "message": APPOINTMENT_MESSAGES[step.action].format(**names),
                "appointment": payload,
            },
        }


# action -> (form whose answers the agent/customer fills in, probability)
ACTION_ANSWER_FORMS = {
    "complete": ("F-COMPLETE", 0.7),
    "cancel_agent": ("F-CANCEL-AGENT", 0.6),
    "cancel_customer": ("F-CANCEL-CUSTOMER", 0.5),
}
