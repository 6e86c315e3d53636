"""Analyser results: journal the bytes, derive the measurements, match them to kits, gate them on QC.

``store_message`` is the analyser driver's sink: it runs in one transaction and returns only after the commit,
so the driver acknowledges the analyser's final frame only once the result is safe. A message seen again (the
analyser resends when an ACK is lost) stores nothing new: results are unique by instrument + specimen +
measurement time, and a result the analyser sent without any time is the same as one with the same instrument,
specimen and reading stored within ``RESEND_WINDOW``.

Problems are per result: a tube without a specimen ID, or with a value fit-lab cannot report as sent (``<=10``),
goes to the unmatched queue with the reason, and the rest of its message is stored as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

import labels
from analyser_drivers import (
    PROFILES,
    FitMeasurement,
    InstrumentProfile,
    Measurement,
    QcMeasurement,
    ReceivedMessage,
    measurements_from_message,
)
from analyser_drivers.errors import AnalyserDriverError
from fit_lab import kit_states
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import AnalyserSession, Kit, QcResult, Result
from fit_lab.principal import Principal
from fit_lab.qc.history import qc_gate, qc_window
from fit_lab.qc.westgard import QcTarget, evaluate
from fit_lab.qc.window import QcWindow
from fit_lab.services import audit, letters, lifecycle, outcomes
from fit_lab.settings import Settings

ANALYSER = Principal("analyser", "system")
TOO_OLD = "sample too old at analysis"
# A result without a measurement time cannot be told from its resent copy by time: the same instrument, specimen and
# reading stored this recently is taken as the same result. Analysers resend an unacknowledged message within
# seconds, or once the listener is back after a restart; a true re-test giving the identical reading is merged,
# which loses no information.
RESEND_WINDOW = timedelta(hours=1)


@dataclass
class StoredMessage:
    session_id: int | None
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    held: int = 0
    released: int = 0
    qc_stored: int = 0
    qc_failed: int = 0
    problems: list[str] = field(default_factory=list)


def _utc(measured_at: datetime | None, settings: Settings) -> datetime | None:
    if measured_at is None:
        return None
    if measured_at.tzinfo is None:
        measured_at = measured_at.replace(tzinfo=ZoneInfo(settings.analyser_timezone))
    return measured_at.astimezone(UTC)


def _journal(received: ReceivedMessage, profile: InstrumentProfile, port_url: str, now: datetime) -> AnalyserSession:
    raw = bytearray()
    journal: list[list[Any]] = []
    for chunk in received.transcript:
        journal.append([len(raw), chunk.direction, chunk.at])
        raw.extend(chunk.data)
    started = datetime.fromtimestamp(received.transcript[0].at, UTC) if received.transcript else now
    return AnalyserSession(instrument=profile.instrument, profile=profile.name, port_url=port_url[:200],
                           started_at=started, ended_at=now, raw_bytes=bytes(raw), journal=journal, message_count=1)


def qc_levels(profile_name: str, qc_targets: dict[tuple[str, str], QcTarget]) -> frozenset[str]:
    """The QC levels every run on this profile's analysers must include: those the lab set targets for."""
    return frozenset(level for name, level in qc_targets if name == profile_name)


def profile_for_method(method: str) -> InstrumentProfile | None:
    """The built-in profile whose results carry ``method`` (stored with every result)."""
    return next((p for p in PROFILES.values() if p.method == method), None)


