"""Label stocks are data; layouts keep barcode figures, quiet zones and text sizes whatever the content."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from labels import (
    BAR_HEIGHT_MM,
    MIN_MODULE_MM,
    MODULE_MM,
    QUIET_ZONE_MM,
    KitLabel,
    LabelDataError,
    LabelKind,
    LabelStock,
    LabelStockError,
    LayoutError,
    available_stocks,
    kits_per_sheet,
    load_stock,
    plan_kit_sheets,
    render_kit_sheets_pdf,
    thermal_module_dots,
    tube_label,
)
from labels.code128 import bar_runs, module_pattern
from labels.layout import BarcodeField, TextField, text_width_mm
from labels.text import printable

Kits = Callable[..., list[KitLabel]]


def test_barcode_figures_meet_scanner_and_analyser_minimums() -> None:
    assert MODULE_MM >= MIN_MODULE_MM >= 0.25
    assert QUIET_ZONE_MM >= 10 * MODULE_MM  # ISO/IEC 15417: at least 10 modules
    assert QUIET_ZONE_MM >= 5.0  # analyser readers' clear area
    assert BAR_HEIGHT_MM >= 10.0  # analyser readers' minimum height
    assert 112 * MODULE_MM + 2 * QUIET_ZONE_MM <= 45.0  # fits what a tube presents to a reader


@pytest.mark.parametrize(("dpi", "dots"), [(203, 2), (300, 3)])
def test_thermal_module_is_the_smallest_whole_dot_count_of_at_least_a_quarter_millimetre(dpi: int, dots: int) -> None:
    assert thermal_module_dots(dpi) == dots
    assert (dots - 1) * 25.4 / dpi < MIN_MODULE_MM <= dots * 25.4 / dpi + 1e-3


def test_bar_runs_redraw_exactly_python_barcodes_module_pattern() -> None:
    pattern = module_pattern("F0000000013")
    redrawn = ["0"] * len(pattern)
    for start, width in bar_runs("F0000000013"):
        redrawn[start : start + width] = ["1"] * width
    assert "".join(redrawn) == pattern


def test_every_shipped_stock_loads_and_the_default_is_14_per_sheet() -> None:
    assert {"avery-l7163", "avery-l7162", "avery-l7169"} <= set(available_stocks())
    for name in available_stocks():
        assert load_stock(name).name == name
    l7163 = load_stock("avery-l7163")
    assert (l7163.labels_per_sheet, l7163.label_width_mm, l7163.label_height_mm) == (14, 99.1, 38.1)
    assert l7163.slot_origin_mm(0) == (4.65, 15.15)
    assert l7163.slot_origin_mm(13) == pytest.approx((4.65 + 101.6, 15.15 + 6 * 38.1))


def test_an_unknown_stock_is_refused_with_the_known_names() -> None:
    with pytest.raises(LabelStockError, match="avery-l7163"):
        load_stock("avery-l9999")


def test_a_stock_whose_labels_run_off_the_page_is_refused() -> None:
    l7163 = load_stock("avery-l7163")
    with pytest.raises(LabelStockError, match="off the page"):
        replace(l7163, rows=8)


def test_a_malformed_stock_definition_is_refused() -> None:
    with pytest.raises(LabelStockError, match="malformed"):
        LabelStock.from_mapping({"name": "half", "page_width_mm": 210})


def test_a_new_stock_needs_only_data(kits: Kits) -> None:
    # A 3 x 8 sheet of 70 x 37 mm labels: too narrow for the tube label's barcode and text, so it is refused...
    narrow = LabelStock.from_mapping(
        {
            "name": "generic-3x8",
            "page_width_mm": 210,
            "page_height_mm": 297,
            "label_width_mm": 70,
            "label_height_mm": 37,
            "columns": 3,
            "rows": 8,
            "left_margin_mm": 0,
            "top_margin_mm": 0.5,
            "horizontal_pitch_mm": 70,
            "vertical_pitch_mm": 37,
        }
    )
    with pytest.raises(LayoutError, match="tube label needs"):
        render_kit_sheets_pdf(kits(1), stock=narrow)
    # ...while a one-label roll for a thermal printer driven by PDF works unchanged.
    roll = replace(narrow, name="roll", page_width_mm=100, page_height_mm=38, label_width_mm=100,
                   label_height_mm=38, columns=1, rows=1, top_margin_mm=0, horizontal_pitch_mm=100,
                   vertical_pitch_mm=38)  # fmt: skip
    assert render_kit_sheets_pdf(kits(2), stock=roll, kinds=(LabelKind.TUBE,)).count(b"/Type /Page\n") == 2


def test_a_kits_labels_never_straddle_two_sheets() -> None:
    stock = load_stock("avery-l7163")
    kinds = (LabelKind.TUBE, LabelKind.ADDRESS, LabelKind.TUBE)
    assert kits_per_sheet(stock, kinds) == 4
    plan = plan_kit_sheets([f"id{i}" for i in range(5)], stock, kinds)
    assert {p.page for p in plan if p.kit_index == 4} == {1}


def test_two_kits_with_the_same_id_are_refused() -> None:
    with pytest.raises(LabelDataError, match="twice"):
        plan_kit_sheets(["F0000000013", "F0000000013"], load_stock("avery-l7163"))


def test_a_very_long_name_is_shrunk_then_cut_but_never_crosses_into_the_quiet_zone(kits: Kits) -> None:
    [kit] = kits(1)
    long_name = replace(kit, patient_name="Mrs Anne-Marie Bernadette " + "FEATHERSTONEHAUGH-" * 4 + "SMITH")
    layout = tube_label(long_name, 99.1, 38.1)
    [barcode] = [f for f in layout.fields if isinstance(f, BarcodeField)]
    [name] = [f for f in layout.fields if isinstance(f, TextField) and f.font == "bold" and f.y_mm == barcode.y_mm]
    assert name.text.endswith("...") and name.size_pt >= 6.5
    assert name.x_mm >= barcode.x_mm + barcode.width_mm + QUIET_ZONE_MM
    assert name.x_mm + text_width_mm(name.text, "bold", name.size_pt) <= 99.1 - 1.5


def make(**overrides: object) -> KitLabel:
    values: dict[str, object] = {
        "specimen_id": "F0000000013",
        "patient_name": "Jane SMITH",
        "date_of_birth": date(1958, 3, 7),
        "nhs_number": "999 000 0018",
        "address_lines": ("1 Station Road", "Fakenham"),
        "postcode": "nr21 0aa",
    }
    values.update(overrides)
    return KitLabel(**values)  # type: ignore[arg-type]


def test_kit_label_stores_canonical_values() -> None:
    kit = make(specimen_id=" f000-000-0013 ", patient_name="  Jane   SMITH ")
    assert (kit.specimen_id, kit.patient_name, kit.nhs_number, kit.postcode) == (
        "F0000000013",
        "Jane SMITH",
        "9990000018",
        "NR21 0AA",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"specimen_id": "F0000000012"}, "check digit"),
        ({"nhs_number": "12345"}, "10 digits"),
        ({"patient_name": "  "}, "patient name is empty"),
        ({"address_lines": ()}, "address needs"),
        ({"address_lines": tuple("abcdef")}, "address needs"),
        ({"postcode": ""}, "postcode is empty"),
        ({"patient_name": "Jane ^FS SMITH"}, "cannot be printed"),
        ({"patient_name": "王秀英"}, "cannot be printed"),
    ],
)
def test_kit_label_refuses_data_that_would_print_a_wrong_or_broken_label(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_names_are_kept_as_sent_for_the_pdf_and_folded_only_for_thermal_zpl() -> None:
    assert make(patient_name="Łukasz Wołek").patient_name == "Łukasz Wołek"
    assert make(patient_name="Olúwáṣeun").patient_name == "Olúwáṣeun"
    assert printable("Łukasz Wołek", "name") == "Lukasz Wolek"
    assert printable("Olúwáṣeun", "name") == "Olúwáseun"
