"""What triage decided for one result: a frozen value the application stores as issued."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from triage.measurement import ClinicalFlag, Comparator


class FhbInterpretation(StrEnum):
    """What the f-Hb result alone says against the referral threshold, before any clinical override.

    This is the laboratory's reading of the measurement (a FHIR Observation's interpretation); the action is the
    clinical decision, which an override (e.g. iron-deficiency anaemia) can make "refer" on a negative result.
    """

    NEGATIVE = "negative"  # every value the result allows is below the threshold
    POSITIVE = "positive"  # every value the result allows is at or above the threshold
    INDETERMINATE = "indeterminate"  # no valid result, or a censored value that allows both sides


def interpret_fhb(
    comparator: Comparator | None, fhb_ug_per_g: float | None, error_code: str | None, threshold_ug_per_g: float
) -> FhbInterpretation:
    """Read one result against the referral threshold (lower edge inclusive: exactly the threshold is positive)."""
    if error_code is not None or fhb_ug_per_g is None:
        return FhbInterpretation.INDETERMINATE
    if comparator == "<":  # the true value is below the figure
        return FhbInterpretation.NEGATIVE if fhb_ug_per_g <= threshold_ug_per_g else FhbInterpretation.INDETERMINATE
    if comparator == ">":  # the true value is above the figure
        return FhbInterpretation.POSITIVE if fhb_ug_per_g >= threshold_ug_per_g else FhbInterpretation.INDETERMINATE
    return FhbInterpretation.POSITIVE if fhb_ug_per_g >= threshold_ug_per_g else FhbInterpretation.NEGATIVE


class Action(StrEnum):
    REASSURE = "reassure"  # manage in primary care with safety-netting
    REFER = "refer"  # suspected lower-GI cancer pathway
    REPEAT = "repeat"  # the sample gave no valid result: a new kit is needed

    @property
    def description(self) -> str:
        """The action in the words of an explanation or a report's conclusion."""
        return {
            Action.REASSURE: "reassure, manage in primary care with safety-netting",
            Action.REFER: "refer on the suspected lower-GI cancer pathway",
            Action.REPEAT: "repeat, a new kit is needed because there is no valid result",
        }[self]


@dataclass(frozen=True, slots=True)
class TriageOutcome:
    """The policy's decision for one measurement and referral.

    ``band`` is a band name from the policy, or ``"indeterminate"`` / ``"no_valid_result"`` when the
    value could not be placed in a band. ``band_rank`` is the band's position in the policy (0 = lowest
    f-Hb), -1 when it has none. ``priority`` runs from 1 (seen first) to 9; ``priority_key`` is its
    sortable text form.
    ``referral_threshold_ug_per_g`` is the policy's threshold, for letters.
    ``fhb_ug_per_g`` and ``comparator`` repeat the measurement so the outcome explains itself when stored.
    """

    action: Action
    band: str
    band_label: str
    band_rank: int
    priority: int
    explanation: str
    policy_version: str
    referral_threshold_ug_per_g: float
    method: str
    comparator: Comparator | None
    fhb_ug_per_g: float | None
    error_code: str | None
    flags: frozenset[ClinicalFlag]
    rules_applied: tuple[str, ...]
    do_not_wait_for_fit: bool

    @property
    def fhb_interpretation(self) -> FhbInterpretation:
        """The f-Hb against the policy's referral threshold, whatever the clinical flags decided."""
        return interpret_fhb(self.comparator, self.fhb_ug_per_g, self.error_code, self.referral_threshold_ug_per_g)

    @property
    def overridden_by(self) -> tuple[ClinicalFlag, ...]:
        """The clinical flags whose override rules took part in the decision, in the policy's rule order."""
        applied = {rule.removeprefix("override:") for rule in self.rules_applied if rule.startswith("override:")}
        return tuple(flag for flag in ClinicalFlag if flag.value in applied)

    @property
    def priority_key(self) -> str:
        """Sorts ascending in the order patients should be seen ("P1" first)."""
        return f"P{self.priority}"

    def to_dict(self) -> dict[str, Any]:
        """The `fit-lab triage check --json` document (interfaces.md)."""
        return {
            "action": self.action.value,
            "band": self.band,
            "priority": self.priority,
            "explanation": self.explanation,
            "policy_version": self.policy_version,
        }
