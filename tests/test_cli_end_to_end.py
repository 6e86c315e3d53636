"""The `fit-lab` command end to end, as a lab would run it: real processes, real database files/servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date

import pytest

from fit_lab import synthetic
from fit_lab.errors import ValidationError
from fit_lab.services import intake
from tests.conftest import LAB, REFERENCE_DIR
from tests.helpers import referral_row

FIT_LAB = [sys.executable, "-m", "fit_lab.cli"]


def run(args, db_url, cwd, stdin=None, check=True, **extra_env):
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url, **extra_env}
    result = subprocess.run([*FIT_LAB, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                            timeout=300, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"fit-lab {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture
def month_file(tmp_path):
    practices = synthetic.practices(40)
    (tmp_path / "practices.csv").write_bytes(synthetic.practices_csv(practices))
    rows = synthetic.referral_rows(
        7000, practice_codes=[p.ods_code for p in practices],
        postcodes=synthetic.known_postcodes(REFERENCE_DIR / "synthetic_postcode_lsoa.csv"), start=date(2026, 10, 1),
    )
    spoiled = synthetic.spoil(rows, 0.02)
    path = tmp_path / "month.csv"
    path.write_bytes(synthetic.referrals_csv(rows))
    return path, spoiled


def test_a_month_imports_through_the_cli_and_a_second_import_adds_nothing(db_url, tmp_path, month_file):
    path, spoiled = month_file
    run(["practices", "import", str(tmp_path / "practices.csv")], db_url, tmp_path)
    run(["reference", "load-imd", str(REFERENCE_DIR / "synthetic_imd2019.csv"),
         str(REFERENCE_DIR / "synthetic_postcode_lsoa.csv")], db_url, tmp_path)
    first = json.loads(run(["referrals", "import", str(path), "--json"], db_url, tmp_path).stdout)
    assert (first["accepted"], first["rejected"], first["duplicates"]) == (7000 - len(spoiled), len(spoiled), 0)
    reported = {(p["row"], p["field"]) for r in first["rejected_rows"] for p in r["problems"]}
    assert reported == set(spoiled.items())

    second = run(["referrals", "import", str(path)], db_url, tmp_path).stdout
    assert f"0 accepted, {7000 - len(spoiled)} duplicate (nothing stored), {len(spoiled)} rejected" in second
    assert "rows are numbered by their line in the file" in second
    first_bad = min(spoiled)
    assert f"  row {first_bad} (line {first_bad} of the file): {spoiled[first_bad]}: " in second


def test_refused_input_exits_non_zero_with_a_one_line_reason(db_url, tmp_path):
    bad = tmp_path / "practices.csv"
    bad.write_text("ods_code,name,pcn_code,address,postcode\nNOPE,Somewhere,,,\n")
    result = run(["practices", "import", str(bad)], db_url, tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("fit-lab: row:") and len(result.stderr.strip().splitlines()) == 1


def test_a_missing_file_exits_non_zero_with_a_one_line_reason(tmp_path):
    missing = tmp_path / "no-such-file.csv"
    for command in (["referrals", "import"], ["practices", "import"]):
        result = run([*command, str(missing)], f"sqlite:///{tmp_path / 'x.db'}", tmp_path, check=False)
        assert result.returncode == 2
        assert result.stderr.strip() == f"fit-lab: file: {missing} does not exist"


def test_held_referrals_and_refused_rows_are_settled_from_the_command_line(reference_loaded, db_url, tmp_path):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB)
    held = intake.create_referral(reference_loaded, referral_row(external_ref="R-2", referral_date="2026-11-01"),
                                  actor=LAB)
    with pytest.raises(ValidationError):
        intake.create_referral(reference_loaded, referral_row(nhs_number="9434765918"), actor=LAB)
    refused = run(["referrals", "release-hold", str(held.referral_id), "--decision", "queue", "--reason", "x"],
                  db_url, tmp_path, check=False)
    assert refused.returncode == 1 and "already waiting for a kit" in refused.stderr
    closed = run(["referrals", "release-hold", str(held.referral_id), "--decision", "close", "--reason",
                  "repeat referral"], db_url, tmp_path)
    assert f"Referral {held.referral_id} is closed" in closed.stdout
    resolved = run(["referrals", "resolve-rejection", "1", "--resolution", "typo; resubmitted"], db_url, tmp_path)
    assert "intake rejection 1 resolved by cli:" in resolved.stdout


def test_dispatch_writes_zpl_for_a_300_dpi_printer_with_a_progress_bar_per_file(reference_loaded, db_url,
                                                                                 tmp_path):
    intake.create_referral(reference_loaded, referral_row(), actor=LAB)
    refused = run(["dispatch", "create", "--format", "zpl", "--dpi", "600"], db_url, tmp_path, check=False)
    assert refused.returncode == 2 and "zpl_dpi: must be one of 203, 300" in refused.stderr
    out = tmp_path / "batch"
    made = run(["dispatch", "create", "--format", "zpl", "--dpi", "300", "--out", str(out)], db_url, tmp_path)
    assert "rendering labels" in made.stdout and "rendering letters" in made.stdout
    assert "^BY3," in (out / "labels-1.zpl").read_text()
    again = run(["dispatch", "cancel", "1", "--reason", "wrong printer"], db_url, tmp_path)
    assert "1 kits voided" in again.stdout
    reprint = run(["dispatch", "reprint", "1"], db_url, tmp_path, check=False)
    assert reprint.returncode == 1 and "was cancelled" in reprint.stderr
    assert len(reprint.stderr.strip().splitlines()) == 1


def test_users_add_reads_the_password_from_stdin_and_refuses_a_short_one(db_url, tmp_path):
    ok = run(["users", "add", "lab-anne", "--role", "lab", "--password-stdin"], db_url, tmp_path,
             stdin="a long enough password\n")
    assert "lab-anne (lab) added" in ok.stdout
    short = run(["users", "add", "lab-bob", "--role", "lab", "--password-stdin"], db_url, tmp_path,
                stdin="short\n", check=False)
    assert short.returncode == 2 and "at least 12 characters" in short.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_run_sequence_serves_the_api_docs_on_seeded_sqlite(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'fit-lab.db'}"
    run(["db", "upgrade"], db_url, tmp_path)
    seeded = run(["seed", "--referrals", "50"], db_url, tmp_path, FIT_LAB_DEV_MODE="true").stdout
    assert "seeded 40 practices, 50 referrals" in seeded and "gp-y90001" in seeded
    port = _free_port()
    env = {**os.environ, "FIT_LAB_DATABASE_URL": db_url}
    env.pop("FIT_LAB_DEV_MODE", None)
    server = subprocess.Popen([*FIT_LAB, "serve", "--dev", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=2) as response:
                    assert response.status == 200 and b"swagger" in response.read().lower()
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as response:
            assert "/api/v1/referrals" in json.loads(response.read())["paths"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_is_outside_dev_mode_unless_asked_and_refuses_the_development_key(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'fit-lab.db'}"
    run(["db", "upgrade"], db_url, tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("FIT_LAB_DEV_MODE", "FIT_LAB_SECRET_KEY")}
    refused = subprocess.run([*FIT_LAB, "serve", "--port", str(_free_port())], cwd=tmp_path, timeout=60,
                             env={**env, "FIT_LAB_DATABASE_URL": db_url}, capture_output=True, text=True,
                             check=False)
    assert refused.returncode == 3 and "FIT_LAB_SECRET_KEY" in refused.stderr
