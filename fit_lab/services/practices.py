"""GP practices: `fit-lab practices import FILE.csv` with columns ods_code,name,pcn_code,address,postcode."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Practice
from fit_lab.errors import FieldProblem, ValidationError
from fit_lab.intake import fields
from fit_lab.principal import Principal
from fit_lab.services import audit

PRACTICE_COLUMNS = ("ods_code", "name", "pcn_code", "address", "postcode")
_PCN = re.compile(r"^U[0-9]{5}$")


@dataclass(frozen=True)
class PracticeImport:
    created: int
    updated: int
    unchanged: int


def import_practices(engine: Engine, data: bytes, *, actor: Principal, clock: Clock = system_clock) -> PracticeImport:
    """All-or-nothing: a practice list with a bad row is refused whole, naming every problem."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    missing = [c for c in PRACTICE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError([FieldProblem("header", f"missing column(s): {', '.join(missing)}", 1)])
    problems: list[FieldProblem] = []
    clean: dict[str, dict[str, str | None]] = {}
    for number, row in enumerate(reader, start=2):
        try:
            ods = fields.ods_practice_field(row.get("ods_code") or "")
            name = fields.text_field(row.get("name") or "", 200)
            postcode = fields.postcode_field(row["postcode"]) if (row.get("postcode") or "").strip() else None
        except fields.FieldRefused as exc:
            problems.append(FieldProblem("row", str(exc), number))
            continue
        pcn = (row.get("pcn_code") or "").strip().upper() or None
        if pcn and not _PCN.match(pcn):
            problems.append(FieldProblem("pcn_code", f"'{pcn}' is not a PCN code (U and five digits)", number))
            continue
        clean[ods] = {"name": name, "pcn_code": pcn, "address": (row.get("address") or "").strip() or None,
                      "postcode": postcode}
    if problems:
        raise ValidationError(problems)
    created = updated = unchanged = 0
    with transaction(engine) as session:
        existing = {p.ods_code: p for p in session.execute(select(Practice)).scalars()}
        for ods, values in clean.items():
            practice = existing.get(ods)
            if practice is None:
                practice = Practice(ods_code=ods, created_at=clock(), **values)  # type: ignore[arg-type]
                session.add(practice)
                session.flush()
                audit.record(session, actor, "create", "practice", practice.id, clock=clock)
                created += 1
            elif any(getattr(practice, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(practice, k, v)
                audit.record(session, actor, "update", "practice", practice.id, clock=clock)
                updated += 1
            else:
                unchanged += 1
    return PracticeImport(created, updated, unchanged)
