"""Patient identity across practices: the NHS number is the key, and one practice never changes what another sees.

The rule (what labs do with a shared patient index):
- A referral whose demographics equal the lab's record of that NHS number is simply accepted.
- A referral whose demographics differ changes the record in place only when its practice sent the record and
  no other practice has referred the patient: a GP changes only what their own practice sent. The record as it
  stood is kept beside the new one (``demographics_change``, status ``applied``) and both are audited.
- Otherwise the record is left as it is, the sent details are kept beside it (``pending``) and the referral is
  held: a lab person compares both (e.g. against PDS) and either takes the sent details or keeps the record
  (``reconcile``), then releases the hold. The referral's practice sees the details it sent until then.
- Nothing a GP is told reveals another practice: a referral held because of another practice's referral or
  record looks to the GP like any referral waiting for its kit (no referral numbers, no "on hold").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, func, insert, not_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import DemographicsChange, Patient, Referral
from fit_lab.errors import FieldProblem, Forbidden, NotFound, StateError, ValidationError
from fit_lab.principal import Principal
from fit_lab.services import audit
from fit_lab.text import refuse_control_characters

if TYPE_CHECKING:  # a type only: referrals imports this module, so importing it back at run time is a cycle
    from fit_lab.services.referrals import ReferralView

__all__ = [
    "DECISIONS",
    "DEMOGRAPHIC_FIELDS",
    "HOLD_REASON",
    "ChangeView",
    "PendingChange",
    "differs",
    "list_changes",
    "may_change_in_place",
    "reconcile",
    "record_changes",
    "referring_practices",
    "seen_by",
]

DEMOGRAPHIC_FIELDS = ("family_name", "given_name", "date_of_birth", "sex", "address_line1", "address_line2",
                      "town", "postcode", "ethnicity_code")
# Derived from the postcode; they travel with it when sent details are taken.
_DERIVED = ("lsoa_code", "imd_decile", "imd_edition")
HOLD_REASON = ("the details sent differ from the lab's record of this NHS number: held for the lab to reconcile "
               "them before a kit is sent")
DECISIONS = ("use_sent", "keep_record")
WORKLIST_ROLES = frozenset({"lab", "admin"})
MAX_REASON_LENGTH = 400


def differs(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    return any(stored[k] != sent[k] for k in DEMOGRAPHIC_FIELDS)


def may_change_in_place(stored: dict[str, Any], practice_id: int, referring: set[int]) -> bool:
    """True when ``practice_id`` sent the stored details and no other practice refers the patient."""
    return stored["practice_id"] == practice_id and referring <= {practice_id}


def referring_practices(session: Session, patient_ids: Iterable[int]) -> dict[int, set[int]]:
    """The practices that have referred each patient (any status)."""
    out: dict[int, set[int]] = {}
    ids = sorted(set(patient_ids))
    for start in range(0, len(ids), 900):
        for pid, practice in session.execute(
            select(Referral.patient_id, Referral.practice_id).distinct()
            .where(Referral.patient_id.in_(ids[start:start + 900]))  # type: ignore[attr-defined]
        ):
            out.setdefault(pid, set()).add(practice)
    return out


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k in (*DEMOGRAPHIC_FIELDS, *_DERIVED):
        v = values.get(k)
        out[k] = v.isoformat() if isinstance(v, date) else v
    return out


@dataclass
class PendingChange:
    """A difference found at intake; its patient and referral ids are known once both are stored."""

    status: str  # applied | pending
    nhs_number: str
    practice_id: int
    previous: dict[str, Any]
    sent: dict[str, Any]
    referral_index: int  # position of the referral among the unit of work's new referrals


def record_changes(
    session: Session,
    changes: list[PendingChange],
    patient_id_of: dict[str, int],
    referral_ids: list[int],
    *,
    actor: Principal,
    now: datetime,
    clock: Clock,
) -> None:
    """Keep both versions of each difference, and audit it (record ids only: identifiers stay in the table)."""
    if not changes:
        return
    rows = [{
        "patient_id": patient_id_of[c.nhs_number],
        "referral_id": referral_ids[c.referral_index],
        "practice_id": c.practice_id,
        "previous": _jsonable(c.previous),
        "sent": _jsonable(c.sent),
        "status": c.status,
        "created_at": now,
        "created_by": actor.username,
    } for c in changes]
    ids = [session.execute(insert(DemographicsChange).returning(DemographicsChange.id), row).scalar_one()  # type: ignore[arg-type]
           for row in rows]
    for change_id, row in zip(ids, rows, strict=True):
        audit.record(session, actor, "create", "demographics_change", change_id, practice_id=row["practice_id"],
                     detail={"status": row["status"], "patient_id": row["patient_id"],
                             "referral_id": row["referral_id"],
                             "fields": sorted(k for k in DEMOGRAPHIC_FIELDS
                                              if row["previous"][k] != row["sent"][k])}, clock=clock)


def held_for_another_practice(session: Session, referrals: list[tuple[int, int, int | None]]) -> set[int]:
    """Of (referral id, its practice, the referral it was held behind), those whose hold involves another practice:
    behind another practice's referral, or sent details differing from a record another practice shares."""
    if not referrals:
        return set()
    ids = [rid for rid, _, _ in referrals]
    related = [rel for _, _, rel in referrals if rel]
    practice_of: dict[int | None, int] = {}
    if related:
        practice_of = {rid: practice for rid, practice in session.execute(
            select(Referral.id, Referral.practice_id).where(Referral.id.in_(related)))}  # type: ignore[union-attr]
    out = {rid for rid, practice, rel in referrals if rel and practice_of.get(rel, practice) != practice}
    out |= set(session.execute(select(DemographicsChange.referral_id).where(
        DemographicsChange.referral_id.in_(ids),  # type: ignore[union-attr]
        DemographicsChange.status != "applied")).scalars())
    return out


