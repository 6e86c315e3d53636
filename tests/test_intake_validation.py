"""The referral validator: what a CSV row or API body must look like to become a ReferralInput.

Rules come from ../shared/domain/fit-domain.md; every table row's id starts with the section it checks
(``s6-`` = §6 patient identity and NHS data standards, ``s9-`` = §9 referral codes and plausibility,
``lim-`` = a length limit in fit_lab/intake/limits.py that the brief leaves to the code).
Whether the practice is known and whether a referral is a duplicate are the intake service's job, not tested here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import nhs_number
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fit_lab.codes import ETHNIC_CATEGORIES, SEX_CODES, SYMPTOM_CODES
from fit_lab.errors import FieldProblem
from fit_lab.intake import limits
from fit_lab.intake.validate import CSV_COLUMNS, OPTIONAL_COLUMNS, ReferralInput, validate_referral

TODAY = date(2026, 11, 2)
ROW = 7

_BASE_ROW: dict[str, str] = {
    "nhs_number": "943 476 5919",
    "family_name": "Smith",
    "given_name": "Ann",
    "date_of_birth": "1960-02-01",
    "sex": "F",
    "address_line1": "1 High Street",
    "address_line2": "",
    "town": "Leeds",
    "postcode": "LS1 1AA",
    "ethnicity_code": "A",
    "practice_ods": "A81001",
    "requester": "Dr Jones",
    "referral_date": "2026-10-30",
    "symptoms": "rectal_bleeding",
    "haemoglobin_g_per_l": "120",
    "ferritin_ug_per_l": "45",
    "iron_deficiency_anaemia": "n",
    "abdominal_mass": "n",
    "rectal_mass": "n",
    "clinical_concern": "",
    "external_ref": "REF-1",
}


def referral_row(**overrides: str) -> dict[str, str]:
    """A fully valid referral row (all strings, as read from a CSV) with some fields replaced."""
    unknown = set(overrides) - set(_BASE_ROW)
    assert not unknown, f"not a referral column: {unknown}"
    return {**_BASE_ROW, **overrides}


def validate(**overrides: str) -> ReferralInput | list[FieldProblem]:
    return validate_referral(referral_row(**overrides), today=TODAY, row=ROW)


@dataclass(frozen=True)
class Accept:
    """The row is accepted and the field's clean value is ``value``."""

    value: Any


@dataclass(frozen=True)
class Refuse:
    """The row is refused with exactly one problem, on this field, whose reason contains ``reason``."""

    reason: str


def check(field: str, outcome: Accept | Refuse, **overrides: str) -> None:
    result = validate(**overrides)
    if isinstance(outcome, Accept):
        assert isinstance(result, ReferralInput), f"expected acceptance, got {result}"
        assert getattr(result, field) == outcome.value
    else:
        assert isinstance(result, list), f"expected a refusal of {field}, got {result}"
        assert [(p.field, p.row) for p in result] == [(field, ROW)], result
        assert outcome.reason in result[0].reason, result[0].reason


def test_the_base_row_is_valid() -> None:
    result = validate()
    assert isinstance(result, ReferralInput), result
    assert result.nhs_number == "9434765919"
    assert result.address_line2 is None
    assert result.clinical_concern is False


# --- NHS number (§6) ---------------------------------------------------------------------------------------------

_NOT_TEN_DIGITS = Refuse("must be 10 digits")
assert nhs_number.calculate_checksum("999000000") == 10  # the stem used below really has no check digit



