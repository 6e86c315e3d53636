"""The failsafe: no patient falls through (domain brief §1, §4, §8; architecture.md "failsafe (daily)").

``run_failsafe`` acts on kits that have been out too long: a reminder to the patient after
``reminder_after_days``, then, after ``not_returned_after_days``, the kit is closed as not returned and the GP is
told to safety-net the patient (no result is no reassurance). It raises alerts, which change nothing, for kits in
the lab that are late. ``overdue`` lists every referral past its expected time in its current state.

Every decision is made from states and dates against an injected ``today``, never from "what the job did last
time", so the job may run twice a day, after a gap, or from several server processes at once: a kit it has
acted on is no longer in the state it acts on. Days are calendar days of the UTC date of each timestamp.

Timing, with ``d`` the day a kit was dispatched: reminded on day ``d + reminder_after_days``, closed on day
``d + not_returned_after_days``. A referral is *overdue* when today is after the last day it was expected to
leave its state (the ``due`` day): a job that ran on time leaves no kit overdue in ``dispatched``/``reminded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

import triage
from fit_lab import referral_states
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import FailsafeRun, Kit, Letter, Referral, TriageOutcome
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.kit_states import IN_FLIGHT
from fit_lab.logs import get_logger
from fit_lab.principal import Principal
from fit_lab.services import audit, letters, lifecycle
from fit_lab.services.failsafe_alerts import (
    Alert,
    no_result_letters_not_acknowledged,
    specimens_with_unmatched_results,
    unmatched_results,
)
from fit_lab.settings import Settings

log = get_logger(__name__)
_CHUNK = 1000  # bound IN-lists: SQLite limits the number of bound parameters in one statement
SCHEDULER = Principal("system:failsafe", "lab")
_SCHEDULE_LOCK = 0x6669_7466  # pg_advisory_xact_lock key of the daily run ("fitf")


@dataclass(frozen=True)
class KitActedOn:
    """A kit the job reminded or closed, and the letter it wrote."""

    kit_id: int
    specimen_id: str
    referral_id: int
    dispatched_on: date
    letter_id: int
    referral_closed: bool = False


@dataclass(frozen=True)
class Overdue:
    """A referral past its expected time in ``state`` (a referral status, or its live kit's state)."""

    referral_id: int
    state: str
    since: date
    due: date
    days_overdue: int
    specimen_id: str | None = None


@dataclass(frozen=True)
class FailsafeReport:
    today: date
    reminded: list[KitActedOn] = field(default_factory=list)
    not_returned: list[KitActedOn] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    overdue: list[Overdue] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.reminded or self.not_returned)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _on_or_before(column: Any, day: date) -> Any:
    """``column``'s UTC date is ``day`` or earlier; a plain comparison, so the (state, time) indexes serve it."""
    return column < _start_of(day + timedelta(days=1))


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _claim(session: Session, query: Any) -> list[Kit]:
    if session.get_bind().dialect.name == "postgresql":
        # A second job running at the same moment (another server process) skips what this one is doing;
        # the kits it would have found are no longer in the state it looks for once this one commits.
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query.order_by(col(Kit.id))).scalars())


def _dispatched_on(kit: Kit) -> date:
    assert kit.dispatched_at is not None  # the queries select on it: a NULL never compares true
    return kit.dispatched_at.date()


def _acted(kit: Kit, letter: Letter, *, referral_closed: bool = False) -> KitActedOn:
    assert kit.id is not None and letter.id is not None  # both flushed
    return KitActedOn(kit.id, kit.specimen_id, kit.referral_id, _dispatched_on(kit), letter.id, referral_closed)


def run_failsafe(
    engine: Engine, *, today: date, actor: Principal, settings: Settings, clock: Clock = system_clock
) -> FailsafeReport:
    """Remind, close as not returned (GP told), raise alerts and list what is overdue: one transaction.

    ``today`` decides what is due; ``clock`` stamps what is recorded. ``today`` may not be after the clock's
    date: a date in the future would close kits early.
    """
    now = clock()
    if today > now.date():
        raise ValidationError([FieldProblem("today", f"{today} is in the future; the failsafe cannot run ahead")])
    with transaction(engine) as session:
        report = _run(session, today, actor=actor, settings=settings, now=now, clock=clock)
        _log_run(session, report, trigger="command", worker=actor.username, started=now, finished=clock())
    return report


