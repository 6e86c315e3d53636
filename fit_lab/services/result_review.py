"""A scientist's decisions on results: the unmatched queue (link or discard) and releasing held results."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

import labels
import triage
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Kit, Result, TriageOutcome
from fit_lab.errors import FieldProblem, Forbidden, NotFound, StateError, ValidationError
from fit_lab.principal import Principal
from fit_lab.qc.targets import load_targets
from fit_lab.services import audit, lifecycle, outcomes
from fit_lab.services.kits import _reject
from fit_lab.services.results import TOO_OLD, _place, profile_for_method, qc_levels, release
from fit_lab.settings import Settings
from fit_lab.text import refuse_control_characters

SCIENTISTS = frozenset({"scientist", "admin"})


def _require_scientist(actor: Principal) -> None:
    if actor.role not in SCIENTISTS:
        raise Forbidden("Only a scientist may decide on results.")


def list_results(engine: Engine, status: str, *, actor: Principal, limit: int = 50, offset: int = 0,
                 clock: Clock = system_clock) -> tuple[int, list[Result]]:
    _require_scientist(actor)
    with transaction(engine) as session:
        query = select(Result).where(Result.status == status)  # type: ignore[arg-type]
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = list(session.execute(query.order_by(Result.id).limit(limit).offset(offset)).scalars())  # type: ignore[arg-type]
        audit.record_many(session, actor, "read", "result", [(r.id, None) for r in rows], clock=clock)
        return total, rows


def _get(session, result_id: int) -> Result:  # type: ignore[no-untyped-def]
    result = session.get(Result, result_id)
    if result is None:
        raise NotFound("result", result_id)
    return result  # type: ignore[no-any-return]


def link_result(engine: Engine, result_id: int, specimen_id: str, *, actor: Principal, settings: Settings,
                clock: Clock = system_clock) -> Result:
    """Attach an unmatched result to a received kit (e.g. the analyser misread the barcode)."""
    _require_scientist(actor)
    now = clock()
    with transaction(engine) as session:
        result = _get(session, result_id)
        if result.status != "unmatched":
            raise StateError(f"Result {result_id} is {result.status}, not waiting to be matched.")
        try:
            canonical = labels.validate_specimen_id(specimen_id)
        except labels.LabelsError:
            problem = FieldProblem("specimen_id", f"'{specimen_id}' is not a fit-lab specimen ID")
            raise ValidationError([problem]) from None
        kit = session.execute(select(Kit).where(Kit.specimen_id == canonical)).scalar_one_or_none()  # type: ignore[arg-type]
        if kit is None:
            raise NotFound("kit", canonical)
        if kit.state != "received":
            raise StateError(f"Kit {canonical} is {kit.state}; only a received kit can take a result.")
        _require_reportable(result)
        profile = profile_for_method(result.method)
        levels = qc_levels(profile.name, load_targets(settings.qc_targets_file)) if profile else frozenset()
        _place(session, result, kit, settings, None, actor, now, clock, profile=profile, qc_levels=levels)
        audit.record(session, actor, "link", "result", result_id,
                     detail={"specimen_id": canonical, "was": result.specimen_id}, clock=clock)
        return result


def _require_reportable(result: Result) -> None:
    if result.error_code is None and (result.comparator is None or result.fhb_ug_per_g is None):
        raise StateError(f"Result {result.id} has no value fit-lab can report (the analyser sent "
                         f"{result.raw_value!r}): re-test the tube, then discard this result with the reason.")


def discard_result(engine: Engine, result_id: int, reason: str, *, actor: Principal,
                   clock: Clock = system_clock) -> Result:
    _require_scientist(actor)
    refuse_control_characters(reason, "reason")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError([FieldProblem("reason", "say why the result is discarded")])
    with transaction(engine) as session:
        result = _get(session, result_id)
        if result.status not in ("unmatched", "held"):
            raise StateError(f"Result {result_id} is {result.status}; only unmatched or held results can be discarded.")
        before = result.status
        result.status, result.held_reason = "discarded", f"discarded: {reason}"[:200]
        audit.record(session, actor, "discard", "result", result_id, detail={"was": before, "reason": reason},
                     clock=clock)
        return result


def release_held(engine: Engine, result_id: int, *, actor: Principal, settings: Settings,
                 clock: Clock = system_clock) -> Result:
    """A scientist releases a result held after a QC failure (having reviewed the QC)."""
    _require_scientist(actor)
    now = clock()
    with transaction(engine) as session:
        result = _get(session, result_id)
        if result.status != "held":
            raise StateError(f"Result {result_id} is {result.status}; only held results are released by hand.")
        kit = session.get(Kit, result.kit_id)
        assert kit is not None
        if kit.state == "received":  # held because the sample was too old: the scientist accepts the analysis
            lifecycle.move_kit(session, kit, "analysed", actor=actor, now=now,
                               why="held result released by a scientist", analysed_at=now)
        release(session, result, kit, actor, now, clock, settings, automatic=False)
        audit.record(session, actor, "release", "result", result_id, detail={"held_reason": result.held_reason},
                     clock=clock)
        return result


def reject_too_old(engine: Engine, result_id: int, *, actor: Principal, settings: Settings,
                   clock: Clock = system_clock) -> Result:
    """A scientist rejects the kit of a result held as "sample too old at analysis" (domain brief §4).

    In one transaction: the result is discarded with the reason, the kit is rejected as ``too_old`` through
    reception's own rejection (a replacement kit joins the next dispatch batch and the GP is told), all audited.
    """
    _require_scientist(actor)
    now = clock()
    with transaction(engine) as session:
        result = _get(session, result_id)
        if result.status != "held" or not (result.held_reason or "").startswith(TOO_OLD):
            raise StateError(f"Result {result_id} is not held as {TOO_OLD}; reject its kit at reception instead.")
        kit = session.get(Kit, result.kit_id)
        assert kit is not None
        if kit.state != "received":
            raise StateError(f"Kit {kit.specimen_id} is {kit.state}; only a received kit can be rejected.")
        why = result.held_reason
        result.status, result.held_reason = "discarded", "discarded: kit rejected as too old"
        replacement = _reject(session, kit, "too_old", why, actor=actor, settings=settings, now=now, clock=clock)
        audit.record(session, actor, "reject", "result", result_id,
                     detail={"kit": kit.specimen_id, "reason": "too_old", "held_reason": why,
                             "replacement": replacement}, clock=clock)
        return result


def amend_result(
    engine: Engine, result_id: int, value: str, reason: str, *, actor: Principal, settings: Settings,
    clock: Clock = system_clock,
) -> int:
    """Correct a released result: re-triage, issue an AMENDED letter; the old outcome and letter stay in history.

    Returns the new outcome's id.

    ``value`` is written as on the analyser report in µg/g: "57", "<10", ">400", or an error code.
    """
    _require_scientist(actor)
    refuse_control_characters(reason, "reason")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError([FieldProblem("reason", "say why the result is amended")])
    now = clock()
    with transaction(engine) as session:
        result = _get(session, result_id)
        if result.status != "released":
            raise StateError(f"Result {result_id} is {result.status}; only a released result can be amended.")
        policy = outcomes.policies(settings).policy_for(result.method, result.measured_at.date())
        try:
            corrected = triage.Measurement.parse(value, result.method, policy.error_results.known_codes)
        except triage.MeasurementError as exc:
            raise ValidationError([FieldProblem("value", str(exc))]) from None
        before = {"comparator": result.comparator, "fhb_ug_per_g": result.fhb_ug_per_g, "error_code": result.error_code}
        result.comparator = None if corrected.is_error else corrected.comparator
        result.fhb_ug_per_g, result.error_code = corrected.value_ug_per_g, corrected.error_code
        result.amend_reason = reason[:400]
        old = session.execute(select(TriageOutcome).where(
            TriageOutcome.result_id == result_id, TriageOutcome.is_current.is_(True))).scalar_one()  # type: ignore[arg-type, attr-defined]
        outcomes.supersede(session, old, now)
        kit = session.get(Kit, result.kit_id)
        assert kit is not None
        new = outcomes.report_result(session, result, kit, actor=actor, settings=settings, now=now,
                                     amend_reason=reason, replaces=old)
        audit.record(session, actor, "amend", "result", result_id,
                     detail={"before": before, "after": value, "reason": reason, "outcome": new.id}, clock=clock)
        return int(new.id or 0)
