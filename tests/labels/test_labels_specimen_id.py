"""Specimen IDs: fixed length, Damm check digit, every substitution and adjacent transposition detected."""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels import (
    SPECIMEN_ID_LENGTH,
    InvalidSpecimenIdError,
    SerialOutOfRangeError,
    check_digit,
    is_valid_specimen_id,
    serial_from_specimen_id,
    specimen_id_from_serial,
    validate_specimen_id,
)
from labels.code128 import symbol_values, symbol_width_modules
from labels.specimen_id import DAMM_TABLE, MAX_SERIAL, MIN_SERIAL

serials = st.integers(min_value=MIN_SERIAL, max_value=MAX_SERIAL)
# Every character a keyboard, a scanner misconfiguration or OCR could plausibly produce, plus arbitrary Unicode.
any_char = st.one_of(st.sampled_from(string.printable), st.characters())


def test_damm_table_rows_and_columns_are_permutations() -> None:
    # Latin square: a substitution always changes the interim state, and a difference is never lost later.
    for row in DAMM_TABLE:
        assert sorted(row) == list(range(10))
    for column in zip(*DAMM_TABLE, strict=True):
        assert sorted(column) == list(range(10))


def test_damm_table_is_totally_anti_symmetric_for_every_state_and_digit_pair() -> None:
    # Exhaustive over all 10 states x 10 x 10 digits: an adjacent swap of two different digits always
    # leaves a different interim state. With the Latin square property this proves detection for every ID.
    for state, x, y in itertools.product(range(10), repeat=3):
        if x != y:
            assert DAMM_TABLE[DAMM_TABLE[state][x]][y] != DAMM_TABLE[DAMM_TABLE[state][y]][x]


def test_damm_table_has_a_zero_diagonal_so_the_check_digit_is_the_interim_state() -> None:
    assert all(DAMM_TABLE[i][i] == 0 for i in range(10))


def test_check_digit_matches_damms_published_example() -> None:
    # Damm (2004) / the usual worked example: 572 -> check digit 4.
    assert check_digit("572") == "4"


def test_first_serial_formats_as_expected() -> None:
    assert specimen_id_from_serial(1) == "F0000000013"
    assert specimen_id_from_serial(MAX_SERIAL) == "F999999999" + check_digit("999999999")


@given(serials)
def test_every_serial_gives_a_fixed_length_valid_id_that_round_trips(serial: int) -> None:
    specimen_id = specimen_id_from_serial(serial)
    assert len(specimen_id) == SPECIMEN_ID_LENGTH
    assert validate_specimen_id(specimen_id) == specimen_id
    assert serial_from_specimen_id(specimen_id) == serial


@given(serials, st.integers(min_value=0, max_value=SPECIMEN_ID_LENGTH - 1), any_char)
def test_every_single_character_substitution_is_refused(serial: int, position: int, replacement: str) -> None:
    specimen_id = specimen_id_from_serial(serial)
    mutated = specimen_id[:position] + replacement + specimen_id[position + 1 :]
    if mutated == specimen_id or (position == 0 and replacement == "f"):
        return  # not a substitution, or the same ID typed in lower case
    with pytest.raises(InvalidSpecimenIdError):
        validate_specimen_id(mutated)


@given(serials, st.integers(min_value=0, max_value=SPECIMEN_ID_LENGTH - 2))
def test_every_adjacent_transposition_is_refused(serial: int, position: int) -> None:
    specimen_id = specimen_id_from_serial(serial)
    a, b = specimen_id[position], specimen_id[position + 1]
    if a == b:
        return  # swapping equal characters changes nothing
    swapped = specimen_id[:position] + b + a + specimen_id[position + 2 :]
    with pytest.raises(InvalidSpecimenIdError):
        validate_specimen_id(swapped)


@pytest.mark.parametrize("serial", [1, 2, 9, 10, 99, 12345, 123_456_789, 500_000_000, 987_654_321, MAX_SERIAL])
def test_all_substitutions_and_transpositions_of_sample_ids_are_refused_exhaustively(serial: int) -> None:
    specimen_id = specimen_id_from_serial(serial)
    alphabet = string.digits + string.ascii_uppercase
    for position, replacement in itertools.product(range(SPECIMEN_ID_LENGTH), alphabet):
        mutated = specimen_id[:position] + replacement + specimen_id[position + 1 :]
        assert mutated == specimen_id or not is_valid_specimen_id(mutated)
    for position in range(SPECIMEN_ID_LENGTH - 1):
        a, b = specimen_id[position], specimen_id[position + 1]
        swapped = specimen_id[:position] + b + a + specimen_id[position + 2 :]
        assert a == b or not is_valid_specimen_id(swapped)


@given(serials, st.integers(min_value=0, max_value=SPECIMEN_ID_LENGTH - 1))
def test_a_dropped_character_is_refused(serial: int, position: int) -> None:
    specimen_id = specimen_id_from_serial(serial)
    with pytest.raises(InvalidSpecimenIdError, match="11 characters"):
        validate_specimen_id(specimen_id[:position] + specimen_id[position + 1 :])


@given(serials)
def test_hand_keyed_forms_are_accepted_and_canonicalised(serial: int) -> None:
    specimen_id = specimen_id_from_serial(serial)
    spaced = f"  {specimen_id[0].lower()} {specimen_id[1:4]}-{specimen_id[4:7]} {specimen_id[7:]}\n"
    assert validate_specimen_id(spaced) == specimen_id


@given(serials)
def test_every_id_is_the_same_compact_code128_symbol_shape(serial: int) -> None:
    # Start B, "F", switch to subset C, five digit pairs: 112 modules whatever the serial.
    specimen_id = specimen_id_from_serial(serial)
    values = symbol_values(specimen_id)
    assert values[:3] == [104, ord("F") - 32, 99]
    assert len(values) == 8
    assert symbol_width_modules(specimen_id) == 112


@pytest.mark.parametrize("serial", [0, -1, MAX_SERIAL + 1])
def test_serials_outside_the_format_are_refused(serial: int) -> None:
    with pytest.raises(SerialOutOfRangeError):
        specimen_id_from_serial(serial)


def test_a_boolean_is_not_a_serial() -> None:
    with pytest.raises(SerialOutOfRangeError):
        specimen_id_from_serial(True)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9434765919", "11 characters"),  # an NHS number scanned into the specimen field
        ("G0000000013", "start with the letter F"),
        ("F00000000l3", "must be digits"),
        ("F0000000012", "check digit"),
        ("F٠٠٠٠٠٠٠٠١٣", "must be digits"),  # Arabic-Indic digits are digits to str.isdigit, not to us
    ],
)
def test_refusals_say_why(value: str, reason: str) -> None:
    with pytest.raises(InvalidSpecimenIdError, match=reason):
        validate_specimen_id(value)


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidSpecimenIdError):
        validate_specimen_id(12345)  # type: ignore[arg-type]
