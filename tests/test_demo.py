"""`fit-lab demo` end to end at a small volume: every stage, the cross-checks, and artefacts that open."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import openpyxl
import pandas as pd
import pypdfium2
import pytest
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from fit_lab.db.models import Kit, Referral

DEMO = [sys.executable, "-m", "fit_lab.cli", "demo", "--month", "2026-09"]


def _run(args: list[str], cwd) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIT_LAB_")}
    return subprocess.run([*DEMO, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def test_a_small_month_runs_every_stage_passes_its_cross_checks_and_leaves_artefacts_that_open(tmp_path):
    out = tmp_path / "demo"
    done = _run(["--tests", "150", "--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "cross-checks PASSED" in done.stdout
    for heading in ("referrals by state", "kits by state", "turnaround", "time per stage", "demo log-ins"):
        assert heading in done.stdout, heading
    labels = sorted((out / "labels").glob("*.pdf"))
    assert labels and len(pypdfium2.PdfDocument(labels[0])) >= 1
    letters = sorted((out / "letters").glob("*.pdf"))
    assert {p.name.split("-")[0] for p in letters} >= {"reassurance", "positive"}
    assert all(len(pypdfium2.PdfDocument(p)) >= 1 for p in letters)
    workbook = out / "stats" / "fit-stats-2026-09.xlsx"
    assert openpyxl.load_workbook(workbook).sheetnames[0] == "Inequality watch"
    summary = pd.read_excel(workbook, sheet_name="Summary", header=1)
    assert int(summary.loc[0, "Referrals received"]) == 150
    assert len(list((out / "stats").glob("chart-*.png"))) == 4
    engine = create_engine(f"sqlite:///{out / 'fit-lab-demo.db'}")
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Referral)).scalar_one() == 150
        states = dict(session.execute(select(Kit.state, func.count()).group_by(Kit.state)).all())
    assert states.get("reported", 0) > 100 and states.get("not_returned", 0) > 0
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_the_readme_run_command_serves_the_demo_month_with_the_api_docs(tmp_path):
    """`python3 dev.py run` is `fit-lab demo --serve` (after set-up): here at a small volume."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIT_LAB_")}
    server = subprocess.Popen([*DEMO, "--tests", "40", "--out", str(tmp_path / "demo"), "--serve", "--port",
                               str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as answer:
                    assert answer.status == 200 and "Log in" in answer.read().decode()
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.5)
        else:
            pytest.fail("the demo's web service did not start")
    finally:
        server.terminate()
        server.wait(timeout=30)