def run_scheduled(engine: Engine, *, settings: Settings, clock: Clock, worker: str) -> FailsafeReport | None:
    """Today's run by the scheduler inside ``fit-lab serve``, unless another server process has done it.

    Once a day between all processes: on PostgreSQL an advisory lock held by this transaction makes a second
    process wait, and then it finds the day's run row and does nothing (on SQLite the write lock taken at BEGIN
    does the same). The unique ``daily_key`` is the last guard. Returns None when the day was already done.
    """
    now = clock()
    today = now.date()
    with transaction(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEDULE_LOCK})
        done = session.execute(select(col(FailsafeRun.id)).where(col(FailsafeRun.daily_key) == today)).first()
        if done is not None:
            return None
        report = _run(session, today, actor=SCHEDULER, settings=settings, now=now, clock=clock)
        _log_run(session, report, trigger="scheduled", worker=worker, started=now, finished=clock(), daily=True)
    return report


def _run(session: Session, today: date, *, actor: Principal, settings: Settings, now: datetime,
         clock: Clock) -> FailsafeReport:
    with audit.batched(session):
        reminded = _send_reminders(session, today, actor=actor, settings=settings, now=now, clock=clock)
        closed = _close_not_returned(session, today, actor=actor, settings=settings, now=now, clock=clock)
        alerts = _alerts(session, today, now, settings)
        late = _overdue(session, today, settings)
        report = FailsafeReport(today, reminded, closed, alerts, late)
        if report.changed_anything:
            # Only a run that acted leaves an audit trace: a second run on the same day changes no patient's record.
            audit.record(session, actor, "failsafe_run", "failsafe", today.isoformat(), clock=clock,
                         detail={"reminded": len(reminded), "not_returned": len(closed),
                                 "referrals_closed": sum(k.referral_closed for k in closed)})
    log.info("failsafe_run", today=today.isoformat(), reminded=len(reminded), not_returned=len(closed),
             alerts=len(alerts), overdue=len(late))
    return report


def _log_run(session: Session, report: FailsafeReport, *, trigger: str, worker: str, started: datetime,
             finished: datetime, daily: bool = False) -> None:
    """The run log the dashboard shows: when it ran, what it did, what it found open (counts, no patient data)."""
    kinds: dict[str, int] = {}
    for alert in report.alerts:
        kinds[alert.kind] = kinds.get(alert.kind, 0) + 1
    session.add(FailsafeRun(day=report.today, daily_key=report.today if daily else None, trigger=trigger,
                            worker=worker[:100], started_at=started, finished_at=finished, summary={
                                "reminded": len(report.reminded), "not_returned": len(report.not_returned),
                                "referrals_closed": sum(k.referral_closed for k in report.not_returned),
                                "alerts": len(report.alerts), "alerts_by_kind": kinds,
                                "overdue": len(report.overdue)}))


def last_run(engine: Engine) -> FailsafeRun | None:
    """The most recent run, scheduled or by hand."""
    with transaction(engine) as session:
        return session.execute(select(FailsafeRun).order_by(col(FailsafeRun.started_at).desc(),
                                                            col(FailsafeRun.id).desc()).limit(1)).scalar_one_or_none()


def open_alerts(engine: Engine, *, settings: Settings, clock: Clock = system_clock) -> list[Alert]:
    """Every alert open now (reads only: the dashboard's list), most late first."""
    now = clock()
    today = now.date()
    with transaction(engine) as session:
        alerts = _alerts(session, today, now, settings)
    return sorted(alerts, key=lambda a: (-a.days_late, a.kind, a.specimen_id))


def _alerts(session: Session, today: date, now: datetime, settings: Settings) -> list[Alert]:
    return (_analysis_alerts(session, today, settings) + released_not_reported(session, today, settings)
            + unmatched_results(session, now, settings) + no_result_letters_not_acknowledged(session, today, settings))