@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        pytest.param("9434765919", Accept("9434765919"), id="s6-bare-digits-accepted"),
        pytest.param("943 476 5919", Accept("9434765919"), id="s6-spaces-stripped"),
        pytest.param("943-476-5919", Accept("9434765919"), id="s6-hyphens-stripped"),
        pytest.param("  943 476-5919 ", Accept("9434765919"), id="s6-mixed-separators-and-padding-stripped"),
        pytest.param("9990000018", Accept("9990000018"), id="s6-synthetic-999-range-accepted"),
        pytest.param("9434765918", Refuse("check digit is wrong"), id="s6-wrong-check-digit"),
        pytest.param("4934765919", Refuse("check digit is wrong"), id="s6-transposed-digits"),
        pytest.param("999 000 0000", Refuse("no check digit exists"), id="s6-remainder-10-stem-999000000"),
        *[pytest.param(str(d) * 10, Refuse("ten identical digits"), id=f"s6-ten-identical-{d}s") for d in range(10)],
        pytest.param("943476591X", _NOT_TEN_DIGITS, id="s6-letter"),
        pytest.param("943.476.5919", _NOT_TEN_DIGITS, id="s6-dots-are-not-separators"),
        pytest.param("abcdefghij", _NOT_TEN_DIGITS, id="s6-no-digits"),
        pytest.param("943476591", _NOT_TEN_DIGITS, id="s6-nine-digits"),
        pytest.param("94347659190", _NOT_TEN_DIGITS, id="s6-eleven-digits"),
        pytest.param("", Refuse("is required"), id="s6-empty"),
        pytest.param("   ", Refuse("is required"), id="s6-blank"),
        pytest.param(
            "943476591\N{SUPERSCRIPT TWO}",
            _NOT_TEN_DIGITS,
            id="s6-superscript-digit",
        ),
        pytest.param(
            "\N{SUPERSCRIPT TWO}" * 9 + "1",
            _NOT_TEN_DIGITS,
            id="s6-superscript-digits-crash",
        ),
        pytest.param(
            "".join(chr(0xFF10 + int(c)) for c in "9434765919"),
            _NOT_TEN_DIGITS,
            id="s6-full-width-digits",
        ),
    ],
)
def test_nhs_number_rules(raw: str, outcome: Accept | Refuse) -> None:
    check("nhs_number", outcome, nhs_number=raw)


# --- date of birth and referral date (§9) ------------------------------------------------------------------------



@pytest.mark.parametrize(
    ("date_of_birth", "referral_date", "outcome"),
    [
        pytest.param("1960-02-01", "2026-10-30", Accept(date(1960, 2, 1)), id="s9-ordinary-adult"),
        pytest.param("2026-11-03", "2026-10-30", Refuse("is in the future"), id="s9-future-refused"),
        pytest.param("2026-11-02", "2026-10-30", Refuse("under 18"), id="s9-born-today-is-a-child-not-future"),
        pytest.param("2008-10-30", "2026-10-30", Accept(date(2008, 10, 30)), id="s9-exactly-18-on-referral-date"),
        pytest.param("2008-10-31", "2026-10-30", Refuse("under 18"), id="s9-one-day-short-of-18-refused"),
        pytest.param("2008-11-01", "2026-10-30", Refuse("under 18"), id="s9-18-by-today-but-not-on-referral-date"),
        pytest.param("2008-02-29", "2026-02-28", Refuse("under 18"), id="s9-leap-day-birth-not-18-on-28-feb"),
        pytest.param("2008-02-29", "2026-03-01", Accept(date(2008, 2, 29)), id="s9-leap-day-birth-18-on-1-mar"),
        pytest.param("1906-11-02", "2026-10-30", Accept(date(1906, 11, 2)), id="s9-exactly-120-years-ago-accepted"),
        pytest.param("1905-11-02", "2026-10-30", Refuse("over 120 years ago"), id="s9-aged-121-refused"),
        pytest.param(
            "1906-11-01",
            "2026-10-30",
            Refuse("over 120 years ago"),
            id="s9-one-day-over-120-years-ago",
        ),
        pytest.param("01/02/1960", "2026-10-30", Refuse("not a date in the form YYYY-MM-DD"), id="s9-uk-slashes"),
        pytest.param("1960-13-01", "2026-10-30", Refuse("not a date in the form YYYY-MM-DD"), id="s9-month-13"),
        pytest.param("1960-02-30", "2026-10-30", Refuse("not a date in the form YYYY-MM-DD"), id="s9-30-feb"),
        pytest.param("", "2026-10-30", Refuse("is required"), id="s9-empty"),
    ],
)
def test_date_of_birth_rules(date_of_birth: str, referral_date: str, outcome: Accept | Refuse) -> None:
    check("date_of_birth", outcome, date_of_birth=date_of_birth, referral_date=referral_date)


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        pytest.param("2026-11-02", Accept(TODAY), id="s9-today-accepted"),
        pytest.param("2026-01-05", Accept(date(2026, 1, 5)), id="s9-past-accepted"),
        pytest.param("2026-11-03", Refuse("is in the future"), id="s9-tomorrow-refused"),
        pytest.param("02/11/2026", Refuse("not a date in the form YYYY-MM-DD"), id="s9-uk-slashes"),
        pytest.param("", Refuse("is required"), id="s9-empty"),
    ],
)
def test_referral_date_rules(raw: str, outcome: Accept | Refuse) -> None:
    check("referral_date", outcome, referral_date=raw)


