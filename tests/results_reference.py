"""The analyser sink as it was before batching (commit 768442f): every tube stored, matched, gated and reported on
its own, with its own queries and flushes. The batched ``store_message`` must leave exactly the rows this does.

It shares with the batched code only what batching did not touch: the QC store, the per-result QC gate
(``qc_gate``, its queries), the decision for one matched result (``_place``) and ``outcomes.report_result``
with its idempotency query.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from analyser_drivers import QcMeasurement, measurements_from_message
from analyser_drivers.errors import AnalyserDriverError
from fit_lab.db.engine import transaction
from fit_lab.db.models import Result
from fit_lab.services import audit
from fit_lab.services.results import (
    ANALYSER,
    StoredMessage,
    _canonical,
    _find_kit,
    _journal,
    _judge,
    _new_result,
    _place,
    _placeholder_id,
    _refusal,
    _resent,
    _store_qc,
    _utc,
    qc_levels,
)


def store_message_tube_by_tube(engine, received, *, profile, port_url, settings, qc_targets, clock):
    now = clock()
    with transaction(engine) as session:
        journal = _journal(received, profile, port_url, now)
        session.add(journal)
        session.flush()
        report = StoredMessage(journal.id)
        try:
            measurements = measurements_from_message(profile, received.message)
        except AnalyserDriverError as exc:
            journal.problems = [{"kind": "unreadable_message", "detail": str(exc)}]
            report.problems.append(str(exc))
            audit.record(session, ANALYSER, "unreadable", "analyser_session", journal.id, detail={"why": str(exc)},
                         clock=clock)
            return report
        journal.instrument = measurements[0].instrument[:60] if measurements else profile.instrument
        levels = qc_levels(profile.name, qc_targets)
        run_z: list[float] = []
        problems: list[dict[str, Any]] = []
        for position, item in enumerate(measurements, start=1):
            for problem in item.problems:
                problems.append({"kind": problem.kind, "detail": problem.detail, "result": position})
                report.problems.append(problem.detail)
            if isinstance(item, QcMeasurement):
                _store_qc(session, item, position, profile, journal.id, settings, qc_targets, run_z, report, now)
            else:
                _store_result(session, item, position, profile, journal.id, settings, levels, report, now, clock)
        journal.problems = problems
        audit.record(session, ANALYSER, "create", "analyser_session", journal.id,
                     detail={k: v for k, v in report.__dict__.items() if isinstance(v, int) and v}, clock=clock)
        return report


def _match(session, specimen_id):
    canonical = _canonical(specimen_id)
    if canonical is None:
        return None, "the specimen ID is not a valid fit-lab ID (misread by the analyser?)"
    return _judge(_find_kit(session, canonical))


def _store_result(session, item, position, profile, journal_id, settings, levels, report, now, clock):
    measured_at = _utc(item.measured_at, settings)
    instrument = item.instrument[:60]
    specimen_id = (item.specimen_id or _placeholder_id(item, position))[:40]
    same = (col(Result.instrument) == instrument, col(Result.specimen_id) == specimen_id)
    if measured_at is None:
        error_code = col(Result.error_code)
        error = error_code.is_(None) if item.error_code is None else error_code == item.error_code
        if _resent(session, Result, now, *same, col(Result.raw_value) == item.raw_value[:40], error):
            report.duplicates += 1
            return
        measured_at = now + timedelta(microseconds=position)
    elif session.execute(select(col(Result.id)).where(*same, col(Result.measured_at) == measured_at)).first():
        report.duplicates += 1
        return
    refused = _refusal(item)
    kit, unmatched = (None, refused) if refused else _match(session, item.specimen_id)
    result = _new_result(item, specimen_id, measured_at, kit, unmatched, profile, journal_id, now)
    session.add(result)
    session.flush()
    report.stored += 1
    if kit is None:
        report.unmatched += 1
    else:
        _place(session, result, kit, settings, report, ANALYSER, now, clock, profile=profile, qc_levels=levels)
    audit.record(session, ANALYSER, "create", "result", result.id,
                 detail={"status": result.status, "kit_id": result.kit_id,
                         "why": result.unmatched_reason or result.held_reason}, clock=clock)
