"""Who may pull the alliance's statistics, through the API, the page and the command line, and in what formats."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select
from sqlmodel import Session

from fit_lab.db.models import AuditEvent
from fit_lab.web.session import SESSION_COOKIE
from tests.api_support import build_world
from tests.stats_support import Cohort, Planter

MONTH = "2026-09"


@pytest.fixture
def world(reference_loaded):
    planter = Planter(reference_loaded, {"Y70001": "U70001", "Y70002": "U70001"})
    for practice in ("Y70001", "Y70002"):
        planter.plant(Cohort(20, practice, datetime(2026, 9, 7, 10, tzinfo=UTC), back_after_post=timedelta(days=4)))
    return build_world(reference_loaded)


def pull(world, who, **params):
    headers = world.auth(who) if who != "anonymous" else {}
    return world.client.get("/api/v1/stats/monthly", params={"month": MONTH, **params}, headers=headers)


def test_the_alliance_pulls_json_csv_and_a_workbook(world):
    document = pull(world, "alliance").json()
    assert document["month"] == MONTH and document["tables"]["summary"]["rows"][0][1] == 40
    answer = pull(world, "alliance", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="fit-stats-2026-09.csv"' in answer.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(answer.text))
    assert list(frame.columns) == ["month", "table", "group", "pcn", "measure", "title", "value"]
    book = openpyxl.load_workbook(io.BytesIO(pull(world, "admin", format="xlsx").content))
    assert book.sheetnames[:3] == ["Inequality watch", "README", "Summary"]
    assert len(book["Charts"]._images) == 4


@pytest.mark.parametrize(("who", "status"), [("lab", 403), ("scientist", 403), ("gp_a", 403), ("anonymous", 401)])
def test_nobody_else_gets_the_statistics_and_each_attempt_is_audited(world, who, status):
    assert pull(world, who).status_code == status
    with Session(world.engine) as session:
        outcomes = session.execute(select(AuditEvent.outcome).where(AuditEvent.detail.is_not(None))
                                   .order_by(AuditEvent.id.desc()).limit(1)).scalars().all()
    assert outcomes == ["denied" if status == 403 else "unauthenticated"]


@pytest.mark.parametrize("month", ["2026-13", "26-09", "1999-12", "2099-01"])
def test_a_month_that_cannot_be_reported_is_refused_naming_the_field(world, month):
    answer = pull(world, "alliance", month=month)
    assert answer.status_code == 422 and "month" in json.dumps(answer.json()["detail"])


def test_the_stats_page_is_for_the_alliance_only(world):
    token = world.tokens["alliance"]
    world.client.cookies.set(SESSION_COOKIE, token)
    page = world.client.get("/stats", params={"month": MONTH})
    assert page.status_code == 200 and "Inequality watch" in page.text and 'src="data:image/png;base64,' in page.text
    download = world.client.get("/stats/monthly.xlsx", params={"month": MONTH})
    assert download.status_code == 200 and download.content[:2] == b"PK"
    world.client.cookies.set(SESSION_COOKIE, world.tokens["gp_a"])
    assert world.client.get("/stats", params={"month": MONTH}).status_code == 403


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_command_writes_the_month_and_prints_the_flags(world, db_url, tmp_path):
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url}
    out = tmp_path / "september.xlsx"
    done = subprocess.run([sys.executable, "-m", "fit_lab.cli", "stats", "monthly", "--month", MONTH, "--format",
                           "xlsx", "--out", str(out)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert f"statistics for {MONTH} written to {out}" in done.stdout and "inequality flag" in done.stdout
    summary = pd.read_excel(out, sheet_name="Summary", header=1)
    assert int(summary.loc[0, "Referrals received"]) == 40
    wrong = subprocess.run([sys.executable, "-m", "fit_lab.cli", "stats", "monthly", "--month", MONTH, "--format",
                            "pdf", "--out", str(out)], env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, check=False)
    assert wrong.returncode == 2 and "format" in wrong.stderr
