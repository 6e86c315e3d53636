"""The failsafe on a real database: reminders, kits not returned (GP told), alerts, and every overdue referral.

Days below are the defaults of the domain brief §4 and §8 (asserted in ``test_the_defaults_these_tests_assume``):
reminder after 14 days, not returned after 28, analysis within 2 days of receipt and 14 of collection, a kit
posted within 1 day of the referral, a hold reviewed within 2 days.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from analyser_drivers import (
    DEFAULT_DELIMITERS,
    OC_SENSOR,
    Message,
    ReceivedMessage,
    TranscriptChunk,
    TubeResult,
    result_records,
)
from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import AuditEvent, Kit, Letter, Practice, Referral, Result
from fit_lab.errors import ValidationError
from fit_lab.principal import Principal
from fit_lab.qc.targets import load_targets
from fit_lab.services import dashboard, dispatch, gp_view, intake, kits, result_review
from fit_lab.services.analyser import qc_tubes
from fit_lab.services.failsafe import overdue, run_failsafe, visible_states
from fit_lab.services.results import store_message
from fit_lab.services.scheduler import start_daily_failsafe
from fit_lab.services.specimens import allocate_specimen_ids
from tests.api_support import make_settings
from tests.conftest import LAB, NOW
from tests.helpers import PRACTICE_A, referral_row

SETTINGS = make_settings(analyser_timezone="UTC")  # the tests' analyser clock is UTC
TARGETS = load_targets()
SCIENTIST = Principal("test-scientist", "scientist")


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _count(engine, model, *where):
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _kit(engine, referral_id):
    """The referral's newest kit."""
    with Session(engine) as session:
        return session.execute(select(Kit).where(Kit.referral_id == referral_id).order_by(Kit.id.desc())).scalars(
        ).first()


def _history(engine, kit_id):
    with Session(engine) as session:
        events = session.execute(select(AuditEvent).where(
            AuditEvent.entity == "kit", AuditEvent.entity_id == str(kit_id), AuditEvent.action == "transition",
        ).order_by(AuditEvent.id)).scalars()
        return [e.detail["to"] for e in events]


def _analyse(engine, specimen_ids, when, raw="20", *, qc=True):
    """One analyser message through the real sink: the run's QC (unless ``qc`` is false), then the tubes.

    The default 20 ng/mL is 4 µg/g on OC-Sensor: a negative, reassured result.
    """
    local = when.replace(tzinfo=None)  # analysers send naive local time; SETTINGS says it is UTC
    tubes = (qc_tubes(OC_SENSOR, TARGETS, local) if qc else []) + [
        TubeResult(s, raw, local + timedelta(seconds=i + 1), lot="L1") for i, s in enumerate(specimen_ids)]
    received = ReceivedMessage(Message(tuple(result_records(OC_SENSOR, tubes, "SN-1", local)), DEFAULT_DELIMITERS),
                               b"", (TranscriptChunk(when.timestamp(), "in", b"\x05"),))
    return store_message(engine, received, profile=OC_SENSOR, port_url="loop://", settings=SETTINGS,
                         qc_targets=TARGETS, clock=fixed_clock(when))


def test_the_defaults_these_tests_assume():
    # Domain brief §4 (14 / 28 days, 14-day HM-JACKarc stability) and §8 (local targets).
    assert (SETTINGS.reminder_after_days, SETTINGS.not_returned_after_days) == (14, 28)
    assert (SETTINGS.analysis_target_days, SETTINGS.sample_stability_days) == (2, 14)
    assert (SETTINGS.dispatch_target_days, SETTINGS.hold_review_days) == (1, 2)
    assert (SETTINGS.release_target_days, SETTINGS.positive_ack_days) == (1, 2)


# --- Done-when 4: plant late referrals in every state, find them all and nothing else -----------------------


@dataclass
class Planted:
    engine: object
    today: date
    ids: dict[str, int] = field(default_factory=dict)
    late: dict[str, str] = field(default_factory=dict)  # name → the state it is overdue in


