"""Link faults an emulated analyser can put on the line, so demos and tests exercise the receiver's recovery.

Real instruments and cables produce these (domain/astm-notes.md §3): a frame damaged in transit (its checksum no
longer matches, the receiver refuses it and the analyser sends it again), bytes of noise between messages, and a
whole H…L message in one frame.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from analyser_drivers.control import STX
from analyser_drivers.transport import Transport

NOISE = b"\x00\xff\x7fnoise on the line\r\n"
"""Bytes with no meaning to the protocol (no STX, ENQ, EOT, ACK or NAK among them)."""


@dataclass(frozen=True)
class LinkFaults:
    """Which faults to inject. The default injects none."""

    bad_checksum_frames: frozenset[int] = field(default_factory=frozenset)
    """Frames (numbered 1, 2, … over the whole run, retransmissions not counted) whose first transmission carries
    a wrong checksum; the retransmission is sent intact."""
    noise_between_messages: bytes = b""
    """Written on the line before every message but the first."""
    whole_message_in_one_frame: bool = False
    """Send H…L in a single frame, as many instruments do despite E1381 6.3.1.1."""


def corrupt_checksum(frame: bytes) -> bytes:
    """`frame` (STX … ETX|ETB C1 C2 CR LF) with a well-formed but wrong checksum."""
    if len(frame) < 5 or not frame.endswith(b"\r\n"):
        raise ValueError("not a complete frame ending in checksum CR LF")
    wrong = (int(frame[-4:-2], 16) + 1) % 256
    return frame[:-4] + b"%02X" % wrong + frame[-2:]


class FaultyLine:
    """A transport that damages chosen frames on their first transmission, and passes everything else through."""

    def __init__(self, line: Transport, bad_checksum_frames: Collection[int] = ()) -> None:
        self._line = line
        self._bad = frozenset(bad_checksum_frames)
        self._last_frame = b""
        self.frames = 0
        """Frames written so far, each counted once however often it was sent."""
        self.corrupted: list[int] = []
        """The frame numbers that went out damaged."""

    def write(self, data: bytes) -> None:
        if data[:1] != bytes([STX]):
            self._last_frame = b""
            self._line.write(data)
            return
        if data == self._last_frame:  # the analyser sending a refused frame again: this time intact
            self._line.write(data)
            return
        self._last_frame = data
        self.frames += 1
        if self.frames in self._bad:
            self.corrupted.append(self.frames)
            data = corrupt_checksum(data)
        self._line.write(data)

    def read(self, max_bytes: int) -> bytes:
        return self._line.read(max_bytes)

    def close(self) -> None:
        self._line.close()
