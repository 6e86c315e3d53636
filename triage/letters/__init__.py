"""GP letters and notices rendered to PDF from lab-editable templates."""

from triage.letters.data import Amendment, LetterData, LetterKind, ResultDetails
from triage.letters.render import render_letter
from triage.letters.templates import PLACEHOLDERS, LetterTemplate, LetterTemplates, load_template, parse_template

__all__ = [
    "PLACEHOLDERS",
    "Amendment",
    "LetterData",
    "LetterKind",
    "LetterTemplate",
    "LetterTemplates",
    "ResultDetails",
    "load_template",
    "parse_template",
    "render_letter",
]