def plant(engine, today: date) -> Planted:
    """Referrals in every state, one a day past its expected time and one exactly on its last day."""
    world = Planted(engine, today)
    numbers = synthetic.synthetic_nhs_numbers(random.Random(7))
    nhs_of: dict[str, str] = {}

    def day(days_ago: int) -> date:
        return today - timedelta(days=days_ago)

    def create(name: str, days_ago: int, same_patient_as: str | None = None) -> None:
        nhs = nhs_of[same_patient_as] if same_patient_as else next(numbers)
        nhs_of[name] = nhs
        row = referral_row(nhs_number=nhs, external_ref=f"P-{name}", referral_date=day(days_ago).isoformat())
        world.ids[name] = intake.create_referral(engine, row, actor=LAB, clock=fixed_clock(at(day(days_ago), 8))
                                                 ).referral_id

    def post(days_ago: int) -> None:
        dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(day(days_ago))))

    def receive(name: str, days_ago: int, collected_days_ago: int) -> None:
        kits.receive_kit(engine, _kit(engine, world.ids[name]).specimen_id, day(collected_days_ago), actor=LAB,
                         settings=SETTINGS, clock=fixed_clock(at(day(days_ago), 11)))

    def failsafe(days_ago: int) -> None:
        run_failsafe(engine, today=day(days_ago), actor=LAB, settings=SETTINGS,
                     clock=fixed_clock(at(day(days_ago), 18)))

    create("closed", 50)
    post(50)
    create("reminded_late", 29)
    post(29)
    create("reminded_ok", 28)
    post(28)
    create("stale", 16)
    post(16)
    create("dispatched_late", 15)
    post(15)
    failsafe(15)  # reminds reminded_late; "closed" was never reminded (no job for weeks): reminded and closed now
    create("dispatched_ok", 14)
    post(14)
    failsafe(14)  # reminds reminded_ok
    for name in ("received_late", "received_ok", "analysed_late", "analysed_ok", "allocated_late", "allocated_ok"):
        create(name, 10)
    post(10)
    receive("analysed_late", 5, 6)
    receive("analysed_ok", 5, 6)
    # No QC on the instrument yet: both results are held for a scientist, the kits wait in "analysed".
    _analyse(engine, [_kit(engine, world.ids["analysed_late"]).specimen_id], at(day(2)), qc=False)
    _analyse(engine, [_kit(engine, world.ids["analysed_ok"]).specimen_id], at(day(1)), qc=False)
    receive("received_late", 3, 4)  # due min(3-2, 4-14 days ago) = yesterday
    create("on_hold_late", 3, same_patient_as="received_late")
    receive("received_ok", 2, 3)
    receive("stale", 2, 15)  # 13 days old at receipt; by stability due yesterday, by the 2-day target only today
    kits.reject_kit(engine, _kit(engine, world.ids["allocated_late"]).specimen_id, "leaked_damaged", actor=LAB,
                    settings=SETTINGS, clock=fixed_clock(at(day(2))))
    create("on_hold_ok", 2, same_patient_as="received_ok")
    create("awaiting_kit_late", 2)
    kits.reject_kit(engine, _kit(engine, world.ids["allocated_ok"]).specimen_id, "unlabelled", actor=LAB,
                    settings=SETTINGS, clock=fixed_clock(at(day(1))))
    create("awaiting_kit_ok", 1)
    world.late = {"reminded_late": "reminded", "dispatched_late": "dispatched", "stale": "received",
                  "received_late": "received", "analysed_late": "analysed", "allocated_late": "allocated",
                  "on_hold_late": "on_hold", "awaiting_kit_late": "awaiting_kit"}
    return world


@pytest.fixture
def planted(reference_loaded):
    return plant(reference_loaded, NOW.date())


def test_every_referral_is_in_exactly_one_visible_state(planted):
    states = visible_states(planted.engine)
    referral_ids = [referral_id for referral_id, _ in states]
    assert len(referral_ids) == len(set(referral_ids)) == _count(planted.engine, Referral)
    seen = dict(states)
    expected = {"closed": "closed", "stale": "received"}
    for name, referral_id in planted.ids.items():
        assert seen[referral_id] == expected.get(name, name.rsplit("_", 1)[0]), name


def test_overdue_finds_every_planted_late_referral_and_nothing_else(planted):
    found = overdue(planted.engine, planted.today, SETTINGS)
    by_id = {o.referral_id: o for o in found}
    assert len(found) == len(by_id)
    assert {planted.ids[name]: state for name, state in planted.late.items()} == {
        o.referral_id: o.state for o in found}
    assert all(o.days_overdue == 1 and o.due == planted.today - timedelta(days=1) for o in found)


