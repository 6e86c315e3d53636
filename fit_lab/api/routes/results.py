from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fit_lab.api.deps import EngineDep, SettingsDep, page_limit, require
from fit_lab.api.responses import errors
from fit_lab.principal import Principal
from fit_lab.services import result_review
from fit_lab.text import RequiredLine

router = APIRouter(prefix="/results", tags=["results"])
Scientist = Annotated[Principal, Depends(require("scientist", "admin"))]
ResultId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ResultOut(BaseModel):
    id: int
    specimen_id: str
    kit_id: int | None
    instrument: str
    method: str
    comparator: str | None
    fhb_ug_per_g: float | None
    raw_value: str | None
    raw_unit: str | None
    error_code: str | None
    measured_at: datetime
    status: str
    unmatched_reason: str | None
    held_reason: str | None


class ResultPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ResultOut]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    specimen_id: RequiredLine = Field(min_length=1, max_length=40)


# As on an analyser report, in µg Hb/g: "57", "12.5", "<10", ">400" (no "<0": nothing is below zero), or an error
# code of the result's method such as "insufficient_sample". No spaces, so the schema and the parser agree.
_POSITIVE = r"(0*[1-9][0-9]*(\.[0-9]+)?|0+\.[0-9]*[1-9][0-9]*)"
_VALUE_TEXT = rf"^(=?[0-9]+(\.[0-9]+)?|<{_POSITIVE}|>[0-9]+(\.[0-9]+)?|[A-Za-z][A-Za-z0-9_.\-]{{0,39}})$"
# The published schema lists the error codes the lab's policies know instead of any token (fit_lab.api.openapi).
VALUE_NUMBER_TEXT = rf"^(=?[0-9]+(\.[0-9]+)?|<{_POSITIVE}|>[0-9]+(\.[0-9]+)?)$"
FhbNumber = Annotated[float, Field(ge=0, le=100_000, strict=True, allow_inf_nan=False,
                                   description="A plain f-Hb in µg Hb/g")]
FhbText = Annotated[str, Field(max_length=40, pattern=_VALUE_TEXT,
                               description='A censored value ("<10", ">400"), a number as text, or an error code '
                                           'of the result\'s method (e.g. "insufficient_sample")')]


class AmendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"value": 57, "reason": "transcription error"},
                     {"value": "<10", "reason": "re-run after dilution"},
                     {"value": ">400", "reason": "wrong tube read"}]})
    value: FhbNumber | FhbText = Field(description="The corrected result in µg Hb/g")
    reason: RequiredLine = Field(min_length=1, max_length=400, description="Why the result is amended")

    def value_text(self) -> str:
        """The value as the result service reads it ("57", "<10"), a number written out without an exponent."""
        if isinstance(self.value, float):
            return format(Decimal(repr(self.value)), "f")
        return self.value


class AmendedOut(BaseModel):
    result_id: int
    outcome_id: int = Field(description="The new current outcome; the old one stays in the referral's history")


class DiscardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: RequiredLine = Field(min_length=1, max_length=400)


def _out(result) -> ResultOut:  # type: ignore[no-untyped-def]
    return ResultOut.model_validate(result, from_attributes=True)


def _page(status: str, engine: EngineDep, actor: Principal, limit: int, offset: int) -> ResultPage:
    total, rows = result_review.list_results(engine, status, actor=actor, limit=limit, offset=offset)
    return ResultPage(total=total, limit=limit, offset=offset, items=[_out(r) for r in rows])


@router.get("/unmatched", response_model=ResultPage, responses=errors(401, 403))
def unmatched(engine: EngineDep, actor: Scientist, limit: Annotated[int, Depends(page_limit)],
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ResultPage:
    """Results that could not be attached to a received kit, with the reason; they wait for a scientist."""
    return _page("unmatched", engine, actor, limit, offset)


@router.get("/held", response_model=ResultPage, responses=errors(401, 403))
def held(engine: EngineDep, actor: Scientist, limit: Annotated[int, Depends(page_limit)],
         offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ResultPage:
    """Results held by the QC gate (after a QC failure or without a recent passing QC)."""
    return _page("held", engine, actor, limit, offset)


@router.post("/{result_id}/link", response_model=ResultOut, responses=errors(400, 401, 403, 404, 409, 422))
def link(result_id: ResultId, body: LinkIn, engine: EngineDep, settings: SettingsDep, actor: Scientist) -> ResultOut:
    """Attach an unmatched result to a received kit."""
    return _out(result_review.link_result(engine, result_id, body.specimen_id, actor=actor, settings=settings))


@router.post("/{result_id}/discard", response_model=ResultOut, responses=errors(400, 401, 403, 404, 409, 422))
def discard(result_id: ResultId, body: DiscardIn, engine: EngineDep, actor: Scientist) -> ResultOut:
    """Discard an unmatched or held result, with the reason (kept and audited, never deleted)."""
    return _out(result_review.discard_result(engine, result_id, body.reason, actor=actor))


@router.post("/{result_id}/release", response_model=ResultOut, responses=errors(400, 401, 403, 404, 409))
def release(result_id: ResultId, engine: EngineDep, settings: SettingsDep, actor: Scientist) -> ResultOut:
    """Release a result held by the QC gate; its outcome and GP letter are made in the same transaction."""
    return _out(result_review.release_held(engine, result_id, actor=actor, settings=settings))


@router.post("/{result_id}/reject-too-old", response_model=ResultOut, responses=errors(400, 401, 403, 404, 409))
def reject_too_old(result_id: ResultId, engine: EngineDep, settings: SettingsDep, actor: Scientist) -> ResultOut:
    """For a result held as "sample too old at analysis": discard it and reject its kit as too old, which sends a
    replacement kit and tells the GP (one transaction, audited)."""
    return _out(result_review.reject_too_old(engine, result_id, actor=actor, settings=settings))


@router.post("/{result_id}/amend", response_model=AmendedOut, responses=errors(400, 401, 403, 404, 409, 422))
def amend(result_id: ResultId, body: AmendIn, engine: EngineDep, settings: SettingsDep,
          actor: Scientist) -> AmendedOut:
    """Correct a released result, with the reason: it is triaged again and the GP gets an AMENDED letter that
    replaces the earlier one. The earlier outcome and letter stay in the history (`GET /outcomes/{referral_id}`)."""
    outcome_id = result_review.amend_result(engine, result_id, body.value_text(), body.reason, actor=actor,
                                            settings=settings)
    return AmendedOut(result_id=result_id, outcome_id=outcome_id)
