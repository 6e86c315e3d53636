"""The monthly statistics as CSV, JSON and an XLSX workbook (flags first, a README sheet, a sheet per table,
the charts embedded). Everything written here comes from published tables: no identifier, nothing unsuppressed.
"""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from fit_lab.spreadsheet import SafeCsvWriter, neutralise_workbook
from fit_lab.stats.build import MonthlyStats
from fit_lab.stats.charts import CHARTS
from fit_lab.stats.tables import Published

SHEET_NAMES = {
    "summary": "Summary", "trend": "12-month trend", "by_practice": "By practice", "by_pcn": "By PCN",
    "by_age_band": "By age band", "by_sex": "By sex", "by_ethnic_group": "By ethnic group",
    "by_imd_quintile": "By IMD quintile", "rejections": "Rejections", "results_by_band": "Results by band",
    "fhb_distribution": "f-Hb distribution", "colonoscopy": "Colonoscopy list",
}
FLAG_COLUMNS = ("breakdown", "group", "measure", "group_value", "population_value", "difference", "unit",
                "interval_low", "interval_high", "message")
_BOLD = Font(bold=True)
_FLAG_FILL = PatternFill("solid", fgColor="FFF2CC")


def to_json(stats: MonthlyStats) -> bytes:
    document = {
        "month": stats.month_label,
        "as_of": stats.as_of.isoformat(),
        "notes": list(stats.notes),
        "inequality_flags": [flag.as_dict() for flag in stats.flags],
        "measures": [{"column": m.column, "title": m.title, "kind": m.kind.value, "definition": m.definition}
                     for m in stats.measures],
        "tables": {name: table.as_dict() for name, table in stats.tables.items()},
    }
    return json.dumps(document, indent=1, ensure_ascii=False, default=float).encode()


def to_csv(stats: MonthlyStats) -> bytes:
    """One tidy file: a row per published cell (``table, group, pcn, measure, title, value``), flags first."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\n")
    writer.writerow(["month", "table", "group", "pcn", "measure", "title", "value"])
    for flag in stats.flags:
        writer.writerow([stats.month_label, "inequality_flags", f"{flag.breakdown}: {flag.group}", "",
                         "flag", flag.measure, flag.message])
    for name, table in stats.tables.items():
        pcn_at = table.columns.index("pcn") if "pcn" in table.columns else None
        for row in table.rows:
            for measure in table.measures:
                value = row[table.columns.index(measure.column)]
                writer.writerow([stats.month_label, name, row[0], row[pcn_at] if pcn_at is not None else "",
                                 measure.column, measure.title, "" if value is None else value])
    return buffer.getvalue().encode()


def _write_table(sheet: Worksheet, table: Published, first_row: int = 1) -> int:
    sheet.cell(first_row, 1, table.title).font = Font(bold=True, size=13)
    header = first_row + 1
    for col, column in enumerate(table.columns, start=1):
        cell = sheet.cell(header, col, table.titles[column] or "")
        cell.font, cell.alignment = _BOLD, Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(table.rows, start=header + 1):
        for col, value in enumerate(row, start=1):
            sheet.cell(r, col, value)
    sheet.column_dimensions["A"].width = 34
    for col in range(2, len(table.columns) + 1):
        sheet.column_dimensions[sheet.cell(header, col).column_letter].width = 14
    sheet.freeze_panes = sheet.cell(header + 1, 2)
    return header + len(table.rows) + 1


def _flags_sheet(sheet: Worksheet, stats: MonthlyStats) -> None:
    sheet.cell(1, 1, f"Inequality watch, {stats.month:%B %Y}").font = Font(bold=True, size=14)
    if not stats.flags:
        sheet.cell(3, 1, "No IMD quintile or ethnic group is flagged this month.")
    else:
        sheet.cell(3, 1, f"{len(stats.flags)} flag(s): groups doing worse than everyone, beyond the margin and "
                         "beyond chance.").font = _BOLD
        for col, title in enumerate(FLAG_COLUMNS, start=1):
            sheet.cell(5, col, title.replace("_", " ").capitalize()).font = _BOLD
        for r, flag in enumerate(stats.flags, start=6):
            values = [flag.breakdown, flag.group, flag.measure, flag.group_value, flag.population_value,
                      flag.difference, flag.unit, flag.interval[0], flag.interval[1], flag.message]
            for col, value in enumerate(values, start=1):
                sheet.cell(r, col, value).fill = _FLAG_FILL
    sheet.cell(len(stats.flags) + 8, 1, "How groups are flagged: see the README sheet.")
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 26
    sheet.column_dimensions["C"].width = 34
    sheet.column_dimensions["J"].width = 120


def _readme_sheet(sheet: Worksheet, stats: MonthlyStats, watch_note: str) -> None:
    sheet.cell(1, 1, f"FIT service statistics for {stats.month:%B %Y}").font = Font(bold=True, size=14)
    lines: list[tuple[Any, ...]] = [(note,) for note in (*stats.notes, watch_note)]
    lines += [(), ("Measure", "Column", "Kind", "Definition")]
    lines += [(m.title, m.column, m.kind.value, m.definition) for m in stats.measures]
    lines += [(), ("Sheet", "What it holds")]
    lines += [(SHEET_NAMES[name], table.title) for name, table in stats.tables.items()]
    for r, line in enumerate(lines, start=3):
        for col, value in enumerate(line, start=1):
            cell = sheet.cell(r, col, value)
            if line and line[0] in ("Measure", "Sheet"):
                cell.font = _BOLD
    sheet.column_dimensions["A"].width = 48
    sheet.column_dimensions["B"].width = 32
    sheet.column_dimensions["D"].width = 110


def to_xlsx(stats: MonthlyStats, charts: dict[str, bytes], watch_note: str) -> bytes:
    book = Workbook()
    flags = book.active
    flags.title = "Inequality watch"
    _flags_sheet(flags, stats)
    _readme_sheet(book.create_sheet("README"), stats, watch_note)
    for name, table in stats.tables.items():
        _write_table(book.create_sheet(SHEET_NAMES[name]), table)
    chart_sheet = book.create_sheet("Charts")
    row = 1
    for name, png in charts.items():
        chart_sheet.cell(row, 1, CHARTS[name]).font = Font(bold=True, size=13)
        image = Image(io.BytesIO(png))
        chart_sheet.add_image(image, f"A{row + 1}")
        row += int(image.height / 20) + 4
    buffer = io.BytesIO()
    neutralise_workbook(book).save(buffer)
    return buffer.getvalue()
