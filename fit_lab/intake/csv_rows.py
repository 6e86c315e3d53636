"""Read a referral CSV into rows, each numbered by the physical line it starts on.

Pure: bytes in, rows out. A row that does not have exactly the header's number of values is malformed: its
values cannot be trusted to sit under the right columns (a stray comma in an address shifts every column after
it), so it is refused whole rather than accepted with a value dropped or a field left empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field

from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.intake.validate import CSV_COLUMNS

ROW_NUMBERING = "rows are numbered by their line in the file: the header is line 1 and blank lines count"
# Where the values that did not fit under a column are kept in a refused row, for the person correcting it.
EXTRA_VALUES_KEY = "_values_beyond_the_header"


@dataclass(frozen=True)
class CsvRow:
    line: int  # the physical line the record starts on (a quoted value may span several lines)
    values: dict[str, str]


@dataclass
class CsvRows:
    header_line: int
    rows: list[CsvRow] = field(default_factory=list)
    # Rows refused before validation (wrong number of values), with the values as far as they could be read.
    malformed: list[tuple[CsvRow, FieldProblem]] = field(default_factory=list)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError([FieldProblem("file", f"is not UTF-8 text (byte {exc.start})", 0)]) from None


def _blank(values: list[str]) -> bool:
    """An empty line, or one holding only separators and spaces (a spreadsheet's empty row): nothing to lose."""
    return all(not value.strip() for value in values)


def _check_header(header: list[str], line: int) -> None:
    named = [name for name in header if name]
    repeated = sorted(name for name, count in Counter(named).items() if count > 1)
    if repeated:
        raise ValidationError([FieldProblem(
            "header", f"column(s) {', '.join(repeated)} appear more than once; each column must appear once, "
            "or the file cannot say which value is meant", line)])
    missing = [column for column in CSV_COLUMNS if column not in named]
    if missing:
        raise ValidationError([FieldProblem("header", f"missing column(s): {', '.join(missing)}", line)])


def read_referral_csv(data: bytes) -> CsvRows:
    """Parse an upload. A bad header or an unreadable file refuses the whole file; a bad row refuses that row."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    header: list[str] | None = None
    out: CsvRows | None = None
    try:
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            if _blank(values):
                continue
            if header is None:
                header = [name.strip() for name in values]
                while not header[-1]:  # a spreadsheet's trailing empty columns
                    header.pop()
                _check_header(header, start)
                out = CsvRows(header_line=start)
                continue
            assert out is not None
            mapped = {name: value for name, value in zip(header, values, strict=False) if name}
            if len(values) == len(header) or (len(values) > len(header) and _blank(values[len(header):])):
                out.rows.append(CsvRow(start, mapped))
                continue
            mapped.update({name: "" for name in header[len(values):] if name})
            if len(values) > len(header):
                mapped[EXTRA_VALUES_KEY] = json.dumps(values[len(header):], ensure_ascii=False)
            reason = (f"has {len(values)} values but the header has {len(header)} columns; "
                      "check for a stray or missing comma (quote a value that contains one)")
            out.malformed.append((CsvRow(start, mapped), FieldProblem("row", reason, start)))
    except csv.Error as exc:
        raise ValidationError([FieldProblem("file", f"is not valid CSV: {exc}", reader.line_num)]) from None
    if out is None:
        raise ValidationError([FieldProblem("header", "the file is empty: it has no header line", 1)])
    return out
