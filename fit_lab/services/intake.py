"""Referral intake: one referral from the API, or a CSV batch from the API or the command line.

Every good row is stored once, every bad row is kept (intake_rejection) and reported with its row number,
field and reason. Re-submitting a referral (same practice + external_ref, or same NHS number + practice +
referral date) stores nothing and says so; a practice reference already used for a different patient is
refused. A patient with a kit already in flight is put on hold for a person, not sent a second kit, even when
two referrals for the patient arrive at the same moment (the patient row is locked; a lost race is retried).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from fit_lab import referral_states
from fit_lab.clock import Clock, system_clock
from fit_lab.db.bulk import insert_then_find
from fit_lab.db.engine import transaction
from fit_lab.db.models import ImportBatch, IntakeRejection, Patient, Practice, Referral
from fit_lab.errors import FieldProblem, Forbidden, ValidationError
from fit_lab.intake import fields
from fit_lab.intake.csv_rows import ROW_NUMBERING, read_referral_csv
from fit_lab.intake.validate import ReferralInput, validate_referral
from fit_lab.logs import get_logger
from fit_lab.principal import Principal
from fit_lab.services import audit, deprivation, identity, lifecycle, outcomes
from fit_lab.services.referrals import for_update
from fit_lab.settings import Settings, get_settings

__all__ = ["ROW_NUMBERING", "ImportReport", "RowOutcome", "create_referral", "import_csv"]

log = get_logger("fit_lab.intake")
_CHUNK = 900
RED_FLAG_MESSAGE = ("RED FLAG: refer now on the suspected lower-GI cancer pathway; no FIT kit will be sent "
                    "(the GP's letter says so)")
# Two intakes racing for one patient (or one new NHS number) on PostgreSQL: the loser's insert fails on a unique
# key, or the database breaks a deadlock; the whole unit of work is run again and then sees the winner's rows, so
# the loser's referral ends "duplicate" or "on hold" instead of a server error. Bounded: a real fault still raises.
_ATTEMPTS = 4
_RACE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
_PATIENT_FIELDS = (
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "ethnicity_code",
)


@dataclass
class RowOutcome:
    row: int | None
    status: str  # accepted | duplicate | rejected
    referral_id: int | None = None
    on_hold: bool = False
    red_flag: bool = False
    message: str | None = None
    problems: list[FieldProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "status": self.status, "referral_id": self.referral_id}
        if self.on_hold:
            out["on_hold"] = True
        if self.red_flag:
            out["red_flag"] = True
        if self.message:
            out["message"] = self.message
        if self.problems:
            out["problems"] = [p.as_dict() for p in self.problems]
        return out


@dataclass
class ImportReport:
    import_batch_id: int | None
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    on_hold: int
    outcomes: list[RowOutcome]
    red_flags: int = 0

    def rejected_rows(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.status == "rejected"]

    def duplicate_rows(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.status == "duplicate"]


def import_csv(
    engine: Engine,
    data: bytes,
    *,
    filename: str,
    source: str,
    actor: Principal,
    clock: Clock = system_clock,
    settings: Settings | None = None,
) -> ImportReport:
    """A CSV batch. Each row is numbered by the line it starts on in the file (``ROW_NUMBERING``)."""
    parsed = read_referral_csv(data)
    refused = [(row.line, row.values, [problem]) for row, problem in parsed.malformed]
    return _intake(
        engine,
        [(row.line, row.values) for row in parsed.rows],
        actor=actor,
        source=source,
        clock=clock,
        batch=(filename, hashlib.sha256(data).hexdigest()),
        refused=refused,
        settings=settings or get_settings(),
    )


def create_referral(
    engine: Engine, raw: Mapping[str, Any], *, actor: Principal, clock: Clock = system_clock,
    settings: Settings | None = None,
) -> RowOutcome:
    """One referral. ``settings`` (the policies that decide red flags, the letters' lab details) default to the
    environment's for callers outside the service (scripts, tests)."""
    report = _intake(engine, [(None, dict(raw))], actor=actor, source="api", clock=clock, batch=None,
                     settings=settings or get_settings())
    outcome = report.outcomes[0]
    if outcome.status == "rejected":
        raise ValidationError(outcome.problems)
    return outcome


def _intake(
    engine: Engine,
    numbered_rows: list[tuple[int | None, dict[str, Any]]],
    *,
    actor: Principal,
    source: str,
    clock: Clock,
    batch: tuple[str, str] | None,
    settings: Settings,
    refused: list[tuple[int, dict[str, Any], list[FieldProblem]]] | None = None,
) -> ImportReport:
    now = clock()
    outcomes: list[RowOutcome] = []
    good: list[_Good] = []
    invalid: list[tuple[RowOutcome, dict[str, Any]]] = []
    for row_number, raw, problems in refused or []:
        outcome = RowOutcome(row=row_number, status="rejected", problems=problems)
        outcomes.append(outcome)
        invalid.append((outcome, raw))
    for row_number, raw in numbered_rows:
        checked = validate_referral(raw, today=now.date(), row=row_number)
        outcome = RowOutcome(row=row_number, status="pending")
        outcomes.append(outcome)
        if isinstance(checked, list):
            outcome.status, outcome.problems = "rejected", checked
            invalid.append((outcome, raw))
        else:
            good.append(_Good(outcome, checked, raw))
    outcomes.sort(key=lambda o: o.row or 0)
    for attempt in range(1, _ATTEMPTS + 1):
        for item in good:
            item.outcome.status, item.outcome.problems, item.outcome.referral_id = "pending", [], None
            item.outcome.on_hold, item.outcome.red_flag, item.outcome.message = False, False, None
        for outcome, _ in invalid:
            outcome.message = None
        try:
            batch_id = _store(engine, outcomes, good, invalid, actor=actor, source=source, clock=clock,
                              batch=batch, now=now, settings=settings)
            break
        except DBAPIError as exc:
            if attempt == _ATTEMPTS or not _lost_race(exc):
                raise
            log.info("intake_race_retry", attempt=attempt, error=type(exc.orig).__name__)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("accepted", "duplicate", "rejected")}
    on_hold = sum(1 for o in outcomes if o.on_hold)
    return ImportReport(batch_id, len(outcomes), counts["accepted"], counts["duplicate"], counts["rejected"],
                        on_hold, outcomes, sum(1 for o in outcomes if o.red_flag))


