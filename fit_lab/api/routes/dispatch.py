from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fit_lab.api.deps import EngineDep, SettingsDep, require
from fit_lab.api.responses import errors
from fit_lab.principal import Principal
from fit_lab.services import dispatch
from fit_lab.text import RequiredLine

router = APIRouter(prefix="/dispatch-batches", tags=["dispatch"])
Lab = Annotated[Principal, Depends(require("lab", "admin"))]
BatchId = Annotated[int, Path(ge=1, le=2**31 - 1)]
FILE_ERRORS = errors(401, 403, 404, 409, 422)


class ZplDpi(IntEnum):
    """Thermal printer resolutions the labels are sized for (``dispatch.ZPL_DPI``)."""

    dpi_203 = 203
    dpi_300 = 300


Dpi = Annotated[ZplDpi, Query(description="The thermal printer's resolution in dots per inch: the bars are sized "
                                          "for it (module at least 0.25 mm)")]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int | None = Field(default=None, ge=1, le=dispatch.MAX_BATCH, strict=True)  # true is not 1
    format: Literal["pdf", "zpl"] = "pdf"


class HeldReferral(BaseModel):
    referral_id: int
    reason: str


class BatchOut(BaseModel):
    batch_id: int | None
    kit_count: int
    held: list[HeldReferral]


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: RequiredLine = Field(min_length=1, max_length=400)


class KitNotVoidedOut(BaseModel):
    specimen_id: str
    state: str
    reason: str


class CancelOut(BaseModel):
    batch_id: int
    kits_voided: int
    not_voided: list[KitNotVoidedOut] | None = Field(
        default=None, description="Present when some kits could not be voided (they had come back), with why")


@router.post("", response_model=BatchOut, status_code=201, responses=errors(400, 401, 403, 422))
def create_batch(body: BatchRequest, engine: EngineDep, actor: Lab) -> BatchOut:
    """Allocate kits for referrals awaiting one, oldest first; batch_id is null when none were waiting."""
    result = dispatch.create_batch(engine, actor=actor, limit=body.limit, label_format=body.format)
    return BatchOut(batch_id=result.batch_id, kit_count=result.kit_count,
                    held=[HeldReferral(referral_id=r, reason=why) for r, why in result.held])


def _file(engine: EngineDep, settings: SettingsDep, actor: Principal, batch_id: int, part: str,
          **options: Any) -> bytes:
    # A download can be printed: audited as a reprint and counted on the batch. Only this file is rendered.
    return dispatch.batch_file(engine, batch_id, part, actor=actor, settings=settings, **options)


@router.get("/{batch_id}/labels.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}},
                                                                          **FILE_ERRORS})
def labels_pdf(batch_id: BatchId, engine: EngineDep, settings: SettingsDep, actor: Lab) -> Response:
    """Label sheets (A4, the configured stock). Refused (409) for a cancelled batch."""
    return Response(_file(engine, settings, actor, batch_id, "labels", label_format="pdf"),
                    media_type="application/pdf")


@router.get("/{batch_id}/labels.zpl", response_class=Response, responses={200: {"content": {"text/plain": {}}},
                                                                          **FILE_ERRORS})
def labels_zpl(batch_id: BatchId, engine: EngineDep, settings: SettingsDep, actor: Lab,
               zpl_dpi: Dpi = ZplDpi.dpi_203) -> Response:
    """Thermal-printer labels (ZPL II) for a 203 or 300 dpi printer. Refused (409) for a cancelled batch."""
    return Response(_file(engine, settings, actor, batch_id, "labels", label_format="zpl", zpl_dpi=int(zpl_dpi)),
                    media_type="text/plain")


@router.get("/{batch_id}/letters.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}},
                                                                           **FILE_ERRORS})
def letters_pdf(batch_id: BatchId, engine: EngineDep, settings: SettingsDep, actor: Lab) -> Response:
    """The patients' instruction letters. Refused (409) for a cancelled batch."""
    return Response(_file(engine, settings, actor, batch_id, "letters"), media_type="application/pdf")


@router.get("/{batch_id}/manifest.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}},
                                                                            **FILE_ERRORS})
def manifest_csv(batch_id: BatchId, engine: EngineDep, settings: SettingsDep, actor: Lab) -> Response:
    """Specimen ID, NHS number, name, postcode and practice per kit. Refused (409) for a cancelled batch."""
    return Response(_file(engine, settings, actor, batch_id, "manifest"), media_type="text/csv")


@router.post("/{batch_id}/cancel", response_model=CancelOut, response_model_exclude_none=True,
             responses=errors(400, 401, 403, 404, 409, 422))
def cancel_batch(batch_id: BatchId, body: CancelRequest, engine: EngineDep, actor: Lab) -> CancelOut:
    """Void the batch's kits that have not come back and return their referrals to the queue; kits already
    received are listed in not_voided with the reason."""
    result = dispatch.cancel_batch(engine, batch_id, reason=body.reason, actor=actor)
    not_voided = [KitNotVoidedOut(specimen_id=k.specimen_id, state=k.state, reason=k.reason)
                  for k in result.not_voided]
    return CancelOut(batch_id=batch_id, kits_voided=result.kits_voided, not_voided=not_voided or None)
