"""Names print exactly as the practice sent them (issue 14, done-when 2): the label sheet, the patient's
instruction letter and the GP's letter, for Polish, Turkish, Vietnamese, Irish and Welsh names and names with
apostrophes and hyphens. The text extracted from each PDF equals the stored name: a letter that does not name its
patient correctly is a patient-identification hazard (the standard PDF fonts printed "Łukasz" as "■ukasz")."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.models import Kit, Letter, Patient, Referral
from fit_lab.services import dispatch, intake, kits
from fit_lab.services.analyser import qc_tubes
from tests.api_support import build_world
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.results_support import AT, SETTINGS, TARGETS, store, tube

# (given name, family name): each NHS number is a valid synthetic one (999 range).
NAMES = {
    "9990000026": ("Łukasz", "Wałęsa"),  # Polish
    "9990000034": ("Şükrü", "Öztürk-Yılmaz"),  # Turkish: dotless ı, ş, hyphen
    "9990000042": ("Thị", "Nguyễn"),  # Vietnamese: stacked diacritics
    "9990000050": ("Seán", "Ó Súilleabháin"),  # Irish
    "9990000069": ("Siân", "ap Rhŷs"),  # Welsh: circumflexed w/y
    "9990000077": ("Mary-Kate", "O'Brien"),  # apostrophe and hyphen
    "9990000085": ("Gráinne", "D’Arcy"),  # typographic apostrophe, as pasted from a letter
}


def _pdf_text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    return unicodedata.normalize("NFC", text)


@pytest.fixture
def posted(reference_loaded):
    """The referrals, intaken a week ago and posted in one batch; returns the world and the batch id."""
    world = build_world(reference_loaded)
    week_ago = fixed_clock(NOW - timedelta(days=7))
    for n, (nhs, (given, family)) in enumerate(NAMES.items()):
        intake.create_referral(reference_loaded, referral_row(nhs_number=nhs, given_name=given, family_name=family,
                                                              external_ref=f"U-{n}", referral_date="2026-10-20"),
                               actor=LAB, clock=week_ago)
    batch = dispatch.create_batch(reference_loaded, actor=LAB, clock=week_ago)
    assert batch.held == []
    return world, batch.batch_id


def _stored_names(engine) -> list[str]:
    with Session(engine) as session:
        rows = session.execute(select(Patient.given_name, Patient.family_name)
                               .where(Patient.nhs_number.in_(list(NAMES)))).all()
    assert len(rows) == len(NAMES)
    return [f"{given} {family}" for given, family in rows]


def test_the_label_sheet_prints_every_name_exactly_as_stored(posted):
    world, batch_id = posted
    pdf = world.client.get(f"/api/v1/dispatch-batches/{batch_id}/labels.pdf", headers=world.auth("lab")).content
    text = _pdf_text(pdf)
    for name in _stored_names(world.engine):
        assert name in text


def test_the_patient_instruction_letter_prints_every_name_exactly_as_stored(posted):
    world, batch_id = posted
    pdf = world.client.get(f"/api/v1/dispatch-batches/{batch_id}/letters.pdf", headers=world.auth("lab")).content
    text = _pdf_text(pdf)
    for name in _stored_names(world.engine):
        assert name in text


def test_the_gp_letter_prints_every_name_exactly_as_stored(posted):
    world, _ = posted
    engine = world.engine
    with Session(engine) as session:
        specimens = list(session.execute(
            select(Kit.specimen_id).join(Referral, Referral.id == Kit.referral_id)
            .join(Patient, Patient.id == Referral.patient_id).where(Patient.nhs_number.in_(list(NAMES)))).scalars())
    for specimen_id in specimens:
        kits.receive_kit(engine, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(s, "20", i + 1) for i, s in enumerate(specimens)])
    with Session(engine) as session:
        letter_ids = list(session.execute(select(Letter.id)).scalars())
    assert len(letter_ids) == len(NAMES)
    texts = [_pdf_text(world.client.get(f"/api/v1/letters/{i}.pdf", headers=world.auth("scientist")).content)
             for i in letter_ids]
    for name in _stored_names(engine):
        assert sum(name in text for text in texts) == 1, name


def test_a_name_a_thermal_printer_cannot_print_is_posted_on_pdf_labels_and_held_for_zpl(reference_loaded, clock):
    intake.create_referral(reference_loaded, referral_row(nhs_number="9990000026", given_name="Дмитрий",
                                                          external_ref="C-1"), actor=LAB, clock=clock)
    zpl = dispatch.create_batch(reference_loaded, actor=LAB, label_format="zpl", clock=clock)
    assert zpl.kit_count == 0 and "cannot be printed" in zpl.held[0][1]
    intake.create_referral(reference_loaded, referral_row(nhs_number="9990000034", given_name="Дмитрий",
                                                          external_ref="C-2"), actor=LAB, clock=clock)
    pdf = dispatch.create_batch(reference_loaded, actor=LAB, label_format="pdf", clock=clock)
    assert (pdf.kit_count, pdf.held) == (1, [])
