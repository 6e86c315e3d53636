"""Kit labels for fit-lab: specimen IDs, label sheets (PDF), thermal labels (ZPL), return marking and letters.

A pure library: plain values in, bytes or text out. It reads nothing but its own label stock files, keeps no
clock and makes no IDs of its own (the application's database allocates serials; ``specimen_id_from_serial``
formats them).
"""

from __future__ import annotations

from .code128 import BAR_HEIGHT_MM, MIN_MODULE_MM, MODULE_MM, QUIET_ZONE_MM, thermal_module_dots
from .errors import (
    InvalidSpecimenIdError,
    LabelDataError,
    LabelsError,
    LabelStockError,
    LayoutError,
    SerialOutOfRangeError,
)
from .layout import LabelKind, LabelLayout, address_label, return_label, tube_label
from .letter import LetterSettings, letter_paragraphs, render_instruction_letters_pdf
from .model import KitLabel, LabDetails, ReturnMarking
from .pdf import ProgressCallback, render_kit_sheets_pdf, render_return_labels_pdf
from .sheet import DEFAULT_KIT_KINDS, PlacedLabel, kits_per_sheet, plan_kit_sheets
from .specimen_id import (
    SPECIMEN_ID_LENGTH,
    SPECIMEN_ID_PREFIX,
    check_digit,
    is_valid_specimen_id,
    serial_from_specimen_id,
    specimen_id_from_serial,
    validate_specimen_id,
)
from .stock import DEFAULT_KIT_STOCK, DEFAULT_RETURN_STOCK, LabelStock, available_stocks, load_stock
from .zpl import SUPPORTED_DPI, render_kit_labels_zpl, render_return_labels_zpl

__all__ = [
    "BAR_HEIGHT_MM",
    "DEFAULT_KIT_KINDS",
    "DEFAULT_KIT_STOCK",
    "DEFAULT_RETURN_STOCK",
    "MIN_MODULE_MM",
    "MODULE_MM",
    "QUIET_ZONE_MM",
    "SPECIMEN_ID_LENGTH",
    "SPECIMEN_ID_PREFIX",
    "SUPPORTED_DPI",
    "InvalidSpecimenIdError",
    "KitLabel",
    "LabDetails",
    "LabelDataError",
    "LabelKind",
    "LabelLayout",
    "LabelStock",
    "LabelStockError",
    "LabelsError",
    "LayoutError",
    "LetterSettings",
    "PlacedLabel",
    "ProgressCallback",
    "ReturnMarking",
    "SerialOutOfRangeError",
    "address_label",
    "available_stocks",
    "check_digit",
    "is_valid_specimen_id",
    "kits_per_sheet",
    "letter_paragraphs",
    "load_stock",
    "plan_kit_sheets",
    "render_instruction_letters_pdf",
    "render_kit_labels_zpl",
    "render_kit_sheets_pdf",
    "render_return_labels_pdf",
    "render_return_labels_zpl",
    "return_label",
    "serial_from_specimen_id",
    "specimen_id_from_serial",
    "thermal_module_dots",
    "tube_label",
    "validate_specimen_id",
]
