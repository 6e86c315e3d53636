"""The ranked colonoscopy list for the endoscopy booking team (referred patients, current outcomes only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlmodel import col

import triage
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Patient, Practice, Referral, TriageOutcome
from fit_lab.errors import FieldProblem, Forbidden, NotFound, StateError, ValidationError
from fit_lab.principal import Principal
from fit_lab.referral_states import OFF_LIST
from fit_lab.services import audit, lifecycle
from fit_lab.services.outcomes import outcome_from_json
from fit_lab.services.referrals import for_update
from fit_lab.settings import Settings
from fit_lab.text import nfc, refuse_control_characters


@dataclass(frozen=True)
class ListedPatient:
    rank: int
    referral_id: int
    nhs_number: str
    patient_name: str
    date_of_birth: date
    practice_ods: str
    band: str
    priority: str
    fhb: str
    flags: list[str]
    days_waited: int
    policy_version: str
    reason: str
    list_state: str | None = None  # None: waiting to be booked; booked / did_not_attend (see referral_states)
    booked_for: date | None = None
    due_date: date | None = None  # the list order's target: referral date + the priority's target days
    fds_breach_date: date | None = None  # referral date + 28 days (Faster Diagnosis Standard)


def list_order(settings: Settings | None) -> triage.ListOrder | None:
    """The lab's list order file, or None for the shipped example."""
    return triage.load_list_order(settings.list_order_file) if settings and settings.list_order_file else None


def ranked_list(engine: Engine, *, actor: Principal, as_of: date | None = None, clock: Clock = system_clock,
                settings: Settings | None = None) -> list[ListedPatient]:
    if actor.role not in {"scientist", "admin"}:
        raise Forbidden("The colonoscopy list is for the lab's scientists and the booking team.")
    as_of = as_of or clock().date()
    with transaction(engine) as session:
        rows = session.execute(
            select(TriageOutcome, Referral, Patient, Practice.ods_code)
            .join(Referral, Referral.id == TriageOutcome.referral_id)  # type: ignore[arg-type]
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
            .where(TriageOutcome.is_current.is_(True), TriageOutcome.action == "refer",  # type: ignore[attr-defined, arg-type]
                   or_(col(Referral.list_state).is_(None), col(Referral.list_state).notin_(OFF_LIST)))
        ).all()
        by_id = {str(r.id): (o, r, p, ods) for o, r, p, ods in rows}
        candidates = [triage.ColonoscopyCandidate(str(r.id), outcome_from_json(o.detail), r.referral_date)
                      for o, r, _, _ in rows]
        ranked = triage.rank_for_colonoscopy(candidates, as_of, list_order(settings))
        audit.record(session, actor, "read", "colonoscopy_list", None, detail={"patients": len(ranked)}, clock=clock)
    out = []
    for item in ranked:
        _, referral, patient, ods = by_id[item.candidate.referral_id]
        decision = item.candidate.outcome
        shown = "" if decision.comparator in (None, "=") else decision.comparator
        if decision.band == triage.NOT_TESTED_BAND:
            fhb = "not tested: red flag"
        else:
            fhb = f"{shown}{decision.fhb_ug_per_g:g}" if decision.fhb_ug_per_g is not None else "no valid result"
        flags = sorted(f.value for f in decision.flags)
        out.append(ListedPatient(item.rank, int(referral.id or 0), patient.nhs_number,
                                 f"{patient.given_name} {patient.family_name}", patient.date_of_birth, ods,
                                 decision.band_label, decision.priority_key, fhb, flags, item.days_waited,
                                 decision.policy_version, item.reason, referral.list_state,
                                 referral.list_booked_for, item.due_date, item.fds_breach_date))
    return out


LIST_STATE_WORDS = {"booked": "booked for colonoscopy", "seen": "seen (colonoscopy done): leaves the list",
                    "declined": "declined colonoscopy: leaves the list", "did_not_attend": "did not attend: rebook",
                    "not_suitable": "not suitable for colonoscopy: leaves the list"}


def record_list_state(engine: Engine, referral_id: int, state: str, *, actor: Principal,
                      booked_for: date | None = None, note: str | None = None,
                      clock: Clock = system_clock) -> bool:
    """The booking team records a patient's step: booked (with the date), seen, declined, did not attend, or
    not suitable. Returns whether the patient is still on the list (``place_on_list`` gives their place).

    A booking needs its date; declining or not suitable needs a note saying why (the GP may be asked).
    """
    if actor.role not in {"scientist", "admin"}:
        raise Forbidden("The colonoscopy list is for the lab's scientists and the booking team.")
    refuse_control_characters(note, "note")
    note = " ".join(nfc(note or "").split()) or None
    problems = []
    if state not in LIST_STATE_WORDS:
        problems.append(FieldProblem("state", f"must be one of {', '.join(LIST_STATE_WORDS)}"))
    if state == "booked" and booked_for is None:
        problems.append(FieldProblem("booked_for", "a booking needs the date of the colonoscopy"))
    if state != "booked" and booked_for is not None:
        problems.append(FieldProblem("booked_for", "only a booking has a date"))
    if state in ("declined", "not_suitable") and not note:
        problems.append(FieldProblem("note", f"say why the patient is {state.replace('_', ' ')}"))
    if problems:
        raise ValidationError(problems)
    now = clock()
    with transaction(engine) as session:
        referral = session.execute(for_update(session, select(Referral).where(
            col(Referral.id) == referral_id))).scalar_one_or_none()
        if referral is None:
            raise NotFound("referral", referral_id)
        listed = session.execute(select(col(TriageOutcome.id)).where(
            col(TriageOutcome.referral_id) == referral_id, col(TriageOutcome.is_current).is_(True),
            col(TriageOutcome.action) == "refer")).first()
        if listed is None:
            raise StateError(f"Referral {referral_id} is not on the colonoscopy list (its outcome is not a referral).")
        lifecycle.move_list_state(session, referral, state, actor=actor, now=now, booked_for=booked_for, note=note)
    return state not in OFF_LIST


def place_on_list(engine: Engine, referral_id: int, *, actor: Principal,
                  clock: Clock = system_clock) -> ListedPatient | None:
    """A patient's place on the ranked list, or None when they are not on it."""
    return next((p for p in ranked_list(engine, actor=actor, clock=clock) if p.referral_id == referral_id), None)
