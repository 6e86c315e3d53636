"""The analyser's QC results as stored, loaded for the gate: for one patient result, or once for a span of them.

``qc_gate`` is the gate for one result, with its own queries; ``qc_window`` loads once what ``qc_gate`` would load
for any result in a span (an analyser message), for ``QcWindow`` to judge each from (tests/test_qc_window.py
checks the two agree word for word).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from fit_lab.db.models import QcResult
from fit_lab.qc.gate import QcPoint, hold_reason
from fit_lab.qc.window import QcWindow, load_from
from fit_lab.settings import Settings


def qc_gate(session: Session, instrument: str, measured_at: datetime, settings: Settings,
            required_levels: Collection[str] = ()) -> str | None:
    """Why a patient result must be held for a scientist, or None when the QC of its run passed as a whole.

    Loads the analyser's QC since its latest failure before the result and within ``qc_max_age_hours``, and
    leaves the decision to ``fit_lab.qc.gate.hold_reason``.
    """
    max_age = timedelta(hours=settings.qc_max_age_hours)
    on_analyser = (col(QcResult.instrument) == instrument, col(QcResult.measured_at) <= measured_at)
    last_failure = session.execute(
        select(col(QcResult.measured_at)).where(*on_analyser, col(QcResult.passed).is_(False))
        .order_by(col(QcResult.measured_at).desc()).limit(1)
    ).scalar_one_or_none()
    since = measured_at - max_age if last_failure is None else min(last_failure, measured_at - max_age)
    rows = session.execute(
        select(col(QcResult.id), col(QcResult.level), col(QcResult.measured_at), col(QcResult.passed),
               col(QcResult.rules_violated), col(QcResult.analyser_session_id))
        .where(*on_analyser, col(QcResult.measured_at) >= since)
    ).all()
    points = [QcPoint(r.level, r.measured_at, r.passed, tuple(r.rules_violated), r.id or 0, r.analyser_session_id)
              for r in rows]
    if not points:
        latest = session.execute(select(col(QcResult.id)).where(*on_analyser).limit(1)).first()
        if latest is not None:  # QC exists, but all of it is too old to count
            return f"the last QC was more than {settings.qc_max_age_hours} h before this result"
    return hold_reason(points, required_levels, measured_at, max_age)


def qc_window(session: Session, instrument: str, first: datetime, last: datetime, max_age: timedelta) -> QcWindow:
    """The analyser's QC that ``qc_gate`` would load for any result measured from ``first`` to ``last``, loaded
    once (three queries, whatever the number of results)."""
    on_analyser = col(QcResult.instrument) == instrument
    measured_at = col(QcResult.measured_at)
    latest_failure = session.execute(
        select(measured_at).where(on_analyser, measured_at <= first, col(QcResult.passed).is_(False))
        .order_by(measured_at.desc()).limit(1)
    ).scalar_one_or_none()
    start = load_from(first, latest_failure, max_age)
    rows = session.execute(
        select(col(QcResult.id), col(QcResult.level), measured_at, col(QcResult.passed),
               col(QcResult.rules_violated), col(QcResult.analyser_session_id))
        .where(on_analyser, measured_at >= start, measured_at <= last)
    ).all()
    points = [QcPoint(r.level, r.measured_at, r.passed, tuple(r.rules_violated), r.id or 0, r.analyser_session_id)
              for r in rows]
    earlier = session.execute(select(col(QcResult.id)).where(on_analyser, measured_at < start).limit(1)).first()
    return QcWindow(first, last, start, points, earlier is not None)
