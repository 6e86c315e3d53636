"""Ninety days with planted trouble, to show that nobody falls through (issue 13, Done-when 2).

The month's simulation runs every stage on simulated days; this runs a quarter through the same services with the
trouble a real lab meets planted on purpose: kits never returned, kits rejected at practices whose kits are not
replaced, red-flag referrals, tubes tested without being scanned in (results unmatched while the kit is "in the
post"), practices that never acknowledge a letter, and the booking team booking, seeing, losing (did not attend)
and declining patients on the colonoscopy list. The daily failsafe runs as the service runs it (the scheduled run).

At the end every referral's path (its states, from the audit trail) and its ending are reported. The ending must be
an outcome (a result, or a red flag referred at once), a safety-net letter to the GP (no result), a closure a person
made with its reason, or an open alert or overdue item on the dashboard. Anything else fell through.

The analysers are the real sink (``store_message``) fed with the messages the emulator would send; the serial
line itself is exercised by the month's simulation and the link tests.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from analyser_drivers import DEFAULT_DELIMITERS, Message, ReceivedMessage, TubeResult, get_profile, result_records
from fit_lab import referral_states, synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Patient, Practice, Referral, TriageOutcome
from fit_lab.demo.behaviour import plan_return, raw_value_for
from fit_lab.demo.month import LAB, REFERENCE, SCIENTIST, at, seed
from fit_lab.principal import Principal
from fit_lab.qc.targets import load_targets
from fit_lab.services import (
    colonoscopy,
    dispatch,
    failsafe,
    gp_view,
    intake,
    kits,
    referrals,
    result_review,
)
from fit_lab.services.analyser import qc_tubes
from fit_lab.services.failsafe_alerts import NO_RESULT_LETTERS
from fit_lab.services.results import store_message
from fit_lab.settings import Settings
from fit_lab.spreadsheet import SafeCsvWriter

DAYS = 90
FOLLOW_UP_DAYS = 35  # no new referrals: every kit comes back, or is closed as not returned (28 days)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Trouble:
    """What goes wrong, and how often."""

    no_replacement_share: float = 0.25  # practices whose rejected kits are not replaced (the request closes)
    silent_share: float = 0.1  # practices that never acknowledge a letter
    red_flag_share: float = 0.01  # referrals with a rectal mass (never to be posted a kit)
    unscanned_share: float = 0.01  # returned tubes tested without being scanned in at reception
    found_share: float = 0.5  # of those, found and linked by a scientist two days later
    rejected_share: float = 0.03  # on top of the post's own rejections, for the practices above to meet


@dataclass
class QuarterReport:
    referrals: int = 0
    endings: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)
    fell_through: list[int] = field(default_factory=list)
    red_flags: int = 0
    red_flag_kits: int = 0
    unscanned: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    list_states: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.fell_through and self.red_flag_kits == 0

    def write_csv(self, path: Path) -> None:
        """Every referral's path and ending, one row each (record IDs only: no patient data)."""
        columns = ["referral_id", "path", "ending", "detail"]
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = SafeCsvWriter(out)  # the detail carries a person's reason: never a formula in a spreadsheet
            writer.writerow(columns)
            writer.writerows([row[c] for c in columns] for row in self.rows)


def simulate_quarter(engine: Engine, settings: Settings, *, tests_per_month: int, start: date,
                     trouble: Trouble = Trouble(), seed_value: int = 13, profile_name: str = "hm-jackarc",
                     progress: Progress | None = None) -> QuarterReport:
    started = time.perf_counter()
    world = _Quarter(engine, settings, trouble, random.Random(seed_value), profile_name)
    world.codes = seed(engine, 40)
    world.pick_practices()
    end_of_intake = start + timedelta(days=DAYS - 1)
    last = end_of_intake + timedelta(days=FOLLOW_UP_DAYS)
    per_weekday = max(1, round(tests_per_month * 12 / 52 / 5))
    day, serial = start, 0
    while day <= last:
        if day.weekday() < 5:
            if day <= end_of_intake:
                world.intake(day, per_weekday, seed_value * 10_000 + serial)
                serial += 1
            world.decide_holds(day)
            world.dispatch(day)
            world.reception(day)
            world.analysers(day)
            world.booking_team(day)
        world.practices_read(day)
        failsafe.run_scheduled(engine, settings=settings, clock=fixed_clock(at(day, 6)), worker="quarter")
        if progress:
            progress((day - start).days + 1, (last - start).days + 1)
        day += timedelta(days=1)
    report = pathways(engine, settings, last)
    report.unscanned = world.unscanned
    report.seconds = time.perf_counter() - started
    return report


