"""PDF rendering: label sheets for laser printers, drawn as vectors (bars are filled rectangles, not images).

Output is byte-for-byte reproducible (reportlab's invariant mode leaves out the creation time and random file
ID), so reprinting a batch gives the same file and the library never reads the clock.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getAscent
from reportlab.pdfgen.canvas import Canvas

import unicode_fonts

from . import code128
from .errors import LabelDataError
from .layout import (
    FONT_FACES,
    BarcodeField,
    BoxField,
    DiamondField,
    LabelKind,
    LabelLayout,
    TextField,
    address_label,
    return_label,
    tube_label,
)
from .model import KitLabel, LabDetails, ReturnMarking
from .sheet import DEFAULT_KIT_KINDS, plan_kit_sheets
from .stock import DEFAULT_KIT_STOCK, DEFAULT_RETURN_STOCK, LabelStock, load_stock

ProgressCallback = Callable[[int, int], None]
"""Called as ``(pages_done, pages_total)`` after each page, e.g. to drive a progress bar."""


def new_canvas(buffer: io.BytesIO, page_width_mm: float, page_height_mm: float, title: str) -> Canvas:
    unicode_fonts.register()
    canvas = Canvas(buffer, pagesize=(page_width_mm * mm, page_height_mm * mm), invariant=True, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("fit-lab labels")
    return canvas


def draw_layout(canvas: Canvas, layout: LabelLayout, x_mm: float, y_mm: float, page_height_mm: float) -> None:
    """Draw ``layout`` with its top-left corner at (``x_mm``, ``y_mm``) from the page's top-left."""

    def px(local_x_mm: float) -> float:
        return float((x_mm + local_x_mm) * mm)

    def py(local_y_mm: float) -> float:
        return float((page_height_mm - y_mm - local_y_mm) * mm)

    for field in layout.fields:
        if isinstance(field, BarcodeField):
            path = canvas.beginPath()
            for start, width in code128.bar_runs(field.data):
                path.rect(
                    px(field.x_mm + start * field.module_mm),
                    py(field.y_mm + field.height_mm),
                    width * field.module_mm * mm,
                    field.height_mm * mm,
                )
            canvas.drawPath(path, stroke=0, fill=1)
        elif isinstance(field, TextField):
            face = FONT_FACES[field.font]
            canvas.setFont(face, field.size_pt)
            baseline = py(field.y_mm) - float(getAscent(face, field.size_pt))
            if field.align == "center":
                canvas.drawCentredString(px(field.x_mm + field.width_mm / 2), baseline, field.text)
            elif field.align == "right":
                canvas.drawRightString(px(field.x_mm + field.width_mm), baseline, field.text)
            else:
                canvas.drawString(px(field.x_mm), baseline, field.text)
        elif isinstance(field, BoxField):
            canvas.setLineWidth(field.line_mm * mm)
            # Stroke inside the box outline so the drawn box never spills past the label edge.
            inset = field.line_mm / 2
            canvas.rect(
                px(field.x_mm + inset),
                py(field.y_mm + field.height_mm - inset),
                (field.width_mm - field.line_mm) * mm,
                (field.height_mm - field.line_mm) * mm,
                stroke=1,
                fill=0,
            )
        elif isinstance(field, DiamondField):
            canvas.setLineWidth(field.line_mm * mm)
            # ``side_mm`` is the outer edge; the stroke is centred on the path, so the path runs half a line in.
            half = (field.side_mm - field.line_mm) / 2**0.5
            path = canvas.beginPath()
            path.moveTo(px(field.cx_mm), py(field.cy_mm - half))
            path.lineTo(px(field.cx_mm + half), py(field.cy_mm))
            path.lineTo(px(field.cx_mm), py(field.cy_mm + half))
            path.lineTo(px(field.cx_mm - half), py(field.cy_mm))
            path.close()
            canvas.drawPath(path, stroke=1, fill=0)


def render_kit_sheets_pdf(
    kits: Sequence[KitLabel],
    *,
    stock: LabelStock | None = None,
    kinds: Sequence[LabelKind] = DEFAULT_KIT_KINDS,
    return_marking: ReturnMarking | None = None,
    lab: LabDetails | None = None,
    title: str = "FIT kit labels",
    on_progress: ProgressCallback | None = None,
) -> bytes:
    """A PDF of label sheets for ``kits``, in order; see ``plan_kit_sheets`` for where each label lands.

    ``kinds`` chooses the labels per kit (default: tube and outbound address). Including ``LabelKind.RETURN``
    needs ``return_marking`` and ``lab`` and a stock large enough for the legal UN3373 diamond.
    """
    stock = stock or load_stock(DEFAULT_KIT_STOCK)
    if not kits:
        raise LabelDataError("the batch has no kits to print")
    if LabelKind.RETURN in kinds and (return_marking is None or lab is None):
        raise LabelDataError("a return-envelope label needs the return marking and the lab's details")
    by_id = {kit.specimen_id: kit for kit in kits}
    placed = plan_kit_sheets([kit.specimen_id for kit in kits], stock, kinds)
    shared_return: LabelLayout | None = None
    if return_marking is not None and lab is not None and LabelKind.RETURN in kinds:
        shared_return = return_label(return_marking, lab, stock.label_width_mm, stock.label_height_mm)
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, stock.page_width_mm, stock.page_height_mm, title)
    pages_total = placed[-1].page + 1
    page = 0
    for label in placed:
        if label.page != page:
            canvas.showPage()
            page = label.page
            if on_progress is not None:
                on_progress(page, pages_total)
        kit = by_id[label.specimen_id]
        if label.kind is LabelKind.TUBE:
            layout = tube_label(kit, label.width_mm, label.height_mm)
        elif label.kind is LabelKind.ADDRESS:
            layout = address_label(kit, label.width_mm, label.height_mm)
        else:
            assert shared_return is not None
            layout = shared_return
        draw_layout(canvas, layout, label.x_mm, label.y_mm, stock.page_height_mm)
    canvas.showPage()
    canvas.save()
    if on_progress is not None:
        on_progress(pages_total, pages_total)
    return buffer.getvalue()


def render_return_labels_pdf(
    marking: ReturnMarking, lab: LabDetails, count: int, *, stock: LabelStock | None = None
) -> bytes:
    """``count`` identical return-envelope labels (UN3373 marking, lab address), filling sheets in order."""
    stock = stock or load_stock(DEFAULT_RETURN_STOCK)
    if count < 1:
        raise LabelDataError("ask for at least one return-envelope label")
    layout = return_label(marking, lab, stock.label_width_mm, stock.label_height_mm)
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, stock.page_width_mm, stock.page_height_mm, "Return-envelope labels")
    for index in range(count):
        page, slot = divmod(index, stock.labels_per_sheet)
        if slot == 0 and page > 0:
            canvas.showPage()
        x_mm, y_mm = stock.slot_origin_mm(slot)
        draw_layout(canvas, layout, x_mm, y_mm, stock.page_height_mm)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
