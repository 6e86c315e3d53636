"""Kit dispatch: allocate kits to referrals awaiting one (oldest first), record the batch, render its files.

Specimen serials come from the database (``specimen_serial``), so two dispatch runs, even on two servers, never
hand out the same ID; on PostgreSQL the referrals are claimed with ``FOR UPDATE SKIP LOCKED`` so two concurrent
runs never put one referral in two batches. Rendering happens after the commit from stored data, so a reprint
gives exactly the same IDs; only the file asked for is rendered. A cancelled batch is never printed again (its
kits are void), and cancelling voids only the kits that have not come back, under a lock, so a kit received at
that moment stays received.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

import labels
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import DispatchBatch, Kit, Patient, Practice, Referral
from fit_lab.errors import FieldProblem, NotFound, StateError, ValidationError
from fit_lab.kit_states import IN_FLIGHT, VOIDABLE
from fit_lab.principal import Principal
from fit_lab.services import audit, lifecycle
from fit_lab.services.referrals import for_update
from fit_lab.services.specimens import allocate_specimen_ids
from fit_lab.settings import Settings
from fit_lab.spreadsheet import SafeCsvWriter
from fit_lab.text import refuse_control_characters

FORMATS = ("pdf", "zpl")
MAX_BATCH = 20_000
# Thermal printers: 203 dpi (8 dots/mm) is the common head, 300 dpi the fine one. The module is the smallest whole
# number of dots not under 0.25 mm at either (labels.code128): 2 dots at 203, 3 at 300 dpi.
ZPL_DPI = labels.SUPPORTED_DPI
DEFAULT_ZPL_DPI = 203
# The files of a batch; each is rendered only when asked for.
PARTS = ("labels", "letters", "return_labels", "manifest")
# Kits that are still out with the patient (or not yet posted) can be voided; the others have come back.
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
ZPL_PROGRESS_STEP = 100  # kits rendered between progress reports
Progress = Callable[[int, int], None]
PartProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BatchCreated:
    batch_id: int | None
    kit_count: int
    held: list[tuple[int, str]]  # (referral id, reason) for referrals whose labels cannot be printed


@dataclass(frozen=True)
class BatchFiles:
    batch_id: int
    labels: bytes
    label_format: str
    letters_pdf: bytes
    return_labels_pdf: bytes
    manifest_csv: bytes


def create_batch(
    engine: Engine,
    *,
    actor: Principal,
    limit: int | None = None,
    label_format: str = "pdf",
    clock: Clock = system_clock,
) -> BatchCreated:
    if label_format not in FORMATS:
        raise ValidationError([FieldProblem("format", f"must be one of {', '.join(FORMATS)}")])
    if limit is not None and not 1 <= limit <= MAX_BATCH:
        raise ValidationError([FieldProblem("limit", f"must be between 1 and {MAX_BATCH}")])
    now = clock()
    with transaction(engine) as session:
        replacements = _claim_replacements(session, limit or MAX_BATCH)
        claimed = _claim_referrals(session, (limit or MAX_BATCH) - len(replacements))
        printable, held = _check_printable(claimed, label_format)
        if not printable and not replacements:
            _hold(session, held, actor, now)
            return BatchCreated(None, 0, held)
        batch = DispatchBatch(created_at=now, created_by=actor.username, label_format=label_format,
                              kit_count=len(printable) + len(replacements))
        session.add(batch)
        session.flush()
        lifecycle.move_kits(session, replacements, "dispatched", actor=actor, now=now,
                            detail={"dispatch_batch_id": batch.id, "replacement": True},
                            dispatched_at=now, dispatch_batch_id=batch.id)
        specimen_ids = allocate_specimen_ids(session, len(printable), now)
        kit_rows = [
            {"specimen_id": specimen_id, "referral_id": row["referral_id"], "dispatch_batch_id": batch.id,
             "allocated_at": now, "dispatched_at": now}
            for specimen_id, row in zip(specimen_ids, printable, strict=True)
        ]
        lifecycle.create_kits(session, kit_rows, "dispatched", actor=actor, now=now,
                              practice_ids=[int(r["practice_id"]) for r in printable],  # type: ignore[call-overload]
                              detail={"dispatch_batch_id": batch.id})
        lifecycle.move_referrals(session, [int(r["referral_id"]) for r in printable],  # type: ignore[call-overload]
                                 "in_progress", actor=actor, now=now, why=f"kit posted in dispatch batch {batch.id}")
        _hold(session, held, actor, now)
        audit.record(session, actor, "create", "dispatch_batch", batch.id, detail={"kits": len(printable)}, clock=clock)
        return BatchCreated(batch.id, len(printable) + len(replacements), held)


def _claim_replacements(session: Session, limit: int) -> list[Kit]:
    """Replacement kits allocated at reception, waiting for the next batch (they already have their IDs)."""
    query = (
        select(Kit)
        .where(Kit.state == "allocated", Kit.dispatch_batch_id.is_(None))  # type: ignore[arg-type, union-attr]
        .order_by(Kit.allocated_at, Kit.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).scalars())


def _claim_referrals(session: Session, limit: int) -> list[dict[str, object]]:
    query = (
        select(Referral.id.label("referral_id"), Referral.practice_id, Patient.given_name, Patient.family_name,  # type: ignore[union-attr]
               Patient.date_of_birth, Patient.nhs_number, Patient.address_line1, Patient.address_line2,
               Patient.town, Patient.postcode)
        .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
        .where(Referral.status == "awaiting_kit")  # type: ignore[arg-type]
        .order_by(Referral.received_at, Referral.id)  # type: ignore[arg-type]
        .limit(max(limit, 0))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Referral, skip_locked=True)  # type: ignore[arg-type]
    return [dict(row) for row in session.execute(query).mappings()]


def _kit_label(row: dict[str, object], specimen_id: str) -> labels.KitLabel:
    lines = tuple(str(x) for x in (row["address_line1"], row["address_line2"], row["town"]) if x)
    return labels.KitLabel(
        specimen_id=specimen_id,
        patient_name=f"{row['given_name']} {row['family_name']}",
        date_of_birth=row["date_of_birth"],  # type: ignore[arg-type]
        nhs_number=str(row["nhs_number"]),
        address_lines=lines,
        postcode=str(row["postcode"]),
    )


def _check_printable(
    rows: list[dict[str, object]], label_format: str = "pdf"
) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    """A referral whose name or address cannot be printed is held for a person, never dropped or half-printed."""
    good, held = [], []
    probe = labels.specimen_id_from_serial(1)
    for row in rows:
        try:
            label = _kit_label(row, probe)
            if label_format == "zpl":  # a thermal printer's font: names folded to Latin letters, or held
                label.check_thermal()
        except labels.LabelsError as exc:
            held.append((int(row["referral_id"]), f"label cannot be printed: {exc}"))  # type: ignore[call-overload]
        else:
            good.append(row)
    return good, held


def _hold(session: Session, held: list[tuple[int, str]], actor: Principal, now: datetime) -> None:
    for referral_id, reason in held:
        lifecycle.move_referrals(session, [referral_id], "on_hold", actor=actor, now=now, why=reason,
                                 hold_reason=reason)


@dataclass
class _Printable:
    batch_id: int
    label_format: str
    created_at: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)


def _load_for_print(
    engine: Engine, batch_id: int, *, actor: Principal, reprint: bool, parts: Collection[str],
    label_format: str | None, clock: Clock,
) -> _Printable:
    """The batch's kits as stored, with the read (or reprint) audited; a cancelled batch is refused."""
    with transaction(engine) as session:
        batch = session.get(DispatchBatch, batch_id)
        if batch is None:
            raise NotFound("dispatch batch", batch_id)
        if batch.status == "cancelled":
            when = f" on {batch.cancelled_at:%Y-%m-%d}" if batch.cancelled_at else ""
            raise StateError(
                f"Dispatch batch {batch_id} was cancelled{when} ({batch.cancel_reason}): its kits are void, so its "
                "labels, letters and manifest are not printed again. Its referrals are back in the queue: create "
                "a new batch.")
        rows = [dict(r) for r in session.execute(
            select(Kit.specimen_id, Kit.referral_id, Practice.ods_code, Patient.given_name, Patient.family_name,
                   Patient.date_of_birth, Patient.nhs_number, Patient.address_line1, Patient.address_line2,
                   Patient.town, Patient.postcode)
            .join(Referral, Referral.id == Kit.referral_id)  # type: ignore[arg-type]
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
            .where(Kit.dispatch_batch_id == batch_id)  # type: ignore[arg-type]
            .order_by(Kit.id)  # type: ignore[arg-type]
        ).mappings()]
        if reprint:
            # One statement, so two downloads at once both count.
            session.execute(update(DispatchBatch).where(DispatchBatch.id == batch_id)  # type: ignore[arg-type]
                            .values(reprint_count=DispatchBatch.reprint_count + 1))
        audit.record(session, actor, "reprint" if reprint else "read", "dispatch_batch", batch_id,
                     detail={"kits": len(rows), "files": sorted(parts)}, clock=clock)
        return _Printable(batch_id, label_format or batch.label_format, batch.created_at, rows)


