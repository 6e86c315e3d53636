"""The audit trail: one line in a service records who did what to which record, inside its transaction.

Denials (401/403/404) are written by ``record_denial`` in a transaction of their own, because the request's
own work is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import AuditEvent
from fit_lab.principal import Principal


def _row(
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: object | None,
    at: datetime,
    practice_id: int | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor.username if actor else None,
        "actor_role": actor.role if actor else None,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "practice_id": practice_id,
        "outcome": outcome,
        "detail": detail or {},
    }


_BATCH = "fit_lab.audit_batch"  # session.info key: the rows recorded inside ``batched``, not yet written


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Write the audit rows recorded inside the block as one executemany when it ends, in the same transaction.

    For a use case that records hundreds of rows (an analyser message): one ORM object and one RETURNING row
    each cost more than the work they record. Nothing inside may need to read its own audit rows back. If the
    block raises, nothing is written (its transaction is rolled back anyway).
    """
    if _BATCH in session.info:  # inside another batch: its rows go out with that one
        yield
        return
    rows: list[dict[str, Any]] = []
    session.info[_BATCH] = rows
    try:
        yield
    finally:
        del session.info[_BATCH]
    if rows:
        session.execute(insert(AuditEvent.__table__), rows)  # type: ignore[attr-defined]


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: object | None,
    *,
    practice_id: int | None = None,
    detail: dict[str, Any] | None = None,
    outcome: str = "ok",
    clock: Clock = system_clock,
) -> None:
    row = _row(actor, action, entity, entity_id, clock(), practice_id, outcome, detail)
    batch = session.info.get(_BATCH)
    if batch is not None:
        batch.append(row)
    else:
        session.add(AuditEvent(**row))


def record_many(
    session: Session,
    actor: Principal | None,
    action: str,
    entity: str,
    items: Iterable[tuple[object, int | None]],
    *,
    detail: dict[str, Any] | None = None,
    clock: Clock = system_clock,
) -> int:
    """One audit row per (entity_id, practice_id), in one round trip: used by bulk import.

    Inside ``batched`` the rows join the batch, so the trail keeps the order the changes were made in."""
    at = clock()
    rows = [_row(actor, action, entity, eid, at, pid, "ok", detail) for eid, pid in items]
    batch = session.info.get(_BATCH)
    if batch is not None:
        batch.extend(rows)
    elif rows:
        session.execute(insert(AuditEvent), rows)
    return len(rows)


def record_denial(
    engine: Engine,
    actor: Principal | None,
    outcome: str,
    entity: str,
    entity_id: object | None,
    *,
    detail: dict[str, Any] | None = None,
    clock: Clock = system_clock,
) -> None:
    with transaction(engine) as session:
        session.add(AuditEvent(**_row(actor, "access", entity, entity_id, clock(), None, outcome, detail)))
