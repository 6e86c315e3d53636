"""The QC gate (domain brief §3): may a patient result be released on this analyser's QC? Pure, no database.

QC is judged as a run, not a row: a lab runs every level (e.g. negative, low, high) and a run passes only if
every level passes. Looking at the latest QC row alone let a failed low level hide behind a passing high level
measured a second later. Here a failure stays in force until every required level has passed *after* it, in a
later run, and each required level must have been run recently.

A run is known only as far as the analyser shows it: QC results that arrived in the same message as the failure
belong to the failed run and never clear it. An analyser that sends every QC tube as a message of its own gives no
such grouping, and a level of the failed run measured after the failure then counts (storing a run identifier would
close that gap).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class QcPoint:
    """One stored QC result: its level, when it was measured, and the Westgard verdict."""

    level: str
    measured_at: datetime
    passed: bool
    rules: tuple[str, ...] = ()
    sequence: int = 0
    """Arrival order (the database id): QC tubes of one run often share a measurement time."""
    run: int | None = None
    """The analyser message (journal session) that carried it: results of one message are one run."""

    @property
    def order(self) -> tuple[datetime, int]:
        return self.measured_at, self.sequence


def hold_reason(
    points: Sequence[QcPoint], required_levels: Collection[str], measured_at: datetime, max_age: timedelta
) -> str | None:
    """Why a patient result measured at ``measured_at`` must wait for a scientist, or None to release it.

    ``points`` are the analyser's QC results: at least every one since its latest failure and every one in
    the ``max_age`` before the result (others are ignored). ``required_levels`` are the levels a run must
    include (the levels the lab has targets for); when empty, the levels seen recently stand in for them.
    Held when: no QC at all, none within ``max_age``, a level failed and some required level (or, without
    targets, the failed level) has not passed since, or a required level has no QC within ``max_age``.
    """
    hours = f"{max_age.total_seconds() / 3600:g} h"
    before = sorted((p for p in points if p.measured_at <= measured_at), key=lambda p: p.order)
    if not before:
        return "no QC has been run on this analyser before this result"
    recent = [p for p in before if p.measured_at >= measured_at - max_age]
    if not recent:
        return f"the last QC was more than {hours} before this result"
    failures = [p for p in before if not p.passed]
    levels = set(required_levels) or {p.level for p in recent} | {p.level for p in failures[-1:]}
    if failures:
        failed = failures[-1]
        passed_since = {p.level for p in before
                        if p.order > failed.order and (p.run is None or p.run != failed.run)}
        missing = sorted(levels - passed_since)
        if missing:
            rules = ", ".join(failed.rules) or "failed"
            verb = "has" if len(missing) == 1 else "have"
            return (f"QC failed before this result ({failed.level}: {rules}) and {', '.join(missing)} {verb} "
                    "not passed in a later run")
    stale = sorted(levels - {p.level for p in recent})
    if stale:
        return f"no {', '.join(stale)} QC in the {hours} before this result"
    return None
