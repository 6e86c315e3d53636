"""Request and response bodies of the HTTP API (tables are never returned directly)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fit_lab.api.types import IsoDate
from fit_lab.text import Line, RequiredLine


class Problem(BaseModel):
    field: str
    reason: str
    row: int | None = None


class ErrorBody(BaseModel):
    detail: str | list[Problem]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: str


class ReferralIn(BaseModel):
    """One referral, with the same fields and rules as a row of the referral CSV."""

    model_config = ConfigDict(extra="forbid")

    nhs_number: Line = Field(max_length=20, examples=["943 476 5919"])
    family_name: RequiredLine = Field(max_length=200)
    given_name: RequiredLine = Field(max_length=200)
    date_of_birth: IsoDate
    sex: Literal["F", "M", "I", "U"]
    address_line1: RequiredLine = Field(max_length=400)
    address_line2: Line | None = Field(default=None, max_length=400)
    town: Line | None = Field(default=None, max_length=200)
    postcode: Line = Field(max_length=10, examples=["LS1 4AP"])
    ethnicity_code: Line = Field(max_length=2, examples=["A"])
    practice_ods: Line = Field(max_length=10, examples=["A81001"])
    requester: RequiredLine = Field(max_length=400)
    referral_date: IsoDate
    symptoms: list[Line] = Field(min_length=1, max_length=9, examples=[["rectal_bleeding"]])
    haemoglobin_g_per_l: float | None = None
    ferritin_ug_per_l: float | None = None
    iron_deficiency_anaemia: bool = False
    abdominal_mass: bool = False
    rectal_mass: bool = False
    clinical_concern: bool = False
    external_ref: Line | None = Field(default=None, max_length=128)

    def as_row(self) -> dict[str, str]:
        """The body as the strings a CSV row would carry, so both paths share one validator."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                out[name] = ""
            elif isinstance(value, bool):
                out[name] = "y" if value else "n"
            elif isinstance(value, list):
                out[name] = ";".join(value)
            elif isinstance(value, date):
                out[name] = value.isoformat()
            else:
                out[name] = str(value)
        return out


class ReferralCreated(BaseModel):
    status: Literal["accepted", "duplicate"]
    referral_id: int | None
    on_hold: bool = False
    red_flag: bool = Field(default=False, description="Referred at once without FIT: no kit will be sent")
    message: str | None = None


class RowReport(BaseModel):
    row: int | None
    status: Literal["accepted", "duplicate", "rejected"]
    referral_id: int | None = None
    on_hold: bool = False
    red_flag: bool = False
    message: str | None = None
    problems: list[Problem] = []


class ImportReportOut(BaseModel):
    import_batch_id: int | None
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    on_hold: int
    red_flags: int = Field(default=0, description="Referred at once without FIT (no kit will be sent)")
    rejected_rows: list[RowReport]
    duplicate_rows: list[RowReport]


class PatientOut(BaseModel):
    nhs_number: str
    family_name: str
    given_name: str
    date_of_birth: date
    sex: str
    postcode: str
    ethnicity_code: str
    imd_decile: int | None
    imd_edition: str | None


class KitSummary(BaseModel):
    specimen_id: str
    state: str
    dispatched_at: datetime | None
    received_at: datetime | None


class ReferralOut(BaseModel):
    id: int
    status: str
    hold_reason: str | None
    practice_ods: str
    external_ref: str | None
    requester: str
    referral_date: date
    received_at: datetime
    symptoms: list[str]
    haemoglobin_g_per_l: float | None
    ferritin_ug_per_l: float | None
    iron_deficiency_anaemia: bool
    abdominal_mass: bool
    rectal_mass: bool
    clinical_concern: bool
    patient: PatientOut
    kits: list[KitSummary]


class ReferralPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ReferralOut]


class RejectionOut(BaseModel):
    id: int
    import_batch_id: int | None
    row_number: int | None
    source: str
    practice_ods: str | None
    raw: dict[str, Any]
    problems: list[Problem]
    created_at: datetime
    created_by: str


class RejectionPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[RejectionOut]


class Me(BaseModel):
    username: str
    role: str
    practice_id: int | None
