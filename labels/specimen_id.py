"""Specimen IDs: ``F`` + 9-digit serial + 1 Damm check digit, e.g. ``F0000000010`` (11 characters, fixed).

Why this shape:
- The fixed prefix letter ``F`` keeps a specimen ID from ever being mistaken for a 10-digit NHS number, and
  marks the tube as a FIT kit to anyone reading it by eye.
- Digits only after the prefix: Code128 packs them two per symbol (subset C), so every ID gives the same short
  symbol (112 modules) that fits a tube label; digits are also the easiest to read back over the phone.
- The Damm check digit (H. M. Damm, 2004) is always a digit (unlike mod-11's ``X``) and detects every
  single-digit substitution and every adjacent transposition, including ones that involve the check digit.

Why Damm detects them (tests/labels/test_labels_specimen_id.py checks each step exhaustively):
  The check runs an interim state ``s`` through ``s = T[s][d]`` for each digit ``d``; an ID is valid when the
  final state is 0. ``T`` is a Latin square (each row and column a permutation of 0-9) whose quasigroup is
  *totally anti-symmetric*: ``T[T[c][x]][y] == T[T[c][y]][x]`` implies ``x == y`` for every state ``c``.
  - Substitution at position i: the same prefix gives the same state c; row c is a permutation, so
    ``T[c][x] != T[c][y]``. Every later step applies the same digit, and columns are permutations, so distinct
    states stay distinct to the end: the final state is not 0.
  - Adjacent transposition xy -> yx with x != y: total anti-symmetry gives distinct states after the pair; the
    same column argument carries the difference to the end.
  The argument depends only on the table, not on the ID's length or content, so checking the table's
  properties for all 10 states x 10 x 10 digit pairs is an exhaustive proof for every ID.
  The prefix is fixed, so replacing it, or swapping it with the first digit, leaves a string that fails the
  shape check; any non-digit in a digit position does too. Hence every single-character substitution and every
  adjacent transposition of a valid ID yields a string ``validate_specimen_id`` refuses.
"""

from __future__ import annotations

from .errors import InvalidSpecimenIdError, SerialOutOfRangeError

SPECIMEN_ID_PREFIX = "F"
SERIAL_DIGITS = 9
SPECIMEN_ID_LENGTH = len(SPECIMEN_ID_PREFIX) + SERIAL_DIGITS + 1
MIN_SERIAL = 1
MAX_SERIAL = 10**SERIAL_DIGITS - 1

# Damm's published order-10 totally anti-symmetric quasigroup (zero diagonal).
# Row = interim state, column = digit.
DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Scanners and people may hand us lower case or grouped digits; these separators carry no information.
_IGNORED_SEPARATORS = (" ", "-")


def damm_state(digits: str) -> int:
    """Run the Damm quasigroup over ``digits`` (ASCII 0-9 only) and return the final interim state."""
    state = 0
    for char in digits:
        state = DAMM_TABLE[state][ord(char) - 48]
    return state


def check_digit(serial_digits: str) -> str:
    """The Damm check digit for a string of ASCII digits: appending it makes the final state 0."""
    if not (serial_digits.isascii() and serial_digits.isdigit()):
        raise InvalidSpecimenIdError(serial_digits, "a check digit can only be computed over digits 0-9")
    # With a zero diagonal, the check digit equals the interim state itself: T[s][s] == 0.
    return str(damm_state(serial_digits))


def specimen_id_from_serial(serial: int) -> str:
    """Format the database-allocated ``serial`` (1 to 999,999,999) as a specimen ID with its check digit."""
    if isinstance(serial, bool) or not isinstance(serial, int):
        raise SerialOutOfRangeError(f"specimen serial must be an integer, got {type(serial).__name__}")
    if not MIN_SERIAL <= serial <= MAX_SERIAL:
        raise SerialOutOfRangeError(
            f"specimen serial {serial} is outside {MIN_SERIAL}-{MAX_SERIAL}; the ID format has {SERIAL_DIGITS} digits"
        )
    serial_digits = f"{serial:0{SERIAL_DIGITS}d}"
    return f"{SPECIMEN_ID_PREFIX}{serial_digits}{check_digit(serial_digits)}"


def validate_specimen_id(value: str) -> str:
    """Return the canonical form of ``value`` if it is a valid specimen ID, else raise InvalidSpecimenIdError.

    Accepts surrounding whitespace, lower case and spaces or hyphens between characters (hand-keyed input);
    everything else must match exactly: prefix ``F``, 9 digits, a correct check digit.
    """
    if not isinstance(value, str):
        raise InvalidSpecimenIdError(repr(value), "a specimen ID must be text")
    canonical = value.strip().upper()
    for separator in _IGNORED_SEPARATORS:
        canonical = canonical.replace(separator, "")
    if len(canonical) != SPECIMEN_ID_LENGTH:
        raise InvalidSpecimenIdError(value, f"must be {SPECIMEN_ID_LENGTH} characters, e.g. F0000000010")
    if not canonical.startswith(SPECIMEN_ID_PREFIX):
        raise InvalidSpecimenIdError(value, f"must start with the letter {SPECIMEN_ID_PREFIX}")
    digits = canonical[len(SPECIMEN_ID_PREFIX) :]
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidSpecimenIdError(value, f"the {SPECIMEN_ID_LENGTH - 1} characters after F must be digits")
    if damm_state(digits) != 0:
        raise InvalidSpecimenIdError(value, "check digit does not match: the ID is mistyped or misread")
    return canonical


def is_valid_specimen_id(value: str) -> bool:
    """True when ``validate_specimen_id`` would accept ``value``."""
    try:
        validate_specimen_id(value)
    except InvalidSpecimenIdError:
        return False
    return True


def serial_from_specimen_id(value: str) -> int:
    """The serial a specimen ID was formatted from; raises InvalidSpecimenIdError if the ID is invalid."""
    canonical = validate_specimen_id(value)
    return int(canonical[len(SPECIMEN_ID_PREFIX) : -1])
