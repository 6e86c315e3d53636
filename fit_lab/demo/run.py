"""Run the demo month end to end and report: summary, artefacts, cross-checks; optionally serve the result."""

from __future__ import annotations

import time as timer
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.db.models import Letter
from fit_lab.demo.checks import CrossChecks, cross_check, positivity, summary_tables
from fit_lab.demo.month import ADMIN, MonthRun, simulate_month
from fit_lab.logs import configure
from fit_lab.services import letters, stats, users
from fit_lab.settings import Settings
from fit_lab.stats import MonthlyStats

DEMO_PASSWORD = "fit-lab-demo-password"  # noqa: S105 - printed for the demo database only
SAMPLE_LETTERS = 5


@dataclass
class DemoResult:
    settings: Settings
    run: MonthRun
    checks: CrossChecks

    def serve(self, port: int) -> None:
        import uvicorn

        from fit_lab.api.app import create_app, server_options

        engine = make_engine(self.settings.database_url)
        uvicorn.run(create_app(self.settings, engine), host="127.0.0.1", port=port,
                    **server_options(self.settings))  # type: ignore[arg-type]


def run_demo(out: Path, *, tests: int, month_start: date, echo: Callable[[str], None] = print,
             write_labels: bool = True) -> DemoResult:
    out.mkdir(parents=True, exist_ok=True)
    db = out / "fit-lab-demo.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    # The demo asks for development mode: its log-ins are printed, so its service accepts the development key.
    settings = Settings(database_url=f"sqlite:///{db}", data_dir=out, dev_mode=True)
    log_file = (out / "fit-lab-demo.log").open("w", encoding="utf-8")
    configure(stream=log_file)  # a month of structured logs goes to the file, the story to the screen
    echo(f"logs: {log_file.name}")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    echo(f"simulating {month_start:%B %Y}: {tests:,} referrals from 40 practices, on {db}")
    started = timer.perf_counter()
    last = [0.0]

    def progress(_: str, done: int, total: int) -> None:
        if timer.perf_counter() - last[0] > 2 or done == total:
            last[0] = timer.perf_counter()
            echo(f"  day {done:>3}/{total}  ({timer.perf_counter() - started:5.0f} s)")

    run = simulate_month(engine, settings, tests=tests, month_start=month_start, out_dir=out,
                         write_labels=write_labels, progress=progress)
    _sample_letters(engine, out)
    statistics = _statistics(engine, settings, run, echo)
    stats_files = stats.write_exports(statistics, settings, out / "stats")
    checks = cross_check(engine, statistics, run.month_start)
    for title, table in summary_tables(engine, run.month_start, run.month_end).items():
        echo(f"\n{title}\n{table.to_string(index=False)}")
    summary = dict(zip(statistics.tables["summary"].columns, statistics.tables["summary"].rows[0], strict=True))
    echo(f"\npositivity (f-Hb ≥ 10 µg/g, results of the month): {summary['positivity_ge_10']}%; referred "
         f"(including clinical overrides): {positivity(engine):.1%}; QC failure on {run.qc_failure_day}: "
         f"{run.held_released} held results released by a scientist")
    echo("\ntime per stage (s): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(run.stage_seconds.items())))
    echo(f"\nartefacts in {out}:")
    echo(f"  label PDFs: {len(run.label_files)} in {out / 'labels'}")
    echo(f"  sample GP letters: {out / 'letters'}")
    for path in stats_files:
        echo(f"  {path}")
    _demo_logins(engine, echo)
    return DemoResult(settings, run, checks)


def _sample_letters(engine, out: Path) -> None:  # type: ignore[no-untyped-def]
    folder = out / "letters"
    folder.mkdir(exist_ok=True)
    with Session(engine) as session:
        kinds = session.execute(select(Letter.kind).distinct()).scalars().all()
        for kind in kinds:
            for letter in session.execute(select(Letter).where(Letter.kind == kind).limit(SAMPLE_LETTERS)).scalars():
                (folder / f"{kind}-{letter.id}.pdf").write_bytes(letters.letter_pdf(letter))


def _statistics(engine, settings: Settings, run: MonthRun, echo: Callable[[str], None]) -> MonthlyStats:  # type: ignore[no-untyped-def]
    result = stats.monthly(engine, run.month_start, actor=ADMIN, settings=settings,
                           clock=fixed_clock(datetime.combine(run.last_day, time(19), UTC)))
    echo(f"\ninequality watch: {len(result.flags)} flag(s)")
    for flag in result.flags:
        echo(f"  FLAG {flag.message}")
    return result


def _demo_logins(engine, echo: Callable[[str], None]) -> None:  # type: ignore[no-untyped-def]
    hashed = users.hash_password(DEMO_PASSWORD)
    logins = [("lab1", "lab", None), ("scientist1", "scientist", None), ("alliance1", "alliance", None),
              ("admin1", "admin", None), ("gp-y90001", "gp", "Y90001")]
    for name, role, ods in logins:
        users.add_user(engine, name, role, DEMO_PASSWORD, practice_ods=ods, actor=ADMIN, password_hash=hashed)
    echo(f"\ndemo log-ins (password '{DEMO_PASSWORD}'): " + ", ".join(f"{n} ({r})" for n, r, _ in logins))