def store_message(
    engine: Engine, received: ReceivedMessage, *, profile: InstrumentProfile, port_url: str, settings: Settings,
    qc_targets: dict[tuple[str, str], QcTarget], clock: Clock = system_clock,
) -> StoredMessage:
    now = clock()
    with transaction(engine) as session:
        journal = _journal(received, profile, port_url, now)
        try:
            measurements = measurements_from_message(profile, received.message)
        except AnalyserDriverError as exc:
            # Journaled and acknowledged: refusing would make the analyser resend the same unreadable message
            # for ever. The bytes stay in the journal for a scientist to replay.
            journal.problems = [{"kind": "unreadable_message", "detail": str(exc)}]
            session.add(journal)
            session.flush()
            audit.record(session, ANALYSER, "unreadable", "analyser_session", journal.id, detail={"why": str(exc)},
                         clock=clock)
            return StoredMessage(journal.id, problems=[str(exc)])
        journal.instrument = measurements[0].instrument[:60] if measurements else profile.instrument
        journal.problems = [{"kind": problem.kind, "detail": problem.detail, "result": position}
                            for position, item in enumerate(measurements, start=1) for problem in item.problems]
        session.add(journal)
        session.flush()
        report = StoredMessage(journal.id, problems=[p["detail"] for p in journal.problems])
        with audit.batched(session):
            batch = MessageBatch(session, measurements, profile=profile, journal_id=journal.id, settings=settings,
                                 levels=qc_levels(profile.name, qc_targets), report=report, now=now, clock=clock)
            run_z: list[float] = []
            for position, item in enumerate(measurements, start=1):
                if isinstance(item, QcMeasurement):
                    _store_qc(session, item, position, profile, journal.id, settings, qc_targets, run_z, report,
                              now)
                    batch.qc_stored()
                else:
                    batch.add(item, position)
            batch.finish()
            audit.record(session, ANALYSER, "create", "analyser_session", journal.id,
                         detail={k: v for k, v in report.__dict__.items() if isinstance(v, int) and v}, clock=clock)
        return report


def _placeholder_id(item: Measurement, position: int) -> str:
    """A stand-in for a missing specimen ID: the same for a resent copy of the message, different per tube."""
    content = "|".join([item.raw_value, item.raw_unit, item.error_code or "", item.lot, *item.flags])
    return f"(no ID) {position}/{hashlib.sha256(content.encode()).hexdigest()[:8]}"


def _resent(session: Session, model: type[Result] | type[QcResult], now: datetime, *conditions: Any) -> bool:
    """True when a result without a measurement time matches one stored within RESEND_WINDOW: the analyser
    sent the same message again (its ACK was lost, or the listener restarted before acknowledging)."""
    stored_at = col(model.stored_at)
    query = select(col(model.id)).where(*conditions, stored_at >= now - RESEND_WINDOW, stored_at <= now).limit(1)
    return session.execute(query).first() is not None


def _store_qc(session: Session, item: QcMeasurement, position: int, profile: InstrumentProfile,
              journal_id: int | None, settings: Settings, targets: dict[tuple[str, str], QcTarget],
              run_z: list[float], report: StoredMessage, now: datetime) -> None:
    material_id = (item.material_id or _placeholder_id(item, position))[:40]
    value = float(item.value_ug_per_g or 0)
    same = (col(QcResult.instrument) == item.instrument[:60], col(QcResult.material_id) == material_id)
    measured_at = _utc(item.measured_at, settings)
    if measured_at is None:
        if _resent(session, QcResult, now, *same, col(QcResult.value) == value):
            report.duplicates += 1
            return
        measured_at = now + timedelta(microseconds=position)  # two untimed results of one message stay distinct
    elif session.execute(select(col(QcResult.id)).where(*same, col(QcResult.measured_at) == measured_at)).first():
        report.duplicates += 1
        return
    target = targets.get((profile.name, item.level))
    rules: tuple[str, ...]
    if item.value_ug_per_g is None or target is None or item.problems:
        passed, rules = False, ("no_value" if item.value_ug_per_g is None else "no_target",)
    elif item.comparator != "=":
        # A censored QC value has no z-score: a negative control reading "<limit" is what it should do when its
        # target is below the limit; anything else censored is out of control.
        passed = item.comparator in ("<", "<=") and target.mean < value
        rules = () if passed else ("censored",)
    else:
        history = list(session.execute(
            select(col(QcResult.value))
            .where(col(QcResult.instrument) == item.instrument, col(QcResult.level) == item.level)
            .order_by(col(QcResult.measured_at).desc()).limit(9)
        ).scalars())[::-1]
        z = target.z(value)
        verdict = evaluate(z, [target.z(h) for h in history], run_z)
        run_z.append(z)
        passed, rules = verdict.passed, verdict.rules
    session.add(QcResult(analyser_session_id=journal_id, instrument=item.instrument[:60], method=item.method[:40],
                         lot=item.lot[:40] or None, material_id=material_id, level=item.level[:20],
                         value=value, unit="ug/g", measured_at=measured_at, stored_at=now, passed=passed,
                         rules_violated=list(rules)))
    session.flush()
    report.qc_stored += 1
    report.qc_failed += 0 if passed else 1