@dataclass
class _Good:
    """A row that passed validation; the database decides whether it is stored, a duplicate, or refused."""

    outcome: RowOutcome
    referral: ReferralInput
    raw: dict[str, Any]


def _lost_race(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RACE_SQLSTATES


def _store(
    engine: Engine,
    outcomes: list[RowOutcome],
    good: list[_Good],
    invalid: list[tuple[RowOutcome, dict[str, Any]]],
    *,
    actor: Principal,
    source: str,
    clock: Clock,
    batch: tuple[str, str] | None,
    now: datetime,
    settings: Settings,
) -> int | None:
    """One unit of work: store the good rows, keep the bad ones, count them on the import batch."""
    with transaction(engine) as session:
        batch_id = _start_batch(session, batch, source, actor, now)
        practices = _practices(session, {item.referral.practice_ods for item in good})
        rejected = list(invalid)
        still_good = []
        for item in good:
            problem = _practice_problem(item.referral.practice_ods, practices, actor, item.outcome.row)
            if problem:
                item.outcome.status, item.outcome.problems = "rejected", [problem]
                rejected.append((item.outcome, item.raw))
            else:
                still_good.append(item)
        rejected += _store_accepted(session, still_good, practices, actor, source, batch_id, now, clock, settings)
        _store_rejections(session, rejected, batch_id, source, actor, now, clock)
        counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("accepted", "duplicate", "rejected")}
        if batch_id is not None:
            session.execute(
                update(ImportBatch)
                .where(ImportBatch.id == batch_id)  # type: ignore[arg-type]
                .values(rows_total=len(outcomes), accepted=counts["accepted"], duplicates=counts["duplicate"],
                        rejected=counts["rejected"])
            )
            audit.record(session, actor, "import", "import_batch", batch_id, detail=counts, clock=clock)
    return batch_id


