"""The listener: reads a transport, runs the receiving link layer, hands messages to the caller's sink.

The final frame of a message is acknowledged only after `sink` has returned; if `sink` raises, the frame
is refused (NAK) so the analyser sends it again, and the sink will see the same message again (make it
idempotent, e.g. by instrument + specimen + measurement time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from analyser_drivers.clock import Clock
from analyser_drivers.errors import TransportError
from analyser_drivers.link_receiver import LinkOutput, LinkReceiver, MessagesReady, Notice, Send
from analyser_drivers.records import Message
from analyser_drivers.settings import LinkSettings
from analyser_drivers.transport import Transport

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class TranscriptChunk:
    """Bytes that crossed the line: `direction` "in" from the analyser, "out" our replies."""

    at: float
    direction: Direction
    data: bytes


@dataclass(frozen=True)
class ReceivedMessage:
    """What the sink receives.

    `transcript` holds every byte exchanged since the previous delivered message (ENQ, frames, our
    ACKs/NAKs, noise) up to the final frame; the ACK for that frame is sent after the sink returns and
    opens the next transcript.
    """

    message: Message
    record_text: bytes
    transcript: tuple[TranscriptChunk, ...] = field(repr=False)


Sink = Callable[[ReceivedMessage], None]
EventHandler = Callable[[Notice], None]

_TRANSCRIPT_LIMIT = 4 * 1024 * 1024


class Driver:
    """Listens on `transport` and delivers each complete message to `sink`.

    `clock` runs the link timers; `timestamp` (default: `clock`) stamps transcript chunks, so pass
    e.g. `time.time` there for wall-clock journal times. `on_notice` receives link-layer notices
    (rejected frames, timeouts, discarded incomplete messages) for logging.
    """

    def __init__(
        self,
        transport: Transport,
        sink: Sink,
        clock: Clock,
        settings: LinkSettings | None = None,
        *,
        timestamp: Clock | None = None,
        on_notice: EventHandler | None = None,
        read_size: int = 4096,
    ) -> None:
        self._transport = transport
        self._sink = sink
        self._clock = clock
        self._timestamp = timestamp or clock
        self._on_notice = on_notice
        self._read_size = read_size
        self.receiver = LinkReceiver(settings or LinkSettings(), clock)
        self._transcript: list[TranscriptChunk] = []
        self._transcript_bytes = 0
        self.delivered = 0
        """How many messages the sink accepted."""

    def poll_once(self) -> None:
        """One read (waiting at most the transport's read timeout), then replies, deliveries and timers."""
        try:
            data = self._transport.read(self._read_size)
        except TransportError as exc:
            self._notice(Notice("line_lost", str(exc)))
            self._handle(self.receiver.disconnect())
            return
        if data:
            self._record("in", data)
            self._handle(self.receiver.feed(data))
        self._handle(self.receiver.poll())

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Poll until `should_stop()` is true (checked between reads)."""
        while not should_stop():
            self.poll_once()

    def _handle(self, outputs: list[LinkOutput]) -> None:
        pending = list(outputs)
        while pending:
            output = pending.pop(0)
            if isinstance(output, Send):
                self._write(output.data)
            elif isinstance(output, Notice):
                self._notice(output)
            else:
                pending = self._deliver(output) + pending

    def _deliver(self, ready: MessagesReady) -> list[LinkOutput]:
        transcript = tuple(self._transcript)
        try:
            for message in ready.messages:
                self._sink(ReceivedMessage(message, ready.record_text, transcript))
        except Exception as exc:
            self._notice(Notice("sink_error", f"{type(exc).__name__}: {exc}"))
            return self.receiver.reject()
        self.delivered += len(ready.messages)
        self._transcript = []
        self._transcript_bytes = 0
        return self.receiver.commit()

    def _write(self, data: bytes) -> None:
        try:
            self._transport.write(data)
        except TransportError as exc:
            self._notice(Notice("line_lost", str(exc)))
            self._handle(self.receiver.disconnect())
            return
        self._record("out", data)

    def _record(self, direction: Direction, data: bytes) -> None:
        self._transcript.append(TranscriptChunk(self._timestamp(), direction, data))
        self._transcript_bytes += len(data)
        # A line that chatters without ever completing a message must not grow memory without bound.
        while self._transcript_bytes > _TRANSCRIPT_LIMIT and len(self._transcript) > 1:
            self._transcript_bytes -= len(self._transcript.pop(0).data)

    def _notice(self, notice: Notice) -> None:
        if self._on_notice is not None:
            self._on_notice(notice)
