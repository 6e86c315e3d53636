"""The analyser link end to end over a real pseudo-terminal: `fit-lab analyser listen` in its own process,
the emulator on the analyser's end of the pty, results landing once, matched, in µg/g, journaled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from analyser_drivers import OC_SENSOR
from fit_lab import synthetic
from fit_lab.clock import fixed_clock
from fit_lab.db.models import AnalyserSession, Kit, QcResult, Result
from fit_lab.services import analyser, dispatch, intake, kits
from tests.analyser_drivers.conftest import PtyMasterLine
from tests.api_support import make_settings
from tests.conftest import LAB
from tests.helpers import month_rows

SETTINGS = make_settings()


def received_kits(engine, known_postcodes, count):
    """``count`` kits dispatched a week ago and received today with yesterday's collection date."""
    now = datetime.now(UTC)
    week_ago = fixed_clock(now - timedelta(days=7))
    rows = month_rows(count, known_postcodes, seed=11)
    for row in rows:
        row["referral_date"] = (date.today() - timedelta(days=8)).isoformat()
    intake.import_csv(engine, synthetic.referrals_csv(rows), filename="r.csv", source="csv_cli", actor=LAB,
                      clock=week_ago)
    dispatch.create_batch(engine, actor=LAB, clock=week_ago)
    with Session(engine) as session:
        ids = list(session.execute(select(Kit.specimen_id).order_by(Kit.id)).scalars())
    for specimen_id in ids:
        kits.receive_kit(engine, specimen_id, date.today() - timedelta(days=1), actor=LAB, settings=SETTINGS)
    return ids


def start_listener(db_url, port_path, tmp_path):
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url}
    return subprocess.Popen(
        [sys.executable, "-m", "fit_lab.cli", "analyser", "listen", "--port", port_path, "--profile", "oc-sensor"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "listener.log", "w"),
    )


def wait_for(engine, model, count, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if session.execute(select(func.count()).select_from(model)).scalar_one() >= count:
                return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} {model.__name__} rows after {timeout_s} s")


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield PtyMasterLine(master), os.ttyname(slave)
    os.close(slave)


def test_a_run_of_100_tubes_and_qc_lands_once_matched_in_ug_per_g_and_journaled(
    reference_loaded, known_postcodes, db_url, tmp_path, pty_pair
):
    engine = reference_loaded
    ids = received_kits(engine, known_postcodes, 100)
    values = [f"{(i * 7.3) % 500:.1f}" for i in range(100)]  # ng/mL, spread across the range
    line, host_path = pty_pair
    listener = start_listener(db_url, host_path, tmp_path)
    try:
        time.sleep(1.5)  # the listener opens the port; pyserial flushes input on open
        local_now = datetime.now().replace(microsecond=0)  # analysers send local time
        analyser.simulate(line, OC_SENSOR, ids, SETTINGS, values=values, measured_at=local_now)
        wait_for(engine, Result, 100)
    finally:
        listener.send_signal(signal.SIGTERM)
        listener.wait(timeout=20)
    with Session(engine) as session:
        results = {r.specimen_id: r for r in session.execute(select(Result)).scalars()}
        kit_ids = dict(session.execute(select(Kit.specimen_id, Kit.id)).all())
        journals = session.execute(select(AnalyserSession)).scalars().all()
        qc = session.execute(select(QcResult)).scalars().all()
    assert len(results) == 100 and set(results) == set(ids)
    for specimen_id, raw in zip(ids, values, strict=True):
        result = results[specimen_id]
        assert result.kit_id == kit_ids[specimen_id] and result.status == "released"
        expected = Decimal(raw) * Decimal("0.2")  # §3: OC-Sensor 10 mg in 2 mL → µg/g = ng/mL × 0.2
        if expected <= 4:
            assert (result.comparator, result.fhb_ug_per_g) == ("<", 4.0)
        elif expected > 200:
            assert (result.comparator, result.fhb_ug_per_g) == (">", 200.0)
        else:
            assert result.comparator == "=" and result.fhb_ug_per_g == pytest.approx(float(expected))
    assert len(qc) == 3 and all(q.passed for q in qc)
    assert len(journals) == 101
    assert all(specimen_id.encode() in b"".join(j.raw_bytes for j in journals) for specimen_id in ids)