# --- postcode (§6, §9: well formed; whether it is in the lookup is decided elsewhere) ------------------------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        pytest.param("M1 1AE", Accept("M1 1AE"), id="s9-A9-9AA"),
        pytest.param("B33 8TH", Accept("B33 8TH"), id="s9-A99-9AA"),
        pytest.param("CR2 6XH", Accept("CR2 6XH"), id="s9-AA9-9AA"),
        pytest.param("DN55 1PT", Accept("DN55 1PT"), id="s9-AA99-9AA"),
        pytest.param("W1A 1HQ", Accept("W1A 1HQ"), id="s9-A9A-9AA"),
        pytest.param("EC1A 1BB", Accept("EC1A 1BB"), id="s9-AA9A-9AA"),
        pytest.param("GIR 0AA", Accept("GIR 0AA"), id="s9-GIR-0AA"),
        pytest.param("ls1 1aa", Accept("LS1 1AA"), id="s9-lower-case-upper-cased"),
        pytest.param("LS11AA", Accept("LS1 1AA"), id="s9-no-space-split-before-inward"),
        pytest.param("ec1a1bb", Accept("EC1A 1BB"), id="s9-lower-no-space-AA9A"),
        pytest.param("  LS1   1AA ", Accept("LS1 1AA"), id="s9-extra-spaces-collapsed"),
        pytest.param("L S 1 1 A A", Accept("LS1 1AA"), id="s9-spaces-anywhere-ignored"),
        pytest.param("NOT A PC", Refuse("'NOT A PC' is not a UK postcode"), id="s9-words"),
        pytest.param("LS1", Refuse("is not a UK postcode"), id="s9-outward-only"),
        pytest.param("12345", Refuse("is not a UK postcode"), id="s9-zip-code"),
        pytest.param("LS1 1AAA", Refuse("is not a UK postcode"), id="s9-inward-too-long"),
        pytest.param("QS1 1AA", Refuse("is not a UK postcode"), id="s9-Q-never-first-letter"),
        pytest.param("LS1 1CA", Refuse("is not a UK postcode"), id="s9-C-never-in-inward-code"),
        pytest.param("", Refuse("is required"), id="s9-empty"),
    ],
)
def test_postcode_is_normalised_to_outward_space_inward_or_refused(raw: str, outcome: Accept | Refuse) -> None:
    check("postcode", outcome, postcode=raw)


# --- practice ODS code (§6: a letter and five digits; whether it is KNOWN is the intake service's job) ---------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        pytest.param("A81001", Accept("A81001"), id="s6-letter-and-five-digits"),
        pytest.param("a81001", Accept("A81001"), id="s6-lower-case-upper-cased"),
        pytest.param(" Y90001 ", Accept("Y90001"), id="s6-padding-stripped"),
        pytest.param("A8100", Refuse("not a GP practice ODS code"), id="s6-four-digits"),
        pytest.param("A810011", Refuse("not a GP practice ODS code"), id="s6-six-digits"),
        pytest.param("AB1234", Refuse("not a GP practice ODS code"), id="s6-two-letters"),
        pytest.param("U12345X", Refuse("not a GP practice ODS code"), id="s6-trailing-letter"),
        pytest.param("", Refuse("is required"), id="s6-empty"),
    ],
)
def test_practice_ods_code_shape(raw: str, outcome: Accept | Refuse) -> None:
    check("practice_ods", outcome, practice_ods=raw)


