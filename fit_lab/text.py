"""Text at the boundary: every name and free-text value is NFC-normalised, and control characters are refused.

A decomposed "é" (e + U+0301, common from copy-paste) and the composed one are the same name: stored composed
(NFC), they compare equal and print as one glyph. Control characters (C0, DEL and C1; tab and line breaks only where
a field allows several lines) cannot be printed on a letter, cannot be stored by PostgreSQL (NUL) and can drive a
terminal, so they are refused naming the field. The pydantic types here carry the rule into the OpenAPI schema as a
``pattern``, so the schema says what the API accepts.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from fit_lab.errors import FieldProblem, ValidationError

__all__ = [
    "LINE_PATTERN",
    "REQUIRED_LINE_PATTERN",
    "Line",
    "RequiredLine",
    "control_character_problem",
    "nfc",
    "refuse_control_characters",
]

# C0 controls, DEL and the C1 controls; tab, line feed and carriage return are let through only in multi-line
# fields (none of the API's fields is one today: reasons and names are one line).
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_MULTILINE_CONTROL_RE = re.compile("[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]")
# What str.split() treats as a space, beyond the control characters already refused (so "only spaces" is decided
# the same way by the schema and by the services, which collapse runs of spaces with split()).
_SPACE = "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
LINE_PATTERN = f"^[^{_CONTROL}]*$"
REQUIRED_LINE_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def control_character_problem(value: str, *, multiline: bool = False) -> str | None:
    """The reason a value is refused for a control character, or None. Says which character, never the value."""
    found = (_MULTILINE_CONTROL_RE if multiline else _CONTROL_RE).search(value)
    if found is None:
        return None
    return (f"contains control characters (U+{ord(found.group()):04X} at position {found.start() + 1}), which "
            "cannot be printed or stored; remove them and send the text again")


def _line(value: str) -> str:
    problem = control_character_problem(value)
    if problem:
        raise ValueError(problem)
    return nfc(value)


def _required_line(value: str) -> str:
    value = _line(value)
    if not value.split():
        raise ValueError("is required: it cannot be only spaces")
    return value


class _Pattern:
    """Adds the rule to the field's JSON schema (after max_length and the rest, which pydantic puts there)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


Line = Annotated[str, AfterValidator(_line), _Pattern(LINE_PATTERN)]
"""One line of text, possibly empty: no control characters; NFC."""
RequiredLine = Annotated[str, AfterValidator(_required_line), _Pattern(REQUIRED_LINE_PATTERN)]
"""One line of text with at least one visible character: no control characters; NFC."""


def refuse_control_characters(value: str | None, field: str) -> None:
    """For the services (the command line reaches them without the API's types): a field-named refusal."""
    problem = control_character_problem(value or "")
    if problem:
        raise ValidationError([FieldProblem(field, problem)])
