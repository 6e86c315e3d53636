"""The Unicode fonts every PDF fit-lab writes is set in, shipped with the project (DejaVu Sans 2.37, licence in
``fonts/LICENSE-DejaVu.txt``), so a name prints as the practice sent it: "Łukasz Wałęsa", "Thị Nguyễn",
"Ó Súilleabháin", "Siân". The 14 standard PDF fonts know only WinAnsi (cp1252) and printed the rest as black
squares. Fonts are embedded as subsets, so a PDF carries only the glyphs it uses.

Pure data and two small functions; used by ``labels`` and ``triage`` (reportlab is a dependency of both).
Nothing happens at import: ``register()`` is called by whoever renders, and is idempotent.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

__all__ = ["BOLD", "REGULAR", "missing_glyphs", "register"]

REGULAR = "FitLabSans"
BOLD = "FitLabSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}


@cache
def register() -> None:
    """Register both faces with reportlab (once per process) and make BOLD the bold of REGULAR for markup."""
    folder = resources.files("unicode_fonts").joinpath("fonts")
    for name, filename in _FILES.items():
        with resources.as_file(folder.joinpath(filename)) as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


@cache
def _covered() -> frozenset[int]:
    register()
    faces = [pdfmetrics.getFont(name) for name in _FILES]
    covered = set.intersection(*(set(face.face.charToGlyph) for face in faces))
    return frozenset(covered)


def missing_glyphs(text: str) -> list[str]:
    """The characters of ``text`` the fonts cannot draw (each once, in order); printing them would show a box."""
    covered = _covered()
    seen: dict[str, None] = {}
    for char in text:
        if ord(char) not in covered:
            seen.setdefault(char, None)
    return list(seen)
