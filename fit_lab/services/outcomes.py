"""From a released result to the patient's outcome and the GP's letter, in the result's own transaction.

The decision is the triage library's, under the policy for the result's method in force on the day it was
measured; the whole decision is stored with the outcome, so a later policy never changes what was issued.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

import triage
from fit_lab.db.models import Kit, Letter, Referral, Result, TriageOutcome
from fit_lab.intake.validate import ReferralInput
from fit_lab.principal import Principal
from fit_lab.services import audit, letters, lifecycle
from fit_lab.services.specimens import allocate_specimen_ids
from fit_lab.settings import Settings

LETTER_FOR_ACTION = {
    triage.Action.REASSURE: triage.LetterKind.REASSURANCE,
    triage.Action.REFER: triage.LetterKind.POSITIVE,
    triage.Action.REPEAT: triage.LetterKind.NO_VALID_RESULT,
}


@lru_cache(maxsize=4)
def _policies(directory: str | None) -> triage.PolicySet:
    return triage.PolicySet.load_directory(directory) if directory else triage.load_default_policies()


def policies(settings: Settings) -> triage.PolicySet:
    return _policies(str(settings.policy_dir) if settings.policy_dir else None)


def facts_for(referral: Referral | ReferralInput) -> triage.ReferralFacts:
    flags = {
        triage.ClinicalFlag.IDA: referral.iron_deficiency_anaemia,
        triage.ClinicalFlag.ABDOMINAL_MASS: referral.abdominal_mass,
        triage.ClinicalFlag.RECTAL_MASS: referral.rectal_mass,
        triage.ClinicalFlag.ANAL_MASS: "anal_mass" in referral.symptoms,
        triage.ClinicalFlag.ANAL_ULCERATION: "anal_ulceration" in referral.symptoms,
        triage.ClinicalFlag.CLINICAL_CONCERN: referral.clinical_concern,
    }
    return triage.ReferralFacts(frozenset(f for f, present in flags.items() if present), referral.referral_date)


def measurement_for(result: Result) -> triage.Measurement:
    if result.error_code:
        return triage.Measurement.error(result.error_code, result.method)
    return triage.Measurement(result.method, result.comparator, result.fhb_ug_per_g)  # type: ignore[arg-type]


def outcome_to_json(outcome: triage.TriageOutcome) -> dict[str, Any]:
    data = dataclasses.asdict(outcome)
    data["action"] = outcome.action.value
    data["flags"] = sorted(f.value for f in outcome.flags)
    data["rules_applied"] = list(outcome.rules_applied)
    return data


def outcome_from_json(data: dict[str, Any]) -> triage.TriageOutcome:
    values = dict(data)
    values["action"] = triage.Action(values["action"])
    values["flags"] = frozenset(triage.ClinicalFlag(f) for f in values["flags"])
    values["rules_applied"] = tuple(values["rules_applied"])
    return triage.TriageOutcome(**values)


def report_result(session: Session, result: Result, kit: Kit, *, actor: Principal, settings: Settings,
                  now: datetime, amend_reason: str | None = None, replaces: TriageOutcome | None = None
                  ) -> TriageOutcome:
    """Decide, store the outcome and the GP's letter, and move the kit to reported (idempotent per result)."""
    existing = session.execute(select(TriageOutcome).where(
        TriageOutcome.result_id == result.id, TriageOutcome.is_current.is_(True))).scalar_one_or_none()  # type: ignore[arg-type, attr-defined]
    if existing is not None:
        return existing
    (row,) = _report(session, [_Report(result, kit, amend_reason, replaces)], actor, settings, now)
    return row


def report_new_results(session: Session, released: Sequence[tuple[Result, Kit]], *, actor: Principal,
                       settings: Settings, now: datetime) -> list[TriageOutcome]:
    """``report_result`` for results stored in this same transaction, in a few statements however many there are.

    A result stored in this transaction cannot have an outcome yet, so the check that makes ``report_result``
    idempotent is left out; the results must have been flushed (their ids are named by the outcomes).
    """
    return _report(session, [_Report(result, kit) for result, kit in released], actor, settings, now)


@dataclass
class _Report:
    result: Result
    kit: Kit
    amend_reason: str | None = None
    replaces: TriageOutcome | None = None


