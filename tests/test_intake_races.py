"""Two intakes for one patient at the same moment (PostgreSQL's concurrent writers; SQLite serialises them).

A patient must never end with two referrals waiting for a kit (two kits posted), and a lost race must end as
"on hold" or "duplicate", never as a database error (an HTTP 500, or a whole CSV batch refused).

Most races are made certain rather than likely: the first intake's clock, read inside its transaction after it
has written its rows, stops it there until the second intake has had time to run into it.
"""

from __future__ import annotations

import random
import threading
import time
from itertools import islice

import pytest
from alembic import command
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from fit_lab import synthetic
from fit_lab.db.migrate import alembic_config, upgrade
from fit_lab.db.models import AuditEvent, Patient, Referral
from fit_lab.services import intake
from tests.conftest import LAB, NOW, TODAY
from tests.helpers import referral_row

NEW_PATIENT = "9990000026"


class PausingClock:
    """Stops its caller the ``pause_on``-th time it is read, until ``release`` is set (once only)."""

    def __init__(self, pause_on: int) -> None:
        self.pause_on, self.calls = pause_on, 0
        self.paused, self.release = threading.Event(), threading.Event()

    def __call__(self):
        self.calls += 1
        if self.calls == self.pause_on:
            self.paused.set()
            assert self.release.wait(60), "the test never released the paused intake"
        return NOW


def _in_thread(target, results, errors):
    def run():
        try:
            results.append(target())
        except Exception as exc:  # collected and asserted by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _first_paused_then_second(first, second, clock: PausingClock):
    """Run ``first`` until it pauses inside its transaction, start ``second``, let ``first`` finish."""
    results: list = []
    errors: list = []
    a = _in_thread(first, results, errors)
    assert clock.paused.wait(60)
    b = _in_thread(second, results, errors)
    time.sleep(0.7)  # long enough for the second intake to reach the first one's rows and wait on them
    clock.release.set()
    a.join(60)
    b.join(60)
    assert not a.is_alive() and not b.is_alive()
    return results, errors


def _statuses(engine, nhs_number):
    with engine.connect() as conn:
        return sorted(conn.execute(
            select(Referral.status).join(Patient, Patient.id == Referral.patient_id)
            .where(Patient.nhs_number == nhs_number)).scalars())


def _patients(engine, nhs_number):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Patient)
                            .where(Patient.nhs_number == nhs_number)).scalar_one()


def _known_patient_without_open_referral(engine):
    earlier = intake.create_referral(engine, referral_row(external_ref="OLD-1", referral_date="2026-06-01"),
                                     actor=LAB)
    with engine.begin() as conn:
        conn.execute(update(Referral).where(Referral.id == earlier.referral_id).values(status="resulted"))
    return referral_row()["nhs_number"]


def test_two_referrals_for_a_known_patient_at_once_send_one_kit(reference_loaded):
    nhs = _known_patient_without_open_referral(reference_loaded)
    clock = PausingClock(pause_on=2)  # 1: the request's time; 2: the audit, inside the transaction

    def first():
        return intake.create_referral(reference_loaded, referral_row(external_ref="A-1"), actor=LAB, clock=clock)

    def second():
        return intake.create_referral(reference_loaded, referral_row(external_ref="B-1", referral_date="2026-10-31"),
                                      actor=LAB, clock=lambda: NOW)

    results, errors = _first_paused_then_second(first, second, clock)
    assert not errors
    assert sorted(r.on_hold for r in results) == [False, True]
    assert _statuses(reference_loaded, nhs) == ["awaiting_kit", "on_hold", "resulted"]


def test_two_referrals_for_a_new_patient_at_once_store_one_patient_and_hold_the_second(reference_loaded):
    clock = PausingClock(pause_on=2)

    def first():
        return intake.create_referral(reference_loaded, referral_row(nhs_number=NEW_PATIENT, external_ref="A-1"),
                                      actor=LAB, clock=clock)

    def second():
        return intake.create_referral(
            reference_loaded, referral_row(nhs_number=NEW_PATIENT, external_ref="B-1", referral_date="2026-10-31"),
            actor=LAB, clock=lambda: NOW)

    results, errors = _first_paused_then_second(first, second, clock)
    assert not errors, errors
    assert sorted((r.status, r.on_hold) for r in results) == [("accepted", False), ("accepted", True)]
    assert _patients(reference_loaded, NEW_PATIENT) == 1
    assert _statuses(reference_loaded, NEW_PATIENT) == ["awaiting_kit", "on_hold"]


