"""ZPL II for Zebra-compatible thermal printers at 203 or 300 dpi, drawn from the same layouts as the PDF.

Each label is one ``^XA ... ^XZ`` format. Text is UTF-8 (``^CI28``) with ``^FH`` hex escapes for the
characters ZPL reserves. Barcodes use ``^BC`` in mode N with explicit subset invocations, so the printer
draws exactly the Code128 symbols python-barcode chose for the PDF; the module is
``code128.thermal_module_dots(dpi)`` dots wide.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import code128
from .errors import LabelDataError, LayoutError
from .layout import (
    PT_MM,
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
from .sheet import DEFAULT_KIT_KINDS
from .stock import DEFAULT_KIT_STOCK, DEFAULT_RETURN_STOCK, LabelStock, load_stock
from .text import printable

SUPPORTED_DPI = (203, 300)
_ALIGN = {"left": "L", "center": "C", "right": "R"}
_HEX_ESCAPES = {"\\": "\\5C", "^": "\\5E", "~": "\\7E"}


def dots(value_mm: float, dpi: int) -> int:
    """Millimetres to whole printer dots."""
    return round(value_mm * dpi / 25.4)


def _escape(text: str) -> str:
    return "".join(_HEX_ESCAPES.get(char, char) for char in text)


def layout_zpl(layout: LabelLayout, dpi: int) -> str:
    """One label as a complete ZPL format (``^XA`` to ``^XZ``)."""
    if dpi not in SUPPORTED_DPI:
        raise LayoutError(f"thermal printers at {dpi} dpi are not supported; use one of {SUPPORTED_DPI}")
    out = [
        "^XA",
        "^CI28",
        f"^PW{dots(layout.width_mm, dpi)}",
        f"^LL{dots(layout.height_mm, dpi)}",
        "^LH0,0",
    ]
    if layout.specimen_id is not None:
        out.append(f"^FX{layout.kind.value} label, kit {layout.specimen_id}^FS")
    else:
        out.append(f"^FX{layout.kind.value} label^FS")
    for field in layout.fields:
        if isinstance(field, BarcodeField):
            module = code128.thermal_module_dots(dpi)
            height = dots(field.height_mm, dpi)
            out.append(f"^BY{module},3,{height}")
            out.append(
                f"^FO{dots(field.x_mm, dpi)},{dots(field.y_mm, dpi)}^BCN,{height},N,N,N,N"
                f"^FD{code128.subset_c_invocation(field.data)}^FS"
            )
        elif isinstance(field, TextField):
            height = max(10, dots(field.size_pt * PT_MM, dpi))
            block = ""
            if field.align != "left":
                block = f"^FB{dots(field.width_mm, dpi)},1,0,{_ALIGN[field.align]}"
            out.append(
                f"^FO{dots(field.x_mm, dpi)},{dots(field.y_mm, dpi)}^A0N,{height},{height}{block}"
                f"^FH\\^FD{_escape(printable(field.text, 'label text'))}^FS"
            )
        elif isinstance(field, BoxField):
            out.append(
                f"^FO{dots(field.x_mm, dpi)},{dots(field.y_mm, dpi)}"
                f"^GB{dots(field.width_mm, dpi)},{dots(field.height_mm, dpi)},"
                f"{max(1, dots(field.line_mm, dpi))}^FS"
            )
        elif isinstance(field, DiamondField):
            out.extend(_diamond(field, dpi))
    out.append("^PQ1")
    out.append("^XZ")
    return "\n".join(out) + "\n"


def _diamond(field: DiamondField, dpi: int) -> list[str]:
    # ZPL has no polygon; four ^GD diagonals, each filling one quarter of the diamond's bounding square.
    half = dots(field.side_mm / 2**0.5, dpi)
    thick = max(1, dots(field.line_mm, dpi))
    left, top = dots(field.cx_mm, dpi) - half, dots(field.cy_mm, dpi) - half
    quarters = (
        (left, top, "R"),
        (left + half, top, "L"),
        (left, top + half, "L"),
        (left + half, top + half, "R"),
    )
    return [f"^FO{x},{y}^GD{half},{half},{thick},B,{lean}^FS" for x, y, lean in quarters]


def render_kit_labels_zpl(
    kits: Sequence[KitLabel],
    dpi: int,
    *,
    stock: LabelStock | None = None,
    kinds: Sequence[LabelKind] = DEFAULT_KIT_KINDS,
    return_marking: ReturnMarking | None = None,
    lab: LabDetails | None = None,
) -> str:
    """ZPL for every kit's labels, kit by kit in order (``kinds`` per kit), sized like the stock's labels.

    Send the text to the printer encoded as UTF-8. Same fields and positions as ``render_kit_sheets_pdf``.
    """
    stock = stock or load_stock(DEFAULT_KIT_STOCK)
    if not kits:
        raise LabelDataError("the batch has no kits to print")
    if len({kit.specimen_id for kit in kits}) != len(kits):
        raise LabelDataError("the batch lists a specimen ID twice; every kit must have its own ID")
    width, height = stock.label_width_mm, stock.label_height_mm
    shared_return: str | None = None
    if LabelKind.RETURN in kinds:
        if return_marking is None or lab is None:
            raise LabelDataError("a return-envelope label needs the return marking and the lab's details")
        shared_return = layout_zpl(return_label(return_marking, lab, width, height), dpi)
    out: list[str] = []
    for kit in kits:
        for kind in kinds:
            if kind is LabelKind.TUBE:
                out.append(layout_zpl(tube_label(kit, width, height), dpi))
            elif kind is LabelKind.ADDRESS:
                out.append(layout_zpl(address_label(kit, width, height), dpi))
            else:
                assert shared_return is not None
                out.append(shared_return)
    return "".join(out)


def render_return_labels_zpl(
    marking: ReturnMarking, lab: LabDetails, count: int, dpi: int, *, stock: LabelStock | None = None
) -> str:
    """``count`` return-envelope labels as ZPL (one format, printed ``count`` times), sized like the stock."""
    stock = stock or load_stock(DEFAULT_RETURN_STOCK)
    if count < 1:
        raise LabelDataError("ask for at least one return-envelope label")
    one = layout_zpl(return_label(marking, lab, stock.label_width_mm, stock.label_height_mm), dpi)
    return one.replace("^PQ1\n", f"^PQ{count}\n")
