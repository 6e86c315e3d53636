"""The plain values triage decides on: one f-Hb measurement and the clinical facts of its referral.

These are the library's own types so that triage depends on nothing else in the project; the application maps
its stored result and referral onto them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from triage.errors import MeasurementError

Comparator = Literal["<", "=", ">"]

# An error code is a short token from the instrument profile (e.g. "insufficient_sample"); anything else typed
# at `fit-lab triage check --value` is more likely a typo of a number, so it is refused rather than repeated.
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,39}$")
_VALUE = re.compile(r"^\s*([<>=])?\s*([0-9]+(?:\.[0-9]+)?)\s*$")


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
    def parse(cls, text: str, method: str) -> Measurement:
        """Read a value as typed by a scientist: ``"12.5"``, ``"<10"``, ``">400"``, or an error code."""
        match = _VALUE.match(text)
        if match:
            comparator: Comparator = "="
            if match.group(1) in ("<", ">"):
                comparator = "<" if match.group(1) == "<" else ">"
            return cls(method=method, comparator=comparator, value_ug_per_g=float(match.group(2)))
        code = text.strip()
        if _ERROR_CODE.match(code):
            return cls.error(code, method)
        raise MeasurementError(
            f"{text!r} is neither an f-Hb value (e.g. 12.5, <10, >400) nor an error code (e.g. insufficient_sample)"
        )

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
