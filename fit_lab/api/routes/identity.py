"""Patient details a referral sent that differ from the lab's record: the lab's reconciliation worklist."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fit_lab.api.deps import EngineDep, page_limit, require
from fit_lab.api.responses import errors
from fit_lab.principal import Principal
from fit_lab.services import identity
from fit_lab.text import RequiredLine

router = APIRouter(tags=["referrals"])
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Record id")]
ChangeStatus = Literal["applied", "pending", "accepted", "kept"]
Worklist = Annotated[Principal, Depends(require(*identity.WORKLIST_ROLES))]


class DemographicsChangeOut(BaseModel):
    id: int
    patient_id: int
    referral_id: int | None
    practice_id: int
    status: ChangeStatus
    previous: dict[str, Any] = Field(description="The lab's record as it stood")
    sent: dict[str, Any] = Field(description="What the referral's practice sent")
    created_at: datetime
    created_by: str
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


class DemographicsChangePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[DemographicsChangeOut]


class Reconciliation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["use_sent", "keep_record"] = Field(
        description="use_sent: the sent details replace the record (kept as 'previous'); keep_record: it stands")
    reason: RequiredLine = Field(min_length=1, max_length=identity.MAX_REASON_LENGTH)


@router.get("/demographics-changes", response_model=DemographicsChangePage, responses=errors(401, 403))
def list_changes(engine: EngineDep, actor: Worklist, limit: Annotated[int, Depends(page_limit)],
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                 status: Annotated[ChangeStatus, Query(description="pending: waiting for a lab person")] = "pending",
                 ) -> DemographicsChangePage:
    """Sent details that differ from the lab's record, both versions side by side (by default those waiting)."""
    total, rows = identity.list_changes(engine, actor=actor, status=status, limit=limit, offset=offset)
    return DemographicsChangePage(total=total, limit=limit, offset=offset,
                                  items=[DemographicsChangeOut.model_validate(asdict(r)) for r in rows])


@router.post("/demographics-changes/{change_id:int}/reconcile", response_model=DemographicsChangeOut,
             responses=errors(400, 401, 403, 404, 409, 422))
def reconcile(change_id: RecordId, body: Reconciliation, engine: EngineDep, actor: Worklist) -> DemographicsChangeOut:
    """Take the sent details or keep the record (once; audited). Then release the held referral as usual."""
    row = identity.reconcile(engine, change_id, decision=body.decision, reason=body.reason, actor=actor)
    return DemographicsChangeOut.model_validate(asdict(row))
