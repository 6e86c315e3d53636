"""The ranked colonoscopy list for the endoscopy booking team (referred patients, current outcomes only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Engine

import triage
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Patient, Practice, Referral, TriageOutcome
from fit_lab.errors import Forbidden
from fit_lab.principal import Principal
from fit_lab.services import audit
from fit_lab.services.outcomes import outcome_from_json


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


def ranked_list(engine: Engine, *, actor: Principal, as_of: date | None = None,
                clock: Clock = system_clock) -> list[ListedPatient]:
    if actor.role not in {"scientist", "admin"}:
        raise Forbidden("The colonoscopy list is for the lab's scientists and the booking team.")
    as_of = as_of or clock().date()
    with transaction(engine) as session:
        rows = session.execute(
            select(TriageOutcome, Referral, Patient, Practice.ods_code)
            .join(Referral, Referral.id == TriageOutcome.referral_id)  # type: ignore[arg-type]
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
            .where(TriageOutcome.is_current.is_(True), TriageOutcome.action == "refer")  # type: ignore[attr-defined, arg-type]
        ).all()
        by_id = {str(r.id): (o, r, p, ods) for o, r, p, ods in rows}
        candidates = [triage.ColonoscopyCandidate(str(r.id), outcome_from_json(o.detail), r.referral_date)
                      for o, r, _, _ in rows]
        ranked = triage.rank_for_colonoscopy(candidates, as_of)
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
                                 decision.policy_version, item.reason))
    return out