def test_the_same_referral_sent_twice_at_once_is_stored_once_and_the_second_says_duplicate(reference_loaded):
    clock = PausingClock(pause_on=2)
    row = referral_row(nhs_number=NEW_PATIENT, external_ref="SAME-1")

    def first():
        return intake.create_referral(reference_loaded, row, actor=LAB, clock=clock)

    def second():
        return intake.create_referral(reference_loaded, row, actor=LAB, clock=lambda: NOW)

    results, errors = _first_paused_then_second(first, second, clock)
    assert not errors, errors
    assert sorted(r.status for r in results) == ["accepted", "duplicate"]
    assert len({r.referral_id for r in results}) == 1
    assert _statuses(reference_loaded, NEW_PATIENT) == ["awaiting_kit"]


def test_two_csv_batches_for_the_same_new_patients_at_once_both_complete(reference_loaded, known_postcodes):
    rows = [referral_row(nhs_number=nhs, external_ref=f"F1-{i}", postcode=known_postcodes[i])
            for i, nhs in enumerate(islice(synthetic.synthetic_nhs_numbers(random.Random(7)), 20))]
    again = [{**row, "external_ref": row["external_ref"].replace("F1", "F2"), "referral_date": "2026-10-31"}
             for row in rows]
    clock = PausingClock(pause_on=2)

    def first():
        return intake.import_csv(reference_loaded, synthetic.referrals_csv(rows), filename="one.csv",
                                 source="csv_cli", actor=LAB, clock=clock)

    def second():
        return intake.import_csv(reference_loaded, synthetic.referrals_csv(again), filename="two.csv",
                                 source="csv_cli", actor=LAB, clock=lambda: NOW)

    results, errors = _first_paused_then_second(first, second, clock)
    assert not errors, errors
    assert sorted((r.accepted, r.on_hold, r.rejected) for r in results) == [(20, 0, 0), (20, 20, 0)]
    with reference_loaded.connect() as conn:
        waiting = conn.execute(select(Referral.patient_id, func.count()).where(Referral.status == "awaiting_kit")
                               .group_by(Referral.patient_id)).all()
    assert len(waiting) == 20 and all(count == 1 for _, count in waiting)


def test_referrals_started_together_for_one_new_patient_never_fail(reference_loaded):
    """Started at the same moment, without a pause: whichever wins, one kit and no error."""
    start_together = threading.Barrier(4)
    results: list = []
    errors: list = []

    def run(n):
        start_together.wait()
        try:
            results.append(intake.create_referral(
                reference_loaded, referral_row(nhs_number=NEW_PATIENT, external_ref=f"T-{n}",
                                               referral_date=f"2026-10-{27 + n}"), actor=LAB, clock=lambda: NOW))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(r.on_hold for r in results) == [False, True, True, True]
    assert _patients(reference_loaded, NEW_PATIENT) == 1
    assert _statuses(reference_loaded, NEW_PATIENT).count("awaiting_kit") == 1


# ---- the database's own guarantee -------------------------------------------------------------------------------

def _second_waiting_referral(engine, patient_id, practice_id):
    with engine.begin() as conn:
        conn.execute(insert(Referral).values(
            practice_id=practice_id, patient_id=patient_id, requester="Dr X", referral_date=TODAY, symptoms=[],
            status="awaiting_kit", source="api", received_at=NOW, created_by="test"))


def test_the_database_refuses_a_second_referral_waiting_for_a_kit_for_one_patient(reference_loaded):
    first = intake.create_referral(reference_loaded, referral_row(), actor=LAB)
    with reference_loaded.connect() as conn:
        patient_id, practice_id = conn.execute(select(Referral.patient_id, Referral.practice_id)
                                               .where(Referral.id == first.referral_id)).one()
    with pytest.raises(IntegrityError):
        _second_waiting_referral(reference_loaded, patient_id, practice_id)
    with reference_loaded.begin() as conn:  # a referral no longer waiting frees the place
        conn.execute(update(Referral).where(Referral.id == first.referral_id).values(status="in_progress"))
    _second_waiting_referral(reference_loaded, patient_id, practice_id)


def test_upgrading_a_database_that_already_has_two_waiting_puts_the_later_one_on_hold(reference_loaded):
    first = intake.create_referral(reference_loaded, referral_row(), actor=LAB)
    config = alembic_config()
    with reference_loaded.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    with reference_loaded.connect() as conn:
        patient_id, practice_id = conn.execute(select(Referral.patient_id, Referral.practice_id)).one()
    _second_waiting_referral(reference_loaded, patient_id, practice_id)
    upgrade(reference_loaded)
    with reference_loaded.connect() as conn:
        rows = conn.execute(select(Referral.id, Referral.status, Referral.hold_reason, Referral.related_referral_id)
                            .order_by(Referral.id)).all()
        audited = conn.execute(select(AuditEvent.entity_id, AuditEvent.actor)
                               .where(AuditEvent.actor == "migration:0005")).all()
    assert [(r.status, r.related_referral_id) for r in rows] == [("awaiting_kit", None),
                                                                  ("on_hold", first.referral_id)]
    assert f"referral {first.referral_id} waiting for a kit" in rows[1].hold_reason
    assert audited == [(str(rows[1].id), "migration:0005")]
