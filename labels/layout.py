"""Where everything goes on each kind of label, as plain data in millimetres from the label's top-left corner.

Both renderers (PDF and ZPL) draw from the same layout, so the laser sheet and the thermal label carry the
same fields in the same places. Text is measured with the standard PDF font metrics; ZPL's scalable font is
narrower, so text that fits the PDF also fits the thermal label.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth

import unicode_fonts

from . import code128
from .errors import LayoutError
from .model import KitLabel, LabDetails, ReturnMarking
from .text import format_date, format_nhs_number

PT_MM = 25.4 / 72
# Names print as sent: the Unicode font shipped in ``unicode_fonts``; specimen IDs are ASCII (Courier).
# The UN3373 marking is fixed configured text (folded to WinAnsi) in the narrower Helvetica-Bold, so it fits the
# diamond at the legal letter height.
FONT_FACES = {"regular": unicode_fonts.REGULAR, "bold": unicode_fonts.BOLD, "mono": "Courier-Bold",
              "marking": "Helvetica-Bold"}
FontName = Literal["regular", "bold", "mono", "marking"]
Align = Literal["left", "center", "right"]

# Hand-writing a date needs room: 8 mm is about the smallest box people write legibly in with a biro.
DATE_BOX_MIN_HEIGHT_MM = 8.0
# ADR/IATA packing instruction P650: the UN3373 mark is a square set at 45 degrees, sides at least 50 mm,
# line at least 2 mm, letters and numbers at least 6 mm high; the shipping name goes next to it, as high.
UN_DIAMOND_SIDE_MM = 50.0
UN_DIAMOND_LINE_MM = 2.0
UN_TEXT_CAP_HEIGHT_MM = 6.0
_CAP_HEIGHT_EM = 0.718  # Helvetica-Bold cap height, from its font metrics (the UN marking's face)
_LABEL_PADDING_MM = 1.5
_MIN_TEXT_PT = 6.5  # below this, names are no longer safely readable by patients and lab staff


class LabelKind(StrEnum):
    """The labels a kit set can contain."""

    TUBE = "tube"
    ADDRESS = "address"
    RETURN = "return"


@dataclass(frozen=True)
class TextField:
    """One line of text; ``y_mm`` is the top of the em box; ``width_mm`` bounds centred/right-aligned text."""

    x_mm: float
    y_mm: float
    size_pt: float
    text: str
    font: FontName = "regular"
    align: Align = "left"
    width_mm: float = 0.0


@dataclass(frozen=True)
class BarcodeField:
    """A Code128 symbol; ``x_mm`` is the left edge of the first bar (the quiet zone lies outside it)."""

    x_mm: float
    y_mm: float
    data: str
    module_mm: float
    height_mm: float

    @property
    def width_mm(self) -> float:
        return code128.symbol_width_modules(self.data) * self.module_mm


@dataclass(frozen=True)
class BoxField:
    """An outlined rectangle (e.g. the box the patient writes the sample date in)."""

    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    line_mm: float


@dataclass(frozen=True)
class DiamondField:
    """A square set on its point, centred at (``cx_mm``, ``cy_mm``); ``side_mm`` is the outer side length."""

    cx_mm: float
    cy_mm: float
    side_mm: float
    line_mm: float


Field = TextField | BarcodeField | BoxField | DiamondField


@dataclass(frozen=True)
class LabelLayout:
    """Everything printed on one label; ``specimen_id`` is set on labels that belong to one kit."""

    kind: LabelKind
    width_mm: float
    height_mm: float
    fields: tuple[Field, ...]
    specimen_id: str | None = None


def text_width_mm(text: str, font: FontName, size_pt: float) -> float:
    unicode_fonts.register()
    return float(stringWidth(text, FONT_FACES[font], size_pt)) * PT_MM


def fit_line(text: str, font: FontName, size_pt: float, max_width_mm: float) -> tuple[str, float]:
    """Shrink ``text`` towards the minimum size until it fits; past that, cut it and end it with ``...``.

    A cut name is still safe: the tube also carries the NHS number, date of birth and specimen ID.
    """
    size = size_pt
    while size > _MIN_TEXT_PT and text_width_mm(text, font, size) > max_width_mm:
        size = round(size - 0.5, 1)
    if text_width_mm(text, font, size) <= max_width_mm:
        return text, size
    cut = text
    while cut and text_width_mm(cut + "...", font, size) > max_width_mm:
        cut = cut[:-1]
    return cut.rstrip() + "...", size


def tube_label(kit: KitLabel, width_mm: float, height_mm: float) -> LabelLayout:
    """Sample-tube label: barcode and readable ID left, patient identifiers right, date-taken box below."""
    pad = _LABEL_PADDING_MM
    module = code128.MODULE_MM
    quiet = code128.quiet_zone_mm(module)
    bars_x = pad + quiet
    bars_top = pad + 1.0
    barcode = BarcodeField(bars_x, bars_top, kit.specimen_id, module, code128.BAR_HEIGHT_MM)
    column_x = bars_x + barcode.width_mm + quiet + 0.5
    column_width = width_mm - column_x - pad
    id_top = bars_top + code128.BAR_HEIGHT_MM + 0.8
    id_size = 11.0
    date_top = id_top + id_size * PT_MM + 1.0
    date_box_height = height_mm - pad - date_top
    if column_width < 30.0 or date_box_height < DATE_BOX_MIN_HEIGHT_MM:
        raise LayoutError(
            f"a tube label needs at least {column_x + 30 + pad:.0f} x {date_top + 8 + pad:.0f} mm; "
            f"the stock's label is {width_mm} x {height_mm} mm"
        )
    name, name_size = fit_line(kit.patient_name, "bold", 10.0, column_width)
    date_caption = "Date sample taken:"
    caption_width = text_width_mm(date_caption, "bold", 8.0) + 2.0
    box_x = pad + caption_width
    fields: tuple[Field, ...] = (
        barcode,
        TextField(bars_x, id_top, id_size, kit.specimen_id, "mono"),
        TextField(column_x, bars_top, name_size, name, "bold"),
        TextField(column_x, bars_top + 5.0, 9.0, f"DOB: {format_date(kit.date_of_birth)}"),
        TextField(column_x, bars_top + 9.0, 9.0, f"NHS No: {format_nhs_number(kit.nhs_number)}"),
        TextField(pad, date_top + 1.0, 8.0, date_caption, "bold"),
        BoxField(box_x, date_top, width_mm - pad - box_x, date_box_height, 0.3),
        TextField(box_x + 1.5, date_top + date_box_height - 3.0, 6.5, "DD / MM / YYYY"),
    )
    return LabelLayout(LabelKind.TUBE, width_mm, height_mm, fields, kit.specimen_id)


def address_label(kit: KitLabel, width_mm: float, height_mm: float) -> LabelLayout:
    """Outbound address label; the kit's specimen ID, small in a corner, lets packers match it to the tube."""
    pad = 4.0
    reference = kit.specimen_id
    reference_width = text_width_mm(reference, "regular", 6.5)
    lines: list[tuple[str, FontName]] = [(kit.patient_name, "bold")]
    lines += [(line, "regular") for line in kit.address_lines]
    lines.append((kit.postcode, "bold"))
    for size in (11.0, 10.0, 9.0, 8.0, 7.0):
        line_height = size * PT_MM * 1.2
        if len(lines) * line_height <= height_mm - 2 * pad + 1.0:
            break
    else:
        raise LayoutError(f"{len(lines)} address lines do not fit a {height_mm} mm high label")
    fields: list[Field] = [
        TextField(width_mm - pad - reference_width, 2.0, 6.5, reference, "regular", "left"),
    ]
    top = pad
    for index, (line, font) in enumerate(lines):
        room = width_mm - 2 * pad - (reference_width + 2.0 if index == 0 else 0.0)
        fitted, fitted_size = fit_line(line, font, size, room)
        fields.append(TextField(pad, top, fitted_size, fitted, font))
        top += line_height
    return LabelLayout(LabelKind.ADDRESS, width_mm, height_mm, tuple(fields), kit.specimen_id)


