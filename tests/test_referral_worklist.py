"""What intake could not settle, a person settles: held referrals (queue for a kit, or close) and refused rows
(resolved, saying how). Lab and admin only; every decision audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fit_lab.db.models import AuditEvent, IntakeRejection, Referral
from fit_lab.errors import Forbidden, NotFound, StateError, ValidationError
from fit_lab.principal import Principal
from fit_lab.services import dispatch, intake, referrals
from tests.api_support import build_world
from tests.conftest import ADMIN, LAB
from tests.helpers import referral_row


@pytest.fixture
def held(reference_loaded, clock):
    """Referral 1 waits for its kit; referral 2, for the same patient, is on hold."""
    first = intake.create_referral(reference_loaded, referral_row(), actor=LAB, clock=clock)
    second = intake.create_referral(reference_loaded, referral_row(external_ref="REF-2", referral_date="2026-11-01"),
                                    actor=LAB, clock=clock)
    assert second.on_hold
    return reference_loaded, first.referral_id, second.referral_id


def _referral(engine, referral_id):
    with engine.connect() as conn:
        return conn.execute(select(Referral.status, Referral.hold_reason, Referral.closed_reason)
                            .where(Referral.id == referral_id)).one()


def _audit(engine, **where):
    query = select(AuditEvent)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    with engine.connect() as conn:
        return conn.execute(query).all()


def test_a_hold_is_not_queued_while_the_patients_other_referral_still_waits_for_its_kit(held, clock):
    engine, first, second = held
    with pytest.raises(StateError, match=f"referral {first} for the same patient is already waiting"):
        referrals.release_hold(engine, second, decision="queue", reason="GP asked", actor=LAB, clock=clock)
    assert _referral(engine, second).status == "on_hold"


def test_closing_a_hold_records_why_and_who(held, clock):
    engine, _, second = held
    released = referrals.release_hold(engine, second, decision="close", reason="repeat of the referral in flight",
                                      actor=LAB, clock=clock)
    assert released.status == "closed"
    status, hold_reason, closed_reason = _referral(engine, second)
    assert (status, hold_reason) == ("closed", None) and "repeat of the referral in flight" in closed_reason
    (event,) = _audit(engine, action="release_hold", entity_id=str(second))
    assert event.actor == LAB.username and event.detail["decision"] == "close"
    assert "already has referral" in event.detail["was_on_hold"]


def test_a_hold_queued_once_the_first_kit_is_out_gets_its_own_kit(held, clock):
    engine, first, second = held
    dispatch.create_batch(engine, actor=LAB, clock=clock)
    released = referrals.release_hold(engine, second, decision="queue", reason="patient lost the first kit",
                                      actor=ADMIN, clock=clock)
    assert released.status == "awaiting_kit" and f"referral {first} with a kit out" in released.message
    assert _referral(engine, second).status == "awaiting_kit"
    assert dispatch.create_batch(engine, actor=LAB, clock=clock).kit_count == 1
    assert _audit(engine, action="release_hold", actor=ADMIN.username)


def test_only_a_referral_on_hold_can_be_released(held, clock):
    engine, first, _ = held
    with pytest.raises(StateError, match="is not on hold"):
        referrals.release_hold(engine, first, decision="close", reason="x", actor=LAB, clock=clock)
    with pytest.raises(NotFound):
        referrals.release_hold(engine, 999, decision="close", reason="x", actor=LAB, clock=clock)


@pytest.mark.parametrize("role", ["gp", "scientist", "alliance"])
def test_only_lab_and_admin_settle_the_worklist(held, clock, role):
    engine, _, second = held
    with pytest.raises(Forbidden):
        referrals.release_hold(engine, second, decision="close", reason="x", actor=Principal("p", role, 1),
                               clock=clock)
    with pytest.raises(Forbidden):
        referrals.resolve_rejection(engine, 1, resolution="x", actor=Principal("p", role, 1), clock=clock)


@pytest.mark.parametrize(("decision", "reason"), [("send", "x"), ("close", "   ")])
def test_a_decision_needs_a_known_choice_and_a_reason(held, clock, decision, reason):
    engine, _, second = held
    with pytest.raises(ValidationError):
        referrals.release_hold(engine, second, decision=decision, reason=reason, actor=LAB, clock=clock)


@pytest.fixture
def refused(reference_loaded, clock):
    with pytest.raises(ValidationError):
        intake.create_referral(reference_loaded, referral_row(nhs_number="9434765918"), actor=LAB, clock=clock)
    with reference_loaded.connect() as conn:
        return reference_loaded, conn.execute(select(IntakeRejection.id)).scalar_one()


def test_resolving_a_refused_row_says_who_when_and_how_once(refused, clock):
    engine, rejection_id = refused
    row = referrals.resolve_rejection(engine, rejection_id, resolution="NHS number corrected, resubmitted",
                                      actor=LAB, clock=clock)
    assert (row.resolved_at, row.resolved_by, row.resolution) == (clock(), LAB.username,
                                                                  "NHS number corrected, resubmitted")
    assert referrals.list_rejections(engine, actor=LAB)[0] == 0
    (event,) = _audit(engine, action="resolve", entity="intake_rejection")
    assert event.detail == {"resolution": "NHS number corrected, resubmitted"}
    with pytest.raises(StateError, match="already resolved"):
        referrals.resolve_rejection(engine, rejection_id, resolution="again", actor=LAB, clock=clock)
    with pytest.raises(NotFound):
        referrals.resolve_rejection(engine, rejection_id + 1, resolution="x", actor=LAB, clock=clock)


def test_the_worklist_through_the_api(reference_loaded):
    world = build_world(reference_loaded)
    held_id = intake.create_referral(reference_loaded, referral_row(external_ref="REF-2", referral_date="2026-11-01"),
                                     actor=LAB).referral_id
    url = f"/api/v1/referrals/{held_id}/release-hold"
    body = {"decision": "close", "reason": "duplicate of the referral in flight"}
    assert world.client.post(url, json=body, headers=world.auth("gp_a")).status_code == 403
    done = world.client.post(url, json=body, headers=world.auth("lab"))
    assert done.status_code == 200 and done.json()["status"] == "closed"
    assert world.client.post(url, json=body, headers=world.auth("lab")).status_code == 409

    bad = world.client.post("/api/v1/referrals", headers=world.auth("lab"),
                            json={**referral_row(nhs_number="9434765918"), "symptoms": ["rectal_bleeding"]})
    assert bad.status_code == 422
    (item,) = world.client.get("/api/v1/intake-rejections", headers=world.auth("lab")).json()["items"]
    resolve = f"/api/v1/intake-rejections/{item['id']}/resolve"
    answer = world.client.post(resolve, json={"resolution": "typo, resubmitted"}, headers=world.auth("admin"))
    assert answer.status_code == 200 and answer.json()["resolved_by"] == "admin"
    assert world.client.post(resolve, json={"resolution": "again"}, headers=world.auth("admin")).status_code == 409
    assert world.client.get("/api/v1/intake-rejections", headers=world.auth("lab")).json()["total"] == 0
