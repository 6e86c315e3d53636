"""Reception: receiving and rejecting returned kits. Every change of state goes through ``lifecycle``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

import labels
import triage
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Kit, Patient, Referral
from fit_lab.errors import FieldProblem, NotFound, StateError, ValidationError
from fit_lab.kit_states import RECEIVABLE, TESTED
from fit_lab.principal import Principal
from fit_lab.services import audit, letters, lifecycle
from fit_lab.services.specimens import allocate_specimen_ids
from fit_lab.settings import Settings
from fit_lab.text import refuse_control_characters

# Reason codes (domain brief §4) and the words a GP letter uses for them.
REJECTION_REASONS: dict[str, str] = {
    "unlabelled": "the tube was unlabelled or its label could not be read",
    "no_collection_date": "no collection date was written on the tube",
    "invalid_collection_date": "the collection date on the tube is impossible (future, or before the kit was sent)",
    "label_mismatch": "the label does not match the request",
    "leaked_damaged": "the sample leaked or the tube was damaged in the post",
    "insufficient_sample": "there was too little sample to test",
    "excess_sample": "the tube was overfilled",
    "too_old": "the sample was too old to give a reliable result",
    "wrong_device": "the sample was not taken with the FIT device the lab sent",
    "other": "other",
}


@dataclass(frozen=True)
class KitAtBench:
    """What the person at the bench needs to check the tube against: who it belongs to."""

    specimen_id: str
    state: str
    patient_name: str
    date_of_birth: date
    nhs_number: str
    received_at: datetime | None
    received_by: str | None
    collection_date: date | None
    reject_reason: str | None
    replacement_specimen_id: str | None = None
    already: bool = False
    message: str = ""


@dataclass(frozen=True)
class _Scanned:
    """The kit a tube belongs to, locked, and who it belongs to (the bench shows it to check against the tube)."""

    kit: Kit
    patient_name: str
    date_of_birth: date
    nhs_number: str


def _load(session: Session, specimen_id: str) -> _Scanned:
    try:
        canonical = labels.validate_specimen_id(specimen_id)
    except labels.LabelsError:
        shown = specimen_id.strip()[:20]
        problem = FieldProblem("specimen_id", f"'{shown}' is not a fit-lab specimen ID (misread? scan again)")
        raise ValidationError([problem]) from None
    # One round trip for the kit and the person it belongs to; only the kit's row is locked.
    query = (select(Kit, Patient.given_name, Patient.family_name, Patient.date_of_birth, Patient.nhs_number)
             .join(Referral, Referral.id == Kit.referral_id)  # type: ignore[arg-type]
             .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
             .where(Kit.specimen_id == canonical))  # type: ignore[arg-type]
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Kit)  # two benches scanning the same tube queue here
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound("kit", canonical)
    kit, given_name, family_name, date_of_birth, nhs_number = row
    return _Scanned(kit, f"{given_name} {family_name}", date_of_birth, nhs_number)


def _bench_view(scanned: _Scanned, *, already: bool = False, message: str = "",
                replacement: str | None = None) -> KitAtBench:
    kit = scanned.kit
    return KitAtBench(kit.specimen_id, kit.state, scanned.patient_name, scanned.date_of_birth, scanned.nhs_number,
                      kit.received_at, kit.received_by, kit.collection_date, kit.reject_reason, replacement, already,
                      message)


def _refuse_unreceivable(kit: Kit) -> None:
    if kit.state == "cancelled":
        raise StateError(f"Kit {kit.specimen_id} was VOIDED ({kit.cancel_reason or 'cancelled'}). Do not test it: "
                         "put it aside for a scientist.")
    if kit.state in TESTED:
        raise StateError(f"Kit {kit.specimen_id} has already been analysed. Do not test it again: put it aside.")
    if kit.state == "rejected":
        raise StateError(f"Kit {kit.specimen_id} was already rejected on {kit.rejected_at:%d %b %Y} "
                         f"({kit.reject_reason}). Put it aside.")


def date_problem(kit: Kit, collected: date | None, today: date, settings: Settings) -> str | None:
    """The rejection reason a collection date leads to, or None when the sample can be tested."""
    if collected is None:
        return "no_collection_date"
    dispatched = kit.dispatched_at.date() if kit.dispatched_at else None
    if collected > today or (dispatched is not None and collected < dispatched):
        return "invalid_collection_date"
    limit = settings.sample_stability_days
    if settings.receipt_max_age_days is not None:
        limit = min(limit, settings.receipt_max_age_days)
    if today - collected > timedelta(days=limit):
        return "too_old"
    return None


def receive_kit(
    engine: Engine, specimen_id: str, collection_date: date | None, *, actor: Principal, settings: Settings,
    clock: Clock = system_clock,
) -> KitAtBench:
    now = clock()
    with transaction(engine) as session, audit.batched(session):
        scanned = _load(session, specimen_id)
        kit = scanned.kit
        if kit.state == "received":
            when = kit.received_at.strftime("%d %b %Y %H:%M") if kit.received_at else "earlier"
            audit.record(session, actor, "read", "kit", kit.id, detail={"second_scan": True}, clock=clock)
            return _bench_view(scanned, already=True,
                               message=f"Already received {when} by {kit.received_by}. Nothing changed.")
        _refuse_unreceivable(kit)
        late = kit.state == "not_returned"
        lifecycle.move_kit(session, kit, "received", actor=actor, now=now, received_at=now,
                           received_by=actor.username, collection_date=collection_date)
        if late:
            _reopen(session, kit, actor, now, clock)
        reason = date_problem(kit, collection_date, now.date(), settings)
        if reason is None:
            return _bench_view(scanned, message="Received: check name, date of birth and NHS number on the tube.")
        replacement = _reject(session, kit, reason, None, actor=actor, settings=settings, now=now, clock=clock)
        return _bench_view(scanned, message=f"REJECTED: {REJECTION_REASONS[reason]}.", replacement=replacement)


def _reopen(session: Session, kit: Kit, actor: Principal, now: datetime, clock: Clock) -> None:
    """A kit closed as not returned came back after all: its referral is live again and will get a result letter."""
    referral = session.get(Referral, kit.referral_id)
    if referral is None:
        raise NotFound("referral", kit.referral_id)
    if referral.status == "closed":
        was = referral.closed_reason
        lifecycle.move_referral(session, referral, "in_progress", actor=actor, now=now,
                                why=f"kit {kit.specimen_id} returned after being closed as not returned ({was})")


def reject_kit(
    engine: Engine, specimen_id: str, reason: str, note: str | None = None, *, actor: Principal,
    settings: Settings, clock: Clock = system_clock,
) -> KitAtBench:
    if reason not in REJECTION_REASONS:
        raise ValidationError([FieldProblem("reason", f"must be one of {', '.join(REJECTION_REASONS)}")])
    refuse_control_characters(note, "note")
    note = " ".join((note or "").split())[:400] or None
    if reason == "other" and not note:
        raise ValidationError([FieldProblem("note", "say why when the reason is 'other'")])
    now = clock()
    with transaction(engine) as session, audit.batched(session):
        scanned = _load(session, specimen_id)
        kit = scanned.kit
        _refuse_unreceivable(kit)
        late = kit.state == "not_returned"
        if kit.state in RECEIVABLE:
            lifecycle.move_kit(session, kit, "received", actor=actor, now=now, received_at=now,
                               received_by=actor.username)
        if late:  # its referral was closed as not returned: live again, so the rejection's next step is its own
            _reopen(session, kit, actor, now, clock)
        replacement = _reject(session, kit, reason, note, actor=actor, settings=settings, now=now, clock=clock)
        return _bench_view(scanned, message=f"REJECTED: {REJECTION_REASONS[reason]}.", replacement=replacement)


def _reject(session: Session, kit: Kit, reason: str, note: str | None, *, actor: Principal, settings: Settings,
            now: datetime, clock: Clock) -> str | None:
    """Reject, allocate the replacement (joins the next dispatch batch) and write the GP's letter."""
    lifecycle.move_kit(session, kit, "rejected", actor=actor, now=now, why=reason, rejected_at=now,
                       reject_reason=reason, reject_note=note)
    replacement: str | None = None
    if settings.replacement_kits:
        (specimen_id,) = allocate_specimen_ids(session, 1, now)
        replacement = lifecycle.create_kit(session, specimen_id=specimen_id, referral_id=kit.referral_id,
                                           actor=actor, now=now, replaces=kit,
                                           why=f"replacement for kit rejected ({reason})").specimen_id
        kind = triage.LetterKind.KIT_REJECTED
    else:
        referral = session.get(Referral, kit.referral_id)
        if referral is None:
            raise NotFound("referral", kit.referral_id)
        lifecycle.move_referral(session, referral, "closed", actor=actor, now=now,
                                why=f"kit rejected ({reason}); no replacement sent: GP told")
        kind = triage.LetterKind.KIT_REJECTED_CLOSED
    words = REJECTION_REASONS[reason] + (f" ({note})" if note else "")
    data = letters.letter_data(session, kit.referral_id, settings, now.date(), kit=kit, rejection_reason=words)
    letter = letters.store_gp_letter(session, kind, data, referral_id=kit.referral_id, kit_id=kit.id, now=now,
                                     settings=settings)
    audit.record(session, actor, "create", "letter", letter.id, detail={"kind": kind.value}, clock=clock)
    return replacement