def test_the_job_acts_on_what_it_owns_and_alerts_on_the_rest(planted):
    engine, ids = planted.engine, planted.ids
    report = run_failsafe(engine, today=planted.today, actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    # The one-day-late kits, and those whose day it is today.
    assert [k.referral_id for k in report.reminded] == [ids["dispatched_late"], ids["dispatched_ok"]]
    assert [(k.referral_id, k.referral_closed) for k in report.not_returned] == [
        (ids["reminded_late"], True), (ids["reminded_ok"], True)]
    # The not-returned letter written 15 days ago for "closed" has not been acknowledged: chased (no result).
    assert {a.referral_id: a.kind for a in report.alerts} == {
        ids["stale"]: "not_analysed", ids["received_late"]: "not_analysed", ids["analysed_late"]: "not_released",
        ids["closed"]: "no_result_not_acknowledged"}
    stale = next(a for a in report.alerts if a.referral_id == ids["stale"])
    assert "too old" in stale.message
    assert {o.referral_id for o in report.overdue} == {
        ids[n] for n in ("stale", "received_late", "analysed_late", "allocated_late", "on_hold_late",
                         "awaiting_kit_late")}


def test_a_kit_never_reminded_is_reminded_and_closed_in_one_catch_up_run(planted):
    engine, ids = planted.engine, planted.ids
    kit = _kit(engine, ids["closed"])
    assert _history(engine, kit.id) == ["dispatched", "reminded", "not_returned"]
    with Session(engine) as session:
        kinds = sorted(session.execute(select(Letter.kind).where(Letter.kit_id == kit.id)).scalars())
        referral = session.get(Referral, ids["closed"])
    assert kinds == ["not_returned", "reminder"]
    assert referral.status == "closed" and "not returned" in referral.closed_reason
    assert "GP told" in referral.closed_reason


def test_a_kit_returned_after_being_closed_can_still_be_received_and_is_watched(planted):
    engine, ids = planted.engine, planted.ids
    run_failsafe(engine, today=planted.today, actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    kit = _kit(engine, ids["reminded_late"])
    assert kit.state == "not_returned"
    seen = kits.receive_kit(engine, kit.specimen_id, planted.today - timedelta(days=1), actor=LAB,
                            settings=SETTINGS, clock=fixed_clock(NOW))
    assert seen.state == "received"
    assert _history(engine, kit.id)[-2:] == ["not_returned", "received"]
    later = planted.today + timedelta(days=SETTINGS.analysis_target_days + 1)
    assert ids["reminded_late"] in {o.referral_id for o in overdue(engine, later, SETTINGS) if o.state == "received"}


def test_the_referral_stays_open_when_another_kit_is_in_flight(reference_loaded):
    engine, start = reference_loaded, NOW.date() - timedelta(days=40)
    referral_id = intake.create_referral(engine, referral_row(referral_date=start.isoformat()), actor=LAB,
                                         clock=fixed_clock(at(start))).referral_id
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(start)))
    with transaction(engine) as session:  # a second kit already allocated to the referral (a replacement)
        (specimen_id,) = allocate_specimen_ids(session, 1, NOW)
        session.add(Kit(specimen_id=specimen_id, referral_id=referral_id, state="allocated", state_changed_at=NOW,
                        allocated_at=NOW))
    report = run_failsafe(engine, today=NOW.date(), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    assert [(k.referral_id, k.referral_closed) for k in report.not_returned] == [(referral_id, False)]
    with Session(engine) as session:
        assert session.get(Referral, referral_id).status == "in_progress"
        assert session.execute(select(Letter.kind).where(Letter.kind == "not_returned")).scalar_one()


def test_a_day_in_the_future_is_refused(reference_loaded):
    with pytest.raises(ValidationError, match="future"):
        run_failsafe(reference_loaded, today=NOW.date() + timedelta(days=1), actor=LAB, settings=SETTINGS,
                     clock=fixed_clock(NOW))


def test_results_waiting_on_a_person_are_chased_until_someone_acts(reference_loaded):
    """Domain brief §8: unacknowledged positive results need chasing; a held result must not sit unseen."""
    engine, start = reference_loaded, NOW.date() - timedelta(days=10)
    ids = {}
    for name, nhs in (("positive", "9434765919"), ("negative", "9990000018"), ("held", "9990000026")):
        ids[name] = intake.create_referral(engine, referral_row(nhs_number=nhs, external_ref=f"W-{name}",
                                                                referral_date=start.isoformat()),
                                           actor=LAB, clock=fixed_clock(at(start, 8))).referral_id
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(start)))
    specimen = {name: _kit(engine, referral_id).specimen_id for name, referral_id in ids.items()}
    for specimen_id in specimen.values():
        kits.receive_kit(engine, specimen_id, start + timedelta(days=2), actor=LAB, settings=SETTINGS,
                         clock=fixed_clock(at(start + timedelta(days=3))))
    analysed_on = start + timedelta(days=4)
    _analyse(engine, [specimen["held"]], at(analysed_on, 8), qc=False)  # before the day's QC: held
    _analyse(engine, [specimen["positive"]], at(analysed_on, 10), raw="750")  # 150 µg/g: refer (§2)
    _analyse(engine, [specimen["negative"]], at(analysed_on, 11))  # 4 µg/g: reassure, nothing to chase

    def alerts_on(day):
        report = run_failsafe(engine, today=day, actor=LAB, settings=SETTINGS, clock=fixed_clock(at(day, 18)))
        return {a.referral_id: (a.kind, a.days_late) for a in report.alerts}, report

    on_time, _ = alerts_on(analysed_on + timedelta(days=1))
    assert on_time == {}  # held one day is within the release target; the letter is a day old
    held_late, _ = alerts_on(analysed_on + timedelta(days=2))
    assert held_late == {ids["held"]: ("not_released", 1)}
    late, report = alerts_on(analysed_on + timedelta(days=3))
    assert late == {ids["held"]: ("not_released", 2), ids["positive"]: ("positive_not_acknowledged", 1)}
    assert {(o.referral_id, o.state) for o in report.overdue} == {(ids["held"], "analysed"),
                                                                 (ids["positive"], "resulted")}
    chase = next(a for a in report.alerts if a.kind == "positive_not_acknowledged")
    assert "telephone the practice" in chase.message and specimen["positive"] in chase.message

    acted = at(analysed_on + timedelta(days=3), 12)
    with Session(engine) as session:
        practice_id = session.execute(select(Practice.id).where(Practice.ods_code == PRACTICE_A)).scalar_one()
        letter_id = session.execute(select(Letter.id).where(Letter.referral_id == ids["positive"])).scalar_one()
        held_id = session.execute(select(Result.id).where(Result.status == "held")).scalar_one()
    gp_view.acknowledge(engine, letter_id, actor=Principal("gp-a", "gp", practice_id=practice_id),
                        clock=fixed_clock(acted))
    result_review.release_held(engine, held_id, actor=SCIENTIST, settings=SETTINGS, clock=fixed_clock(acted))
    after, report = alerts_on(analysed_on + timedelta(days=3))
    assert after == {} and report.overdue == []