def _send_reminders(session: Session, today: date, *, actor: Principal, settings: Settings, now: datetime,
                    clock: Clock) -> list[KitActedOn]:
    """(a) Kits out ``reminder_after_days`` or more: exactly one reminder each (the state change makes it once)."""
    days = settings.reminder_after_days
    kits = _claim(session, select(Kit).where(
        col(Kit.state) == "dispatched",
        _on_or_before(col(Kit.dispatched_at), today - timedelta(days=days)),
        col(Kit.specimen_id).notin_(specimens_with_unmatched_results()),  # tested, not scanned: an alert instead
    ))
    why = f"not returned {days} days after dispatch: patient reminded"
    on_time = [kit for kit in kits if _dispatched_on(kit) + timedelta(days=days) >= today]
    lifecycle.move_kits(session, on_time, "reminded", actor=actor, now=now, why=why, reminded_at=now)
    for kit in kits:
        due = _dispatched_on(kit) + timedelta(days=days)
        if due < today:  # the job did not run that day: said in the audit trail
            lifecycle.move_kit(session, kit, "reminded", actor=actor, now=now, why=f"{why} (due {due}, sent late)",
                               reminded_at=now)
    # Letters after all the state changes, so the kit updates are flushed together rather than one by one, and
    # the letters themselves in one INSERT, their patients loaded in one query.
    letters.load_contexts(session, [kit.referral_id for kit in kits])
    written = [letters.store_patient_reminder(session, kit, settings, now, flush=False) for kit in kits]
    session.flush()
    done = [_acted(kit, letter) for kit, letter in zip(kits, written, strict=True)]
    audit.record_many(session, actor, "create", "letter", [(k.letter_id, None) for k in done],
                      detail={"kind": "reminder"}, clock=clock)
    return done


def _close_not_returned(session: Session, today: date, *, actor: Principal, settings: Settings, now: datetime,
                        clock: Clock) -> list[KitActedOn]:
    """(b) Kits out ``not_returned_after_days``: closed, the GP told, and the referral closed unless it has
    another live kit (a replacement in flight is still the patient's chance of a result).

    Kits the job never reminded (it did not run for a while) were reminded by ``_send_reminders`` just before
    in this same run: the state table only allows ``reminded → not_returned``, and the patient still gets the
    one reminder, since a late kit is still tested.
    """
    days = settings.not_returned_after_days
    kits = _claim(session, select(Kit).where(
        col(Kit.state) == "reminded",
        _on_or_before(col(Kit.dispatched_at), today - timedelta(days=days)),
        # A kit an unmatched result names came back and was tested: never closed as not returned (an alert).
        col(Kit.specimen_id).notin_(specimens_with_unmatched_results()),
    ))
    why = f"not returned {days} days after dispatch: GP told to safety-net the patient"
    lifecycle.move_kits(session, kits, "not_returned", actor=actor, now=now, why=why, not_returned_at=now)
    closed_referrals = _close_referrals(session, kits, actor=actor, now=now, clock=clock)
    letters.load_contexts(session, [kit.referral_id for kit in kits])
    written = []
    for kit in kits:
        data = letters.letter_data(session, kit.referral_id, settings, now.date(), kit=kit)
        written.append(letters.store_gp_letter(session, triage.LetterKind.NOT_RETURNED, data,
                                               referral_id=kit.referral_id, kit_id=kit.id, now=now,
                                               settings=settings, flush=False))
    session.flush()  # the letters' ids, named by the report and the audit rows
    done = [_acted(kit, letter, referral_closed=kit.referral_id in closed_referrals)
            for kit, letter in zip(kits, written, strict=True)]
    audit.record_many(session, actor, "create", "letter", [(k.letter_id, None) for k in done],
                      detail={"kind": triage.LetterKind.NOT_RETURNED.value}, clock=clock)
    return done


