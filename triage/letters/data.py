"""The plain values a letter is made from. The application fills them; the library never looks anything up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from triage.outcome import TriageOutcome


class LetterKind(StrEnum):
    """Kinds of letter (values match the application's stored ``letter.kind``)."""

    REASSURANCE = "reassurance"  # FIT negative: result, threshold, safety-netting, when to re-refer
    POSITIVE = "positive"  # FIT positive or clinical override: band, priority, what happens next
    NO_VALID_RESULT = "no_valid_result"  # analyser error or indeterminate value: repeat kit, no reassurance
    AMENDED = "amended"  # replaces an earlier letter; its body is that of ``Amendment.new_kind``
    KIT_REJECTED = "kit_rejected"  # reception rejected the returned kit; a replacement kit has been sent
    KIT_REJECTED_CLOSED = "rejected_closed"  # rejected, and no replacement sent: the request is closed
    RED_FLAG = "red_flag"  # a do-not-wait clinical flag: refer now, no FIT (NICE DG56 1.1)
    NOT_RETURNED = "not_returned"  # the kit never came back: no reassurance, safety-net the patient


@dataclass(frozen=True, slots=True)
class ResultDetails:
    """The result part of a result letter, as text ready to print."""

    result: str  # e.g. "<10 µg Hb/g"
    band: str  # the band's label
    priority: str  # e.g. "P2"
    threshold: str  # e.g. "10 µg Hb/g"
    explanation: str  # the outcome's explanation paragraph

    @classmethod
    def from_outcome(cls, outcome: TriageOutcome) -> ResultDetails:
        if outcome.error_code is not None:
            result = f"no valid result ({outcome.error_code})"
        else:
            shown = "" if outcome.comparator in (None, "=") else outcome.comparator
            result = f"{shown}{outcome.fhb_ug_per_g:g} µg Hb/g"
        return cls(
            result=result,
            band=outcome.band_label,
            priority=outcome.priority_key,
            threshold=f"{outcome.referral_threshold_ug_per_g:g} µg Hb/g",
            explanation=outcome.explanation,
        )


@dataclass(frozen=True, slots=True)
class Amendment:
    """Which letter an amended letter replaces, and why."""

    replaces_letter: str  # the earlier letter's reference, as printed on it
    replaces_letter_date: date
    reason: str
    new_kind: LetterKind  # REASSURANCE, POSITIVE or NO_VALID_RESULT: the corrected letter's body


@dataclass(frozen=True, slots=True)
class LetterData:
    """Everything printed on a letter.

    The identity fields are printed by the library on every letter whatever the template says. The optional
    fields are needed by some kinds only; ``render_letter`` names any that a kind or its template
    needs and lacks.
    """

    patient_name: str
    date_of_birth: date
    nhs_number: str
    practice_name: str
    practice_ods: str
    lab_name: str
    lab_contact: str
    report_date: date
    policy_version: str
    letter_reference: str | None = None
    specimen_id: str | None = None
    requester: str | None = None
    collection_date: date | None = None
    result: ResultDetails | None = None
    rejection_reason: str | None = None
    kit_dispatched_on: date | None = None
    amendment: Amendment | None = None
    red_flags: str | None = None  # the do-not-wait findings, in words, e.g. "a rectal mass"
