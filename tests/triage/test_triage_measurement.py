"""Reading results and clinical flags into the library's plain values (domain brief §3, §9, interfaces.md)."""

from __future__ import annotations

import pytest

from triage import ClinicalFlag, Measurement, MeasurementError, ReferralFacts, parse_flags


@pytest.mark.parametrize(
    ("text", "comparator", "value"),
    [
        ("12.5", "=", 12.5),
        ("=12.5", "=", 12.5),
        ("<10", "<", 10.0),
        ("< 4", "<", 4.0),
        (">400", ">", 400.0),
        ("0", "=", 0.0),
    ],
)
def test_values_are_read_as_comparator_and_number(text: str, comparator: str, value: float) -> None:
    # §3: store a comparator and a value, never a string.
    measurement = Measurement.parse(text, "HM-JACKarc")
    assert (measurement.comparator, measurement.value_ug_per_g, measurement.error_code) == (comparator, value, None)


def test_a_word_is_read_as_an_error_code() -> None:
    measurement = Measurement.parse("insufficient_sample", "HM-JACKarc")
    assert measurement.is_error and measurement.value_ug_per_g is None and measurement.comparator is None


@pytest.mark.parametrize("text", ["", "  ", "1,5", "<", ">x", "12.5.1", "-3"])
def test_unreadable_values_are_refused(text: str) -> None:
    with pytest.raises(MeasurementError):
        Measurement.parse(text, "HM-JACKarc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value_ug_per_g": None}, "neither a value nor an error code"),
        ({"value_ug_per_g": 5.0, "error_code": "reagent_error"}, "both an error code"),
        ({"value_ug_per_g": -1.0}, "not a possible result"),
        ({"value_ug_per_g": float("nan")}, "not a possible result"),
        ({"value_ug_per_g": 0.0, "comparator": "<"}, "'<0'"),
    ],
)
def test_impossible_measurements_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(MeasurementError, match=message):
        Measurement(method="HM-JACKarc", **kwargs)  # type: ignore[arg-type]


def test_a_measurement_must_name_its_method() -> None:
    with pytest.raises(MeasurementError, match="method"):
        Measurement(method=" ", value_ug_per_g=5.0)


def test_flags_use_the_interface_names() -> None:
    names = ["ida", "abdominal_mass", "rectal_mass", "anal_mass", "anal_ulceration", "clinical_concern"]
    assert parse_flags(names) == frozenset(ClinicalFlag)
    assert parse_flags([" IDA ", ""]) == frozenset({ClinicalFlag.IDA})


def test_an_unknown_flag_is_refused_not_ignored() -> None:
    with pytest.raises(MeasurementError, match="unknown clinical flag 'rectal_bleeding'"):
        ReferralFacts.from_names(["rectal_bleeding"])


def test_display_keeps_the_comparator() -> None:
    assert Measurement.parse("<10", "HM-JACKarc").display == "<10 µg Hb/g"
    assert Measurement.parse("12.5", "HM-JACKarc").display == "12.5 µg Hb/g"
