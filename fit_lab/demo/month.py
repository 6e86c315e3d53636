"""A simulated month through every real stage, on simulated time.

Each working day: the day's referrals arrive as a CSV (real intake), a dispatch batch is printed (real labels),
returned kits are scanned at reception (real service; ~3% rejected, replacements dispatched), the day's kits go
through the analysers over real pseudo-terminals with the emulator (QC first; one day's QC fails on one analyser
and a scientist releases the held results after a passing re-run), results are triaged with letters, and the
failsafe runs. After the month, follow-up days let late kits come back and non-returned kits close; then the
month's statistics.

As in a lab, some of this happens at the same time on different computers, each calling the same services as
ever with its own database connection (``LabComputers``, worker processes): ``RECEPTION_BENCHES`` bench PCs scan
the post, ``ANALYSERS`` instruments share the day's tubes, each with its own listener, line and QC, ``SCIENTISTS``
review held results, and the day's label sheet prints while the office gets on with the rest of the day. The
stages still follow each other through the day as before (the analysers take the kits reception has received);
the time per stage is each stage's wall time, labels apart: they overlap the stages after the analysers.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from analyser_drivers import Driver, ReceivedMessage, SerialTransport, get_profile
from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.models import Kit, Letter, Patient, Referral, Result
from fit_lab.demo.behaviour import ReturnPlan, plan_return, raw_value_for
from fit_lab.demo.pty_line import PtyAnalyserEnd
from fit_lab.logs import configure
from fit_lab.principal import Principal
from fit_lab.qc.targets import load_targets
from fit_lab.services import (
    analyser,
    dispatch,
    failsafe,
    gp_view,
    intake,
    kits,
    practices,
    reference,
    result_review,
)
from fit_lab.services.results import store_message
from fit_lab.settings import Settings

REFERENCE = Path(__file__).resolve().parent.parent / "reference_data"
LAB = Principal("demo-lab", "lab")
SCIENTIST = Principal("demo-scientist", "scientist")
ADMIN = Principal("demo-admin", "admin")
FOLLOW_UP_DAYS = 35
GP_READS_LETTERS_ON_A_DAY = 0.9  # a practice that skips a day reads two days' letters the next
RECEPTION_BENCHES = 2  # bench PCs scanning the day's post side by side
ANALYSERS = 2  # instruments sharing the day's tubes, each with its own listener
SCIENTISTS = 2  # reviewing held results side by side
Progress = Callable[[str, int, int], None]


@dataclass
class MonthRun:
    month_start: date
    month_end: date
    last_day: date
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    batches: list[int] = field(default_factory=list)
    label_files: list[Path] = field(default_factory=list)
    qc_failure_day: date | None = None
    held_released: int = 0


def working_days(start: date, end: date) -> list[date]:
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class Stage:
    def __init__(self, run: MonthRun, name: str) -> None:
        self.run, self.name = run, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.run.stage_seconds[self.name] += time.perf_counter() - self.started


class AnalyserLine:
    """fit-lab's real listener (Driver + store_message) on one end of a pty; the emulator on the other."""

    def __init__(self, engine: Engine, settings: Settings, profile_name: str, serial: str = "SIM-0001") -> None:
        self.profile, self.serial = get_profile(profile_name), serial
        self.engine, self.settings, self.targets = engine, settings, load_targets(settings.qc_targets_file)
        self.now = datetime.now(UTC)
        master, slave = os.openpty()
        self._slave = slave
        self.analyser_end = PtyAnalyserEnd(master)
        self.host = SerialTransport(os.ttyname(slave))
        self.stop = threading.Event()
        self.driver = Driver(self.host, self._sink, time.monotonic, self.profile.link, timestamp=time.time)
        self.thread = threading.Thread(target=self.driver.run, args=(self.stop.is_set,), daemon=True)
        self.thread.start()

    def _sink(self, received: ReceivedMessage) -> None:
        store_message(self.engine, received, profile=self.profile, port_url="pty (demo)", settings=self.settings,
                      qc_targets=self.targets, clock=lambda: self.now)

    def run(self, when: datetime, specimens: list[str], values: list[str], *, fail_qc: str | None = None) -> None:
        self.now = when
        local = when.astimezone(ZoneInfo(self.settings.analyser_timezone)).replace(tzinfo=None)
        analyser.simulate(self.analyser_end, self.profile, specimens, self.settings, values=values, with_qc=True,
                          fail_qc_level=fail_qc, per_message=25, measured_at=local, instrument_serial=self.serial)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.host.close()
        self.analyser_end.close()
        os.close(self._slave)


# One bench PC scanning part of the day's post: (specimen ID, collection date written on it, rejection reason).
Post = list[tuple[str, date | None, str | None]]