def return_label(marking: ReturnMarking, lab: LabDetails, width_mm: float, height_mm: float) -> LabelLayout:
    """Return-envelope label: UN diamond at full legal size, shipping name beside it, the lab's address."""
    pad = 3.0
    diagonal = UN_DIAMOND_SIDE_MM * 2**0.5
    text_pt = UN_TEXT_CAP_HEIGHT_MM / _CAP_HEIGHT_EM / PT_MM
    text_pt = float(int(text_pt) + 1)  # round up so the printed cap height is never under the minimum
    if width_mm < diagonal + 2 * pad:
        raise LayoutError(f"a {width_mm} mm wide label cannot hold the {UN_DIAMOND_SIDE_MM:.0f} mm UN diamond")
    fields: list[Field] = [DiamondField(width_mm / 2, pad + diagonal / 2, UN_DIAMOND_SIDE_MM, UN_DIAMOND_LINE_MM)]
    inner_width = diagonal / 2
    number_pt = text_pt
    if text_width_mm(marking.un_number, "marking", number_pt) > inner_width:
        raise LayoutError(f"{marking.un_number!r} does not fit inside the UN diamond at the legal letter height")
    fields.append(
        TextField(
            width_mm / 2 - inner_width / 2,
            pad + diagonal / 2 - number_pt * PT_MM * 0.5,
            number_pt,
            marking.un_number,
            "marking",
            "center",
            inner_width,
        )
    )
    top = pad + diagonal + 2.0
    unicode_fonts.register()
    line_height = text_pt * PT_MM * 1.05
    for line in simpleSplit(marking.shipping_name, FONT_FACES["marking"], text_pt, (width_mm - 2 * pad) / PT_MM):
        if text_width_mm(line, "marking", text_pt) > width_mm - 2 * pad:
            raise LayoutError(f"the word {line!r} of the shipping name is wider than the label")
        fields.append(TextField(pad, top, text_pt, line, "marking"))
        top += line_height
    top += 2.0
    address: list[tuple[str, FontName]] = [("Return to:", "regular"), (lab.name, "bold")]
    address += [(line, "regular") for line in lab.address_lines]
    address.append((lab.postcode, "bold"))
    size = 10.0
    for line, font in address:
        fitted, fitted_size = fit_line(line, font, size, width_mm - 2 * pad)
        fields.append(TextField(pad, top, fitted_size, fitted, font))
        top += size * PT_MM * 1.2
    if top > height_mm - pad + 1.0:
        raise LayoutError(
            f"the UN3373 marking and return address need {top + pad:.0f} mm; the label is {height_mm} mm high"
        )
    return LabelLayout(LabelKind.RETURN, width_mm, height_mm, tuple(fields))
