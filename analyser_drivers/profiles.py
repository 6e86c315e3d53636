"""Instrument profiles: where an analyser puts each value, and how its numbers become µg Hb/g faeces.

A profile is data (a frozen dataclass), not a code branch: adding an analyser means adding a profile.
No public host-interface specification exists for OC-Sensor or HM-JACKarc (see the domain notes), so
the field positions, error tokens and QC material IDs below are the lab's provisional configuration to
be checked against the vendor's host-interface manual and a captured transcript before go-live; the
unit factors, limits and stability windows come from the manufacturers' published figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType

from analyser_drivers.errors import UnknownProfile
from analyser_drivers.settings import E1381_MAX_FRAME, LinkSettings
from analyser_drivers.transport import SerialSettings


@dataclass(frozen=True)
class FieldRef:
    """A place in a record: record type, field number (1-based as in E1394), component, repeat."""

    record: str
    field: int
    component: int = 1
    repeat: int = 1


@dataclass(frozen=True)
class QcMaterial:
    """Specimen IDs starting with `id_prefix` are QC material of this `level`."""

    id_prefix: str
    level: str


@dataclass(frozen=True)
class InstrumentProfile:
    """How one analyser family reports FIT results.

    `ug_per_g_per_unit` maps each unit the analyser may send to the factor giving µg Hb/g faeces
    (OC-Sensor: 10 mg faeces in 2 mL buffer, so ng/mL × 0.2; HM-JACKarc: 2 mg in 2 mL, so × 1).
    A value under `reporting_limit_ug_per_g` is reported as "<" that limit, one over
    `upper_range_ug_per_g` as ">" that limit. `error_tokens` maps what the analyser sends in the value,
    flag or comment fields for a failed measurement to our error codes.
    """

    name: str
    instrument: str
    method: str
    default_unit: str
    ug_per_g_per_unit: tuple[tuple[str, Decimal], ...]
    lod_ug_per_g: Decimal
    reporting_limit_ug_per_g: Decimal
    upper_range_ug_per_g: Decimal
    sample_stability_days: int
    error_tokens: tuple[tuple[str, str], ...]
    qc_materials: tuple[QcMaterial, ...]
    test_codes: tuple[str, ...]
    specimen_id: FieldRef = FieldRef("O", 3)
    test_code: FieldRef = FieldRef("R", 3, 4)
    value: FieldRef = FieldRef("R", 4)
    unit: FieldRef = FieldRef("R", 5)
    flags: FieldRef = FieldRef("R", 7)
    status: FieldRef = FieldRef("R", 9)
    measured_at: FieldRef = FieldRef("R", 13)
    lot: FieldRef = FieldRef("R", 3, 5)
    instrument_id: FieldRef = FieldRef("H", 5, 3)
    qc_action_code: FieldRef = FieldRef("O", 12)
    order_reported_at: FieldRef = FieldRef("O", 23)
    """E1394 O.23, date/time results reported: a result's time when the R record carries none."""
    comment_text: FieldRef = FieldRef("C", 4)
    link: LinkSettings = field(default_factory=LinkSettings)
    serial: SerialSettings = field(default_factory=SerialSettings)
    """The RS-232 settings the analyser is usually configured with (the lab may override them)."""

    def sample_too_old(self, collection_date: date, measured_on: date) -> bool:
        """True when a sample collected on `collection_date` and measured on `measured_on` (the analyser's
        local date) is past this analyser's stability window; the last day of the window still counts."""
        return measured_on - collection_date > timedelta(days=self.sample_stability_days)

    def factor_for(self, unit: str) -> Decimal | None:
        """µg/g per unit of `unit` ("" means the analyser's default unit); None for an unknown unit."""
        wanted = _normalise_unit(unit or self.default_unit)
        for known, factor in self.ug_per_g_per_unit:
            if _normalise_unit(known) == wanted:
                return factor
        return None

    def error_code_for(self, token: str) -> str | None:
        """Our error code for an analyser's error token (case-insensitive), or None."""
        wanted = token.strip().upper()
        for known, code in self.error_tokens:
            if known.upper() == wanted:
                return code
        return None

    def qc_level_for(self, specimen_id: str) -> str | None:
        """The QC level if `specimen_id` names QC material, else None."""
        for material in self.qc_materials:
            if specimen_id.upper().startswith(material.id_prefix.upper()):
                return material.level
        return None


def _normalise_unit(unit: str) -> str:
    return unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")


OC_SENSOR = InstrumentProfile(
    name="oc-sensor",
    instrument="Eiken OC-Sensor",
    method="OC-Sensor",  # the name triage policies use for this method (triage/policies/)
    default_unit="ng/mL",
    ug_per_g_per_unit=(("ng/mL", Decimal("0.2")), ("ug/g", Decimal("1"))),
    # 10 ng/mL buffer; labs verify their own limit and usually report "<4" or "<10".
    lod_ug_per_g=Decimal("2"),
    reporting_limit_ug_per_g=Decimal("4"),
    # Top calibrator 1,000 ng/mL = 200 µg/g (FDA K191147).
    upper_range_ug_per_g=Decimal("200"),
    sample_stability_days=15,
    error_tokens=(
        ("E01", "insufficient_sample"),
        ("E02", "sample_not_detected"),
        ("E10", "reagent_error"),
        ("E20", "instrument_error"),
    ),
    qc_materials=(QcMaterial("CONT-N", "negative"), QcMaterial("CONT-L", "low"), QcMaterial("CONT-H", "high")),
    test_codes=("FOB", "FIT", "HB"),
    link=LinkSettings(max_frame_size=E1381_MAX_FRAME),
    serial=SerialSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1),  # provisional: vendor manual
)

HM_JACKARC = InstrumentProfile(
    name="hm-jackarc",
    instrument="Minaris HM-JACKarc",
    method="HM-JACKarc",  # the name triage policies use for this method
    default_unit="ng/mL",
    ug_per_g_per_unit=(("ng/mL", Decimal("1")), ("ug/g", Decimal("1"))),
    lod_ug_per_g=Decimal("0.6"),
    reporting_limit_ug_per_g=Decimal("7"),
    upper_range_ug_per_g=Decimal("400"),
    sample_stability_days=14,
    error_tokens=(
        ("SHORT", "insufficient_sample"),
        ("NOSMP", "sample_not_detected"),
        ("REAG", "reagent_error"),
        ("ERR", "instrument_error"),
    ),
    qc_materials=(QcMaterial("QC1", "low"), QcMaterial("QC2", "high")),
    test_codes=("FHB", "HB", "FIT"),
    # Tolerates a whole message in one frame, which many analysers send despite E1381 6.3.1.1.
    link=LinkSettings(accept_oversize_frames=True),
    serial=SerialSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1),  # provisional: vendor manual
)

PROFILES: Mapping[str, InstrumentProfile] = MappingProxyType({p.name: p for p in (OC_SENSOR, HM_JACKARC)})


def get_profile(name: str) -> InstrumentProfile:
    """The profile called `name` (e.g. "oc-sensor", "hm-jackarc"); raises UnknownProfile."""
    try:
        return PROFILES[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UnknownProfile(f"no analyser profile called {name!r}; known profiles: {known}") from None
