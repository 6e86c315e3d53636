"""Every change of a referral's status and a kit's state, in one place, each audited with who, when and why.

The state tables are ``fit_lab.referral_states`` and ``fit_lab.kit_states``; this module is the only code that
writes ``Referral.status`` or ``Kit.state`` (``tests/test_lifecycle_single_writer.py`` reads the source to keep it
so). Use cases call these functions inside their own transaction; nothing here commits.

Bulk forms (``move_kits``, ``move_referrals``, ``create_*``) serve the month's volumes: one statement and one
audit executemany for many rows, the state table still checked for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from fit_lab import kit_states, referral_states
from fit_lab.clock import Clock
from fit_lab.db.bulk import insert_then_find
from fit_lab.db.models import Kit, Referral
from fit_lab.errors import StateError
from fit_lab.principal import Principal
from fit_lab.services import audit

__all__ = [
    "create_kit",
    "create_kits",
    "create_referrals",
    "move_kit",
    "move_kits",
    "move_list_state",
    "move_referral",
    "move_referrals",
]

_CHUNK = 900  # SQLite's bound-parameter limit


def _at(now: datetime) -> Clock:
    return lambda: now


def move_kit(session: Session, kit: Kit, target: str, *, actor: Principal, now: datetime, why: str | None = None,
             **stamps: Any) -> None:
    """Move one kit to ``target`` if the state table allows it; ``stamps`` are the kit's own time columns of the
    move (``received_at=now``, ``reject_reason=...``), written with it."""
    kit_states.check_transition(kit.specimen_id, kit.state, target)
    before = kit.state
    kit.state, kit.state_changed_at, kit.version = target, now, kit.version + 1
    for name, value in stamps.items():
        setattr(kit, name, value)
    detail: dict[str, Any] = {"from": before, "to": target}
    if why:
        detail["why"] = why
    audit.record(session, actor, "transition", "kit", kit.id, detail=detail, clock=_at(now))


def move_kits(session: Session, kits: Sequence[Kit], target: str, *, actor: Principal, now: datetime,
              why: str | None = None, detail: dict[str, Any] | None = None, **stamps: Any) -> None:
    """``move_kit`` for many kits, with one audit executemany (the rows are flushed with the session)."""
    for kit in kits:
        kit_states.check_transition(kit.specimen_id, kit.state, target)
    froms = {kit.id: kit.state for kit in kits}
    for kit in kits:
        kit.state, kit.state_changed_at, kit.version = target, now, kit.version + 1
        for name, value in stamps.items():
            setattr(kit, name, value)
    common = {"to": target, **({"why": why} if why else {}), **(detail or {})}
    by_from: dict[str, list[tuple[object, int | None]]] = {}
    for kit_id, before in froms.items():
        by_from.setdefault(before, []).append((kit_id, None))
    for before, items in sorted(by_from.items()):
        audit.record_many(session, actor, "transition", "kit", items, detail={"from": before, **common},
                          clock=_at(now))


def create_kit(session: Session, *, specimen_id: str, referral_id: int, actor: Principal, now: datetime,
               replaces: Kit | None = None, why: str) -> Kit:
    """A kit allocated for the next dispatch batch (a replacement or a repeat), flushed so it has its id."""
    kit_states.check_initial(specimen_id, "allocated")
    kit = Kit(specimen_id=specimen_id, referral_id=referral_id, state="allocated", state_changed_at=now,
              allocated_at=now, replaces_kit_id=replaces.id if replaces else None)
    session.add(kit)
    session.flush()
    detail: dict[str, Any] = {"state": "allocated", "why": why}
    if replaces is not None:
        detail["replaces"] = replaces.specimen_id
    audit.record(session, actor, "create", "kit", kit.id, detail=detail, clock=_at(now))
    return kit


def create_kits(session: Session, rows: Sequence[dict[str, Any]], state: str, *, actor: Principal, now: datetime,
                practice_ids: Sequence[int | None], detail: dict[str, Any] | None = None) -> list[int]:
    """Insert kits created in ``state`` (``dispatched`` for a batch's new kits); returns their ids in order."""
    for row in rows:
        kit_states.check_initial(str(row["specimen_id"]), state)
    full = [{**row, "state": state, "state_changed_at": now, "version": 1} for row in rows]
    ids = insert_then_find(session, Kit, full, ("specimen_id",))
    # A batch's kit is allocated and posted in one step: its trail reads allocated → dispatched, as the table does.
    before = "allocated" if state != "allocated" else None
    audit.record_many(session, actor, "transition", "kit", list(zip(ids, practice_ids, strict=True)),
                      detail={"from": before, "to": state, **(detail or {})}, clock=_at(now))
    return ids


def move_referral(session: Session, referral: Referral, target: str, *, actor: Principal, now: datetime, why: str,
                  hold_reason: str | None = None, closed_reason: str | None = None) -> None:
    """Move one referral to ``target``; closing records when and why, holding records why a person must decide."""
    referral_states.check_referral_transition(referral.id, referral.status, target)
    before = referral.status
    referral.status = target
    referral.hold_reason = hold_reason[:400] if target == "on_hold" and hold_reason else None
    if target == "closed":
        referral.closed_at, referral.closed_reason = now, (closed_reason or why)[:400]
    elif before == "closed":
        referral.closed_at, referral.closed_reason = None, None
    audit.record(session, actor, "transition", "referral", referral.id, practice_id=referral.practice_id,
                 detail={"from": before, "to": target, "why": why}, clock=_at(now))


def move_referrals(session: Session, referral_ids: Iterable[int], target: str, *, actor: Principal, now: datetime,
                   why: str, hold_reason: str | None = None, closed_reasons: dict[int, str] | None = None,
                   only_from: Iterable[str] | None = None) -> list[int]:
    """Move many referrals by id in one statement each way; returns the ids moved.

    With ``only_from``, referrals in other states are left as they are (not an error): the caller's query found
    candidates, this decides. Without it, a referral the table does not allow to move raises StateError.
    """
    wanted = sorted(set(referral_ids))
    current: dict[int, tuple[str, int]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        current.update((rid, (status, practice)) for rid, status, practice in session.execute(
            select(col(Referral.id), col(Referral.status), col(Referral.practice_id))
            .where(col(Referral.id).in_(chunk))))
    allowed = set(only_from) if only_from is not None else None
    moving: dict[str, list[int]] = {}
    for rid in wanted:
        if rid not in current:
            raise StateError(f"Referral {rid} does not exist.")
        status = current[rid][0]
        if allowed is not None and status not in allowed:
            continue
        referral_states.check_referral_transition(rid, status, target)
        moving.setdefault(status, []).append(rid)
    moved: list[int] = []
    for before, ids in sorted(moving.items()):
        values: list[dict[str, Any]] = []
        for rid in ids:
            row: dict[str, Any] = {"id": rid, "status": target,
                                   "hold_reason": hold_reason[:400] if target == "on_hold" and hold_reason else None}
            if target == "closed":
                row["closed_at"] = now
                row["closed_reason"] = ((closed_reasons or {}).get(rid) or why)[:400]
            elif before == "closed":
                row["closed_at"], row["closed_reason"] = None, None
            values.append(row)
        _update_by_id(session, values)
        audit.record_many(session, actor, "transition", "referral", [(rid, current[rid][1]) for rid in ids],
                          detail={"from": before, "to": target, "why": why}, clock=_at(now))
        moved += ids
    return sorted(moved)


def _update_by_id(session: Session, values: list[dict[str, Any]]) -> None:
    """One executemany per set of columns (ORM bulk update by primary key)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in values:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for rows in by_columns.values():
        session.execute(update(Referral), rows)


def create_referrals(session: Session, rows: Sequence[dict[str, Any]], statuses: Sequence[tuple[str, str | None]],
                     *, actor: Principal, now: datetime, detail: dict[str, Any] | None = None) -> list[int]:
    """Insert referrals, each created in its (status, hold reason); returns their ids in order.

    The creation is audited with each referral's status, so the audit trail starts every referral's life.
    """
    full = []
    for row, (status, hold_reason) in zip(rows, statuses, strict=True):
        referral_states.check_initial(status)
        full.append({**row, "status": status, "hold_reason": hold_reason[:400] if hold_reason else None})
    ids = insert_then_find(session, Referral, full, ("patient_id", "practice_id", "referral_date"))
    by_status: dict[str, list[tuple[object, int | None]]] = {}
    for rid, row in zip(ids, full, strict=True):
        by_status.setdefault(row["status"], []).append((rid, row["practice_id"]))
    for status, items in sorted(by_status.items()):
        audit.record_many(session, actor, "create", "referral", items, detail={"status": status, **(detail or {})},
                          clock=_at(now))
    return ids


def move_list_state(session: Session, referral: Referral, target: str, *, actor: Principal, now: datetime,
                    booked_for: date | None = None, note: str | None = None) -> None:
    """Record the booking team's step for a patient on the colonoscopy list (who, when, the date booked)."""
    referral_states.check_list_transition(referral.id, referral.list_state, target)
    before = referral.list_state
    referral.list_state, referral.list_state_at, referral.list_state_by = target, now, actor.username
    referral.list_booked_for = booked_for if target == "booked" else referral.list_booked_for
    referral.list_note = note[:400] if note else None
    detail: dict[str, Any] = {"from": before, "to": target}
    if booked_for is not None:
        detail["booked_for"] = booked_for.isoformat()
    if note:
        detail["note"] = note
    audit.record(session, actor, "list_state", "referral", referral.id, practice_id=referral.practice_id,
                 detail=detail, clock=_at(now))
