from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from fit_lab.api.deps import EngineDep, SettingsDep, page_limit, require
from fit_lab.api.responses import errors
from fit_lab.api.schemas import (
    ImportReportOut,
    ReferralCreated,
    ReferralIn,
    ReferralOut,
    ReferralPage,
    RejectionOut,
    RejectionPage,
)
from fit_lab.api.uploads import read_limited
from fit_lab.principal import Principal
from fit_lab.services import intake, referrals
from fit_lab.text import RequiredLine

router = APIRouter(tags=["referrals"])
ReferralStatus = Literal["awaiting_kit", "on_hold", "in_progress", "resulted", "closed"]
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Record id")]
Intake = Annotated[Principal, Depends(require("lab", "admin", "gp"))]
Reader = Annotated[Principal, Depends(require("lab", "scientist", "admin", "gp"))]
Worklist = Annotated[Principal, Depends(require(*referrals.WORKLIST_ROLES))]
Reason = Field(min_length=1, max_length=referrals.MAX_REASON_LENGTH)  # used with RequiredLine


class ImportReport(ImportReportOut):
    row_numbering: str = Field(default=intake.ROW_NUMBERING, description="How the row numbers count")


class HoldDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["queue", "close"] = Field(description="queue: send a kit; close: no kit for this referral")
    reason: RequiredLine = Reason


class HoldReleasedOut(BaseModel):
    referral_id: int
    status: Literal["awaiting_kit", "closed"]
    message: str


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: RequiredLine = Field(min_length=1, max_length=referrals.MAX_REASON_LENGTH,
                            description="What was done, e.g. 'corrected NHS number and resubmitted'")


class RejectionResolvedOut(BaseModel):
    id: int
    resolved_at: datetime
    resolved_by: str
    resolution: str


@router.post("/referrals", response_model=ReferralCreated, status_code=201, responses=errors(400, 401, 403, 422))
def create_referral(body: ReferralIn, engine: EngineDep, settings: SettingsDep, actor: Intake) -> ReferralCreated:
    """Accept one referral. A resubmission stores nothing and answers status "duplicate". A referral with a
    do-not-wait flag (rectal or anal mass, anal ulceration) answers ``red_flag: true``: no kit is sent, the GP is
    told to refer now."""
    outcome = intake.create_referral(engine, body.as_row(), actor=actor, settings=settings)
    return ReferralCreated(status=outcome.status, referral_id=outcome.referral_id, on_hold=outcome.on_hold,  # type: ignore[arg-type]
                           red_flag=outcome.red_flag, message=outcome.message)


@router.post("/referrals/import", response_model=ImportReport, responses=errors(400, 401, 403, 413, 422))
async def import_referrals(
    request: Request, engine: EngineDep, settings: SettingsDep, actor: Intake,
    file: Annotated[UploadFile, File(description="Referral CSV (columns as in the interface spec)")],
) -> ImportReport:
    """Bulk intake: good rows are stored, every bad row is reported (row, field, reason) and kept.

    A row is numbered by its line in the file: the header is line 1 and blank lines count."""
    data = await read_limited(request, file, settings.max_upload_bytes)
    report = intake.import_csv(engine, data, filename=file.filename or "upload.csv", source="csv_api", actor=actor,
                               settings=settings)
    return ImportReport(
        import_batch_id=report.import_batch_id, rows=report.rows, accepted=report.accepted,
        duplicates=report.duplicates, rejected=report.rejected, on_hold=report.on_hold, red_flags=report.red_flags,
        rejected_rows=[o.as_dict() for o in report.rejected_rows()],  # type: ignore[misc]
        duplicate_rows=[o.as_dict() for o in report.duplicate_rows()],  # type: ignore[misc]
    )


@router.get("/referrals/{referral_id:int}", response_model=ReferralOut, responses=errors(401, 403, 404))
def get_referral(referral_id: RecordId, engine: EngineDep, actor: Reader) -> ReferralOut:
    return ReferralOut.model_validate(asdict(referrals.get_referral(engine, referral_id, actor=actor)))


@router.get("/referrals", response_model=ReferralPage, responses=errors(401, 403))
def list_referrals(
    engine: EngineDep, actor: Reader, limit: Annotated[int, Depends(page_limit)],
    status: Annotated[ReferralStatus | None, Query()] = None,
    practice: Annotated[str | None, Query(pattern=r"^[A-Za-z][0-9]{5}$", description="Practice ODS code")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ReferralPage:
    """Referrals, oldest first; a GP sees only their own practice. Page size is capped by the server."""
    total, views = referrals.list_referrals(engine, actor=actor, status=status, practice_ods=practice,
                                            limit=limit, offset=offset)
    return ReferralPage(total=total, limit=limit, offset=offset,
                        items=[ReferralOut.model_validate(asdict(v)) for v in views])


@router.get("/intake-rejections", response_model=RejectionPage, responses=errors(401, 403))
def list_rejections(
    engine: EngineDep, actor: Annotated[Principal, Depends(require("lab", "admin"))],
    limit: Annotated[int, Depends(page_limit)], offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RejectionPage:
    """Referrals that were refused and kept, waiting for a person to correct and resubmit them."""
    total, rows = referrals.list_rejections(engine, actor=actor, limit=limit, offset=offset)
    return RejectionPage(total=total, limit=limit, offset=offset,
                         items=[RejectionOut.model_validate(r, from_attributes=True) for r in rows])


@router.post("/referrals/{referral_id:int}/release-hold", response_model=HoldReleasedOut,
             responses=errors(400, 401, 403, 404, 409, 422))
def release_hold(referral_id: RecordId, body: HoldDecision, engine: EngineDep, actor: Worklist) -> HoldReleasedOut:
    """Decide a referral on hold: queue it for a kit, or close it. Refused (409) while another referral of the
    patient is still waiting for its kit."""
    released = referrals.release_hold(engine, referral_id, decision=body.decision, reason=body.reason, actor=actor)
    return HoldReleasedOut(referral_id=released.referral_id, status=released.status,  # type: ignore[arg-type]
                           message=released.message)


@router.post("/intake-rejections/{rejection_id:int}/resolve", response_model=RejectionResolvedOut,
             responses=errors(400, 401, 403, 404, 409, 422))
def resolve_rejection(rejection_id: RecordId, body: Resolution, engine: EngineDep,
                      actor: Worklist) -> RejectionResolvedOut:
    """Mark a refused row as dealt with, saying how (once; a second time answers 409)."""
    row = referrals.resolve_rejection(engine, rejection_id, resolution=body.resolution, actor=actor)
    return RejectionResolvedOut(id=row.id, resolved_at=row.resolved_at, resolved_by=row.resolved_by,  # type: ignore[arg-type]
                                resolution=row.resolution)  # type: ignore[arg-type]
