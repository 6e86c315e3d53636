"""Decode a captured byte stream offline, by the live link's rules, naming every place where it breaks the standard.

Backs `fit-lab analyser replay`. It decodes exactly what the live receiver (`LinkReceiver`) would have accepted, and
reports everything else as a `Problem` at its offset in the input:
- a frame the receiver would refuse (bad checksum, out of sequence, forbidden characters, longer than LIS1-A
  allows) is reported and not decoded; the resend that follows is decoded in its place;
- in a capture of both directions (the listener's own journal), a frame the receiver answered NAK is not decoded,
  however sound it looks; host ACKs are skipped;
- a frame with the number of the last accepted one is a retransmission after a lost reply: counted once;
- what the receiver tolerates (no frame number or checksum, frames over E1381-95's 247 characters, several records
  in a frame) is decoded and reported.
A capture of the instrument's side only (no ENQ/EOT) starts a new transfer at each frame 1 that follows a final
(ETX) frame whose last record was the L record. Serial-monitor logs that write control characters as `[STX]`-style
tokens are turned back into bytes first (`capture_logs`).

`Replayer` takes the capture in chunks and hands back each message as it completes, so a capture of any size is
decoded in flat memory; `replay(data)` is the one-call form for a capture already in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from analyser_drivers.capture_logs import detokenise, looks_tokenised
from analyser_drivers.control import ENQ, EOT, NAK
from analyser_drivers.frames import (
    BrokenFrameEvent,
    ControlEvent,
    FrameEvent,
    FrameScanner,
    NoiseEvent,
    ScanEvent,
)
from analyser_drivers.interpret import measurements_from_message
from analyser_drivers.measurements import Measurement, QcMeasurement, ResultProblem
from analyser_drivers.profiles import InstrumentProfile
from analyser_drivers.records import Message, RecordDecoder
from analyser_drivers.settings import E1381_MAX_FRAME, LIS1A_MAX_FRAME

__all__ = [
    "RECORD_TYPES",
    "Problem",
    "ReplayResult",
    "ReplayedMessage",
    "Replayer",
    "measurement_to_json",
    "replay",
    "replay_chunks",
]

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


@dataclass(frozen=True)
class ReplayedMessage:
    """One decoded message and, when a profile was given, its measurements."""

    message: Message
    measurements: tuple[Measurement, ...] | None = None

    def to_json(self) -> dict[str, object]:
        """The message's entry in the `analyser replay --json` document."""
        entry = self.message.to_json()
        if self.measurements is not None:
            entry["measurements"] = [measurement_to_json(m) for m in self.measurements]
        return entry


@dataclass(frozen=True)
class ReplayResult:
    """Decoded messages (complete or not, in order), problems, and measurements when a profile was given."""

    messages: tuple[Message, ...]
    problems: tuple[Problem, ...]
    measurements: tuple[tuple[Measurement, ...], ...] | None = None
    """Per message, when a profile was given."""

    def to_json(self) -> dict[str, object]:
        """The `analyser replay --json` document; each message gains "measurements" when a profile was given."""
        messages = [
            ReplayedMessage(msg, None if self.measurements is None else self.measurements[index]).to_json()
            for index, msg in enumerate(self.messages)
        ]
        return {"messages": messages, "problems": [p.to_json() for p in self.problems]}


