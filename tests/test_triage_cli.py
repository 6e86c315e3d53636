"""`fit-lab triage check` and `fit-lab triage list` (interfaces.md), run as the console runs them: a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

import triage
from analyser_drivers import OC_SENSOR
from fit_lab.services import colonoscopy
from fit_lab.services.analyser import qc_tubes
from tests.results_support import AT, SCIENTIST, TARGETS, store, tube

CHECK_KEYS = {"action", "band", "priority", "explanation", "policy_version"}


def fit_lab(*args: str, cwd: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIT_LAB_")}
    if database_url:
        env["FIT_LAB_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "fit_lab.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _library(value: str, method: str, flags: list[str]) -> dict[str, object]:
    """What the triage library itself decides for the same input under the shipped policies, today."""
    policy = triage.load_default_policies().policy_for(method, date.today())
    return triage.triage(triage.Measurement.parse(value, method), triage.ReferralFacts.from_names(flags),
                         policy).to_dict()


@pytest.mark.parametrize(
    ("value", "method", "flags", "action", "band", "source"),
    [
        (">200", "OC-Sensor", [], "refer", "highest", "§3: OC-Sensor's top reading may be ≥ 400: highest band"),
        ("<4", "OC-Sensor", ["ida"], "refer", "negative", "§1: IDA refers whatever the f-Hb; band stays negative"),
        ("<10", "HM-JACKarc", [], "reassure", "negative", "§3: '<10' is negative"),
        ("<20", "HM-JACKarc", [], "repeat", "indeterminate", "§3: '<20' is indeterminate at threshold 10"),
        ("10", "HM-JACKarc", [], "refer", "positive", "§2: exactly 10.0 is positive"),
        ("insufficient_sample", "HM-JACKarc", [], "repeat", "no_valid_result", "§3: an error result → repeat"),
    ],
)
def test_check_json_prints_the_policys_decision_as_one_document(tmp_path, value, method, flags, action, band,
                                                                source):
    args = ["triage", "check", "--value", value, "--method", method, "--json"]
    if flags:
        args += ["--flags", ",".join(flags)]
    done = fit_lab(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == CHECK_KEYS
    assert (document["action"], document["band"]) == (action, band), source
    assert document == _library(value, method, flags)
    assert document["policy_version"] in document["explanation"]
    assert not list(tmp_path.iterdir()), "a check stores nothing"


def test_check_tries_a_policy_file_before_it_goes_live(tmp_path):
    shipped = Path(triage.__file__).parent / "policies" / "default-hm-jackarc.yaml"
    document = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    document["version"] = "site-draft-2"
    document["bands"][1]["below_ug_per_g"] = 60  # a site trying a 60 µg/g band edge (§2: local choice)
    document["bands"][2]["from_ug_per_g"] = 60
    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    done = fit_lab("triage", "check", "--value", "75", "--policy", str(draft), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["band"] == "high" and json.loads(done.stdout)["policy_version"] == "site-draft-2"


def test_check_without_json_prints_the_decision_and_its_explanation(tmp_path):
    done = fit_lab("triage", "check", "--value", ">400", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first, explanation = done.stdout.strip().split("\n")
    assert first.startswith("REFER") and "P1" in first
    assert "policy default-hm-jackarc-1.1" in explanation


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--value", "1O"], "--value: '1O' is neither an f-Hb value"),  # a letter O typed for a zero
        (["--value", "12", "--flags", "ida,anaemic"], "--flags: unknown clinical flag 'anaemic'"),
        (["--value", "12", "--method", "FOB-Gold"], "--method: no triage policy covers analyser method 'FOB-Gold'"),
        (["--value", "12", "--on", "2026-13-01"], "--on: month must be in 1..12"),
    ],
)
def test_check_refuses_bad_input_with_a_one_line_reason_and_exit_code_2(tmp_path, args, reason):
    done = fit_lab("triage", "check", *args, "--json", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert reason in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "method", "action", "band", "source"),
    [
        ("10", "HM-JACKarc", "refer", "positive", "§2: exactly 10.0 is positive (lower edge inclusive)"),
        ("9.99", "HM-JACKarc", "reassure", "negative", "§2: below 10 reassures"),
        ("<0.6", "HM-JACKarc", "reassure", "negative", "§3: below HM-JACKarc's limit of detection (~0.6)"),
        ("<7", "HM-JACKarc", "reassure", "negative", "§3: '<7', censored below the reporting limit, is negative"),
        ("<4", "OC-Sensor", "reassure", "negative", "§3: '<4', a usual OC-Sensor censored value, is negative"),
        ("<10", "OC-Sensor", "reassure", "negative", "§3: '<10' is negative"),
        (">400", "HM-JACKarc", "refer", "highest", "§3: '>400', above HM-JACKarc's range, is the highest band"),
        (">200", "OC-Sensor", "refer", "highest", "§3: '>200', above OC-Sensor's range, may be ≥ 400"),
        ("sample_not_detected", "OC-Sensor", "repeat", "no_valid_result", "§3: a known error code → repeat kit"),
    ],
)
def test_check_boundary_values(tmp_path, value, method, action, band, source):
    done = fit_lab("triage", "check", "--value", value, "--method", method, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["action"], document["band"]) == (action, band), source


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        # Issue 13, §3: error results are the analyser's error codes; these were answered "repeat", "the analyser
        # reported an error (unrecognised error code ...)", and would have meant a new kit for a typo.
        ("abc", "--value: 'abc' is neither an f-Hb value"),
        ("ten", "--value: 'ten' is neither an f-Hb value"),
        ("<LoD", "--value: '<LoD' is neither an f-Hb value"),
        ("nan", "--value: 'nan' is not a possible f-Hb result"),
        ("inf", "--value: 'inf' is not a possible f-Hb result"),
        ("-5", "--value: '-5' is not a possible f-Hb result: f-Hb cannot be negative"),
    ],
)
def test_check_refuses_a_value_that_is_neither_a_number_nor_a_known_error_code(tmp_path, value, reason):
    done = fit_lab("triage", "check", "--value", value, "--json", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"fit-lab: {reason}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_check_refuses_a_word_that_is_not_an_error_code_of_the_policy_file_tried(tmp_path):
    shipped = Path(triage.__file__).parent / "policies" / "default-hm-jackarc.yaml"
    document = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    document["version"] = "site-draft-3"
    document["error_results"]["known_codes"] = {"clotted": "sample clotted in the tube"}
    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    known = fit_lab("triage", "check", "--value", "clotted", "--policy", str(draft), "--json", cwd=tmp_path)
    assert known.returncode == 0, known.stderr
    assert json.loads(known.stdout)["action"] == "repeat"
    refused = fit_lab("triage", "check", "--value", "insufficient_sample", "--policy", str(draft), cwd=tmp_path)
    assert refused.returncode == 2
    assert "nor an error code the policy knows (clotted)" in refused.stderr


@pytest.mark.parametrize("value", [">10", ">100"])
def test_check_explains_a_greater_than_value_by_what_it_shows(tmp_path, value):
    # Issue 13, §3: '>10' and '>100' are not "only known to be above the analyser's upper measuring limit".
    done = fit_lab("triage", "check", "--value", value, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    explanation = done.stdout.strip().split("\n")[1]
    assert f"the true f-Hb is above {value[1:]} µg/g" in explanation
    assert "measuring limit" not in explanation


@pytest.fixture
def listed(received):
    """Two referred patients (OC-Sensor): '>200' (highest band, §3) and 150 µg/g (high band, §2)."""
    engine, ids = received
    store(engine, OC_SENSOR, qc_tubes(OC_SENSOR, TARGETS, AT))
    store(engine, OC_SENSOR, [tube(ids[0], "750", 1), tube(ids[1], "1500", 2)])
    return engine


def test_list_json_is_the_ranked_colonoscopy_list(listed, db_url, tmp_path):
    done = fit_lab("triage", "list", "--json", cwd=tmp_path, database_url=db_url)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    expected = colonoscopy.ranked_list(listed, actor=SCIENTIST)
    assert [(r["rank"], r["referral_id"], r["band"], r["fhb"], r["priority"]) for r in rows] == [
        (p.rank, p.referral_id, p.band, p.fhb, p.priority) for p in expected]
    assert [r["fhb"] for r in rows] == [">200", "150"]  # §3: '>200' may be ≥ 400, so it is seen first
    assert {"nhs_number", "patient_name", "date_of_birth", "practice_ods", "flags", "days_waited",
            "policy_version", "reason"} <= set(rows[0])


def test_list_prints_csv_for_the_booking_team_by_default(listed, db_url, tmp_path):
    done = fit_lab("triage", "list", cwd=tmp_path, database_url=db_url)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["rank"], r["fhb"], r["priority"]) for r in rows] == [("1", ">200", "P1"), ("2", "150", "P2")]
    assert rows[0]["date_of_birth"] == "1958-03-14"


def test_list_of_an_empty_database_is_an_empty_document(engine, db_url, tmp_path):
    done = fit_lab("triage", "list", "--json", cwd=tmp_path, database_url=db_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
