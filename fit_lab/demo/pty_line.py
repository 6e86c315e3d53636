"""The analyser's end of a pseudo-terminal, as a Transport (fit-lab's listener opens the other end with pyserial)."""

from __future__ import annotations

import os
import select

from analyser_drivers.errors import TransportError


class PtyAnalyserEnd:
    def __init__(self, fd: int, read_timeout_s: float = 0.02) -> None:
        self.fd = fd
        self.read_timeout_s = read_timeout_s

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
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        os.close(self.fd)
