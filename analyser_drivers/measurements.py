"""The plain values a profile produces from an analyser message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

Comparator = Literal["<", "<=", "=", ">=", ">"]
"""As the analyser reported it: "<=" and ">=" are inclusive bounds, which some analysers send and which are
not the same as "<" and ">" at a threshold's edge (exactly 10 µg/g is positive)."""

INSUFFICIENT_SAMPLE = "insufficient_sample"
SAMPLE_NOT_DETECTED = "sample_not_detected"
REAGENT_ERROR = "reagent_error"
INSTRUMENT_ERROR = "instrument_error"
TEST_NOT_DONE = "test_not_done"
UNKNOWN_UNIT = "unknown_unit"
UNRECOGNISED_RESULT = "unrecognised_result"

NO_SPECIMEN_ID = "no_specimen_id"


@dataclass(frozen=True)
class ResultProblem:
    """Why one result cannot be used as sent (the rest of its message is unaffected).

    `kind` is a short word (`no_specimen_id`), `detail` a sentence for the scientist who must decide.
    """

    kind: str
    detail: str


@dataclass(frozen=True)
class FitMeasurement:
    """One patient tube's faecal haemoglobin result, normalised to µg Hb/g faeces.

    Either `error_code` is set (insufficient sample, …: not a number, leads to a repeat kit) and
    `comparator`/`value_ug_per_g` are None, or both are set: `comparator` "<" or ">" for a censored
    value (below the reporting limit / above the measuring range), "=" for a measured one, "<=" or
    ">=" for an inclusive bound exactly as the analyser sent it.
    `raw_value` and `raw_unit` are exactly what the analyser sent. `measured_at` is the analyser's
    local time as sent (naive), or None when neither the result, its order nor the message header
    carries a time. `problems` is non-empty when this result cannot be matched as sent (e.g. its
    specimen ID is missing, and `specimen_id` is then ""): it must wait for a person, never vanish.
    """

    specimen_id: str
    instrument: str
    method: str
    lot: str
    comparator: Comparator | None
    value_ug_per_g: Decimal | None
    raw_value: str
    raw_unit: str
    error_code: str | None
    measured_at: datetime | None
    flags: tuple[str, ...] = ()
    problems: tuple[ResultProblem, ...] = ()


@dataclass(frozen=True)
class QcMeasurement:
    """One internal-QC material result; `level` is the profile's name for the material (e.g. "high").

    A result the order marks as QC but whose material is not one of the profile's has `level` "unknown".
    """

    material_id: str
    level: str
    instrument: str
    method: str
    lot: str
    comparator: Comparator | None
    value_ug_per_g: Decimal | None
    raw_value: str
    raw_unit: str
    error_code: str | None
    measured_at: datetime | None
    flags: tuple[str, ...] = ()
    problems: tuple[ResultProblem, ...] = ()


Measurement = FitMeasurement | QcMeasurement