def _dpi_problem(zpl_dpi: int) -> FieldProblem | None:
    if zpl_dpi in ZPL_DPI:
        return None
    return FieldProblem("zpl_dpi", f"must be one of {', '.join(map(str, ZPL_DPI))} (the thermal printer's head)")


def check_zpl_dpi(zpl_dpi: int) -> None:
    """Refuse a printer resolution the labels cannot be sized for (before anything is allocated)."""
    problem = _dpi_problem(zpl_dpi)
    if problem:
        raise ValidationError([problem])


def _check_request(parts: Collection[str], label_format: str | None, zpl_dpi: int) -> None:
    problems = []
    if not parts or any(part not in PARTS for part in parts):
        problems.append(FieldProblem("file", f"must be one of {', '.join(PARTS)}"))
    if label_format is not None and label_format not in FORMATS:
        problems.append(FieldProblem("format", f"must be one of {', '.join(FORMATS)}"))
    dpi = _dpi_problem(zpl_dpi)
    if dpi:
        problems.append(dpi)
    if problems:
        raise ValidationError(problems)


def _render(part: str, printable: _Printable, settings: Settings, *, zpl_dpi: int,
            progress: PartProgress | None) -> bytes:
    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(part, done, total)

    if part == "manifest":
        return _manifest(printable.rows)
    kits = [_kit_label(r, str(r["specimen_id"])) for r in printable.rows]
    if not kits:
        return b""
    lab = lab_details(settings)
    if part == "letters":
        letter_settings = labels.LetterSettings(lab, settings.patient_post_within_days, printable.created_at.date())
        return labels.render_instruction_letters_pdf(kits, letter_settings, on_progress=report)
    if part == "return_labels":
        marking = labels.ReturnMarking(settings.return_un_number, settings.return_shipping_name)
        return labels.render_return_labels_pdf(marking, lab, len(kits))
    stock = labels.load_stock(settings.label_stock)
    if printable.label_format == "zpl":
        return _zpl(kits, stock, zpl_dpi, report)
    return labels.render_kit_sheets_pdf(kits, stock=stock, title=f"Dispatch batch {printable.batch_id}",
                                        on_progress=report)


