"""Pure triage decisions for symptomatic FIT: threshold policies, outcomes, colonoscopy ranking, GP letters.

Plain values in, plain values out: no database, no clock, no globals. See ``triage/policies/`` for the shipped
policy files, ``triage/list_orders/`` for the colonoscopy list order and ``triage/templates/`` for the letter
templates a lab may edit.
"""

from triage.decide import IntakeAlert, intake_alerts, refer_without_fit, triage
from triage.errors import (
    LetterDataError,
    LetterError,
    LetterTemplateError,
    ListOrderError,
    ListOrderValidationError,
    MeasurementError,
    NoPolicyForMethodError,
    PolicyConflictError,
    PolicyError,
    PolicyMethodMismatchError,
    PolicyValidationError,
    RankingError,
    TriageError,
)
from triage.letters import (
    PLACEHOLDERS,
    Amendment,
    LetterData,
    LetterKind,
    LetterTemplate,
    LetterTemplates,
    ResultDetails,
    load_template,
    parse_template,
    render_letter,
)
from triage.list_order import ListOrder, load_default_list_order, load_list_order, parse_list_order
from triage.measurement import ClinicalFlag, Comparator, Measurement, ReferralFacts, parse_flags
from triage.outcome import Action, FhbInterpretation, TriageOutcome, interpret_fhb
from triage.policy import (
    INDETERMINATE_BAND,
    NO_VALID_RESULT_BAND,
    NOT_TESTED_BAND,
    Band,
    ClinicalOverride,
    ThresholdPolicy,
    load_policy,
    parse_policy,
)
from triage.policy_set import PolicySet, load_default_policies
from triage.ranking import ColonoscopyCandidate, RankedCandidate, rank_for_colonoscopy

__all__ = [
    "INDETERMINATE_BAND",
    "NOT_TESTED_BAND",
    "NO_VALID_RESULT_BAND",
    "PLACEHOLDERS",
    "Action",
    "Amendment",
    "Band",
    "ClinicalFlag",
    "ClinicalOverride",
    "ColonoscopyCandidate",
    "Comparator",
    "FhbInterpretation",
    "IntakeAlert",
    "LetterData",
    "LetterDataError",
    "LetterError",
    "LetterKind",
    "LetterTemplate",
    "LetterTemplateError",
    "LetterTemplates",
    "ListOrder",
    "ListOrderError",
    "ListOrderValidationError",
    "Measurement",
    "MeasurementError",
    "NoPolicyForMethodError",
    "PolicyConflictError",
    "PolicyError",
    "PolicyMethodMismatchError",
    "PolicySet",
    "PolicyValidationError",
    "RankedCandidate",
    "RankingError",
    "ReferralFacts",
    "ResultDetails",
    "ThresholdPolicy",
    "TriageError",
    "TriageOutcome",
    "intake_alerts",
    "interpret_fhb",
    "load_default_list_order",
    "load_default_policies",
    "load_list_order",
    "load_policy",
    "load_template",
    "parse_flags",
    "parse_list_order",
    "parse_policy",
    "parse_template",
    "rank_for_colonoscopy",
    "refer_without_fit",
    "render_letter",
    "triage",
]
