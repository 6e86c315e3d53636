"""The sending side of E1381 / LIS1-A as a state machine that does no I/O.

`start(frames)` bids for the line with ENQ; then feed every byte received and call `poll()` when none
arrive. It retransmits a frame answered NAK (or anything but ACK/EOT) and aborts with EOT after six failed
attempts. A frame not answered within 15 s ends the transfer with EOT (E1381 6.5.2.3: the sender proceeds to
the termination phase; the message is remembered and sent again later). The outputs tell the caller what to
write and when it is over.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from analyser_drivers.clock import Clock
from analyser_drivers.control import ACK, ENQ, EOT, NAK
from analyser_drivers.link_receiver import Notice, Send
from analyser_drivers.settings import LinkSettings

Role = Literal["instrument", "computer"]


@dataclass(frozen=True)
class TransferDone:
    """Every frame was acknowledged and EOT sent."""


@dataclass(frozen=True)
class TransferFailed:
    """The transfer was given up; `reason` is `rejected`, `timeout` or `contention`.

    `retry_after_s` is how long E1381 says to wait before bidding again (after contention the
    computer must first receive the instrument's transfer, then wait the 20 s contention timer).
    """

    reason: str
    detail: str
    retry_after_s: float = 0.0


SenderOutput = Send | Notice | TransferDone | TransferFailed


class SenderState(enum.Enum):
    IDLE = "idle"
    AWAITING_ENQ_REPLY = "awaiting_enq_reply"
    WAITING_TO_BID = "waiting_to_bid"
    AWAITING_FRAME_REPLY = "awaiting_frame_reply"
    DONE = "done"
    FAILED = "failed"


class LinkSender:
    """E1381 sender for one transfer (one ENQ … EOT) of already-built frames.

    `role` decides contention (both sides sent ENQ): the instrument has priority and bids again after
    1 s; the computer gives up the bid (`TransferFailed("contention")`) and must receive instead.
    `max_enq_attempts` bounds how often a busy (NAK) or silent receiver is asked before giving up.
    """

    def __init__(
        self, settings: LinkSettings, clock: Clock, role: Role = "instrument", max_enq_attempts: int = 6
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._role = role
        self._max_enq_attempts = max_enq_attempts
        self._state = SenderState.IDLE
        self._frames: tuple[bytes, ...] = ()
        self._index = 0
        self._attempts = 0
        self._enq_attempts = 0
        self._deadline = 0.0
        self.interrupt_requested = False
        """Set when the receiver answered a frame with EOT (E1381 6.3.5); the transfer still completes."""

    @property
    def state(self) -> SenderState:
        return self._state

    @property
    def finished(self) -> bool:
        return self._state in (SenderState.DONE, SenderState.FAILED)

    def start(self, frames: Sequence[bytes]) -> list[SenderOutput]:
        """Begin a transfer of `frames` (complete frames as built by `encode_frame`)."""
        if not frames:
            raise ValueError("a transfer needs at least one frame")
        self._frames = tuple(frames)
        self._index = 0
        self._attempts = 0
        self._enq_attempts = 0
        self.interrupt_requested = False
        return self._bid()

    def feed(self, data: bytes) -> list[SenderOutput]:
        """Process bytes from the receiver. Only the first meaningful byte of a chunk is a reply."""
        for byte in data:
            if self._state is SenderState.AWAITING_ENQ_REPLY:
                if byte == ACK:
                    return self._send_frame()
                if byte == NAK:
                    return self._wait_to_bid(self._settings.timers.busy_s, "receiver busy")
                if byte == ENQ:
                    if self._role == "computer":
                        return self._fail(
                            "contention",
                            "the analyser also wants to send; receiving first",
                            self._settings.timers.contention_s,
                        )
                    return self._wait_to_bid(self._settings.timers.instrument_contention_s, "line contention")
                continue  # E1381 6.2.5: other characters while bidding are ignored
            if self._state is SenderState.AWAITING_FRAME_REPLY:
                if byte in (ACK, EOT):
                    if byte == EOT:
                        self.interrupt_requested = True
                    self._index += 1
                    self._attempts = 0
                    if self._index == len(self._frames):
                        self._state = SenderState.DONE
                        return [Send(bytes([EOT])), TransferDone()]
                    return self._send_frame()
                # E1381 6.5.1.2: NAK or any other character counts as a NAK.
                return self._retry("frame not accepted")
        return []

    def poll(self) -> list[SenderOutput]:
        """Run the timers (reply 15 s, busy 10 s, contention 1 s / 20 s)."""
        now = self._clock()
        if now < self._deadline:
            return []
        if self._state is SenderState.AWAITING_ENQ_REPLY:
            return self._wait_to_bid(0.0, "no reply to ENQ", terminate=True)
        if self._state is SenderState.WAITING_TO_BID:
            return self._bid()
        if self._state is SenderState.AWAITING_FRAME_REPLY:
            return [
                Send(bytes([EOT])),
                *self._fail("timeout", f"no reply to frame {self._index + 1} within "
                            f"{self._settings.timers.reply_s:g} s; the message must be sent again"),
            ]
        return []

    def _bid(self) -> list[SenderOutput]:
        self._enq_attempts += 1
        if self._enq_attempts > self._max_enq_attempts:
            return self._fail(
                "timeout", "the receiver never accepted the line (ENQ not acknowledged)", self._settings.timers.busy_s
            )
        self._state = SenderState.AWAITING_ENQ_REPLY
        self._deadline = self._clock() + self._settings.timers.reply_s
        return [Send(bytes([ENQ]))]

    def _wait_to_bid(self, wait_s: float, why: str, *, terminate: bool = False) -> list[SenderOutput]:
        self._state = SenderState.WAITING_TO_BID
        self._deadline = self._clock() + wait_s
        outputs: list[SenderOutput] = [Notice("bid_refused", why)]
        if terminate:
            outputs.insert(0, Send(bytes([EOT])))
        return outputs

    def _send_frame(self) -> list[SenderOutput]:
        self._attempts += 1
        self._state = SenderState.AWAITING_FRAME_REPLY
        self._deadline = self._clock() + self._settings.timers.reply_s
        return [Send(self._frames[self._index])]

    def _retry(self, why: str) -> list[SenderOutput]:
        if self._attempts >= self._settings.max_attempts:
            return [
                Send(bytes([EOT])),
                *self._fail("rejected", f"frame {self._index + 1} refused {self._attempts} times ({why})"),
            ]
        return [Notice("frame_retransmitted", why), *self._send_frame()]

    def _fail(self, reason: str, detail: str, retry_after_s: float = 0.0) -> list[SenderOutput]:
        self._state = SenderState.FAILED
        return [TransferFailed(reason, detail, retry_after_s)]
