"""E1394 / LIS2-A2 records: delimiters from the H record, escapes, repeats and components.

A `Record` keeps every field in order, `fields[0]` being the record type ("H", "P", "O", "R", "C", "M",
"Q", "L"), so `record.field(n)` is field n in the standard's 1-based numbering (R.4 = measurement value).
Each field is a tuple of repeats, each repeat a tuple of components, each component a str decoded from
latin-1, so every byte the instrument sent survives a decode/encode round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analyser_drivers.errors import RecordError

JsonField = str | list[str] | list[list[str]]


def _needs_hex_escape(ch: str) -> bool:
    # Every C0 control character and DEL: E1381 6.6 forbids STX, ETX, EOT, ENQ, ACK, DLE, NAK, SYN, ETB, LF
    # and DC1-DC4 in frame text (a receiver refuses the frame for ever), CR ends a record, and the others
    # mean nothing in a field. The hex escape (LIS2-A2 `&Xhh&`) carries any of them safely.
    return ch < "\x20" or ch == "\x7f"


@dataclass(frozen=True)
class Delimiters:
    """The four separators an H record declares in its first five characters (`H|\\^&`)."""

    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"

    def __post_init__(self) -> None:
        chars = (self.field, self.repeat, self.component, self.escape)
        if any(len(c) != 1 for c in chars) or len(set(chars)) != 4 or any(_needs_hex_escape(c) for c in chars):
            raise RecordError(f"delimiters must be four different printable characters, got {chars!r}")

    @classmethod
    def from_header(cls, header_text: str) -> Delimiters:
        """Read the delimiters from an H record's text; raises RecordError if it declares none."""
        if len(header_text) < 5 or header_text[0] != "H":
            raise RecordError("the header record is too short to declare its delimiters")
        return cls(field=header_text[1], repeat=header_text[2], component=header_text[3], escape=header_text[4])

    @property
    def declaration(self) -> str:
        """The H.2 field text, e.g. `\\^&`."""
        return self.repeat + self.component + self.escape


DEFAULT_DELIMITERS = Delimiters()

Field = tuple[tuple[str, ...], ...]
"""One field: repeats, each a tuple of components."""


def simple(value: str) -> Field:
    """A field holding one plain value."""
    return ((value,),)


def components(*values: str) -> Field:
    """A field holding one repeat made of these components."""
    return (tuple(values),)


@dataclass(frozen=True)
class Record:
    """One E1394 record. Build with `Record.of("R", "1", components("", "", "", "FOB"), "57", ...)`."""

    fields: tuple[Field, ...]

    @classmethod
    def of(cls, record_type: str, *values: str | Field) -> Record:
        """Convenience constructor: plain strings become simple fields."""
        return cls((simple(record_type), *(simple(v) if isinstance(v, str) else v for v in values)))

    @property
    def type(self) -> str:
        """The record type letter (upper-cased, as the standard allows lower case)."""
        return self.fields[0][0][0][:1].upper() if self.fields else ""

    def field(self, number: int) -> Field:
        """Field `number` in the standard's 1-based numbering; an absent field is empty."""
        index = number - 1
        if index < 0:
            raise IndexError("field numbers start at 1")
        return self.fields[index] if index < len(self.fields) else simple("")

    def value(self, number: int, component: int = 1, repeat: int = 1) -> str:
        """The text of one component (1-based) of one repeat (1-based) of a field; "" when absent."""
        field = self.field(number)
        if repeat - 1 >= len(field):
            return ""
        parts = field[repeat - 1]
        return parts[component - 1] if component - 1 < len(parts) else ""

    def to_json(self) -> dict[str, object]:
        """`{"type": "R", "fields": [...]}`: a field is a str, a list of components, or a list of repeats."""
        return {"type": self.type, "fields": [field_to_json(f) for f in self.fields]}


def field_to_json(field: Field) -> JsonField:
    """str for a plain value, list[str] for components, list[list[str]] when the field repeats."""
    if len(field) > 1:
        return [list(r) for r in field]
    if len(field[0]) > 1:
        return list(field[0])
    return field[0][0]


_ESCAPE_BODY = re.compile(r"^X([0-9A-Fa-f]{2})+$")


def _unescape(text: str, d: Delimiters) -> str:
    if d.escape not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == d.escape:
            end = text.find(d.escape, i + 1)
            if end == -1:
                out.append(text[i:])
                break
            body = text[i + 1 : end]
            replacement = {"F": d.field, "S": d.component, "R": d.repeat, "E": d.escape}.get(body)
            if replacement is not None:
                out.append(replacement)
            elif _ESCAPE_BODY.match(body):
                out.append(bytes.fromhex(body[1:]).decode("latin-1"))
            else:
                # Unknown escapes (highlighting, local codes) are kept as sent rather than guessed at.
                out.append(text[i : end + 1])
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _escape(text: str, d: Delimiters) -> str:
    specials = (d.field, d.repeat, d.component, d.escape)
    if not any(c in specials or _needs_hex_escape(c) for c in text):
        return text
    out: list[str] = []
    for ch in text:
        if ch == d.escape:
            out.append(f"{d.escape}E{d.escape}")
        elif ch == d.field:
            out.append(f"{d.escape}F{d.escape}")
        elif ch == d.component:
            out.append(f"{d.escape}S{d.escape}")
        elif ch == d.repeat:
            out.append(f"{d.escape}R{d.escape}")
        elif _needs_hex_escape(ch):
            out.append(f"{d.escape}X{ord(ch):02X}{d.escape}")
        else:
            out.append(ch)
    return "".join(out)