# --- ethnic category (§6) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        *[pytest.param(code, Accept(code), id=f"s6-{code}-accepted") for code in ETHNIC_CATEGORIES],
        pytest.param("a", Accept("A"), id="s6-lower-case-upper-cased"),
        pytest.param(" 99 ", Accept("99"), id="s6-padding-stripped"),
        *[
            pytest.param(code, Refuse("not an NHS ethnic category code"), id=f"s6-{code}-refused")
            for code in ("Q", "I", "O", "T", "100", "9", "AB")
        ],
        pytest.param("", Refuse("is required"), id="s6-empty"),
    ],
)
def test_ethnic_category_is_an_nhs_data_dictionary_code(raw: str, outcome: Accept | Refuse) -> None:
    check("ethnicity_code", outcome, ethnicity_code=raw)


def test_the_ethnic_category_list_is_a_to_s_without_i_o_q_plus_z_and_99() -> None:
    # §6: the 2001 census classification.
    expected = {c for c in "ABCDEFGHIJKLMNOPQRS" if c not in "IOQ"} | {"Z", "99"}
    assert set(ETHNIC_CATEGORIES) == expected


# --- sex and symptoms (§9) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        *[pytest.param(code, Accept(code), id=f"s9-{code}-accepted") for code in SEX_CODES],
        pytest.param("f", Accept("F"), id="s9-lower-case-upper-cased"),
        pytest.param("X", Refuse("is not one of F, M, I, U"), id="s9-X-refused"),
        pytest.param("Female", Refuse("is not one of F, M, I, U"), id="s9-word-refused"),
        pytest.param("", Refuse("is not one of F, M, I, U"), id="s9-empty-refused"),
    ],
)
def test_sex_is_one_of_the_practice_codes(raw: str, outcome: Accept | Refuse) -> None:
    check("sex", outcome, sex=raw)


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        *[pytest.param(code, Accept([code]), id=f"s9-{code}") for code in sorted(SYMPTOM_CODES)],
        pytest.param(
            "weight_loss;rectal_bleeding;weight_loss",
            Accept(["weight_loss", "rectal_bleeding"]),
            id="s9-several-deduplicated-in-order",
        ),
        pytest.param(
            " Rectal_Bleeding ; ANAEMIA ;",
            Accept(["rectal_bleeding", "anaemia"]),
            id="s9-case-padding-and-empty-parts-ignored",
        ),
        pytest.param("headache", Refuse("unknown symptom code(s): headache"), id="s9-unknown-named"),
        pytest.param(
            "rectal_bleeding;headache;nausea",
            Refuse("unknown symptom code(s): headache, nausea"),
            id="s9-every-unknown-named",
        ),
        pytest.param(
            "rectal_bleeding,weight_loss",
            Refuse("unknown symptom code(s): rectal_bleeding,weight_loss"),
            id="s9-comma-is-not-the-separator",
        ),
        pytest.param("", Refuse("at least one symptom code is required"), id="s9-empty"),
        pytest.param(" ; ;", Refuse("at least one symptom code is required"), id="s9-only-separators"),
    ],
)
def test_symptoms_are_known_codes_separated_by_semicolons(raw: str, outcome: Accept | Refuse) -> None:
    check("symptoms", outcome, symptoms=raw)


