"""Decode a captured byte stream offline, naming every place where it breaks the standard.

Backs `fit-lab analyser replay --dry-run --json`. Unlike the live receiver it never refuses anything:
it keeps what can be read (a bad-checksum frame is kept until a retransmission replaces it) and reports
each deviation as a `Problem` at its offset in the input. A capture may hold both directions (host
ACK/NAK are simply skipped) or the instrument's side only (no ENQ/EOT at all). Serial-monitor logs that
write control characters as `[STX]`-style tokens are recognised and turned back into bytes first.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from analyser_drivers.control import ENQ, EOT
from analyser_drivers.frames import (
    BrokenFrameEvent,
    ControlEvent,
    FrameEvent,
    FrameScanner,
    NoiseEvent,
    QuirkEvent,
    ScanEvent,
)
from analyser_drivers.interpret import measurements_from_message
from analyser_drivers.measurements import Measurement, QcMeasurement, ResultProblem
from analyser_drivers.profiles import InstrumentProfile
from analyser_drivers.records import Message, decode_records
from analyser_drivers.settings import E1381_MAX_FRAME, LIS1A_MAX_FRAME

RECORD_TYPES = frozenset("HPORCMQSL")
"""E1394 / LIS2-A2 record types: header, patient, order, result, comment, manufacturer, request, scientific,
terminator (the standard allows lower case; `Record.type` is upper-cased)."""


@dataclass(frozen=True)
class Problem:
    """Where the stream breaks the standard: byte `offset` in the input, a short `kind`, a sentence."""

    offset: int
    kind: str
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"offset": self.offset, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class ReplayResult:
    """Decoded messages (complete or not, in order), problems, and measurements when a profile was given."""

    messages: tuple[Message, ...]
    problems: tuple[Problem, ...]
    measurements: tuple[tuple[Measurement, ...], ...] | None = None
    """Per message, when a profile was given."""

    def to_json(self) -> dict[str, object]:
        """The `analyser replay --json` document; each message gains "measurements" when a profile was given."""
        messages: list[dict[str, object]] = []
        for index, msg in enumerate(self.messages):
            entry = msg.to_json()
            if self.measurements is not None:
                entry["measurements"] = [measurement_to_json(m) for m in self.measurements[index]]
            messages.append(entry)
        return {"messages": messages, "problems": [p.to_json() for p in self.problems]}


def measurement_to_json(measurement: Measurement) -> dict[str, object]:
    """A measurement as JSON-ready values: Decimal as a string (exact), times in ISO 8601, plus its kind."""
    out: dict[str, object] = {"kind": "qc" if isinstance(measurement, QcMeasurement) else "patient"}
    for item in dataclasses.fields(measurement):
        value = getattr(measurement, item.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [dataclasses.asdict(v) if isinstance(v, ResultProblem) else v for v in value]
        out[item.name] = value
    return out


_TOKEN = re.compile(rb"\[(STX|ETX|ETB|EOT|ENQ|ACK|NAK|CR|LF)\]")
_TOKEN_BYTES = {b"STX": 0x02, b"ETX": 0x03, b"ETB": 0x17, b"EOT": 0x04, b"ENQ": 0x05,
                b"ACK": 0x06, b"NAK": 0x15, b"CR": 0x0D, b"LF": 0x0A}  # fmt: skip


def looks_tokenised(data: bytes) -> bool:
    """True for a serial-monitor log that writes control characters as `[STX]`, `[ETX]`, … tokens."""
    return b"\x02" not in data and b"\x05" not in data and (b"[STX]" in data or b"[ENQ]" in data)


def detokenise(data: bytes) -> tuple[bytes, list[int]]:
    """Turn a tokenised log back into bytes, with each output byte's offset in the log.

    Each log line is one read; line breaks are the logger's, not the line's, so they are dropped. Lines
    starting with "-" (after spaces) are the host's replies as such loggers print them, and are skipped.
    """
    out = bytearray()
    offsets: list[int] = []
    position = 0
    for line in data.split(b"\n"):
        start = position
        position += len(line) + 1
        if line.lstrip().startswith(b"-"):
            continue
        i = 0
        for match in _TOKEN.finditer(line):
            for j in range(i, match.start()):
                out.append(line[j])
                offsets.append(start + j)
            out.append(_TOKEN_BYTES[match.group(1)])
            offsets.append(start + match.start())
            i = match.end()
        for j in range(i, len(line)):
            out.append(line[j])
            offsets.append(start + j)
    return bytes(out), offsets


@dataclass
class _Replay:
    problems: list[Problem] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    in_session: bool = False
    warned_no_enq: bool = False
    frames_in_session: int = 0
    expected: int = 1
    last_number: int | None = None
    last_frame_text: bytes = b""
    before_last_frame: tuple[list[tuple[int, bytes]], bytes, int] = field(default_factory=lambda: ([], b"", 0))
    records: list[tuple[int, bytes]] = field(default_factory=list)
    """The current message's record texts, each with the offset of the frame that completed it."""
    partial: bytes = b""
    record_type_problems: list[tuple[int, Problem]] = field(default_factory=list)
    """Invalid record types found, with the index of their message (a retransmission may take it back)."""

    def problem(self, offset: int, kind: str, detail: str) -> None:
        self.problems.append(Problem(offset, kind, detail))

    def close_message(self, offset: int, why: str | None) -> None:
        if self.partial:
            self.records.append((offset, self.partial))
            self.partial = b""
        if not self.records:
            return
        if why is not None:
            self.problem(offset, "message_without_terminator", why)
        decoded, delimiters = decode_records([text for _, text in self.records])
        for position, ((record_offset, text), record) in enumerate(zip(self.records, decoded, strict=True), 1):
            if record.type not in RECORD_TYPES:
                shown = text[:24].decode("latin-1")
                problem = Problem(record_offset, "invalid_record_type",
                                  f"record {position} of message {len(self.messages) + 1} ({shown!r}) has type "
                                  f"{record.type!r}, which is none of E1394's {', '.join(sorted(RECORD_TYPES))}")
                self.problems.append(problem)
                self.record_type_problems.append((len(self.messages), problem))
        self.messages.append(Message(tuple(decoded), delimiters))
        self.records = []

    def end_session(self, offset: int, why: str) -> None:
        if self.records or self.partial:
            self.close_message(offset, why)
        self.in_session = False
        self.frames_in_session = 0
        self.expected, self.last_number = 1, None

    def on_frame(self, f: FrameEvent) -> None:
        if not self.in_session and not self.warned_no_enq:
            self.problem(f.offset, "frame_without_enq", "frames arrive with no ENQ/EOT session around them")
            self.warned_no_enq = True
        self.frames_in_session += 1
        frame_size = f.size + 2
        if f.number is None:
            self.problem(f.offset, "missing_frame_number", "frame has no frame number after STX")
        if f.checksum_ok is None:
            self.problem(f.offset, "missing_checksum", "frame has no checksum after ETX/ETB")
        elif not f.checksum_ok:
            self.problem(
                f.offset, "bad_checksum",
                f"checksum {f.received_checksum.decode('latin-1')} does not match the frame's text",
            )  # fmt: skip
        if frame_size > LIS1A_MAX_FRAME:
            self.problem(f.offset, "frame_too_long", f"frame of {frame_size} characters exceeds LIS1-A's 64,000")
        elif frame_size > E1381_MAX_FRAME:
            self.problem(f.offset, "frame_over_247", f"frame of {frame_size} characters exceeds E1381-95's 247")
        if f.restricted:
            names = ", ".join(f"0x{b:02X}" for b in f.restricted)
            self.problem(f.offset, "restricted_character", f"frame text holds forbidden characters ({names})")
        if f.number is not None:
            if f.number == self.last_number and self.last_number is not None:
                self.problem(f.offset, "retransmission", f"frame {f.number} sent again; counted once")
                self.replace_last(f)
                return
            if f.number != self.expected:
                self.problem(f.offset, "unexpected_frame_number", f"expected frame {self.expected}, got {f.number}")
            self.last_number = f.number
            self.expected = (f.number + 1) % 8
        self.last_frame_text = f.text
        self.before_last_frame = (list(self.records), self.partial, len(self.messages))
        self.add_text(f.offset, f.text, f.final)

    def replace_last(self, frame: FrameEvent) -> None:
        # A retransmission replaces the copy that was (presumably) refused; identical copies change nothing.
        if frame.text == self.last_frame_text:
            return
        records, partial, message_count = self.before_last_frame
        self.records, self.partial = list(records), partial
        del self.messages[message_count:]
        taken_back = [p for index, p in self.record_type_problems if index >= message_count]
        self.record_type_problems = [(i, p) for i, p in self.record_type_problems if i < message_count]
        self.problems = [p for p in self.problems if not any(p is gone for gone in taken_back)]
        self.last_frame_text = frame.text
        self.add_text(frame.offset, frame.text, frame.final)

    def add_text(self, offset: int, text: bytes, final: bool) -> None:
        pieces = (self.partial + text).replace(b"\r\n", b"\r").split(b"\r")
        self.partial = pieces.pop()
        if final and self.partial:
            pieces.append(self.partial)
            self.partial = b""
        complete = [p for p in pieces if p]
        if final and len(complete) > 1:
            self.problem(offset, "several_records_in_one_frame", f"{len(complete)} records share one frame")
        if not final and not self.partial and complete:
            self.problem(offset, "etb_at_record_end", "an intermediate (ETB) frame ends exactly at a record's end")
        for piece in complete:
            kind = piece[:1].upper()
            if kind == b"H" and self.records:
                self.close_message(offset, "a new H record began before the previous message's L record")
            self.records.append((offset, piece))
            if kind == b"L":
                self.close_message(offset, None)


