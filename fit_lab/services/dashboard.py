"""The lab dashboard: how many kits, referrals and results wait at each step, and the list behind each count.

Each tile is one set-based query of a common shape (referral id, specimen ID, state, since, note), so a count
and the list it links to can never disagree. All counts are read in one round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, literal, null, select, union_all
from sqlalchemy.engine import Engine

from fit_lab import kit_states
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Kit, Referral, Result
from fit_lab.errors import NotFound
from fit_lab.principal import Principal
from fit_lab.services import audit, failsafe
from fit_lab.settings import Settings

# "Today" at the bench is the lab's local day, not UTC's (an English lab: BST is UTC+1 from March to October).
LAB_TIMEZONE = ZoneInfo("Europe/London")

# A query for one tile: given the time now and the settings, rows of the LIST_COLUMNS shape.
TileQuery = Callable[[datetime, Settings], Select]  # type: ignore[type-arg]
LIST_COLUMNS = ("referral_id", "specimen_id", "state", "since", "note")


@dataclass(frozen=True)
class Tile:
    name: str
    label: str
    description: str
    count: int


@dataclass(frozen=True)
class ListRow:
    referral_id: int | None
    specimen_id: str | None
    state: str
    since: datetime | date | None
    note: str | None


@dataclass(frozen=True)
class TileList:
    tile: Tile
    rows: list[ListRow]


def _rows(referral_id, specimen_id, state, since, note) -> Select:  # type: ignore[no-untyped-def,type-arg]
    return select(referral_id.label("referral_id"), specimen_id.label("specimen_id"), state.label("state"),
                  since.label("since"), note.label("note"))


def _awaiting_dispatch(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    referrals = _rows(Referral.id, null(), Referral.status, Referral.received_at, null()).where(
        Referral.status == "awaiting_kit")
    # Replacement kits allocated at reception wait for the next batch with their IDs already given.
    replacements = _rows(Kit.referral_id, Kit.specimen_id, Kit.state, Kit.allocated_at,
                         literal("replacement kit")).where(Kit.state == "allocated", Kit.dispatch_batch_id.is_(None))
    return union_all(referrals, replacements)  # type: ignore[return-value]


def _in_the_post(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    return _rows(Kit.referral_id, Kit.specimen_id, Kit.state, Kit.dispatched_at, null()).where(
        Kit.state.in_(kit_states.WITH_PATIENT))


def _received_today(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    midnight = datetime.combine(now.astimezone(LAB_TIMEZONE).date(), time(), LAB_TIMEZONE)
    return _rows(Kit.referral_id, Kit.specimen_id, Kit.state, Kit.received_at, Kit.reject_reason).where(
        Kit.received_at >= midnight)


def _awaiting_analysis(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    return _rows(Kit.referral_id, Kit.specimen_id, Kit.state, Kit.received_at, Kit.collection_date).where(
        Kit.state == "received")


def _results(status: str, reason_column) -> TileQuery:  # type: ignore[no-untyped-def]
    def query(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
        return (_rows(Kit.referral_id, Result.specimen_id, Result.status, Result.measured_at, reason_column)
                .select_from(Result).outerjoin(Kit, Kit.id == Result.kit_id).where(Result.status == status))
    return query


def _red_flags(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    return _rows(Referral.id, null(), Referral.status, Referral.received_at,
                 literal("referred without FIT: GP told to refer now")).where(Referral.status == "red_flag")


# Tiles worked out by the failsafe's own rules (one place per rule): every overdue item and every open alert.
ComputedTile = Callable[[Engine, datetime, Settings], list["ListRow"]]


def _overdue_rows(engine: Engine, now: datetime, settings: Settings) -> list[ListRow]:
    return [ListRow(o.referral_id, o.specimen_id, o.state, o.since,
                    f"{o.days_overdue} days overdue (due {o.due:%d %b %Y})")
            for o in failsafe.overdue(engine, now.date(), settings)]


def _alert_rows(engine: Engine, now: datetime, settings: Settings) -> list[ListRow]:
    return [ListRow(a.referral_id, a.specimen_id or None, a.kind, a.since or a.due, a.message)
            for a in failsafe.open_alerts(engine, settings=settings, clock=lambda: now)]


@dataclass(frozen=True)
class _TileSpec:
    label: str
    description: str
    query: TileQuery


TILES: dict[str, _TileSpec] = {
    "awaiting_dispatch": _TileSpec("Awaiting dispatch", "Referrals waiting for a kit, and replacement kits",
                                   _awaiting_dispatch),
    "in_the_post": _TileSpec("In the post", "Kits sent and not yet back (including reminded)", _in_the_post),
    "received_today": _TileSpec("Received today", "Kits scanned in at reception today, including rejected ones",
                                _received_today),
    "awaiting_analysis": _TileSpec("Awaiting analysis", "Kits received and not yet analysed", _awaiting_analysis),
    "held_by_qc": _TileSpec("Held by QC", "Results held until quality control allows release",
                            _results("held", Result.held_reason)),
    "unmatched_results": _TileSpec("Unmatched results", "Analyser results that match no kit",
                                   _results("unmatched", Result.unmatched_reason)),
    "red_flags": _TileSpec("Red flags", "Referred at once without FIT (rectal or anal mass, anal ulceration)",
                           _red_flags),
}
COMPUTED: dict[str, tuple[str, str, ComputedTile]] = {
    "alerts": ("Failsafe alerts", "Open alerts: unmatched results, letters not acknowledged, results held or late",
               _alert_rows),
    "overdue": ("Overdue", "Items past their target time in any state: act on these first", _overdue_rows),
}


@dataclass(frozen=True)
class FailsafeStatus:
    """When the failsafe last ran and what it did (counts only)."""

    ran_at: datetime | None
    day: date | None
    trigger: str | None
    worker: str | None
    summary: dict[str, Any]


def failsafe_status(engine: Engine) -> FailsafeStatus:
    run = failsafe.last_run(engine)
    if run is None:
        return FailsafeStatus(None, None, None, None, {})
    return FailsafeStatus(run.finished_at, run.day, run.trigger, run.worker, dict(run.summary))


def tiles(engine: Engine, *, settings: Settings, clock: Clock = system_clock) -> list[Tile]:
    """Every tile's count, in one round trip. Counts only: no patient data, so not audited."""
    now = clock()
    counts = [select(func.count()).select_from(spec.query(now, settings).subquery()).scalar_subquery()
              for spec in TILES.values()]
    with transaction(engine) as session:
        values = session.execute(select(*counts)).one()
    computed = [Tile(name, label, description, len(rows(engine, now, settings)))
                for name, (label, description, rows) in COMPUTED.items()]
    return [Tile(name, spec.label, spec.description, int(value))
            for (name, spec), value in zip(TILES.items(), values, strict=True)] + computed


