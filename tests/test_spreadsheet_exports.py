"""No CSV or XLSX fit-lab writes carries a cell a spreadsheet would run as a formula (issue 14): every exporter
goes through ``fit_lab.spreadsheet``, and this file scans the output of each, with names typed to attack.
A new exporter fails ``test_every_spreadsheet_writer_is_one_this_file_scans`` until it is added here."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.models import Kit
from fit_lab.demo.quarter import QuarterReport
from fit_lab.services import dispatch, intake, kits, stats
from fit_lab.services.analyser import qc_tubes
from fit_lab.spreadsheet import FORMULA_STARTS, safe_cell
from tests.api_support import make_settings
from tests.conftest import ADMIN, LAB, NOW
from tests.helpers import referral_row
from tests.results_support import AT, SETTINGS, TARGETS, store, tube

REPO = Path(__file__).resolve().parent.parent
HOSTILE = ['=HYPERLINK("http://evil.example/","open me")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0"]
NHS_NUMBERS = ["9990000026", "9990000034", "9990000042", "9990000050"]
# module → the test below that scans what it writes
EXPORTERS = {
    "fit_lab/services/dispatch.py": "test_the_dispatch_manifest_has_no_formula_cell",
    "fit_lab/cli/triage_cmd.py": "test_the_colonoscopy_list_csv_has_no_formula_cell",
    "fit_lab/stats/export.py": "test_the_alliance_csv_and_xlsx_have_no_formula_cell",
    "fit_lab/demo/quarter.py": "test_the_pathways_report_has_no_formula_cell",
}
# Writes input files for the demo and the tests (referral CSVs for intake, reference data), not exports.
NOT_EXPORTS = {"fit_lab/synthetic.py", "fit_lab/spreadsheet.py"}
_WRITERS = re.compile(r"csv\.writer\(|csv\.DictWriter\(|Workbook\(|\.to_csv\(|\.to_excel\(|SafeCsvWriter\(")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value)


def _csv_cells(data: bytes | str) -> list[str]:
    text = data.decode() if isinstance(data, bytes) else data
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_every_spreadsheet_writer_is_one_this_file_scans():
    writers = {str(path.relative_to(REPO)) for path in (REPO / "fit_lab").rglob("*.py")
               if _WRITERS.search(path.read_text(encoding="utf-8"))}
    assert writers - NOT_EXPORTS == set(EXPORTERS)
    assert all(name in globals() for name in EXPORTERS.values())


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_leading_text_is_shown_as_text(value):
    assert safe_cell(value) == f"'{value}"


@pytest.mark.parametrize("value", [-3, -2.5, "-3.5", "+44", "Smith", "", None])
def test_numbers_and_plain_text_are_left_as_they_are(value):
    assert safe_cell(value) == value


@pytest.fixture
def hostile_batch(reference_loaded):
    week_ago = fixed_clock(NOW - timedelta(days=7))
    for n, name in enumerate(HOSTILE):
        intake.create_referral(reference_loaded, referral_row(nhs_number=NHS_NUMBERS[n],
                                                              family_name=name, given_name=name,
                                                              external_ref=f"X-{n}", referral_date="2026-10-20"),
                               actor=LAB, clock=week_ago)
    batch = dispatch.create_batch(reference_loaded, actor=LAB, clock=week_ago)
    assert batch.kit_count == len(HOSTILE) and batch.batch_id is not None
    return reference_loaded, batch.batch_id


def test_the_dispatch_manifest_has_no_formula_cell(hostile_batch):
    engine, batch_id = hostile_batch
    manifest = dispatch.batch_file(engine, batch_id, "manifest", actor=LAB, settings=SETTINGS)
    cells = _csv_cells(manifest)
    assert [c for c in cells if _formula_like(c)] == []
    assert f"'{HOSTILE[0]} {HOSTILE[0]}" in cells


def test_the_colonoscopy_list_csv_has_no_formula_cell(hostile_batch, db_url, tmp_path):
    engine, _ = hostile_batch
    with Session(engine) as session:
        specimens = list(session.execute(select(Kit.specimen_id)).scalars())
    for specimen_id in specimens:
        kits.receive_kit(engine, specimen_id, NOW.date(), actor=LAB, settings=SETTINGS, clock=fixed_clock(NOW))
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(s, "750", i + 1) for i, s in enumerate(specimens)])  # all positive
    listed = subprocess.run([sys.executable, "-m", "fit_lab.cli", "triage", "list"], cwd=tmp_path, timeout=120,
                            env={**os.environ, "FIT_LAB_DATABASE_URL": db_url}, capture_output=True, text=True,
                            check=True)
    cells = _csv_cells(listed.stdout)
    assert f"'{HOSTILE[1]} {HOSTILE[1]}" in cells, listed.stdout[:500]
    assert [c for c in cells if _formula_like(c)] == []


def test_the_alliance_csv_and_xlsx_have_no_formula_cell(reference_loaded):
    published = stats.monthly(reference_loaded, NOW.date().replace(day=1), actor=ADMIN, settings=SETTINGS,
                              clock=fixed_clock(NOW))
    # Group names come from codes today; a table whose labels were ever free text must still be safe.
    name, table = next(iter(published.tables.items()))
    poisoned = replace(table, rows=tuple((HOSTILE[i % len(HOSTILE)], *row[1:]) for i, row in enumerate(table.rows)))
    published = replace(published, tables={**published.tables, name: poisoned})
    settings = make_settings()
    cells = _csv_cells(stats.as_file(published, "csv", settings).content)
    assert [c for c in cells if _formula_like(c)] == [] and f"'{HOSTILE[0]}" in cells
    book = openpyxl.load_workbook(io.BytesIO(stats.as_file(published, "xlsx", settings).content))
    values = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in values if c.data_type == "f" or _formula_like(c.value)] == []
    assert any(c.value == f"'{HOSTILE[0]}" for c in values)


def test_the_pathways_report_has_no_formula_cell(tmp_path):
    report = QuarterReport(rows=[{"referral_id": "1", "path": "on_hold > closed", "ending": "closed by a person",
                                  "detail": value} for value in HOSTILE])
    report.write_csv(tmp_path / "pathways.csv")
    cells = _csv_cells((tmp_path / "pathways.csv").read_bytes())
    assert not [cell for cell in cells if _formula_like(cell)]
    assert {f"'{value}" for value in HOSTILE} <= set(cells)