# --- blood results (§9 plausible ranges, inclusive) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "outcome"),
    [
        pytest.param("haemoglobin_g_per_l", "30", Accept(30.0), id="s9-hb-30-lower-edge-accepted"),
        pytest.param("haemoglobin_g_per_l", "250", Accept(250.0), id="s9-hb-250-upper-edge-accepted"),
        pytest.param("haemoglobin_g_per_l", " 131.5 ", Accept(131.5), id="s9-hb-decimal-with-padding"),
        pytest.param("haemoglobin_g_per_l", "29.9", Refuse("outside the plausible range 30-250 g/L"), id="s9-hb-29.9"),
        pytest.param("haemoglobin_g_per_l", "250.1", Refuse("outside the plausible range"), id="s9-hb-250.1"),
        pytest.param("haemoglobin_g_per_l", "-120", Refuse("outside the plausible range"), id="s9-hb-negative"),
        pytest.param("haemoglobin_g_per_l", "low", Refuse("'low' is not a number"), id="s9-hb-word"),
        pytest.param("haemoglobin_g_per_l", "120 g/L", Refuse("is not a number"), id="s9-hb-with-unit"),
        pytest.param("haemoglobin_g_per_l", "nan", Refuse("is not a number"), id="s9-hb-nan"),
        pytest.param("haemoglobin_g_per_l", "inf", Refuse("is not a number"), id="s9-hb-inf"),
        pytest.param("haemoglobin_g_per_l", "-inf", Refuse("is not a number"), id="s9-hb-minus-inf"),
        pytest.param("haemoglobin_g_per_l", "", Accept(None), id="s9-hb-empty-is-not-done"),
        pytest.param("ferritin_ug_per_l", "1", Accept(1.0), id="s9-ferritin-1-lower-edge-accepted"),
        pytest.param("ferritin_ug_per_l", "5000", Accept(5000.0), id="s9-ferritin-5000-upper-edge-accepted"),
        pytest.param(
            "ferritin_ug_per_l", "0.9", Refuse("outside the plausible range 1-5000 µg/L"), id="s9-ferritin-0.9"
        ),
        pytest.param("ferritin_ug_per_l", "5000.1", Refuse("outside the plausible range"), id="s9-ferritin-5000.1"),
        pytest.param("ferritin_ug_per_l", "NaN", Refuse("is not a number"), id="s9-ferritin-nan"),
        pytest.param("ferritin_ug_per_l", "high", Refuse("is not a number"), id="s9-ferritin-word"),
        pytest.param("ferritin_ug_per_l", "", Accept(None), id="s9-ferritin-empty-is-not-done"),
    ],
)
def test_blood_results_are_numbers_within_the_plausible_range(field: str, raw: str, outcome: Accept | Refuse) -> None:
    check(field, outcome, **{field: raw})


def test_the_plausible_ranges_are_those_of_the_domain_brief() -> None:
    # §9: haemoglobin 30-250 g/L, ferritin 1-5,000 µg/L, adults 18+, born at most 120 years ago.
    assert limits.HAEMOGLOBIN_G_PER_L == (30.0, 250.0)
    assert limits.FERRITIN_UG_PER_L == (1.0, 5000.0)
    assert (limits.ADULT_AGE_YEARS, limits.OLDEST_AGE_YEARS) == (18, 120)


# --- yes/no columns (§9) -----------------------------------------------------------------------------------------

_FLAGS = ("iron_deficiency_anaemia", "abdominal_mass", "rectal_mass", "clinical_concern")


@pytest.mark.parametrize(
    ("field", "raw", "outcome"),
    [
        *[
            pytest.param(field, raw, Accept(value), id=f"s9-{field}-{raw.strip()}")
            for field in _FLAGS
            for raw, value in (
                ("y", True),
                ("Y", True),
                ("yes", True),
                (" YES ", True),
                ("n", False),
                ("N", False),
                ("no", False),
                ("No", False),
            )
        ],
        *[pytest.param(field, "maybe", Refuse("'maybe' must be y or n"), id=f"s9-{field}-maybe") for field in _FLAGS],
        *[pytest.param(field, "1", Refuse("must be y or n"), id=f"s9-{field}-1") for field in _FLAGS],
        pytest.param("clinical_concern", "", Accept(False), id="s9-clinical_concern-empty-means-no"),
        *[
            pytest.param(field, "", Refuse("must be y or n"), id=f"s9-{field}-empty-refused")
            for field in ("iron_deficiency_anaemia", "abdominal_mass", "rectal_mass")
        ],
    ],
)
def test_yes_no_columns_take_y_yes_n_or_no_in_any_case(field: str, raw: str, outcome: Accept | Refuse) -> None:
    check(field, outcome, **{field: raw})


def test_the_optional_clinical_concern_column_may_be_missing_and_means_no() -> None:
    assert OPTIONAL_COLUMNS == ("clinical_concern",)
    raw = {k: v for k, v in referral_row().items() if k != "clinical_concern"}
    result = validate_referral(raw, today=TODAY, row=ROW)
    assert isinstance(result, ReferralInput), result
    assert result.clinical_concern is False


