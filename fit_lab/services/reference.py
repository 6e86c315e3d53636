"""Loading the English Indices of Deprivation (by LSOA) and the ONS postcode → LSOA lookup.

The official IMD "File 1" names its columns e.g. "LSOA code (2011)" and
"Index of Multiple Deprivation (IMD) Decile" (IMD 2019) or "LSOA code (2021)" and
"Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)" (IMD 2025).
The ONS postcode directory has pcd/pcd2/pcds and lsoa11/lsoa21 (lsoa11cd/lsoa21cd in some products).
Both files are large (33k and 2.7M rows): they are streamed and inserted in chunks.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import ImdArea, PostcodeLsoa
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.intake.fields import postcode_key
from fit_lab.principal import Principal
from fit_lab.services import audit

_EDITION_BY_LSOA_YEAR = {"2011": "IMD2019", "2021": "IMD2025"}
_LSOA_CODE = re.compile(r"^[EW]0[0-9]{7}$")
_CHUNK = 5000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImdLoad:
    edition: str
    lsoa_year: str
    areas: int
    postcodes: int
    postcodes_skipped: int


def _find_column(header: list[str], predicate: Callable[[str], bool], what: str, file: Path) -> str:
    for name in header:
        if predicate(name.strip()):
            return name
    raise ValidationError([FieldProblem("header", f"{file.name} has no {what} column", 1)])


def _read_imd(path: Path, edition: str | None) -> tuple[str, str, list[dict[str, object]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        lsoa_col = _find_column(header, lambda h: h.lower().startswith("lsoa code"), "'LSOA code (YYYY)'", path)
        decile_col = _find_column(
            header, lambda h: h.lower().startswith("index of multiple deprivation (imd) decile"), "IMD decile", path
        )
        match = re.search(r"(20\d\d)", lsoa_col)
        lsoa_year = match.group(1) if match else "2011"
        chosen = edition or _EDITION_BY_LSOA_YEAR.get(lsoa_year)
        if not chosen:
            raise ValidationError([FieldProblem("edition", f"cannot tell the IMD edition of LSOA {lsoa_year}")])
        rows: list[dict[str, object]] = []
        problems: list[FieldProblem] = []
        for number, row in enumerate(reader, start=2):
            code = (row.get(lsoa_col) or "").strip()
            try:
                decile = int((row.get(decile_col) or "").strip())
            except ValueError:
                decile = 0
            if not _LSOA_CODE.match(code) or not 1 <= decile <= 10:
                problems.append(FieldProblem("row", f"LSOA '{code}' decile '{row.get(decile_col)}' not valid", number))
                continue
            rows.append({"edition": chosen, "lsoa_code": code, "imd_decile": decile})
    if problems:
        raise ValidationError(problems[:50])
    return chosen, lsoa_year, rows


def _postcode_rows(path: Path, lsoa_year: str) -> Iterator[tuple[str, str] | None]:
    """(postcode key, LSOA) per row; None for a row without an LSOA of the right vintage (e.g. Scotland)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        pc_col = next((c for c in ("pcds", "pcd", "pcd2", "postcode") if c in header), None)
        suffix = lsoa_year[2:]
        lsoa_col = next((c for c in (f"lsoa{suffix}cd", f"lsoa{suffix}") if c in header), None)
        if pc_col is None or lsoa_col is None:
            raise ValidationError(
                [FieldProblem("header", f"{path.name} needs a postcode column (pcds) and lsoa{suffix}", 1)]
            )
        for row in reader:
            code = (row.get(lsoa_col) or "").strip()
            key = postcode_key(row.get(pc_col) or "")
            yield (key, code) if key and _LSOA_CODE.match(code) else None


def load_imd(
    engine: Engine,
    imd_file: Path,
    postcode_file: Path,
    *,
    actor: Principal,
    edition: str | None = None,
    progress: Progress | None = None,
    clock: Clock = system_clock,
) -> ImdLoad:
    """Replace the edition's deciles and the postcode lookup in one transaction (all or nothing)."""
    chosen, lsoa_year, areas = _read_imd(imd_file, edition)
    postcodes = skipped = 0
    with transaction(engine) as session:
        session.execute(delete(ImdArea).where(ImdArea.edition == chosen))  # type: ignore[arg-type]
        for start in range(0, len(areas), _CHUNK):
            session.execute(insert(ImdArea), areas[start : start + _CHUNK])
        session.execute(delete(PostcodeLsoa))
        chunk: dict[str, str] = {}
        for item in _postcode_rows(postcode_file, lsoa_year):
            if item is None:
                skipped += 1
                continue
            chunk[item[0]] = item[1]
            if len(chunk) >= _CHUNK:
                postcodes += _flush(session, chunk, progress)
        postcodes += _flush(session, chunk, progress)
        audit.record(session, actor, "load", "reference_imd", chosen,
                     detail={"areas": len(areas), "postcodes": postcodes, "skipped": skipped}, clock=clock)
    return ImdLoad(chosen, lsoa_year, len(areas), postcodes, skipped)


def _flush(session: object, chunk: dict[str, str], progress: Progress | None) -> int:
    if not chunk:
        return 0
    session.execute(insert(PostcodeLsoa), [{"postcode_key": k, "lsoa_code": v} for k, v in chunk.items()])  # type: ignore[attr-defined]
    count = len(chunk)
    chunk.clear()
    if progress:
        progress(count)
    return count
