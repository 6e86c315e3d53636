"""The demo's closing cross-checks and summary, from direct counts in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from fit_lab import kit_states, referral_states
from fit_lab.db.models import Kit, Letter, Referral, Result, TriageOutcome
from fit_lab.stats import SUPPRESSED, MonthlyStats
from fit_lab.stats.load import month_bounds

# Where a referral can rest, each visible to a person: a list, a queue or a closed record with its reason.
VISIBLE_REFERRAL_STATES = set(referral_states.STATES)
ANALYSED = kit_states.TESTED


@dataclass
class CrossChecks:
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)


def cross_check(engine: Engine, statistics: MonthlyStats | None = None, month: date | None = None) -> CrossChecks:
    """Every referral visible in one state, results and analysed kits in step, one current outcome and letter per
    released result, and (given the month's statistics) the statistics agreeing with direct counts."""
    checks = CrossChecks()
    with Session(engine) as session:
        states = dict(session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
        checks.expect(set(states) <= VISIBLE_REFERRAL_STATES, f"referrals in unknown states: {states}")
        live = session.execute(
            select(Kit.referral_id, func.count()).where(Kit.state.in_(kit_states.IN_FLIGHT))
            .group_by(Kit.referral_id).having(func.count() > 1)).all()
        checks.expect(not live, f"{len(live)} referrals have more than one live kit")
        in_progress_without_kit = session.execute(
            select(func.count()).select_from(Referral).where(
                Referral.status == "in_progress",
                ~select(Kit.id).where(Kit.referral_id == Referral.id,
                                      Kit.state.in_(kit_states.IN_FLIGHT)).exists())).scalar_one()
        checks.expect(in_progress_without_kit == 0, f"{in_progress_without_kit} referrals in progress with no kit")
        count = select(func.count())
        analysed = session.execute(count.select_from(Kit).where(Kit.state.in_(ANALYSED))).scalar_one()
        matched = session.execute(count.select_from(Result).where(Result.kit_id.is_not(None))).scalar_one()
        checks.expect(analysed == matched, f"{matched} matched results for {analysed} analysed kits")
        released = session.execute(select(Result.id).where(Result.status == "released")).scalars().all()
        current = dict(session.execute(
            select(TriageOutcome.result_id, func.count()).where(TriageOutcome.is_current.is_(True))
            .group_by(TriageOutcome.result_id)).all())
        checks.expect(all(current.get(r) == 1 for r in released),
                      "a released result lacks exactly one current outcome")
        lettered = set(session.execute(select(TriageOutcome.result_id).join(
            Letter, Letter.outcome_id == TriageOutcome.id).where(TriageOutcome.is_current.is_(True))).scalars())
        checks.expect(set(released) <= lettered, "a released result has no GP letter")
        unmatched = session.execute(count.select_from(Result).where(Result.status == "unmatched")).scalar_one()
        checks.expect(unmatched == 0, f"{unmatched} results wait unmatched")
    if statistics is not None and month is not None:
        _statistics_agree(engine, statistics, month, checks)
    return checks


def _statistics_agree(engine: Engine, statistics: MonthlyStats, month: date, checks: CrossChecks) -> None:
    """The published month (rounded to 5) against counts made here, straight from the tables."""
    start, end = month_bounds(month)
    events = {"referrals": Referral.received_at, "kits_dispatched": Kit.dispatched_at,
              "kits_returned": Kit.received_at, "kits_rejected": Kit.rejected_at,
              "kits_not_returned": Kit.not_returned_at, "tests_analysed": Kit.analysed_at}
    summary = statistics.tables["summary"]
    published = dict(zip(summary.columns, summary.rows[0], strict=True))
    with Session(engine) as session:
        for name, column in events.items():
            direct = session.execute(select(func.count()).where(column >= start, column < end)).scalar_one()
            shown = published[name]
            ok = shown == 5 * round(direct / 5) or (shown == SUPPRESSED and 1 <= direct <= 7)
            checks.expect(ok, f"statistics say {name} = {shown} for {month:%Y-%m}; the tables hold {direct}")


def summary_tables(engine: Engine, month_start: date, month_end: date) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        referral_states = pd.read_sql(select(Referral.status, func.count().label("referrals"))
                                      .group_by(Referral.status), conn)
        kit_states = pd.read_sql(select(Kit.state, func.count().label("kits")).group_by(Kit.state), conn)
        outcomes = pd.read_sql(select(TriageOutcome.action, TriageOutcome.band, func.count().label("patients"))
                               .where(TriageOutcome.is_current.is_(True))
                               .group_by(TriageOutcome.action, TriageOutcome.band), conn)
        times = pd.read_sql(
            select(Referral.received_at.label("referred"), Kit.dispatched_at, Kit.received_at, Result.released_at)
            .join(Kit, Kit.referral_id == Referral.id).outerjoin(Result, Result.kit_id == Kit.id)
            .where(Kit.replaces_kit_id.is_(None)), conn)
    for column in times.columns:
        times[column] = pd.to_datetime(times[column], utc=True)
    turnaround = pd.DataFrame({
        "stage": ["referral → dispatch", "dispatch → receipt", "receipt → result"],
        "median days": [
            _days((times["dispatched_at"] - times["referred"]).median()),
            _days((times["received_at"] - times["dispatched_at"]).median()),
            _days((times["released_at"] - times["received_at"]).median()),
        ],
    })
    return {"referrals by state": referral_states, "kits by state": kit_states, "outcomes": outcomes,
            "turnaround": turnaround}


def _days(value: object) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(pd.Timedelta(value).total_seconds() / 86400, 1)


def positivity(engine: Engine) -> float:
    with Session(engine) as session:
        counts = dict(session.execute(select(TriageOutcome.action, func.count())
                                      .where(TriageOutcome.is_current.is_(True))
                                      .group_by(TriageOutcome.action)).all())
    decided = counts.get("refer", 0) + counts.get("reassure", 0)
    return counts.get("refer", 0) / decided if decided else 0.0