def _start_batch(
    session: Session, batch: tuple[str, str] | None, source: str, actor: Principal, now: datetime
) -> int | None:
    if batch is None:
        return None
    filename = "".join(ch for ch in batch[0] if ch.isprintable())[:255] or "upload.csv"
    record = ImportBatch(filename=filename, sha256=batch[1], source=source, uploaded_by=actor.username,
                         created_at=now)
    session.add(record)
    session.flush()
    return record.id


def _practices(session: Session, ods_codes: set[str]) -> dict[str, int]:
    if not ods_codes:
        return {}
    rows = session.execute(select(Practice.ods_code, Practice.id).where(Practice.ods_code.in_(sorted(ods_codes))))
    return {code: pid for code, pid in rows}


def _practice_problem(
    ods: str, practices: dict[str, int], actor: Principal, row: int | None
) -> FieldProblem | None:
    if ods not in practices:
        return FieldProblem("practice_ods", f"{ods} is not a practice known to the lab", row)
    if actor.is_gp and practices[ods] != actor.practice_id:
        return FieldProblem("practice_ods", "a GP can refer only for their own practice", row)
    if actor.role not in {"gp", "lab", "admin"}:
        raise Forbidden()
    return None


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _store_accepted(
    session: Session,
    rows: list[_Good],
    practices: dict[str, int],
    actor: Principal,
    source: str,
    batch_id: int | None,
    now: datetime,
    clock: Clock,
    settings: Settings,
) -> list[tuple[RowOutcome, dict[str, Any]]]:
    """Store the rows that are new referrals; returns the rows refused here (a reference naming another patient).

    A referral with a do-not-wait flag of a policy in force (NICE DG56 1.1) is created ``red_flag``: never posted a
    kit, referred now with its outcome and the GP's letter written in this same transaction.

    The patients are locked first (PostgreSQL), so every later read in this unit of work (earlier referrals,
    referrals still open) sees what a concurrent intake for the same patient committed before it.
    """
    if not rows:
        return []
    patients = _existing_patients(session, {item.referral.nhs_number for item in rows})
    depriv = deprivation.lookup(session, {item.referral.postcode for item in rows})
    by_ref, by_date = _existing_referral_keys(session, rows, practices, patients)
    open_patients = _patients_with_open_referrals(session, [p["id"] for p in patients.values()])
    referring = identity.referring_practices(session, [p["id"] for p in patients.values()])
    differences: list[identity.PendingChange] = []

    new_patients: dict[str, dict[str, Any]] = {}
    changed_patients: dict[int, dict[str, Any]] = {}
    pending: list[tuple[RowOutcome, ReferralInput, int]] = []
    refused: list[tuple[RowOutcome, dict[str, Any]]] = []
    for item in rows:
        outcome, r = item.outcome, item.referral
        practice_id = practices[r.practice_ods]
        existing = patients.get(r.nhs_number)
        ref_key = (practice_id, r.external_ref) if r.external_ref else None
        date_key = (r.nhs_number, practice_id, r.referral_date)
        if ref_key and ref_key in by_ref and by_ref[ref_key][1] != r.nhs_number:
            outcome.status = "rejected"
            outcome.problems = [_reference_taken(r, by_ref[ref_key][0], outcome.row)]
            refused.append((outcome, item.raw))
            continue
        if (ref_key and ref_key in by_ref) or date_key in by_date:
            earlier = by_ref[ref_key][0] if ref_key and ref_key in by_ref else None
            earlier = earlier or by_date.get(date_key)
            outcome.status, outcome.referral_id = "duplicate", earlier
            outcome.message = "already received: nothing stored" + (
                f" (referral {earlier})" if earlier else " (earlier row of this file)"
            )
            continue
        if ref_key:
            by_ref[ref_key] = (None, r.nhs_number)
        by_date[date_key] = None
        values = _patient_values(r, practice_id, depriv[r.postcode.replace(" ", "")], now)
        stored = existing if existing is not None else new_patients.get(r.nhs_number)
        if stored is None:
            new_patients[r.nhs_number] = values
        elif identity.differs(stored, values):
            in_place = existing is not None and identity.may_change_in_place(
                existing, practice_id, referring.get(existing["id"], set()))
            if in_place:
                changed_patients[existing["id"]] = values  # type: ignore[index]
            differences.append(identity.PendingChange("applied" if in_place else "pending", r.nhs_number,
                                                      practice_id, dict(stored), values, len(pending)))
        outcome.status = "accepted"
        pending.append((outcome, r, practice_id))

    # Sorted by NHS number: two intakes inserting overlapping new patients wait for each other in one order.
    ids = _insert_patients(session, [new_patients[nhs] for nhs in sorted(new_patients)])
    for patient_id, values in changed_patients.items():
        session.execute(update(Patient).where(Patient.id == patient_id).values(  # type: ignore[arg-type]
            {k: v for k, v in values.items() if k != "created_at"}))
    patient_id_of = {nhs: p["id"] for nhs, p in patients.items()} | ids

    policy_set = outcomes.policies(settings)
    referral_rows, statuses, red_flags = [], [], []
    held_for_identity = {c.referral_index for c in differences if c.status == "pending"}
    for index, (outcome, r, practice_id) in enumerate(pending):
        patient_id = patient_id_of[r.nhs_number]
        in_flight = open_patients.get(patient_id)
        red_flag = policy_set.refer_without_fit(outcomes.facts_for(r), now.date())
        status, hold_reason = "awaiting_kit", None
        if red_flag is not None:
            status, outcome.red_flag, outcome.message = "red_flag", True, RED_FLAG_MESSAGE
            red_flags.append((index, red_flag))
        elif in_flight is not None:
            status = "on_hold"
            hold_reason = f"patient already has referral {in_flight} open with a kit requested or in flight"
            outcome.on_hold, outcome.message = True, hold_reason
        else:
            open_patients[patient_id] = -1  # a later row of this file for the same patient is held too
        # A red flag is referred now whatever: a demographics difference still waits for a person beside it.
        if index in held_for_identity and status != "red_flag":
            status = "on_hold"
            hold_reason = f"{hold_reason}; {identity.HOLD_REASON}" if hold_reason else identity.HOLD_REASON
            outcome.on_hold, outcome.message = True, hold_reason
        statuses.append((status, hold_reason))
        referral_rows.append(_referral_values(r, practice_id, patient_id, in_flight, source, batch_id, actor, now))
    audit.record_many(session, actor, "create", "patient", [(i, None) for i in ids.values()], clock=clock)
    audit.record_many(session, actor, "update", "patient", [(i, None) for i in changed_patients], clock=clock)
    referral_ids = lifecycle.create_referrals(session, referral_rows, statuses, actor=actor, now=now,
                                              detail={"source": source, "import_batch_id": batch_id})
    for (outcome, _, _), referral_id in zip(pending, referral_ids, strict=True):
        outcome.referral_id = referral_id
    identity.record_changes(session, differences, patient_id_of, referral_ids, actor=actor, now=now, clock=clock)
    _tell_gp_nothing_of_other_practices(session, actor, pending, referral_rows, statuses, referral_ids)
    outcomes.report_red_flags(session, [(referral_ids[index], decision) for index, decision in red_flags],
                              actor=actor, settings=settings, now=now)
    return refused


