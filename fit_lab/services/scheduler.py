"""The daily failsafe inside `fit-lab serve`: a background thread, no external scheduler needed.

Started by the app factory's lifespan (``fit_lab.api.app.create_app``) when ``Settings.failsafe_schedule`` is on
(the default). It runs at start-up, then checks every ``failsafe_check_every_s`` whether today's run has been
done, so a day the service was down is caught up when it starts again. Several server processes share one run a
day: ``failsafe.run_scheduled`` takes a database lock and finds the day's run row (see there).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import date

from sqlalchemy.engine import Engine

from fit_lab.clock import Clock, system_clock
from fit_lab.logs import get_logger
from fit_lab.services.failsafe import FailsafeReport, run_scheduled
from fit_lab.settings import Settings

log = get_logger(__name__)


def worker_name() -> str:
    """Which server process ran a job: host and process id (no patient data; shown on the dashboard)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def start_daily_failsafe(
    engine: Engine, settings: Settings, *, clock: Clock = system_clock, check_every_s: float | None = None,
    on_check: Callable[[date, FailsafeReport | None], None] | None = None, worker: str | None = None,
) -> Callable[[], None]:
    """Start the thread; returns a callable that stops it (and waits for a run in progress to finish).

    ``on_check(today, report)`` is called after each check: the report of the run this process made, or None
    when the day's run was already done (by this process or another).
    """
    stop = threading.Event()
    interval = settings.failsafe_check_every_s if check_every_s is None else check_every_s
    name = worker or worker_name()

    def loop() -> None:
        last_done: date | None = None
        while not stop.is_set():
            today = clock().date()
            if today != last_done:
                try:
                    report = run_scheduled(engine, settings=settings, clock=clock, worker=name)
                except Exception as exc:
                    # A failed run (database restarting, a letter that will not render) must not kill the thread:
                    # it is logged and retried at the next check, and `fit-lab failsafe run` can be run by hand.
                    log.error("failsafe_run_failed", today=today.isoformat(), error=exc.__class__.__name__)
                else:
                    last_done = today
                    if on_check is not None:
                        on_check(today, report)
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="fit-lab-daily-failsafe", daemon=True)
    thread.start()

    def stop_scheduler() -> None:
        stop.set()
        thread.join()

    return stop_scheduler
