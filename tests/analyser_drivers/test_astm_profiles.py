"""Instrument profiles turn messages into FitMeasurement / QcMeasurement values in µg Hb/g faeces."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from analyser_drivers import (
    HM_JACKARC,
    OC_SENSOR,
    FitMeasurement,
    QcMeasurement,
    TubeResult,
    UnknownProfile,
    decode_message,
    encode_message,
    get_profile,
    measurements_from_message,
    result_records,
)

AT = datetime(2025, 3, 4, 10, 15, 0)


def measure(profile, *tubes):
    records = result_records(profile, tubes, "SN42", AT)
    message = decode_message(b"".join(encode_message(records)))
    return measurements_from_message(profile, message)


@pytest.mark.parametrize(
    ("profile", "raw", "comparator", "value"),
    [
        # OC-Sensor: 10 mg faeces in 2 mL buffer, so µg/g = ng/mL × 0.2 (domain brief §3).
        (OC_SENSOR, "100", "=", Decimal("20")),
        (OC_SENSOR, "1000", "=", Decimal("200")),
        (OC_SENSOR, "<50", "<", Decimal("10")),
        (OC_SENSOR, ">1000", ">", Decimal("200")),
        # HM-JACKarc: 2 mg in 2 mL, so ng/mL = µg/g.
        (HM_JACKARC, "57.3", "=", Decimal("57.3")),
        (HM_JACKARC, "<7", "<", Decimal("7")),
        (HM_JACKARC, ">400", ">", Decimal("400")),
        (HM_JACKARC, "12,5", "=", Decimal("12.5")),
    ],
)
def test_result_is_converted_to_micrograms_per_gram_with_its_comparator(profile, raw, comparator, value):
    (result,) = measure(profile, TubeResult("K0000001", raw, AT))
    assert isinstance(result, FitMeasurement)
    assert (result.comparator, result.value_ug_per_g) == (comparator, value)
    assert result.raw_value == raw and result.raw_unit == "ng/mL"


def test_value_under_the_reporting_limit_is_reported_as_less_than_the_limit():
    (result,) = measure(HM_JACKARC, TubeResult("K1", "3.1", AT))
    assert (result.comparator, result.value_ug_per_g) == ("<", Decimal("7"))
    assert "below_reporting_limit" in result.flags


def test_value_over_the_measuring_range_is_reported_as_greater_than_the_limit():
    (result,) = measure(OC_SENSOR, TubeResult("K1", "1500", AT))
    assert (result.comparator, result.value_ug_per_g) == (">", Decimal("200"))
    assert "above_measuring_range" in result.flags


@pytest.mark.parametrize(
    ("profile", "token", "code"),
    [
        (OC_SENSOR, "E01", "insufficient_sample"),
        (OC_SENSOR, "E02", "sample_not_detected"),
        (HM_JACKARC, "SHORT", "insufficient_sample"),
        (HM_JACKARC, "REAG", "reagent_error"),
    ],
)
def test_error_flag_becomes_an_error_code_not_a_number(profile, token, code):
    (result,) = measure(profile, TubeResult("K1", token, AT))
    assert result.error_code == code
    assert result.value_ug_per_g is None and result.comparator is None


def test_unreadable_value_is_an_error_not_a_guess():
    (result,) = measure(OC_SENSOR, TubeResult("K1", "-----", AT))
    assert result.error_code == "unrecognised_result" and result.value_ug_per_g is None


def test_unknown_unit_is_an_error():
    (result,) = measure(OC_SENSOR, TubeResult("K1", "100", AT, unit="mg/dL"))
    assert result.error_code == "unknown_unit"


def test_micrograms_per_gram_unit_is_taken_as_is():
    (result,) = measure(OC_SENSOR, TubeResult("K1", "100", AT, unit="µg/g"))
    assert (result.comparator, result.value_ug_per_g) == ("=", Decimal("100"))


def test_qc_material_becomes_a_qc_measurement_with_its_level():
    results = measure(OC_SENSOR, TubeResult("CONT-H-01", "450", AT), TubeResult("K1", "80", AT))
    qc, patient = results
    assert isinstance(qc, QcMeasurement) and qc.level == "high" and qc.value_ug_per_g == Decimal("90.0")
    assert isinstance(patient, FitMeasurement)


def test_order_marked_as_qc_is_qc_even_with_an_unknown_id():
    (result,) = measure(HM_JACKARC, TubeResult("XYZ", "100", AT, qc=True))
    assert isinstance(result, QcMeasurement) and result.level == "unknown"


def test_measurement_carries_instrument_method_lot_and_time():
    (result,) = measure(OC_SENSOR, TubeResult("K1", "200", AT, lot="LOT7"))
    assert (result.instrument, result.lot, result.measured_at) == ("SN42", "LOT7", AT)
    assert result.method == OC_SENSOR.method


def test_a_result_without_a_specimen_id_is_reported_as_its_own_problem_and_its_neighbours_are_kept():
    message = decode_message(b"H|\\^&\rP|1\rO|1|K1\rR|1|^^^FOB|100\rP|2\rO|2||\rR|1|^^^FOB|250\rL|1\r")
    good, unread = measurements_from_message(OC_SENSOR, message)
    assert (good.specimen_id, good.value_ug_per_g, good.problems) == ("K1", Decimal("20.0"), ())
    assert unread.specimen_id == "" and unread.value_ug_per_g == Decimal("50.0")
    (problem,) = unread.problems
    assert problem.kind == "no_specimen_id" and "result 2" in problem.detail and "barcode" in problem.detail


def test_a_result_without_an_order_record_is_reported_not_raised():
    message = decode_message(b"H|\\^&\rP|1\rR|1|^^^FOB|100\rL|1\r")
    (result,) = measurements_from_message(OC_SENSOR, message)
    assert result.specimen_id == "" and [p.kind for p in result.problems] == ["no_specimen_id"]


@pytest.mark.parametrize(
    ("profile", "raw", "comparator", "value"),
    [
        # Domain brief §2: exactly 10 µg/g is positive, so "<=10" must never become "<10" (or ">=" become ">").
        (HM_JACKARC, "<=10", "<=", Decimal("10")),
        (HM_JACKARC, ">=10", ">=", Decimal("10")),
        (OC_SENSOR, "<=50", "<=", Decimal("10.0")),
        (OC_SENSOR, ">= 500", ">=", Decimal("100.0")),
        # An inclusive bound wholly inside the censored range says no more than the profile's own censored value.
        (HM_JACKARC, "<=5", "<", Decimal("7")),
        (HM_JACKARC, ">=450", ">", Decimal("400")),
    ],
)
def test_inclusive_bounds_keep_their_meaning(profile, raw, comparator, value):
    (result,) = measure(profile, TubeResult("K1", raw, AT))
    assert (result.comparator, result.value_ug_per_g) == (comparator, value)


def test_a_result_without_its_own_time_takes_the_order_s_then_the_header_s():
    with_order_time = decode_message(
        b"H|\\^&|||SN1|||||||P|LIS2-A2|20250304101500\rP|1\rO|1|K1" + b"|" * 20 + b"20250304101201\r"
        b"R|1|^^^FOB|100\rL|1\r")  # O.23: date and time results were reported
    header_only = decode_message(b"H|\\^&|||SN1|||||||P|LIS2-A2|20250304101500\rP|1\rO|1|K1\rR|1|^^^FOB|100\rL|1\r")
    nothing = decode_message(b"H|\\^&\rP|1\rO|1|K1\rR|1|^^^FOB|100\rL|1\r")
    assert measurements_from_message(OC_SENSOR, with_order_time)[0].measured_at == datetime(2025, 3, 4, 10, 12, 1)
    assert measurements_from_message(OC_SENSOR, header_only)[0].measured_at == datetime(2025, 3, 4, 10, 15, 0)
    assert measurements_from_message(OC_SENSOR, nothing)[0].measured_at is None


def test_results_for_other_tests_are_ignored():
    message = decode_message(b"H|\\^&\rP|1\rO|1|K1\rR|1|^^^HbA1c|5.9|%\rL|1\r")
    assert measurements_from_message(OC_SENSOR, message) == []


def test_error_reported_in_a_comment_record_is_an_error_code():
    message = decode_message(b"H|\\^&\rP|1\rO|1|K1\rR|1|^^^FHB||ng/mL\rC|1|I|SHORT|G\rL|1\r")
    (result,) = measurements_from_message(HM_JACKARC, message)
    assert result.error_code == "insufficient_sample"


def test_sample_stability_windows_come_from_the_profiles():
    assert OC_SENSOR.sample_stability_days == 15
    assert HM_JACKARC.sample_stability_days == 14


@pytest.mark.parametrize(
    ("profile", "days_after_collection", "too_old"),
    [
        # Domain brief §4: OC-Sensor io 15 days, HM-JACKarc 14 days at room temperature; the last day still counts.
        (OC_SENSOR, 15, False),
        (OC_SENSOR, 16, True),
        (HM_JACKARC, 14, False),
        (HM_JACKARC, 15, True),
    ],
)
def test_a_sample_measured_after_the_profile_s_stability_window_is_too_old(profile, days_after_collection, too_old):
    collected = date(2025, 3, 1)
    assert profile.sample_too_old(collected, collected + timedelta(days=days_after_collection)) is too_old


def test_profiles_default_to_9600_8n1():
    for profile in (OC_SENSOR, HM_JACKARC):
        s = profile.serial
        assert (s.baudrate, s.bytesize, s.parity, s.stopbits) == (9600, 8, "N", 1)


def test_profiles_are_found_by_name_and_unknown_names_are_explained():
    assert get_profile("OC-Sensor") is OC_SENSOR
    with pytest.raises(UnknownProfile, match="hm-jackarc"):
        get_profile("diana")
