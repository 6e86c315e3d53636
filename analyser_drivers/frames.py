"""E1381 frames: checksums, building frames, and an incremental scanner that finds frames in a byte stream.

The scanner never assumes that one read() holds one frame: bytes may arrive one at a time or many frames
at once, and it resumes exactly where the previous chunk stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyser_drivers.control import CR, ETB, ETX, LF, RESTRICTED_IN_TEXT, STX
from analyser_drivers.settings import E1381_MAX_FRAME

FRAME_OVERHEAD = 7
"""STX, FN, ETX/ETB, two checksum characters, CR, LF."""


def checksum(frame_number_and_text: bytes, terminator: int) -> bytes:
    """The two uppercase hex characters of E1381 6.3.3.1: FN + text + ETX *or ETB*, modulo 256."""
    return b"%02X" % ((sum(frame_number_and_text) + terminator) & 0xFF)


def encode_frame(number: int, text: bytes, *, final: bool) -> bytes:
    """One complete frame: STX FN text ETX|ETB C1 C2 CR LF. `number` is taken modulo 8."""
    body = b"%d" % (number % 8) + text
    terminator = ETX if final else ETB
    return bytes([STX]) + body + bytes([terminator]) + checksum(body, terminator) + b"\r\n"


def split_into_frames(record_text: bytes, first_number: int, max_frame_size: int = E1381_MAX_FRAME) -> list[bytes]:
    """Frames carrying one record (text ending in CR): intermediate ETB frames, then a final ETX frame.

    E1381 6.3.1.1 puts every record in frames of its own; a record longer than the frame allows is
    split across intermediate frames.
    """
    if max_frame_size <= FRAME_OVERHEAD:
        raise ValueError(f"a frame must be longer than its {FRAME_OVERHEAD} bytes of overhead")
    room = max_frame_size - FRAME_OVERHEAD
    chunks = [record_text[i : i + room] for i in range(0, len(record_text), room)] or [b""]
    return [encode_frame(first_number + i, chunk, final=i == len(chunks) - 1) for i, chunk in enumerate(chunks)]


@dataclass(frozen=True)
class ControlEvent:
    """A single control character seen outside a frame (ENQ, EOT, ACK, NAK)."""

    offset: int
    byte: int


@dataclass(frozen=True)
class NoiseEvent:
    """Bytes outside any frame that mean nothing to the protocol."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class FrameEvent:
    """A frame as received. `number` is None when the instrument sent no frame number.

    `checksum_ok` is None when no checksum was sent. `restricted` lists characters E1381 6.6 forbids in
    text (LF among them). `size` counts STX through the checksum (the CR LF is added by the caller's
    limit check as two bytes).
    """

    offset: int
    number: int | None
    text: bytes
    final: bool
    checksum_ok: bool | None
    received_checksum: bytes
    size: int
    restricted: tuple[int, ...]


@dataclass(frozen=True)
class BrokenFrameEvent:
    """A frame that stopped before its end (another STX, ENQ or EOT came first, or it grew too long)."""

    offset: int
    data: bytes
    reason: str


@dataclass(frozen=True)
class QuirkEvent:
    """Something legal enough to go on but outside the standard, e.g. a frame without its CR LF."""

    offset: int
    kind: str
    detail: str


ScanEvent = ControlEvent | NoiseEvent | FrameEvent | BrokenFrameEvent | QuirkEvent

_OUTSIDE, _IN_FRAME, _CHECKSUM, _TRAILER = range(4)
_FRAME_SPECIAL = re.compile(rb"[\x02\x03\x04\x05\x17]")
_OUTSIDE_SPECIAL = re.compile(rb"[\x02\x04\x05\x06\x15]")
_HEX = frozenset(b"0123456789ABCDEFabcdef")
_FRAME_DIGITS = frozenset(b"01234567")


