"""Specimen IDs: serials from the database (unique across processes and servers), formatted by ``labels``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session

import labels
from fit_lab.db.models import SpecimenSerial


def allocate_specimen_ids(session: Session, count: int, now: datetime) -> list[str]:
    if count <= 0:
        return []
    serials = session.execute(
        insert(SpecimenSerial).returning(SpecimenSerial.serial, sort_by_parameter_order=True),  # type: ignore[arg-type]
        [{"allocated_at": now}] * count,
    ).scalars().all()
    return [labels.specimen_id_from_serial(int(serial)) for serial in serials]
