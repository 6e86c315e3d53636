"""Letters as PDF: identity block and footer from code, body from the lab's template."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from string import Template
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)
from reportlab.platypus.tables import TableStyle

import unicode_fonts
from triage.errors import LetterDataError
from triage.letters.data import Amendment, LetterData, LetterKind
from triage.letters.templates import Block, LetterTemplate, LetterTemplates

# Kept as before the Unicode font came (it draws these too), so a template's text renders as it always did.
_OUTSIDE_LATIN1 = {"≥": ">=", "≤": "<=", "→": "->", "−": "-", "≠": "!="}
_AMENDABLE = (LetterKind.REASSURANCE, LetterKind.POSITIVE, LetterKind.NO_VALID_RESULT)


def format_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def format_nhs_number(nhs_number: str) -> str:
    digits = "".join(ch for ch in nhs_number if ch.isdigit())
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}" if len(digits) == 10 else nhs_number


def render_letter(kind: LetterKind, data: LetterData, templates: LetterTemplates | None = None) -> bytes:
    """Render one letter to PDF bytes.

    For ``LetterKind.AMENDED`` the letter is marked AMENDED, names the letter it replaces and carries the
    body of ``data.amendment.new_kind``. ``LetterDataError`` names any field the letter needs and
    ``data`` lacks.
    Output is byte-for-byte reproducible for the same input.
    """
    chosen = templates if templates is not None else LetterTemplates.load()
    unicode_fonts.register()  # names print as sent (Unicode, embedded), not in the WinAnsi standard fonts
    _check_required(kind, data)
    values = _values(data)
    parts: list[LetterTemplate] = [chosen[kind]]
    if kind is LetterKind.AMENDED:
        assert data.amendment is not None  # checked above
        parts.append(chosen[data.amendment.new_kind])
    for template in parts:
        _check_template_data(template, values)

    title = _fill(parts[-1].title, values)
    if kind is LetterKind.AMENDED:
        title = f"AMENDED: {title}"
    styles = _styles()
    story: list[Flowable] = []
    if data.amendment is not None and kind is LetterKind.AMENDED:
        story += _amended_banner(data.amendment, styles)
    story.append(Paragraph(_pdf_text(title), styles["Title"]))
    story.append(_identity_table(data))
    story.append(Spacer(1, 5 * mm))
    for template in parts:
        for block in template.blocks:
            story.append(_block_flowable(block, values, styles))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph(_pdf_text(_footer_text(data)), styles["Footer"]))

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=_pdf_plain(title),
        author=_pdf_plain(data.lab_name),
        invariant=1,  # no creation timestamp or random ID: the same letter always gives the same bytes
    )
    running_footer = _pdf_plain(
        f"{data.patient_name}  NHS {format_nhs_number(data.nhs_number)}  |  {data.practice_name}  |  "
        f"policy {data.policy_version}"
    )

    def draw_footer(canvas: Canvas, doc: BaseDocTemplate) -> None:
        # Repeated on every page so a separated second page still names its patient.
        canvas.saveState()
        canvas.setFont(unicode_fonts.REGULAR, 7.5)
        canvas.drawString(20 * mm, 10 * mm, f"{running_footer}  |  page {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()


def _check_required(kind: LetterKind, data: LetterData) -> None:
    needs: dict[LetterKind, tuple[str, ...]] = {
        LetterKind.REASSURANCE: ("result",),
        LetterKind.POSITIVE: ("result",),
        LetterKind.NO_VALID_RESULT: ("result",),
        LetterKind.AMENDED: ("result", "amendment"),
        LetterKind.KIT_REJECTED: ("rejection_reason",),
        LetterKind.KIT_REJECTED_CLOSED: ("rejection_reason",),
        LetterKind.RED_FLAG: ("red_flags",),
        LetterKind.NOT_RETURNED: ("kit_dispatched_on",),
    }
    missing = [name for name in needs[kind] if getattr(data, name) is None]
    if missing:
        raise LetterDataError(f"a {kind.value} letter needs {', '.join(missing)}, which the letter data lacks")
    for name in ("patient_name", "nhs_number", "practice_name", "lab_name", "lab_contact", "policy_version"):
        if not str(getattr(data, name)).strip():
            raise LetterDataError(f"every letter must carry {name.replace('_', ' ')}, and it is empty")
    for name in ("patient_name", "practice_name"):
        missing = unicode_fonts.missing_glyphs(str(getattr(data, name)))
        if missing:
            raise LetterDataError(f"the letter font cannot print {', '.join(repr(c) for c in missing)} in "
                                  f"{name.replace('_', ' ')}: it would print as a box")
    if kind is LetterKind.AMENDED and data.amendment is not None and data.amendment.new_kind not in _AMENDABLE:
        raise LetterDataError(
            f"an amended letter replaces a result letter; '{data.amendment.new_kind.value}' is not one"
        )


def _values(data: LetterData) -> dict[str, str | None]:
    def day(value: date | None) -> str | None:
        return None if value is None else format_date(value)

    result = data.result
    amendment = data.amendment
    return {
        "patient_name": data.patient_name,
        "date_of_birth": format_date(data.date_of_birth),
        "nhs_number": format_nhs_number(data.nhs_number),
        "practice_name": data.practice_name,
        "practice_ods": data.practice_ods,
        "requester": data.requester,
        "lab_name": data.lab_name,
        "lab_contact": data.lab_contact,
        "report_date": format_date(data.report_date),
        "policy_version": data.policy_version,
        "letter_reference": data.letter_reference,
        "specimen_id": data.specimen_id,
        "collection_date": day(data.collection_date),
        "result": None if result is None else result.result,
        "band": None if result is None else result.band,
        "priority": None if result is None else result.priority,
        "threshold": None if result is None else result.threshold,
        "explanation": None if result is None else result.explanation,
        "rejection_reason": data.rejection_reason,
        "kit_dispatched_on": day(data.kit_dispatched_on),
        "replaces_letter": None if amendment is None else amendment.replaces_letter,
        "replaces_letter_date": None if amendment is None else format_date(amendment.replaces_letter_date),
        "amendment_reason": None if amendment is None else amendment.reason,
        "red_flags": data.red_flags,
    }


def _check_template_data(template: LetterTemplate, values: dict[str, str | None]) -> None:
    lacking = sorted(name for name in template.placeholders if values.get(name) is None)
    if lacking:
        raise LetterDataError(
            f"letter template {template.source} prints {', '.join('$' + n for n in lacking)}, "
            "which the letter data lacks"
        )


def _fill(text: str, values: dict[str, str | None]) -> str:
    return Template(text).substitute({k: v for k, v in values.items() if v is not None})


def _pdf_plain(text: str) -> str:
    for char, replacement in _OUTSIDE_LATIN1.items():
        text = text.replace(char, replacement)
    return text


def _pdf_text(text: str) -> str:
    """Text for a Paragraph, whose mini-markup would read '<10' as a tag."""
    return escape(_pdf_plain(text))


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("Body", parent=base["BodyText"], fontName=unicode_fonts.REGULAR, fontSize=10.5, leading=14)
    return {
        "Title": ParagraphStyle("LetterTitle", parent=base["Title"], fontName=unicode_fonts.BOLD, fontSize=15,
                                leading=19, alignment=0),
        "Heading": ParagraphStyle("LetterHeading", parent=base["Heading3"], fontName=unicode_fonts.BOLD,
                                  spaceBefore=6, spaceAfter=2),
        "Body": body,
        "Banner": ParagraphStyle(
            "Banner",
            parent=body,
            fontName=unicode_fonts.BOLD,
            fontSize=13,
            leading=17,
            textColor=colors.white,
            backColor=colors.HexColor("#B00020"),
            borderPadding=(6, 6, 6, 6),
            spaceAfter=10,
        ),
        "Footer": ParagraphStyle("Footer", parent=body, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444")),
    }


def _amended_banner(amendment: Amendment, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    text = (
        f"AMENDED REPORT. This letter replaces letter {amendment.replaces_letter} dated "
        f"{format_date(amendment.replaces_letter_date)}, which must no longer be relied on."
    )
    return [Paragraph(_pdf_text(text), styles["Banner"]), Spacer(1, 2 * mm)]


def _identity_table(data: LetterData) -> Table:
    rows = [
        ("Patient", data.patient_name),
        ("Date of birth", format_date(data.date_of_birth)),
        ("NHS number", format_nhs_number(data.nhs_number)),
        ("GP practice", f"{data.practice_name} ({data.practice_ods})"),
        ("Report date", format_date(data.report_date)),
        ("Triage policy", data.policy_version),
    ]
    if data.specimen_id:
        rows.append(("Specimen", data.specimen_id))
    if data.letter_reference:
        rows.append(("Letter reference", data.letter_reference))
    table = Table([[label, value] for label, value in rows], colWidths=[38 * mm, 130 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), unicode_fonts.BOLD),
                ("FONTNAME", (1, 0), (1, -1), unicode_fonts.REGULAR),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _block_flowable(block: Block, values: dict[str, str | None], styles: dict[str, ParagraphStyle]) -> Flowable:
    filled = [_pdf_text(_fill(line, values)) for line in block.lines]
    if block.kind == "heading":
        return Paragraph(filled[0], styles["Heading"])
    if block.kind == "bullets":
        return ListFlowable(
            [ListItem(Paragraph(line, styles["Body"]), leftIndent=12) for line in filled],
            bulletType="bullet",
            start="•",
            leftIndent=12,
        )
    return Paragraph(filled[0], styles["Body"])


def _footer_text(data: LetterData) -> str:
    return (
        f"{data.lab_name}. Contact: {data.lab_contact}. Report date {format_date(data.report_date)}. "
        f"Decided under triage policy {data.policy_version}."
    )
