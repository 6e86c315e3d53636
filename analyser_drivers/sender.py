"""The sending side over a transport: drives an emulator, or a host sending orders to an analyser."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from analyser_drivers.clock import Clock
from analyser_drivers.errors import TransferAborted, TransportError
from analyser_drivers.framing import frames_for_records
from analyser_drivers.link_receiver import Notice, Send
from analyser_drivers.link_sender import LinkSender, Role, SenderOutput, TransferDone, TransferFailed
from analyser_drivers.records import DEFAULT_DELIMITERS, Delimiters, Record
from analyser_drivers.settings import E1381_MAX_FRAME, LinkSettings
from analyser_drivers.transport import Transport


class Sender:
    """Sends messages over `transport` with the E1381 ENQ/ACK handshake.

    `send_message` returns once the receiver acknowledged every frame and EOT was sent, or raises
    `TransferAborted` (busy too long, six refusals of one frame, no reply within the reply timer, contention lost
    as the computer, line lost); `deliver` also sends the message again after a reply timeout. Timers run on
    `clock`; waits happen inside `transport.read` timeouts, never in a sleep.
    """

    def __init__(
        self,
        transport: Transport,
        clock: Clock,
        settings: LinkSettings | None = None,
        *,
        role: Role = "instrument",
        max_frame_size: int = E1381_MAX_FRAME,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._settings = settings or LinkSettings()
        self._link = LinkSender(self._settings, clock, role)
        self._max_frame_size = max_frame_size
        self._on_notice = on_notice
        self._replies_may_be_late = False

    def _discard_late_replies(self) -> None:
        """After a reply timeout the receiver's answer may still come. Idle, a sender ignores all but ENQ (E1381
        6.2.5); read now, such a late ACK would be taken as the answer to the next ENQ and shift every reply after
        it by one frame. (A receiver's ENQ among them goes unanswered; it bids again.)"""
        for _ in range(64):
            try:
                if not self._transport.read(64):
                    return
            except TransportError:
                return

    def send_message(
        self,
        records: Sequence[Record],
        delimiters: Delimiters = DEFAULT_DELIMITERS,
        *,
        whole_message_in_one_frame: bool = False,
    ) -> None:
        """Encode `records` (normally H … L), frame them and transfer them in one ENQ … EOT."""
        frames = frames_for_records(
            records,
            delimiters,
            max_frame_size=self._max_frame_size,
            whole_message_in_one_frame=whole_message_in_one_frame,
        )
        self.send_frames(frames)

    def deliver(
        self,
        records: Sequence[Record],
        delimiters: Delimiters = DEFAULT_DELIMITERS,
        *,
        attempts: int = 3,
        pause_s: float | None = None,
        whole_message_in_one_frame: bool = False,
    ) -> None:
        """`send_message` as an analyser sends: a message whose transfer ended on a reply timeout is kept and
        sent again after `pause_s` (default the reply timer), up to `attempts` transfers in all (E1381 6.5.2.3).
        Any other failure, or the last timeout, raises `TransferAborted`."""
        pause = self._settings.timers.reply_s if pause_s is None else pause_s
        for attempt in range(1, attempts + 1):
            try:
                self.send_message(records, delimiters, whole_message_in_one_frame=whole_message_in_one_frame)
                return
            except TransferAborted as aborted:
                if aborted.reason != "timeout" or attempt == attempts:
                    raise
                if self._on_notice is not None:
                    self._on_notice(Notice("message_resent", f"sending the message again (transfer {attempt + 1}"
                                                             f" of {attempts}): {aborted}"))
                self._idle(pause)

    def _idle(self, seconds: float) -> None:
        """Wait on the line, ignoring what arrives (an idle sender heeds only ENQ, E1381 6.2.5)."""
        until = self._clock() + seconds
        while self._clock() < until:
            try:
                self._transport.read(64)
            except TransportError as exc:
                raise TransferAborted(f"line lost while waiting to send again: {exc}", "disconnected") from exc

    def send_frames(self, frames: Sequence[bytes]) -> None:
        """Transfer already-built frames (the emulator uses this to inject faulty frames)."""
        if self._replies_may_be_late:
            self._discard_late_replies()
        outputs = self._link.start(frames)
        while True:
            if self._act(outputs):
                self._replies_may_be_late = False
                return
            try:
                data = self._transport.read(64)
            except TransportError as exc:
                raise TransferAborted(f"line lost while sending: {exc}", "disconnected") from exc
            outputs = self._link.feed(data) if data else []
            outputs += self._link.poll()

    def _act(self, outputs: list[SenderOutput]) -> bool:
        for output in outputs:
            if isinstance(output, Send):
                try:
                    self._transport.write(output.data)
                except TransportError as exc:
                    raise TransferAborted(f"line lost while sending: {exc}", "disconnected") from exc
            elif isinstance(output, Notice):
                if self._on_notice is not None:
                    self._on_notice(output)
            elif isinstance(output, TransferDone):
                return True
            elif isinstance(output, TransferFailed):
                self._replies_may_be_late = output.reason == "timeout"
                raise TransferAborted(f"message not delivered: {output.detail}", output.reason, output.retry_after_s)
        return False