class FrameScanner:
    """Turns a byte stream into `ScanEvent`s; feed it chunks of any size with `feed`.

    `checksums=False` ends a frame at its ETX/ETB (for instruments that send none and then wait);
    otherwise up to two hex characters after ETX/ETB are read as the checksum.
    """

    def __init__(self, *, checksums: bool = True, hard_frame_limit: int = 64_016) -> None:
        self._checksums = checksums
        self._hard_limit = hard_frame_limit
        self._state = _OUTSIDE
        self._frame = bytearray()
        self._frame_offset = 0
        self._terminator = 0
        self._received_checksum = bytearray()
        self._trailer_seen = bytearray()
        self._offset = 0

    @property
    def in_frame(self) -> bool:
        """True while a frame has started and not yet ended."""
        return self._state in (_IN_FRAME, _CHECKSUM)

    def reset(self) -> None:
        """Forget any partial frame (after a disconnect or receiver timeout)."""
        self._state = _OUTSIDE
        self._frame.clear()
        self._received_checksum.clear()
        self._trailer_seen.clear()

    def feed(self, data: bytes) -> list[ScanEvent]:
        """Scan `data` (continuing the stream) and return the events it completes, in order."""
        events: list[ScanEvent] = []
        i = 0
        base = self._offset
        n = len(data)
        while i < n:
            if self._state == _OUTSIDE:
                m = _OUTSIDE_SPECIAL.search(data, i)
                end = m.start() if m else n
                if end > i:
                    events.append(NoiseEvent(base + i, bytes(data[i:end])))
                if not m:
                    i = n
                    break
                byte = data[end]
                if byte == STX:
                    self._start_frame(base + end)
                else:
                    events.append(ControlEvent(base + end, byte))
                i = end + 1
            elif self._state == _IN_FRAME:
                m = _FRAME_SPECIAL.search(data, i)
                end = m.start() if m else n
                self._frame += data[i:end]
                if len(self._frame) > self._hard_limit:
                    events.append(BrokenFrameEvent(self._frame_offset, bytes(self._frame[:64]), "overflow"))
                    self.reset()
                    i = end
                    continue
                if not m:
                    i = n
                    break
                byte = data[end]
                if byte in (ETX, ETB):
                    self._terminator = byte
                    i = end + 1
                    if self._checksums:
                        self._state = _CHECKSUM
                    else:
                        events.append(self._finish_frame())
                        self._state = _TRAILER
                else:
                    # STX, ENQ or EOT in the middle of a frame: the sender gave up on it.
                    events.append(BrokenFrameEvent(self._frame_offset, bytes(b"\x02" + self._frame), "truncated"))
                    self.reset()
                    i = end  # re-read the interrupting byte outside the frame
            elif self._state == _CHECKSUM:
                byte = data[i]
                if byte in _HEX and len(self._received_checksum) < 2:
                    self._received_checksum.append(byte)
                    i += 1
                    if len(self._received_checksum) == 2:
                        events.append(self._finish_frame())
                        self._state = _TRAILER
                else:
                    events.append(self._finish_frame())
                    self._state = _TRAILER
            else:  # _TRAILER: the CR LF after the checksum
                byte = data[i]
                expected = CR if not self._trailer_seen else LF
                if byte == expected:
                    self._trailer_seen.append(byte)
                    i += 1
                    if byte == LF:
                        self._state = _OUTSIDE
                        self._trailer_seen.clear()
                elif byte == LF and not self._trailer_seen:
                    events.append(QuirkEvent(base + i, "missing_cr", "frame ends with LF but no CR"))
                    self._state = _OUTSIDE
                    i += 1
                else:
                    events.append(
                        QuirkEvent(base + i, "missing_crlf", "frame not followed by CR LF before the next byte")
                    )
                    self._state = _OUTSIDE
                    self._trailer_seen.clear()
        self._offset += n
        return events

    def finish(self) -> list[ScanEvent]:
        """End of input (replay): report a frame cut off by the end of the capture."""
        events: list[ScanEvent] = []
        if self._state == _IN_FRAME:
            events.append(BrokenFrameEvent(self._frame_offset, bytes(b"\x02" + self._frame), "truncated"))
        elif self._state == _CHECKSUM:
            events.append(self._finish_frame())
        elif self._state == _TRAILER and not self._trailer_seen:
            events.append(QuirkEvent(self._offset, "missing_crlf", "capture ends right after a frame's checksum"))
        elif self._state == _TRAILER:
            events.append(QuirkEvent(self._offset, "missing_lf", "capture ends after a frame's CR without its LF"))
        self.reset()
        return events

    def _start_frame(self, offset: int) -> None:
        self._state = _IN_FRAME
        self._frame.clear()
        self._received_checksum.clear()
        self._trailer_seen.clear()
        self._frame_offset = offset

    def _finish_frame(self) -> FrameEvent:
        body = bytes(self._frame)
        number: int | None = None
        text = body
        if body and body[0] in _FRAME_DIGITS:
            number = body[0] - 0x30
            text = body[1:]
        received = bytes(self._received_checksum)
        checksum_ok: bool | None
        checksum_ok = checksum(body, self._terminator) == received.upper() if received else None
        restricted = tuple(sorted({b for b in text if b in RESTRICTED_IN_TEXT}))
        event = FrameEvent(
            offset=self._frame_offset,
            number=number,
            text=text,
            final=self._terminator == ETX,
            checksum_ok=checksum_ok,
            received_checksum=received,
            size=1 + len(body) + 1 + len(received),
            restricted=restricted,
        )
        self._frame.clear()
        self._received_checksum.clear()
        return event
