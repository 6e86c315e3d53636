"""The FHIR export says what the f-Hb result is against the threshold, and states the clinical decision apart.

A receiving GP system files the Observation's interpretation as the FIT result. It must therefore be the
laboratory's reading of the measurement (domain brief §2: refer at f-Hb ≥ 10; §3: triage on the comparator,
"<20" indeterminate at a threshold of 10, error results are no result), never the triage action, which a clinical
override (§1: iron-deficiency anaemia refers whatever the f-Hb) can make "refer" on a negative FIT.
"""

from __future__ import annotations

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from sqlalchemy import select, update
from sqlmodel import Session

from analyser_drivers import HM_JACKARC, OC_SENSOR
from fit_lab.db.models import Referral, Result, TriageOutcome
from fit_lab.services import fhir
from fit_lab.services.analyser import qc_tubes
from tests.results_support import AT, SCIENTIST, SETTINGS, TARGETS, store, tube

PROFILES = {"OC-Sensor": OC_SENSOR, "HM-JACKarc": HM_JACKARC}


def _reading(result: Result, threshold: float) -> str:
    """The f-Hb read against the threshold from the stored result alone (§2 lower edge inclusive, §3 comparators)."""
    if result.error_code is not None:
        return "IND"
    value = result.fhb_ug_per_g
    if result.comparator == "<":
        return "NEG" if value <= threshold else "IND"
    if result.comparator == ">":
        return "POS" if value >= threshold else "IND"
    return "POS" if value >= threshold else "NEG"


def _report(engine, specimen_id, method, raw, *, ida=False):
    if ida:
        with engine.begin() as conn:
            conn.execute(update(Referral).where(Referral.id == 1).values(iron_deficiency_anaemia=True))
    profile = PROFILES[method]
    store(engine, profile, qc_tubes(profile, TARGETS, AT))
    store(engine, profile, [tube(specimen_id, raw, 1)])
    with Session(engine) as session:
        result = session.execute(select(Result).where(Result.specimen_id == specimen_id)).scalar_one()
        outcome = session.execute(select(TriageOutcome).where(TriageOutcome.result_id == result.id)).scalar_one()
    body = fhir.diagnostic_report(engine, result.id, actor=SCIENTIST, settings=SETTINGS)
    DiagnosticReport.model_validate(body)
    observation = next(r for r in body["contained"] if r["resourceType"] == "Observation")
    return body, observation, result, outcome


# (case, method, value as the analyser sends it, IDA on the referral, what the case must be, source)
CASES = [
    ("negative_with_override", "OC-Sensor", "<20", True, ("NEG", "refer"),
     "§1: IDA refers whatever the f-Hb; '<4 µg/g' is still a negative FIT (§3)"),
    ("censored_negative", "OC-Sensor", "<50", False, ("NEG", "reassure"), "§3: '<10' is negative"),
    ("censored_top_of_range", "HM-JACKarc", "500", False, ("POS", "refer"),
     "§3: '>400' is positive, highest band"),
    ("oc_sensor_top_of_range", "OC-Sensor", "1500", False, ("POS", "refer"),
     "§3: OC-Sensor '>200' (upper range) is positive"),
    ("indeterminate", "OC-Sensor", "<100", False, ("IND", "repeat"),
     "§3: '<20' is indeterminate when the threshold is 10"),
    ("error", "OC-Sensor", "E01", False, ("IND", "repeat"), "§3: an error result is no result"),
    ("plain_positive", "OC-Sensor", "750", False, ("POS", "refer"), "§2: 150 µg/g refer"),
]


@pytest.mark.parametrize(("case", "method", "raw", "ida", "kind", "source"), CASES, ids=[c[0] for c in CASES])
def test_observation_interpretation_is_the_fhb_against_the_threshold_not_the_action(
    received, case, method, raw, ida, kind, source
):
    engine, ids = received
    _body, observation, result, outcome = _report(engine, ids[0], method, raw, ida=ida)
    threshold = outcome.detail["referral_threshold_ug_per_g"]
    expected = _reading(result, threshold)
    assert (expected, outcome.action) == kind, f"the case no longer tests what it says ({source})"

    (interpretation,) = observation["interpretation"]
    codes = [c["code"] for c in interpretation["coding"]]
    assert codes[0] == expected, source
    assert codes == {"NEG": ["NEG", "N"], "POS": ["POS", "A"], "IND": ["IND"]}[expected]
    assert all(c["system"].endswith("v3-ObservationInterpretation") for c in interpretation["coding"])
    assert f"{threshold:g} µg/g" in interpretation["text"] and outcome.policy_version in interpretation["text"]

    if result.error_code is None:
        quantity = observation["valueQuantity"]
        assert quantity["value"] == result.fhb_ug_per_g and quantity["code"] == "ug/g"
        assert quantity.get("comparator", "=") == result.comparator
    else:
        assert "valueQuantity" not in observation
        assert observation["dataAbsentReason"]["text"] == result.error_code


@pytest.mark.parametrize(("case", "method", "raw", "ida", "kind", "source"), CASES, ids=[c[0] for c in CASES])
def test_the_clinical_decision_and_any_override_are_stated_apart_from_the_interpretation(
    received, case, method, raw, ida, kind, source
):
    engine, ids = received
    body, observation, result, outcome = _report(engine, ids[0], method, raw, ida=ida)
    decision_note = observation["note"][0]["text"]
    assert decision_note.startswith("Decision: ") and outcome.priority_key in decision_note
    assert outcome.action in decision_note  # "reassure, …", "refer on …", "repeat, …"
    assert body["conclusion"].startswith(decision_note) and outcome.explanation in body["conclusion"]
    assert observation["note"][1]["text"] == outcome.explanation
    overridden = bool(outcome.detail["flags"]) and any(
        rule.startswith("override:") for rule in outcome.detail["rules_applied"])
    assert ("Clinical override" in decision_note) is overridden
    if overridden:
        assert "iron-deficiency anaemia" in decision_note
        reading = {"NEG": "negative", "POS": "positive", "IND": "indeterminate"}[
            _reading(result, outcome.detail["referral_threshold_ug_per_g"])]
        assert f"the FIT result itself is {reading}" in decision_note
