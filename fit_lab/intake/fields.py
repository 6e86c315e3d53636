"""Parsers for single referral fields. Each returns the clean value or raises FieldRefused with a reason."""

from __future__ import annotations

import re
from datetime import date

import nhs_number

from fit_lab.codes import ETHNIC_CATEGORIES, SEX_CODES, SYMPTOM_CODES


class FieldRefused(ValueError):
    """The value of one field cannot be accepted; the message is the reason shown to a person."""


# The UK postcode format (GOV.UK Bulk Data Transfer standard): outward code A9, A99, AA9, AA99, A9A or AA9A,
# then inward code 9AA. The special GIR 0AA is included. Whether the postcode exists is the lookup's job.
_POSTCODE = re.compile(
    r"^(GIR0AA|(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)[0-9][ABD-HJLNP-UW-Z]{2})$"
)
_ODS_PRACTICE = re.compile(r"^[A-Z][0-9]{5}$")
# C0 and C1 control characters: a name containing a terminal escape must not reach a letter or a screen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# ASCII only: str.isdigit() also accepts superscript and full-width digits.
_TEN_DIGITS = re.compile(r"[0-9]{10}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def nhs_number_field(raw: str) -> str:
    digits = re.sub(r"[\s-]", "", raw)
    if not digits:
        raise FieldRefused("is required")
    if not _TEN_DIGITS.fullmatch(digits):
        raise FieldRefused("must be 10 digits (0-9)")
    if len(set(digits)) == 1:
        raise FieldRefused("ten identical digits are not a valid NHS number")
    check = nhs_number.calculate_checksum(digits[:9])
    if check == 10:
        raise FieldRefused("is not a valid NHS number (no check digit exists for the first nine digits)")
    if str(check) != digits[9]:
        raise FieldRefused("check digit is wrong (mistyped NHS number?)")
    return digits


def postcode_key(raw: str) -> str:
    """The postcode without spaces, upper case: the lookup key."""
    return re.sub(r"\s+", "", raw).upper()


def postcode_field(raw: str) -> str:
    key = postcode_key(raw)
    if not key:
        raise FieldRefused("is required")
    if not _POSTCODE.match(key):
        raise FieldRefused(f"'{raw.strip()}' is not a UK postcode")
    return f"{key[:-3]} {key[-3:]}"


def ods_practice_field(raw: str) -> str:
    code = raw.strip().upper()
    if not code:
        raise FieldRefused("is required")
    if not _ODS_PRACTICE.match(code):
        raise FieldRefused(f"'{raw.strip()}' is not a GP practice ODS code (a letter and five digits)")
    return code


def iso_date_field(raw: str) -> date:
    value = raw.strip()
    if not value:
        raise FieldRefused("is required")
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise FieldRefused(f"'{value}' is not a date in the form YYYY-MM-DD") from None


def text_field(raw: str, max_length: int, *, required: bool = True) -> str | None:
    value = " ".join(raw.split())
    if not value:
        if required:
            raise FieldRefused("is required")
        return None
    if len(value) > max_length:
        raise FieldRefused(f"is longer than {max_length} characters")
    if _CONTROL.search(raw.replace("\t", " ").replace("\n", " ").replace("\r", " ")):
        raise FieldRefused("contains control characters")
    return value


def sex_field(raw: str) -> str:
    code = raw.strip().upper()
    if code not in SEX_CODES:
        raise FieldRefused(f"'{raw.strip()}' is not one of {', '.join(SEX_CODES)}")
    return code


def ethnicity_field(raw: str) -> str:
    code = raw.strip().upper()
    if not code:
        raise FieldRefused("is required (use Z if not stated, 99 if not known)")
    if code not in ETHNIC_CATEGORIES:
        raise FieldRefused(f"'{raw.strip()}' is not an NHS ethnic category code (A-S, Z or 99)")
    return code


def symptoms_field(raw: str) -> list[str]:
    codes = [c.strip().lower() for c in raw.split(";") if c.strip()]
    if not codes:
        raise FieldRefused("at least one symptom code is required")
    unknown = [c for c in codes if c not in SYMPTOM_CODES]
    if unknown:
        raise FieldRefused(f"unknown symptom code(s): {', '.join(unknown)}")
    return list(dict.fromkeys(codes))


def yes_no_field(raw: str, *, default: bool | None = None) -> bool:
    value = raw.strip().lower()
    if not value and default is not None:
        return default
    if value in {"y", "yes"}:
        return True
    if value in {"n", "no"}:
        return False
    raise FieldRefused(f"'{raw.strip()}' must be y or n")


def number_field(raw: str, low: float, high: float, unit: str) -> float | None:
    value = raw.strip()
    if not value:
        return None
    if not _DECIMAL.fullmatch(value):
        raise FieldRefused(f"'{value}' is not a number")
    number = float(value)
    if not (low <= number <= high):  # NaN fails this too
        raise FieldRefused(f"{value} {unit} is outside the plausible range {low:g}-{high:g} {unit}")
    return number
