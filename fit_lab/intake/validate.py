"""Turn one raw referral (a CSV row or an API body, as strings) into a clean ReferralInput or a list of problems.

Pure: no database. Whether the practice exists and whether the referral is a duplicate are decided by the
intake service, which knows the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fit_lab.errors import FieldProblem
from fit_lab.intake import fields as f
from fit_lab.intake import limits
from fit_lab.text import control_character_problem, nfc

CSV_COLUMNS: tuple[str, ...] = (
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "ethnicity_code",
    "practice_ods",
    "requester",
    "referral_date",
    "symptoms",
    "haemoglobin_g_per_l",
    "ferritin_ug_per_l",
    "iron_deficiency_anaemia",
    "abdominal_mass",
    "rectal_mass",
    "external_ref",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("clinical_concern",)


@dataclass(frozen=True)
class ReferralInput:
    nhs_number: str
    family_name: str
    given_name: str
    date_of_birth: date
    sex: str
    address_line1: str
    address_line2: str | None
    town: str | None
    postcode: str
    ethnicity_code: str
    practice_ods: str
    requester: str
    referral_date: date
    symptoms: list[str]
    haemoglobin_g_per_l: float | None
    ferritin_ug_per_l: float | None
    iron_deficiency_anaemia: bool
    abdominal_mass: bool
    rectal_mass: bool
    clinical_concern: bool
    external_ref: str | None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def validate_referral(
    raw: Mapping[str, Any], *, today: date, row: int | None = None
) -> ReferralInput | list[FieldProblem]:
    """Validate every field, collecting all problems (a person fixes a row once, not once per field)."""
    problems: list[FieldProblem] = []
    clean: dict[str, Any] = {}

    def take(name: str, parse: Callable[[str], Any]) -> None:
        value = raw.get(name)
        text = nfc("" if value is None else str(value))
        refused = control_character_problem(text, multiline=True)  # a CSV cell may wrap: collapsed below
        if refused:
            problems.append(FieldProblem(field=name, reason=refused, row=row))
            return
        try:
            clean[name] = parse(text)
        except f.FieldRefused as exc:
            problems.append(FieldProblem(field=name, reason=str(exc), row=row))

    take("nhs_number", f.nhs_number_field)
    take("family_name", lambda s: f.text_field(s, limits.MAX_NAME_LENGTH))
    take("given_name", lambda s: f.text_field(s, limits.MAX_NAME_LENGTH))
    take("date_of_birth", f.iso_date_field)
    take("sex", f.sex_field)
    take("address_line1", lambda s: f.text_field(s, limits.MAX_ADDRESS_LENGTH))
    take("address_line2", lambda s: f.text_field(s, limits.MAX_ADDRESS_LENGTH, required=False))
    take("town", lambda s: f.text_field(s, limits.MAX_NAME_LENGTH, required=False))
    take("postcode", f.postcode_field)
    take("ethnicity_code", f.ethnicity_field)
    take("practice_ods", f.ods_practice_field)
    take("requester", lambda s: f.text_field(s, limits.MAX_REQUESTER_LENGTH))
    take("referral_date", f.iso_date_field)
    take("symptoms", f.symptoms_field)
    take("haemoglobin_g_per_l", lambda s: f.number_field(s, *limits.HAEMOGLOBIN_G_PER_L, "g/L"))
    take("ferritin_ug_per_l", lambda s: f.number_field(s, *limits.FERRITIN_UG_PER_L, "µg/L"))
    take("iron_deficiency_anaemia", f.yes_no_field)
    take("abdominal_mass", f.yes_no_field)
    take("rectal_mass", f.yes_no_field)
    take("clinical_concern", lambda s: f.yes_no_field(s, default=False))
    take("external_ref", lambda s: f.text_field(s, limits.MAX_EXTERNAL_REF_LENGTH, required=False))

    problems.extend(_date_rules(clean, today, row))
    if problems:
        return problems
    return ReferralInput(**clean)


def _date_rules(clean: dict[str, Any], today: date, row: int | None) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    born: date | None = clean.get("date_of_birth")
    referred: date | None = clean.get("referral_date")
    if referred is not None and referred > today:
        problems.append(FieldProblem("referral_date", f"{referred} is in the future", row))
    if born is None:
        return problems
    if born > today:
        problems.append(FieldProblem("date_of_birth", f"{born} is in the future", row))
    elif born < _years_before(today, limits.OLDEST_AGE_YEARS):
        problems.append(
            FieldProblem("date_of_birth", f"{born} is over {limits.OLDEST_AGE_YEARS} years ago", row)
        )
    elif referred is not None and _age_on(born, referred) < limits.ADULT_AGE_YEARS:
        problems.append(
            FieldProblem(
                "date_of_birth",
                f"the patient was under {limits.ADULT_AGE_YEARS} on the referral date; "
                "symptomatic FIT is for adults",
                row,
            )
        )
    return problems
