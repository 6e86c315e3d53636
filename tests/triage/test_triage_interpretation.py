"""The f-Hb read against the referral threshold, apart from the clinical decision (domain brief §2, §3)."""

from __future__ import annotations

import pytest

import triage
from triage import ClinicalFlag, FhbInterpretation, Measurement, ReferralFacts

NEG, POS, IND = FhbInterpretation.NEGATIVE, FhbInterpretation.POSITIVE, FhbInterpretation.INDETERMINATE

# (value as reported, reading at the default threshold of 10 µg/g, source in the domain brief)
ROWS = [
    ("9.9", NEG, "§2: < 10 is below the threshold"),
    ("10", POS, "§2: exactly 10.0 is positive (lower edge inclusive)"),
    ("<10", NEG, "§3: '<10' is negative"),
    ("<4", NEG, "§3: censored '<' results read on the comparator"),
    ("<20", IND, "§3: '<20' is indeterminate when the threshold is 10"),
    (">10", POS, "§3: every value above 10 is at or above the threshold"),
    (">5", IND, "§3: '>5' could be either side of 10"),
    (">200", POS, "§3: OC-Sensor's top reading is positive"),
    (">400", POS, "§3: '>400' is positive"),
    ("insufficient_sample", IND, "§3: an error result is no result"),
]


@pytest.mark.parametrize(("value", "reading", "source"), ROWS)
@pytest.mark.parametrize("flags", [frozenset(), frozenset({ClinicalFlag.IDA})], ids=["no_flag", "ida"])
def test_the_reading_is_the_fhb_against_the_threshold_whatever_the_flags(
    default_policy: triage.ThresholdPolicy, value: str, reading: FhbInterpretation, source: str,
    flags: frozenset[ClinicalFlag],
) -> None:
    outcome = triage.triage(Measurement.parse(value, "HM-JACKarc"), ReferralFacts(flags=flags), default_policy)
    assert outcome.fhb_interpretation is reading, source
    assert outcome.overridden_by == tuple(flags)


def test_a_negative_fit_referred_by_an_override_reads_negative(default_policy: triage.ThresholdPolicy) -> None:
    # §1: iron-deficiency anaemia refers whatever the f-Hb; the FIT itself stays negative.
    outcome = triage.triage(Measurement.parse("<4", "HM-JACKarc"), ReferralFacts.from_names(["ida"]), default_policy)
    assert outcome.action is triage.Action.REFER and outcome.fhb_interpretation is NEG
