"""Reception on a real database: receiving, refusing, rejecting with replacement, and each kit's history."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

import labels
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Referral
from fit_lab.errors import NotFound, StateError, ValidationError
from fit_lab.services import dispatch, intake, kits, letters
from tests.api_support import make_settings
from tests.conftest import LAB, NOW
from tests.helpers import referral_row

SETTINGS = make_settings()
DISPATCHED = NOW - timedelta(days=5)
LATER = fixed_clock(NOW)


@pytest.fixture
def batch(reference_loaded):
    """Three kits dispatched five days ago."""
    for i, nhs in enumerate(["9434765919", "9990000018", "9990000026"]):
        row = referral_row(nhs_number=nhs, external_ref=f"R{i}", referral_date="2026-10-01")
        intake.create_referral(reference_loaded, row, actor=LAB,
                               clock=fixed_clock(DISPATCHED))
    dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(DISPATCHED))
    with Session(reference_loaded) as session:
        ids = list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())
    return reference_loaded, ids


def _kit(engine, specimen_id):
    with Session(engine) as session:
        return session.execute(select(Kit).where(Kit.specimen_id == specimen_id)).scalar_one()


def test_receiving_records_time_person_and_collection_date(batch):
    engine, ids = batch
    seen = kits.receive_kit(engine, ids[0], NOW.date() - timedelta(days=2), actor=LAB, settings=SETTINGS, clock=LATER)
    assert seen.state == "received" and seen.nhs_number == "9434765919" and seen.patient_name == "Alice Testwoman"
    kit = _kit(engine, ids[0])
    assert (kit.received_at, kit.received_by, kit.collection_date) == (NOW, LAB.username, date(2026, 10, 31))


def test_second_scan_of_received_kit_changes_nothing_and_says_who(batch):
    engine, ids = batch
    kits.receive_kit(engine, ids[0], NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER)
    again = kits.receive_kit(engine, ids[0], NOW.date() - timedelta(days=1), actor=LAB, settings=SETTINGS,
                             clock=fixed_clock(NOW + timedelta(hours=1)))
    assert again.already and "by test-lab" in again.message
    assert _kit(engine, ids[0]).collection_date == NOW.date()


def test_scanned_id_is_read_like_the_scanner_types_it(batch):
    engine, ids = batch
    seen = kits.receive_kit(engine, f"  {ids[0].lower()} ", NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER)
    assert seen.specimen_id == ids[0]


@pytest.mark.parametrize("scanned", ["F0000000014", "hello", ""])
def test_a_misread_id_is_refused_naming_the_field(batch, scanned):
    with pytest.raises(ValidationError, match="specimen_id"):
        kits.receive_kit(batch[0], scanned, NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER)


def test_an_unknown_id_is_refused(batch):
    unknown = labels.specimen_id_from_serial(99_999)
    with pytest.raises(NotFound, match=unknown):
        kits.receive_kit(batch[0], unknown, NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER)


def test_a_voided_kit_is_refused_with_a_clear_message(batch):
    engine, ids = batch
    dispatch.cancel_batch(engine, 1, reason="wrong labels", actor=LAB, clock=LATER)
    with pytest.raises(StateError, match="VOIDED"):
        kits.receive_kit(engine, ids[0], NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER)


@pytest.mark.parametrize(
    ("collected", "reason"),
    [
        (None, "no_collection_date"),
        (NOW.date() + timedelta(days=1), "invalid_collection_date"),
        (DISPATCHED.date() - timedelta(days=1), "invalid_collection_date"),
    ],
    ids=["missing", "future", "before-dispatch"],
)
def test_bad_collection_date_rejects_with_that_reason(batch, collected, reason):
    engine, ids = batch
    seen = kits.receive_kit(engine, ids[0], collected, actor=LAB, settings=SETTINGS, clock=LATER)
    assert seen.state == "rejected" and seen.reject_reason == reason
    assert seen.replacement_specimen_id is not None


@pytest.mark.parametrize(("age_days", "state"), [(14, "received"), (15, "rejected")])
def test_stability_window_is_inclusive_of_its_last_day(reference_loaded, age_days, state):
    # §4: HM-JACKarc 14 days at room temperature.
    long_ago = NOW - timedelta(days=20)
    intake.create_referral(reference_loaded, referral_row(referral_date="2026-10-01"), actor=LAB,
                           clock=fixed_clock(long_ago))
    dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(long_ago))
    specimen_id = _kit_ids(reference_loaded)[0]
    seen = kits.receive_kit(reference_loaded, specimen_id, NOW.date() - timedelta(days=age_days), actor=LAB,
                            settings=SETTINGS, clock=LATER)
    assert seen.state == state
    if state == "rejected":
        assert seen.reject_reason == "too_old"


def test_the_labs_own_receipt_age_rule_is_stricter_on_top(batch):
    engine, ids = batch
    strict = make_settings(receipt_max_age_days=3)
    seen = kits.receive_kit(engine, ids[0], NOW.date() - timedelta(days=4), actor=LAB, settings=strict, clock=LATER)
    assert seen.reject_reason == "too_old"


def _kit_ids(engine):
    with Session(engine) as session:
        return list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())


def test_rejection_allocates_a_replacement_that_joins_the_next_batch_and_tells_the_gp(batch):
    engine, ids = batch
    kits.receive_kit(engine, ids[1], NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER)
    seen = kits.reject_kit(engine, ids[1], "leaked_damaged", actor=LAB, settings=SETTINGS, clock=LATER)
    with Session(engine) as session:
        letter = session.execute(select(Letter)).scalar_one()
        replacement = session.execute(select(Kit).where(Kit.replaces_kit_id.is_not(None))).scalar_one()
    assert letter.kind == "kit_rejected" and letters.letter_pdf(letter).startswith(b"%PDF")
    assert replacement.specimen_id == seen.replacement_specimen_id and replacement.state == "allocated"
    created = dispatch.create_batch(engine, actor=LAB, clock=LATER)
    assert created.kit_count == 1
    assert _kit(engine, replacement.specimen_id).state == "dispatched"


def test_rejecting_a_kit_not_yet_scanned_receives_it_first(batch):
    engine, ids = batch
    seen = kits.reject_kit(engine, ids[2], "unlabelled", actor=LAB, settings=SETTINGS, clock=LATER)
    assert seen.state == "rejected"
    history = _history(engine, ids[2])
    assert history[-2:] == [("dispatched", "received"), ("received", "rejected")]


def test_other_needs_a_note_and_unknown_reasons_are_refused(batch):
    engine, ids = batch
    with pytest.raises(ValidationError, match="note"):
        kits.reject_kit(engine, ids[0], "other", actor=LAB, settings=SETTINGS, clock=LATER)
    with pytest.raises(ValidationError, match="reason"):
        kits.reject_kit(engine, ids[0], "smelly", actor=LAB, settings=SETTINGS, clock=LATER)


def test_without_replacements_a_rejection_closes_the_referral_visibly(batch):
    engine, ids = batch
    kits.reject_kit(engine, ids[0], "unlabelled", actor=LAB, settings=make_settings(replacement_kits=False),
                    clock=LATER)
    with Session(engine) as session:
        status, reason = session.execute(
            select(Referral.status, Referral.closed_reason).join(Kit, Kit.referral_id == Referral.id)
            .where(Kit.specimen_id == ids[0])).one()
    assert status == "closed" and "GP told" in reason


def _history(engine, specimen_id):
    with Session(engine) as session:
        kit_id = session.execute(select(Kit.id).where(Kit.specimen_id == specimen_id)).scalar_one()
        events = session.execute(
            select(AuditEvent).where(AuditEvent.entity == "kit", AuditEvent.entity_id == str(kit_id),
                                     AuditEvent.action == "transition").order_by(AuditEvent.id)
        ).scalars()
        return [(e.detail.get("from", "allocated"), e.detail["to"]) for e in events]


def test_audit_trail_reads_as_the_kits_complete_history(batch):
    engine, ids = batch
    kits.receive_kit(engine, ids[0], None, actor=LAB, settings=SETTINGS, clock=LATER)
    assert _history(engine, ids[0]) == [("allocated", "dispatched"), ("dispatched", "received"),
                                        ("received", "rejected")]


@pytest.mark.postgres
def test_the_same_kit_scanned_at_the_same_moment_is_received_once(batch):
    engine, ids = batch
    if engine.dialect.name != "postgresql":
        pytest.skip("the row lock under test is PostgreSQL's; SQLite serialises writers at BEGIN IMMEDIATE")
    results, start = [], threading.Barrier(2)

    def scan():
        start.wait()
        results.append(kits.receive_kit(engine, ids[0], NOW.date(), actor=LAB, settings=SETTINGS, clock=LATER))

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.already for r in results) == [False, True]
    with Session(engine) as session:
        received = session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "transition", AuditEvent.detail["to"].as_string() == "received")).scalar_one()
    assert received == 1
