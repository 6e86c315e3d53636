"""`fit-lab demo`: a whole simulated month on a fresh embedded database, every stage, artefacts in OUT."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer


def demo(
    tests: Annotated[int, typer.Option(help="Referrals in the month")] = 7000,
    out: Annotated[Path, typer.Option(help="Folder for the database and artefacts")] = Path("fit-lab-demo"),
    month: Annotated[str | None, typer.Option(
        help="YYYY-MM (default: the latest month whose follow-up has already passed, so no time is simulated "
             "in the future)")] = None,
    serve: Annotated[bool, typer.Option(help="Then start the web service on the demo database")] = False,
    port: Annotated[int, typer.Option(help="Port for --serve")] = 8000,
) -> None:
    """Simulate a month: intake, dispatch with labels, returns, reception, analyser over a pty, triage, letters,
    failsafe and the alliance statistics; then cross-check and summarise."""
    from fit_lab.demo.month import FOLLOW_UP_DAYS
    from fit_lab.demo.run import run_demo

    first = date.fromisoformat(f"{month}-01") if month else _latest_finished_month(date.today(), FOLLOW_UP_DAYS)
    started = time.perf_counter()
    result = run_demo(out, tests=tests, month_start=first, echo=typer.echo)
    typer.echo(f"\ndone in {time.perf_counter() - started:.0f} s; cross-checks "
               + ("PASSED" if result.checks.passed else "FAILED: " + "; ".join(result.checks.problems)))
    if not result.checks.passed:
        raise typer.Exit(1)
    if serve:
        result.serve(port)


def _latest_finished_month(today: date, follow_up_days: int) -> date:
    """The first day of the latest month whose last day plus the follow-up is not after ``today``."""
    month = today.replace(day=1)
    while True:
        month = (month - timedelta(days=1)).replace(day=1)
        last_day = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if last_day + timedelta(days=follow_up_days) <= today:
            return month
