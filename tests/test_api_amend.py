"""`POST /api/v1/results/{id}/amend` (interfaces.md): a scientist corrects a released result with a reason; it is
triaged again (domain brief §2/§3 on the new value), the GP gets an AMENDED letter and the history is kept."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Result, TriageOutcome
from fit_lab.services import dispatch, kits
from fit_lab.services.analyser import qc_tubes
from tests.api_support import build_world
from tests.conftest import LAB, NOW
from tests.results_support import AT, SETTINGS, TARGETS, store, tube


@pytest.fixture
def world(reference_loaded):
    """Practice A's referral with a released negative result (40 ng/mL x 0.2 = 8 µg/g, §2: below 10)."""
    world = build_world(reference_loaded)
    dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(NOW - timedelta(days=7)))
    with Session(reference_loaded) as session:
        specimen_id = session.execute(select(Kit.specimen_id).where(Kit.referral_id == world.referral_a)).scalar_one()
    kits.receive_kit(reference_loaded, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    store(reference_loaded, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(reference_loaded, OC_SENSOR, [tube(specimen_id, "40", 1)])
    with Session(reference_loaded) as session:
        world.result_id = session.execute(select(Result.id).where(Result.specimen_id == specimen_id)).scalar_one()
    return world


def _amend(world, body, who="scientist", result_id=None):
    return world.client.post(f"/api/v1/results/{result_id or world.result_id}/amend", json=body,
                             headers=world.auth(who))


def _current(world):
    with Session(world.engine) as session:
        return session.execute(select(TriageOutcome).where(TriageOutcome.result_id == world.result_id,
                                                           TriageOutcome.is_current.is_(True))).scalar_one()


@pytest.mark.parametrize(
    ("value", "comparator", "fhb", "action", "band"),
    [
        (150, "=", 150.0, "refer", "high"),  # §2: 100-399.9 refer, high priority
        (57.5, "=", 57.5, "refer", "positive"),  # §2: 10-99.9 refer
        ("<10", "<", 10.0, "reassure", "negative"),  # §3: "<10" is negative
        (">400", ">", 400.0, "refer", "highest"),  # §3: ">400" is the highest band
        (">200", ">", 200.0, "refer", "highest"),  # §3: OC-Sensor's top reading, highest band it could be in
        ("<20", "<", 20.0, "repeat", "indeterminate"),  # §3: indeterminate at a threshold of 10
        ("insufficient_sample", None, None, "repeat", "no_valid_result"),  # §3: an error result is no result
    ],
)
def test_a_scientist_amends_a_result_with_a_number_or_a_censored_value(world, value, comparator, fhb, action, band):
    response = _amend(world, {"value": value, "reason": "transcription error"})
    assert response.status_code == 200, response.text
    current = _current(world)
    assert response.json() == {"result_id": world.result_id, "outcome_id": current.id}
    assert (current.action, current.band) == (action, band)
    with Session(world.engine) as session:
        result = session.get(Result, world.result_id)
        assert (result.comparator, result.fhb_ug_per_g) == (comparator, fhb)
        assert result.amend_reason == "transcription error"
        letters = session.execute(select(Letter).where(Letter.referral_id == world.referral_a)
                                  .order_by(Letter.id)).scalars().all()
        assert [letter.kind for letter in letters] == ["reassurance", "amended"]
        assert letters[1].supersedes_letter_id == letters[0].id
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "amend")).scalar_one()
        assert event.actor == "scientist" and event.detail["reason"] == "transcription error"


def test_the_old_outcome_stays_in_the_history(world):
    assert _amend(world, {"value": 150, "reason": "typo"}).status_code == 200
    detail = world.client.get(f"/api/v1/outcomes/{world.referral_a}", headers=world.auth("gp_a")).json()
    assert [(h["action"], h["current"]) for h in detail["history"]] == [("reassure", False), ("refer", True)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "<0", "reason": "typo"}, "value"),  # nothing is below zero
        ({"value": -1, "reason": "typo"}, "value"),
        ({"value": "ten", "reason": "typo"}, "value"),  # neither a number nor one of the method's error codes
        ({"value": "1e5", "reason": "typo"}, "value"),
        ({"value": True, "reason": "typo"}, "value"),
        ({"value": 150, "reason": "   "}, "reason"),
        ({"value": 150, "reason": "a\u0000b"}, "reason"),
        ({"value": 150}, "reason"),
        ({"reason": "typo"}, "value"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_the_reason(world, body, field):
    response = _amend(world, body)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(p["field"].split(".")[0] == field and p["reason"] for p in problems), problems
    assert _current(world).action == "reassure"  # nothing changed


def test_only_a_released_result_can_be_amended(world):
    with world.engine.begin() as conn:
        conn.execute(update(Result).where(Result.id == world.result_id).values(status="held"))
    assert _amend(world, {"value": 150, "reason": "typo"}).status_code == 409


def test_an_unknown_result_is_404(world):
    assert _amend(world, {"value": 150, "reason": "typo"}, result_id=999_999).status_code == 404


@pytest.mark.parametrize(("who", "status"), [("lab", 403), ("gp_a", 403), ("alliance", 403), ("admin", 200)])
def test_only_scientists_and_admins_amend(world, who, status):
    assert _amend(world, {"value": 150, "reason": "typo"}, who=who).status_code == status


def test_the_route_is_documented_in_openapi(world):
    operation = world.client.get("/openapi.json").json()["paths"]["/api/v1/results/{result_id}/amend"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(operation["responses"])
    assert operation["requestBody"]["required"] is True


def test_the_schema_lists_the_error_codes_an_amended_value_may_be():
    from sqlalchemy import create_engine

    from fit_lab.api.app import create_app
    from tests.api_support import make_settings

    value = create_app(make_settings(), create_engine("sqlite://")).openapi()["components"]["schemas"]["AmendIn"][
        "properties"]["value"]
    texts = [o for o in value["anyOf"] if o.get("type") == "string"]
    assert any("insufficient_sample" in o.get("enum", []) for o in texts)
    assert not any(re.fullmatch(o["pattern"], "not_an_error_code") for o in texts if "pattern" in o)