# --- Done-when 3: 60 days, 10% never returned, the job run every day and twice on some ---------------------


def _practices_read_yesterdays_letters(engine, today):
    """Each practice acknowledges the letters it got before today (positives are chased otherwise)."""
    with Session(engine) as session:
        waiting = session.execute(select(Letter.id, Letter.practice_id).where(
            Letter.acknowledged_at.is_(None), Letter.outcome_id.is_not(None), Letter.created_at < at(today, 0))).all()
    for letter_id, practice_id in waiting:
        gp_view.acknowledge(engine, letter_id, actor=Principal(f"gp-{practice_id}", "gp", practice_id=practice_id),
                            clock=fixed_clock(at(today, 9)))


@dataclass
class Fate:
    dispatched_on: date
    returned_after_days: int | None  # None: never comes back
    reject: bool = False


def test_sixty_days_every_kit_not_returned_gets_one_reminder_and_one_gp_letter_on_time(reference_loaded,
                                                                                          known_postcodes):
    engine, rng = reference_loaded, random.Random(2026)
    start, days, arrivals_days, referrals = date(2026, 6, 1), 60, 20, 200
    rows = synthetic.referral_rows(referrals, practice_codes=[f"Y9{i:04d}" for i in range(1, 7)],
                                   postcodes=known_postcodes, start=start, days=1, seed=11)
    never = set(rng.sample(range(referrals), referrals // 10))
    fates: dict[str, Fate] = {}
    kit_seen = 0
    second_runs = 0
    for offset in range(days):
        today = start + timedelta(days=offset)
        arriving = rows[offset * 10:(offset + 1) * 10] if offset < arrivals_days else []
        if arriving:
            for row in arriving:
                row["referral_date"] = today.isoformat()
            intake.import_csv(engine, synthetic.referrals_csv(arriving), filename=f"day{offset}.csv",
                              source="csv_cli", actor=LAB, clock=fixed_clock(at(today, 8)))
        dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(today)))
        with Session(engine) as session:
            new = session.execute(select(Kit.specimen_id, Kit.replaces_kit_id).where(
                Kit.dispatched_at >= at(today, 0), Kit.dispatched_at < at(today + timedelta(days=1), 0))
                .order_by(Kit.id)).all()
        for specimen_id, replaces in new:
            if replaces is None:
                lost = kit_seen in never
                kit_seen += 1
            else:
                lost = False  # a replacement comes back quickly
            delay = None if lost else (rng.randint(2, 6) if replaces else rng.randint(1, 27))
            fates[specimen_id] = Fate(today, delay, reject=replaces is None and rng.random() < 0.04)
        to_analyse = []
        for specimen_id, fate in fates.items():
            if fate.returned_after_days is not None and fate.dispatched_on + timedelta(
                    days=fate.returned_after_days) == today:
                clock = fixed_clock(at(today, 11))
                if fate.reject:
                    kits.reject_kit(engine, specimen_id, "leaked_damaged", actor=LAB, settings=SETTINGS, clock=clock)
                else:
                    kits.receive_kit(engine, specimen_id, today - timedelta(days=1), actor=LAB, settings=SETTINGS,
                                     clock=clock)
            elif fate.returned_after_days is not None and not fate.reject and fate.dispatched_on + timedelta(
                    days=fate.returned_after_days + 1) == today:
                to_analyse.append(specimen_id)
        if to_analyse:
            _analyse(engine, to_analyse, at(today, 10))
        _practices_read_yesterdays_letters(engine, today)
        run_failsafe(engine, today=today, actor=LAB, settings=SETTINGS, clock=fixed_clock(at(today, 18)))
        if offset % 3 == 0:  # the job started again the same day (a second server, a person at the terminal)
            before = (_count(engine, AuditEvent), _count(engine, Letter))
            again = run_failsafe(engine, today=today, actor=LAB, settings=SETTINGS,
                                 clock=fixed_clock(at(today, 19)))
            assert not again.changed_anything
            assert (_count(engine, AuditEvent), _count(engine, Letter)) == before
            second_runs += 1
        states = visible_states(engine)
        assert len(states) == len({referral_id for referral_id, _ in states})  # one visible state each
        # The job ran and the lab keeps up: nothing is waiting past its time.
        assert overdue(engine, today, SETTINGS) == [], today

    with Session(engine) as session:
        letters = session.execute(select(Letter.kit_id, Letter.kind, Letter.created_at)
                                  .where(Letter.kind.in_(["reminder", "not_returned"]))).all()
        kit_rows = {k.specimen_id: k for k in session.execute(select(Kit)).scalars()}
    per_kit = Counter((kit_id, kind) for kit_id, kind, _ in letters)
    sent_on = {(kit_id, kind): created.date() for kit_id, kind, created in letters}
    lost_kits = [s for s, f in fates.items() if f.returned_after_days is None]
    # A red-flag referral (rectal or anal mass, anal ulceration) is never posted a kit, so fewer kits than
    # referrals may go out; every kit drawn to be lost was lost.
    assert len(lost_kits) == len(never & set(range(kit_seen))) and second_runs == days // 3
    # The period exercised the side paths: kits back after their reminder, and rejections with replacements.
    assert any((f.returned_after_days or 0) > SETTINGS.reminder_after_days for f in fates.values())
    assert any(f.reject for f in fates.values()) and any(k.replaces_kit_id for k in kit_rows.values())
    for specimen_id in lost_kits:
        kit, fate = kit_rows[specimen_id], fates[specimen_id]
        assert kit.state == "not_returned"
        assert per_kit[(kit.id, "reminder")] == 1 and per_kit[(kit.id, "not_returned")] == 1
        assert sent_on[(kit.id, "reminder")] == fate.dispatched_on + timedelta(days=SETTINGS.reminder_after_days)
        assert sent_on[(kit.id, "not_returned")] == fate.dispatched_on + timedelta(
            days=SETTINGS.not_returned_after_days)
    for specimen_id, fate in fates.items():
        if fate.returned_after_days is None:
            continue
        kit = kit_rows[specimen_id]
        # Returned on the reminder day itself (before the evening run) or earlier: no reminder.
        assert per_kit[(kit.id, "reminder")] == int(fate.returned_after_days > SETTINGS.reminder_after_days)
        assert per_kit[(kit.id, "not_returned")] == 0
    closed = _count(engine, Referral, Referral.status == "closed")
    assert closed == len(lost_kits)


