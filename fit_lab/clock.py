"""Time is injected: services take a Clock, tests hand them a fixed one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    def _now() -> datetime:
        return at

    return _now


def today(clock: Clock) -> date:
    return clock().date()