def _zpl(kits: list[labels.KitLabel], stock: labels.LabelStock, dpi: int, report: Progress) -> bytes:
    """ZPL kit by kit (each label is its own format), rendered in steps so a long batch can show progress."""
    out = []
    for start in range(0, len(kits), ZPL_PROGRESS_STEP):
        out.append(labels.render_kit_labels_zpl(kits[start:start + ZPL_PROGRESS_STEP], dpi, stock=stock))
        report(min(start + ZPL_PROGRESS_STEP, len(kits)), len(kits))
    return "".join(out).encode()


def batch_files(
    engine: Engine, batch_id: int, *, actor: Principal, settings: Settings, reprint: bool = False,
    label_format: str | None = None, zpl_dpi: int = DEFAULT_ZPL_DPI, progress: PartProgress | None = None,
    clock: Clock = system_clock,
) -> BatchFiles:
    """Render all of a batch's files (labels, letters, return labels, manifest) from what is stored.

    ``progress`` is called as ``(part, done, total)`` while the labels and letters render. Audited as a read, or
    as a reprint (counted on the batch) when ``reprint``. A cancelled batch is refused (StateError).
    """
    _check_request(PARTS, label_format, zpl_dpi)
    printable = _load_for_print(engine, batch_id, actor=actor, reprint=reprint, parts=PARTS,
                                label_format=label_format, clock=clock)
    made = {part: _render(part, printable, settings, zpl_dpi=zpl_dpi, progress=progress) for part in PARTS}
    return BatchFiles(batch_id, made["labels"], printable.label_format, made["letters"], made["return_labels"],
                      made["manifest"])


