"""The analyser link soak: `fit-lab analyser simulate` → a faulty line (bench/soak_relay.py) → `fit-lab analyser
listen`, over two real pseudo-terminal pairs, three separate processes, a real database; the listener SIGKILLed at
random times and started again.

    .venv/bin/python bench/link_soak.py --results 7000 --kills 25 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints the faults injected by kind, and results sent, stored, lost and duplicated (target: 0 lost, 0 duplicated,
every stored value the one sent). Each engine gets a fresh database with `--results` received kits (a month's
volume is 7,000). The test suite runs a short version (tests/test_analyser_link_soak.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.db.models import Kit, Result
from fit_lab.principal import Principal
from fit_lab.services import dispatch, intake, kits, practices, reference
from fit_lab.settings import Settings

REPO = Path(__file__).resolve().parent.parent
RELAY = REPO / "bench" / "soak_relay.py"
REFERENCE = REPO / "fit_lab" / "reference_data"
ACTOR = Principal("soak", "lab")


@dataclass
class SoakReport:
    """What went over the line and what the database holds afterwards."""

    faults: dict[str, int]
    kills: int
    sent: int
    stored: int
    lost: list[str]
    duplicated: int
    wrong_values: list[str]
    seconds: float
    simulate_exit: int
    stored_at_kills: list[int] = field(default_factory=list)

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def lines(self) -> list[str]:
        by_kind = ", ".join(f"{kind} {count:,}" for kind, count in self.faults.items())
        return [
            f"faults injected: {self.total_faults:,} ({by_kind})",
            f"listener SIGKILLed: {self.kills} times (results stored at each kill: {self.stored_at_kills})",
            f"results sent {self.sent:,}, stored {self.stored:,}, lost {len(self.lost)}, duplicated "
            f"{self.duplicated}, stored with a value other than the one sent {len(self.wrong_values)}",
            f"{self.seconds:.0f} s; the analyser emulator exited with status {self.simulate_exit}",
        ]


def received_kits(url: str, count: int) -> list[str]:
    """A fresh database at `url` with `count` kits posted a week ago and received today."""
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url)
    practices.import_practices(engine, synthetic.practices_csv(synthetic.practices(10)), actor=ACTOR)
    reference.load_imd(engine, REFERENCE / "synthetic_imd2019.csv", REFERENCE / "synthetic_postcode_lsoa.csv",
                       actor=ACTOR)
    week_ago = fixed_clock(datetime.now(UTC) - timedelta(days=7))
    rows = synthetic.referral_rows(count, practice_codes=[p.ods_code for p in synthetic.practices(10)],
                                   postcodes=synthetic.known_postcodes(REFERENCE / "synthetic_postcode_lsoa.csv"),
                                   start=date.today() - timedelta(days=9), days=1)
    intake.import_csv(engine, synthetic.referrals_csv(rows), filename="soak.csv", source="csv_cli", actor=ACTOR,
                      clock=week_ago)
    dispatch.create_batch(engine, actor=ACTOR, clock=week_ago)
    with Session(engine) as session:
        ids = list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())
    for specimen_id in ids:
        kits.receive_kit(engine, specimen_id, date.today() - timedelta(days=1), actor=ACTOR, settings=settings)
    engine.dispose()
    return ids


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Result)).scalar_one()


def _listener(url: str, port: str, workdir: Path, number: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fit_lab.cli", "analyser", "listen", "--port", port, "--profile", "oc-sensor"],
        cwd=workdir, env={**os.environ, "FIT_LAB_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=(workdir / f"listener-{number}.log").open("wb"))


def run_soak(url: str, specimen_ids: list[str], workdir: Path, *, seed: int = 1, fault_rate: float = 0.2,
             kills: int = 20, reply_timeout_s: float = 0.5, per_message: int = 5, timeout_s: float = 7200,
             log: Callable[[str], None] = print) -> SoakReport:
    """Send one raw value per specimen through the faulty line while killing the listener `kills` times."""
    rng = random.Random(seed)
    values = [f"{rng.randint(0, 1200)}" if rng.random() > 0.05 else "<50" for _ in specimen_ids]
    engine = make_engine(url)
    started = time.monotonic()
    relay = subprocess.Popen([sys.executable, str(RELAY), "--seed", str(seed), "--fault-rate", str(fault_rate),
                              "--reply-timeout-s", str(reply_timeout_s)], stdout=subprocess.PIPE, cwd=REPO)
    assert relay.stdout is not None
    ports = json.loads(relay.stdout.readline())
    listener = _listener(url, ports["host"], workdir, 0)
    analyser = subprocess.Popen(
        [sys.executable, "-m", "fit_lab.cli", "analyser", "simulate", "--port", ports["analyser"], "--profile",
         "oc-sensor", "--specimens", ",".join(specimen_ids), "--values", ",".join(values), "--per-message",
         str(per_message), "--reply-timeout-s", str(reply_timeout_s), "--attempts", "1000000"],
        cwd=workdir, env={**os.environ, "FIT_LAB_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=(workdir / "simulate.log").open("wb"))
    # Each kill waits for the run to reach a random point, so kills land all through the run however fast it goes.
    kill_points = sorted(rng.sample(range(1, len(specimen_ids)), kills)) if kills else []
    stored_at_kills: list[int] = []
    try:
        for number, point in enumerate(kill_points, start=1):
            while _stored(engine) < point and analyser.poll() is None:
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"the soak stalled at {_stored(engine)} results")
                time.sleep(0.05)
            if analyser.poll() is not None:
                break
            time.sleep(rng.uniform(0.0, 0.3))  # anywhere in a message, not only just after a commit
            listener.send_signal(signal.SIGKILL)
            listener.wait(timeout=30)
            stored_at_kills.append(_stored(engine))
            log(f"  kill {number}/{kills}: {stored_at_kills[-1]:,} results stored")
            listener = _listener(url, ports["host"], workdir, number)
        simulate_exit = analyser.wait(timeout=max(1.0, timeout_s - (time.monotonic() - started)))
    finally:
        if analyser.poll() is None:
            analyser.kill()
            analyser.wait()
        listener.send_signal(signal.SIGTERM)
        try:
            listener.wait(timeout=30)
        except subprocess.TimeoutExpired:
            listener.kill()
        relay.send_signal(signal.SIGTERM)
        remaining, _ = relay.communicate(timeout=30)
    faults = json.loads(remaining.decode().strip().splitlines()[-1])
    report = _count(engine, specimen_ids, values, faults, stored_at_kills, time.monotonic() - started,
                    simulate_exit)
    engine.dispose()
    return report


def _count(engine: Engine, ids: list[str], values: list[str], faults: dict[str, int], stored_at_kills: list[int],
           seconds: float, simulate_exit: int) -> SoakReport:
    with Session(engine) as session:
        rows = session.execute(select(Result.specimen_id, Result.raw_value)).all()
    per_specimen = Counter(specimen_id for specimen_id, _ in rows)
    sent = dict(zip(ids, values, strict=True))
    wrong = sorted({specimen_id for specimen_id, raw in rows if sent.get(specimen_id) != raw})
    return SoakReport(
        faults=faults, kills=len(stored_at_kills), sent=len(ids), stored=sum(1 for s in ids if per_specimen[s]),
        lost=[s for s in ids if not per_specimen[s]], duplicated=len(rows) - len(per_specimen) +
        sum(count for s, count in per_specimen.items() if s not in sent), wrong_values=wrong, seconds=seconds,
        simulate_exit=simulate_exit, stored_at_kills=stored_at_kills)


def soak_engine(label: str, url: str, args: argparse.Namespace) -> SoakReport:
    print(f"{label}: preparing {args.results:,} received kits …", flush=True)
    ids = received_kits(url, args.results)
    with tempfile.TemporaryDirectory() as workdir:
        report = run_soak(url, ids, Path(workdir), seed=args.seed, fault_rate=args.fault_rate, kills=args.kills,
                          reply_timeout_s=args.reply_timeout_s, per_message=args.per_message,
                          log=lambda line: print(line, flush=True))
    for line in report.lines():
        print(f"{label}: {line}", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=7000, help="patient results sent (a month: 7,000)")
    parser.add_argument("--kills", type=int, default=25, help="times the listener is SIGKILLed")
    parser.add_argument("--fault-rate", type=float, default=0.14,
                        help="chance that a frame, and a reply, is damaged (0.14: over 10,000 faults a month)")
    parser.add_argument("--reply-timeout-s", type=float, default=0.5, help="the emulated analyser's reply timer")
    parser.add_argument("--per-message", type=int, default=10, help="tubes per ASTM message")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    reports = []
    if "sqlite" in args.engines:
        with tempfile.TemporaryDirectory() as folder:
            reports.append(soak_engine("sqlite", f"sqlite:///{folder}/soak.db", args))
    if "postgresql" in args.engines:
        if not args.postgres:
            print("postgresql: skipped (no --postgres URL)")
        else:
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            name = f"fitlab_soak_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
                reports.append(soak_engine("postgresql", url, args))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    failed = [r for r in reports if r.lost or r.duplicated or r.wrong_values or r.simulate_exit]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