def _handle(state: _Replay, event: ScanEvent) -> None:
    if isinstance(event, FrameEvent):
        state.on_frame(event)
    elif isinstance(event, ControlEvent):
        if event.byte == ENQ:
            if state.in_session:
                state.end_session(event.offset, "a new ENQ arrived before the message was finished")
                state.problem(event.offset, "enq_inside_session", "ENQ arrived before the previous EOT")
            state.in_session = True
            state.warned_no_enq = False
        elif event.byte == EOT:
            if state.in_session and state.frames_in_session == 0:
                state.problem(event.offset, "empty_session", "ENQ … EOT with no frames")
            state.end_session(event.offset, "EOT arrived before the message's L record")
    elif isinstance(event, NoiseEvent):
        if event.data.strip(b"\r\n \t"):
            state.problem(event.offset, "noise", f"{len(event.data)} bytes outside any frame")
    elif isinstance(event, BrokenFrameEvent):
        state.problem(event.offset, "truncated_frame", f"a frame stopped before its end ({event.reason})")
    elif isinstance(event, QuirkEvent):
        state.problem(event.offset, event.kind, event.detail)


def replay(data: bytes, profile: InstrumentProfile | None = None) -> ReplayResult:
    """Decode `data` (a whole capture). With `profile`, also interpret each complete message.

    With a profile, a result that cannot be used as sent (e.g. no specimen ID) is reported as a problem of
    its own kind at the end of the capture; the message's other results are interpreted as usual.
    """
    offsets: list[int] | None = None
    input_size = len(data)
    tokenised = looks_tokenised(data)
    if tokenised:
        data, offsets = detokenise(data)
    state = _Replay()
    if tokenised:
        state.problem(0, "tokenised_log", "a serial-monitor log with control characters written as [XXX] tokens")
    scanner = FrameScanner(checksums=True)
    for event in [*scanner.feed(data), *scanner.finish()]:
        _handle(state, event)
    if state.in_session:
        state.problem(len(data), "session_not_closed", "capture ends inside an ENQ … EOT session")
    state.end_session(len(data), "capture ends before the message's L record")
    problems = state.problems
    if offsets is not None:
        mapped = offsets
        problems = [
            Problem(mapped[p.offset] if p.offset < len(mapped) else input_size, p.kind, p.detail)
            if p.kind != "tokenised_log" else p
            for p in problems
        ]  # fmt: skip
    measurements: tuple[tuple[Measurement, ...], ...] | None = None
    if profile is not None:
        per_message: list[tuple[Measurement, ...]] = []
        for index, message in enumerate(state.messages, start=1):
            found = tuple(measurements_from_message(profile, message))
            for measurement in found:
                problems.extend(Problem(input_size, p.kind, f"message {index}: {p.detail}")
                                for p in measurement.problems)
            per_message.append(found)
        measurements = tuple(per_message)
    return ReplayResult(tuple(state.messages), tuple(problems), measurements)
