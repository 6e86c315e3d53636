"""A released result as a FHIR R4 DiagnosticReport with its Observation (UK Core where it applies).

Built and validated with fhir.resources (R4B models, wire-compatible with R4 for these resources): a resource
that the library refuses is never sent.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from sqlalchemy import select
from sqlalchemy.engine import Engine

import triage
from fit_lab.clock import Clock, system_clock
from fit_lab.db.engine import transaction
from fit_lab.db.models import Kit, Patient, Practice, Referral, Result, TriageOutcome
from fit_lab.errors import Forbidden, NotFound
from fit_lab.principal import Principal
from fit_lab.services import audit
from fit_lab.services.outcomes import outcome_from_json
from fit_lab.settings import Settings

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# The Observation says what the f-Hb result is against the referral threshold, never what was decided: a "<4" with
# iron-deficiency anaemia is a negative FIT that is referred, and a receiving system reading POS would record a
# positive FIT that never happened. The clinical decision and any override go in a note and the conclusion.
INTERPRETATION_CODINGS: dict[triage.FhbInterpretation, tuple[tuple[str, str], ...]] = {
    triage.FhbInterpretation.NEGATIVE: (("NEG", "Negative"), ("N", "Normal")),
    triage.FhbInterpretation.POSITIVE: (("POS", "Positive"), ("A", "Abnormal")),
    triage.FhbInterpretation.INDETERMINATE: (("IND", "Indeterminate"),),
}
_INTERPRETATION_WORDS = {
    triage.FhbInterpretation.NEGATIVE: "FIT negative: f-Hb below the referral threshold",
    triage.FhbInterpretation.POSITIVE: "FIT positive: f-Hb at or above the referral threshold",
    triage.FhbInterpretation.INDETERMINATE: "FIT indeterminate: the result cannot be placed against the referral "
                                            "threshold",
}


def _interpretation(decision: triage.TriageOutcome) -> dict[str, Any]:
    reading = decision.fhb_interpretation
    return {"coding": [{"system": INTERPRETATION, "code": code, "display": display}
                       for code, display in INTERPRETATION_CODINGS[reading]],
            "text": f"{_INTERPRETATION_WORDS[reading]} of {decision.referral_threshold_ug_per_g:g} µg/g "
                    f"(policy {decision.policy_version})"}


def _decision_text(decision: triage.TriageOutcome) -> str:
    """The clinical decision, stated apart from the f-Hb reading; names any override that made it."""
    reading = decision.fhb_interpretation.value
    text = (f"Decision: {decision.action.description} (priority {decision.priority_key}, "
            f"policy {decision.policy_version}).")
    overrides = decision.overridden_by
    if overrides:
        names = ", ".join(flag.description for flag in overrides)
        text += (f" Clinical override: the referral records {names}, which refers whatever the f-Hb; the FIT "
                 f"result itself is {reading}.")
    return text


def _observation(result: Result, decision: triage.TriageOutcome | None, settings: Settings) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{result.id}",
        "status": "final" if not result.amend_reason else "amended",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": settings.fhir_fit_code,
                             "display": settings.fhir_fit_display}], "text": "Faecal haemoglobin (FIT)"},
        "subject": {"reference": "#patient"},
        "specimen": {"reference": "#specimen"},
        "performer": [{"reference": "#lab"}],
        "effectiveDateTime": result.measured_at.isoformat(),
        "method": {"text": result.method},
        "device": {"display": f"{result.instrument}"},
    }
    if result.error_code:
        observation["dataAbsentReason"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"}],
            "text": result.error_code}
    else:
        quantity: dict[str, Any] = {"value": result.fhb_ug_per_g, "unit": "ug/g", "system": UCUM, "code": "ug/g"}
        if result.comparator in ("<", ">"):
            quantity["comparator"] = result.comparator
        observation["valueQuantity"] = quantity
    if decision is not None:
        observation["interpretation"] = [_interpretation(decision)]
        observation["note"] = [{"text": _decision_text(decision)}, {"text": decision.explanation}]
    return observation


def diagnostic_report(engine: Engine, result_id: int, *, actor: Principal, settings: Settings,
                      clock: Clock = system_clock) -> dict[str, Any]:
    if actor.role not in {"gp", "scientist", "admin"}:
        raise Forbidden("Your role does not see patients' results.")
    with transaction(engine) as session:
        row = session.execute(
            select(Result, Kit, Referral, Patient, Practice)
            .join(Kit, Kit.id == Result.kit_id)  # type: ignore[arg-type]
            .join(Referral, Referral.id == Kit.referral_id)  # type: ignore[arg-type]
            .join(Patient, Patient.id == Referral.patient_id)  # type: ignore[arg-type]
            .join(Practice, Practice.id == Referral.practice_id)  # type: ignore[arg-type]
            .where(Result.id == result_id, Result.status == "released")  # type: ignore[arg-type]
        ).first()
        if row is None or not actor.may_see_practice(row[2].practice_id):
            raise NotFound("released result", result_id)
        result, kit, referral, patient, practice = row
        outcome = session.execute(select(TriageOutcome).where(
            TriageOutcome.result_id == result_id, TriageOutcome.is_current.is_(True))).scalar_one_or_none()  # type: ignore[arg-type, attr-defined]
        # An outcome stored before the whole decision was kept (migration 0002) has no detail to read it from.
        decision = outcome_from_json(outcome.detail) if outcome is not None and outcome.detail else None
        audit.record(session, actor, "read", "fhir_diagnostic_report", result_id, practice_id=referral.practice_id,
                     clock=clock)
        report = {
            "resourceType": "DiagnosticReport",
            "id": f"fit-{result.id}",
            "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-DiagnosticReport"]},
            "contained": [
                {"resourceType": "Patient", "id": "patient",
                 "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}],
                 "name": [{"family": patient.family_name, "given": [patient.given_name]}],
                 "birthDate": patient.date_of_birth.isoformat(),
                 "generalPractitioner": [{"identifier": {"system": ODS_SYSTEM, "value": practice.ods_code}}]},
                {"resourceType": "Specimen", "id": "specimen",
                 "accessionIdentifier": {"value": kit.specimen_id},
                 "type": {"text": "Faeces"},
                 **({"collection": {"collectedDateTime": kit.collection_date.isoformat()}}
                    if kit.collection_date else {}),
                 **({"receivedTime": kit.received_at.isoformat()} if kit.received_at else {})},
                {"resourceType": "Organization", "id": "lab", "name": settings.lab_name,
                 "identifier": [{"system": ODS_SYSTEM, "value": settings.lab_ods_code}]},
                _observation(result, decision, settings),
            ],
            "status": "amended" if result.amend_reason else "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": settings.fhir_fit_code,
                                 "display": settings.fhir_fit_display}]},
            "subject": {"reference": "#patient"},
            "effectiveDateTime": result.measured_at.isoformat(),
            "issued": (result.released_at or result.stored_at).isoformat(),
            "performer": [{"reference": "#lab"}],
            "specimen": [{"reference": "#specimen"}],
            "result": [{"reference": f"#obs-{result.id}"}],
            "conclusion": f"{_decision_text(decision)} {decision.explanation}" if decision else None,
        }
    if report["conclusion"] is None:
        del report["conclusion"]
    return DiagnosticReport.model_validate(report).model_dump(mode="json", exclude_none=True)
