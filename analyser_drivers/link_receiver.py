"""The receiving side of E1381 / LIS1-A as a state machine that does no I/O.

Feed it bytes as they arrive (any chunking) and write back the `Send` outputs. When a frame completes
one or more E1394 messages (…L), it returns `MessagesReady` and waits: the caller hands the messages to
its sink and then calls `commit()` (ACK the final frame) or `reject()` (NAK it, so the instrument sends
it again). Nothing is acknowledged that the caller has not stored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from analyser_drivers.clock import Clock
from analyser_drivers.control import ACK, ENQ, EOT, NAK
from analyser_drivers.frames import BrokenFrameEvent, ControlEvent, FrameEvent, FrameScanner, ScanEvent
from analyser_drivers.records import Message, decode_records
from analyser_drivers.settings import LinkSettings


@dataclass(frozen=True)
class Send:
    """Bytes the caller must write to the line, in order."""

    data: bytes


@dataclass(frozen=True)
class MessagesReady:
    """Complete messages awaiting `commit()` / `reject()`; `record_text` is their raw record bytes."""

    messages: tuple[Message, ...]
    record_text: bytes


@dataclass(frozen=True)
class Notice:
    """Something worth a log line: `kind` is a short word, `detail` a sentence for a scientist."""

    kind: str
    detail: str


LinkOutput = Send | MessagesReady | Notice


class ReceiverState(enum.Enum):
    IDLE = "idle"
    RECEIVING = "receiving"
    AWAITING_COMMIT = "awaiting_commit"


@dataclass
class _Assembly:
    """What has been accepted so far in this transfer: frame numbers and records not yet delivered."""

    last_number: int | None = None
    expected_number: int = 1
    records: tuple[bytes, ...] = ()
    partial: bytes = b""


class LinkReceiver:
    """E1381 receiver. `clock` drives the 30 s receiver timer; call `poll()` whenever no bytes arrive."""

    def __init__(self, settings: LinkSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._scanner = FrameScanner(checksums=settings.checksums, hard_frame_limit=settings.hard_frame_limit)
        self._state = ReceiverState.IDLE
        self._assembly = _Assembly()
        self._tentative: _Assembly | None = None
        self._queued: list[ScanEvent] = []
        self._deadline = 0.0
        self.busy = False
        """While True, an ENQ is answered NAK (E1381 6.2.6: receiver not ready)."""

    @property
    def state(self) -> ReceiverState:
        return self._state

    @property
    def has_partial_message(self) -> bool:
        """True when records of a message have been accepted but its L record has not arrived."""
        return bool(self._assembly.records or self._assembly.partial)

    def feed(self, data: bytes) -> list[LinkOutput]:
        """Process received bytes; returns replies to send and messages to deliver."""
        events = self._queued + self._scanner.feed(data)
        self._queued = []
        if self._state is ReceiverState.AWAITING_COMMIT:
            self._queued = events
            return []
        return self._process(events)

    def poll(self) -> list[LinkOutput]:
        """Run the timers: after 30 s of silence mid-transfer the incomplete message is discarded."""
        if self._state is ReceiverState.RECEIVING and self._clock() >= self._deadline:
            outputs: list[LinkOutput] = [
                Notice("receiver_timeout", "no frame or EOT from the analyser for 30 s; transfer abandoned")
            ]
            outputs.extend(self._end_transfer())
            return outputs
        return []

    def commit(self) -> list[LinkOutput]:
        """The sink stored the messages: acknowledge the final frame and continue with held bytes."""
        if self._state is not ReceiverState.AWAITING_COMMIT or self._tentative is None:
            raise RuntimeError("commit() called with no messages awaiting it")
        self._assembly = self._tentative
        self._tentative = None
        self._state = ReceiverState.RECEIVING
        self._deadline = self._clock() + self._settings.timers.receiver_s
        outputs: list[LinkOutput] = [Send(bytes([ACK]))]
        outputs.extend(self.feed(b""))
        return outputs

    def reject(self) -> list[LinkOutput]:
        """The sink failed: NAK the final frame; the analyser will send it again."""
        if self._state is not ReceiverState.AWAITING_COMMIT:
            raise RuntimeError("reject() called with no messages awaiting it")
        self._tentative = None
        self._state = ReceiverState.RECEIVING
        self._deadline = self._clock() + self._settings.timers.receiver_s
        outputs: list[LinkOutput] = [
            Send(bytes([NAK])),
            Notice("sink_failed", "the result could not be stored; asked the analyser to send it again"),
        ]
        outputs.extend(self.feed(b""))
        return outputs

    def disconnect(self) -> list[LinkOutput]:
        """The line went away: forget partial frames and any message not yet committed."""
        self._scanner.reset()
        self._queued = []
        self._tentative = None
        outputs: list[LinkOutput] = []
        if self.has_partial_message or self._state is ReceiverState.AWAITING_COMMIT:
            outputs.append(Notice("incomplete_message_discarded", "line lost before the message was complete"))
        self._assembly = _Assembly()
        self._state = ReceiverState.IDLE
        return outputs

    def _process(self, events: list[ScanEvent]) -> list[LinkOutput]:
        outputs: list[LinkOutput] = []
        for index, event in enumerate(events):
            if self._state is ReceiverState.AWAITING_COMMIT:
                # Whatever followed the completing frame waits until the sink has decided.
                self._queued = events[index:]
                break
            outputs.extend(self._handle(event))
        return outputs

    def _handle(self, event: ScanEvent) -> list[LinkOutput]:
        if isinstance(event, ControlEvent):
            return self._on_control(event.byte)
        if isinstance(event, FrameEvent):
            if self._state is ReceiverState.IDLE:
                return [Notice("frame_outside_transfer", "a frame arrived without a preceding ENQ; ignored")]
            self._deadline = self._clock() + self._settings.timers.receiver_s
            return self._on_frame(event)
        if isinstance(event, BrokenFrameEvent):
            return [Notice("broken_frame", f"a frame was cut short ({event.reason}); waiting for it again")]
        return []

    def _on_control(self, byte: int) -> list[LinkOutput]:
        if byte == ENQ:
            outputs: list[LinkOutput] = []
            if self._state is ReceiverState.RECEIVING and self.has_partial_message:
                outputs.append(Notice("incomplete_message_discarded", "analyser restarted the transfer"))
            if self.busy:
                self._state = ReceiverState.IDLE
                return [*outputs, Send(bytes([NAK]))]
            self._assembly = _Assembly()
            self._state = ReceiverState.RECEIVING
            self._deadline = self._clock() + self._settings.timers.receiver_s
            return [*outputs, Send(bytes([ACK]))]
        if byte == EOT and self._state is ReceiverState.RECEIVING:
            return self._end_transfer()
        return []

    def _end_transfer(self) -> list[LinkOutput]:
        outputs: list[LinkOutput] = []
        if self.has_partial_message:
            outputs.append(
                Notice("incomplete_message_discarded", "transfer ended before the message's L record; not stored")
            )
        self._assembly = _Assembly()
        self._state = ReceiverState.IDLE
        return outputs

    def _frame_fault(self, frame: FrameEvent) -> str | None:
        s = self._settings
        if frame.number is None and s.frame_numbers:
            return "frame has no frame number"
        if frame.checksum_ok is False:
            return "checksum does not match"
        if frame.checksum_ok is None and s.checksums:
            return "frame has no checksum"
        if frame.size + 2 > s.max_frame_size and not s.accept_oversize_frames:
            return f"frame of {frame.size + 2} characters exceeds the {s.max_frame_size} allowed"
        if frame.restricted:
            return "frame text holds control characters the standard forbids"
        return None

    def _on_frame(self, frame: FrameEvent) -> list[LinkOutput]:
        fault = self._frame_fault(frame)
        if fault is not None:
            return [Send(bytes([NAK])), Notice("frame_rejected", fault)]
        current = self._assembly
        if self._settings.frame_numbers and frame.number is not None:
            if frame.number == current.last_number:
                # E1381 6.5.1.1: the same number again is a retransmission (our ACK was lost): accept, drop.
                return [Send(bytes([ACK])), Notice("duplicate_frame", "frame sent again; kept once")]
            if frame.number != current.expected_number:
                return [
                    Send(bytes([NAK])),
                    Notice(
                        "frame_out_of_sequence",
                        f"expected frame {current.expected_number}, got {frame.number}",
                    ),
                ]
        number = frame.number if frame.number is not None else current.expected_number
        combined = current.partial + frame.text
        pieces = combined.replace(b"\r\n", b"\r").split(b"\r")
        partial = pieces.pop()
        if frame.final and partial:
            # A final frame ends its record even if the instrument left out the CR.
            pieces.append(partial)
            partial = b""
        records = list(current.records)
        ready: list[tuple[bytes, ...]] = []
        outputs: list[LinkOutput] = []
        for piece in pieces:
            if not piece:
                continue
            kind = piece[:1].upper()
            if kind == b"H" and records:
                outputs.append(Notice("incomplete_message_discarded", "a new header began before the L record"))
                records = []
            records.append(piece)
            if kind == b"L":
                ready.append(tuple(records))
                records = []
        new = _Assembly(number, (number + 1) % 8, tuple(records), partial)
        if not ready:
            self._assembly = new
            return [*outputs, Send(bytes([ACK]))]
        messages = []
        for group in ready:
            decoded, delimiters = decode_records(group)
            messages.append(Message(tuple(decoded), delimiters))
        self._tentative = new
        self._state = ReceiverState.AWAITING_COMMIT
        record_text = b"".join(r + b"\r" for group in ready for r in group)
        return [*outputs, MessagesReady(tuple(messages), record_text)]
