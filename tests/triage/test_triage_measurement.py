"""Reading results and clinical flags into the library's plain values (domain brief §3, §9, interfaces.md)."""

from __future__ import annotations

import re
from datetime import date

import pytest

import triage
from analyser_drivers.profiles import HM_JACKARC, OC_SENSOR, InstrumentProfile
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


# Issue 13: only the error codes the policy knows are error results (the codes the analyser profiles map their
# error tokens to, see test_every_analyser_error_code_is_one_the_policy_knows). Anything else typed as a value was
# read as an "unrecognised error code" and answered "repeat": a typo or "nan" would have posted the patient a new kit.
# Domain brief §3: store a comparator and a value, never a string; error results are not numbers.
GARBAGE_ROWS = [
    ("abc", "'abc' is neither an f-Hb value", "§3: a word is not a result unless it is a known error code"),
    ("ten", "'ten' is neither an f-Hb value", "§3: a number is stored as a number, never as words"),
    ("E42", "'E42' is neither an f-Hb value", "§3: an analyser token is mapped by its profile, not typed raw"),
    ("<LoD", "censored value with its figure such as <10", "§3: a censored value is a comparator AND a value"),
    ("nan", "'nan' is not a possible f-Hb result: it is not a finite number", "§3: f-Hb is a number"),
    ("inf", "'inf' is not a possible f-Hb result: it is not a finite number", "§3: '>x' is how above-range reads"),
    (">Infinity", "not a finite number", "§3: above range is '>' and the upper limit, e.g. >400"),
    ("-5", "'-5' is not a possible f-Hb result: f-Hb cannot be negative", "§3: µg Hb/g cannot be negative"),
    ("<-5", "f-Hb cannot be negative", "§3: µg Hb/g cannot be negative"),
    ("1e3", "write it in decimal digits", "§3: values as the analyser reports them"),
]


@pytest.mark.parametrize(("text", "says", "source"), GARBAGE_ROWS)
def test_a_value_that_is_neither_a_number_nor_a_known_error_code_is_refused_naming_it(
    default_policy: triage.ThresholdPolicy, text: str, says: str, source: str
) -> None:
    with pytest.raises(MeasurementError, match=re.escape(says)) as refused:
        Measurement.parse(text, "HM-JACKarc", default_policy.error_results.known_codes)
    assert repr(text) in str(refused.value), source
    assert "\n" not in str(refused.value)  # one line for the command line


def test_the_refusal_lists_the_error_codes_the_policy_knows(default_policy: triage.ThresholdPolicy) -> None:
    with pytest.raises(MeasurementError) as refused:
        Measurement.parse("abc", "HM-JACKarc", default_policy.error_results.known_codes)
    assert "(instrument_error, insufficient_sample, reagent_error, sample_not_detected)" in str(refused.value)


@pytest.mark.parametrize("text", ["insufficient_sample", "INSUFFICIENT_SAMPLE", " reagent_error "])
def test_a_known_error_code_is_an_error_result_under_its_policy_name(
    default_policy: triage.ThresholdPolicy, text: str
) -> None:
    measurement = Measurement.parse(text, "HM-JACKarc", default_policy.error_results.known_codes)
    assert measurement.is_error and measurement.error_code == text.strip().lower()


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "Infinity", "-inf"])
def test_a_word_python_reads_as_a_number_is_never_an_error_code_even_without_a_list(text: str) -> None:
    # Callers that check the code against the policy themselves pass no list; "nan" must still not pass as a code.
    with pytest.raises(MeasurementError, match="not a finite number"):
        Measurement.parse(text, "HM-JACKarc")


@pytest.mark.parametrize("profile", [OC_SENSOR, HM_JACKARC], ids=lambda p: p.name)
def test_every_analyser_error_code_is_one_the_policy_knows(
    default_policies: triage.PolicySet, profile: InstrumentProfile
) -> None:
    # The one list of error codes is the policy's error_results.known_codes (triage imports nothing of the
    # analyser drivers); each profile maps its own tokens (E01, SHORT, ...) onto those codes, so a result the
    # analyser reported as an error can always be typed back, e.g. when a scientist amends a result.
    policy = default_policies.policy_for(profile.method, date(2025, 6, 2))
    assert {code for _, code in profile.error_tokens} <= set(policy.error_results.known_codes)
