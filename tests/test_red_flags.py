"""Red flags at intake: a do-not-wait flag of the active policy is referred at once and never posted a kit.

NICE DG56 (2023) 1.1 and NICE NG12: a rectal mass, an anal mass or anal ulceration is not FIT-gated
(domain brief §1 and §2). The flags come from the policy file, not the code (the policy's ``do_not_wait_for_fit``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

import triage
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Referral, TriageOutcome
from fit_lab.principal import Principal
from fit_lab.services import colonoscopy, dispatch, gp_view, intake, letters
from tests.api_support import make_settings
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.test_outcomes import pdf_text

SETTINGS = make_settings()
SCIENTIST = Principal("sci", "scientist")

RED_FLAGS = [
    pytest.param({"rectal_mass": "y"}, "rectal mass", id="rectal_mass"),
    pytest.param({"symptoms": "rectal_bleeding;anal_mass"}, "anal mass", id="anal_mass"),
    pytest.param({"symptoms": "anal_ulceration"}, "anal ulceration", id="anal_ulceration"),
]


def _refer(engine, settings=SETTINGS, **overrides):
    return intake.create_referral(engine, referral_row(**overrides), actor=LAB, clock=fixed_clock(NOW),
                                  settings=settings)


@pytest.mark.parametrize(("flag", "words"), RED_FLAGS)
def test_a_red_flag_referral_is_never_posted_a_kit(reference_loaded, flag, words):
    outcome = _refer(reference_loaded, **flag)
    assert outcome.status == "accepted" and outcome.red_flag and "RED FLAG" in (outcome.message or "")
    created = dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(NOW))
    assert created.kit_count == 0
    with Session(reference_loaded) as session:
        assert session.execute(select(Kit)).scalars().all() == []
        assert session.get(Referral, outcome.referral_id).status == "red_flag"


@pytest.mark.parametrize(("flag", "words"), RED_FLAGS)
def test_the_gp_is_told_at_once_to_refer_now_without_fit(reference_loaded, flag, words):
    outcome = _refer(reference_loaded, **flag)
    with Session(reference_loaded) as session:
        (letter,) = session.execute(select(Letter).where(Letter.referral_id == outcome.referral_id)).scalars()
        stored = session.get(TriageOutcome, letter.outcome_id)
    assert letter.kind == "red_flag" and letter.created_at == NOW
    assert stored.action == "refer" and stored.priority_key == "P1" and stored.band == triage.NOT_TESTED_BAND
    text = " ".join(pdf_text(letters.letter_pdf(letter)).split())
    assert "Refer now on the suspected lower-GI cancer pathway" in text and words in text
    assert "No FIT kit has been or will be posted" in text


def test_the_red_flag_patient_is_listed_first_for_colonoscopy(reference_loaded):
    engine = reference_loaded
    red = _refer(engine, rectal_mass="y", nhs_number="9990000018", external_ref="RED")
    listed = colonoscopy.ranked_list(engine, actor=SCIENTIST, clock=fixed_clock(NOW))
    assert [p.referral_id for p in listed] == [red.referral_id]
    assert listed[0].priority == "P1" and listed[0].fhb == "not tested: red flag"


def test_the_gp_page_shows_the_red_flag_outcome(reference_loaded):
    outcome = _refer(reference_loaded, symptoms="anal_ulceration")
    total, rows = gp_view.list_outcomes(reference_loaded, actor=SCIENTIST)
    assert total == 1 and rows[0].referral_id == outcome.referral_id
    assert rows[0].letter_kind == "red_flag" and rows[0].fhb == "not tested: referred on a red flag"


def test_the_referral_starts_its_life_red_flagged_in_the_audit_trail(reference_loaded):
    outcome = _refer(reference_loaded, rectal_mass="y")
    with Session(reference_loaded) as session:
        (event,) = session.execute(select(AuditEvent).where(
            AuditEvent.entity == "referral", AuditEvent.action == "create",
            AuditEvent.entity_id == str(outcome.referral_id))).scalars()
    assert event.detail["status"] == "red_flag"


def test_a_red_flag_is_referred_even_when_a_kit_is_already_out(reference_loaded):
    engine = reference_loaded
    first = _refer(engine)
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(NOW))
    second = _refer(engine, rectal_mass="y", external_ref="REF-2", referral_date="2026-10-31")
    assert second.red_flag and not second.on_hold
    with Session(engine) as session:
        assert session.get(Referral, first.referral_id).status == "in_progress"
        assert session.get(Referral, second.referral_id).status == "red_flag"


def test_an_ordinary_flag_still_waits_for_the_fit(reference_loaded):
    outcome = _refer(reference_loaded, iron_deficiency_anaemia="y")
    assert not outcome.red_flag
    assert dispatch.create_batch(reference_loaded, actor=LAB, clock=fixed_clock(NOW)).kit_count == 1


def test_the_do_not_wait_flags_come_from_the_policy_file(reference_loaded, tmp_path: Path):
    folder = tmp_path / "policies"
    folder.mkdir()
    for entry in resources.files("triage").joinpath("policies").iterdir():
        text = entry.read_text(encoding="utf-8")
        # A site whose policy lets anal ulceration wait for the FIT (a local decision, recorded in its file).
        marker = "  - flag: anal_ulceration\n    action: refer\n    priority: 1\n    do_not_wait_for_fit: true"
        assert marker in text
        text = text.replace(marker, marker.replace("do_not_wait_for_fit: true", "do_not_wait_for_fit: false"))
        text = text.replace("version: default-", "version: local-")
        (folder / entry.name).write_text(text, encoding="utf-8")
    local = make_settings(policy_dir=folder)
    ulcer = _refer(reference_loaded, local, symptoms="anal_ulceration")
    mass = _refer(reference_loaded, local, rectal_mass="y", nhs_number="9990000018", external_ref="RM")
    assert not ulcer.red_flag and mass.red_flag
    with Session(reference_loaded) as session:
        stored = session.execute(select(TriageOutcome)).scalars().one()
    assert stored.referral_id == mass.referral_id and stored.policy_version.startswith("local-")


def test_refer_without_fit_is_none_without_a_do_not_wait_flag():
    policies = triage.load_default_policies()
    facts = triage.ReferralFacts(frozenset({triage.ClinicalFlag.IDA}))
    assert policies.refer_without_fit(facts, NOW.date()) is None
    urgent = policies.refer_without_fit(triage.ReferralFacts(frozenset({triage.ClinicalFlag.RECTAL_MASS,
                                                                         triage.ClinicalFlag.IDA})), NOW.date())
    assert urgent is not None and urgent.priority == 1 and urgent.do_not_wait_for_fit
    assert urgent.action is triage.Action.REFER and urgent.fhb_ug_per_g is None
