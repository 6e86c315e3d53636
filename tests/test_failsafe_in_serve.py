"""The failsafe runs by itself inside the served app (issue 13, Done-when 1).

The real app factory is served by uvicorn with the clock injected, on a day nobody touches the system. Without any
command being run, the scheduled failsafe posts the reminder that is due, closes a kit not returned with the GP's
letter, chases a positive letter nobody acknowledged, and the dashboard shows the run. Two server processes on one
PostgreSQL database act once between them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from fit_lab.api.app import create_app
from fit_lab.clock import fixed_clock
from fit_lab.db.engine import make_engine
from fit_lab.db.models import FailsafeRun, Kit, Letter
from fit_lab.services import dispatch, intake, kits, users
from tests.api_support import make_settings
from tests.browser_support import served
from tests.conftest import LAB, NOW
from tests.helpers import referral_row
from tests.test_failsafe import _analyse, at

SETTINGS = make_settings(analyser_timezone="UTC", failsafe_schedule=True, failsafe_check_every_s=0.05)
TODAY = NOW.date()
PASSWORD = "a-long-test-password-for-the-lab"


def _day(days_ago: int):
    return TODAY - timedelta(days=days_ago)


def _create(engine, nhs: str, ref: str, days_ago: int) -> int:
    row = referral_row(nhs_number=nhs, external_ref=ref, referral_date=_day(days_ago).isoformat())
    return intake.create_referral(engine, row, actor=LAB, clock=fixed_clock(at(_day(days_ago), 8)),
                                  settings=SETTINGS).referral_id


def _kit_of(engine, referral_id: int) -> Kit:
    with Session(engine) as session:
        return session.execute(select(Kit).where(Kit.referral_id == referral_id).order_by(Kit.id.desc())).scalars(
        ).first()


def quiet_day_world(engine) -> dict[str, int]:
    """A kit out 30 days and never chased, a kit out 14 days, and a positive letter four days unacknowledged."""
    ids = {"lost": _create(engine, "9990000018", "LOST", 31)}
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(_day(30))))
    ids["reminder_due"] = _create(engine, "9434765919", "DUE", 15)
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(_day(14))))
    ids["positive"] = _create(engine, "9990000026", "POS", 10)
    dispatch.create_batch(engine, actor=LAB, clock=fixed_clock(at(_day(10))))
    kits.receive_kit(engine, _kit_of(engine, ids["positive"]).specimen_id, _day(6), actor=LAB, settings=SETTINGS,
                     clock=fixed_clock(at(_day(5))))
    _analyse(engine, [_kit_of(engine, ids["positive"]).specimen_id], at(_day(4)), raw="800")  # 160 µg/g: refer
    users.add_user(engine, "bench-lab", "lab", PASSWORD, practice_ods=None, actor=LAB)
    return ids


def _wait_for_runs(engine, count: int) -> None:
    """Wait for the scheduled run(s) to be committed (bounded: a stalled server fails the test, not hangs it)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if session.execute(select(func.count()).select_from(FailsafeRun)).scalar_one() >= count:
                return
        time.sleep(0.05)
    raise AssertionError("the scheduled failsafe did not run")


def _dashboard(base_url: str) -> str:
    with httpx.Client(base_url=base_url, follow_redirects=True, timeout=60) as client:
        page = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        client.post("/login", data={"username": "bench-lab", "password": PASSWORD, "csrf": csrf.group(1),
                                    "next_page": "/dashboard"})
        return client.get("/dashboard").text


def test_serve_runs_the_failsafe_by_itself_on_a_quiet_day(reference_loaded):
    engine = reference_loaded
    ids = quiet_day_world(engine)
    app = create_app(SETTINGS, engine, clock=fixed_clock(NOW))
    with served(app) as base_url:
        _wait_for_runs(engine, 1)
        page = _dashboard(base_url)
    assert _kit_of(engine, ids["reminder_due"]).state == "reminded"
    assert _kit_of(engine, ids["lost"]).state == "not_returned"
    with Session(engine) as session:
        kinds = {(lid, kind) for lid, kind in session.execute(select(Letter.referral_id, Letter.kind))}
        (run,) = session.execute(select(FailsafeRun)).scalars().all()
    assert (ids["lost"], "not_returned") in kinds and (ids["reminder_due"], "reminder") in kinds
    assert run.trigger == "scheduled" and run.day == TODAY and run.daily_key == TODAY
    assert run.summary["reminded"] == 2 and run.summary["not_returned"] == 1  # "lost" was reminded, then closed
    assert run.summary["alerts_by_kind"].get("positive_not_acknowledged") == 1
    assert "scheduled, inside the service" in page and "Reminders posted to patients: 2" in page
    assert "Kits closed as not returned (GP told): 1" in page and "positive not acknowledged 1" in page
    assert 'id="tile-alerts"' in page


@pytest.mark.postgres
def test_two_server_processes_on_postgresql_run_the_day_once(db_url, reference_loaded):
    if not db_url.startswith("postgresql"):
        pytest.skip("the two-worker lock is PostgreSQL's advisory lock (SQLite has one writer)")
    engine = reference_loaded
    ids = quiet_day_world(engine)
    second = make_engine(db_url)
    apps = [create_app(SETTINGS, engine, clock=fixed_clock(NOW)), create_app(SETTINGS, second, clock=fixed_clock(NOW))]
    try:
        with served(apps[0]), served(apps[1]):
            deadline = time.monotonic() + 120
            while not all(app.state.failsafe_checks for app in apps):  # each process has checked today at least once
                assert time.monotonic() < deadline, "a server's scheduler never checked"
                time.sleep(0.05)
    finally:
        second.dispose()
    ran = [ran for app in apps for _, ran in app.state.failsafe_checks]
    assert ran.count(True) == 1, ran
    with Session(engine) as session:
        runs = session.execute(select(FailsafeRun)).scalars().all()
        reminders = session.execute(select(func.count()).select_from(Letter).where(
            Letter.kind == "reminder")).scalar_one()
    assert len(runs) == 1 and reminders == 2
    assert _kit_of(engine, ids["lost"]).state == "not_returned"


def test_the_fit_lab_serve_command_runs_the_failsafe_when_it_starts(db_url, reference_loaded, tmp_path):
    """The command a lab runs, not only the app factory: its start-up run is logged for today (the system clock)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url, "FIT_LAB_SECRET_KEY": "a-secret-for-this-test-only-0123456789"}
    server = subprocess.Popen([sys.executable, "-m", "fit_lab.cli", "serve", "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_runs(reference_loaded, 1)
    finally:
        server.terminate()
        server.wait(timeout=60)
    with Session(reference_loaded) as session:
        (run,) = session.execute(select(FailsafeRun)).scalars().all()
    assert run.trigger == "scheduled" and run.daily_key == run.day
