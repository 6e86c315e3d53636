from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fit_lab.api.deps import EngineDep, SettingsDep, page_limit, require
from fit_lab.api.responses import errors
from fit_lab.api.types import IsoDate
from fit_lab.principal import Principal
from fit_lab.services import colonoscopy, fhir, gp_view
from fit_lab.text import Line

router = APIRouter(tags=["outcomes"])
Viewer = Annotated[Principal, Depends(require("gp", "scientist", "admin"))]
Scientist = Annotated[Principal, Depends(require("scientist", "admin"))]
Gp = Annotated[Principal, Depends(require("gp"))]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class OutcomeOut(BaseModel):
    referral_id: int
    outcome_id: int
    created_at: datetime
    action: str
    band: str | None
    priority: str | None
    explanation: str
    policy_version: str
    fhb: str
    practice_ods: str
    patient_name: str
    nhs_number: str
    date_of_birth: date
    letter_id: int | None
    letter_kind: str | None
    acknowledged_at: datetime | None
    positive: bool


class OutcomePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[OutcomeOut]


class OutcomeDetail(BaseModel):
    current: OutcomeOut
    history: list[dict[str, Any]]


class ListedPatientOut(BaseModel):
    rank: int
    referral_id: int
    nhs_number: str
    patient_name: str
    date_of_birth: date
    practice_ods: str
    band: str
    priority: str
    fhb: str
    flags: list[str]
    days_waited: int
    policy_version: str
    reason: str
    list_state: Literal["booked", "did_not_attend"] | None = Field(
        default=None, description="None while waiting to be booked")
    booked_for: date | None = None
    due_date: date | None = Field(default=None, description="Referral date + the priority's target days")
    fds_breach_date: date | None = Field(default=None, description="Referral date + 28 days (Faster Diagnosis "
                                         "Standard)")


class ListStateIn(BaseModel):
    state: Literal["booked", "seen", "declined", "did_not_attend", "not_suitable"]
    booked_for: date | None = Field(default=None, description="The colonoscopy date (a booking only)")
    note: Line | None = Field(default=None, max_length=400,
                              description="Why (required when declined or not suitable)")


class ListStateOut(BaseModel):
    referral_id: int
    state: str
    on_list: bool = Field(description="False once the patient has left the list (seen, declined, not suitable)")
    place: ListedPatientOut | None


class LetterOut(BaseModel):
    letter_id: int
    kind: str
    created_at: datetime
    referral_id: int
    practice_ods: str
    patient_name: str
    nhs_number: str
    date_of_birth: date
    specimen_id: str | None
    outcome_id: int | None = Field(description="None for letters with no result: kit rejected, kit not returned")
    policy_version: str | None
    supersedes_letter_id: int | None
    superseded_by_letter_id: int | None = Field(description="The AMENDED letter that replaces this one, if any")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    pdf_url: str


class LetterPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[LetterOut]


LetterKindParam = Literal[gp_view.LETTER_KINDS]  # type: ignore[valid-type]
_KIND_HELP = "One kind of letter; without it every letter to the GP (patient reminders only when asked for)"


class Acknowledged(BaseModel):
    letter_id: int
    acknowledged_at: datetime
    acknowledged_by: str


def _out(row: gp_view.OutcomeRow) -> OutcomeOut:
    return OutcomeOut(**asdict(row), positive=row.positive)