class _Quarter:
    def __init__(self, engine: Engine, settings: Settings, trouble: Trouble, rng: random.Random,
                 profile_name: str) -> None:
        self.engine, self.settings, self.trouble, self.rng = engine, settings, trouble, rng
        self.no_replacement = settings.model_copy(update={"replacement_kits": False})
        self.profile = get_profile(profile_name)
        self.factor = float(self.profile.factor_for("") or 1)
        self.targets = load_targets(settings.qc_targets_file)
        self.codes: list[str] = []
        self.closing_practices: set[int] = set()
        self.silent_practices: set[int] = set()
        self.arrivals: dict[date, list[tuple[str, date | None, str | None]]] = defaultdict(list)
        self.untested: dict[date, list[str]] = defaultdict(list)  # unscanned tubes go straight to an analyser
        self.to_find: dict[date, list[str]] = defaultdict(list)
        self.unscanned = 0

    def pick_practices(self) -> None:
        with Session(self.engine) as session:
            ids = sorted(session.execute(select(col(Practice.id))).scalars())
        self.closing_practices = set(self.rng.sample(ids, round(len(ids) * self.trouble.no_replacement_share)))
        self.silent_practices = set(self.rng.sample(ids, round(len(ids) * self.trouble.silent_share)))

    def intake(self, day: date, count: int, row_seed: int) -> None:
        postcodes = synthetic.known_postcodes(REFERENCE / "synthetic_postcode_lsoa.csv")
        rows = synthetic.referral_rows(count, practice_codes=self.codes, postcodes=postcodes, start=day, days=1,
                                       seed=row_seed)
        for row in rows:
            if self.rng.random() < self.trouble.red_flag_share:
                row["rectal_mass"] = "y"
        intake.import_csv(self.engine, synthetic.referrals_csv(rows), filename=f"referrals-{day}.csv",
                          source="csv_cli", actor=LAB, clock=fixed_clock(at(day, 9)), settings=self.settings)

    def decide_holds(self, day: date) -> None:
        """A person decides each held referral: queued once the patient's other request has ended, closed as a
        duplicate after a week (the other request is being tested)."""
        with Session(self.engine) as session:
            held = session.execute(select(col(Referral.id), col(Referral.patient_id), col(Referral.received_at))
                                   .where(col(Referral.status) == "on_hold")).all()
            open_of = Counter(session.execute(select(col(Referral.patient_id)).where(
                col(Referral.status).in_(referral_states.LIVE))).scalars())
        for referral_id, patient_id, received_at in held:
            if open_of[patient_id] == 0:
                referrals.release_hold(self.engine, referral_id, decision="queue", reason="other request ended",
                                       actor=LAB, clock=fixed_clock(at(day, 9)))
                open_of[patient_id] += 1
            elif (day - received_at.date()).days >= 7:
                referrals.release_hold(self.engine, referral_id, decision="close",
                                       reason="duplicate: the patient's other request is being tested",
                                       actor=LAB, clock=fixed_clock(at(day, 9)))

    def dispatch(self, day: date) -> None:
        batch = dispatch.create_batch(self.engine, actor=LAB, clock=fixed_clock(at(day, 10)))
        if batch.batch_id is None:
            return
        with Session(self.engine) as session:
            sent = session.execute(select(col(Kit.specimen_id), col(Patient.imd_decile))
                                   .join(Referral, col(Referral.id) == col(Kit.referral_id))
                                   .join(Patient, col(Patient.id) == col(Referral.patient_id))
                                   .where(col(Kit.dispatch_batch_id) == batch.batch_id)).all()
        for specimen_id, decile in sent:
            plan = plan_return(self.rng, day, decile)
            if plan.arrives_on is None:
                continue  # never returned: the failsafe must close it
            arrives = plan.arrives_on
            while arrives.weekday() >= 5:
                arrives += timedelta(days=1)
            if plan.collected_on and self.rng.random() < self.trouble.unscanned_share:
                self.untested[arrives].append(specimen_id)
                self.unscanned += 1
                if self.rng.random() < self.trouble.found_share:
                    self.to_find[arrives + timedelta(days=2)].append(specimen_id)
                continue
            rejected = plan.rejected_for or ("leaked_damaged" if self.rng.random() < self.trouble.rejected_share
                                             else None)
            self.arrivals[arrives].append((specimen_id, plan.collected_on, rejected))

    def reception(self, day: date) -> None:
        clock = fixed_clock(at(day, 11))
        practice_of = self._practice_of([s for s, _, _ in self.arrivals.get(day, [])])
        for specimen_id, collected_on, rejected_for in self.arrivals.pop(day, []):
            settings = self.no_replacement if practice_of[specimen_id] in self.closing_practices else self.settings
            if rejected_for:
                kits.reject_kit(self.engine, specimen_id, rejected_for, actor=LAB, settings=settings, clock=clock)
            else:
                kits.receive_kit(self.engine, specimen_id, collected_on, actor=LAB, settings=settings, clock=clock)
        for specimen_id in self.to_find.pop(day, []):
            # Found on the analyser's rack: scanned in, and its waiting result linked by a scientist.
            kits.receive_kit(self.engine, specimen_id, day - timedelta(days=4), actor=LAB, settings=self.settings,
                             clock=clock)
            waiting = [r for r in result_review.list_results(self.engine, "unmatched", actor=SCIENTIST,
                                                             limit=1000)[1] if r.specimen_id == specimen_id]
            for result in waiting:
                result_review.link_result(self.engine, int(result.id or 0), specimen_id, actor=SCIENTIST,
                                          settings=self.settings, clock=fixed_clock(at(day, 12)))

    def _practice_of(self, specimen_ids: list[str]) -> dict[str, int]:
        if not specimen_ids:
            return {}
        with Session(self.engine) as session:
            return dict(session.execute(select(col(Kit.specimen_id), col(Referral.practice_id))
                                        .join(Referral, col(Referral.id) == col(Kit.referral_id))
                                        .where(col(Kit.specimen_id).in_(specimen_ids))).all())

    def analysers(self, day: date) -> None:
        with Session(self.engine) as session:
            waiting = list(session.execute(select(col(Kit.specimen_id)).where(col(Kit.state) == "received")
                                           .order_by(col(Kit.id))).scalars())
        tubes = waiting + self.untested.pop(day, [])
        if not tubes:
            return
        when = at(day, 14)
        local = when.astimezone(ZoneInfo(self.settings.analyser_timezone)).replace(tzinfo=None)
        batch = qc_tubes(self.profile, self.targets, local) + [
            TubeResult(s, raw_value_for(self.rng, self.factor), local + timedelta(seconds=i + 1), lot="L1")
            for i, s in enumerate(tubes)]
        records = tuple(result_records(self.profile, batch, "SIM-Q1", local))
        store_message(self.engine, ReceivedMessage(Message(records, DEFAULT_DELIMITERS), b"", ()),
                      profile=self.profile, port_url="quarter", settings=self.settings, qc_targets=self.targets,
                      clock=fixed_clock(when))

    def booking_team(self, day: date) -> None:
        """Book the list's patients in its order; on the booked day they are seen, do not attend, or decline."""
        clock = fixed_clock(at(day, 15))
        for patient in colonoscopy.ranked_list(self.engine, actor=SCIENTIST, clock=clock):
            if patient.list_state is None or patient.list_state == "did_not_attend":
                colonoscopy.record_list_state(self.engine, patient.referral_id, "booked", actor=SCIENTIST,
                                              booked_for=day + timedelta(days=self.rng.randint(3, 10)), clock=clock)
            elif patient.booked_for is not None and patient.booked_for <= day:
                roll = self.rng.random()
                state, note = (("seen", None) if roll < 0.8 else ("did_not_attend", None) if roll < 0.9
                               else ("declined", "patient declined") if roll < 0.95
                               else ("not_suitable", "frailty: CT colonography instead"))
                colonoscopy.record_list_state(self.engine, patient.referral_id, state, actor=SCIENTIST, note=note,
                                              clock=clock)

    def practices_read(self, day: date) -> None:
        with Session(self.engine) as session:
            waiting = session.execute(select(col(Letter.id), col(Letter.practice_id)).where(
                col(Letter.acknowledged_at).is_(None), col(Letter.kind) != "reminder",
                col(Letter.created_at) < at(day, 0))).all()
        by_practice: dict[int, list[int]] = defaultdict(list)
        for letter_id, practice_id in waiting:
            if practice_id not in self.silent_practices:
                by_practice[practice_id].append(letter_id)
        for practice_id, letter_ids in sorted(by_practice.items()):
            if self.rng.random() < 0.9:
                gp_view.acknowledge_many(self.engine, letter_ids,
                                         actor=Principal(f"quarter-gp-{practice_id}", "gp", practice_id),
                                         clock=fixed_clock(at(day, 16)))