# --- free text: names, address, requester, external reference ----------------------------------------------------

_LONGEST_NAME = "x" * limits.MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("field", "raw", "outcome"),
    [
        pytest.param("family_name", "  Mary   Ann  ", Accept("Mary Ann"), id="lim-whitespace-collapsed"),
        pytest.param("given_name", "Mary\tAnn\r\n", Accept("Mary Ann"), id="lim-tab-and-newline-collapsed"),
        pytest.param("family_name", "O'Brien-Smith", Accept("O'Brien-Smith"), id="lim-punctuation-kept"),
        pytest.param("family_name", "Åsa Ćwikła", Accept("Åsa Ćwikła"), id="lim-accented-letters-kept"),
        pytest.param("family_name", _LONGEST_NAME, Accept(_LONGEST_NAME), id="lim-100-characters-accepted"),
        pytest.param(
            "family_name", "   " + _LONGEST_NAME + "   ", Accept(_LONGEST_NAME), id="lim-length-counted-after-trim"
        ),
        pytest.param(
            "family_name", _LONGEST_NAME + "x", Refuse("longer than 100 characters"), id="lim-101-characters-refused"
        ),
        pytest.param("given_name", "y" * 101, Refuse("longer than 100 characters"), id="lim-given-name-too-long"),
        pytest.param("family_name", "Smi\x00th", Refuse("contains control characters"), id="lim-nul"),
        pytest.param("given_name", "Ann\x1b[31m", Refuse("contains control characters"), id="lim-escape-sequence"),
        pytest.param("given_name", "Ann\x7f", Refuse("contains control characters"), id="lim-delete"),
        pytest.param("family_name", "Smith\x0b", Refuse("contains control characters"), id="lim-vertical-tab"),
        pytest.param(
            "given_name",
            "Ann\x9b31m",
            Refuse("contains control characters"),
            id="lim-c1-control",
        ),
        pytest.param("family_name", "", Refuse("is required"), id="lim-family-name-required"),
        pytest.param("given_name", "  ", Refuse("is required"), id="lim-given-name-required"),
        pytest.param("address_line1", "", Refuse("is required"), id="lim-address-line1-required"),
        pytest.param("address_line1", "a" * 201, Refuse("longer than 200 characters"), id="lim-address-too-long"),
        pytest.param("address_line2", "  ", Accept(None), id="lim-address-line2-optional"),
        pytest.param("town", "", Accept(None), id="lim-town-optional"),
        pytest.param("town", "t" * 101, Refuse("longer than 100 characters"), id="lim-town-too-long"),
        pytest.param("requester", "", Refuse("is required"), id="lim-requester-required"),
        pytest.param("external_ref", "", Accept(None), id="lim-external-ref-optional"),
        pytest.param("external_ref", "r" * 65, Refuse("longer than 64 characters"), id="lim-external-ref-too-long"),
    ],
)
def test_text_fields_are_trimmed_collapsed_bounded_and_free_of_control_characters(
    field: str, raw: str, outcome: Accept | Refuse
) -> None:
    check(field, outcome, **{field: raw})


# --- a row reports every problem ---------------------------------------------------------------------------------


def test_a_row_with_several_bad_fields_reports_every_one_with_its_row_number() -> None:
    raw = referral_row(
        nhs_number="9434765918",
        family_name="",
        postcode="NOT A PC",
        ethnicity_code="Q",
        practice_ods="AB1234",
        referral_date="2026-11-03",
        symptoms="headache",
        haemoglobin_g_per_l="low",
        rectal_mass="maybe",
    )
    result = validate_referral(raw, today=TODAY, row=12)
    assert isinstance(result, list)
    assert all(isinstance(p, FieldProblem) and p.row == 12 and p.reason for p in result)
    assert sorted(p.field for p in result) == sorted(
        [
            "nhs_number",
            "family_name",
            "postcode",
            "ethnicity_code",
            "practice_ods",
            "referral_date",
            "symptoms",
            "haemoglobin_g_per_l",
            "rectal_mass",
        ]
    )