# --- The command line and the scheduler --------------------------------------------------------------------


def test_cli_run_prints_what_it_did_and_every_overdue_referral_and_a_second_run_does_nothing(
        db_url, reference_loaded, tmp_path):
    today = datetime.now(UTC).date()
    world = plant(reference_loaded, today)
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url}
    command = [sys.executable, "-m", "fit_lab.cli", "failsafe", "run", "--today", today.isoformat()]

    def run():
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = run()
    # The alerts: two kits not analysed, a held result, and the not-returned letter nobody has acknowledged.
    assert "2 reminders, 2 closed as not returned, 4 alerts, 6 overdue" in first
    assert f"referral {world.ids['dispatched_late']}  dispatched" in first
    assert f"referral {world.ids['reminded_late']}  GP told, referral closed" in first
    for name in ("stale", "received_late", "analysed_late", "allocated_late", "on_hold_late", "awaiting_kit_late"):
        assert f"OVERDUE referral {world.ids[name]}  {world.late[name]}  1 days overdue" in first
    assert "Alice" not in first and "9434765919" not in first  # lab staff see record IDs, not patients
    assert "0 reminders, 0 closed as not returned" in run()


def test_cli_refuses_a_date_it_cannot_read(db_url, tmp_path):
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-m", "fit_lab.cli", "failsafe", "run", "--today", "2026-13-01"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "today" in done.stderr


