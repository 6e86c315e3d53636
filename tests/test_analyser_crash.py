"""Crash test: the listener is killed (SIGKILL) at random points during a 1,000-result run while the emulator keeps
resending whatever was not acknowledged; after restarts, exactly the 1,000 results are stored."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from analyser_drivers import (
    OC_SENSOR,
    LinkSettings,
    LinkTimers,
    Sender,
    TransferAborted,
    TransportError,
    TubeResult,
    result_records,
)
from fit_lab.db.models import Result
from fit_lab.qc.targets import load_targets
from fit_lab.services.analyser import qc_tubes
from tests.analyser_drivers.conftest import PtyMasterLine
from tests.test_analyser_end_to_end import received_kits, start_listener

# The emulator gives up on a silent line quickly, so a dead listener costs a second, not 90.
FAST = LinkSettings(timers=LinkTimers(reply_s=0.5, receiver_s=1.0, contention_s=0.2, busy_s=0.1,
                                      instrument_contention_s=0.05))


def _count(engine):
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Result)).scalar_one()


def _wait_until_stored(engine, target: int, finished: threading.Event, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while _count(engine) < target and not finished.is_set():
        assert time.monotonic() < deadline, f"the run stalled at {_count(engine)} results"
        time.sleep(0.05)


def test_killing_the_listener_mid_run_loses_and_duplicates_nothing(reference_loaded, known_postcodes, db_url,
                                                                    tmp_path):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 1000)
    at = datetime.now().replace(microsecond=0)  # analysers send local time
    tubes = [TubeResult(s, f"{(i * 3.7) % 900:.1f}", at + timedelta(seconds=i + 1), lot="L1")
             for i, s in enumerate(ids)]
    messages = [qc_tubes(OC_SENSOR, load_targets(), at)] + [tubes[i:i + 10] for i in range(0, 1000, 10)]
    master, slave = os.openpty()
    line, host_path = PtyMasterLine(master), os.ttyname(slave)
    done = threading.Event()

    def analyser():
        sender = Sender(line, time.monotonic, FAST)
        for batch in messages:
            while True:  # an analyser resends a message until it is acknowledged
                try:
                    sender.send_message(result_records(OC_SENSOR, batch, "SN-CRASH", at))
                    break
                except (TransferAborted, TransportError):
                    time.sleep(0.1)
        done.set()

    rng = random.Random(7)
    listener = start_listener(db_url, host_path, tmp_path)
    stored_at_kill = []
    try:
        time.sleep(1.5)
        thread = threading.Thread(target=analyser, daemon=True)
        thread.start()
        # Each kill waits for the run to reach a random point, so it lands mid-run however loaded the machine is.
        for low, high in ((40, 300), (350, 600), (650, 920)):
            _wait_until_stored(engine, rng.randint(low, high), done)
            time.sleep(rng.uniform(0.0, 0.3))  # anywhere inside a message, not only just after a commit
            listener.send_signal(signal.SIGKILL)
            listener.wait(timeout=10)
            stored_at_kill.append(_count(engine))
            listener = start_listener(db_url, host_path, tmp_path)
            time.sleep(1.0)
        assert done.wait(timeout=240), f"the analyser did not finish; {_count(engine)} results stored"
    finally:
        listener.send_signal(signal.SIGTERM)
        listener.wait(timeout=20)
        os.close(slave)
        line.close()
    assert any(0 < n < 1000 for n in stored_at_kill), f"no kill landed mid-run: {stored_at_kill}"
    assert _count(engine) == 1000
    with Session(engine) as session:
        stored = set(session.execute(select(Result.specimen_id)).scalars())
    assert stored == set(ids)