class LabComputers:
    """The lab's other computers, as worker processes: bench PCs at reception, the label printer's PC and one
    listener per analyser. Each has its own database connection and calls the same services as ever; being
    processes, they run at once on the machine's cores instead of taking turns on one interpreter."""

    def __init__(self, engine: Engine, settings: Settings, profile: str) -> None:
        url = engine.url.render_as_string(hide_password=False)
        self.pool = ProcessPoolExecutor(max_workers=max(RECEPTION_BENCHES + 1, ANALYSERS),
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_computer, initargs=(url, settings, profile))

    def scan(self, day: date, post: Post) -> None:
        """The day's post shared between the bench PCs; returns when every tube is scanned."""
        _wait([self.pool.submit(_scan, day, post[n::RECEPTION_BENCHES]) for n in range(RECEPTION_BENCHES)])

    def print_labels(self, day: date, batch_id: int, out_dir: Path) -> Future[tuple[Path, float]]:
        return self.pool.submit(_print_labels, day, batch_id, out_dir)

    def analyse(self, runs: list[tuple[str, datetime, list[str], list[str], str | None]]) -> None:
        """(analyser serial, when, specimens, raw values, QC level to fail) for each analyser, side by side."""
        _wait([self.pool.submit(_analyse, *run) for run in runs])

    def release(self, day: date, result_ids: list[int]) -> None:
        """Held results released by the scientists, each at their own PC, one result at a time."""
        _wait([self.pool.submit(_release, day, result_ids[n::SCIENTISTS]) for n in range(SCIENTISTS)])

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _wait(futures: list[Future[Any]]) -> None:
    for future in futures:
        future.result()  # the first failure is raised here


_computer: dict[str, Any] = {}  # in each worker process: its engine, settings and analyser profile


def _start_computer(url: str, settings: Settings, profile: str) -> None:
    configure(stream=sys.stderr)  # stdout is the caller's (the month benchmark prints its result there)
    _computer.update(engine=make_engine(url), settings=settings, profile=profile)


def _scan(day: date, post: Post) -> None:
    engine, settings, clock = _computer["engine"], _computer["settings"], fixed_clock(at(day, 11))
    for specimen_id, collected_on, rejected_for in post:
        if rejected_for:
            kits.reject_kit(engine, specimen_id, rejected_for, actor=LAB, settings=settings, clock=clock)
        else:
            kits.receive_kit(engine, specimen_id, collected_on, actor=LAB, settings=settings, clock=clock)


def _print_labels(day: date, batch_id: int, out_dir: Path) -> tuple[Path, float]:
    started = time.perf_counter()
    # Only the label sheet is written, so only it is rendered (the patient letters cost five times as much and
    # the demo never opens them).
    sheet = dispatch.batch_file(_computer["engine"], batch_id, "labels", actor=LAB, settings=_computer["settings"],
                                reprint=False, clock=fixed_clock(at(day, 10)))
    path = out_dir / "labels" / f"labels-{day}-batch-{batch_id}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sheet)
    return path, time.perf_counter() - started


def _release(day: date, result_ids: list[int]) -> None:
    for result_id in result_ids:
        result_review.release_held(_computer["engine"], result_id, actor=SCIENTIST, settings=_computer["settings"],
                                   clock=fixed_clock(at(day, 17)))


def _analyse(serial: str, when: datetime, specimens: list[str], values: list[str], fail_qc: str | None) -> None:
    line = AnalyserLine(_computer["engine"], _computer["settings"], _computer["profile"], serial)
    try:
        line.run(when, specimens, values, fail_qc=fail_qc)
    finally:
        line.close()


def seed(engine: Engine, practice_count: int) -> list[str]:
    items = synthetic.practices(practice_count)
    practices.import_practices(engine, synthetic.practices_csv(items), actor=ADMIN)
    reference.load_imd(engine, REFERENCE / "synthetic_imd2019.csv", REFERENCE / "synthetic_postcode_lsoa.csv",
                       actor=ADMIN)
    return [p.ods_code for p in items]


