"""`GET /api/v1/letters`: every letter a GP is sent, including those with no outcome (kit rejected, kit not
returned: domain brief §1 "a kit that is never returned gives no reassurance: the GP must be told", §4 "a
rejection leads to a new kit and the GP being told why"), scoped to the GP's own practice and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, TriageOutcome
from fit_lab.services import dispatch, intake, kits
from fit_lab.services.analyser import qc_tubes
from fit_lab.services.failsafe import run_failsafe
from tests.api_support import build_world
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.results_support import AT, SCIENTIST, SETTINGS, TARGETS, store, tube

TODAY = NOW.date()


@pytest.fixture
def world(reference_loaded):
    """Practice A: a positive result and a kit never returned; practice B: a rejected kit."""
    world = build_world(reference_loaded)  # referral_a (practice A) and referral_b (practice B), awaiting kits
    long_ago = fixed_clock(NOW - timedelta(days=40))
    late = intake.create_referral(reference_loaded, referral_row(nhs_number="9990000026", external_ref="A-LATE",
                                                                 referral_date="2026-09-20"), actor=LAB,
                                  clock=long_ago)
    dispatch.create_batch(reference_loaded, actor=LAB, clock=long_ago)
    with Session(reference_loaded) as session:
        kit_of = dict(session.execute(select(Kit.referral_id, Kit.specimen_id)).all())
    now = fixed_clock(NOW)
    kits.receive_kit(reference_loaded, kit_of[world.referral_a], TODAY, actor=LAB, settings=SETTINGS, clock=now)
    store(reference_loaded, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(reference_loaded, OC_SENSOR, [tube(kit_of[world.referral_a], "750", 1)])  # 150 µg/g: positive
    kits.reject_kit(reference_loaded, kit_of[world.referral_b], "leaked_damaged", actor=LAB, settings=SETTINGS,
                    clock=now)
    run_failsafe(reference_loaded, today=TODAY, actor=SCIENTIST, settings=SETTINGS, clock=now)  # 40 days out
    world.referral_late = late.referral_id  # type: ignore[attr-defined]
    return world


def _letters(world, who, query=""):
    response = world.client.get(f"/api/v1/letters{query}", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_gp_finds_kit_rejected_and_not_returned_letters_of_own_practice_only(world):
    page = _letters(world, "gp_a")
    assert sorted(item["kind"] for item in page["items"]) == ["not_returned", "positive"]
    assert {item["practice_ods"] for item in page["items"]} == {"Y90001"} and page["total"] == 2
    not_returned = next(item for item in page["items"] if item["kind"] == "not_returned")
    assert not_returned["outcome_id"] is None and not_returned["referral_id"] == world.referral_late
    assert not_returned["specimen_id"] and not_returned["nhs_number"] == "9990000026"
    b = _letters(world, "gp_b")
    assert [(item["kind"], item["practice_ods"]) for item in b["items"]] == [("kit_rejected", "Y90002")]


def test_a_gp_of_practice_a_gets_nothing_of_practice_b(world):
    assert _letters(world, "gp_a", "?kind=kit_rejected") == {"total": 0, "limit": 50, "offset": 0, "items": []}
    b_letter = _letters(world, "gp_b")["items"][0]
    assert world.client.get(b_letter["pdf_url"], headers=world.auth("gp_a")).status_code == 404
    assert world.client.get(b_letter["pdf_url"], headers=world.auth("gp_b")).status_code == 200


@pytest.mark.parametrize("who", ["scientist", "admin"])
def test_lab_staff_see_every_practice_letter_newest_first(world, who):
    page = _letters(world, who)
    assert sorted(item["kind"] for item in page["items"]) == ["kit_rejected", "not_returned", "positive"]
    stamps = [(item["created_at"], item["letter_id"]) for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_filter_by_kind_and_date(world):
    assert [i["kind"] for i in _letters(world, "scientist", "?kind=not_returned")["items"]] == ["not_returned"]
    # Patient reminders are not letters to the GP: listed only when asked for by kind.
    assert [i["kind"] for i in _letters(world, "gp_a", "?kind=reminder")["items"]] == ["reminder"]
    day = TODAY.isoformat()
    assert _letters(world, "scientist", f"?since={day}&until={day}")["total"] == 3
    assert _letters(world, "scientist", f"?since={(TODAY + timedelta(days=1)).isoformat()}")["total"] == 0
    assert _letters(world, "scientist", f"?until={(TODAY - timedelta(days=1)).isoformat()}")["total"] == 0


def test_bad_filters_are_refused_naming_the_field(world):
    for query, field in (("?kind=everything", "kind"), ("?since=0", "since"), ("?offset=-1", "offset")):
        response = world.client.get(f"/api/v1/letters{query}", headers=world.auth("scientist"))
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == field


def test_pages_are_capped_at_the_servers_page_size(world):
    first = _letters(world, "scientist", "?limit=1")
    second = _letters(world, "scientist", "?limit=1&offset=1")
    assert first["total"] == second["total"] == 3 and len(first["items"]) == len(second["items"]) == 1
    assert first["items"][0]["letter_id"] != second["items"][0]["letter_id"]
    assert _letters(world, "scientist", "?limit=100000")["limit"] == SETTINGS.max_page_size


def test_an_amended_letter_says_which_letter_it_replaces_and_the_old_one_says_it_was_replaced(world):
    with Session(world.engine) as session:
        result_id = session.execute(select(TriageOutcome.result_id).join(Letter, Letter.outcome_id == TriageOutcome.id)
                                    .where(Letter.kind == "positive")).scalar_one()
    amended = world.client.post(f"/api/v1/results/{result_id}/amend", json={"value": "<10", "reason": "wrong tube"},
                                headers=world.auth("scientist"))
    assert amended.status_code == 200, amended.text
    items = {i["kind"]: i for i in _letters(world, "gp_a")["items"]}
    assert items["amended"]["supersedes_letter_id"] == items["positive"]["letter_id"]
    assert items["positive"]["superseded_by_letter_id"] == items["amended"]["letter_id"]


def test_every_listed_letter_is_an_audited_read(world):
    page = _letters(world, "gp_a")
    with Session(world.engine) as session:
        read = set(session.execute(select(AuditEvent.entity_id).where(
            AuditEvent.actor == "gp_a", AuditEvent.action == "read", AuditEvent.entity == "letter")).scalars())
    assert read == {str(item["letter_id"]) for item in page["items"]}
