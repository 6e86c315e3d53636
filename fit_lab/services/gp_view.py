"""What a GP (own practice only) and the lab's scientists see of outcomes and letters; every read is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Kit, Letter, Patient, Practice, Referral, TriageOutcome
from fit_lab.errors import Forbidden, NotFound, StateError
from fit_lab.principal import Principal
from fit_lab.services import audit, letters

VIEWERS = frozenset({"gp", "scientist", "admin"})
# Letters to the GP. Patient reminders (the kit's instructions sent again) are listed only when asked for by kind.
GP_LETTER_KINDS = ("reassurance", "positive", "no_valid_result", "amended", "kit_rejected", "rejected_closed",
                   "not_returned", "red_flag")
LETTER_KINDS = (*GP_LETTER_KINDS, "reminder")


@dataclass(frozen=True)
class OutcomeRow:
    referral_id: int
    outcome_id: int
    created_at: datetime
    action: str
    band: str | None
    priority: str | None
    explanation: str
    policy_version: str
    fhb: str
    practice_ods: str
    patient_name: str
    nhs_number: str
    date_of_birth: date
    letter_id: int | None
    letter_kind: str | None
    acknowledged_at: datetime | None

    @property
    def positive(self) -> bool:
        return self.action == "refer"


def _require_viewer(actor: Principal) -> None:
    if actor.role not in VIEWERS:
        raise Forbidden("Your role does not see patients' results.")


def _fhb(detail: dict[str, Any]) -> str:
    if detail.get("error_code"):
        return f"no valid result ({detail['error_code']})"
    if detail.get("fhb_ug_per_g") is None:
        return "not tested: referred on a red flag"
    comparator = "" if detail.get("comparator") in (None, "=") else detail["comparator"]
    return f"{comparator}{detail.get('fhb_ug_per_g'):g} µg/g"


@dataclass(frozen=True)
class LetterRow:
    letter_id: int
    kind: str
    created_at: datetime
    referral_id: int
    practice_ods: str
    patient_name: str
    nhs_number: str
    date_of_birth: date
    specimen_id: str | None
    outcome_id: int | None
    policy_version: str | None
    supersedes_letter_id: int | None
    superseded_by_letter_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def _day_range(column: Any, since: date | None, until: date | None) -> list[Any]:
    where = []
    if since:
        where.append(column >= datetime.combine(since, time(), UTC))
    if until:
        where.append(column < datetime.combine(until + timedelta(days=1), time(), UTC))
    return where


def _query() -> Any:
    latest_letter = (
        select(Letter.outcome_id, func.max(Letter.id).label("letter_id")).group_by(Letter.outcome_id).subquery()
    )
    return (
        select(TriageOutcome, Referral.practice_id, Practice.ods_code, Patient, Letter)
        .join(Referral, Referral.id == TriageOutcome.referral_id)  # type: ignore[arg-type]
        .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
        .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
        .outerjoin(latest_letter, latest_letter.c.outcome_id == TriageOutcome.id)
        .outerjoin(Letter, Letter.id == latest_letter.c.letter_id)  # type: ignore[arg-type]
        .where(TriageOutcome.is_current.is_(True))  # type: ignore[attr-defined]
    )


def _row(outcome: TriageOutcome, ods: str, patient: Patient, letter: Letter | None) -> OutcomeRow:
    return OutcomeRow(outcome.referral_id, int(outcome.id or 0), outcome.created_at, outcome.action, outcome.band,
                      outcome.priority_key, outcome.explanation, outcome.policy_version, _fhb(outcome.detail), ods,
                      f"{patient.given_name} {patient.family_name}", patient.nhs_number, patient.date_of_birth,
                      letter.id if letter else None, letter.kind if letter else None,
                      letter.acknowledged_at if letter else None)


def list_outcomes(
    engine: Engine, *, actor: Principal, band: str | None = None, since: date | None = None,
    until: date | None = None, limit: int = 50, offset: int = 0, clock: Clock = system_clock,
) -> tuple[int, list[OutcomeRow]]:
    """Current outcomes, newest first; a GP sees only their own practice."""
    _require_viewer(actor)
    query = _query()
    if actor.is_gp:
        query = query.where(Referral.practice_id == actor.practice_id)  # type: ignore[arg-type]
    if band:
        query = query.where(TriageOutcome.band == band)  # type: ignore[arg-type]
    query = query.where(*_day_range(TriageOutcome.created_at, since, until))
    with transaction(engine) as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        found = session.execute(query.order_by(TriageOutcome.created_at.desc(), TriageOutcome.id.desc())  # type: ignore[attr-defined, union-attr]
                                .limit(limit).offset(offset)).all()
        rows = [_row(o, ods, p, letter) for o, _, ods, p, letter in found]
        audit.record_many(session, actor, "read", "triage_outcome",
                          [(r.outcome_id, pid) for r, (_, pid, _, _, _) in zip(rows, found, strict=True)], clock=clock)
        return total, rows


def outcome_for_referral(engine: Engine, referral_id: int, *, actor: Principal,
                         clock: Clock = system_clock) -> tuple[OutcomeRow, list[dict[str, Any]]]:
    """The referral's current outcome and its whole history (superseded outcomes and their letters)."""
    _require_viewer(actor)
    with transaction(engine) as session:
        found = session.execute(_query().where(TriageOutcome.referral_id == referral_id)).first()  # type: ignore[arg-type]
        if found is None or not actor.may_see_practice(found[1]):
            raise NotFound("outcome for referral", referral_id)
        history = [
            {"outcome_id": o.id, "action": o.action, "band": o.band, "policy_version": o.policy_version,
             "created_at": o.created_at, "current": o.is_current, "superseded_at": o.superseded_at}
            for o in session.execute(select(TriageOutcome).where(TriageOutcome.referral_id == referral_id)  # type: ignore[arg-type]
                                     .order_by(TriageOutcome.id)).scalars()  # type: ignore[arg-type]
        ]
        audit.record(session, actor, "read", "triage_outcome", found[0].id, practice_id=found[1], clock=clock)
        return _row(found[0], found[2], found[3], found[4]), history


