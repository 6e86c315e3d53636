"""Time as the library sees it: a callable returning monotonic seconds, always supplied by the caller."""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]
"""A monotonic clock in seconds, e.g. `time.monotonic`; tests pass a `ManualClock`."""


class ManualClock:
    """A clock that only moves when told to, so timer behaviour can be tested in milliseconds.

    With `step_s` > 0 every reading also advances the clock by that much, which lets a blocking loop
    (driver, sender) race through long protocol timers without sleeping.
    """

    def __init__(self, start_s: float = 0.0, step_s: float = 0.0) -> None:
        self._now_s = start_s
        self._step_s = step_s

    def __call__(self) -> float:
        now = self._now_s
        self._now_s += self._step_s
        return now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self._now_s += seconds
