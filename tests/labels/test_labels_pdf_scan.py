"""Done-when 1: rendered sheets, rasterised and decoded by a real reader, give each kit's ID in its place only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from labels import (
    MODULE_MM,
    QUIET_ZONE_MM,
    KitLabel,
    LabelKind,
    load_stock,
    plan_kit_sheets,
    render_kit_sheets_pdf,
)

Kits = Callable[..., list[KitLabel]]
Decode = Callable[..., list[Any]]

# Where the tube's bars start inside its label: 1.5 mm padding + the 5 mm quiet zone (see labels/layout.py).
BARS_LEFT_IN_LABEL_MM = 1.5 + QUIET_ZONE_MM
BARS_TOP_IN_LABEL_MM = 2.5
BARS_HEIGHT_MM = 12.0
BARS_WIDTH_MM = 112 * MODULE_MM


def assert_each_tube_label_scans_as_its_own_id(kits: list[KitLabel], pdf: bytes, decode: Decode, dpi: int) -> None:
    stock = load_stock("avery-l7163")
    plan = [p for p in plan_kit_sheets([k.specimen_id for k in kits], stock) if p.kind is LabelKind.TUBE]
    pages = decode(pdf, dpi)
    assert len(pages) == plan[-1].page + 1
    for page_number, found in enumerate(pages):
        expected = [p for p in plan if p.page == page_number]
        # Nothing else: exactly one barcode per tube label, none on address labels, all Code128.
        assert len(found) == len(expected), f"page {page_number}: {[f.text for f in found]}"
        assert {f.format for f in found} == {"Code 128"}
        for label in expected:
            centre_x = label.x_mm + BARS_LEFT_IN_LABEL_MM + BARS_WIDTH_MM / 2
            centre_y = label.y_mm + BARS_TOP_IN_LABEL_MM + BARS_HEIGHT_MM / 2
            at_label = [f for f in found if abs(f.centre_x_mm - centre_x) < 3.0 and abs(f.centre_y_mm - centre_y) < 6.5]
            assert [f.text for f in at_label] == [label.specimen_id], f"page {page_number} slot {label.slot}"
            assert abs(at_label[0].left_x_mm - (label.x_mm + BARS_LEFT_IN_LABEL_MM)) < 0.5


def test_a_full_sheet_puts_kit_n_in_row_n_and_every_tube_scans_as_its_id(kits: Kits, decode_pdf: Decode) -> None:
    batch = kits(7)
    pdf = render_kit_sheets_pdf(batch)
    [found] = decode_pdf(pdf, 300)
    # Independent of the planner: on L7163 row r starts 15.15 + 38.1 r mm down; the tube is the left column.
    for row, kit in enumerate(batch):
        centre_y = 15.15 + 38.1 * row + BARS_TOP_IN_LABEL_MM + BARS_HEIGHT_MM / 2
        centre_x = 4.65 + BARS_LEFT_IN_LABEL_MM + BARS_WIDTH_MM / 2
        matches = [f for f in found if abs(f.centre_y_mm - centre_y) < 3 and abs(f.centre_x_mm - centre_x) < 3]
        assert [m.text for m in matches] == [kit.specimen_id]
    assert len(found) == 7
    assert_each_tube_label_scans_as_its_own_id(batch, pdf, decode_pdf, 300)


def test_a_month_size_batch_of_600_kits_scans_label_by_label(kits: Kits, decode_pdf: Decode) -> None:
    # 600 kits = 86 sheets, including a part-filled last sheet; serials cross a digit-count boundary.
    batch = kits(600, 99_700)
    started = time.perf_counter()
    pdf = render_kit_sheets_pdf(batch)
    assert time.perf_counter() - started < 5.0
    assert_each_tube_label_scans_as_its_own_id(batch, pdf, decode_pdf, 200)


@pytest.mark.slow  # about 40 s; deselect with -m "not slow" while iterating
def test_a_full_month_of_7000_labels_scans_label_by_label(kits: Kits, decode_pdf: Decode) -> None:
    batch = kits(3500, 1)
    assert_each_tube_label_scans_as_its_own_id(batch, render_kit_sheets_pdf(batch), decode_pdf, 200)


def test_a_smaller_stock_is_a_new_data_entry_and_still_scans(kits: Kits, decode_pdf: Decode) -> None:
    batch = kits(9)
    stock = load_stock("avery-l7162")
    pdf = render_kit_sheets_pdf(batch, stock=stock)
    pages = decode_pdf(pdf, 300)
    assert [len(p) for p in pages] == [8, 1]
    assert sorted(f.text for page in pages for f in page) == sorted(k.specimen_id for k in batch)


def test_rendering_is_byte_for_byte_reproducible(kits: Kits) -> None:
    # A reprint of a batch must be the same file: no timestamps or random IDs in the PDF.
    batch = kits(10)
    assert render_kit_sheets_pdf(batch) == render_kit_sheets_pdf(batch)


def test_bars_are_vectors_not_images(kits: Kits) -> None:
    pdf = render_kit_sheets_pdf(kits(7))
    # reportlab lists /ImageB etc. in every page's ProcSet; an embedded picture would be an /Image XObject.
    assert b"/Subtype /Image" not in pdf and b"/XObject" not in pdf


def test_progress_is_reported_per_page(kits: Kits) -> None:
    seen: list[tuple[int, int]] = []
    render_kit_sheets_pdf(kits(15), on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