def tile_list(engine: Engine, name: str, *, actor: Principal, settings: Settings, limit: int,
              clock: Clock = system_clock) -> TileList:
    """The rows behind one tile, oldest first (at most ``limit``); the read is audited."""
    now = clock()
    if name in COMPUTED:
        label, description, rows_of = COMPUTED[name]
        every = rows_of(engine, now, settings)
        with transaction(engine) as session:
            audit.record(session, actor, "read", "dashboard_list", name,
                         detail={"rows": min(len(every), limit), "total": len(every)}, clock=clock)
        return TileList(Tile(name, label, description, len(every)), every[:limit])
    spec = TILES.get(name)
    if spec is None:
        raise NotFound("dashboard list", name)
    query = spec.query(now, settings).subquery()
    with transaction(engine) as session:
        total = session.execute(select(func.count()).select_from(query)).scalar_one()
        found = session.execute(
            select(query).order_by(query.c.since, query.c.referral_id, query.c.specimen_id).limit(limit)
        ).all()
        audit.record(session, actor, "read", "dashboard_list", name, detail={"rows": len(found), "total": total},
                     clock=clock)
    rows = [ListRow(r.referral_id, r.specimen_id, r.state, r.since, None if r.note is None else str(r.note))
            for r in found]
    return TileList(Tile(name, spec.label, spec.description, int(total)), rows)