def sent_details(session: Session, referral_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The details each referral sent, where they wait for a lab person (not yet in the shared record)."""
    if not referral_ids:
        return {}
    return {rid: sent for rid, sent in session.execute(
        select(DemographicsChange.referral_id, DemographicsChange.sent).where(
            DemographicsChange.referral_id.in_(referral_ids),  # type: ignore[union-attr]
            DemographicsChange.status == "pending"))}


def seen_by(session: Session, actor: Principal, pairs: list[tuple[Referral, ReferralView]]) -> list[ReferralView]:
    """The views as ``actor`` may see them: a GP sees the details their practice sent while they wait for the lab,
    and a hold caused by another practice as a referral waiting for its kit (it reveals nothing of that practice).
    """
    views = [view for _, view in pairs]
    if not actor.is_gp:
        return views
    held = [(int(r.id or 0), r.practice_id, r.related_referral_id) for r, _ in pairs if r.status == "on_hold"]
    masked = held_for_another_practice(session, held)
    sent = sent_details(session, [v.id for v in views])
    out = []
    for view in views:
        if view.id in masked:
            view = replace(view, status="awaiting_kit", hold_reason=None)
        if view.id in sent:
            patient = dict(view.patient)
            patient.update({k: sent[view.id][k] for k in ("family_name", "given_name", "date_of_birth", "sex",
                                                          "postcode", "ethnicity_code", "imd_decile",
                                                          "imd_edition")})
            patient["date_of_birth"] = date.fromisoformat(patient["date_of_birth"])
            view = replace(view, patient=patient)
        out.append(view)
    return out


def status_as_seen_by_gp(status: str) -> ColumnElement[bool]:
    """A filter on referral status as a GP sees it (``seen_by``): a hold caused by another practice is listed as
    awaiting a kit, so filtering by status reveals no more than reading does."""
    other = aliased(Referral)
    behind_other = exists().where(other.id == Referral.related_referral_id,  # type: ignore[arg-type]
                                  other.practice_id != Referral.practice_id)  # type: ignore[arg-type]
    reconciling = exists().where(DemographicsChange.referral_id == Referral.id,  # type: ignore[arg-type]
                                 DemographicsChange.status != "applied")  # type: ignore[arg-type]
    masked = and_(Referral.status == "on_hold", or_(behind_other, reconciling))  # type: ignore[arg-type]
    if status == "awaiting_kit":
        return or_(Referral.status == "awaiting_kit", masked)  # type: ignore[arg-type]
    if status == "on_hold":
        return and_(Referral.status == "on_hold", not_(or_(behind_other, reconciling)))  # type: ignore[arg-type]
    return Referral.status == status  # type: ignore[return-value]


@dataclass(frozen=True)
class ChangeView:
    id: int
    patient_id: int
    referral_id: int | None
    practice_id: int
    status: str
    previous: dict[str, Any]
    sent: dict[str, Any]
    created_at: datetime
    created_by: str
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


def _view(row: DemographicsChange) -> ChangeView:
    return ChangeView(int(row.id or 0), row.patient_id, row.referral_id, row.practice_id, row.status,
                      dict(row.previous), dict(row.sent), row.created_at, row.created_by, row.decided_at,
                      row.decided_by, row.decision_reason)


def _require_worklist(actor: Principal) -> None:
    if actor.role not in WORKLIST_ROLES:
        raise Forbidden("Only the lab (or an administrator) reconciles a patient's details.")


def list_changes(
    engine: Engine, *, actor: Principal, status: str = "pending", limit: int = 50, offset: int = 0,
    clock: Clock = system_clock,
) -> tuple[int, list[ChangeView]]:
    """Differences between sent details and the lab's record, both versions, for a lab person (audited reads)."""
    _require_worklist(actor)
    query = select(DemographicsChange).where(DemographicsChange.status == status)  # type: ignore[arg-type]
    with transaction(engine) as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = list(session.execute(query.order_by(DemographicsChange.id).limit(limit).offset(offset)).scalars())  # type: ignore[arg-type]
        audit.record_many(session, actor, "read", "demographics_change", [(r.id, r.practice_id) for r in rows],
                          clock=clock)
        return total, [_view(r) for r in rows]


def reconcile(
    engine: Engine, change_id: int, *, decision: str, reason: str, actor: Principal, clock: Clock = system_clock
) -> ChangeView:
    """A lab person settles a difference: ``use_sent`` replaces the record with the sent details (the record as it
    stood is kept in ``previous``), ``keep_record`` leaves it. Once only; the held referral is then released with
    ``release-hold`` as any other."""
    _require_worklist(actor)
    if decision not in DECISIONS:
        raise ValidationError([FieldProblem("decision", f"must be one of {', '.join(DECISIONS)}")])
    refuse_control_characters(reason, "reason")
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ValidationError([FieldProblem("reason", "is required: say why, for the audit trail")])
    if len(cleaned) > MAX_REASON_LENGTH:
        raise ValidationError([FieldProblem("reason", f"is longer than {MAX_REASON_LENGTH} characters")])
    now = clock()
    with transaction(engine) as session:
        change = session.execute(select(DemographicsChange).where(
            DemographicsChange.id == change_id)).scalar_one_or_none()  # type: ignore[arg-type]
        if change is None:
            raise NotFound("demographics change", change_id)
        query = select(Patient).where(Patient.id == change.patient_id)  # type: ignore[arg-type]
        if session.get_bind().dialect.name == "postgresql":  # intake locks the patient the same way
            query = query.with_for_update()
        patient = session.execute(query).scalar_one()
        session.refresh(change)
        if change.status != "pending":
            raise StateError(f"Demographics change {change_id} was already settled ({change.status}) by "
                             f"{change.decided_by or change.created_by}; nothing to do.")
        if decision == "use_sent":
            change.previous = _jsonable({k: getattr(patient, k) for k in (*DEMOGRAPHIC_FIELDS, *_DERIVED)})
            values = dict(change.sent)
            values["date_of_birth"] = date.fromisoformat(values["date_of_birth"])
            session.execute(update(Patient).where(Patient.id == patient.id).values(  # type: ignore[arg-type]
                **values, practice_id=change.practice_id, updated_at=now))
            audit.record(session, actor, "update", "patient", patient.id, practice_id=change.practice_id,
                         detail={"demographics_change_id": change_id}, clock=clock)
        change.status = "accepted" if decision == "use_sent" else "kept"
        change.decided_at, change.decided_by, change.decision_reason = now, actor.username, cleaned
        audit.record(session, actor, "reconcile", "demographics_change", change_id, practice_id=change.practice_id,
                     detail={"decision": decision, "reason": cleaned}, clock=clock)
        session.flush()
        return _view(change)
