"""The patient instruction letter that goes in each kit: how to take the sample, date it and post it back.

Written in plain English at 12 pt (a usual minimum for patient information), with the name and address placed
for a DL/C5 window envelope. One letter starts on a fresh page; a letter that overflows continues on the
next page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

import unicode_fonts

from .errors import LabelDataError
from .model import KitLabel, LabDetails
from .pdf import ProgressCallback, new_canvas
from .text import format_date, format_long_date, format_nhs_number

PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210.0, 297.0
MARGIN_MM = 20.0
# Where a DL/C5 window envelope shows the address: 20 mm in from the left, starting about 50 mm down.
WINDOW_X_MM, WINDOW_TOP_MM = 25.0, 50.0
BODY_PT = 12.0
LINE_GAP = 1.2


@dataclass(frozen=True)
class LetterSettings:
    """What the letter needs beyond the kit: the lab, how long the sample keeps, and the date to print.

    ``post_within_days`` is the number of days after taking the sample by which it must be posted (the
    analyser's stability window less the time in the post); ``letter_date`` is handed in because the library
    keeps no clock.
    """

    lab: LabDetails
    post_within_days: int
    letter_date: date

    def __post_init__(self) -> None:
        if not 1 <= self.post_within_days <= 60:
            raise LabelDataError(f"post_within_days {self.post_within_days} is not a plausible number of days")


def letter_paragraphs(kit: KitLabel, settings: LetterSettings) -> list[tuple[str, str]]:
    """The letter body as (style, text) pairs: style is ``heading``, ``para`` or ``step``. Pure, for tests."""
    days = settings.post_within_days
    day_word = "day" if days == 1 else "days"
    lab = settings.lab
    contact = f"phone {lab.phone}"
    if lab.opening_hours:
        contact += f" ({lab.opening_hours})"
    if lab.email:
        contact += f" or email {lab.email}"
    return [
        ("para", f"Dear {kit.patient_name},"),
        (
            "para",
            "Your doctor has asked us to test a small sample of your poo. The test is called a FIT "
            "(faecal immunochemical test). It looks for tiny amounts of blood that you cannot see. "
            "It only takes a few minutes to do at home.",
        ),
        ("heading", "How to take the sample"),
        (
            "step",
            "1. Check the name, date of birth and NHS number on the tube label are yours. If not, call us.",
        ),
        (
            "step",
            "2. Write today's date in the box on the tube label, 'Date sample taken'. We cannot test a "
            "sample without this date.",
        ),
        ("step", "3. Catch some poo before it touches the toilet water, for example on folded toilet paper."),
        (
            "step",
            "4. Twist the cap off the tube. Scrape the end of the stick over the poo until the grooves "
            "at the "
            "end are covered. Do not fill the tube: a little is enough.",
        ),
        ("step", "5. Push the stick back into the tube and click the cap shut. Do not open it again."),
        ("heading", "How to send it back"),
        (
            "step",
            "6. Put the tube in the plastic bag, seal the bag, and put it in the return envelope.",
        ),
        (
            "step",
            f"7. Post it the same day if you can, and no later than {days} {day_word} after taking the "
            "sample. After that the sample is too old to test and we would have to send you a new kit.",
        ),
        (
            "para",
            "If you have any questions, or your kit is damaged or missing a part, contact "
            f"{lab.name}: {contact}. Please give your kit number {kit.specimen_id}.",
        ),
        (
            "para",
            "If your symptoms get worse while you wait, or you see a lot of blood, contact your GP "
            "or call NHS 111 straight away. Do not wait for this test.",
        ),
    ]


def render_instruction_letters_pdf(
    kits: Sequence[KitLabel], settings: LetterSettings, *, on_progress: ProgressCallback | None = None
) -> bytes:
    """One instruction letter per kit, in the order given, as a single PDF (byte-for-byte reproducible)."""
    if not kits:
        raise LabelDataError("the batch has no kits to write letters for")
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, PAGE_WIDTH_MM, PAGE_HEIGHT_MM, "FIT kit instructions")
    for index, kit in enumerate(kits):
        _draw_letter(canvas, kit, settings)
        canvas.showPage()
        if on_progress is not None:
            on_progress(index + 1, len(kits))
    canvas.save()
    return buffer.getvalue()


def _draw_letter(canvas: Canvas, kit: KitLabel, settings: LetterSettings) -> None:
    lab = settings.lab
    top = PAGE_HEIGHT_MM * mm

    def y(from_top_mm: float) -> float:
        return float(top - from_top_mm * mm)

    # Lab's details, top right, where a patient looks for who wrote to them.
    right = (PAGE_WIDTH_MM - MARGIN_MM) * mm
    canvas.setFont(unicode_fonts.BOLD, 12)
    canvas.drawRightString(right, y(MARGIN_MM), lab.name)
    canvas.setFont(unicode_fonts.REGULAR, 10)
    header = [*lab.address_lines, lab.postcode, f"Phone: {lab.phone}"]
    if lab.email:
        header.append(f"Email: {lab.email}")
    for offset, line in enumerate(header, start=1):
        canvas.drawRightString(right, y(MARGIN_MM + offset * 4.5), line)

    canvas.setFont(unicode_fonts.REGULAR, BODY_PT)
    for offset, line in enumerate([kit.patient_name, *kit.address_lines, kit.postcode]):
        canvas.drawString(WINDOW_X_MM * mm, y(WINDOW_TOP_MM + offset * 5.2), line)

    reference_top = WINDOW_TOP_MM + 40.0
    canvas.setFont(unicode_fonts.REGULAR, 11)
    for offset, line in enumerate(
        (
            f"Date: {format_long_date(settings.letter_date)}",
            f"NHS number: {format_nhs_number(kit.nhs_number)}    Date of birth: {format_date(kit.date_of_birth)}",
            f"Kit number: {kit.specimen_id}",
        )
    ):
        canvas.drawString(MARGIN_MM * mm, y(reference_top + offset * 5.5), line)

    cursor = reference_top + 3 * 5.5 + 4.0
    width_pt = (PAGE_WIDTH_MM - 2 * MARGIN_MM) * mm
    line_mm = BODY_PT * LINE_GAP * 25.4 / 72
    for style, text in letter_paragraphs(kit, settings):
        font = unicode_fonts.BOLD if style == "heading" else unicode_fonts.REGULAR
        indent = 5.0 if style == "step" else 0.0
        lines = simpleSplit(text, font, BODY_PT, width_pt - indent * mm)
        if cursor + line_mm * len(lines) > PAGE_HEIGHT_MM - MARGIN_MM:
            canvas.showPage()
            cursor = MARGIN_MM
        canvas.setFont(font, BODY_PT)
        for line in lines:
            canvas.drawString((MARGIN_MM + indent) * mm, y(cursor + line_mm * 0.8), line)
            cursor += line_mm
        cursor += 2.0 if style == "step" else 3.5
