"""Patient identity across practices (issue 14): the NHS number is the key, and a referral from one practice never
changes what another practice sees. Differing details are held, both versions kept, for a lab person to reconcile;
a practice changes only what it sent itself; nothing a GP is told reveals another practice's referrals."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from fit_lab import synthetic
from fit_lab.db.models import AuditEvent, DemographicsChange, Patient, Referral
from fit_lab.errors import StateError
from fit_lab.services import identity, intake
from tests.api_support import build_world
from tests.conftest import LAB
from tests.helpers import PRACTICE_B, referral_row

B_PATIENT = "9990000018"  # referred by practice B in build_world
OTHER_DETAILS = {"family_name": "Intruder", "given_name": "Mallory", "date_of_birth": "1970-01-01",
                 "address_line1": "99 Elsewhere Road", "postcode": "LS2 7AB"}


@pytest.fixture
def world(reference_loaded):
    return build_world(reference_loaded)


def _json(row: dict[str, str]) -> dict[str, object]:
    return {**row, "symptoms": row["symptoms"].split(";"), "iron_deficiency_anaemia": False,
            "abdominal_mass": False, "rectal_mass": False, "clinical_concern": False}


def _gp_a_refers_b_patient(world, **details: str):
    row = referral_row(nhs_number=B_PATIENT, external_ref="A-77", referral_date="2026-10-31", **details)
    return world.client.post("/api/v1/referrals", json=_json(row), headers=world.auth("gp_a"))


def _patient(engine, nhs_number):
    with Session(engine) as session:
        return session.execute(select(Patient).where(Patient.nhs_number == nhs_number)).scalar_one()


def _changes(engine):
    with Session(engine) as session:
        return session.execute(select(DemographicsChange).order_by(DemographicsChange.id)).scalars().all()


def test_gp_of_another_practice_cannot_overwrite_the_patient_practice_b_sees(world):
    answer = _gp_a_refers_b_patient(world, **OTHER_DETAILS)
    assert answer.status_code == 201
    seen_by_b = world.client.get(f"/api/v1/referrals/{world.referral_b}", headers=world.auth("gp_b")).json()
    assert (seen_by_b["patient"]["family_name"], seen_by_b["patient"]["given_name"]) == ("Testwoman", "Alice")
    assert seen_by_b["patient"]["date_of_birth"] == "1958-03-14"
    stored = _patient(world.engine, B_PATIENT)
    assert (stored.family_name, stored.address_line1, stored.postcode) == ("Testwoman", "1 Mill Lane", "LS1 1AA")
    assert stored.practice_id != world.client.get("/api/v1/auth/me", headers=world.auth("gp_a")).json()["practice_id"]


def test_differing_details_from_another_practice_are_held_with_both_versions_kept(world):
    referral_id = _gp_a_refers_b_patient(world, **OTHER_DETAILS).json()["referral_id"]
    [change] = _changes(world.engine)
    assert change.status == "pending" and change.referral_id == referral_id
    assert change.previous["family_name"] == "Testwoman" and change.sent["family_name"] == "Intruder"
    with Session(world.engine) as session:
        referral = session.get(Referral, referral_id)
        audited = session.execute(select(AuditEvent).where(AuditEvent.entity == "demographics_change")).scalars()
        assert referral is not None and referral.status == "on_hold"
        assert "reconcile" in (referral.hold_reason or "")
        assert [a.entity_id for a in audited] == [str(change.id)]


def test_gp_sees_the_details_their_practice_sent_while_the_lab_reconciles(world):
    referral_id = _gp_a_refers_b_patient(world, **OTHER_DETAILS).json()["referral_id"]
    seen_by_a = world.client.get(f"/api/v1/referrals/{referral_id}", headers=world.auth("gp_a")).json()
    assert seen_by_a["patient"]["family_name"] == "Intruder"
    assert seen_by_a["patient"]["date_of_birth"] == "1970-01-01"


def test_on_hold_reply_to_a_gp_reveals_nothing_of_another_practices_open_referral(world):
    answer = _gp_a_refers_b_patient(world).json()  # the same details: held only because B's referral is open
    fresh = world.client.post("/api/v1/referrals", headers=world.auth("gp_a"), json=_json(referral_row(
        nhs_number="9990000026", external_ref="A-78"))).json()
    assert {k: v for k, v in answer.items() if k != "referral_id"} == {
        k: v for k, v in fresh.items() if k != "referral_id"}
    assert str(world.referral_b) not in str(answer)


def test_gp_reading_a_referral_held_behind_another_practice_sees_it_waiting_for_a_kit(world):
    referral_id = _gp_a_refers_b_patient(world).json()["referral_id"]
    seen_by_a = world.client.get(f"/api/v1/referrals/{referral_id}", headers=world.auth("gp_a")).json()
    listed = world.client.get("/api/v1/referrals", headers=world.auth("gp_a")).json()["items"]
    assert (seen_by_a["status"], seen_by_a["hold_reason"]) == ("awaiting_kit", None)
    assert [(i["status"], i["hold_reason"]) for i in listed if i["id"] == referral_id] == [("awaiting_kit", None)]
    assert world.client.get(f"/api/v1/referrals/{referral_id}", headers=world.auth("lab")).json()["status"] == \
        "on_hold"


def test_gp_csv_import_report_reveals_nothing_of_another_practices_open_referral(world):
    row = referral_row(nhs_number=B_PATIENT, external_ref="A-79", referral_date="2026-10-31")
    report = world.client.post("/api/v1/referrals/import", headers=world.auth("gp_a"),
                               files={"file": ("r.csv", synthetic.referrals_csv([row]), "text/csv")}).json()
    assert (report["accepted"], report["on_hold"]) == (1, 0)
    assert str(world.referral_b) not in str(report)


def test_gp_is_still_told_of_a_hold_behind_their_own_practices_referral(world):
    row = referral_row(external_ref="A-80", referral_date="2026-10-31")  # world.referral_a is practice A's, open
    answer = world.client.post("/api/v1/referrals", json=_json(row), headers=world.auth("gp_a")).json()
    assert answer["on_hold"] is True and str(world.referral_a) in answer["message"]


def test_practice_may_correct_details_only_it_has_sent_and_the_old_version_is_kept(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    intake.create_referral(reference_loaded, referral_row(external_ref="REF-2", referral_date="2026-10-31",
                                                          address_line1="2 New Street"), actor=LAB, clock=clock)
    assert _patient(reference_loaded, referral_row()["nhs_number"]).address_line1 == "2 New Street"
    [change] = _changes(reference_loaded)
    assert (change.status, change.previous["address_line1"], change.sent["address_line1"]) == (
        "applied", "1 Mill Lane", "2 New Street")


def test_practice_cannot_change_details_another_practice_also_relies_on(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    intake.create_referral(reference_loaded, referral_row(practice_ods=PRACTICE_B, external_ref="B-1"),
                           actor=LAB, clock=clock)
    later = intake.create_referral(reference_loaded, referral_row(external_ref="REF-2", referral_date="2026-10-31",
                                                                  address_line1="2 New Street"),
                                   actor=LAB, clock=clock)
    assert _patient(reference_loaded, referral_row()["nhs_number"]).address_line1 == "1 Mill Lane"
    assert later.on_hold and [c.status for c in _changes(reference_loaded)] == ["pending"]


def test_lab_taking_the_sent_details_replaces_the_record_and_keeps_the_old_one(world):
    _gp_a_refers_b_patient(world, **OTHER_DETAILS)
    [change] = _changes(world.engine)
    answer = world.client.post(f"/api/v1/demographics-changes/{change.id}/reconcile", headers=world.auth("lab"),
                               json={"decision": "use_sent", "reason": "checked against PDS: patient moved"})
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert _patient(world.engine, B_PATIENT).family_name == "Intruder"
    [settled] = _changes(world.engine)
    assert settled.previous["family_name"] == "Testwoman" and settled.decided_by == "lab"


def test_lab_keeping_the_record_leaves_it_and_a_second_decision_is_refused(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    intake.create_referral(reference_loaded, referral_row(practice_ods=PRACTICE_B, external_ref="B-1",
                                                          given_name="Alicia"), actor=LAB, clock=clock)
    [change] = _changes(reference_loaded)
    identity.reconcile(reference_loaded, change.id, decision="keep_record", reason="typo at practice B", actor=LAB)
    assert _patient(reference_loaded, referral_row()["nhs_number"]).given_name == "Alice"
    with pytest.raises(StateError, match="already settled"):
        identity.reconcile(reference_loaded, change.id, decision="use_sent", reason="again", actor=LAB)


def test_gp_may_not_list_or_reconcile_demographics_changes(world):
    _gp_a_refers_b_patient(world, **OTHER_DETAILS)
    [change] = _changes(world.engine)
    assert world.client.get("/api/v1/demographics-changes", headers=world.auth("gp_a")).status_code == 403
    assert world.client.post(f"/api/v1/demographics-changes/{change.id}/reconcile", headers=world.auth("gp_b"),
                             json={"decision": "keep_record", "reason": "mine"}).status_code == 403
    listed = world.client.get("/api/v1/demographics-changes", headers=world.auth("lab")).json()
    assert [i["id"] for i in listed["items"]] == [change.id] and listed["items"][0]["sent"]["given_name"] == "Mallory"


def test_same_details_from_a_second_practice_do_not_move_the_patient(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    first_practice = _patient(reference_loaded, referral_row()["nhs_number"]).practice_id
    intake.create_referral(reference_loaded, referral_row(practice_ods=PRACTICE_B, external_ref="B-1"),
                           actor=LAB, clock=clock)
    assert _patient(reference_loaded, referral_row()["nhs_number"]).practice_id == first_practice
    assert _changes(reference_loaded) == []


def test_gp_filtering_by_status_sees_a_hold_behind_another_practice_as_waiting_for_a_kit(world):
    referral_id = _gp_a_refers_b_patient(world).json()["referral_id"]
    held = world.client.get("/api/v1/referrals?status=on_hold", headers=world.auth("gp_a")).json()
    waiting = world.client.get("/api/v1/referrals?status=awaiting_kit", headers=world.auth("gp_a")).json()
    assert referral_id not in [i["id"] for i in held["items"]] and held["total"] == 0
    assert referral_id in [i["id"] for i in waiting["items"]]