def _close_referrals(session: Session, kits: list[Kit], *, actor: Principal, now: datetime,
                     clock: Clock) -> set[int]:
    session.flush()  # the live-kit check below must see these kits as not_returned
    other = aliased(Kit)
    specimen_of = {kit.referral_id: kit.specimen_id for kit in kits}
    closing: list[tuple[int, int]] = []
    for chunk in _chunks(sorted(specimen_of)):
        closing += [(r.id, r.practice_id) for r in session.execute(
            select(col(Referral.id), col(Referral.practice_id)).where(
                col(Referral.id).in_(chunk),
                col(Referral.status) != "closed",
                ~exists().where(col(other.referral_id) == col(Referral.id), col(other.state).in_(IN_FLIGHT)),
            ))]
    closed = lifecycle.move_referrals(
        session, [referral_id for referral_id, _ in closing], "closed", actor=actor, now=now,
        why="kit not returned", only_from=referral_states.KIT_SENT, closed_reasons={
            referral_id: f"kit {specimen_of[referral_id]} not returned: GP told to safety-net the patient"
            for referral_id, _ in closing})
    return set(closed)


def _analysis_due(received_at: datetime, collected: date | None, settings: Settings) -> date:
    """The last day a received kit may be analysed: within the lab's target and while the sample is stable."""
    due = received_at.date() + timedelta(days=settings.analysis_target_days)
    if collected is not None:
        due = min(due, collected + timedelta(days=settings.sample_stability_days))
    return due


def _late_in_lab(session: Session, today: date, settings: Settings) -> list[Any]:
    """Received kits past ``_analysis_due`` (either bound passed), in one query."""
    return list(session.execute(
        select(col(Kit.id), col(Kit.specimen_id), col(Kit.referral_id), col(Kit.received_at), col(Kit.collection_date))
        .where(col(Kit.state) == "received",
               or_(_on_or_before(col(Kit.received_at), today - timedelta(days=settings.analysis_target_days + 1)),
                   col(Kit.collection_date) < today - timedelta(days=settings.sample_stability_days)))
        .order_by(col(Kit.id))
    ))


def _analysis_alerts(session: Session, today: date, settings: Settings) -> list[Alert]:
    """(c) Received kits not analysed in time. Past stability the sample can no longer give a valid result."""
    alerts = []
    for row in _late_in_lab(session, today, settings):
        due = _analysis_due(row.received_at, row.collection_date, settings)
        if row.collection_date is not None and today > row.collection_date + timedelta(
                days=settings.sample_stability_days):
            message = (f"kit {row.specimen_id} is past the {settings.sample_stability_days}-day sample stability "
                       "and was not analysed: reject it as too old so that a new kit is sent")
        else:
            message = (f"kit {row.specimen_id} received {row.received_at:%Y-%m-%d} is not analysed "
                       f"(target {settings.analysis_target_days} days)")
        alerts.append(Alert("not_analysed", row.referral_id, row.id, row.specimen_id, due, (today - due).days,
                            message))
    return alerts


def released_not_reported(session: Session, today: date, settings: Settings) -> list[Alert]:
    """(c) Results that have not reached the GP in time, and positive results the GP has not acknowledged.

    A result is reported in its release transaction, so a kit left in ``resulted`` means that transaction's
    design was bypassed; a kit left in ``analysed`` is a result held (QC) that a scientist has not decided; a
    positive letter nobody at the practice has opened is a patient who may not be referred (domain brief §8).
    """
    alerts: list[Alert] = []
    waits = (("analysed", "not_released", settings.release_target_days,
              "result for kit {s} is held and not released: a scientist must release it or repeat the test"),
             ("resulted", "not_reported", settings.report_target_days,
              "result for kit {s} is released but no GP letter was written: report it now"))
    for state, kind, days, words in waits:
        for row in session.execute(
                select(col(Kit.id), col(Kit.specimen_id), col(Kit.referral_id), col(Kit.state_changed_at))
                .where(col(Kit.state) == state,
                       _on_or_before(col(Kit.state_changed_at), today - timedelta(days=days + 1)))
                .order_by(col(Kit.id))):
            due = row.state_changed_at.date() + timedelta(days=days)
            alerts.append(Alert(kind, row.referral_id, row.id, row.specimen_id, due, (today - due).days,
                                words.format(s=row.specimen_id), row.state_changed_at.date()))
    for row in session.execute(
            select(col(Letter.id), col(Letter.referral_id), col(Letter.kit_id), col(Letter.created_at),
                   col(Kit.specimen_id))
            .join(TriageOutcome, col(TriageOutcome.id) == col(Letter.outcome_id))
            .outerjoin(Kit, col(Kit.id) == col(Letter.kit_id))
            .where(col(TriageOutcome.action) == "refer", col(TriageOutcome.is_current).is_(True),
                   col(Letter.acknowledged_at).is_(None),
                   _on_or_before(col(Letter.created_at), today - timedelta(days=settings.positive_ack_days + 1)))
            .order_by(col(Letter.id))):
        due = row.created_at.date() + timedelta(days=settings.positive_ack_days)
        what = f"positive result letter L{row.id} (kit {row.specimen_id})" if row.kit_id else \
            f"red-flag letter L{row.id} (referral {row.referral_id}, referred without a FIT)"
        alerts.append(Alert("positive_not_acknowledged", row.referral_id, row.kit_id, row.specimen_id or "",
                            due, (today - due).days,
                            f"{what} is not acknowledged by the practice: telephone the practice so the patient is "
                            "referred", row.created_at.date()))
    return alerts


