"""The plain values triage decides on: one f-Hb measurement and the clinical facts of its referral.

These are the library's own types so that triage depends on nothing else in the project; the application maps
its stored result and referral onto them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from triage.errors import MeasurementError

Comparator = Literal["<", "=", ">"]

# The shape of an error code (e.g. "insufficient_sample"), used only when the caller gives no list of known codes.
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,39}$")
_VALUE = re.compile(r"^\s*([<>=])?\s*([0-9]+(?:\.[0-9]+)?)\s*$")
# What is left once an optional comparator is taken off: used only to say why a value that is not plain decimal
# digits was refused ("nan", "inf", "-5" and "1e3" all read as numbers to Python's float()).
_AFTER_COMPARATOR = re.compile(r"^\s*[<>=]?\s*(.*?)\s*$")


class ClinicalFlag(StrEnum):
    """Clinical facts on a referral that the policy acts on (names as in interfaces.md)."""

    IDA = "ida"
    ABDOMINAL_MASS = "abdominal_mass"
    RECTAL_MASS = "rectal_mass"
    ANAL_MASS = "anal_mass"
    ANAL_ULCERATION = "anal_ulceration"
    CLINICAL_CONCERN = "clinical_concern"

    @property
    def description(self) -> str:
        return _FLAG_DESCRIPTIONS[self]


_FLAG_DESCRIPTIONS: dict[ClinicalFlag, str] = {
    ClinicalFlag.IDA: "iron-deficiency anaemia",
    ClinicalFlag.ABDOMINAL_MASS: "abdominal mass",
    ClinicalFlag.RECTAL_MASS: "rectal mass",
    ClinicalFlag.ANAL_MASS: "anal mass",
    ClinicalFlag.ANAL_ULCERATION: "anal ulceration",
    ClinicalFlag.CLINICAL_CONCERN: "the requester's strong clinical concern",
}


def parse_flags(names: Iterable[str]) -> frozenset[ClinicalFlag]:
    """Turn flag names (``"ida"``, ``"rectal_mass"``, …) into flags; an unknown name is an error."""
    flags: set[ClinicalFlag] = set()
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        try:
            flags.add(ClinicalFlag(name))
        except ValueError:
            known = ", ".join(f.value for f in ClinicalFlag)
            raise MeasurementError(f"unknown clinical flag {raw!r}; known flags: {known}") from None
    return frozenset(flags)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One f-Hb result as the analyser reported it, in µg Hb/g faeces.

    Either a value with its comparator (``"<"`` for a result below the reported figure, ``">"`` above the
    measuring range, ``"="`` a plain number) or an ``error_code`` (insufficient sample, not detected,
    instrument error…), never both. ``method`` names the analyser method whose policy applies.
    """

    method: str
    comparator: Comparator | None = "="
    value_ug_per_g: float | None = None
    error_code: str | None = None

    def __post_init__(self) -> None:
        if not self.method.strip():
            raise MeasurementError("a measurement must name its analyser method")
        if self.error_code is not None:
            if self.value_ug_per_g is not None:
                raise MeasurementError(
                    f"measurement has both an error code ({self.error_code!r}) and a value "
                    f"({self.value_ug_per_g}); an error result carries no number"
                )
            if not self.error_code.strip():
                raise MeasurementError("error code is empty")
            return
        if self.value_ug_per_g is None:
            raise MeasurementError("measurement has neither a value nor an error code")
        if self.comparator not in ("<", "=", ">"):
            raise MeasurementError(f"comparator {self.comparator!r} is not one of '<', '=', '>'")
        if not math.isfinite(self.value_ug_per_g) or self.value_ug_per_g < 0:
            raise MeasurementError(f"f-Hb {self.value_ug_per_g} µg/g is not a possible result")
        if self.comparator == "<" and self.value_ug_per_g == 0:
            raise MeasurementError("'<0' is not a possible result")

    @classmethod
    def error(cls, error_code: str, method: str) -> Measurement:
        """An error result: the sample gave no valid f-Hb."""
        return cls(method=method, comparator=None, value_ug_per_g=None, error_code=error_code)

    @classmethod
    def parse(cls, text: str, method: str, error_codes: Collection[str] | None = None) -> Measurement:
        """Read a value as typed by a scientist: ``"12.5"``, ``"<10"``, ``">400"``, or an error code.

        ``error_codes`` are the only words that are error results: pass the policy's
        ``error_results.known_codes`` (the codes the analyser profiles map their error tokens to). Anything else
        that is not a plain number, with or without ``<``/``>``, is refused with a ``MeasurementError`` naming the
        value: a typo (``"ten"``, ``"1O"``), ``"nan"``, ``"inf"``, a negative number or a censored value without
        its figure (``"<LoD"``) must never become an error result and a repeat kit. ``None`` (for callers that
        check the code against the policy themselves) accepts any word shaped like a code, but never one that
        reads as a number.
        """
        match = _VALUE.match(text)
        if match:
            comparator: Comparator = "="
            if match.group(1) in ("<", ">"):
                comparator = "<" if match.group(1) == "<" else ">"
            return cls(method=method, comparator=comparator, value_ug_per_g=float(match.group(2)))
        code = text.strip()
        if error_codes is not None:
            known = {known_code.casefold(): known_code for known_code in error_codes}
            if code.casefold() in known:
                return cls.error(known[code.casefold()], method)
        elif _ERROR_CODE.match(code) and _float_or_none(code) is None:
            return cls.error(code, method)
        raise MeasurementError(_refusal(text, error_codes))

    @property
    def is_error(self) -> bool:
        return self.error_code is not None

    @property
    def display(self) -> str:
        """The result as a lab would print it: ``"<10 µg Hb/g"``, ``"12.5 µg Hb/g"``, or the error code."""
        if self.error_code is not None:
            return f"no valid result ({self.error_code})"
        prefix = "" if self.comparator == "=" else str(self.comparator)
        return f"{prefix}{self.value_ug_per_g:g} µg Hb/g"


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _refusal(text: str, error_codes: Collection[str] | None) -> str:
    """Why ``text`` is neither a value nor an error code, in one line that names it."""
    number = _float_or_none(_AFTER_COMPARATOR.sub(r"\1", text))
    if number is not None and not math.isfinite(number):
        return f"{text!r} is not a possible f-Hb result: it is not a finite number of µg Hb/g"
    if number is not None and number < 0:
        return f"{text!r} is not a possible f-Hb result: f-Hb cannot be negative"
    if number is not None:
        return f"{text!r} is not an f-Hb value as the analyser reports it: write it in decimal digits, e.g. 12.5"
    codes = "an error code" if error_codes is None else (
        f"an error code the policy knows ({', '.join(sorted(error_codes))})" if error_codes else
        "an error code (the policy knows none)"
    )
    return (
        f"{text!r} is neither an f-Hb value (a number of µg Hb/g such as 12.5, or a censored value with its figure "
        f"such as <10 or >400) nor {codes}"
    )


@dataclass(frozen=True, slots=True)
class ReferralFacts:
    """The clinical facts of the referral the measurement belongs to.

    ``referral_date`` is optional because a policy can be tried (`fit-lab triage check`) without a referral.
    """

    flags: frozenset[ClinicalFlag] = field(default_factory=frozenset)
    referral_date: date | None = None

    @classmethod
    def from_names(cls, names: Iterable[str], referral_date: date | None = None) -> ReferralFacts:
        return cls(flags=parse_flags(names), referral_date=referral_date)