def _canonical(specimen_id: str) -> str | None:
    try:
        return labels.validate_specimen_id(specimen_id)
    except labels.LabelsError:
        return None


def _judge(kit: Kit | None) -> tuple[Kit | None, str | None]:
    """The kit a result belongs to, or why it cannot take one."""
    if kit is None:
        return None, "no kit has this specimen ID"
    if kit.state == "cancelled":
        return None, "the kit was voided"
    if kit.state in kit_states.NOT_YET_RECEIVED:
        return None, "the kit has not been received at reception"
    if kit.state != "received":
        return None, f"the kit is already {kit.state}"
    return kit, None


def _lock_kits(session: Session, specimen_ids: list[str]) -> list[Kit]:
    """The message's kits, locked until it commits (PostgreSQL; SQLite has one writer at a time).

    They are read once for the whole message, so a bench rejecting one of them meanwhile must wait and then see it
    analysed, rather than have its rejection overwritten. Locked in id order, as every other locker of kits does.
    """
    query = select(Kit).where(col(Kit.specimen_id).in_(specimen_ids)).order_by(col(Kit.id))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def _find_kit(session: Session, canonical: str) -> Kit | None:
    return session.execute(select(Kit).where(col(Kit.specimen_id) == canonical)).scalar_one_or_none()


def _refusal(item: FitMeasurement) -> str | None:
    """Why a result must wait for a person whatever its specimen ID says, or None."""
    if item.problems:
        return "; ".join(p.detail for p in item.problems)
    if item.comparator in ("<=", ">="):
        # fit-lab stores "<", "=" or ">" only, and "<=10" is not "<10": exactly 10 is positive (domain brief §2).
        return (f"the analyser reported {item.raw_value!r}, an inclusive bound that fit-lab cannot report as sent "
                "(exactly the bound may be positive): re-test the tube")
    return None


def _result_time(item: FitMeasurement, position: int, settings: Settings, now: datetime) -> datetime:
    """When the result was measured; one sent without a time gets the moment it was stored (distinct per tube: two
    untimed results of one message stay distinct)."""
    return _utc(item.measured_at, settings) or now + timedelta(microseconds=position)


def _new_result(item: FitMeasurement, specimen_id: str, measured_at: datetime, kit: Kit | None,
                unmatched: str | None, profile: InstrumentProfile, journal_id: int | None, now: datetime) -> Result:
    usable = item.comparator in ("<", "=", ">")
    return Result(
        kit_id=kit.id if kit else None, specimen_id=specimen_id, analyser_session_id=journal_id,
        instrument=item.instrument[:60], method=item.method[:40], lot=item.lot[:40] or None,
        comparator=item.comparator if usable else None,
        fhb_ug_per_g=float(item.value_ug_per_g) if item.value_ug_per_g is not None and usable else None,
        raw_value=item.raw_value[:40], raw_unit=item.raw_unit[:20] or profile.default_unit,
        error_code=item.error_code, measured_at=measured_at, stored_at=now, status="unmatched",
        unmatched_reason=unmatched[:200] if unmatched else None,
    )


