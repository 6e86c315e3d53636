"""Malformed referral files: each bad row is refused by the line it is on; a bad header refuses the file."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from fit_lab import synthetic
from fit_lab.db.models import IntakeRejection, Referral
from fit_lab.errors import ValidationError
from fit_lab.intake.csv_rows import EXTRA_VALUES_KEY, read_referral_csv
from fit_lab.services import intake
from tests.conftest import LAB
from tests.helpers import referral_row


def _file(*rows: dict[str, str]) -> list[str]:
    """The lines of a referral CSV holding ``rows`` (header first), to be spoiled line by line."""
    return synthetic.referrals_csv(list(rows)).decode().splitlines()


def _import(engine, lines: list[str], clock):
    data = ("\n".join(lines) + "\n").encode()
    return intake.import_csv(engine, data, filename="f.csv", source="csv_cli", actor=LAB, clock=clock)


def _count(engine, model):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_row_with_more_values_than_columns_is_refused_naming_its_line(reference_loaded, clock):
    lines = _file(referral_row(), referral_row(nhs_number="9990000018", external_ref="R-2"))
    lines[2] += ",an extra value"
    report = _import(reference_loaded, lines, clock)
    assert (report.accepted, report.rejected) == (1, 1)
    (refused,) = report.rejected_rows()
    assert refused.row == 3
    assert [(p.field, p.row) for p in refused.problems] == [("row", 3)]
    assert "22 values but the header has 21 columns" in refused.problems[0].reason
    with reference_loaded.connect() as conn:
        kept = conn.execute(select(IntakeRejection.row_number, IntakeRejection.raw)).one()
    assert kept.row_number == 3 and json.loads(kept.raw[EXTRA_VALUES_KEY]) == ["an extra value"]
    assert kept.raw["nhs_number"] == "9990000018"


def test_a_row_with_fewer_values_than_columns_is_refused_not_half_read(reference_loaded, clock):
    lines = _file(referral_row())
    lines[1] = lines[1].rsplit(",", 2)[0]  # the last two values (external_ref, clinical_concern) lost
    report = _import(reference_loaded, lines, clock)
    assert report.rejected == 1 and report.rejected_rows()[0].problems[0].field == "row"
    assert _count(reference_loaded, Referral) == 0


def test_trailing_empty_values_from_a_spreadsheet_are_not_an_error(reference_loaded, clock):
    lines = _file(referral_row())
    lines = [lines[0] + ",", lines[1] + ",,"]
    assert _import(reference_loaded, lines, clock).accepted == 1


def test_blank_lines_do_not_shift_the_reported_line_numbers(reference_loaded, clock):
    lines = _file(referral_row(), referral_row(nhs_number="9990000018", external_ref="R-2", postcode="NOT A PC"))
    lines = [lines[0], "", lines[1], "", ",,,", "   ", lines[2]]
    report = _import(reference_loaded, lines, clock)
    assert (report.rows, report.accepted, report.rejected) == (2, 1, 1)
    assert [(p.row, p.field) for p in report.rejected_rows()[0].problems] == [(7, "postcode")]


def test_a_value_spanning_two_lines_numbers_the_next_row_by_its_own_line(reference_loaded, clock):
    lines = _file(referral_row(address_line1="1 Mill Lane\nLower End"),
                  referral_row(nhs_number="9990000018", external_ref="R-2", sex="X"))
    report = _import(reference_loaded, lines, clock)
    assert report.accepted == 1
    assert [(p.row, p.field) for p in report.rejected_rows()[0].problems] == [(4, "sex")]


def test_a_column_named_twice_in_the_header_refuses_the_file(reference_loaded, clock):
    lines = _file(referral_row())
    lines = [lines[0] + ",nhs_number", lines[1] + ",9990000018"]
    with pytest.raises(ValidationError) as refused:
        _import(reference_loaded, lines, clock)
    (problem,) = refused.value.problems
    assert problem.field == "header" and problem.row == 1
    assert "nhs_number appear more than once" in problem.reason
    assert _count(reference_loaded, Referral) == 0


def test_an_empty_file_is_refused_with_a_reason():
    with pytest.raises(ValidationError, match="no header line"):
        read_referral_csv(b"\n\n")


def test_the_header_after_leading_blank_lines_is_numbered_by_its_line():
    parsed = read_referral_csv(("\n" + "\n".join(_file(referral_row())) + "\n").encode())
    assert parsed.header_line == 2 and [row.line for row in parsed.rows] == [3]
