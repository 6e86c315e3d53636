"""The daily failsafe inside `fit-lab serve`: a background thread, no external scheduler needed.

It runs the job at start-up and then checks every ``check_every_s`` whether today's run has happened in this
process. Several server processes each run it once a day; that is safe because the job is idempotent (what it
acts on leaves the state it looks for) and, on PostgreSQL, concurrent runs skip each other's locked kits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.logs import get_logger
from fit_lab.principal import Principal
from fit_lab.services.failsafe import run_failsafe
from fit_lab.settings import Settings

log = get_logger(__name__)
SCHEDULER = Principal("system:failsafe", "lab")
CHECK_EVERY_S = 3600.0


def start_daily_failsafe(
    engine: Engine, settings: Settings, *, clock: Clock = system_clock, check_every_s: float = CHECK_EVERY_S,
    on_run: Callable[[date], None] | None = None,
) -> Callable[[], None]:
    """Start the thread; returns a callable that stops it (and waits for a run in progress to finish)."""
    stop = threading.Event()

    def loop() -> None:
        last_run: date | None = None
        while not stop.is_set():
            today = clock().date()
            if today != last_run:
                try:
                    run_failsafe(engine, today=today, actor=SCHEDULER, settings=settings, clock=clock)
                except Exception as exc:
                    # A failed run (database restarting, a letter that will not render) must not kill the thread:
                    # it is logged and retried at the next check, and `fit-lab failsafe run` can be run by hand.
                    log.error("failsafe_run_failed", today=today.isoformat(), error=exc.__class__.__name__)
                else:
                    last_run = today
                    if on_run is not None:
                        on_run(today)
            stop.wait(check_every_s)

    thread = threading.Thread(target=loop, name="fit-lab-daily-failsafe", daemon=True)
    thread.start()

    def stop_scheduler() -> None:
        stop.set()
        thread.join()

    return stop_scheduler
