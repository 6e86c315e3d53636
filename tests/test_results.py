"""Results on a real database: matching, duplicates, the QC gate, and a scientist's decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

import labels
from analyser_drivers import (
    HM_JACKARC,
    OC_SENSOR,
    ReceivedMessage,
    TranscriptChunk,
    TubeResult,
    decode_message,
)
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AnalyserSession, AuditEvent, Kit, Letter, QcResult, Result
from fit_lab.errors import Forbidden, StateError
from fit_lab.services import dispatch, intake, kits, result_review
from fit_lab.services.analyser import qc_tubes
from fit_lab.services.results import store_message
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.results_support import AT, SCIENTIST, SETTINGS, TARGETS, store, tube


def results(engine):
    with Session(engine) as session:
        return {r.specimen_id: r for r in session.execute(select(Result)).scalars()}


def test_results_after_passing_qc_are_released_and_kits_move_on(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    report = store(engine, OC_SENSOR, [tube(ids[0], "250", 5), tube(ids[1], "E01", 6)])
    assert (report.stored, report.released, report.held) == (2, 2, 0)
    got = results(engine)
    assert got[ids[0]].fhb_ug_per_g == 50.0 and got[ids[0]].comparator == "="  # §3: 250 ng/mL × 0.2
    assert got[ids[1]].error_code == "insufficient_sample" and got[ids[1]].fhb_ug_per_g is None
    with Session(engine) as session:
        states = dict(session.execute(select(Kit.specimen_id, Kit.state)).all())
    assert states[ids[0]] == "reported" and states[ids[1]] == "reported"
    assert len(states) == 3  # the insufficient sample gave no result: a repeat kit was allocated


def test_the_same_message_again_stores_nothing_new(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    again = store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    assert (again.stored, again.duplicates) == (0, 1)
    assert len(results(engine)) == 1


def test_without_any_qc_results_are_held(received):
    engine, ids = received
    report = store(engine, HM_JACKARC, [tube(ids[0], "12", 5)])
    assert report.held == 1
    assert "no QC" in results(engine)[ids[0]].held_reason


def test_a_failed_qc_holds_later_results_until_a_scientist_releases_them(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT, fail_level="high"))
    with Session(engine) as session:
        assert ["1-3s"] in [q.rules_violated for q in session.execute(select(QcResult)).scalars()]
    store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    held = results(engine)[ids[0]]
    assert held.status == "held" and "QC failed" in held.held_reason
    with pytest.raises(Forbidden):
        result_review.release_held(engine, held.id, actor=LAB, settings=SETTINGS)
    result_review.release_held(engine, held.id, actor=SCIENTIST, settings=SETTINGS, clock=fixed_clock(NOW))
    assert results(engine)[ids[0]].status == "released"
    with Session(engine) as session:
        assert session.execute(select(AuditEvent).where(AuditEvent.action == "release")).scalar_one().actor == "sci"


def test_unmatched_results_wait_with_a_reason_and_can_be_linked_or_discarded(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    unknown = labels.specimen_id_from_serial(424_242)
    store(engine, OC_SENSOR, [tube("F00000X0013", "100", 5), tube(unknown, "100", 6), tube(ids[0], "100", 7)])
    total, waiting = result_review.list_results(engine, "unmatched", actor=SCIENTIST)
    reasons = {r.specimen_id: r.unmatched_reason for r in waiting}
    assert total == 2 and "not a valid" in reasons["F00000X0013"] and "no kit" in reasons[unknown]
    linked = result_review.link_result(engine, waiting[0].id, ids[1], actor=SCIENTIST, settings=SETTINGS,
                                       clock=fixed_clock(NOW))
    assert linked.status == "released"
    discarded = result_review.discard_result(engine, waiting[1].id, "not one of ours", actor=SCIENTIST)
    assert discarded.status == "discarded"
    with pytest.raises(StateError):
        result_review.discard_result(engine, waiting[1].id, "again", actor=SCIENTIST)


def test_a_result_for_a_kit_not_yet_received_is_unmatched(reference_loaded):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=fixed_clock(NOW - timedelta(days=3)))
    dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(NOW - timedelta(days=3)))
    with Session(reference_loaded) as session:
        specimen_id = session.execute(select(Kit.specimen_id)).scalar_one()
    store(reference_loaded, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(reference_loaded, OC_SENSOR, [tube(specimen_id, "100", 5)])
    assert "not been received" in results(reference_loaded)[specimen_id].unmatched_reason


def test_the_journal_keeps_the_bytes_of_every_message(received):
    engine, ids = received
    report = store(engine, OC_SENSOR, [tube(ids[0], "100", 5)])
    with Session(engine) as session:
        from fit_lab.db.models import AnalyserSession

        journal = session.get(AnalyserSession, report.session_id)
    assert journal.raw_bytes == b"\x05frames" and journal.journal[0][1] == "in"
    assert datetime.fromtimestamp(journal.journal[0][2], UTC) == NOW


# --- QC is judged per run, not per row (domain brief §3) -------------------------------------------------------

def qc_run(start, *, fail_level=None, levels=None):
    """One QC run on the OC-Sensor, one level a second after the other (negative, low, high)."""
    tubes = [t for t in qc_tubes(OC_SENSOR, TARGETS, start, fail_level=fail_level)
             if levels is None or OC_SENSOR.qc_level_for(t.specimen_id) in levels]
    return [replace(t, measured_at=start + timedelta(seconds=i)) for i, t in enumerate(tubes)]


def test_a_failed_low_level_is_not_hidden_by_a_passing_high_level_measured_after_it(received):
    engine, ids = received
    qc = store(engine, OC_SENSOR, qc_run(AT, fail_level="low"))  # low fails 1-3s at +1 s, high passes at +2 s
    assert (qc.qc_stored, qc.qc_failed) == (3, 1)
    report = store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    held = results(engine)[ids[0]]
    assert (report.held, report.released) == (1, 0)
    assert held.status == "held" and "QC failed" in held.held_reason and "low: 1-3s" in held.held_reason


def test_a_run_where_every_level_passed_releases_the_results_after_it(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT))
    report = store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    assert (report.held, report.released) == (0, 1)
    assert results(engine)[ids[0]].status == "released"


def test_a_later_run_where_every_level_passed_releases_only_the_results_measured_after_it(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT, fail_level="low"))
    store(engine, OC_SENSOR, [tube(ids[0], "250", 10)])  # between the failed run and the passing one
    store(engine, OC_SENSOR, qc_run(AT + timedelta(seconds=20)))
    report = store(engine, OC_SENSOR, [tube(ids[1], "250", 30)])
    got = results(engine)
    assert (got[ids[0]].status, got[ids[1]].status) == ("held", "released")
    assert report.released == 1


def test_rerunning_only_the_failed_level_does_not_clear_the_run(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT, fail_level="low"))
    store(engine, OC_SENSOR, qc_run(AT + timedelta(seconds=20), levels={"low"}))
    store(engine, OC_SENSOR, [tube(ids[0], "250", 30)])
    held = results(engine)[ids[0]]
    assert held.status == "held" and "high, negative have not passed in a later run" in held.held_reason


def test_a_run_missing_a_level_the_lab_has_targets_for_holds_results(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT, levels={"low", "high"}))
    store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    assert "no negative QC in the 24 h" in results(engine)[ids[0]].held_reason


# --- one unreadable tube does not sink its message ---------------------------------------------------------------

def test_a_tube_without_a_specimen_id_waits_in_the_unmatched_queue_and_its_neighbour_is_stored(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT))
    report = store(engine, OC_SENSOR, [tube(ids[0], "250", 5), tube("", "400", 6)])
    assert (report.stored, report.released, report.unmatched) == (2, 1, 1)
    got = results(engine)
    assert got[ids[0]].status == "released"
    (unread,) = [r for r in got.values() if r.status == "unmatched"]
    assert "no specimen ID" in unread.unmatched_reason and "result 2" in unread.unmatched_reason
    assert unread.fhb_ug_per_g == 80.0 and unread.kit_id is None
    with Session(engine) as session:
        journal = session.get(AnalyserSession, report.session_id)
    assert [p["kind"] for p in journal.problems] == ["no_specimen_id"]
    again = store(engine, OC_SENSOR, [tube(ids[0], "250", 5), tube("", "400", 6)])  # the analyser resends
    assert (again.stored, again.duplicates) == (0, 2)


def test_two_unreadable_tubes_in_one_message_are_both_kept(received):
    engine, _ = received
    store(engine, OC_SENSOR, [tube("", "100", 5), tube("", "300", 5)])
    assert sorted(r.raw_value for r in results(engine).values()) == ["100", "300"]


# --- inclusive bounds: exactly 10 µg/g is positive (domain brief §2) ---------------------------------------------

@pytest.mark.parametrize(("profile", "raw"), [(HM_JACKARC, "<=10"), (OC_SENSOR, "<=50"), (HM_JACKARC, ">=10")])
def test_an_inclusive_bound_is_never_reported_as_a_strict_one_and_waits_for_a_retest(received, profile, raw):
    engine, ids = received
    store(engine, profile, qc_tubes(profile, TARGETS, AT))
    report = store(engine, profile, [tube(ids[0], raw, 5)])
    refused = results(engine)[ids[0]]
    assert (report.unmatched, refused.status, refused.kit_id) == (1, "unmatched", None)
    assert refused.comparator is None and refused.fhb_ug_per_g is None and refused.raw_value == raw
    assert "inclusive bound" in refused.unmatched_reason
    with pytest.raises(StateError, match="re-test"):
        result_review.link_result(engine, refused.id, ids[0], actor=SCIENTIST, settings=SETTINGS)
    store(engine, profile, [tube(ids[0], "12", 60)])  # the re-test is matched to the kit as usual
    with Session(engine) as session:
        statuses = list(session.execute(select(Result.status).where(Result.specimen_id == ids[0])).scalars())
    assert sorted(statuses) == ["released", "unmatched"]


# --- a result sent without any time is stored once when resent ---------------------------------------------------

def untimed_message(specimen_id, raw="250"):
    text = (f"H|\\^&|||OC-Sensor^^SN-1\rP|1\rO|1|{specimen_id}|||||||||N\rR|1|^^^FOB^L1|{raw}|ng/mL||||F\r"
            "L|1|N\r").encode()
    return ReceivedMessage(decode_message(text), text, (TranscriptChunk(NOW.timestamp(), "in", b"\x05"),))


def store_at(engine, received_message, at):
    return store_message(engine, received_message, profile=OC_SENSOR, port_url="loop://", settings=SETTINGS,
                         qc_targets=TARGETS, clock=fixed_clock(at))


def test_a_result_without_any_time_resent_after_a_lost_ack_is_stored_once(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT - timedelta(minutes=5)))
    first = store_at(engine, untimed_message(ids[0]), NOW)
    resent = store_at(engine, untimed_message(ids[0]), NOW + timedelta(seconds=40))
    after_restart = store_at(engine, untimed_message(ids[0]), NOW + timedelta(minutes=20))
    assert (first.stored, resent.duplicates, after_restart.duplicates) == (1, 1, 1)
    assert len(results(engine)) == 1 and abs(results(engine)[ids[0]].measured_at - NOW) < timedelta(seconds=1)


def test_two_untimed_results_for_one_specimen_in_one_message_are_both_kept(received):
    engine, ids = received
    text = (f"H|\\^&|||OC-Sensor^^SN-1\rP|1\rO|1|{ids[0]}|||||||||N\rR|1|^^^FOB^L1|250|ng/mL||||F\r"
            f"R|2|^^^FOB^L1|300|ng/mL||||F\rL|1|N\r").encode()
    report = store_at(engine, ReceivedMessage(decode_message(text), text, ()), NOW)
    assert report.stored == 2  # one matched, the other waits: the kit is already analysed


def test_a_different_reading_without_any_time_is_a_new_result(received):
    engine, ids = received
    store_at(engine, untimed_message(ids[0], "250"), NOW)
    second = store_at(engine, untimed_message(ids[0], "300"), NOW + timedelta(seconds=40))
    assert second.stored == 1


# --- sample age at analysis (domain brief §4: the profile's stability window) -----------------------------------

@pytest.fixture
def old_sample(reference_loaded):
    """A kit received 5 days ago, collected 17 days ago: fine at reception (14 days), 17 days old today."""
    month_ago = fixed_clock(NOW - timedelta(days=30))
    intake.create_referral(reference_loaded, referral_row(referral_date="2026-09-30"), actor=LAB, clock=month_ago)
    dispatch.create_batch(reference_loaded, actor=LAB, clock=month_ago)
    with Session(reference_loaded) as session:
        specimen_id = session.execute(select(Kit.specimen_id)).scalar_one()
    kits.receive_kit(reference_loaded, specimen_id, (NOW - timedelta(days=17)).date(), actor=LAB, settings=SETTINGS,
                     clock=fixed_clock(NOW - timedelta(days=5)))
    store(reference_loaded, OC_SENSOR, qc_run(AT))
    return reference_loaded, specimen_id


def kit_state(engine, specimen_id):
    with Session(engine) as session:
        return session.execute(select(Kit.state).where(Kit.specimen_id == specimen_id)).scalar_one()


def test_a_sample_measured_after_the_stability_window_is_held_as_too_old(old_sample):
    engine, specimen_id = old_sample
    report = store(engine, OC_SENSOR, [tube(specimen_id, "250", 5)])  # OC-Sensor: 15 days
    held = results(engine)[specimen_id]
    assert (report.held, report.released) == (1, 0)
    assert held.status == "held" and held.held_reason.startswith("sample too old at analysis")
    assert "17 days after collection" in held.held_reason
    assert kit_state(engine, specimen_id) == "received"


def test_a_scientist_rejects_a_too_old_sample_and_a_replacement_kit_is_sent(old_sample):
    engine, specimen_id = old_sample
    store(engine, OC_SENSOR, [tube(specimen_id, "250", 5)])
    held = results(engine)[specimen_id]
    with pytest.raises(Forbidden):
        result_review.reject_too_old(engine, held.id, actor=LAB, settings=SETTINGS)
    result_review.reject_too_old(engine, held.id, actor=SCIENTIST, settings=SETTINGS, clock=fixed_clock(NOW))
    assert results(engine)[specimen_id].status == "discarded"
    with Session(engine) as session:
        rejected = session.execute(select(Kit).where(Kit.specimen_id == specimen_id)).scalar_one()
        replacement = session.execute(select(Kit).where(Kit.replaces_kit_id == rejected.id)).scalar_one()
        letters = session.execute(select(Letter.kind).where(Letter.kit_id == rejected.id)).scalars().all()
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "reject",
                                                         AuditEvent.entity == "result")).scalar_one()
    assert (rejected.state, rejected.reject_reason, replacement.state) == ("rejected", "too_old", "allocated")
    assert letters == ["kit_rejected"]
    assert event.actor == "sci" and event.detail["replacement"] == replacement.specimen_id


def test_a_scientist_may_instead_release_a_too_old_result(old_sample):
    engine, specimen_id = old_sample
    store(engine, OC_SENSOR, [tube(specimen_id, "250", 5)])
    held = results(engine)[specimen_id]
    result_review.release_held(engine, held.id, actor=SCIENTIST, settings=SETTINGS, clock=fixed_clock(NOW))
    assert results(engine)[specimen_id].status == "released"
    assert kit_state(engine, specimen_id) == "reported"


def test_a_result_held_for_qc_cannot_be_rejected_as_too_old(received):
    engine, ids = received
    store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])  # no QC: held, but the sample is fresh
    with pytest.raises(StateError, match="too old"):
        result_review.reject_too_old(engine, results(engine)[ids[0]].id, actor=SCIENTIST, settings=SETTINGS)


def test_a_qc_tube_without_a_material_id_is_kept_as_a_failed_qc_and_holds_the_results_after_it(received):
    engine, ids = received
    store(engine, OC_SENSOR, qc_run(AT))
    report = store(engine, OC_SENSOR, [TubeResult("", "100", AT + timedelta(seconds=3), qc=True)])
    assert (report.qc_stored, report.qc_failed) == (1, 1) and report.problems
    store(engine, OC_SENSOR, [tube(ids[0], "250", 5)])
    assert results(engine)[ids[0]].status == "held"