class MessageBatch:
    """A message's patient results, stored in a handful of statements rather than about twenty per tube.

    One query each loads what the message's tubes need (their kits, the results already stored under their keys,
    the referral, patient and practice of each kit, and the analyser's QC for the message's time span). Each tube
    is then decided in order, in memory, exactly as ``_place`` decides one result, and the rows are written in
    phases: results, then the outcomes and letters of those released, then the audit rows; each phase is one
    INSERT (or one executemany UPDATE) for the whole message.

    The tubes are decided in arrival order and nothing a later tube depends on is deferred: a tube for a kit that
    an earlier tube of this message already placed waits until that result is written and reported (the kit's
    state then reads as it did when results were stored one by one); a tube without a time is checked against
    the table for a resend only after the earlier tubes are written; a QC tube stored mid-message makes the QC
    reload for the tubes after it.
    """

    def __init__(self, session: Session, measurements: list[Measurement], *, profile: InstrumentProfile,
                 journal_id: int | None, settings: Settings, levels: frozenset[str], report: StoredMessage,
                 now: datetime, clock: Clock) -> None:
        self.session, self.profile, self.journal_id, self.settings = session, profile, journal_id, settings
        self.levels, self.report, self.now, self.clock = levels, report, now, clock
        self.max_age = timedelta(hours=settings.qc_max_age_hours)
        self.staged: list[Result] = []  # written at the next drain
        self.released: list[tuple[Result, Kit]] = []  # reported at the next drain
        self.placed: set[int | None] = set()  # kits given a result since the last drain
        self.windows: dict[str, QcWindow] = {}
        tubes = [(p, item) for p, item in enumerate(measurements, start=1) if isinstance(item, FitMeasurement)]
        self.span: dict[str, tuple[datetime, datetime]] = {}
        for position, item in tubes:
            at = _result_time(item, position, settings, now)
            first, last = self.span.get(item.instrument[:60], (at, at))
            self.span[item.instrument[:60]] = (min(first, at), max(last, at))
        self.seen = self._stored_keys(tubes)
        wanted = {c for c in (_canonical(item.specimen_id) for _, item in tubes if item.specimen_id) if c}
        self.kits = {k.specimen_id: k for k in _lock_kits(session, sorted(wanted))} if wanted else {}
        letters.load_contexts(session, [k.referral_id for k in self.kits.values() if k.state == "received"])

    def _stored_keys(self, tubes: list[tuple[int, FitMeasurement]]) -> set[tuple[str, str, datetime]]:
        """(instrument, specimen ID, measured at) of the results already stored for the message's timed tubes."""
        timed = [(item.instrument[:60], (item.specimen_id or _placeholder_id(item, p))[:40])
                 for p, item in tubes if item.measured_at is not None]
        if not timed:
            return set()
        rows = self.session.execute(
            select(col(Result.instrument), col(Result.specimen_id), col(Result.measured_at))
            .where(col(Result.instrument).in_(sorted({i for i, _ in timed})),
                   col(Result.specimen_id).in_(sorted({s for _, s in timed}))))
        return {(row[0], row[1], row[2]) for row in rows}

    def add(self, item: FitMeasurement, position: int) -> None:
        report = self.report
        instrument = item.instrument[:60]
        specimen_id = (item.specimen_id or _placeholder_id(item, position))[:40]
        if item.measured_at is None:
            self._drain()  # the resend check asks the table, which must already hold this message's earlier tubes
            error_code = col(Result.error_code)
            error = error_code.is_(None) if item.error_code is None else error_code == item.error_code
            if _resent(self.session, Result, self.now, col(Result.instrument) == instrument,
                       col(Result.specimen_id) == specimen_id, col(Result.raw_value) == item.raw_value[:40], error):
                report.duplicates += 1
                return
        measured_at = _result_time(item, position, self.settings, self.now)
        key = (instrument, specimen_id, measured_at)
        if item.measured_at is not None and key in self.seen:
            report.duplicates += 1
            return
        self.seen.add(key)
        refused = _refusal(item)
        kit, unmatched = (None, refused) if refused else self._match(item.specimen_id)
        result = _new_result(item, specimen_id, measured_at, kit, unmatched, self.profile, self.journal_id, self.now)
        self.session.add(result)
        self.staged.append(result)
        report.stored += 1
        if kit is None:
            report.unmatched += 1
            return
        self.placed.add(kit.id)
        if _decide(self.session, result, kit, self.settings, ANALYSER, self.now, self.clock, profile=self.profile,
                   qc_hold=lambda: self._qc_hold(result)):
            report.released += 1
            self.released.append((result, kit))
        else:
            report.held += 1

    def _match(self, specimen_id: str) -> tuple[Kit | None, str | None]:
        canonical = _canonical(specimen_id)
        if canonical is None:
            return None, "the specimen ID is not a valid fit-lab ID (misread by the analyser?)"
        kit = self.kits.get(canonical) or _find_kit(self.session, canonical)
        if kit is not None and kit.id in self.placed:
            self._drain()  # the earlier result for this kit is reported first, as when results were stored one by one
        return _judge(kit)

    def _qc_hold(self, result: Result) -> str | None:
        instrument, measured_at = result.instrument, result.measured_at
        window = self.windows.get(instrument)
        if window is None or not window.covers(measured_at):
            first, last = self.span.get(instrument, (measured_at, measured_at))
            with self.session.no_autoflush:  # QC rows are flushed as they are stored; the staged tubes wait
                window = self.windows[instrument] = qc_window(
                    self.session, instrument, min(first, measured_at), max(last, measured_at), self.max_age)
        return window.hold_reason(measured_at, self.levels, self.max_age)

    def qc_stored(self) -> None:
        """A QC tube of this message was stored: the tubes after it are judged with it."""
        self.windows.clear()

    def _drain(self) -> None:
        """Write the staged results, report those released (outcome and letter), then audit each result."""
        if not self.staged:
            return
        self.session.flush()  # the results' ids, which their outcomes and audit rows name
        outcomes.report_new_results(self.session, self.released, actor=ANALYSER, settings=self.settings, now=self.now)
        for result in self.staged:
            audit.record(self.session, ANALYSER, "create", "result", result.id,
                         detail={"status": result.status, "kit_id": result.kit_id,
                                 "why": result.unmatched_reason or result.held_reason}, clock=self.clock)
        self.staged, self.released, self.placed = [], [], set()

    def finish(self) -> None:
        self._drain()


