"""Real serial lines for the driver tests: pseudo-terminal pairs (os.openpty) and pyserial's loop://."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from analyser_drivers import Driver, LinkSettings, LinkTimers, SerialTransport, TransportError

# Short sender timers so retry paths over a real pty take about a second; their values are checked at full
# length with a ManualClock in the state-machine tests. The reply timer is a second: a reply timeout ends the
# transfer (E1381 6.5.2.3), so a test thread stalled for longer (a loaded CI machine) would look like a silent
# host. The receiver timer stays long for the same reason: a stall between two frames made the receiver
# abandon the transfer and ignore every resend, a failure of the test and not of the link.
FAST_TIMERS = LinkTimers(reply_s=1.0, receiver_s=5.0, contention_s=0.2, busy_s=0.05, instrument_contention_s=0.05)
FAST_LINK = LinkSettings(timers=FAST_TIMERS)


class PtyMasterLine:
    """The analyser's end of a pty pair, as a Transport (the driver opens the slave through pyserial)."""

    def __init__(self, fd: int, read_timeout_s: float = 0.02) -> None:
        self.fd = fd
        self.read_timeout_s = read_timeout_s
        self.closed = False

    def read(self, max_bytes: int) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], self.read_timeout_s)
        if not ready:
            return b""
        try:
            return os.read(self.fd, max_bytes)
        except OSError as exc:
            raise TransportError(str(exc)) from exc

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


@dataclass
class PtyPair:
    analyser: PtyMasterLine
    host_path: str
    _slave_fd: int

    def open_host(self) -> SerialTransport:
        transport = SerialTransport(self.host_path)
        if self._slave_fd >= 0:
            os.close(self._slave_fd)  # pyserial holds its own descriptor now
            self._slave_fd = -1
        return transport


@pytest.fixture
def fast_link() -> LinkSettings:
    return FAST_LINK


@pytest.fixture
def make_pty() -> Iterator[Callable[[], PtyPair]]:
    pairs: list[PtyPair] = []

    def make() -> PtyPair:
        master, slave = os.openpty()
        pair = PtyPair(PtyMasterLine(master), os.ttyname(slave), slave)
        pairs.append(pair)
        return pair

    yield make
    for pair in pairs:
        pair.analyser.close()
        if pair._slave_fd >= 0:
            os.close(pair._slave_fd)


@dataclass
class RunningDriver:
    driver: Driver
    transport: object
    stored: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.stored) < count and time.monotonic() < deadline:
            time.sleep(0.005)

    def wait_for_notice(self, kind: str, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while kind not in [n.kind for n in self.notices] and time.monotonic() < deadline:
            time.sleep(0.005)


@pytest.fixture
def start_driver() -> Iterator[Callable[..., RunningDriver]]:
    running: list[RunningDriver] = []

    def start(transport, sink=None, settings: LinkSettings = FAST_LINK) -> RunningDriver:
        holder: RunningDriver
        stored: list = []

        def default_sink(received) -> None:
            stored.append(received)

        notices: list = []
        driver = Driver(transport, sink or default_sink, time.monotonic, settings, on_notice=notices.append)
        holder = RunningDriver(driver, transport, stored, notices)
        holder.thread = threading.Thread(target=driver.run, args=(holder.stop.is_set,), daemon=True)
        holder.thread.start()
        running.append(holder)
        return holder

    yield start
    for holder in running:
        holder.stop.set()
        if holder.thread is not None:
            holder.thread.join(timeout=5)
        with contextlib.suppress(Exception):
            holder.transport.close()  # type: ignore[attr-defined]