def _decode_field(text: str, d: Delimiters) -> Field:
    return tuple(tuple(_unescape(c, d) for c in rep.split(d.component)) for rep in text.split(d.repeat))


def decode_record(text: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> Record:
    """One record's text (no CR). An H record's own delimiter declaration is kept as field 2 verbatim.

    An H record that declares no usable delimiters is read with the ones given.
    """
    if text[:1].upper() == "H" and len(text) >= 5:
        try:
            delimiters = Delimiters.from_header(text)
        except RecordError:
            return Record(tuple(_decode_field(f, delimiters) for f in text.split(delimiters.field)))
        end = text.find(delimiters.field, 2)
        declaration = text[2:] if end == -1 else text[2:end]
        fields: list[Field] = [simple(text[0]), simple(declaration)]
        if end != -1:
            fields.extend(_decode_field(f, delimiters) for f in text[end + 1 :].split(delimiters.field))
        return Record(tuple(fields))
    return Record(tuple(_decode_field(f, delimiters) for f in text.split(delimiters.field)))


def encode_record(record: Record, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """The record's text without the CR terminator. An H record's field 2 is written as the delimiters."""
    d = delimiters
    parts: list[str] = []
    for index, field in enumerate(record.fields):
        if index == 1 and record.type == "H":
            parts.append(d.declaration)
            continue
        parts.append(d.repeat.join(d.component.join(_escape(c, d) for c in rep) for rep in field))
    return d.field.join(parts)


@dataclass(frozen=True)
class Message:
    """One E1394 message: normally H … L. `delimiters` are those its H record declared."""

    records: tuple[Record, ...]
    delimiters: Delimiters = DEFAULT_DELIMITERS

    def of_type(self, record_type: str) -> list[Record]:
        """The records of one type, in order."""
        return [r for r in self.records if r.type == record_type]

    @property
    def complete(self) -> bool:
        """True when the message ends with its L (terminator) record."""
        return bool(self.records) and self.records[-1].type == "L"

    def to_json(self) -> dict[str, object]:
        """`{"records": [...]}` as in the `analyser replay --json` document."""
        return {"records": [r.to_json() for r in self.records]}


def split_records(text: bytes) -> list[bytes]:
    """Record texts from concatenated frame text: records end in CR; a stray LF after CR is dropped."""
    return [r for r in text.replace(b"\r\n", b"\r").split(b"\r") if r]


def header_delimiters(record_text: str, fallback: Delimiters = DEFAULT_DELIMITERS) -> Delimiters:
    """The delimiters an H record's text declares, or `fallback` if it is not a usable H record."""
    if record_text[:1].upper() == "H" and len(record_text) >= 5:
        try:
            return Delimiters.from_header(record_text)
        except RecordError:
            return fallback
    return fallback


def decode_records(record_texts: Iterable[bytes]) -> tuple[list[Record], Delimiters]:
    """Decode records in order; each H record sets the delimiters of those that follow it.

    Returns the records and the delimiters of the first H record (the defaults if there is none).
    """
    delimiters = DEFAULT_DELIMITERS
    first: Delimiters | None = None
    records: list[Record] = []
    for raw in record_texts:
        text = raw.decode("latin-1")
        if text[:1].upper() == "H":
            delimiters = header_delimiters(text, delimiters)
            first = first or delimiters
        records.append(decode_record(text, delimiters))
    return records, first or DEFAULT_DELIMITERS


def decode_message(text: bytes) -> Message:
    """A message from the concatenated text of its frames (records separated by CR)."""
    records, delimiters = decode_records(split_records(text))
    return Message(tuple(records), delimiters)


def encode_message(records: Sequence[Record], delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[bytes]:
    """Each record's bytes (latin-1) with its CR terminator, ready to be framed one record per frame.

    Control characters in field text are hex-escaped, so no frame carries a character E1381 forbids; text
    that latin-1 cannot carry raises RecordError rather than reaching the line.
    """
    out: list[bytes] = []
    for record in records:
        text = encode_record(record, delimiters) + "\r"
        try:
            out.append(text.encode("latin-1"))
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise RecordError(f"{record.type} record holds {bad!r}, which latin-1 cannot carry") from None
    return out
