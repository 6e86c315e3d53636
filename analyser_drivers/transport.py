"""Byte transports: any pyserial URL, and a wrapper that reopens a port that went away.

A transport's `read` returns whatever bytes arrived within its read timeout (possibly none); framing is
the link layer's business, never the transport's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import serial

from analyser_drivers.clock import Clock
from analyser_drivers.errors import TransportError

try:
    import termios

    _TERMIOS_ERRORS: tuple[type[Exception], ...] = (termios.error,)
except ImportError:  # pragma: no cover - Windows has no termios
    _TERMIOS_ERRORS = ()
# What pyserial lets escape when a port is missing or half gone. termios.error is not an OSError: it is what opening
# a pseudo-terminal or USB adapter whose other end just went away raises (EIO), and it must not end the listener.
_PORT_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError, ValueError, *_TERMIOS_ERRORS)
_READ_ERRORS: tuple[type[Exception], ...] = (*_PORT_ERRORS, TypeError)


class Transport(Protocol):
    """What the driver and sender need from a line."""

    def read(self, max_bytes: int) -> bytes:
        """Bytes received so far (at most `max_bytes`), waiting at most the read timeout; b"" if none."""
        ...

    def write(self, data: bytes) -> None:
        """Send all of `data`."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SerialSettings:
    """RS-232 settings as printed in the analyser's host-interface manual (9600 8N1 unless it says so)."""

    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False
    read_timeout_s: float = 0.05
    """How long one `read` waits for the first byte; keeps the caller's timer checks responsive."""


class SerialTransport:
    """A pyserial port opened from a URL: `/dev/ttyUSB0`, `socket://host:port`, `rfc2217://…`, `loop://`."""

    def __init__(self, url: str, settings: SerialSettings | None = None) -> None:
        self.url = url
        self.settings = settings or SerialSettings()
        s = self.settings
        try:
            self._port = serial.serial_for_url(
                url,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                rtscts=s.rtscts,
                xonxoff=s.xonxoff,
                timeout=s.read_timeout_s,
                write_timeout=5.0,
            )
        except _PORT_ERRORS as exc:
            raise TransportError(f"cannot open analyser port {url}: {exc}") from exc

    def read(self, max_bytes: int) -> bytes:
        try:
            first = self._port.read(1)
            if not first:
                return b""
            waiting = min(self._port.in_waiting, max_bytes - 1)
            rest = self._port.read(waiting) if waiting > 0 else b""
            return bytes(first + rest)
        except _READ_ERRORS as exc:
            # pyserial raises TypeError on some platforms when the device vanished mid-read.
            raise TransportError(f"analyser port {self.url} stopped responding: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except _PORT_ERRORS as exc:
            raise TransportError(f"cannot write to analyser port {self.url}: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()


class ReconnectingTransport:
    """Reopens the line after it fails (USB adapter unplugged, serial-device server restarted).

    A failed read or write raises `TransportError` once, so the link layer can discard the partial
    message; afterwards `read` returns b"" until `open_line()` succeeds again, trying every
    `retry_interval_s` of `clock` time and calling `sleep` between tries so a dead port does not spin.
    """

    def __init__(
        self,
        open_line: Callable[[], Transport],
        clock: Clock,
        sleep: Callable[[float], None],
        retry_interval_s: float = 2.0,
    ) -> None:
        self._open_line = open_line
        self._clock = clock
        self._sleep = sleep
        self._retry_interval_s = retry_interval_s
        self._line: Transport | None = None
        self._next_try = clock()
        self.opens = 0
        """How many times the line was opened (the first open included)."""
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self._line is not None

    def _ensure(self) -> Transport | None:
        if self._line is not None:
            return self._line
        now = self._clock()
        if now < self._next_try:
            self._sleep(min(self._retry_interval_s, self._next_try - now))
            return None
        try:
            self._line = self._open_line()
        except TransportError as exc:
            self.last_error = str(exc)
            self._next_try = self._clock() + self._retry_interval_s
            return None
        self.opens += 1
        return self._line

    def _lost(self, exc: TransportError) -> None:
        self.last_error = str(exc)
        if self._line is not None:
            self._line.close()
        self._line = None
        self._next_try = self._clock() + self._retry_interval_s

    def read(self, max_bytes: int) -> bytes:
        line = self._ensure()
        if line is None:
            return b""
        try:
            return line.read(max_bytes)
        except TransportError as exc:
            self._lost(exc)
            raise

    def write(self, data: bytes) -> None:
        line = self._ensure()
        if line is None:
            raise TransportError(f"analyser port is not connected ({self.last_error})")
        try:
            line.write(data)
        except TransportError as exc:
            self._lost(exc)
            raise

    def close(self) -> None:
        if self._line is not None:
            self._line.close()
            self._line = None
