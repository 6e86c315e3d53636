"""Link-layer settings: the standard's timers and frame limits, plus tolerances for instruments that bend it."""

from __future__ import annotations

from dataclasses import dataclass, field

E1381_MAX_FRAME = 247
"""E1381-95 6.3.1: a frame is at most 247 characters including STX, FN, checksum and CR LF."""

LIS1A_MAX_FRAME = 64_000
"""CLSI LIS1-A 6.3.1 raised the frame limit to 64,000 characters."""


@dataclass(frozen=True)
class LinkTimers:
    """E1381 timers in seconds (6.5.2 and 6.2.6/6.2.7). Tests shrink nothing: they move a ManualClock."""

    reply_s: float = 15.0
    """Sender waits this long for a reply to ENQ or to a frame."""
    receiver_s: float = 30.0
    """Receiver waits this long for the next frame or EOT before discarding the incomplete message."""
    contention_s: float = 20.0
    """Computer waits this long after an ENQ contention before it may bid again."""
    busy_s: float = 10.0
    """Sender waits this long after its ENQ was answered NAK (receiver busy)."""
    instrument_contention_s: float = 1.0
    """Instrument waits at least this long after a contention before its next ENQ."""


@dataclass(frozen=True)
class LinkSettings:
    """How strictly the link layer follows E1381 / LIS1-A for one instrument.

    The defaults are the standard's. A profile relaxes them for instruments known to break it; a relaxed
    rule still shows up in `replay` problems, it just no longer makes the receiver NAK.
    """

    max_frame_size: int = LIS1A_MAX_FRAME
    """Frames longer than this (STX through CR LF) are refused (NAK) unless `accept_oversize_frames`."""
    accept_oversize_frames: bool = False
    frame_numbers: bool = True
    """False for instruments that send `STX text ETX` with no frame number (e.g. Snibe Maglumi)."""
    checksums: bool = True
    """False for instruments that send no checksum after ETX/ETB; the frame is then taken as it comes."""
    max_attempts: int = 6
    """E1381 6.5.1.2: a frame not accepted after this many tries aborts the transfer."""
    timers: LinkTimers = field(default_factory=LinkTimers)
    hard_frame_limit: int = LIS1A_MAX_FRAME + 16
    """Bytes after which an unterminated frame is thrown away so a stuck line cannot exhaust memory."""