def sample_age_problem(kit: Kit, result: Result, profile: InstrumentProfile | None, settings: Settings) -> str | None:
    """Why the sample was too old when measured (domain brief §4: the analyser profile's stability), or None."""
    days = profile.sample_stability_days if profile else settings.sample_stability_days
    if kit.collection_date is None:
        return "the collection date is unknown, so the sample's age at analysis cannot be checked"
    measured_on = result.measured_at.astimezone(ZoneInfo(settings.analyser_timezone)).date()
    age = (measured_on - kit.collection_date).days
    too_old = profile.sample_too_old(kit.collection_date, measured_on) if profile else age > days
    if not too_old:
        return None
    return (f"{TOO_OLD} (measured {age} days after collection on {kit.collection_date:%d %b %Y}; "
            f"stability is {days} days)")


def _decide(session: Session, result: Result, kit: Kit, settings: Settings, actor: Principal, now: datetime,
            clock: Clock, *, profile: InstrumentProfile | None, qc_hold: Callable[[], str | None]) -> bool:
    """Hold a matched result, or mark it released (True); reporting a released one is the caller's next step.

    A sample too old at analysis leaves its kit received (not analysed): the scientist either releases the result
    or rejects the kit as too old, which sends a replacement (``result_review.reject_too_old``).
    """
    result.kit_id, result.unmatched_reason = kit.id, None
    too_old = sample_age_problem(kit, result, profile, settings)
    if too_old is None:
        lifecycle.move_kit(session, kit, "analysed", actor=actor, now=now, analysed_at=now)
    hold = "; ".join(reason for reason in (too_old, qc_hold()) if reason)
    if hold:
        result.status, result.held_reason = "held", hold[:200]
        return False
    _mark_released(session, result, kit, actor, now, clock, automatic=True)
    return True


def _place(session: Session, result: Result, kit: Kit, settings: Settings, report: StoredMessage | None,
           actor: Principal, now: datetime, clock: Clock, *, profile: InstrumentProfile | None,
           qc_levels: Collection[str]) -> None:
    """A matched result is released, with its outcome and letter, unless QC or the sample's age says hold."""
    released = _decide(session, result, kit, settings, actor, now, clock, profile=profile,
                       qc_hold=lambda: qc_gate(session, result.instrument, result.measured_at, settings, qc_levels))
    if released:
        outcomes.report_result(session, result, kit, actor=actor, settings=settings, now=now)
    if report:
        report.released += 1 if released else 0
        report.held += 0 if released else 1


def _mark_released(session: Session, result: Result, kit: Kit, actor: Principal, now: datetime, clock: Clock, *,
                   automatic: bool) -> None:
    result.status, result.released_at, result.released_by = "released", now, actor.username
    lifecycle.move_kit(session, kit, "resulted", actor=actor, now=now,
                       why="released automatically" if automatic else "released by a scientist")


def release(session: Session, result: Result, kit: Kit, actor: Principal, now: datetime, clock: Clock,
            settings: Settings, *, automatic: bool) -> None:
    """Release, then triage and write the GP's letter in the same transaction (nobody waits for a batch job)."""
    _mark_released(session, result, kit, actor, now, clock, automatic=automatic)
    outcomes.report_result(session, result, kit, actor=actor, settings=settings, now=now)
