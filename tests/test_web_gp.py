"""A GP's pages in a real browser (issue 7, done-when 4): their practice's results and letters, never another's.

Results reach the database the way the analyser sends them (``store_message``), so each outcome and letter is the
one the triage service wrote. Set FIT_LAB_UPDATE_SCREENSHOTS=1 to rewrite docs/images/gp-results.png.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta

import pypdfium2
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.api.app import create_app
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AuditEvent, Kit, Letter, Referral
from fit_lab.services import dispatch, intake, kits, users
from fit_lab.services.analyser import qc_tubes
from tests.api_support import PASSWORD
from tests.browser_support import chromium_or_skip, launch, served
from tests.conftest import ADMIN, LAB, NOW, REPO
from tests.helpers import PRACTICE_A, PRACTICE_B, referral_row
from tests.results_support import AT, SETTINGS, TARGETS, store, tube

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
PATIENTS = {  # name → (practice, NHS number, raw OC-Sensor value in ng/mL: × 0.2 gives µg/g)
    "Alice Testwoman": (PRACTICE_A, "9434765919", "750"),  # 150 µg/g: refer
    "Bella Negative": (PRACTICE_A, "9990000018", "20"),  # 4 µg/g: reassure
    "Carol Other": (PRACTICE_B, "9990000026", "900"),  # practice B's positive: never shown to A
    "Dora Leaked": (PRACTICE_A, "9990000034", None),  # her kit leaked in the post: rejected, no result
}


@dataclass
class Surgery:
    engine: Engine
    letters: dict[str, int]  # patient name → letter id


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(data))


@pytest.fixture
def surgery(reference_loaded) -> Surgery:
    engine = reference_loaded
    week_ago = fixed_clock(NOW - timedelta(days=7))
    for i, (name, (ods, nhs, _)) in enumerate(PATIENTS.items()):
        given, family = name.split()
        row = referral_row(nhs_number=nhs, given_name=given, family_name=family, practice_ods=ods,
                           external_ref=f"GP-{i}", referral_date="2026-10-01")
        intake.create_referral(engine, row, actor=LAB, clock=week_ago)
    dispatch.create_batch(engine, actor=LAB, clock=week_ago)
    with Session(engine) as session:
        specimen = dict(session.execute(select(Referral.external_ref, Kit.specimen_id)
                                        .join(Kit, Kit.referral_id == Referral.id)).all())
    for i, (_, (_, _, raw)) in enumerate(PATIENTS.items()):
        if raw is None:
            kits.reject_kit(engine, specimen[f"GP-{i}"], "leaked_damaged", actor=LAB, settings=SETTINGS,
                            clock=fixed_clock(NOW))
        else:
            kits.receive_kit(engine, specimen[f"GP-{i}"], NOW.date(), actor=LAB, settings=SETTINGS,
                             clock=fixed_clock(NOW))
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(specimen[f"GP-{i}"], raw, i + 1)
                              for i, (_, (_, _, raw)) in enumerate(PATIENTS.items()) if raw is not None])
    users.add_user(engine, "gp.a", "gp", PASSWORD, practice_ods=PRACTICE_A, actor=ADMIN)
    with Session(engine) as session:
        found = session.execute(select(Referral.external_ref, Letter.id).join(Letter, Letter.referral_id == Referral.id)
                                ).all()
    names = list(PATIENTS)
    return Surgery(engine, {names[int(ref.split("-")[1])]: letter_id for ref, letter_id in found
                            if PATIENTS[names[int(ref.split("-")[1])]][2] is not None})


@SQLITE_ONLY
def test_a_gp_sees_and_acknowledges_their_practices_letters_and_never_anothers(surgery, tmp_path):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    app = create_app(SETTINGS.model_copy(update={"secret_key": "test-secret-key-for-the-suite-0123456789"}),
                     surgery.engine)
    with served(app) as base_url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base_url}/gp")
        expect(page).to_have_url(re.compile(r"/login\?next=/gp$"))
        page.get_by_label("User name").fill("gp.a")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(f"{base_url}/gp")

        rows = page.locator("#results tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#results")).to_contain_text("Alice Testwoman")
        expect(page.locator("#results")).to_contain_text("943 476 5919")
        expect(page.locator("#results")).to_contain_text("Bella Negative")
        expect(page.locator("main")).not_to_contain_text("Carol Other")
        positive = page.locator("tr.row--positive")
        expect(positive).to_have_count(1)
        expect(positive).to_contain_text("Alice Testwoman")
        expect(positive).to_contain_text("REFER")
        expect(positive).to_contain_text("150 µg/g")
        if os.environ.get("FIT_LAB_UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(REPO / "docs" / "images" / "gp-results.png"))

        own = surgery.letters["Alice Testwoman"]
        letter = page.request.get(f"{base_url}/gp/letters/{own}.pdf")
        assert letter.status == 200 and letter.headers["content-type"] == "application/pdf"
        text = _pdf_text(letter.body())
        assert "Alice Testwoman" in text and "150 µg Hb/g" in text and "Carol" not in text
        other = page.request.get(f"{base_url}/gp/letters/{surgery.letters['Carol Other']}.pdf")
        assert other.status == 404 and "Carol" not in other.text()

        with page.expect_navigation():
            positive.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#acknowledged")).to_contain_text(f"Letter L{own} acknowledged")
        expect(page.locator("tr.row--positive")).to_contain_text("acknowledged")

        # Every letter, including the kit that never gave a result: no result means no reassurance.
        with page.expect_navigation():
            page.get_by_role("link", name="Letters", exact=True).click()
        letters = page.locator("#letters tbody tr")
        expect(letters).to_have_count(3)
        expect(page.locator("#letters")).to_contain_text("Kit rejected: new kit sent")
        expect(page.locator("#letters")).to_contain_text("Dora Leaked")
        expect(page.locator("main")).not_to_contain_text("Carol Other")
        browser.close()

    with Session(surgery.engine) as session:
        acknowledged = {lid for (lid,) in session.execute(select(Letter.id).where(Letter.acknowledged_at.is_not(None)))}
        events = session.execute(select(AuditEvent.action, AuditEvent.entity, AuditEvent.entity_id,
                                        AuditEvent.outcome).where(AuditEvent.actor == "gp.a")).all()
    assert acknowledged == {own}
    assert ("read", "letter", str(own), "ok") in events
    assert ("acknowledge", "letter", str(own), "ok") in events
    assert any(e.outcome == "not_found" and e.entity_id == str(surgery.letters["Carol Other"]) for e in events)
