"""The QC gate for many patient results at once: one load of an analyser's QC, judged per result. Pure.

Judged one result at a time, the gate needs the analyser's latest QC failure before the result, then every QC
result since that failure or in the ``max_age`` before the result, whichever is earlier (``results.qc_gate``).
A message of 25 tubes measured seconds apart asked for nearly the same rows 25 times. A ``QcWindow`` is loaded
once for a span of result times and answers for any result in the span exactly what the per-result queries
give (tests/test_qc_window.py compares the two on a real database).

Why one load is enough: for a span ``first..last``, the earliest QC any result in it can need is the later of
nothing and ``load_from(first, ...)``: the latest failure at or before ``first`` (a later result's latest failure
is that one or a later one) or ``first - max_age``, whichever is earlier. Everything from there to ``last`` is
loaded; whether any QC exists before it is one more fact, for the "QC too old" message.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fit_lab.qc.gate import QcPoint, hold_reason


def load_from(first: datetime, latest_failure: datetime | None, max_age: timedelta) -> datetime:
    """The earliest QC time a result measured at ``first`` or later can need, given the analyser's latest
    failure at or before ``first``."""
    since = first - max_age
    return since if latest_failure is None else min(latest_failure, since)


@dataclass(frozen=True)
class QcWindow:
    """An analyser's QC results measured from ``loaded_from`` to ``last``, for results measured in ``first..last``."""

    first: datetime
    last: datetime
    loaded_from: datetime
    points: Sequence[QcPoint]
    earlier_exists: bool
    """Some QC result on this analyser was measured before ``loaded_from``."""

    def covers(self, measured_at: datetime) -> bool:
        return self.first <= measured_at <= self.last

    def hold_reason(self, measured_at: datetime, required_levels: Collection[str], max_age: timedelta) -> str | None:
        """What ``fit_lab.qc.gate.hold_reason`` says for a result at ``measured_at``, given the QC the
        per-result queries would have loaded for it."""
        if not self.covers(measured_at):
            raise ValueError(f"{measured_at} is outside the span this QC was loaded for")
        up_to = [p for p in self.points if p.measured_at <= measured_at]
        failures = [p.measured_at for p in up_to if not p.passed]
        since = load_from(measured_at, max(failures) if failures else None, max_age)
        window = [p for p in up_to if p.measured_at >= since]
        if not window and (up_to or self.earlier_exists):
            return f"the last QC was more than {_hours(max_age)} h before this result"
        return hold_reason(window, required_levels, measured_at, max_age)


def _hours(max_age: timedelta) -> str:
    """As the setting reads (``qc_max_age_hours`` is whole hours)."""
    hours = max_age.total_seconds() / 3600
    return str(int(hours)) if hours.is_integer() else f"{hours:g}"
