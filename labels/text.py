"""Text as it appears on labels and letters: printable characters, NHS number and date formats."""

from __future__ import annotations

import unicodedata
from datetime import date

import unicode_fonts

from .errors import LabelDataError

# PDFs are set in a shipped Unicode font (``unicode_fonts``), so names print exactly as sent (``pdf_text``).
# A thermal printer's resident font knows WinAnsi (cp1252) at best: for ZPL only, names and addresses outside it
# are folded to the nearest Latin letters rather than printed as empty boxes (``printable``); letters that do not
# decompose (e.g. Polish Ł) are mapped by hand.
_FOLD_BY_HAND = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i"}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pdf_text(text: str, field: str) -> str:
    """``text`` with whitespace collapsed, exactly as given otherwise, checked printable in the PDFs' font.

    Raises LabelDataError naming ``field`` for a control character or a character the font has no glyph for
    (it would print as a box), and for ^ and ~ (see ``printable``).
    """
    collapsed = " ".join(text.split())
    for char in collapsed:
        if unicodedata.category(char).startswith("C"):
            raise LabelDataError(f"{field}: character U+{ord(char):04X} cannot be printed")
    missing = unicode_fonts.missing_glyphs(collapsed)
    if missing:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
        raise LabelDataError(f"{field}: {shown} cannot be printed (the label font has no glyph for it)")
    if "^" in collapsed or "~" in collapsed:
        raise LabelDataError(f"{field}: the characters ^ and ~ cannot be printed on a label")
    return collapsed


def printable(text: str, field: str) -> str:
    """``text`` with whitespace collapsed and every character printable by a thermal printer's font (ZPL).

    Raises LabelDataError naming ``field`` if a character cannot be folded to a printable one.
    """
    collapsed = " ".join(text.split())
    out: list[str] = []
    for char in collapsed:
        if _encodable(char):
            out.append(char)
            continue
        folded = _FOLD_BY_HAND.get(char)
        if folded is None:
            folded = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if not folded or not all(_encodable(c) for c in folded):
            raise LabelDataError(f"{field}: character {char!r} cannot be printed on a label")
        out.append(folded)
    # ZPL reserves ^ and ~ as command prefixes; we escape them there, but keep them off labels altogether
    # since no name or address needs them and a stray one would be a typing slip.
    result = "".join(out)
    if "^" in result or "~" in result:
        raise LabelDataError(f"{field}: the characters ^ and ~ cannot be printed on a label")
    return result


def _encodable(char: str) -> bool:
    if unicodedata.category(char).startswith("C"):
        return False
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def format_nhs_number(nhs_number: str) -> str:
    """The NHS number in its display form 3-3-4 (``943 476 5919``), from bare or spaced digits.

    Only the shape is checked here; the modulus-11 check belongs to intake in the application.
    """
    digits = nhs_number.replace(" ", "")
    if len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
        raise LabelDataError(f"NHS number {nhs_number!r} must be 10 digits")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def format_date(value: date) -> str:
    """Unambiguous date for labels and letters: ``07-Mar-1958`` (a month name cannot be read US-style)."""
    return f"{value.day:02d}-{_MONTHS[value.month - 1]}-{value.year:04d}"


def format_long_date(value: date) -> str:
    """Date for letter prose: ``7 March 2025``."""
    return f"{value.day} {value.strftime('%B')} {value.year}"
