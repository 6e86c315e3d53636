"""The failsafe's newer alert rules: results that match no kit, and no-result letters nobody acknowledged.

Alerts change nothing; they are shown on the dashboard and printed by ``fit-lab failsafe run`` until the condition
that raised them is gone (the result is linked or discarded, the letter acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

import triage
from fit_lab import kit_states
from fit_lab.db.models import Kit, Letter, Result
from fit_lab.services import outcomes
from fit_lab.settings import Settings

# Letters that carry no result: no reassurance, so the practice must be seen to have read them.
NO_RESULT_LETTERS = (triage.LetterKind.NOT_RETURNED.value, triage.LetterKind.KIT_REJECTED.value,
                     triage.LetterKind.KIT_REJECTED_CLOSED.value)


@dataclass(frozen=True)
class Alert:
    """Something is late or wrong. Alerts are shown to staff; they do not change any state."""

    kind: str
    referral_id: int | None
    kit_id: int | None
    specimen_id: str
    due: date
    days_late: int
    message: str
    since: date | None = None  # the day the kit, result or letter started waiting


def unmatched_results(session: Session, now: datetime, settings: Settings) -> list[Alert]:
    """Unmatched analyser results: at once if the value would refer, or if it names a kit still out with the
    patient (the tube was tested but never scanned at reception); otherwise after ``unmatched_alert_hours``."""
    rows = session.execute(
        select(col(Result.id), col(Result.specimen_id), col(Result.method), col(Result.comparator),
               col(Result.fhb_ug_per_g), col(Result.error_code), col(Result.measured_at), col(Result.stored_at),
               col(Kit.id).label("kit_id"), col(Kit.referral_id), col(Kit.state))
        .outerjoin(Kit, col(Kit.specimen_id) == col(Result.specimen_id))
        .where(col(Result.status) == "unmatched").order_by(col(Result.id))).all()
    alerts = []
    limit = timedelta(hours=settings.unmatched_alert_hours)
    for row in rows:
        stored = row.stored_at.date()
        base = f"result {row.id} for specimen '{row.specimen_id}' matches no received kit"
        if _would_refer(row, settings):
            alerts.append(Alert("unmatched_would_refer", row.referral_id, row.kit_id, row.specimen_id, stored,
                                (now.date() - stored).days,
                                f"{base} and its value would REFER: link it to its kit today", stored))
        elif row.state in kit_states.WITH_PATIENT or row.state == "not_returned":
            alerts.append(Alert("unmatched_kit_in_post", row.referral_id, row.kit_id, row.specimen_id, stored,
                                (now.date() - stored).days,
                                f"{base}: kit {row.specimen_id} is recorded as {row.state.replace('_', ' ')}; "
                                "receive it at reception, then link the result", stored))
        elif now - row.stored_at >= limit:
            due = (row.stored_at + limit).date()
            alerts.append(Alert("unmatched_result", row.referral_id, row.kit_id, row.specimen_id, due,
                                (now.date() - due).days,
                                f"{base} after {settings.unmatched_alert_hours} hours: link or discard it", stored))
    return alerts


def _would_refer(row: Any, settings: Settings) -> bool:
    if row.error_code is not None or row.comparator is None or row.fhb_ug_per_g is None:
        return False
    try:
        decision = outcomes.policies(settings).triage(
            triage.Measurement(row.method, row.comparator, row.fhb_ug_per_g), triage.ReferralFacts(frozenset()),
            row.measured_at.date())
    except triage.TriageError:
        return True  # a value no policy can place is a person's job at once
    return decision.action is triage.Action.REFER


def no_result_letters_not_acknowledged(session: Session, today: date, settings: Settings) -> list[Alert]:
    """Not-returned and rejected-kit letters the practice has not acknowledged: no result is no reassurance."""
    days = settings.no_result_ack_days
    cutoff = datetime.combine(today - timedelta(days=days), time.min, tzinfo=UTC)
    alerts = []
    for row in session.execute(
            select(col(Letter.id), col(Letter.referral_id), col(Letter.kit_id), col(Letter.kind),
                   col(Letter.created_at), col(Kit.specimen_id))
            .outerjoin(Kit, col(Kit.id) == col(Letter.kit_id))
            .where(col(Letter.kind).in_(NO_RESULT_LETTERS), col(Letter.acknowledged_at).is_(None),
                   col(Letter.created_at) < cutoff)
            .order_by(col(Letter.id))):
        due = row.created_at.date() + timedelta(days=days)
        alerts.append(Alert("no_result_not_acknowledged", row.referral_id, row.kit_id, row.specimen_id or "", due,
                            (today - due).days,
                            f"{row.kind.replace('_', ' ')} letter L{row.id} (kit {row.specimen_id}) is not "
                            "acknowledged by the practice: telephone the practice so the patient is safety-netted",
                            row.created_at.date()))
    return alerts


def specimens_with_unmatched_results() -> Any:
    """A subquery of specimen IDs that an unmatched result names: such a kit is never reminded or closed."""
    return select(col(Result.specimen_id)).where(col(Result.status) == "unmatched")
