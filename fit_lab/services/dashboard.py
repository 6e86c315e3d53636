"""The lab dashboard: how many kits, referrals and results wait at each step, and the list behind each count.

Each tile is one set-based query of a common shape (referral id, specimen ID, state, since, note), so a count
and the list it links to can never disagree. All counts are read in one round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, literal, null, select, union_all
from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Kit, Referral, Result
from fit_lab.errors import NotFound
from fit_lab.principal import Principal
from fit_lab.services import audit
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
        Kit.state.in_(("dispatched", "reminded")))


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


def _received_not_analysed(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    limit = now - timedelta(days=settings.analysis_target_days)
    return _rows(Kit.referral_id, Kit.specimen_id, Kit.state, Kit.received_at,
                 literal(f"not analysed within {settings.analysis_target_days} days of receipt")).where(
        Kit.state == "received", Kit.received_at < limit)


# The seam for the failsafe (issue 6): each rule is a TileQuery of the LIST_COLUMNS shape naming one kind of
# overdue item (kits not returned, results not reported, referrals held too long...). Add the failsafe's rules to
# this tuple; the overdue count and its list are the union of all of them.
OVERDUE_RULES: tuple[TileQuery, ...] = (_received_not_analysed,)


def _overdue(now: datetime, settings: Settings) -> Select:  # type: ignore[type-arg]
    queries = [rule(now, settings) for rule in OVERDUE_RULES]
    return queries[0] if len(queries) == 1 else union_all(*queries)  # type: ignore[return-value]


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
    "overdue": _TileSpec("Overdue", "Items past their target time: act on these first", _overdue),
}


def tiles(engine: Engine, *, settings: Settings, clock: Clock = system_clock) -> list[Tile]:
    """Every tile's count, in one round trip. Counts only: no patient data, so not audited."""
    now = clock()
    counts = [select(func.count()).select_from(spec.query(now, settings).subquery()).scalar_subquery()
              for spec in TILES.values()]
    with transaction(engine) as session:
        values = session.execute(select(*counts)).one()
    return [Tile(name, spec.label, spec.description, int(value))
            for (name, spec), value in zip(TILES.items(), values, strict=True)]


def tile_list(engine: Engine, name: str, *, actor: Principal, settings: Settings, limit: int,
              clock: Clock = system_clock) -> TileList:
    """The rows behind one tile, oldest first (at most ``limit``); the read is audited."""
    spec = TILES.get(name)
    if spec is None:
        raise NotFound("dashboard list", name)
    now = clock()
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
