"""Done-when 2: the ZPL is parsed back (positions, ^BC, data) and matches the PDF rendering of the same kits."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pytest

from labels import (
    BAR_HEIGHT_MM,
    QUIET_ZONE_MM,
    KitLabel,
    LabelKind,
    LayoutError,
    load_stock,
    plan_kit_sheets,
    render_kit_labels_zpl,
    render_kit_sheets_pdf,
)
from labels.code128 import symbol_values
from labels.text import printable

Kits = Callable[..., list[KitLabel]]

# ---- a small ZPL reader: just the commands our labels may use, strict about anything else ----------------------

_START = {">9": "A", ">:": "B", ">;": "C"}
_SWITCH = {">7": "A", ">6": "B", ">5": "C"}
_SWITCH_VALUE = {"A": {"C": 99, "B": 100}, "B": {"C": 99, "A": 101}, "C": {"B": 100, "A": 101}}
_START_VALUE = {"A": 103, "B": 104, "C": 105}


@dataclass
class ZplText:
    x: int
    y: int
    height: int
    text: str
    block: tuple[int, str] | None


@dataclass
class ZplBarcode:
    x: int
    y: int
    module: int
    height: int
    text: str
    symbols: list[int]


@dataclass
class ZplLabel:
    width: int = 0
    length: int = 0
    comment: str = ""
    texts: list[ZplText] = field(default_factory=list)
    barcodes: list[ZplBarcode] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    diagonals: list[tuple[int, int, int, int, int, str]] = field(default_factory=list)
    quantity: int = 1


def decode_invocations(data: str) -> tuple[str, list[int]]:
    """^BC mode-N data with explicit subset invocations -> (human text, Code128 symbol values)."""
    subset = _START[data[:2]]
    symbols = [_START_VALUE[subset]]
    text, i = "", 2
    while i < len(data):
        if data[i] == ">":
            target = _SWITCH[data[i : i + 2]]
            symbols.append(_SWITCH_VALUE[subset][target])
            subset, i = target, i + 2
        elif subset == "C":
            pair = data[i : i + 2]
            assert pair.isdigit() and len(pair) == 2, data
            symbols.append(int(pair))
            text, i = text + pair, i + 2
        else:
            symbols.append(ord(data[i]) - 32)
            text, i = text + data[i], i + 1
    # python-barcode folds a leading "start C, code B" into "start B"; normalise the same way to compare.
    return text, symbols


def unescape_fh(data: str) -> str:
    return re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)), data)


def parse_zpl(zpl: str) -> list[ZplLabel]:
    labels: list[ZplLabel] = []
    formats = re.findall(r"\^XA(.*?)\^XZ", zpl, flags=re.S)
    assert "".join(f"^XA{f}^XZ" for f in formats).replace("\n", "") == zpl.replace("\n", "")
    for body in formats:
        label = ZplLabel()
        origin = (0, 0)
        font_height = 0
        block: tuple[int, str] | None = None
        hex_escapes = False
        by: tuple[int, int] = (0, 0)
        pending_barcode: int | None = None
        for command in filter(None, (c.strip() for c in body.split("^"))):
            name, args = command[:2], command[2:]
            if name in ("CI", "LH"):
                assert args in ("28", "0,0"), command
            elif name == "PW":
                label.width = int(args)
            elif name == "LL":
                label.length = int(args)
            elif name == "FX":
                label.comment = args
            elif name == "FO":
                x, y = (int(v) for v in args.split(","))
                origin = (x, y)
            elif name == "A0":
                assert args.startswith("N,"), command
                font_height = int(args.split(",")[1])
            elif name == "FB":
                width, _lines, _gap, justify = args.split(",")
                block = (int(width), justify)
            elif name == "FH":
                assert args == "\\", command
                hex_escapes = True
            elif name == "BY":
                module, _ratio, height = (int(v) for v in args.split(","))
                by = (module, height)
            elif name == "BC":
                orientation, height, interpretation, above, check, mode = args.split(",")
                assert (orientation, interpretation, above, check, mode) == ("N", "N", "N", "N", "N")
                pending_barcode = int(height)
            elif name == "FD":
                if pending_barcode is not None:
                    text, symbols = decode_invocations(args)
                    label.barcodes.append(ZplBarcode(*origin, by[0], pending_barcode, text, symbols))
                else:
                    value = unescape_fh(args) if hex_escapes else args
                    label.texts.append(ZplText(*origin, font_height, value, block))
            elif name == "FS":
                pending_barcode, block, hex_escapes = None, None, False
            elif name == "GB":
                w, h, t = (int(v) for v in args.split(","))
                label.boxes.append((*origin, w, h, t))
            elif name == "GD":
                w, h, t, _colour, lean = args.split(",")
                label.diagonals.append((*origin, int(w), int(h), int(t), lean))
            elif name == "PQ":
                label.quantity = int(args)
            else:
                raise AssertionError(f"unexpected ZPL command {command!r}")
        labels.append(label)
    return labels


def mm(dots: int, dpi: int) -> float:
    return dots * 25.4 / dpi


# ---- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dpi", "module_dots"), [(203, 2), (300, 3)])
def test_each_kit_gives_a_tube_and_an_address_label_with_one_code128_of_its_id(
    kits: Kits, dpi: int, module_dots: int
) -> None:
    batch = kits(5)
    parsed = parse_zpl(render_kit_labels_zpl(batch, dpi))
    assert len(parsed) == 2 * len(batch)
    for kit, tube, address in zip(batch, parsed[0::2], parsed[1::2], strict=True):
        assert tube.comment == f"tube label, kit {kit.specimen_id}"
        assert address.comment == f"address label, kit {kit.specimen_id}"
        assert address.barcodes == []
        [barcode] = tube.barcodes
        assert barcode.text == kit.specimen_id
        assert barcode.symbols == symbol_values(kit.specimen_id)  # same symbols as the PDF draws
        assert barcode.module == module_dots and mm(module_dots, dpi) >= 0.25 - 0.001
        assert mm(barcode.height, dpi) >= BAR_HEIGHT_MM - 0.2
        assert mm(tube.width, dpi) == pytest.approx(99.1, abs=0.2)
        assert mm(tube.length, dpi) == pytest.approx(38.1, abs=0.2)


@pytest.mark.parametrize("dpi", [203, 300])
def test_quiet_zones_around_the_thermal_barcode_are_clear(kits: Kits, dpi: int) -> None:
    [tube, _address] = parse_zpl(render_kit_labels_zpl(kits(1), dpi))
    [barcode] = tube.barcodes
    quiet = round(QUIET_ZONE_MM * dpi / 25.4)
    symbol_right = barcode.x + 112 * barcode.module
    assert barcode.x >= quiet  # left quiet zone lies on the label
    for text in tube.texts:
        beside = barcode.y <= text.y < barcode.y + barcode.height
        if beside:
            assert text.x >= symbol_right + quiet, text


@pytest.mark.parametrize("dpi", [203, 300])
def test_tube_and_address_labels_carry_the_patient_fields(kits: Kits, dpi: int) -> None:
    [kit] = kits(1, 4)
    tube, address = parse_zpl(render_kit_labels_zpl([kit], dpi))
    nhs = f"{kit.nhs_number[:3]} {kit.nhs_number[3:6]} {kit.nhs_number[6:]}"
    tube_texts = [t.text for t in tube.texts]
    assert kit.specimen_id in tube_texts
    assert printable(kit.patient_name, "name") in tube_texts  # folded for the printer's font: ZPL only
    assert f"NHS No: {nhs}" in tube_texts
    assert any(t.startswith("DOB: ") for t in tube_texts)
    assert "Date sample taken:" in tube_texts
    assert len(tube.boxes) == 1  # the box the patient writes the date in
    assert [t.text for t in address.texts] == [
        kit.specimen_id,
        *(printable(text, "text") for text in (kit.patient_name, *kit.address_lines, kit.postcode)),
    ]


@pytest.mark.parametrize("dpi", [203, 300])
def test_zpl_and_pdf_carry_the_same_fields_in_the_same_places(
    kits: Kits, decode_pdf: Callable[..., Any], dpi: int
) -> None:
    batch = kits(7, 20)
    zpl_labels = parse_zpl(render_kit_labels_zpl(batch, dpi))
    pdf = render_kit_sheets_pdf(batch)
    stock = load_stock("avery-l7163")
    plan = plan_kit_sheets([k.specimen_id for k in batch], stock)
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    textpage = page.get_textpage()
    page_height_pt = page.get_height()
    assert len(plan) == len(zpl_labels)
    # The PDF prints names exactly (Unicode font); only ZPL folds them to what a thermal printer's font holds.
    as_sent = {printable(s, "text"): s for k in batch for s in (k.patient_name, *k.address_lines, k.postcode)}
    for placed, zpl_label in zip(plan, zpl_labels, strict=True):
        left_pt = placed.x_mm / 25.4 * 72
        top_pt = page_height_pt - placed.y_mm / 25.4 * 72
        right_pt = left_pt + placed.width_mm / 25.4 * 72
        bottom_pt = top_pt - placed.height_mm / 25.4 * 72
        pdf_lines = textpage.get_text_bounded(left_pt, bottom_pt, right_pt, top_pt).split()
        zpl_words = " ".join(t.text for t in zpl_label.texts).split()
        # Same words in the same reading order (the PDF text runs line by line, like the ZPL fields).
        assert sorted(printable(w, "word") for w in pdf_lines) == sorted(zpl_words), placed
        for text in zpl_label.texts:
            x_mm, y_mm = _find_in_pdf(textpage, as_sent.get(text.text, text.text), page_height_pt, placed)
            assert x_mm == pytest.approx(mm(text.x, dpi), abs=0.6), text
            # ZPL places the top of the character cell; the PDF glyph box starts at the cap height.
            assert y_mm == pytest.approx(mm(text.y, dpi), abs=1.2), text
    document.close()
    [found] = decode_pdf(pdf, 300)
    for placed, zpl_label in zip(plan, zpl_labels, strict=True):
        if placed.kind is LabelKind.TUBE:
            [barcode] = zpl_label.barcodes
            [match] = [f for f in found if f.text == barcode.text]
            assert match.left_x_mm - placed.x_mm == pytest.approx(mm(barcode.x, dpi), abs=0.5)
            assert match.centre_y_mm - placed.y_mm == pytest.approx(mm(barcode.y + barcode.height // 2, dpi), abs=1.0)


def _find_in_pdf(textpage: Any, text: str, page_height_pt: float, placed: Any) -> tuple[float, float]:
    searcher = textpage.search(text, match_case=True, match_whole_word=False)
    while (hit := searcher.get_next()) is not None:
        left, _bottom, _right, top = textpage.get_charbox(hit[0])
        x_mm = left / 72 * 25.4 - placed.x_mm
        y_mm = (page_height_pt - top) / 72 * 25.4 - placed.y_mm
        if 0 <= x_mm <= placed.width_mm and 0 <= y_mm <= placed.height_mm:
            return x_mm, y_mm
    raise AssertionError(f"{text!r} not found on the PDF label at slot {placed.slot}")


def test_an_unsupported_printer_resolution_is_refused(kits: Kits) -> None:
    with pytest.raises(LayoutError, match="600 dpi"):
        render_kit_labels_zpl(kits(1), 600)


def test_reserved_zpl_characters_in_text_are_hex_escaped() -> None:
    from labels.layout import LabelLayout, TextField
    from labels.zpl import layout_zpl

    layout = LabelLayout(LabelKind.ADDRESS, 50, 20, (TextField(1, 1, 10, "a\\b"),))
    [parsed] = parse_zpl(layout_zpl(layout, 203))
    assert [t.text for t in parsed.texts] == ["a\\b"]