def simulate_month(
    engine: Engine, settings: Settings, *, tests: int, month_start: date, out_dir: Path, seed_value: int = 2026,
    write_labels: bool = True, profile: str = "hm-jackarc", progress: Progress | None = None,
) -> MonthRun:
    rng = random.Random(seed_value)
    month_end = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    run = MonthRun(month_start, month_end, month_end + timedelta(days=FOLLOW_UP_DAYS))
    codes = seed(engine, 40)
    postcodes = synthetic.known_postcodes(REFERENCE / "synthetic_postcode_lsoa.csv")
    intake_days = working_days(month_start, month_end)
    per_day = _split(tests, intake_days)
    plans: dict[str, ReturnPlan] = {}
    arrivals: dict[date, list[str]] = defaultdict(list)
    computers = LabComputers(engine, settings, profile)
    factor = float(get_profile(profile).factor_for("") or 1)
    run.qc_failure_day = intake_days[len(intake_days) // 2]
    day, total_days, serial = month_start, (run.last_day - month_start).days + 1, 0
    printing: list[Future[tuple[Path, float]]] = []
    try:
        while day <= run.last_day:
            if day in per_day:
                with Stage(run, "intake"):
                    rows = synthetic.referral_rows(per_day[day], practice_codes=codes, postcodes=postcodes,
                                                   start=day, days=1, seed=seed_value * 1000 + serial)
                    serial += 1
                    intake.import_csv(engine, synthetic.referrals_csv(rows), filename=f"referrals-{day}.csv",
                                      source="csv_cli", actor=LAB, clock=fixed_clock(at(day, 9)),
                                      settings=settings)
            if day.weekday() < 5:
                batch_id = _dispatch_day(engine, run, day, rng, plans, arrivals)
                with Stage(run, "reception"):
                    computers.scan(day, [(s, plans[s].collected_on, plans[s].rejected_for)
                                         for s in arrivals.pop(day, [])])
                _analyser_day(engine, run, day, rng, computers, factor)
                if batch_id is not None and write_labels:
                    # The sheet prints while the office gets on with the rest (GPs' acknowledgements, the
                    # failsafe, the next morning's intake), when one of the two cores is otherwise idle.
                    _collect(run, printing)
                    printing.append(computers.print_labels(day, batch_id, out_dir))
                _practices_read_letters(engine, run, day, rng)
            with Stage(run, "failsafe"):
                failsafe.run_failsafe(engine, today=day, actor=LAB, settings=settings, clock=fixed_clock(at(day, 18)))
            if progress:
                progress("day", (day - month_start).days + 1, total_days)
            day += timedelta(days=1)
        _collect(run, printing)
    finally:
        computers.close()
    return run


def _collect(run: MonthRun, printing: list[Future[tuple[Path, float]]]) -> None:
    for printed in printing:
        path, seconds = printed.result()
        run.label_files.append(path)
        run.stage_seconds["labels"] += seconds
    printing.clear()


def _split(total: int, days: list[date]) -> dict[date, int]:
    """``total`` referrals spread over the working days, as evenly as whole numbers allow."""
    base, extra = divmod(total, len(days))
    return {day: base + (1 if i < extra else 0) for i, day in enumerate(days)}


def _dispatch_day(engine: Engine, run: MonthRun, day: date, rng: random.Random, plans: dict[str, ReturnPlan],
                  arrivals: dict[date, list[str]]) -> int | None:
    with Stage(run, "dispatch"):
        batch = dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(day, 10)))
    if batch.batch_id is None:
        return None
    run.batches.append(batch.batch_id)
    with Session(engine) as session:
        kits_out = session.execute(
            select(Kit.specimen_id, Patient.imd_decile)
            .join(Referral, Referral.id == Kit.referral_id).join(Patient, Patient.id == Referral.patient_id)
            .where(Kit.dispatch_batch_id == batch.batch_id)
        ).all()
    for specimen_id, decile in kits_out:
        plan = plan_return(rng, day, decile)
        plans[specimen_id] = plan
        if plan.arrives_on:
            arrives = plan.arrives_on
            while arrives.weekday() >= 5:  # no post is opened at weekends
                arrives += timedelta(days=1)
            arrivals[arrives].append(specimen_id)
    return batch.batch_id


def _analyser_day(engine: Engine, run: MonthRun, day: date, rng: random.Random, computers: LabComputers,
                  factor: float) -> None:
    with Session(engine) as session:
        waiting = list(session.execute(select(Kit.specimen_id).where(Kit.state == "received")
                                       .order_by(Kit.received_at, Kit.id)).scalars())
    if not waiting:
        return
    values = [raw_value_for(rng, factor) for _ in waiting]
    fail = "high" if day == run.qc_failure_day else None
    share = -(-len(waiting) // ANALYSERS)  # each analyser takes the next rack of tubes
    racks = [slice(n * share, (n + 1) * share) for n in range(ANALYSERS)]
    with Stage(run, "analyser"):
        computers.analyse([(_serial(n), at(day, 14), waiting[rack], values[rack], fail if n == 0 else None)
                           for n, rack in enumerate(racks)])
    if fail:
        with Stage(run, "qc review"):
            # The scientist re-runs QC on the failed analyser (passes), reviews the run and releases the held results.
            computers.analyse([(_serial(0), at(day, 16), [], [], None)])
            with Session(engine) as session:
                held = list(session.execute(select(Result.id).where(Result.status == "held")).scalars())
            computers.release(day, held)
            run.held_released += len(held)


def _serial(n: int) -> str:
    return f"SIM-{n + 1:04d}"


def _practices_read_letters(engine: Engine, run: MonthRun, day: date, rng: random.Random) -> None:
    """Each practice acknowledges, most days, the letters that reached it before today; a few wait (and the
    failsafe chases the positive ones)."""
    with Stage(run, "gp acknowledgements"):
        with Session(engine) as session:
            waiting = session.execute(select(Letter.id, Letter.practice_id).where(
                Letter.acknowledged_at.is_(None), Letter.outcome_id.is_not(None),
                Letter.created_at < at(day, 0))).all()
        by_practice: dict[int, list[int]] = defaultdict(list)
        for letter_id, practice_id in waiting:
            by_practice[practice_id].append(letter_id)
        for practice_id, letter_ids in sorted(by_practice.items()):
            if rng.random() < GP_READS_LETTERS_ON_A_DAY:
                gp = Principal(f"demo-gp-{practice_id}", "gp", practice_id)
                gp_view.acknowledge_many(engine, letter_ids, actor=gp, clock=fixed_clock(at(day, 9)))