def pathways(engine: Engine, settings: Settings, today: date) -> QuarterReport:
    """Every referral's path and ending on ``today`` (see the module's docstring for what an ending is)."""
    report = QuarterReport()
    with Session(engine) as session:
        statuses = dict(session.execute(select(col(Referral.id), col(Referral.status))).all())
        closed_reason = dict(session.execute(select(col(Referral.id), col(Referral.closed_reason))
                                             .where(col(Referral.status) == "closed")).all())
        outcome_of = dict(session.execute(select(col(TriageOutcome.referral_id), col(TriageOutcome.action))
                                          .where(col(TriageOutcome.is_current).is_(True))).all())
        no_result = {r: k for r, k in session.execute(select(col(Letter.referral_id), col(Letter.kind))
                                                      .where(col(Letter.kind).in_(NO_RESULT_LETTERS)))}
        steps: dict[int, list[str]] = defaultdict(list)
        for entity_id, action, detail in session.execute(
                select(col(AuditEvent.entity_id), col(AuditEvent.action), col(AuditEvent.detail))
                .where(col(AuditEvent.entity) == "referral", col(AuditEvent.action).in_(("create", "transition")))
                .order_by(col(AuditEvent.id))):
            state = detail.get("status") if action == "create" else detail.get("to")
            if state:
                steps[int(entity_id)].append(state)
        report.red_flag_kits = session.execute(
            select(func.count()).select_from(Kit).join(Referral, col(Referral.id) == col(Kit.referral_id))
            .where(col(Referral.status) == "red_flag")).scalar_one()
        report.list_states = Counter(s or "waiting to be booked" for s in session.execute(
            select(col(Referral.list_state)).join(TriageOutcome, col(TriageOutcome.referral_id) == col(Referral.id))
            .where(col(TriageOutcome.is_current).is_(True), col(TriageOutcome.action) == "refer")).scalars())
    alerts = failsafe.open_alerts(engine, settings=settings, clock=fixed_clock(at(today, 18)))
    report.alerts = Counter(a.kind for a in alerts)
    flagged = {a.referral_id for a in alerts} | {o.referral_id for o in failsafe.overdue(engine, today, settings)}
    report.referrals = len(statuses)
    report.red_flags = sum(1 for s in statuses.values() if s == "red_flag")
    for referral_id, status in sorted(statuses.items()):
        ending, detail = _ending(referral_id, status, outcome_of, no_result, closed_reason, flagged)
        if ending == "fell through":
            report.fell_through.append(referral_id)
        path = " > ".join(steps.get(referral_id, [status]))
        report.endings[ending] += 1
        report.paths[path] += 1
        report.rows.append({"referral_id": str(referral_id), "path": path, "ending": ending, "detail": detail})
    return report


def _ending(referral_id: int, status: str, outcome_of: dict[int, str], no_result: dict[int, str],
            closed_reason: dict[int, str | None], flagged: set[int | None]) -> tuple[str, str]:
    if status == "red_flag":
        return "outcome", "referred at once on a red flag (letter to the GP)"
    if referral_id in outcome_of:
        return "outcome", f"result: {outcome_of[referral_id]}"
    if referral_id in no_result:
        return "safety-net letter", f"{no_result[referral_id]} letter to the GP"
    if status == "closed" and (closed_reason.get(referral_id) or "").startswith("closed from hold"):
        return "closed by a person", closed_reason[referral_id] or ""
    if referral_id in flagged:
        return "open alert", f"visible on the dashboard ({status})"
    return "fell through", status
