"""Messages as an analyser following a profile would send them, for emulators and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from analyser_drivers.profiles import FieldRef, InstrumentProfile
from analyser_drivers.records import Field, Record, simple

_TIME = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class TubeResult:
    """One tube as the analyser measured it.

    `raw_value` is the analyser's text ("57", "<50", ">1000") or one of the profile's error tokens
    (e.g. "E01"), which is then sent in the flag field with an empty value.
    """

    specimen_id: str
    raw_value: str
    measured_at: datetime
    unit: str = ""
    lot: str = ""
    qc: bool = False


def _fields_with(length: int, values: dict[FieldRef, str], record_type: str) -> tuple[Field, ...]:
    fields: list[list[list[str]]] = [[[""]] for _ in range(length)]
    fields[0] = [[record_type]]
    for ref, text in values.items():
        if ref.record != record_type:
            continue
        field = fields[ref.field - 1]
        while len(field) < ref.repeat:
            field.append([""])
        rep = field[ref.repeat - 1]
        while len(rep) < ref.component:
            rep.append("")
        rep[ref.component - 1] = text
    return tuple(tuple(tuple(r) for r in f) for f in fields)


def result_records(
    profile: InstrumentProfile, results: Sequence[TubeResult], instrument_serial: str, sent_at: datetime
) -> list[Record]:
    """H, then P/O/R per tube, then L: one message placing every value where `profile` reads it."""
    header_values = {profile.instrument_id: instrument_serial}
    header = list(_fields_with(14, header_values, "H"))
    header[1] = simple("\\^&")
    header[11] = simple("P")
    header[12] = simple("LIS2-A2")
    header[13] = simple(sent_at.strftime(_TIME))
    records = [Record(tuple(header))]
    for index, tube in enumerate(results, start=1):
        records.append(Record.of("P", str(index)))
        order_values = {profile.specimen_id: tube.specimen_id, profile.qc_action_code: "Q" if tube.qc else "N"}
        order = list(_fields_with(12, order_values, "O"))
        order[1] = simple("1")
        records.append(Record(tuple(order)))
        is_error = profile.error_code_for(tube.raw_value) is not None
        result_values = {
            profile.test_code: profile.test_codes[0] if profile.test_codes else "",
            profile.lot: tube.lot,
            profile.value: "" if is_error else tube.raw_value,
            profile.unit: tube.unit or profile.default_unit,
            profile.flags: tube.raw_value if is_error else "",
            profile.status: "F",
            profile.measured_at: tube.measured_at.strftime(_TIME),
        }
        result = list(_fields_with(14, result_values, "R"))
        result[1] = simple("1")
        records.append(Record(tuple(result)))
    records.append(Record.of("L", "1", "N"))
    return records