def test_the_server_schedule_runs_the_job_once_a_day(planted):
    runs: list[date] = []
    checks = threading.Semaphore(0)

    def on_check(day, report):
        if report is not None:
            runs.append(day)
        checks.release()

    stop = start_daily_failsafe(planted.engine, SETTINGS, clock=fixed_clock(NOW), check_every_s=0.01,
                                on_check=on_check)
    try:
        assert checks.acquire(timeout=60)  # the first check runs the day; later checks wait for the next day
    finally:
        stop()
    assert runs == [NOW.date()]
    again = start_daily_failsafe(planted.engine, SETTINGS, clock=fixed_clock(NOW), check_every_s=0.01,
                                 on_check=on_check)  # a second server process, or a restart, the same day
    try:
        assert checks.acquire(timeout=60)
    finally:
        again()
    assert runs == [NOW.date()]
    assert _kit(planted.engine, planted.ids["dispatched_late"]).state == "reminded"


def test_the_dashboard_lists_every_overdue_item_and_open_alert_the_failsafe_finds(planted):
    engine = planted.engine
    tiles = {t.name: t.count for t in dashboard.tiles(engine, settings=SETTINGS, clock=fixed_clock(NOW))}
    found = dashboard.tile_list(engine, "overdue", actor=LAB, settings=SETTINGS, limit=100, clock=fixed_clock(NOW))
    expected = overdue(engine, planted.today, SETTINGS)
    assert tiles["overdue"] == len(expected) == found.tile.count
    # Every kind of lateness, not only kits waiting for analysis: dispatched, reminded, held, waiting for a kit.
    assert {row.state for row in found.rows} == set(planted.late.values())
    alerts = dashboard.tile_list(engine, "alerts", actor=LAB, settings=SETTINGS, limit=100, clock=fixed_clock(NOW))
    assert tiles["alerts"] == alerts.tile.count > 0
    assert {row.state for row in alerts.rows} >= {"not_analysed", "not_released"}