@dataclass
class _LinkRules:
    """The receiver's rules applied to a capture: which frames it would accept, and the messages they make."""

    problems: list[Problem] = field(default_factory=list)
    ready: list[Message] = field(default_factory=list)
    in_session: bool = False
    warned_no_enq: bool = False
    frames_in_session: int = 0
    expected: int = 1
    last_number: int | None = None
    message_ended: bool = True
    """The last accepted frame was final (ETX) and ended with an L record."""
    pending: FrameEvent | None = None
    """A frame the rules accept, held until the next event shows whether the receiver answered it NAK."""
    records: list[tuple[int, bytes]] = field(default_factory=list)
    """The current message's record texts, each with the offset of the frame that completed it."""
    partial: bytes = b""
    messages_closed: int = 0
    decoder: RecordDecoder = field(default_factory=RecordDecoder)

    def problem(self, offset: int, kind: str, detail: str) -> None:
        self.problems.append(Problem(offset, kind, detail))

    def handle(self, event: ScanEvent) -> None:
        if self.pending is not None:
            frame, self.pending = self.pending, None
            if isinstance(event, ControlEvent) and event.byte == NAK:
                self.problem(frame.offset, "refused_by_receiver",
                             f"the receiver answered frame {frame.number} NAK: not accepted")
                return
            self.accept(frame)
        if isinstance(event, FrameEvent):
            self.on_frame(event)
        elif isinstance(event, ControlEvent):
            self.on_control(event)
        elif isinstance(event, NoiseEvent):
            if event.data.strip(b"\r\n \t"):
                self.problem(event.offset, "noise", f"{len(event.data)} bytes outside any frame")
        elif isinstance(event, BrokenFrameEvent):
            self.problem(event.offset, "truncated_frame", f"a frame stopped before its end ({event.reason})")
        else:
            self.problem(event.offset, event.kind, event.detail)

    def flush(self) -> None:
        if self.pending is not None:
            frame, self.pending = self.pending, None
            self.accept(frame)

    def on_control(self, event: ControlEvent) -> None:
        if event.byte == ENQ:
            if self.in_session:
                self.end_session(event.offset, "a new ENQ arrived before the message was finished")
                self.problem(event.offset, "enq_inside_session", "ENQ arrived before the previous EOT")
            self.in_session = True
            self.warned_no_enq = False
        elif event.byte == EOT:
            if self.in_session and self.frames_in_session == 0:
                self.problem(event.offset, "empty_session", "ENQ … EOT with no frames")
            self.end_session(event.offset, "EOT arrived before the message's L record")

    def end_session(self, offset: int, why: str) -> None:
        self.flush()
        if self.records or self.partial:
            self.close_message(offset, why)
        self.in_session = False
        self.frames_in_session = 0
        self.expected, self.last_number, self.message_ended = 1, None, True

    def _refusal(self, f: FrameEvent) -> bool:
        """Report what the frame breaks; True when the live receiver would refuse it (NAK)."""
        frame_size = f.size + 2
        if f.number is None:
            self.problem(f.offset, "missing_frame_number", "frame has no frame number after STX")
        if f.checksum_ok is None:
            self.problem(f.offset, "missing_checksum", "frame has no checksum after ETX/ETB")
        refused = False
        if f.checksum_ok is False:
            self.problem(f.offset, "bad_checksum", f"checksum {f.received_checksum.decode('latin-1')} does not "
                                                   "match the frame's text; the receiver refuses the frame")
            refused = True
        if frame_size > LIS1A_MAX_FRAME:
            self.problem(f.offset, "frame_too_long", f"frame of {frame_size} characters exceeds LIS1-A's 64,000")
            refused = True
        elif frame_size > E1381_MAX_FRAME:
            self.problem(f.offset, "frame_over_247", f"frame of {frame_size} characters exceeds E1381-95's 247")
        if f.restricted:
            names = ", ".join(f"0x{b:02X}" for b in f.restricted)
            self.problem(f.offset, "restricted_character",
                         f"frame text holds forbidden characters ({names}); the receiver refuses the frame")
            refused = True
        return refused

    def on_frame(self, f: FrameEvent) -> None:
        if not self.in_session:
            if not self.warned_no_enq:
                self.problem(f.offset, "frame_without_enq", "frames arrive with no ENQ/EOT session around them")
                self.warned_no_enq = True
            if f.number == 1 and self.message_ended:
                # With no ENQ/EOT to mark transfers, frame 1 after a finished message is the next transfer.
                self.expected, self.last_number = 1, None
        self.frames_in_session += 1
        if self._refusal(f):
            return
        if f.number is not None:
            if f.number == self.last_number:
                # E1381 6.5.1.1: the same number again means the reply was lost; the receiver ACKs and drops it.
                self.problem(f.offset, "retransmission",
                             f"frame {f.number} sent again after it was accepted; the first copy is kept")
                return
            if f.number != self.expected:
                self.problem(f.offset, "unexpected_frame_number",
                             f"expected frame {self.expected}, got {f.number}; the receiver refuses the frame")
                return
        self.pending = f

    def accept(self, f: FrameEvent) -> None:
        if f.number is not None:
            self.last_number = f.number
            self.expected = (f.number + 1) % 8
        self.add_text(f.offset, f.text, f.final)
        self.message_ended = f.final and not self.records and not self.partial

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

    def close_message(self, offset: int, why: str | None) -> None:
        if self.partial:
            self.records.append((offset, self.partial))
            self.partial = b""
        if not self.records:
            return
        if why is not None:
            self.problem(offset, "message_without_terminator", why)
        decoded, delimiters = self.decoder.records([text for _, text in self.records])
        self.messages_closed += 1
        for position, ((record_offset, text), record) in enumerate(zip(self.records, decoded, strict=True), 1):
            if record.type not in RECORD_TYPES:
                shown = text[:24].decode("latin-1")
                self.problem(record_offset, "invalid_record_type",
                             f"record {position} of message {self.messages_closed} ({shown!r}) has type "
                             f"{record.type!r}, which is none of E1394's {', '.join(sorted(RECORD_TYPES))}")
        self.ready.append(Message(tuple(decoded), delimiters))
        self.records = []


