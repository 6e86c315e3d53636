"""Letters to GPs and patients: rendered by the pure libraries, stored with the referral they concern.

A GP letter is stored as its content and the versions of the templates it is written with (each template text kept
once in ``letter_template``, addressed by its SHA-256). Its PDF is rendered from those on demand: the same bytes
every time, however the lab edits its templates later, and no 50 ms render inside the analyser's transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

import labels
import triage
from fit_lab.db.models import Kit, Letter, LetterTemplateVersion, Patient, Practice, Referral
from fit_lab.errors import ConfigurationError
from fit_lab.settings import Settings, get_settings

# session.info keys for what a transaction has already done or loaded: a new transaction starts afresh (after a
# rollback a stored row may be gone).
_STORED = "fit_lab.letter_templates_stored"  # template versions it has written
_IN_FORCE = "fit_lab.letter_templates_in_force"  # templates as their files read when it first needed them
_CONTEXTS = "fit_lab.letter_contexts"  # {referral id: referral, patient, practice}
_CHUNK = 500  # referral ids per IN-list

NO_POLICY = "n/a (no result)"


def _per_transaction(session: Session, key: str) -> dict[Any, Any]:
    current = session.get_transaction()
    held = session.info.get(key)
    if held is None or held[0] is not current:
        held = session.info[key] = (current, {})
    found: dict[Any, Any] = held[1]
    return found


def _contexts(session: Session) -> dict[int, dict[str, Any]]:
    """The letter contexts this transaction has loaded, by referral id (they are the session's own objects)."""
    return _per_transaction(session, _CONTEXTS)


def load_contexts(session: Session, referral_ids: Iterable[int]) -> None:
    """Load the referral, patient and practice of many letters in one query, for ``letter_data`` to find.

    They are the session's own objects (what a query in this transaction would return), held for the rest of the
    transaction; a letter whose context was not loaded here is looked up on its own as before.
    """
    known = _contexts(session)
    wanted = sorted({r for r in referral_ids if r not in known})
    for start in range(0, len(wanted), _CHUNK):
        for row in session.execute(_context_query().where(
                Referral.id.in_(wanted[start:start + _CHUNK]))):  # type: ignore[union-attr]
            known[row[0].id] = {"referral": row[0], "patient": row[1], "practice": row[2]}


def _context_query() -> Any:
    return (select(Referral, Patient, Practice)
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .join(Practice, Practice.id == Referral.practice_id))  # type: ignore[arg-type]


def _context(session: Session, referral_id: int) -> dict[str, Any]:
    known = _contexts(session)
    if referral_id not in known:
        row = session.execute(_context_query().where(Referral.id == referral_id)).one()
        known[referral_id] = {"referral": row[0], "patient": row[1], "practice": row[2]}
    return known[referral_id]


def lab_contact(settings: Settings) -> str:
    return f"{settings.lab_phone}, {settings.lab_email}"


def letter_data(
    session: Session, referral_id: int, settings: Settings, report_date: date, *, kit: Kit | None = None,
    policy_version: str = NO_POLICY, **extra: Any,
) -> triage.LetterData:
    ctx = _context(session, referral_id)
    patient, practice, referral = ctx["patient"], ctx["practice"], ctx["referral"]
    return triage.LetterData(
        patient_name=f"{patient.given_name} {patient.family_name}",
        date_of_birth=patient.date_of_birth,
        nhs_number=patient.nhs_number,
        practice_name=practice.name,
        practice_ods=practice.ods_code,
        lab_name=settings.lab_name,
        lab_contact=lab_contact(settings),
        report_date=report_date,
        policy_version=policy_version,
        specimen_id=kit.specimen_id if kit else None,
        requester=referral.requester,
        collection_date=kit.collection_date if kit else None,
        kit_dispatched_on=kit.dispatched_at.date() if kit and kit.dispatched_at else None,
        **extra,
    )


def content_to_json(data: triage.LetterData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in data.__slots__:
        value = getattr(data, name)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, triage.ResultDetails):
            value = dataclasses.asdict(value)
        elif isinstance(value, triage.Amendment):
            value = {**dataclasses.asdict(value), "replaces_letter_date": value.replaces_letter_date.isoformat(),
                     "new_kind": value.new_kind.value}
        out[name] = value
    return out


def content_from_json(content: dict[str, Any]) -> triage.LetterData:
    values = dict(content)
    for name in ("date_of_birth", "report_date", "collection_date", "kit_dispatched_on"):
        if values.get(name):
            values[name] = date.fromisoformat(values[name])
    if values.get("result"):
        values["result"] = triage.ResultDetails(**values["result"])
    if values.get("amendment"):
        amendment = dict(values["amendment"])
        amendment["replaces_letter_date"] = date.fromisoformat(amendment["replaces_letter_date"])
        amendment["new_kind"] = triage.LetterKind(amendment["new_kind"])
        values["amendment"] = triage.Amendment(**amendment)
    return triage.LetterData(**values)


def _body_kind(kind: triage.LetterKind, data: triage.LetterData) -> triage.LetterKind | None:
    """An AMENDED letter also prints the body of the corrected result's letter."""
    if kind is triage.LetterKind.AMENDED and data.amendment is not None:
        return data.amendment.new_kind
    return None


@lru_cache(maxsize=64)
def _parsed(kind: triage.LetterKind, text: str, source: str) -> triage.LetterTemplate:
    return triage.parse_template(kind, text, source)


def _stored_version(version: LetterTemplateVersion | None, sha256: str | None,
                    kind: triage.LetterKind) -> triage.LetterTemplate:
    if version is None or hashlib.sha256(version.text.encode("utf-8")).hexdigest() != sha256:
        raise triage.LetterTemplateError(f"the stored version {sha256} of letter template {kind.value}.txt is "
                                         "missing or does not match its hash")
    return _parsed(kind, version.text, f"{kind.value}.txt@{version.sha256[:12]}")


def letter_pdf(letter: Letter) -> bytes:
    """The letter as PDF, rendered from its stored content and template versions: the same bytes every time."""
    if letter.pdf:
        return letter.pdf
    kind = triage.LetterKind(letter.kind)
    data = content_from_json(letter.content)
    if letter.template_sha256 is None:
        # Only a letter stored without versions (none since migration 0004 pinned the old ones): shipped templates.
        return triage.render_letter(kind, data)
    templates = {kind: _stored_version(letter.template, letter.template_sha256, kind)}
    body = _body_kind(kind, data)
    if body is not None:
        templates[body] = _stored_version(letter.body_template, letter.body_template_sha256, body)
    return triage.render_letter(kind, data, triage.LetterTemplates(templates, require_every_kind=False))


def current_template(kind: triage.LetterKind, settings: Settings) -> triage.LetterTemplate:
    """The lab's template for ``kind`` as the file reads now (``letter_template_dir``, default: shipped)."""
    try:
        return triage.load_template(kind, settings.letter_template_dir)
    except triage.LetterTemplateError as exc:
        raise ConfigurationError(f"FIT_LAB_LETTER_TEMPLATE_DIR: {exc}; no letter can be issued until it is fixed") \
            from None


def _remember(session: Session, template: triage.LetterTemplate, now: datetime) -> str:
    """Store this version of the template once (concurrent writers may race: the first one wins, same text)."""
    _remember_all(session, [template], now)
    return template.sha256


def _remember_all(session: Session, templates: list[triage.LetterTemplate], now: datetime) -> None:
    """``_remember`` for several versions in one statement, written in the order given."""
    stored = _per_transaction(session, _STORED)
    new = [t for t in templates if t.sha256 not in stored]
    if not new:
        return
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    # Without an autoflush: nothing pending needs writing before these rows (letters naming them come after
    # them), and a batch of letters is then written in one INSERT.
    with session.no_autoflush:
        session.execute(insert(LetterTemplateVersion.__table__)  # type: ignore[attr-defined]
                        .values([{"sha256": t.sha256, "text": t.text, "stored_at": now} for t in new])
                        .on_conflict_do_nothing(index_elements=["sha256"]))
    stored.update((t.sha256, True) for t in new)


def _in_force(session: Session, kind: triage.LetterKind, settings: Settings) -> triage.LetterTemplate:
    """The template for ``kind`` as its file read when this transaction first needed it: a transaction's letters
    (an analyser message's, a failsafe run's) are written at one moment, and the file is not read for each."""
    in_force = _per_transaction(session, _IN_FORCE)
    key = (kind, str(settings.letter_template_dir))
    if key not in in_force:
        in_force[key] = current_template(kind, settings)
    template: triage.LetterTemplate = in_force[key]
    return template


def store_template_versions(session: Session, kinds: Iterable[triage.LetterKind], settings: Settings,
                            now: datetime) -> None:
    """Store the versions in force of these kinds' templates, in one order (by hash) whatever order the letters
    come in: two transactions storing the same new versions then wait for each other instead of deadlocking."""
    templates = {template.sha256: template for template in (_in_force(session, kind, settings) for kind in set(kinds))}
    _remember_all(session, [templates[sha256] for sha256 in sorted(templates)], now)


def store_gp_letter(
    session: Session, kind: triage.LetterKind, data: triage.LetterData, *, referral_id: int, kit_id: int | None,
    now: datetime, outcome_id: int | None = None, supersedes: int | None = None, settings: Settings | None = None,
    flush: bool = True,
) -> Letter:
    """Store a letter to the GP with the template versions in force now; nothing is rendered here.

    ``settings`` gives the lab's template folder; callers that do not pass it get the process's settings. With
    ``flush=False`` the letter has no id until the caller flushes (one INSERT for many letters).
    """
    settings = settings or get_settings()
    referral = session.get(Referral, referral_id)
    assert referral is not None
    template_sha256 = _remember(session, _in_force(session, kind, settings), now)
    body = _body_kind(kind, data)
    body_sha256 = _remember(session, _in_force(session, body, settings), now) if body is not None else None
    letter = Letter(referral_id=referral_id, practice_id=referral.practice_id, kit_id=kit_id, outcome_id=outcome_id,
                    kind=kind.value, policy_version=data.policy_version, created_at=now,
                    content=content_to_json(data), template_sha256=template_sha256,
                    body_template_sha256=body_sha256, supersedes_letter_id=supersedes)
    session.add(letter)
    if flush:
        session.flush()
    return letter


def store_patient_reminder(session: Session, kit: Kit, settings: Settings, now: datetime, *,
                           flush: bool = True) -> Letter:
    """The reminder re-sends the kit's instructions: the patient may have lost them.

    With ``flush=False`` the letter has no id until the caller flushes (one INSERT for many letters).
    """
    from fit_lab.services.dispatch import lab_details

    ctx = _context(session, kit.referral_id)
    patient, referral = ctx["patient"], ctx["referral"]
    lines = tuple(x for x in (patient.address_line1, patient.address_line2, patient.town) if x)
    kit_label = labels.KitLabel(kit.specimen_id, f"{patient.given_name} {patient.family_name}",
                                patient.date_of_birth, patient.nhs_number, lines, patient.postcode)
    pdf = labels.render_instruction_letters_pdf(
        [kit_label], labels.LetterSettings(lab_details(settings), settings.patient_post_within_days, now.date())
    )
    letter = Letter(referral_id=referral.id, practice_id=referral.practice_id, kit_id=kit.id, kind="reminder",
                    created_at=now, pdf=pdf)
    session.add(letter)
    if flush:
        session.flush()
    return letter