def _tell_gp_nothing_of_other_practices(
    session: Session,
    actor: Principal,
    pending: list[tuple[RowOutcome, ReferralInput, int]],
    referral_rows: list[dict[str, Any]],
    statuses: list[tuple[str, str | None]],
    referral_ids: list[int],
) -> None:
    """A GP's referral held because of another practice is answered like any accepted referral (no oracle)."""
    if not actor.is_gp:
        return
    held = [(rid, row["practice_id"], row["related_referral_id"])
            for rid, row, (status, _) in zip(referral_ids, referral_rows, statuses, strict=True)
            if status == "on_hold"]
    masked = identity.held_for_another_practice(session, held)
    for (outcome, _, _), rid in zip(pending, referral_ids, strict=True):
        if rid in masked:
            outcome.on_hold, outcome.message = False, None


def _reference_taken(r: ReferralInput, earlier: int | None, row: int | None) -> FieldProblem:
    """A practice's reference names one referral of one patient; reused for another patient it is an error."""
    where = f"referral {earlier}" if earlier else "an earlier row of this file"
    return FieldProblem(
        "external_ref",
        f"'{r.external_ref}' already identifies {where} of a different patient at practice {r.practice_ods}; "
        "a practice's reference must name one referral (check the reference and the NHS number)",
        row,
    )