def batch_file(
    engine: Engine, batch_id: int, part: str, *, actor: Principal, settings: Settings, reprint: bool = True,
    label_format: str | None = None, zpl_dpi: int = DEFAULT_ZPL_DPI, clock: Clock = system_clock,
) -> bytes:
    """Render one file of a batch (``part`` in PARTS), and only that one: a download through the API.

    A download can be printed, so it is audited as a reprint and counted on the batch unless ``reprint`` is False.
    """
    _check_request([part], label_format, zpl_dpi)
    printable = _load_for_print(engine, batch_id, actor=actor, reprint=reprint, parts=[part],
                                label_format=label_format, clock=clock)
    return _render(part, printable, settings, zpl_dpi=zpl_dpi, progress=None)


def lab_details(settings: Settings) -> labels.LabDetails:
    return labels.LabDetails(
        name=settings.lab_name,
        address_lines=tuple(p.strip() for p in settings.lab_address.split(",") if p.strip()),
        postcode=settings.lab_postcode,
        phone=settings.lab_phone,
        email=settings.lab_email,
    )


def _manifest(rows: list[dict[str, object]]) -> bytes:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\n")
    writer.writerow(["specimen_id", "nhs_number", "name", "postcode", "practice"])
    for r in rows:
        writer.writerow([str(v) for v in (r["specimen_id"], r["nhs_number"], f"{r['given_name']} {r['family_name']}",
                                          r["postcode"], r["ods_code"])])
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class KitNotVoided:
    specimen_id: str
    state: str
    reason: str


@dataclass(frozen=True)
class BatchCancelled:
    batch_id: int
    kits_voided: int
    not_voided: list[KitNotVoided]


_NOT_VOIDED_BECAUSE = {
    "received": "it has already been received at the lab",
    "analysed": "it has already been analysed",
    "resulted": "it already has a result",
    "reported": "its result has already been reported",
    "rejected": "it was already rejected at reception",
    "not_returned": "it was already closed as not returned (the GP was told)",
    "cancelled": "it was already voided",
}


