"""Letters rendered to PDF and read back with pypdfium2: the right patient, practice, value, band, advice."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest

import triage
from triage import (
    Amendment,
    LetterData,
    LetterDataError,
    LetterKind,
    LetterTemplateError,
    LetterTemplates,
    Measurement,
    ReferralFacts,
    ResultDetails,
    render_letter,
)

TEMPLATES_DIR = Path(triage.__file__).parent / "templates"


def _text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        pages = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()
    return " ".join(" ".join(pages).split())  # line breaks depend on layout, not content


def _outcome(policy: triage.ThresholdPolicy, value: str, *flags: str) -> triage.TriageOutcome:
    return triage.triage(Measurement.parse(value, "HM-JACKarc"), ReferralFacts.from_names(flags), policy)


@pytest.fixture(scope="module")
def templates() -> LetterTemplates:
    return LetterTemplates.load()


@pytest.fixture
def letter(default_policy: triage.ThresholdPolicy) -> LetterData:
    return LetterData(
        patient_name="Ada Testpatient",
        date_of_birth=date(1956, 3, 14),
        nhs_number="9990001234",
        practice_name="Riverside Surgery",
        practice_ods="A81001",
        lab_name="Northern Pathology FIT Laboratory",
        lab_contact="0191 555 0100, fit.lab@example.nhs.uk",
        report_date=date(2025, 6, 2),
        policy_version=default_policy.version,
        letter_reference="L-000123",
        specimen_id="FIT00012345X",
    )


def _assert_identifiers(text: str, data: LetterData) -> None:
    for expected in (
        "Ada Testpatient",
        "14 March 1956",
        "999 000 1234",
        "Riverside Surgery",
        "A81001",
        "Northern Pathology FIT Laboratory",
        "0191 555 0100, fit.lab@example.nhs.uk",
        "2 June 2025",
        data.policy_version,
    ):
        assert expected in text, expected


def test_reassurance_letter(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    # §1: FIT < 10 → primary care with safety-netting; the letter gives result, threshold and re-referral advice.
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "<4")))
    text = _text(render_letter(LetterKind.REASSURANCE, data, templates))
    _assert_identifiers(text, data)
    assert "The result is <4 µg Hb/g" in text
    assert "The referral threshold is 10 µg Hb/g" in text
    assert "Safety-netting advice" in text
    assert "When to re-refer" in text and "iron-deficiency anaemia" in text
    assert "FIT00012345X" in text


def test_positive_letter(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    # §2: 100–399.9 refer, high priority.
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "150")))
    text = _text(render_letter(LetterKind.POSITIVE, data, templates))
    _assert_identifiers(text, data)
    assert "The result is 150 µg Hb/g" in text
    assert "Band: FIT positive, high (f-Hb 100 to below 400 µg/g)" in text
    assert "Priority for colonoscopy: P2" in text
    assert "What happens next" in text


def test_positive_letter_for_a_clinical_override_explains_it(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    # §1: iron-deficiency anaemia → refer whatever the f-Hb.
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "<10", "ida")))
    text = _text(render_letter(LetterKind.POSITIVE, data, templates))
    assert "Iron-deficiency anaemia: refer whatever the f-Hb" in text


def test_no_valid_result_letter(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    # §3: an error result is not a number and leads to a repeat kit; no result gives no reassurance.
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "insufficient_sample")))
    text = _text(render_letter(LetterKind.NO_VALID_RESULT, data, templates))
    _assert_identifiers(text, data)
    assert "no valid result (insufficient_sample)" in text
    assert "No valid result means no reassurance" in text


def test_amended_letter_is_marked_and_names_the_letter_it_replaces(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    amendment = Amendment(
        replaces_letter="L-000100",
        replaces_letter_date=date(2025, 5, 28),
        reason="transcription error in the analyser result",
        new_kind=LetterKind.POSITIVE,
    )
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "45")), amendment=amendment)
    text = _text(render_letter(LetterKind.AMENDED, data, templates))
    _assert_identifiers(text, data)
    assert text.count("AMENDED") >= 2  # the banner and the title
    assert "replaces letter L-000100 dated 28 May 2025" in text
    assert "transcription error in the analyser result" in text
    assert "The result is 45 µg Hb/g" in text and "Priority for colonoscopy: P3" in text


def test_kit_rejected_notice(letter: LetterData, templates: LetterTemplates) -> None:
    # §4: a rejection leads to a new kit and the GP being told why.
    data = replace(letter, rejection_reason="no collection date on the tube")
    text = _text(render_letter(LetterKind.KIT_REJECTED, data, templates))
    _assert_identifiers(text, data)
    assert "Reason: no collection date on the tube" in text
    assert "no reassurance" in text and "replacement kit" in text


def test_kit_not_returned_notice(letter: LetterData, templates: LetterTemplates) -> None:
    # §1: a kit that is never returned gives no reassurance; the GP must safety-net the patient.
    data = replace(letter, kit_dispatched_on=date(2025, 4, 30))
    text = _text(render_letter(LetterKind.NOT_RETURNED, data, templates))
    _assert_identifiers(text, data)
    assert "posted to your patient on 30 April 2025" in text
    assert "No result means no reassurance" in text and "safety-net" in text


def test_the_same_letter_gives_the_same_bytes(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "12")))
    assert render_letter(LetterKind.POSITIVE, data, templates) == render_letter(LetterKind.POSITIVE, data, templates)


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        (LetterKind.REASSURANCE, "result"),
        (LetterKind.POSITIVE, "result"),
        (LetterKind.KIT_REJECTED, "rejection_reason"),
        (LetterKind.NOT_RETURNED, "kit_dispatched_on"),
    ],
)
def test_a_letter_without_its_facts_is_refused(
    letter: LetterData, templates: LetterTemplates, kind: LetterKind, missing: str
) -> None:
    with pytest.raises(LetterDataError, match=f"a {kind.value} letter needs {missing}"):
        render_letter(kind, letter, templates)


def test_an_amended_letter_needs_the_amendment(
    default_policy: triage.ThresholdPolicy, letter: LetterData, templates: LetterTemplates
) -> None:
    data = replace(letter, result=ResultDetails.from_outcome(_outcome(default_policy, "45")))
    with pytest.raises(LetterDataError, match="amendment"):
        render_letter(LetterKind.AMENDED, data, templates)


def test_a_letter_without_patient_identifiers_is_refused(letter: LetterData, templates: LetterTemplates) -> None:
    with pytest.raises(LetterDataError, match="nhs number"):
        render_letter(LetterKind.KIT_REJECTED, replace(letter, nhs_number=" ", rejection_reason="leaked"), templates)


# -- templates the lab edits ------------------------------------------------------------------------------------


@pytest.fixture
def editable_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    return folder


def test_the_labs_wording_is_used(editable_templates: Path, letter: LetterData) -> None:
    (editable_templates / "kit_rejected.txt").write_text(
        "Title: Kit could not be tested\n\nWe could not test the kit ($rejection_reason). Ring $lab_contact.\n",
        encoding="utf-8",
    )
    templates = LetterTemplates.load(editable_templates)
    text = _text(render_letter(LetterKind.KIT_REJECTED, replace(letter, rejection_reason="leaked"), templates))
    assert "Kit could not be tested" in text
    assert "We could not test the kit (leaked). Ring 0191 555 0100" in text
    # Identifiers are printed by the library even though this template leaves them out.
    _assert_identifiers(text, letter)


def test_a_misspelt_placeholder_is_refused_at_load(editable_templates: Path) -> None:
    (editable_templates / "positive.txt").write_text("Title: x\n\nBand $bnad\n", encoding="utf-8")
    with pytest.raises(LetterTemplateError, match=r"positive.txt uses unknown placeholder\(s\) \$bnad"):
        LetterTemplates.load(editable_templates)


def test_a_stray_dollar_is_refused_at_load(editable_templates: Path) -> None:
    (editable_templates / "positive.txt").write_text("Title: x\n\nCosts $5\n", encoding="utf-8")
    with pytest.raises(LetterTemplateError, match=r"write \$\$ for a dollar sign"):
        LetterTemplates.load(editable_templates)


def test_a_template_without_a_title_is_refused(editable_templates: Path) -> None:
    (editable_templates / "positive.txt").write_text("Dear colleague\n", encoding="utf-8")
    with pytest.raises(LetterTemplateError, match="first line must be 'Title: …'"):
        LetterTemplates.load(editable_templates)


def test_a_missing_template_is_refused(editable_templates: Path) -> None:
    (editable_templates / "not_returned.txt").unlink()
    with pytest.raises(LetterTemplateError, match=r"not_returned.txt is missing"):
        LetterTemplates.load(editable_templates)


def test_a_template_printing_data_the_letter_lacks_is_refused(editable_templates: Path, letter: LetterData) -> None:
    (editable_templates / "kit_rejected.txt").write_text(
        "Title: Rejected\n\n$rejection_reason, collected $collection_date\n", encoding="utf-8"
    )
    templates = LetterTemplates.load(editable_templates)
    with pytest.raises(LetterDataError, match=r"prints \$collection_date"):
        render_letter(LetterKind.KIT_REJECTED, replace(letter, rejection_reason="leaked"), templates)


def test_symbols_outside_the_pdf_font_are_spelt_out(editable_templates: Path, letter: LetterData) -> None:
    (editable_templates / "kit_rejected.txt").write_text(
        "Title: Rejected\n\nRefer if f-Hb ≥ 10 & symptoms persist <2 weeks.\n", encoding="utf-8"
    )
    templates = LetterTemplates.load(editable_templates)
    text = _text(render_letter(LetterKind.KIT_REJECTED, replace(letter, rejection_reason="leaked"), templates))
    assert "Refer if f-Hb >= 10 & symptoms persist <2 weeks." in text