def overdue(engine: Engine, today: date, settings: Settings) -> list[Overdue]:
    """(d) Every referral past its expected time in its current state, most overdue first. Reads only."""
    with transaction(engine) as session:
        return _overdue(session, today, settings)


def _overdue(session: Session, today: date, settings: Settings) -> list[Overdue]:
    found: list[Overdue] = []

    def late(referral_id: int, state: str, since: date, allowed_days: int, specimen_id: str | None = None) -> None:
        due = since + timedelta(days=allowed_days)
        found.append(Overdue(referral_id, state, since, due, (today - due).days, specimen_id))

    # One query per kind. "Past due" is since + allowed < today, i.e. since on or before today - allowed - 1.
    for status, days in (("awaiting_kit", settings.dispatch_target_days), ("on_hold", settings.hold_review_days)):
        # The referral has no "held since" column: a hold counts from the referral's arrival, which lists a
        # referral held at dispatch earlier rather than later (the safe direction).
        for row in session.execute(select(col(Referral.id), col(Referral.received_at)).where(
                col(Referral.status) == status,
                _on_or_before(col(Referral.received_at), today - timedelta(days=days + 1)))):
            late(row.id, status, row.received_at.date(), days)
    kit_rules = (
        ("allocated", col(Kit.allocated_at), settings.dispatch_target_days),  # a replacement waiting for a batch
        ("dispatched", col(Kit.dispatched_at), settings.reminder_after_days),
        ("reminded", col(Kit.dispatched_at), settings.not_returned_after_days),
    )
    for state, since_column, days in kit_rules:
        for row in session.execute(select(col(Kit.referral_id), col(Kit.specimen_id), since_column).where(
                col(Kit.state) == state,
                _on_or_before(since_column, today - timedelta(days=days + 1)))):
            late(row[0], state, row[2].date(), days, row[1])
    for row in _late_in_lab(session, today, settings):
        due = _analysis_due(row.received_at, row.collection_date, settings)
        found.append(Overdue(row.referral_id, "received", row.received_at.date(), due, (today - due).days,
                             row.specimen_id))
    visible = {"not_released": "analysed", "not_reported": "resulted", "positive_not_acknowledged": "resulted"}
    found += [Overdue(a.referral_id, visible[a.kind], a.since or a.due, a.due, a.days_late,
                      a.specimen_id or None)
              for a in released_not_reported(session, today, settings)]
    return sorted(found, key=lambda o: (-o.days_overdue, o.referral_id))


def visible_states(engine: Engine) -> list[tuple[int, str]]:
    """Each referral with the one state a person sees: its live kit's state, or else the referral's status.

    One row per referral while the model holds (at most one live kit per referral); a second row for a referral
    would mean two kits in flight for one patient, which is what the tests check never happens.
    """
    live = aliased(Kit)
    with transaction(engine) as session:
        rows = session.execute(
            select(col(Referral.id), col(Referral.status), col(live.state))
            .outerjoin(live, and_(col(live.referral_id) == col(Referral.id), col(live.state).in_(IN_FLIGHT)))
            .order_by(col(Referral.id))
        ).all()
    return [(row[0], row[2] or row[1]) for row in rows]
