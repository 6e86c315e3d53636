"""Every CSV and XLSX fit-lab writes goes through here, so no cell is read by a spreadsheet as a formula.

A name like ``=HYPERLINK("http://…","click")``, ``+cmd|' /C calc'!A0`` or ``@SUM(1+1)*cmd|…`` typed into a
referral (or a practice's name) would run as a formula when a lab or alliance person opens the manifest, the
colonoscopy list or the statistics in Excel or LibreOffice (CSV/formula injection, OWASP). A text cell that
starts with ``= + - @``, a tab or a carriage return gets a leading single quote, which spreadsheets show as text;
numbers (int, float, and text that is a plain number such as ``-3.5``) are left as they are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

from openpyxl.workbook.workbook import Workbook

__all__ = ["FORMULA_STARTS", "SafeCsvWriter", "neutralise_workbook", "safe_cell"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it as text: a formula-leading text gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return f"'{value}"
    return value


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through ``safe_cell``."""

    def __init__(self, stream: Any, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def neutralise_workbook(book: Workbook) -> Workbook:
    """Every text cell of every sheet through ``safe_cell`` (a text set as ``=...`` became a formula)."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    safe = safe_cell(cell.value)
                    if safe is not cell.value:
                        cell.value = safe
    return book
