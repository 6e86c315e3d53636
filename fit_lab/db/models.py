"""The data model. Tables are created only by the Alembic migrations in ``fit_lab/migrations``.

Tables are never returned from the API; response schemas in ``fit_lab.api.schemas`` are.
Times are aware UTC (``UTCDateTime``); dates without a time (date of birth, collection date) are ``date``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, SQLModel

from fit_lab.db.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Practice(SQLModel, table=True):
    __tablename__ = "practice"
    id: int | None = Field(default=None, primary_key=True)
    ods_code: str = Field(max_length=10, unique=True)
    name: str = Field(max_length=200)
    pcn_code: str | None = Field(default=None, max_length=10, index=True)
    address: str | None = Field(default=None, max_length=400)
    postcode: str | None = Field(default=None, max_length=10)
    created_at: datetime = _ts()


class ImdArea(SQLModel, table=True):
    """English Indices of Deprivation: one row per LSOA per edition (decile 1 = most deprived)."""

    __tablename__ = "imd_area"
    edition: str = Field(primary_key=True, max_length=10)
    lsoa_code: str = Field(primary_key=True, max_length=12)
    imd_decile: int = Field(ge=1, le=10)


class PostcodeLsoa(SQLModel, table=True):
    """Postcode → LSOA from the ONS postcode directory. The key is the postcode without spaces."""

    __tablename__ = "postcode_lsoa"
    postcode_key: str = Field(primary_key=True, max_length=8)
    lsoa_code: str = Field(max_length=12, index=True)


class Patient(SQLModel, table=True):
    __tablename__ = "patient"
    id: int | None = Field(default=None, primary_key=True)
    nhs_number: str = Field(max_length=10, unique=True)
    family_name: str = Field(max_length=100)
    given_name: str = Field(max_length=100)
    date_of_birth: date
    sex: str = Field(max_length=1)
    address_line1: str = Field(max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    postcode: str = Field(max_length=8)
    ethnicity_code: str = Field(max_length=2)
    lsoa_code: str | None = Field(default=None, max_length=12)
    imd_decile: int | None = None
    imd_edition: str | None = Field(default=None, max_length=10)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ImportBatch(SQLModel, table=True):
    """One uploaded referral file, with its counts; its bad rows are kept in intake_rejection."""

    __tablename__ = "import_batch"
    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    source: str = Field(max_length=10)  # csv_cli | csv_api
    uploaded_by: str = Field(max_length=100)
    created_at: datetime = _ts()
    rows_total: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


class Referral(SQLModel, table=True):
    __tablename__ = "referral"
    __table_args__ = (
        UniqueConstraint("practice_id", "external_ref", name="uq_referral_practice_external_ref"),
        UniqueConstraint("patient_id", "practice_id", "referral_date", name="uq_referral_patient_practice_date"),
        Index("ix_referral_status_received", "status", "received_at"),
        Index("ix_referral_received_at", "received_at"),  # the monthly statistics select by month
        # One referral per patient waiting for a kit, whatever races (migration 0005): a patient is never posted two
        # kits in one batch. Only awaiting_kit: a kit that comes back late reopens its referral (in_progress) beside
        # a newer one, which must not be refused at the bench.
        Index("uq_referral_patient_awaiting_kit", "patient_id", unique=True,
              sqlite_where=text("status = 'awaiting_kit'"), postgresql_where=text("status = 'awaiting_kit'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    external_ref: str | None = Field(default=None, max_length=64)
    requester: str = Field(max_length=200)
    referral_date: date
    symptoms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    haemoglobin_g_per_l: float | None = None
    ferritin_ug_per_l: float | None = None
    iron_deficiency_anaemia: bool = False
    abdominal_mass: bool = False
    rectal_mass: bool = False
    clinical_concern: bool = False
    # fit_lab.referral_states: awaiting_kit → in_progress → resulted | closed; on_hold when a person must decide;
    # red_flag when the patient is referred at once without a FIT. Written only by services.lifecycle.
    status: str = Field(default="awaiting_kit", max_length=20)
    hold_reason: str | None = Field(default=None, max_length=400)
    related_referral_id: int | None = Field(default=None, foreign_key="referral.id")
    source: str = Field(max_length=10)  # api | csv
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    received_at: datetime = _ts()
    created_by: str = Field(max_length=100)
    closed_at: datetime | None = _ts(nullable=True)
    closed_reason: str | None = Field(default=None, max_length=400)
    # The colonoscopy list (fit_lab.referral_states.LIST_STATES): None while waiting to be booked.
    list_state: str | None = Field(default=None, max_length=16)
    list_booked_for: date | None = None
    list_state_at: datetime | None = _ts(nullable=True)
    list_state_by: str | None = Field(default=None, max_length=100)
    list_note: str | None = Field(default=None, max_length=400)


class IntakeRejection(SQLModel, table=True):
    """A referral that could not be accepted, kept whole so a person can correct and resubmit it."""

    __tablename__ = "intake_rejection"
    id: int | None = Field(default=None, primary_key=True)
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    row_number: int | None = None
    source: str = Field(max_length=10)
    # The same bad row sent again is not kept twice while the first copy waits for a person.
    raw_sha256: str = Field(max_length=64, index=True)
    practice_ods: str | None = Field(default=None, max_length=10, index=True)
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    created_by: str = Field(max_length=100)
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolution: str | None = Field(default=None, max_length=400)


class DispatchBatch(SQLModel, table=True):
    __tablename__ = "dispatch_batch"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts()
    created_by: str = Field(max_length=100)
    label_format: str = Field(default="pdf", max_length=10)
    kit_count: int = 0
    status: str = Field(default="active", max_length=12)  # active | cancelled
    reprint_count: int = 0
    cancelled_at: datetime | None = _ts(nullable=True)
    cancelled_by: str | None = Field(default=None, max_length=100)
    cancel_reason: str | None = Field(default=None, max_length=400)


class SpecimenSerial(SQLModel, table=True):
    """Hands out specimen serial numbers; a row per allocation, so the database guarantees uniqueness."""

    __tablename__ = "specimen_serial"
    serial: int | None = Field(default=None, primary_key=True)
    allocated_at: datetime = _ts()


class Kit(SQLModel, table=True):
    __tablename__ = "kit"
    __table_args__ = (
        Index("ix_kit_state_dispatched", "state", "dispatched_at"),
        # The monthly statistics count each kit event by the month it happened in.
        Index("ix_kit_dispatched_at", "dispatched_at"),
        Index("ix_kit_received_at", "received_at"),
        Index("ix_kit_rejected_at", "rejected_at"),
        Index("ix_kit_not_returned_at", "not_returned_at"),
        Index("ix_kit_analysed_at", "analysed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    specimen_id: str = Field(max_length=20, unique=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    dispatch_batch_id: int | None = Field(default=None, foreign_key="dispatch_batch.id", index=True)
    replaces_kit_id: int | None = Field(default=None, foreign_key="kit.id")
    # requested → allocated → dispatched → received → analysed → resulted → reported;
    # received → rejected; dispatched → reminded → not_returned; * → cancelled (see fit_lab.kit_states).
    state: str = Field(default="allocated", max_length=16)
    state_changed_at: datetime = _ts()
    allocated_at: datetime = _ts()
    dispatched_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)
    received_at: datetime | None = _ts(nullable=True)
    received_by: str | None = Field(default=None, max_length=100)
    collection_date: date | None = None
    rejected_at: datetime | None = _ts(nullable=True)
    reject_reason: str | None = Field(default=None, max_length=30)
    reject_note: str | None = Field(default=None, max_length=400)
    analysed_at: datetime | None = _ts(nullable=True)
    not_returned_at: datetime | None = _ts(nullable=True)
    cancelled_at: datetime | None = _ts(nullable=True)
    cancel_reason: str | None = Field(default=None, max_length=400)
    version: int = 1


class AnalyserSession(SQLModel, table=True):
    """One ENQ..EOT conversation with an instrument, journaled before results are derived from it."""

    __tablename__ = "analyser_session"
    id: int | None = Field(default=None, primary_key=True)
    instrument: str = Field(max_length=60)
    profile: str = Field(max_length=40)
    port_url: str = Field(max_length=200)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)
    raw_bytes: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    # [(offset, direction, monotonic-ish timestamp)] so the conversation can be replayed byte for byte.
    journal: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    message_count: int = 0
    problems: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Result(SQLModel, table=True):
    __tablename__ = "result"
    __table_args__ = (
        UniqueConstraint("instrument", "specimen_id", "measured_at", name="uq_result_instrument_specimen_time"),
        Index("ix_result_status", "status"),
        Index("ix_result_released_at", "released_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    kit_id: int | None = Field(default=None, foreign_key="kit.id", index=True)
    specimen_id: str = Field(max_length=40)
    analyser_session_id: int | None = Field(default=None, foreign_key="analyser_session.id", index=True)
    instrument: str = Field(max_length=60)
    method: str = Field(max_length=40)
    lot: str | None = Field(default=None, max_length=40)
    comparator: str | None = Field(default=None, max_length=1)  # '<', '=', '>'; None for an error result
    fhb_ug_per_g: float | None = None
    raw_value: str | None = Field(default=None, max_length=40)
    raw_unit: str | None = Field(default=None, max_length=20)
    error_code: str | None = Field(default=None, max_length=40)
    measured_at: datetime = _ts()
    stored_at: datetime = _ts()
    # unmatched | held | released | discarded | superseded
    status: str = Field(max_length=12)
    unmatched_reason: str | None = Field(default=None, max_length=200)
    held_reason: str | None = Field(default=None, max_length=200)
    released_at: datetime | None = _ts(nullable=True)
    released_by: str | None = Field(default=None, max_length=100)
    amends_result_id: int | None = Field(default=None, foreign_key="result.id")
    amend_reason: str | None = Field(default=None, max_length=400)


class QcResult(SQLModel, table=True):
    __tablename__ = "qc_result"
    __table_args__ = (Index("ix_qc_instrument_material_time", "instrument", "material_id", "measured_at"),)
    id: int | None = Field(default=None, primary_key=True)
    analyser_session_id: int | None = Field(default=None, foreign_key="analyser_session.id", index=True)
    instrument: str = Field(max_length=60)
    method: str = Field(max_length=40)
    lot: str | None = Field(default=None, max_length=40)
    material_id: str = Field(max_length=40)
    level: str = Field(max_length=20)
    value: float
    unit: str = Field(max_length=20)
    measured_at: datetime = _ts()
    stored_at: datetime = _ts()
    passed: bool = True
    rules_violated: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class TriageOutcome(SQLModel, table=True):
    __tablename__ = "triage_outcome"
    __table_args__ = (
        Index("ix_outcome_referral_current", "referral_id", "is_current"),
        # Covers the statistics' count of each month's outcomes by policy, band and action.
        Index("ix_outcome_created_at", "created_at", "is_current", "policy_version", "band", "action"),
    )
    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id")
    result_id: int | None = Field(default=None, foreign_key="result.id", index=True)
    action: str = Field(max_length=10)  # reassure | refer | repeat
    band: str | None = Field(default=None, max_length=40)
    priority_key: str | None = Field(default=None, max_length=80)
    explanation: str = Field(max_length=2000)
    policy_version: str = Field(max_length=40)
    # The whole decision as the triage library made it, so ranking and letters never re-decide under a newer policy.
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_current: bool = True
    created_at: datetime = _ts()
    superseded_at: datetime | None = _ts(nullable=True)


class LetterTemplateVersion(SQLModel, table=True):
    """One version of a letter template's text, stored once and addressed by its SHA-256.

    A letter names the versions it was written with, so editing a template never changes a letter already issued.
    """

    __tablename__ = "letter_template"
    sha256: str = Field(primary_key=True, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    stored_at: datetime = _ts()


class Letter(SQLModel, table=True):
    __tablename__ = "letter"
    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    kit_id: int | None = Field(default=None, foreign_key="kit.id")
    outcome_id: int | None = Field(default=None, foreign_key="triage_outcome.id", index=True)
    # triage.LetterKind: reassurance | positive | no_valid_result | amended | kit_rejected | rejected_closed |
    # not_returned | red_flag
    kind: str = Field(max_length=16)
    policy_version: str | None = Field(default=None, max_length=40)
    created_at: datetime = _ts()
    pdf: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    # What the letter says (triage.LetterData as JSON). The PDF is rendered from it, byte for byte the same each
    # time, so writing a letter costs a row, not a 50 ms render inside the analyser's transaction.
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The template versions the content is rendered with: the letter's kind, and for an AMENDED letter also the
    # body of the corrected result's kind. None for a letter stored as a PDF (reminders).
    template_sha256: str | None = Field(default=None, max_length=64, foreign_key="letter_template.sha256")
    body_template_sha256: str | None = Field(default=None, max_length=64, foreign_key="letter_template.sha256")
    # Loaded with the letter (one more query per batch of letters), so a letter read in a session that has since
    # closed still renders; the few versions in use are shared by many letters.
    template: LetterTemplateVersion | None = Relationship(sa_relationship=relationship(
        "LetterTemplateVersion", lazy="selectin", foreign_keys="[Letter.template_sha256]"))
    body_template: LetterTemplateVersion | None = Relationship(sa_relationship=relationship(
        "LetterTemplateVersion", lazy="selectin", foreign_keys="[Letter.body_template_sha256]"))
    supersedes_letter_id: int | None = Field(default=None, foreign_key="letter.id")
    acknowledged_at: datetime | None = _ts(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=100)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=12)  # lab | scientist | gp | alliance | admin
    practice_id: int | None = Field(default=None, foreign_key="practice.id")
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = _ts()


class LoginFailure(SQLModel, table=True):
    """Failed log-ins, kept in the database so that every API worker counts the same attempts."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=140)
    at: datetime = _ts()