def test_a_date_of_birth_and_a_referral_date_can_both_be_wrong_in_one_row() -> None:
    result = validate(date_of_birth="2027-01-01", referral_date="2026-12-01")
    assert isinstance(result, list)
    assert {(p.field, p.row) for p in result} == {("date_of_birth", ROW), ("referral_date", ROW)}


def test_without_a_row_number_problems_carry_none() -> None:
    result = validate_referral(referral_row(sex="X"), today=TODAY)
    assert result == [FieldProblem("sex", "'X' is not one of F, M, I, U", None)]


def test_a_missing_column_is_refused_as_required_not_raised() -> None:
    raw = {k: v for k, v in referral_row().items() if k != "nhs_number"}
    result = validate_referral(raw, today=TODAY, row=ROW)
    assert result == [FieldProblem("nhs_number", "is required", ROW)]


# --- properties (Hypothesis) -------------------------------------------------------------------------------------

_FAST = settings(max_examples=150, deadline=None, database=None, derandomize=True)
_PER_FIELD = settings(_FAST, max_examples=60)
_stems = st.text(alphabet="0123456789", min_size=9, max_size=9).filter(
    lambda stem: nhs_number.calculate_checksum(stem) != 10
)


def _with_check_digit(stem: str) -> str:
    return stem + str(nhs_number.calculate_checksum(stem))


@_FAST
@given(stem=_stems)
def test_every_stem_with_its_check_digit_validates_and_round_trips_to_bare_digits(stem: str) -> None:
    # §6: modulus 11; a stem whose remainder gives 10 has no valid number (filtered out above).
    number = _with_check_digit(stem)
    if len(set(number)) == 1:  # §6: ten identical digits pass the checksum but are refused
        return
    result = validate(nhs_number=f"{number[:3]} {number[3:6]}-{number[6:]}")
    assert isinstance(result, ReferralInput), result
    assert result.nhs_number == number


@_FAST
@given(stem=_stems, position=st.integers(0, 9), shift=st.integers(1, 9))
def test_changing_any_single_digit_of_a_valid_nhs_number_is_refused(stem: str, position: int, shift: int) -> None:
    # §6: weights 10..2 and 1 are all non-zero mod the prime 11, so every single-digit substitution is detected.
    number = _with_check_digit(stem)
    digits = list(number)
    digits[position] = str((int(digits[position]) + shift) % 10)
    result = validate(nhs_number="".join(digits))
    assert isinstance(result, list), f"{number} -> {''.join(digits)} was accepted"
    assert [p.field for p in result] == ["nhs_number"]


def test_a_number_with_a_correct_check_digit_is_never_told_its_check_digit_is_wrong() -> None:
    # §6: 013 200 000 has check digit 8 (modulus 11), but 01/32/00 is not a date.
    number = "0132000008"
    assert _with_check_digit(number[:9]) == number
    result = validate(nhs_number=number)
    if isinstance(result, list):
        assert all("check digit" not in p.reason for p in result), result


_ALL_COLUMNS = (*CSV_COLUMNS, *OPTIONAL_COLUMNS)


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(
            field,
        )
        for field in _ALL_COLUMNS
    ],
)
@_PER_FIELD
@given(text=st.text(max_size=40))
@example(text="\N{SUPERSCRIPT TWO}" * 9 + "1")
@example(text="\x00\r\n\t\x9b\u202e")
def test_arbitrary_text_in_any_one_field_gives_problems_or_a_referral_never_an_exception(field: str, text: str) -> None:
    result = validate(**{field: text})
    assert isinstance(result, ReferralInput) or (
        isinstance(result, list) and result and all(isinstance(p, FieldProblem) for p in result)
    )


def _text_without_digit_like_symbols(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


@_FAST
@given(row=st.fixed_dictionaries({column: _text_without_digit_like_symbols(30) for column in _ALL_COLUMNS}))
def test_arbitrary_text_in_every_field_at_once_gives_problems_or_a_referral(row: dict[str, str]) -> None:
    result = validate_referral(row, today=TODAY, row=ROW)
    if isinstance(result, list):
        assert result
        assert all(isinstance(p, FieldProblem) and p.field in _ALL_COLUMNS and p.row == ROW for p in result)
    else:
        assert isinstance(result, ReferralInput)