def cancel_batch(
    engine: Engine, batch_id: int, *, reason: str, actor: Principal, clock: Clock = system_clock
) -> BatchCancelled:
    """Void the batch's kits that have not come back and put their referrals back in the queue.

    The kits are locked first, so a kit being received at that moment is either received before (and is then
    listed in ``not_voided`` with the reason) or voided before (and reception then refuses it as VOIDED).
    """
    refuse_control_characters(reason, "reason")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError([FieldProblem("reason", "a reason is required to cancel a batch")])
    now = clock()
    with transaction(engine) as session:
        batch = session.execute(for_update(session, select(DispatchBatch).where(
            DispatchBatch.id == batch_id))).scalar_one_or_none()  # type: ignore[arg-type]
        if batch is None:
            raise NotFound("dispatch batch", batch_id)
        if batch.status == "cancelled":
            raise StateError(f"Dispatch batch {batch_id} was already cancelled on {batch.cancelled_at:%Y-%m-%d}.")
        kits = list(session.execute(for_update(session, select(Kit).where(
            Kit.dispatch_batch_id == batch_id).order_by(Kit.id))).scalars())  # type: ignore[arg-type]
        voided = [k for k in kits if k.state in VOIDABLE]
        not_voided = [KitNotVoided(k.specimen_id, k.state, _NOT_VOIDED_BECAUSE.get(k.state, f"it is {k.state}"))
                      for k in kits if k.state not in VOIDABLE]
        if not voided:
            raise StateError(f"Dispatch batch {batch_id} cannot be cancelled: none of its {len(kits)} kits can be "
                             "voided (all have come back to the lab or were closed).")
        lifecycle.move_kits(session, voided, "cancelled", actor=actor, now=now, why=f"batch cancelled: {reason}",
                            cancelled_at=now, cancel_reason=f"batch cancelled: {reason}"[:400])
        _requeue(session, voided, batch_id, actor, now)
        batch.status, batch.cancelled_at, batch.cancel_reason = "cancelled", now, reason
        batch.cancelled_by = actor.username
        audit.record(session, actor, "cancel", "dispatch_batch", batch_id, clock=clock, detail={
            "reason": reason, "kits_voided": len(voided),
            "not_voided": [{"specimen_id": k.specimen_id, "state": k.state} for k in not_voided]})
    return BatchCancelled(batch_id, len(voided), not_voided)


def held_reason(batch_id: int) -> str:
    return (f"dispatch batch {batch_id} was cancelled and the patient already has another referral waiting for "
            "a kit: decide which one to send")


def _requeue(session: Session, voided: list[Kit], batch_id: int, actor: Principal, now: datetime) -> None:
    """Referrals whose kit was voided go back to the queue, unless another kit of theirs is still live, or the
    patient already has a referral waiting for a kit (then this one is held: one kit per patient in the post)."""
    voided_ids = {k.id for k in voided}
    referral_ids = sorted({k.referral_id for k in voided})
    still_live = set(session.execute(select(Kit.referral_id).where(
        Kit.referral_id.in_(referral_ids), Kit.state.in_(IN_FLIGHT),  # type: ignore[attr-defined]
        Kit.id.notin_(voided_ids))).scalars())  # type: ignore[union-attr]
    candidates = dict(session.execute(select(Referral.id, Referral.patient_id).where(
        Referral.id.in_([r for r in referral_ids if r not in still_live]),  # type: ignore[union-attr]
        Referral.status == "in_progress")).all())  # type: ignore[arg-type]
    patients = sorted(set(candidates.values()))
    session.execute(for_update(session, select(Patient.id).where(Patient.id.in_(patients))  # type: ignore[union-attr]
                               .order_by(Patient.id)))  # type: ignore[arg-type]
    waiting = set(session.execute(select(Referral.patient_id).where(
        Referral.patient_id.in_(patients), Referral.status == "awaiting_kit")).scalars())  # type: ignore[attr-defined]
    requeued, held, seen = [], [], set(waiting)
    for referral_id, patient_id in sorted(candidates.items()):
        (held if patient_id in seen else requeued).append(referral_id)
        seen.add(patient_id)
    lifecycle.move_referrals(session, requeued, "awaiting_kit", actor=actor, now=now,
                             why=f"dispatch batch {batch_id} was cancelled: back in the queue for a kit")
    lifecycle.move_referrals(session, held, "on_hold", actor=actor, now=now, why=held_reason(batch_id),
                             hold_reason=held_reason(batch_id))