def _existing_patients(session: Session, nhs_numbers: set[str]) -> dict[str, dict[str, Any]]:
    """The patients already known, locked (in NHS-number order, so two intakes never deadlock on them)."""
    out: dict[str, dict[str, Any]] = {}
    cols = [Patient.id, Patient.nhs_number, Patient.practice_id, *[getattr(Patient, f) for f in _PATIENT_FIELDS]]
    for chunk in _chunks(sorted(nhs_numbers)):
        query = select(*cols).where(Patient.nhs_number.in_(chunk)).order_by(Patient.nhs_number)  # type: ignore[attr-defined]
        for row in session.execute(for_update(session, query)).mappings():
            out[row["nhs_number"]] = dict(row)
    return out


def _existing_referral_keys(
    session: Session,
    rows: list[_Good],
    practices: dict[str, int],
    patients: dict[str, dict[str, Any]],
) -> tuple[dict[Any, tuple[int | None, str]], dict[Any, int | None]]:
    """Earlier referrals by (practice, external_ref) → (id, the patient's NHS number), and by patient/practice/date."""
    by_ref: dict[Any, tuple[int | None, str]] = {}
    refs = sorted({(practices[i.referral.practice_ods], i.referral.external_ref) for i in rows
                   if i.referral.external_ref})
    for chunk in _chunks(refs):
        found = session.execute(
            select(Referral.practice_id, Referral.external_ref, Referral.id, Patient.nhs_number)
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .where(tuple_(Referral.practice_id, Referral.external_ref).in_(chunk))
        )
        by_ref.update({(p, e): (i, nhs) for p, e, i, nhs in found})
    by_date: dict[Any, int | None] = {}
    nhs_of = {p["id"]: nhs for nhs, p in patients.items()}
    for chunk in _chunks(sorted(nhs_of)):
        found = session.execute(
            select(Referral.patient_id, Referral.practice_id, Referral.referral_date, Referral.id).where(
                Referral.patient_id.in_(chunk)  # type: ignore[attr-defined]
            )
        )
        by_date.update({(nhs_of[pid], prac, d): i for pid, prac, d, i in found})
    return by_ref, by_date