class AuditEvent(SQLModel, table=True):
    """Append-only: the database refuses UPDATE and DELETE on this table (triggers in the migrations)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str | None = Field(default=None, max_length=100)
    actor_role: str | None = Field(default=None, max_length=12)
    action: str = Field(max_length=30)  # create | read | update | transition | denied | login | ...
    entity: str = Field(max_length=40)
    entity_id: str | None = Field(default=None, max_length=40)
    practice_id: int | None = None
    outcome: str = Field(default="ok", max_length=20)  # ok | denied | not_found | unauthenticated
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class FailsafeRun(SQLModel, table=True):
    """One run of the failsafe: when, who started it, what it did and what it found open.

    ``daily_key`` is the day for the scheduled run inside ``fit-lab serve`` (unique: several server processes run
    it once a day between them), and None for a run by hand (``fit-lab failsafe run``).
    """

    __tablename__ = "failsafe_run"
    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    daily_key: date | None = Field(default=None, unique=True)
    trigger: str = Field(max_length=20)  # scheduled | command
    worker: str = Field(max_length=100)
    started_at: datetime = _ts()
    finished_at: datetime = _ts()
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DemographicsChange(SQLModel, table=True):
    """Demographics a referral sent for an NHS number that differ from the lab's record of that patient.

    Both versions are kept: ``previous`` is the record as it stood, ``sent`` what the referral's practice sent.
    ``applied``: the practice that sent the stored details changed them (no other practice refers the patient);
    ``pending``: held for a lab person; ``accepted`` (the sent details replaced the record) or ``kept`` (the record
    stands) once reconciled. A referral never changes what another practice sees without a person deciding.
    """

    __tablename__ = "demographics_change"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    referral_id: int | None = Field(default=None, foreign_key="referral.id", index=True)
    practice_id: int = Field(foreign_key="practice.id")
    previous: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sent: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=10, index=True)  # applied | pending | accepted | kept
    created_at: datetime = _ts()
    created_by: str = Field(max_length=100)
    decided_at: datetime | None = _ts(nullable=True)
    decided_by: str | None = Field(default=None, max_length=100)
    decision_reason: str | None = Field(default=None, max_length=400)
