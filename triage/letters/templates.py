"""Letter templates the lab edits without touching code.

A template is a UTF-8 text file named after its kind (``reassurance.txt``, ``positive.txt``…). Its first line
is ``Title: …``; the rest is the letter body:

- paragraphs are separated by a blank line;
- a line starting ``## `` is a heading;
- lines starting ``- `` are bullet points;
- ``$name`` (or ``${name}``) is replaced by a value from the letter data (see ``PLACEHOLDERS``); ``$$`` is a
  literal dollar sign.

Templates are checked when loaded, so a misspelt placeholder is reported at start-up, not when a
letter is due.
Each parsed template keeps its text and its SHA-256, so an application can store the version a letter was
written with and render that letter from it again, byte for byte, after the lab has edited the file.
Patient identifiers, practice, lab contact, report date and policy version are printed by the library on every
letter whatever the template says, so an edit cannot drop them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from triage.errors import LetterTemplateError
from triage.letters.data import LetterKind

PLACEHOLDERS: dict[str, str] = {
    "patient_name": "patient's name",
    "date_of_birth": "date of birth",
    "nhs_number": "NHS number, spaced 3-3-4",
    "practice_name": "GP practice name",
    "practice_ods": "GP practice ODS code",
    "requester": "requesting clinician",
    "lab_name": "laboratory name",
    "lab_contact": "laboratory contact details",
    "report_date": "date of this report",
    "policy_version": "triage policy version",
    "letter_reference": "this letter's reference",
    "specimen_id": "specimen ID on the kit",
    "collection_date": "sample collection date",
    "result": "f-Hb result, e.g. <10 µg Hb/g",
    "band": "result band label",
    "priority": "priority, e.g. P2",
    "threshold": "referral threshold, e.g. 10 µg Hb/g",
    "explanation": "the triage explanation paragraph",
    "rejection_reason": "why the kit was rejected",
    "kit_dispatched_on": "date the kit was posted",
    "replaces_letter": "reference of the letter being replaced",
    "replaces_letter_date": "date of the letter being replaced",
    "amendment_reason": "why the result was amended",
    "red_flags": "the do-not-wait findings recorded on the referral",
}


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of a letter body: a heading, a paragraph or a bullet list (text still holds placeholders)."""

    kind: str  # "heading" | "paragraph" | "bullets"
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LetterTemplate:
    kind: LetterKind
    title: str
    blocks: tuple[Block, ...]
    source: str
    text: str = ""  # the template as parsed: what an application stores to render this version again

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of ``text`` (UTF-8): the address of this version of the template."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def placeholders(self) -> frozenset[str]:
        names = set(Template(self.title).get_identifiers())
        for block in self.blocks:
            for line in block.lines:
                names.update(Template(line).get_identifiers())
        return frozenset(names)


def parse_template(kind: LetterKind, text: str, source: str) -> LetterTemplate:
    """Parse and check one template; ``LetterTemplateError`` names the file and the problem."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines or not lines[0].lower().startswith("title:"):
        raise LetterTemplateError(f"letter template {source}: the first line must be 'Title: …'")
    title = lines[0].split(":", 1)[1].strip()
    blocks: list[Block] = []
    current: list[str] = []

    def close() -> None:
        if current:
            is_list = all(line.startswith("- ") for line in current)
            if is_list:
                blocks.append(Block("bullets", tuple(line[2:].strip() for line in current)))
            else:
                blocks.append(Block("paragraph", (" ".join(line.strip() for line in current),)))
            current.clear()

    for line in lines[1:]:
        if not line.strip():
            close()
        elif line.startswith("## "):
            close()
            blocks.append(Block("heading", (line[3:].strip(),)))
        else:
            current.append(line)
    close()
    template = LetterTemplate(kind=kind, title=title, blocks=tuple(blocks), source=source, text=text)
    _check_placeholders(template)
    return template


def _check_placeholders(template: LetterTemplate) -> None:
    texts = [template.title, *(line for block in template.blocks for line in block.lines)]
    for text in texts:
        if not Template(text).is_valid():
            raise LetterTemplateError(
                f"letter template {template.source}: a '$' is not followed by a placeholder name in {text!r} "
                "(write $$ for a dollar sign)"
            )
    unknown = sorted(template.placeholders - PLACEHOLDERS.keys())
    if unknown:
        raise LetterTemplateError(
            f"letter template {template.source} uses unknown placeholder(s) "
            f"{', '.join('$' + name for name in unknown)}; "
            f"known placeholders: {', '.join(sorted(PLACEHOLDERS))}"
        )


def _folder(directory: str | Path | None) -> Traversable:
    return resources.files("triage").joinpath("templates") if directory is None else Path(directory)


def load_template(kind: LetterKind, directory: str | Path | None = None) -> LetterTemplate:
    """Load and check ``<kind>.txt`` from ``directory`` (default: the templates in the package)."""
    folder = _folder(directory)
    entry = folder.joinpath(f"{kind.value}.txt")
    if not entry.is_file():
        raise LetterTemplateError(f"letter template {kind.value}.txt is missing from {folder}")
    try:
        text = entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LetterTemplateError(f"letter template {kind.value}.txt in {folder} cannot be read: {exc}") from exc
    return parse_template(kind, text, f"{kind.value}.txt")


class LetterTemplates:
    """Templates by letter kind, checked together.

    A set loaded from a folder has every kind. A set rebuilt for one stored letter (``require_every_kind=False``)
    holds only the kinds that letter is rendered from; asking it for another kind is a ``LetterTemplateError``.
    """

    def __init__(self, templates: Mapping[LetterKind, LetterTemplate], *, require_every_kind: bool = True) -> None:
        missing = [kind.value for kind in LetterKind if kind not in templates]
        if missing and require_every_kind:
            raise LetterTemplateError(f"no letter template for: {', '.join(missing)}")
        self._templates = dict(templates)

    def __getitem__(self, kind: LetterKind) -> LetterTemplate:
        try:
            return self._templates[kind]
        except KeyError:
            raise LetterTemplateError(f"no letter template for: {kind.value}") from None

    @classmethod
    def load(cls, directory: str | Path | None = None, kinds: Iterable[LetterKind] | None = None) -> LetterTemplates:
        """Load ``<kind>.txt`` for every kind (or only ``kinds``) from ``directory`` (default: the package's)."""
        wanted = tuple(LetterKind) if kinds is None else tuple(kinds)
        return cls({kind: load_template(kind, directory) for kind in wanted}, require_every_kind=kinds is None)