class Replayer:
    """Feed a capture in chunks of any size; each call returns the messages completed so far, in order.

    `problems` grows as the capture is read; `finish()` ends the capture (a message cut off by its end is
    returned incomplete) and adds the problems only known then. A tokenised serial-monitor log (recognised from
    its first chunk) is small by nature and decoded whole at `finish()`.
    """

    def __init__(self, profile: InstrumentProfile | None = None) -> None:
        self._profile = profile
        self._scanner = FrameScanner(checksums=True)
        self._link = _LinkRules()
        self._size = 0
        self._started = False
        self._log: bytearray | None = None
        self._measurement_problems: list[tuple[str, str]] = []

    @property
    def problems(self) -> list[Problem]:
        """Problems found so far, in the order met."""
        return self._link.problems

    def feed(self, chunk: bytes) -> list[ReplayedMessage]:
        if not self._started:
            self._started = True
            if looks_tokenised(chunk):
                self._log = bytearray()
        self._size += len(chunk)
        if self._log is not None:
            self._log += chunk
            return []
        for event in self._scanner.feed(chunk):
            self._link.handle(event)
        return self._take_ready()

    def finish(self) -> list[ReplayedMessage]:
        link = self._link
        if self._log is not None:
            data, offsets = detokenise(bytes(self._log))
            link.problem(0, "tokenised_log", "a serial-monitor log with control characters written as [XXX] tokens")
            for event in self._scanner.feed(data):
                link.handle(event)
        else:
            data, offsets = b"", []
        end = self._scanner.offset
        for event in self._scanner.finish():
            link.handle(event)
        link.flush()
        if link.in_session:
            link.problem(end, "session_not_closed", "capture ends inside an ENQ … EOT session")
        link.end_session(end, "capture ends before the message's L record")
        if self._log is not None:
            link.problems[1:] = [Problem(offsets[p.offset] if p.offset < len(offsets) else self._size, p.kind,
                                         p.detail) for p in link.problems[1:]]
        out = self._take_ready()
        # With a profile, a result that cannot be used as sent is reported at the end of the capture.
        link.problems.extend(Problem(self._size, kind, detail) for kind, detail in self._measurement_problems)
        self._measurement_problems = []
        return out

    def _take_ready(self) -> list[ReplayedMessage]:
        ready, self._link.ready = self._link.ready, []
        if self._profile is None:
            return [ReplayedMessage(message) for message in ready]
        out = []
        first = self._link.messages_closed - len(ready) + 1
        for index, message in enumerate(ready, start=first):
            found = tuple(measurements_from_message(self._profile, message))
            self._measurement_problems.extend((p.kind, f"message {index}: {p.detail}")
                                              for m in found for p in m.problems)
            out.append(ReplayedMessage(message, found))
        return out


def replay_chunks(chunks: Iterable[bytes], replayer: Replayer) -> Iterator[ReplayedMessage]:
    """Each message of a capture read in `chunks` (e.g. from a file), as soon as it completes; the capture's
    problems are in `replayer.problems` once the iterator is exhausted."""
    for chunk in chunks:
        yield from replayer.feed(chunk)
    yield from replayer.finish()


def replay(data: bytes, profile: InstrumentProfile | None = None) -> ReplayResult:
    """Decode `data` (a whole capture). With `profile`, also interpret each complete message.

    With a profile, a result that cannot be used as sent (e.g. no specimen ID) is reported as a problem of
    its own kind at the end of the capture; the message's other results are interpreted as usual.
    """
    replayer = Replayer(profile)
    items = replayer.feed(data) + replayer.finish()
    measurements = None if profile is None else tuple(i.measurements or () for i in items)
    return ReplayResult(tuple(i.message for i in items), tuple(replayer.problems), measurements)
