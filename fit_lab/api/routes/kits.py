from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from fit_lab.api.deps import EngineDep, SettingsDep, require
from fit_lab.api.responses import errors
from fit_lab.api.types import IsoDate
from fit_lab.principal import Principal
from fit_lab.services import kits
from fit_lab.text import REQUIRED_LINE_PATTERN, Line

router = APIRouter(prefix="/kits", tags=["reception"])
Lab = Annotated[Principal, Depends(require("lab", "scientist", "admin"))]
SpecimenId = Annotated[str, Path(min_length=1, max_length=40, description="As scanned from the tube")]
ReasonCode = Literal[tuple(kits.REJECTION_REASONS)]  # type: ignore[valid-type]


class ReceiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection_date: IsoDate | None = Field(default=None, description="As the patient wrote it on the tube")


class RejectIn(BaseModel):
    # The schema says what the service checks: a note (with a visible character) when the reason is 'other'.
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
        "then": {"required": ["note"], "properties": {"note": {"type": "string", "pattern": REQUIRED_LINE_PATTERN}}},
    })
    reason: ReasonCode  # type: ignore[valid-type]
    note: Line | None = Field(default=None, max_length=400, validate_default=True,
                              description="Required when the reason is 'other': say why")

    @field_validator("note")
    @classmethod
    def _note_when_other(cls, note: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("reason") == "other" and not (note or "").split():
            raise ValueError("say why when the reason is 'other'")
        return note


class KitAtBenchOut(BaseModel):
    specimen_id: str
    state: str
    patient_name: str
    date_of_birth: date
    nhs_number: str
    received_at: datetime | None
    received_by: str | None
    collection_date: date | None
    reject_reason: str | None
    replacement_specimen_id: str | None
    already: bool
    message: str


@router.post("/{specimen_id}/receive", response_model=KitAtBenchOut, responses=errors(400, 401, 403, 404, 409, 422))
def receive(specimen_id: SpecimenId, body: ReceiveIn, engine: EngineDep, settings: SettingsDep,
            actor: Lab) -> KitAtBenchOut:
    """Record a returned kit. A second scan changes nothing and says when and by whom it was received."""
    result = kits.receive_kit(engine, specimen_id, body.collection_date, actor=actor, settings=settings)
    return KitAtBenchOut(**asdict(result))


@router.post("/{specimen_id}/reject", response_model=KitAtBenchOut, responses=errors(400, 401, 403, 404, 409, 422))
def reject(specimen_id: SpecimenId, body: RejectIn, engine: EngineDep, settings: SettingsDep,
           actor: Lab) -> KitAtBenchOut:
    """Reject a returned kit with a reason; a replacement kit joins the next batch and the GP gets a letter."""
    result = kits.reject_kit(engine, specimen_id, body.reason, body.note, actor=actor, settings=settings)
    return KitAtBenchOut(**asdict(result))
