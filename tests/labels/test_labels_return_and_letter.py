"""The return-envelope marking (UN3373 at legal size, from configuration) and the patient instruction letter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pypdfium2 as pdfium
import pytest

from labels import (
    KitLabel,
    LabDetails,
    LabelDataError,
    LabelKind,
    LayoutError,
    LetterSettings,
    ReturnMarking,
    letter_paragraphs,
    load_stock,
    render_instruction_letters_pdf,
    render_kit_labels_zpl,
    render_kit_sheets_pdf,
    render_return_labels_pdf,
    render_return_labels_zpl,
    return_label,
)
from labels.layout import PT_MM, DiamondField, TextField

Kits = Callable[..., list[KitLabel]]


def pdf_text(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_bounded() for i in range(len(document))]
    finally:
        document.close()


def test_return_label_meets_p650_marking_sizes(marking: ReturnMarking, lab: LabDetails) -> None:
    stock = load_stock("avery-l7169")
    layout = return_label(marking, lab, stock.label_width_mm, stock.label_height_mm)
    [diamond] = [f for f in layout.fields if isinstance(f, DiamondField)]
    assert diamond.side_mm >= 50.0 and diamond.line_mm >= 2.0
    texts = [f for f in layout.fields if isinstance(f, TextField)]
    marking_texts = [t for t in texts if t.text in ("UN3373", "Biological Substance,", "Category B")]
    assert len(marking_texts) == 3
    for text in marking_texts:
        assert text.size_pt * PT_MM * 0.718 >= 6.0  # Helvetica-Bold cap height
    # The diamond lies wholly on the label.
    half_diagonal = diamond.side_mm / 2**0.5
    assert diamond.cx_mm - half_diagonal >= 0 and diamond.cx_mm + half_diagonal <= stock.label_width_mm
    assert diamond.cy_mm - half_diagonal >= 0


def test_return_labels_print_the_configured_marking_and_lab_address(marking: ReturnMarking, lab: LabDetails) -> None:
    [page] = pdf_text(render_return_labels_pdf(marking, lab, 4))
    assert page.count("UN3373") == 4
    assert page.count("Category B") == 4
    assert page.count("FREEPOST RTKZ-ABCD") == 4 and page.count("NR4 7UY") == 4


def test_the_marking_text_comes_from_configuration(lab: LabDetails) -> None:
    custom = ReturnMarking("UN3373", "Diagnostic Specimen")
    [page] = pdf_text(render_return_labels_pdf(custom, lab, 1))
    assert "Diagnostic Specimen" in page and "Biological" not in page


def test_a_label_too_small_for_the_legal_diamond_is_refused(marking: ReturnMarking, lab: LabDetails) -> None:
    with pytest.raises(LayoutError, match="UN3373 marking"):
        render_return_labels_pdf(marking, lab, 1, stock=load_stock("avery-l7163"))


def test_return_label_zpl_draws_the_diamond_and_prints_count_copies(marking: ReturnMarking, lab: LabDetails) -> None:
    zpl = render_return_labels_zpl(marking, lab, 350, 203)
    assert zpl.count("^GD") == 4 and "^PQ350\n" in zpl
    assert "^FDUN3373^FS" in zpl and "^FDNR4 7UY^FS" in zpl


def test_a_return_label_can_be_part_of_each_kits_set(kits: Kits, marking: ReturnMarking, lab: LabDetails) -> None:
    kinds = (LabelKind.TUBE, LabelKind.ADDRESS, LabelKind.RETURN)
    with pytest.raises(LabelDataError, match="return marking"):
        render_kit_sheets_pdf(kits(1), kinds=kinds)
    zpl = render_kit_labels_zpl(kits(2), 300, kinds=kinds, return_marking=marking, lab=lab,
                                stock=load_stock("avery-l7169"))  # fmt: skip
    assert zpl.count("^XA") == 6 and zpl.count("^FXreturn label^FS") == 2


def test_letter_tells_the_patient_how_to_date_and_post_within_the_window(kits: Kits, lab: LabDetails) -> None:
    [kit] = kits(1)
    settings = LetterSettings(lab=lab, post_within_days=7, letter_date=date(2025, 3, 3))
    body = " ".join(text for _style, text in letter_paragraphs(kit, settings))
    assert "Write today's date in the box on the tube label" in body
    assert "no later than 7 days after taking the sample" in body
    assert lab.phone in body and lab.email in body and kit.specimen_id in body


def test_letters_are_one_per_kit_with_identifiers_and_lab_contact(kits: Kits, lab: LabDetails) -> None:
    batch = kits(3)
    settings = LetterSettings(lab=lab, post_within_days=10, letter_date=date(2025, 3, 3))
    pages = pdf_text(render_instruction_letters_pdf(batch, settings))
    assert len(pages) == 3
    for kit, page in zip(batch, pages, strict=True):
        flat = " ".join(page.split())
        assert kit.specimen_id in flat and kit.postcode in flat
        assert f"{kit.nhs_number[:3]} {kit.nhs_number[3:6]} {kit.nhs_number[6:]}" in flat
        assert "3 March 2025" in flat and "10 days" in flat and lab.phone in flat


def test_letters_are_reproducible_and_use_no_clock(kits: Kits, lab: LabDetails) -> None:
    settings = LetterSettings(lab=lab, post_within_days=7, letter_date=date(2025, 3, 3))
    batch = kits(2)
    assert render_instruction_letters_pdf(batch, settings) == render_instruction_letters_pdf(batch, settings)


@pytest.mark.parametrize("days", [0, -3, 365])
def test_an_implausible_posting_window_is_refused(lab: LabDetails, days: int) -> None:
    with pytest.raises(LabelDataError):
        LetterSettings(lab=lab, post_within_days=days, letter_date=date(2025, 3, 3))