def _patients_with_open_referrals(session: Session, patient_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in _chunks(sorted(patient_ids)):
        found = session.execute(
            select(Referral.patient_id, Referral.id).where(
                Referral.patient_id.in_(chunk),  # type: ignore[attr-defined]
                Referral.status.in_(referral_states.OPEN),  # type: ignore[attr-defined]
            ).order_by(Referral.id)  # type: ignore[arg-type]
        )
        for pid, rid in found:
            out.setdefault(pid, rid)
    return out


def _patient_values(r: ReferralInput, practice_id: int, dep: deprivation.Deprivation, now: datetime) -> dict[str, Any]:
    return {
        "nhs_number": r.nhs_number,
        "family_name": r.family_name,
        "given_name": r.given_name,
        "date_of_birth": r.date_of_birth,
        "sex": r.sex,
        "address_line1": r.address_line1,
        "address_line2": r.address_line2,
        "town": r.town,
        "postcode": r.postcode,
        "ethnicity_code": r.ethnicity_code,
        "lsoa_code": dep.lsoa_code,
        "imd_decile": dep.imd_decile,
        "imd_edition": dep.imd_edition,
        "practice_id": practice_id,
        "created_at": now,
        "updated_at": now,
    }


def _referral_values(
    r: ReferralInput,
    practice_id: int,
    patient_id: int,
    related: int | None,
    source: str,
    batch_id: int | None,
    actor: Principal,
    now: datetime,
) -> dict[str, Any]:
    return {
        "practice_id": practice_id,
        "patient_id": patient_id,
        "external_ref": r.external_ref,
        "requester": r.requester,
        "referral_date": r.referral_date,
        "symptoms": r.symptoms,
        "haemoglobin_g_per_l": r.haemoglobin_g_per_l,
        "ferritin_ug_per_l": r.ferritin_ug_per_l,
        "iron_deficiency_anaemia": r.iron_deficiency_anaemia,
        "abdominal_mass": r.abdominal_mass,
        "rectal_mass": r.rectal_mass,
        "clinical_concern": r.clinical_concern,
        "related_referral_id": related if related and related > 0 else None,
        "source": "csv" if source.startswith("csv") else "api",
        "import_batch_id": batch_id,
        "received_at": now,
        "created_by": actor.username,
    }


def _insert_patients(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    ids = insert_then_find(session, Patient, rows, ("nhs_number",))
    return {row["nhs_number"]: pid for row, pid in zip(rows, ids, strict=True)}


def _insert_returning(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert in the rows' order and return their new ids (one statement per chunk, both engines)."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        # render_nulls: the ORM otherwise leaves out a row's None values, and rows that differ in which optional
        # fields are empty cannot share a statement (a chunk became hundreds of single-row INSERTs). No column
        # here has a server default that a NULL would override.
        result = session.execute(insert(table).returning(table.id, sort_by_parameter_order=True), chunk,
                                 execution_options={"render_nulls": True})
        ids.extend(result.scalars().all())
    return ids


def _store_rejections(
    session: Session,
    rejected: list[tuple[RowOutcome, dict[str, Any]]],
    batch_id: int | None,
    source: str,
    actor: Principal,
    now: datetime,
    clock: Clock,
) -> None:
    """Keep each refused row (it holds patient identifiers, so keeping it is audited like any other create)."""
    waiting = _unresolved_rejections(session, [_raw_hash(raw) for _, raw in rejected])
    rows = []
    for outcome, raw in sorted(rejected, key=lambda item: item[0].row or 0):
        digest = _raw_hash(raw)
        if digest in waiting:
            outcome.message = f"already waiting for correction as intake rejection {waiting[digest]}"
            continue
        waiting[digest] = -1  # the same bad row twice in one file is kept once
        rows.append({
            "import_batch_id": batch_id,
            "row_number": outcome.row,
            "source": source,
            "raw_sha256": digest,
            "practice_ods": _ods_or_none(raw.get("practice_ods")),
            "raw": {k: (None if v is None else str(v)) for k, v in raw.items()},
            "problems": [p.as_dict() for p in outcome.problems],
            "created_at": now,
            "created_by": actor.username,
        })
    kept = _insert_returning(session, IntakeRejection, rows)
    practice_of = _practices(session, {row["practice_ods"] for row in rows if row["practice_ods"]})
    audit.record_many(session, actor, "create", "intake_rejection",
                      [(rid, practice_of.get(row["practice_ods"])) for rid, row in zip(kept, rows, strict=True)],
                      detail={"source": source, "import_batch_id": batch_id}, clock=clock)


def _raw_hash(raw: dict[str, Any]) -> str:
    canonical = json.dumps({k: (None if v is None else str(v)) for k, v in raw.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _unresolved_rejections(session: Session, digests: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(digests))):
        rows = session.execute(
            select(IntakeRejection.raw_sha256, IntakeRejection.id).where(
                IntakeRejection.raw_sha256.in_(chunk),  # type: ignore[attr-defined]
                IntakeRejection.resolved_at.is_(None),  # type: ignore[union-attr]
            )
        )
        found.update({digest: rid for digest, rid in rows if rid is not None})
    return found


def _ods_or_none(value: object) -> str | None:
    """The practice of a refused row, when it is at least shaped like an ODS code (for the practice's worklist)."""
    try:
        return fields.ods_practice_field(str(value or ""))
    except fields.FieldRefused:
        return None
