"""GP view, letters, colonoscopy list and FHIR export through the API, scoped by practice and audited."""

from __future__ import annotations

from datetime import timedelta

import pypdfium2
import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from sqlalchemy import select
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Result
from fit_lab.errors import NotFound
from fit_lab.principal import Principal
from fit_lab.services import dispatch, gp_view, intake, kits
from fit_lab.services.analyser import qc_tubes
from tests.api_support import build_world, practice_id
from tests.conftest import LAB, NOW
from tests.helpers import PRACTICE_A, referral_row
from tests.results_support import AT, SETTINGS, TARGETS, store, tube


@pytest.fixture
def world(reference_loaded):
    """Practice A: two positives and a negative; practice B: one positive."""
    world = build_world(reference_loaded)  # referral 1 (practice A) and 2 (practice B), awaiting kits
    week_ago = fixed_clock(NOW - timedelta(days=7))
    for i, nhs in enumerate(["9990000026", "9990000034"]):
        intake.create_referral(reference_loaded, referral_row(nhs_number=nhs, external_ref=f"A{i}",
                                                              referral_date="2026-10-01"), actor=LAB, clock=week_ago)
    dispatch.create_batch(reference_loaded, actor=LAB, clock=week_ago)
    with Session(reference_loaded) as session:
        by_referral = dict(session.execute(select(Kit.referral_id, Kit.specimen_id)).all())
    for specimen_id in by_referral.values():
        kits.receive_kit(reference_loaded, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS,
                         clock=fixed_clock(NOW))
    store(reference_loaded, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    values = {world.referral_a: "750", world.referral_b: "1000", 3: "40", 4: "100"}  # 150, 200, 8, 20 µg/g
    store(reference_loaded, OC_SENSOR, [tube(by_referral[r], v, i + 1) for i, (r, v) in enumerate(values.items())])
    return world


def test_gp_sees_only_own_practice_outcomes_newest_first_with_positives_flagged(world):
    page = world.client.get("/api/v1/outcomes", headers=world.auth("gp_a")).json()
    assert {item["practice_ods"] for item in page["items"]} == {"Y90001"}
    assert page["total"] == 3
    assert sorted(item["positive"] for item in page["items"]) == [False, True, True]
    positives = world.client.get("/api/v1/outcomes?band=positive", headers=world.auth("gp_a")).json()
    assert [i["fhb"] for i in positives["items"]] == ["20 µg/g"]


@pytest.mark.parametrize("path", ["/api/v1/outcomes/{referral}", "/api/v1/letters/{letter}.pdf",
                                  "/api/v1/fhir/DiagnosticReport/{result}"])
def test_gp_of_practice_a_gets_404_for_practice_b(world, path):
    with Session(world.engine) as session:
        letter = session.execute(select(Letter.id).where(Letter.referral_id == world.referral_b)).scalar_one()
        result = session.execute(select(Result.id).join(Kit, Kit.id == Result.kit_id)
                                 .where(Kit.referral_id == world.referral_b)).scalar_one()
    url = path.format(referral=world.referral_b, letter=letter, result=result)
    assert world.client.get(url, headers=world.auth("gp_a")).status_code == 404
    assert world.client.get(url, headers=world.auth("gp_b")).status_code == 200
    assert world.client.get(url, headers=world.auth("alliance")).status_code == 403


def test_gp_opens_and_acknowledges_own_letter_once(world):
    detail = world.client.get(f"/api/v1/outcomes/{world.referral_a}", headers=world.auth("gp_a")).json()
    letter_id = detail["current"]["letter_id"]
    pdf = world.client.get(f"/api/v1/letters/{letter_id}.pdf", headers=world.auth("gp_a"))
    text = "".join(p.get_textpage().get_text_range() for p in pypdfium2.PdfDocument(pdf.content))
    assert "943 476 5919" in text and "150 µg Hb/g" in text
    ack = world.client.post(f"/api/v1/letters/{letter_id}/acknowledge", headers=world.auth("gp_a"))
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "gp_a"
    again = world.client.post(f"/api/v1/letters/{letter_id}/acknowledge", headers=world.auth("gp_a"))
    assert again.status_code == 409
    lab = world.client.post(f"/api/v1/letters/{letter_id}/acknowledge", headers=world.auth("scientist"))
    assert lab.status_code == 403
    with Session(world.engine) as session:
        actions = set(session.execute(select(AuditEvent.action).where(AuditEvent.actor == "gp_a")).scalars())
    assert {"read", "acknowledge"} <= actions


def test_colonoscopy_list_is_in_due_date_then_fhb_order_for_scientists_only(world):
    listed = world.client.get("/api/v1/triage/colonoscopy-list", headers=world.auth("scientist")).json()
    # Issue 13: earliest due date first (triage/ranking.py). The 20 µg/g patient (priority 3, 21 days) was referred
    # on 1 Oct, so is due 22 Oct; the 200 and 150 (priority 2, 14 days, §2: 100-399.9 high priority) were referred
    # on 30 Oct, so are due 13 Nov, and the higher f-Hb goes first. Before, priority came first whatever the wait.
    assert [p["fhb"] for p in listed] == ["20", "200", "150"]
    assert [p["rank"] for p in listed] == [1, 2, 3] and all(p["reason"] for p in listed)
    assert world.client.get("/api/v1/triage/colonoscopy-list", headers=world.auth("gp_a")).status_code == 403


def test_fhir_report_validates_and_carries_the_stored_value_unit_and_interpretation(world):
    with Session(world.engine) as session:
        result = session.execute(select(Result).join(Kit, Kit.id == Result.kit_id)
                                 .where(Kit.referral_id == world.referral_a)).scalar_one()
    body = world.client.get(f"/api/v1/fhir/DiagnosticReport/{result.id}", headers=world.auth("gp_a")).json()
    report = DiagnosticReport.model_validate(body)
    observation = next(r for r in body["contained"] if r["resourceType"] == "Observation")
    assert observation["valueQuantity"] == {"value": result.fhb_ug_per_g, "unit": "ug/g",
                                            "system": "http://unitsofmeasure.org", "code": "ug/g"}
    assert observation["interpretation"][0]["coding"][0]["code"] == "POS"
    patient = next(r for r in body["contained"] if r["resourceType"] == "Patient")
    assert patient["identifier"][0]["value"] == "9434765919"
    assert report.status == "final"


def test_a_gp_acknowledges_several_letters_at_once_but_never_another_practices(world):
    with Session(world.engine) as session:
        by_practice = session.execute(select(Letter.id, Letter.practice_id).order_by(Letter.id)).all()
    gp_a = Principal("gp_a", "gp", practice_id(world.engine, PRACTICE_A))
    own = [i for i, p in by_practice if p == gp_a.practice_id]
    other = [i for i, p in by_practice if p != gp_a.practice_id]
    assert own and other
    with pytest.raises(NotFound):
        gp_view.acknowledge_many(world.engine, [*own, other[0]], actor=gp_a)
    with Session(world.engine) as session:  # refused as a whole: nothing was acknowledged
        assert session.execute(select(Letter.id).where(Letter.acknowledged_at.is_not(None))).first() is None
    first = gp_view.acknowledge_many(world.engine, own[:1], actor=gp_a, clock=fixed_clock(NOW))
    assert first == own[:1]
    assert gp_view.acknowledge_many(world.engine, own, actor=gp_a, clock=fixed_clock(NOW)) == own[1:]
    with Session(world.engine) as session:
        audited = session.execute(select(AuditEvent.entity_id).where(
            AuditEvent.actor == "gp_a", AuditEvent.action == "acknowledge")).scalars().all()
    assert sorted(audited, key=int) == [str(i) for i in own]


def test_the_colonoscopy_list_is_paged_and_each_patient_keeps_their_rank(world):
    first = world.client.get("/api/v1/triage/colonoscopy-list", params={"limit": 2},
                             headers=world.auth("scientist")).json()
    rest = world.client.get("/api/v1/triage/colonoscopy-list", params={"limit": 2, "offset": 2},
                            headers=world.auth("scientist")).json()
    assert [p["rank"] for p in first] == [1, 2] and [p["rank"] for p in rest] == [3]
