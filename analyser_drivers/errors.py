"""Errors raised by the analyser driver, worded for the lab scientist reading a log or a CLI message."""

from __future__ import annotations


class AnalyserDriverError(Exception):
    """Base class of every error this library raises on purpose."""


class TransportError(AnalyserDriverError):
    """The serial port (or serial-device server) could not be opened, read or written."""


class LinkError(AnalyserDriverError):
    """The low-level ASTM conversation (E1381 / LIS1-A) broke down."""


class TransferAborted(LinkError):
    """A message could not be delivered to the other side; it must be sent again later.

    `reason` is a short machine word (`busy`, `timeout`, `rejected`, `contention`, `disconnected`).
    """

    def __init__(self, message: str, reason: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s


class RecordError(AnalyserDriverError):
    """An ASTM record (E1394 / LIS2-A2) could not be read or written."""


class ProfileError(AnalyserDriverError):
    """A message does not fit the instrument profile (e.g. a result without a specimen ID)."""


class UnknownProfile(ProfileError):
    """No instrument profile has the name asked for."""
