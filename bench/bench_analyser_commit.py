"""Latency from an analyser message's final frame arriving to its result being committed (the ACK waits for it).

    .venv/bin/python bench/bench_analyser_commit.py [--messages 300] [--postgres URL]

A real pseudo-terminal: the emulator writes on the analyser's end, fit-lab's Driver reads the other end through
pyserial and its sink is results.store_message. Latency = commit returned − the time the driver read the final
frame's last bytes. Target: under 20 ms on SQLite.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import select
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from analyser_drivers import OC_SENSOR, Driver, ReceivedMessage, SerialTransport
from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.migrate import upgrade
from fit_lab.db.models import Kit
from fit_lab.principal import Principal
from fit_lab.qc.targets import load_targets
from fit_lab.services import analyser, dispatch, intake, kits, practices, reference
from fit_lab.services.results import store_message
from fit_lab.settings import Settings

REFERENCE = Path(__file__).resolve().parent.parent / "fit_lab" / "reference_data"
ACTOR = Principal("bench", "lab")


class MasterLine:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, max_bytes: int) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], 0.02)
        return os.read(self.fd, max_bytes) if ready else b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        os.close(self.fd)


def prepare(url: str, count: int, settings: Settings) -> list[str]:
    engine = make_engine(url)
    upgrade(engine)
    practices.import_practices(engine, synthetic.practices_csv(synthetic.practices(10)), actor=ACTOR)
    reference.load_imd(engine, REFERENCE / "synthetic_imd2019.csv", REFERENCE / "synthetic_postcode_lsoa.csv",
                       actor=ACTOR)
    week_ago = fixed_clock(datetime.now(UTC) - timedelta(days=7))
    rows = synthetic.referral_rows(count, practice_codes=[p.ods_code for p in synthetic.practices(10)],
                                   postcodes=synthetic.known_postcodes(REFERENCE / "synthetic_postcode_lsoa.csv"),
                                   start=date.today() - timedelta(days=9), days=1)
    intake.import_csv(engine, synthetic.referrals_csv(rows), filename="b.csv", source="csv_cli", actor=ACTOR,
                      clock=week_ago)
    dispatch.create_batch(engine, actor=ACTOR, clock=week_ago)
    with Session(engine) as session:
        ids = list(session.execute(sql_select(Kit.specimen_id)).scalars())
    for specimen_id in ids:
        kits.receive_kit(engine, specimen_id, date.today(), actor=ACTOR, settings=settings)
    engine.dispose()
    return ids


def _emulate(master: int, ids: list[str], settings: Settings) -> None:
    analyser.simulate(MasterLine(master), OC_SENSOR, ids, settings, measured_at=datetime.now().replace(microsecond=0))


def measure(label: str, url: str, count: int) -> None:
    settings = Settings(database_url=url)
    ids = prepare(url, count, settings)
    engine = make_engine(url)
    targets = load_targets()
    latencies: list[float] = []

    def sink(received: ReceivedMessage) -> None:
        store_message(engine, received, profile=OC_SENSOR, port_url="pty", settings=settings, qc_targets=targets)
        last_in = max(c.at for c in received.transcript if c.direction == "in")
        latencies.append(time.time() - last_in)

    master, slave = os.openpty()
    host = SerialTransport(os.ttyname(slave))
    stop = threading.Event()
    driver = Driver(host, sink, time.monotonic, OC_SENSOR.link, timestamp=time.time)
    # The analyser is another machine: its emulator runs in its own process (forked before the listener's thread
    # starts), so encoding the next message does not take the interpreter from the listener being measured.
    emulator = multiprocessing.get_context("fork").Process(target=_emulate, args=(master, ids, settings), daemon=True)
    started = time.perf_counter()
    emulator.start()
    thread = threading.Thread(target=driver.run, args=(stop.is_set,), daemon=True)
    thread.start()
    while len(latencies) < count + 1 and time.perf_counter() - started < 300:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    emulator.join(timeout=10)
    thread.join(timeout=5)
    host.close()
    os.close(slave)
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{label:<10} {len(ms)} messages in {elapsed:5.1f} s  commit latency p50 {statistics.median(ms):5.1f} ms  "
          f"p99 {p99:5.1f} ms  max {ms[-1]:5.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("FIT_LAB_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{tmp}/bench.db", args.messages)
    if not args.postgres:
        print("postgresql: skipped (no --postgres URL)")
        return
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"fitlab_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        measure("postgresql", make_url(args.postgres).set(database=name).render_as_string(hide_password=False),
                args.messages)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
