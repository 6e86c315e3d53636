"""Referrals after intake: reading them (scoped to the caller's practice for GPs, every read audited), and the
decisions a person makes on the ones intake could not settle: a referral on hold, a refused row kept for correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from fit_lab import referral_states
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import IntakeRejection, Kit, Patient, Practice, Referral
from fit_lab.errors import FieldProblem, Forbidden, NotFound, StateError, ValidationError
from fit_lab.principal import Principal
from fit_lab.services import audit, identity, lifecycle
from fit_lab.text import refuse_control_characters

PATIENT_DATA_ROLES = frozenset({"lab", "scientist", "admin", "gp"})
# Who settles what intake could not: holds and refused rows are the lab's worklist (rows may hold identifiers).
WORKLIST_ROLES = frozenset({"lab", "admin"})
HOLD_DECISIONS = ("queue", "close")
MAX_REASON_LENGTH = 400


@dataclass(frozen=True)
class ReferralView:
    id: int
    status: str
    hold_reason: str | None
    practice_ods: str
    external_ref: str | None
    requester: str
    referral_date: date
    received_at: datetime
    symptoms: list[str]
    haemoglobin_g_per_l: float | None
    ferritin_ug_per_l: float | None
    iron_deficiency_anaemia: bool
    abdominal_mass: bool
    rectal_mass: bool
    clinical_concern: bool
    patient: dict[str, Any]
    kits: list[dict[str, Any]]


def _require_patient_access(actor: Principal) -> None:
    if actor.role not in PATIENT_DATA_ROLES:
        raise Forbidden("Your role sees aggregate statistics only, not patient records.")


def get_referral(engine: Engine, referral_id: int, *, actor: Principal, clock: Clock = system_clock) -> ReferralView:
    _require_patient_access(actor)
    with transaction(engine) as session:
        row = session.execute(
            select(Referral, Patient, Practice.ods_code)
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
            .where(Referral.id == referral_id)  # type: ignore[arg-type]
        ).first()
        if row is None or not actor.may_see_practice(row[0].practice_id):
            raise NotFound("referral", referral_id)
        referral, patient, ods = row
        kits = session.execute(
            select(Kit.specimen_id, Kit.state, Kit.dispatched_at, Kit.received_at)
            .where(Kit.referral_id == referral_id)  # type: ignore[arg-type]
            .order_by(Kit.id)  # type: ignore[arg-type]
        ).mappings()
        kit_list = [dict(k) for k in kits]
        audit.record(session, actor, "read", "referral", referral_id, practice_id=referral.practice_id, clock=clock)
        return identity.seen_by(session, actor, [(referral, _view(referral, patient, ods, kit_list))])[0]


def list_referrals(
    engine: Engine,
    *,
    actor: Principal,
    status: str | None = None,
    practice_ods: str | None = None,
    limit: int = 50,
    offset: int = 0,
    clock: Clock = system_clock,
) -> tuple[int, list[ReferralView]]:
    _require_patient_access(actor)
    query = (
        select(Referral, Patient, Practice.ods_code)
        .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
        .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
    )
    if actor.is_gp:
        query = query.where(Referral.practice_id == actor.practice_id)  # type: ignore[arg-type]
    if status:
        query = query.where(identity.status_as_seen_by_gp(status) if actor.is_gp
                            else Referral.status == status)  # type: ignore[arg-type]
    if practice_ods:
        query = query.where(Practice.ods_code == practice_ods.upper())  # type: ignore[arg-type]
    with transaction(engine) as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = session.execute(query.order_by(Referral.id).limit(limit).offset(offset)).all()  # type: ignore[arg-type]
        views = identity.seen_by(session, actor, [(r, _view(r, p, ods, [])) for r, p, ods in rows])
        reads = [(v.id, r.practice_id) for v, (r, _, _) in zip(views, rows, strict=True)]
        audit.record_many(session, actor, "read", "referral", reads, detail={"via": "list"}, clock=clock)
    return total, views


def list_rejections(
    engine: Engine, *, actor: Principal, unresolved_only: bool = True, limit: int = 50, offset: int = 0,
    clock: Clock = system_clock,
) -> tuple[int, list[IntakeRejection]]:
    """The kept bad rows, for a person to correct and resubmit. Lab and admin only (rows may hold identifiers)."""
    if actor.role not in {"lab", "admin"}:
        raise Forbidden()
    query = select(IntakeRejection)
    if unresolved_only:
        query = query.where(IntakeRejection.resolved_at.is_(None))  # type: ignore[union-attr]
    with transaction(engine) as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = list(session.execute(query.order_by(IntakeRejection.id).limit(limit).offset(offset)).scalars())  # type: ignore[arg-type]
        audit.record_many(session, actor, "read", "intake_rejection", [(r.id, None) for r in rows], clock=clock)
    return total, rows


def _view(referral: Referral, patient: Patient, ods: str, kits: list[dict[str, Any]]) -> ReferralView:
    return ReferralView(
        id=int(referral.id or 0),
        status=referral.status,
        hold_reason=referral.hold_reason,
        practice_ods=ods,
        external_ref=referral.external_ref,
        requester=referral.requester,
        referral_date=referral.referral_date,
        received_at=referral.received_at,
        symptoms=list(referral.symptoms),
        haemoglobin_g_per_l=referral.haemoglobin_g_per_l,
        ferritin_ug_per_l=referral.ferritin_ug_per_l,
        iron_deficiency_anaemia=referral.iron_deficiency_anaemia,
        abdominal_mass=referral.abdominal_mass,
        rectal_mass=referral.rectal_mass,
        clinical_concern=referral.clinical_concern,
        patient={
            "nhs_number": patient.nhs_number,
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "date_of_birth": patient.date_of_birth,
            "sex": patient.sex,
            "postcode": patient.postcode,
            "ethnicity_code": patient.ethnicity_code,
            "imd_decile": patient.imd_decile,
            "imd_edition": patient.imd_edition,
        },
        kits=kits,
    )


def for_update(session: Session, query: Any) -> Any:
    """``FOR UPDATE`` on PostgreSQL. SQLite needs none: each transaction begins IMMEDIATE, one writer at a time."""
    return query.with_for_update() if session.get_bind().dialect.name == "postgresql" else query


def _require_worklist(actor: Principal) -> None:
    if actor.role not in WORKLIST_ROLES:
        raise Forbidden("Only the lab (or an administrator) settles held referrals and refused rows.")


def _reason(text: str, name: str) -> str:
    refuse_control_characters(text, name)
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise ValidationError([FieldProblem(name, "is required: say why, for the audit trail")])
    if len(cleaned) > MAX_REASON_LENGTH:
        raise ValidationError([FieldProblem(name, f"is longer than {MAX_REASON_LENGTH} characters")])
    return cleaned


@dataclass(frozen=True)
class HoldReleased:
    referral_id: int
    status: str  # awaiting_kit (queued for a kit) | closed
    message: str


def release_hold(
    engine: Engine, referral_id: int, *, decision: str, reason: str, actor: Principal, clock: Clock = system_clock
) -> HoldReleased:
    """A person decides a held referral: ``queue`` it for a kit, or ``close`` it (e.g. a repeat of one in flight).

    The patient row is locked as intake locks it, so a referral arriving at the same moment sees the decision.
    A referral is not queued while another of the patient's referrals is still waiting for its kit (the patient
    would get two kits in one post); when the other kit is already out, queueing sends a second kit, as decided.
    """
    _require_worklist(actor)
    if decision not in HOLD_DECISIONS:
        raise ValidationError([FieldProblem("decision", f"must be one of {', '.join(HOLD_DECISIONS)}")])
    reason = _reason(reason, "reason")
    now = clock()
    with transaction(engine) as session:
        patient_id = session.execute(select(Referral.patient_id).where(Referral.id == referral_id)).scalar()  # type: ignore[arg-type]
        if patient_id is None:
            raise NotFound("referral", referral_id)
        session.execute(for_update(session, select(Patient.id).where(Patient.id == patient_id)))  # type: ignore[arg-type]
        referral = session.execute(for_update(session, select(Referral).where(Referral.id == referral_id))).scalar_one()  # type: ignore[arg-type]
        if referral.status != "on_hold":
            raise StateError(f"Referral {referral_id} is not on hold (it is {referral.status.replace('_', ' ')}); "
                             "there is nothing to release.")
        others = dict(session.execute(
            select(Referral.id, Referral.status).where(
                Referral.patient_id == patient_id, Referral.id != referral_id,  # type: ignore[arg-type]
                Referral.status.in_(referral_states.LIVE))  # type: ignore[attr-defined]
        ).all())
        was = referral.hold_reason
        if decision == "queue":
            waiting = sorted(rid for rid, status in others.items() if status == "awaiting_kit")
            if waiting:
                raise StateError(
                    f"Referral {referral_id} cannot be queued: referral {waiting[0]} for the same patient is already "
                    "waiting for a kit. Close this one, or queue it after that kit has been posted.")
            lifecycle.move_referral(session, referral, "awaiting_kit", actor=actor, now=now,
                                    why=f"released from hold: {reason}")
            message = f"Referral {referral_id} is queued for a kit"
            if others:
                message += f"; the patient also has referral {min(others)} with a kit out, so a second kit will go"
        else:
            lifecycle.move_referral(session, referral, "closed", actor=actor, now=now,
                                    why=f"closed from hold: {reason}"[:MAX_REASON_LENGTH])
            message = f"Referral {referral_id} is closed: no kit will be sent for it"
        audit.record(session, actor, "release_hold", "referral", referral_id, practice_id=referral.practice_id,
                     detail={"decision": decision, "reason": reason, "was_on_hold": was}, clock=clock)
        return HoldReleased(referral_id, referral.status, message + ".")


def resolve_rejection(
    engine: Engine, rejection_id: int, *, resolution: str, actor: Principal, clock: Clock = system_clock
) -> IntakeRejection:
    """Mark a refused row as dealt with (corrected and resubmitted, or not needed), saying how; once only."""
    _require_worklist(actor)
    resolution = _reason(resolution, "resolution")
    now = clock()
    with transaction(engine) as session:
        row = session.execute(for_update(session, select(IntakeRejection).where(
            IntakeRejection.id == rejection_id))).scalar_one_or_none()  # type: ignore[arg-type]
        if row is None:
            raise NotFound("intake rejection", rejection_id)
        if row.resolved_at is not None:
            raise StateError(f"Intake rejection {rejection_id} was already resolved on {row.resolved_at:%Y-%m-%d} "
                             f"by {row.resolved_by}: {row.resolution}")
        row.resolved_at, row.resolved_by, row.resolution = now, actor.username, resolution
        audit.record(session, actor, "resolve", "intake_rejection", rejection_id,
                     detail={"resolution": resolution}, clock=clock)
        return row