def list_letters(
    engine: Engine, *, actor: Principal, kind: str | None = None, since: date | None = None,
    until: date | None = None, limit: int = 50, offset: int = 0, clock: Clock = system_clock,
) -> tuple[int, list[LetterRow]]:
    """Letters newest first, including those with no outcome (kit rejected, kit not returned); a GP sees only
    their own practice's. Without ``kind``, every letter to the GP (patient reminders only by kind)."""
    _require_viewer(actor)
    replacement = aliased(Letter)
    replaced_by = (select(func.max(replacement.id)).where(replacement.supersedes_letter_id == Letter.id)
                   .correlate(Letter).scalar_subquery())
    query = (
        select(Letter, Practice.ods_code, Patient, Kit.specimen_id, replaced_by)
        .join(Referral, Referral.id == Letter.referral_id)  # type: ignore[arg-type]
        .join(Practice, Practice.id == Letter.practice_id)  # type: ignore[arg-type]
        .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
        .outerjoin(Kit, Kit.id == Letter.kit_id)  # type: ignore[arg-type]
        .where(Letter.kind.in_([kind] if kind else GP_LETTER_KINDS))  # type: ignore[attr-defined]
        .where(*_day_range(Letter.created_at, since, until))
    )
    if actor.is_gp:
        query = query.where(Letter.practice_id == actor.practice_id)  # type: ignore[arg-type]
    with transaction(engine) as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        found = session.execute(query.order_by(Letter.created_at.desc(), Letter.id.desc())  # type: ignore[attr-defined, union-attr]
                                .limit(limit).offset(offset)).all()
        rows = [
            LetterRow(int(letter.id or 0), letter.kind, letter.created_at, letter.referral_id, ods,
                      f"{patient.given_name} {patient.family_name}", patient.nhs_number, patient.date_of_birth,
                      specimen_id, letter.outcome_id, letter.policy_version, letter.supersedes_letter_id,
                      replacement_id, letter.acknowledged_at, letter.acknowledged_by)
            for letter, ods, patient, specimen_id, replacement_id in found
        ]
        audit.record_many(session, actor, "read", "letter",
                          [(letter.id, letter.practice_id) for letter, *_ in found], clock=clock)
        return total, rows


def _letter_in_scope(session: Any, letter_id: int, actor: Principal) -> Letter:
    letter = session.get(Letter, letter_id)
    if letter is None or not actor.may_see_practice(letter.practice_id):
        raise NotFound("letter", letter_id)
    return letter  # type: ignore[no-any-return]


def letter_pdf(engine: Engine, letter_id: int, *, actor: Principal, clock: Clock = system_clock) -> bytes:
    _require_viewer(actor)
    with transaction(engine) as session:
        letter = _letter_in_scope(session, letter_id, actor)
        audit.record(session, actor, "read", "letter", letter_id, practice_id=letter.practice_id, clock=clock)
        return letters.letter_pdf(letter)


def acknowledge(engine: Engine, letter_id: int, *, actor: Principal, clock: Clock = system_clock) -> Letter:
    """The GP confirms they have read the letter (unacknowledged positives are chased by the failsafe)."""
    if actor.role != "gp":
        raise Forbidden("Only the patient's GP practice acknowledges a letter.")
    now = clock()
    with transaction(engine) as session:
        letter = _letter_in_scope(session, letter_id, actor)
        if letter.acknowledged_at is not None:
            raise StateError(f"Letter {letter_id} was already acknowledged by {letter.acknowledged_by} "
                             f"on {letter.acknowledged_at:%d %b %Y %H:%M}.")
        letter.acknowledged_at, letter.acknowledged_by = now, actor.username
        audit.record(session, actor, "acknowledge", "letter", letter_id, practice_id=letter.practice_id, clock=clock)
        return letter


def acknowledge_many(engine: Engine, letter_ids: list[int], *, actor: Principal,
                     clock: Clock = system_clock) -> list[int]:
    """The GP confirms they have read several letters at once; returns the ones newly acknowledged.

    Letters of another practice answer as not found, as for one letter; letters already acknowledged are left as
    they were (their first acknowledgement stands).
    """
    if actor.role != "gp":
        raise Forbidden("Only the patient's GP practice acknowledges a letter.")
    now = clock()
    wanted = sorted(set(letter_ids))
    with transaction(engine) as session:
        found = dict(session.execute(select(Letter.id, Letter.practice_id).where(
            Letter.id.in_(wanted))).all()) if wanted else {}  # type: ignore[union-attr]
        foreign = [i for i in wanted if i not in found or not actor.may_see_practice(found[i])]
        if foreign:
            raise NotFound("letter", foreign[0])
        fresh = list(session.execute(select(Letter.id).where(
            Letter.id.in_(wanted), Letter.acknowledged_at.is_(None))).scalars())  # type: ignore[union-attr]
        if fresh:
            session.execute(update(Letter).where(Letter.id.in_(fresh))  # type: ignore[union-attr]
                            .values(acknowledged_at=now, acknowledged_by=actor.username))
            audit.record_many(session, actor, "acknowledge", "letter", [(i, found[i]) for i in fresh], clock=clock)
        return fresh
