"""From a decoded message to FitMeasurement / QcMeasurement values, following an instrument profile."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from analyser_drivers import measurements as m
from analyser_drivers.profiles import FieldRef, InstrumentProfile
from analyser_drivers.records import Message, Record

_NUMBER = re.compile(r"^(<=|>=|<|>|=)?\s*([+-]?\d+(?:[.,]\d+)?|[+-]?[.,]\d+)$")
_TIMESTAMP_FORMATS = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 8: "%Y%m%d"}
_COMPARATORS: dict[str, m.Comparator] = {"<": "<", "<=": "<=", "=": "=", ">=": ">=", ">": ">"}


def _get(record: Record, ref: FieldRef) -> str:
    return record.value(ref.field, ref.component, ref.repeat).strip()


def parse_timestamp(text: str) -> datetime | None:
    """An E1394 date/time (YYYYMMDD[HHMM[SS]]), ignoring a trailing time-zone offset; None if unreadable."""
    digits = text.strip()[:14]
    fmt = _TIMESTAMP_FORMATS.get(len(digits))
    if fmt is None or not digits.isdigit():
        return None
    try:
        return datetime.strptime(digits, fmt)
    except ValueError:
        return None


def _all_values(record: Record, number: int) -> list[str]:
    return [c.strip() for rep in record.field(number) for c in rep if c.strip()]


def _interpret_value(
    profile: InstrumentProfile, raw_value: str, raw_unit: str, tokens: list[str], status: str
) -> tuple[m.Comparator | None, Decimal | None, str | None, list[str]]:
    """comparator, µg/g value, error code and derived flags for one result."""
    for token in [raw_value, *tokens]:
        code = profile.error_code_for(token) if token else None
        if code is not None:
            return None, None, code, []
    if not raw_value:
        return None, None, m.TEST_NOT_DONE if status.upper() == "X" else m.UNRECOGNISED_RESULT, []
    match = _NUMBER.match(raw_value.replace(" ", ""))
    if match is None:
        return None, None, m.UNRECOGNISED_RESULT, []
    factor = profile.factor_for(raw_unit)
    if factor is None:
        return None, None, m.UNKNOWN_UNIT, []
    try:
        number = Decimal(match.group(2).replace(",", "."))
    except InvalidOperation:
        return None, None, m.UNRECOGNISED_RESULT, []
    comparator = _COMPARATORS[match.group(1) or "="]
    value = number * factor
    flags: list[str] = []
    # "<=" and ">=" are kept as sent (exactly 10 is positive, so "<=10" is not "<10") unless the bound lies
    # wholly inside the censored range, where the profile's own censored value says the same thing.
    if comparator in ("=", "<=") and value < profile.reporting_limit_ug_per_g:
        comparator, value = "<", profile.reporting_limit_ug_per_g
        flags.append("below_reporting_limit")
    elif comparator in ("=", ">=") and value > profile.upper_range_ug_per_g:
        comparator, value = ">", profile.upper_range_ug_per_g
        flags.append("above_measuring_range")
    return comparator, value, None, flags


def measurements_from_message(profile: InstrumentProfile, message: Message) -> list[m.Measurement]:
    """Every FIT result in `message` (R records whose test code the profile knows), in order.

    A result whose value is an error token becomes a measurement with `error_code` set, never a number.
    Problems are reported per result, never for the whole message: a result with no specimen ID (no order
    record, or an empty specimen field) is returned with `specimen_id` "" and a `no_specimen_id` problem,
    and the other results of the message are unaffected.

    `measured_at` is the result's completion time, else its start time, else the order's "results
    reported" time, else the message header's time; None when none of them is readable.
    """
    header = next((r for r in message.records if r.type == "H"), None)
    serial = _get(header, profile.instrument_id) if header is not None else ""
    instrument = serial or profile.instrument
    sent_at = header.value(14) if header is not None else ""
    order: Record | None = None
    pending: list[tuple[Record, Record | None, list[str]]] = []
    for record in message.records:
        if record.type == "O":
            order = record
        elif record.type == "R":
            test_code = _get(record, profile.test_code)
            if not profile.test_codes or test_code.upper() in (c.upper() for c in profile.test_codes):
                pending.append((record, order, []))
        elif record.type == "C" and pending:
            comment = _get(record, profile.comment_text)
            if comment:
                pending[-1][2].append(comment)
    results: list[m.Measurement] = []
    for position, (result, result_order, comments) in enumerate(pending, start=1):
        problems: tuple[m.ResultProblem, ...] = ()
        specimen_id = _get(result_order, profile.specimen_id) if result_order is not None else ""
        if result_order is None:
            problems = (m.ResultProblem(m.NO_SPECIMEN_ID, f"result {position} of the message arrived without an "
                                        "order record, so it has no specimen ID"),)
        elif not specimen_id:
            problems = (m.ResultProblem(m.NO_SPECIMEN_ID, f"result {position} of the message has no specimen ID "
                                        "(the analyser could not read the tube's barcode?)"),)
        raw_value = result.value(profile.value.field, profile.value.component).strip()
        raw_unit = _get(result, profile.unit)
        flag_values = _all_values(result, profile.flags.field)
        status = _get(result, profile.status)
        comparator, value, error_code, derived = _interpret_value(
            profile, raw_value, raw_unit, [*flag_values, *comments], status
        )
        measured_at = (
            parse_timestamp(_get(result, profile.measured_at))
            or parse_timestamp(result.value(12))
            or (parse_timestamp(_get(result_order, profile.order_reported_at)) if result_order is not None else None)
            or parse_timestamp(sent_at)
        )
        flags = tuple([*flag_values, *derived, *comments])
        lot = _get(result, profile.lot)
        level = profile.qc_level_for(specimen_id) if specimen_id else None
        if level is None and result_order is not None and _get(result_order, profile.qc_action_code).upper() == "Q":
            level = "unknown"
        common = (instrument, profile.method, lot, comparator, value, raw_value, raw_unit or profile.default_unit,
                  error_code, measured_at, flags, problems)
        if level is not None:
            results.append(m.QcMeasurement(specimen_id, level, *common))
        else:
            results.append(m.FitMeasurement(specimen_id, *common))
    return results