@router.get("/outcomes", response_model=OutcomePage, responses=errors(401, 403))
def outcomes(
    engine: EngineDep, actor: Viewer, limit: Annotated[int, Depends(page_limit)],
    band: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$")] = None,
    since: IsoDate | None = None, until: IsoDate | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> OutcomePage:
    """Current outcomes, newest first (positives flagged); a GP sees only their own practice."""
    total, rows = gp_view.list_outcomes(engine, actor=actor, band=band, since=since, until=until, limit=limit,
                                        offset=offset)
    return OutcomePage(total=total, limit=limit, offset=offset, items=[_out(r) for r in rows])


@router.get("/outcomes/{referral_id}", response_model=OutcomeDetail, responses=errors(401, 403, 404))
def outcome(referral_id: Id, engine: EngineDep, actor: Viewer) -> OutcomeDetail:
    current, history = gp_view.outcome_for_referral(engine, referral_id, actor=actor)
    return OutcomeDetail(current=_out(current), history=history)


@router.get("/letters", response_model=LetterPage, responses=errors(401, 403))
def letters(
    engine: EngineDep, actor: Viewer, limit: Annotated[int, Depends(page_limit)],
    kind: Annotated[LetterKindParam | None, Query(description=_KIND_HELP)] = None,  # type: ignore[valid-type]
    since: IsoDate | None = None, until: IsoDate | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> LetterPage:
    """Letters newest first, including kit-rejected and kit-not-returned letters, which have no outcome; a GP sees
    only their own practice's. Each opens at `pdf_url`."""
    total, rows = gp_view.list_letters(engine, actor=actor, kind=kind, since=since, until=until, limit=limit,
                                       offset=offset)
    items = [LetterOut(**asdict(r), pdf_url=f"/api/v1/letters/{r.letter_id}.pdf") for r in rows]
    return LetterPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/letters/{letter_id}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}, **errors(401, 403, 404)})
def letter_pdf(letter_id: Id, engine: EngineDep, actor: Viewer) -> Response:
    return Response(gp_view.letter_pdf(engine, letter_id, actor=actor), media_type="application/pdf")


@router.post("/letters/{letter_id}/acknowledge", response_model=Acknowledged, responses=errors(401, 403, 404, 409))
def acknowledge(letter_id: Id, engine: EngineDep, actor: Gp) -> Acknowledged:
    """The GP has read the letter."""
    letter = gp_view.acknowledge(engine, letter_id, actor=actor)
    return Acknowledged(letter_id=letter_id, acknowledged_at=letter.acknowledged_at,  # type: ignore[arg-type]
                        acknowledged_by=letter.acknowledged_by or "")


@router.get("/triage/colonoscopy-list", response_model=list[ListedPatientOut], responses=errors(401, 403))
def colonoscopy_list(engine: EngineDep, settings: SettingsDep, actor: Scientist,
                     limit: Annotated[int, Depends(page_limit)],
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[ListedPatientOut]:
    """Referred patients in colonoscopy order: earliest due date first (referral date + the priority's target
    days from the list order file), then priority, band, f-Hb, clinical flags, time waited (ties stable).

    Paged like every list (``limit`` is capped by the server); each patient keeps their rank in the whole list.
    """
    ranked = colonoscopy.ranked_list(engine, actor=actor, settings=settings)
    return [ListedPatientOut(**asdict(p)) for p in ranked[offset:offset + limit]]


@router.post("/triage/colonoscopy-list/{referral_id}/state", response_model=ListStateOut,
             responses=errors(400, 401, 403, 404, 409, 422))
def record_list_state(referral_id: Id, body: ListStateIn, engine: EngineDep, actor: Scientist) -> ListStateOut:
    """The booking team's step for a patient: booked (with the date), seen, declined, did not attend, not suitable.

    Who and when are recorded and audited; a patient seen, declined or not suitable leaves the list."""
    on_list = colonoscopy.record_list_state(engine, referral_id, body.state, actor=actor,
                                            booked_for=body.booked_for, note=body.note)
    place = colonoscopy.place_on_list(engine, referral_id, actor=actor) if on_list else None
    return ListStateOut(referral_id=referral_id, state=body.state, on_list=on_list,
                        place=ListedPatientOut(**asdict(place)) if place else None)


@router.get("/fhir/DiagnosticReport/{result_id}", responses={200: {"content": {"application/fhir+json": {}}},
                                                             **errors(401, 403, 404)})
def diagnostic_report(result_id: Id, engine: EngineDep, settings: SettingsDep, actor: Viewer) -> dict[str, Any]:
    """The released result as a FHIR R4 DiagnosticReport (Observation, Patient, Specimen contained)."""
    return fhir.diagnostic_report(engine, result_id, actor=actor, settings=settings)