def _report(session: Session, items: list[_Report], actor: Principal, settings: Settings, now: datetime
            ) -> list[TriageOutcome]:
    """Outcomes, then letters, then audit rows and state changes: each phase one flush for all the items (an
    outcome's id goes into its letter, a letter's id into the outcome's audit row)."""
    if not items:
        return []
    letters.load_contexts(session, [item.kit.referral_id for item in items])
    decided = []
    for item in items:
        referral = session.get(Referral, item.kit.referral_id)
        assert referral is not None
        decision = policies(settings).triage(measurement_for(item.result), facts_for(referral),
                                             item.result.measured_at.date())
        row = TriageOutcome(referral_id=referral.id, result_id=item.result.id,  # type: ignore[arg-type]
                            action=decision.action.value, band=decision.band, priority_key=decision.priority_key,
                            explanation=decision.explanation, policy_version=decision.policy_version,
                            detail=outcome_to_json(decision), created_at=now)
        session.add(row)
        decided.append((item, referral, decision, row))
    session.flush()
    kinds = {LETTER_FOR_ACTION[decision.action] for _, _, decision, _ in decided}
    if any(item.replaces is not None for item in items):
        kinds.add(triage.LetterKind.AMENDED)
    letters.store_template_versions(session, kinds, settings, now)
    written = [_letter(session, decision, row, referral, item.kit, settings, now, item.amend_reason, item.replaces)
               for item, referral, decision, row in decided]
    session.flush()
    repeats = []
    for (item, referral, decision, row), letter in zip(decided, written, strict=True):
        audit.record(session, actor, "create", "triage_outcome", row.id, practice_id=referral.practice_id,
                     detail={"action": row.action, "band": row.band, "policy_version": row.policy_version,
                             "letter_id": letter.id}, clock=lambda: now)
        if item.kit.state == "resulted":
            lifecycle.move_kit(session, item.kit, "reported", actor=actor, now=now)
        if decision.action is triage.Action.REPEAT:
            repeats.append((item.kit, referral))
            lifecycle.move_referral(session, referral, "in_progress", actor=actor, now=now,
                                    why=f"no valid result from kit {item.kit.specimen_id}: a repeat kit is sent")
        else:
            lifecycle.move_referral(session, referral, "resulted", actor=actor, now=now,
                                    why=f"{decision.action.value} (policy {decision.policy_version})")
    _repeat_kits(session, repeats, actor, now)
    return [row for _, _, _, row in decided]


def _letter(session: Session, decision: triage.TriageOutcome, row: TriageOutcome, referral: Referral, kit: Kit,
            settings: Settings, now: datetime, amend_reason: str | None, replaces: TriageOutcome | None) -> Letter:
    kind = LETTER_FOR_ACTION[decision.action]
    extra: dict[str, Any] = {"result": triage.ResultDetails.from_outcome(decision)}
    supersedes = None
    if replaces is not None:
        old = session.execute(select(Letter).where(Letter.outcome_id == replaces.id)).scalars().first()  # type: ignore[arg-type]
        supersedes = old.id if old else None
        extra["amendment"] = triage.Amendment(
            replaces_letter=f"L{supersedes}" if supersedes else "earlier report",
            replaces_letter_date=(old.created_at if old else replaces.created_at).date(),
            reason=amend_reason or "amended", new_kind=kind)
        kind = triage.LetterKind.AMENDED
    data = letters.letter_data(session, referral.id or 0, settings, now.date(), kit=kit,
                               policy_version=decision.policy_version, letter_reference=f"O{row.id}", **extra)
    return letters.store_gp_letter(session, kind, data, referral_id=referral.id or 0, kit_id=kit.id, now=now,
                                   outcome_id=row.id, supersedes=supersedes, settings=settings, flush=False)


def _repeat_kits(session: Session, repeats: list[tuple[Kit, Referral]], actor: Principal, now: datetime) -> None:
    """No valid result: a new kit joins the next dispatch batch (the GP's letter says so)."""
    if not repeats:
        return
    with session.no_autoflush:  # the serials need nothing pending written first
        specimen_ids = allocate_specimen_ids(session, len(repeats), now)
    for specimen_id, (kit, referral) in zip(specimen_ids, repeats, strict=True):
        lifecycle.create_kit(session, specimen_id=specimen_id, referral_id=int(referral.id or 0), actor=actor,
                             now=now, replaces=kit, why=f"repeat of {kit.specimen_id}: no valid result")


def supersede(session: Session, outcome: TriageOutcome, now: datetime) -> None:
    outcome.is_current, outcome.superseded_at = False, now


def report_red_flags(session: Session, red_flags: Sequence[tuple[int, triage.TriageOutcome]], *, actor: Principal,
                     settings: Settings, now: datetime) -> list[TriageOutcome]:
    """Store the outcome and the GP's RED FLAG letter of referrals referred without a FIT (created ``red_flag``).

    The outcome is an ordinary current "refer" outcome with no result, so the patient is on the colonoscopy list
    (at the flags' priority) and the letter is chased like a positive one until the practice acknowledges it.
    """
    if not red_flags:
        return []
    letters.load_contexts(session, [referral_id for referral_id, _ in red_flags])
    rows = []
    for referral_id, decision in red_flags:
        row = TriageOutcome(referral_id=referral_id, result_id=None, action=decision.action.value,
                            band=decision.band, priority_key=decision.priority_key, explanation=decision.explanation,
                            policy_version=decision.policy_version, detail=outcome_to_json(decision), created_at=now)
        session.add(row)
        rows.append(row)
    session.flush()
    letters.store_template_versions(session, {triage.LetterKind.RED_FLAG}, settings, now)
    written = []
    for (referral_id, decision), row in zip(red_flags, rows, strict=True):
        words = " and ".join(flag.description for flag in decision.overridden_by) or "a red flag"
        data = letters.letter_data(session, referral_id, settings, now.date(), policy_version=decision.policy_version,
                                   letter_reference=f"O{row.id}", red_flags=words)
        written.append(letters.store_gp_letter(session, triage.LetterKind.RED_FLAG, data, referral_id=referral_id,
                                               kit_id=None, now=now, outcome_id=row.id, settings=settings,
                                               flush=False))
    session.flush()
    for row, letter in zip(rows, written, strict=True):
        audit.record(session, actor, "create", "triage_outcome", row.id, practice_id=letter.practice_id,
                     detail={"action": row.action, "band": row.band, "policy_version": row.policy_version,
                             "letter_id": letter.id, "red_flag": True}, clock=lambda: now)
    return rows
