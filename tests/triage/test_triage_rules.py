"""The default policies' clinical rules, row by row. Each row cites the domain brief (docs: fit-domain.md).

The boundary table runs under both shipped policies (HM-JACKarc and OC-Sensor): they share the NICE DG56 threshold
and the example local bands, but each analyser reports its own censored values (OC-Sensor's upper range is
200 µg/g, HM-JACKarc's 400 µg/g, §3).
"""

from __future__ import annotations

from datetime import date

import pytest

import triage
from triage import Action, ClinicalFlag, Measurement, ReferralFacts

METHOD = "HM-JACKarc"
METHODS = ["HM-JACKarc", "OC-Sensor"]
ANALYSED_ON = date(2025, 6, 2)

# (value as reported, action, band, priority, source in the domain brief)
NO_FLAG_ROWS = [
    ("0", Action.REASSURE, "negative", 9, "§2: < 10 reassure"),
    ("9.9", Action.REASSURE, "negative", 9, "§2: < 10 reassure"),
    ("9.99", Action.REASSURE, "negative", 9, "§2: < 10 reassure"),
    ("10", Action.REFER, "positive", 3, "§2: boundaries inclusive at the lower edge, exactly 10.0 is positive"),
    ("10.0", Action.REFER, "positive", 3, "§1 NICE DG56: refer if f-Hb ≥ 10"),
    ("99.9", Action.REFER, "positive", 3, "§2: 10–99.9 refer"),
    ("100", Action.REFER, "high", 2, "§2: 100–399.9 refer, high priority (local band, lower edge inclusive)"),
    ("399.9", Action.REFER, "high", 2, "§2: 100–399.9 refer, high priority"),
    ("400", Action.REFER, "highest", 1, "§2: ≥ 400 refer, highest priority (lower edge inclusive)"),
    ("1500", Action.REFER, "highest", 1, "§2: ≥ 400 refer, highest priority"),
    ("<0.6", Action.REASSURE, "negative", 9, "§3: below the HM-JACKarc limit of detection (~0.6) is negative"),
    ("<2", Action.REASSURE, "negative", 9, "§3: censored '<' results triaged on the comparator"),
    ("<7", Action.REASSURE, "negative", 9, "§3: '<7' below the threshold"),
    ("<10", Action.REASSURE, "negative", 9, "§3: '<10' is negative"),
    ("<20", Action.REPEAT, "indeterminate", 4, "§3: '<20' indeterminate at threshold 10 → repeat, say why"),
    ("<10.1", Action.REPEAT, "indeterminate", 4, "§3: '<x' with x above the threshold straddles it"),
    (">400", Action.REFER, "highest", 1, "§3: '>400' is the highest band (HM-JACKarc's upper range)"),
    (">200", Action.REFER, "highest", 1, "§3: OC-Sensor's real top reading (1,000 ng/mL × 0.2 = 200 µg/g) may be "
                                         "≥ 400, so it takes the highest band it could belong to (§2: ≥ 400)"),
    (">399.9", Action.REFER, "highest", 1, "§3/§2: '>399.9' could be ≥ 400: highest band it could belong to"),
    (">100", Action.REFER, "highest", 1, "§3/§2: '>100' could be ≥ 400: highest band it could belong to"),
    (">10", Action.REFER, "highest", 1, "§2/§3: '>10' is positive and could be ≥ 400: highest possible band"),
    (">5", Action.REPEAT, "indeterminate", 4, "§3: '>x' below the threshold could be either side of 10"),
    ("insufficient_sample", Action.REPEAT, "no_valid_result", 4, "§3: error results lead to a repeat kit"),
    ("sample_not_detected", Action.REPEAT, "no_valid_result", 4, "§3: error results lead to a repeat kit"),
    ("reagent_error", Action.REPEAT, "no_valid_result", 4, "§3: error results lead to a repeat kit"),
    ("instrument_error", Action.REPEAT, "no_valid_result", 4, "§3: error results lead to a repeat kit"),
    ("E42", Action.REPEAT, "no_valid_result", 4, "§3: an unrecognised error is still no result → repeat"),
]

# (flag, priority it gives, do not wait for FIT, source)
OVERRIDE_ROWS = [
    (ClinicalFlag.IDA, 3, False, "§1 BSG/ACPGBI: iron-deficiency anaemia → refer whatever the f-Hb"),
    (ClinicalFlag.ABDOMINAL_MASS, 3, False, "§1 BSG/ACPGBI: abdominal mass → refer whatever the f-Hb"),
    (ClinicalFlag.CLINICAL_CONCERN, 3, False, "§1 BSG/ACPGBI: strong clinical concern overrides a negative FIT"),
    (ClinicalFlag.RECTAL_MASS, 1, True, "§1 NG12: rectal mass → refer urgently without waiting for FIT"),
    (ClinicalFlag.ANAL_MASS, 1, True, "§1 NG12: anal mass → refer urgently without waiting for FIT"),
    (ClinicalFlag.ANAL_ULCERATION, 1, True, "§1 NG12: anal ulceration → refer urgently without waiting for FIT"),
]


def _decide(
    value: str, policy: triage.ThresholdPolicy, flags: frozenset[ClinicalFlag] = frozenset()
) -> triage.TriageOutcome:
    return triage.triage(Measurement.parse(value, policy.methods[0]), ReferralFacts(flags=flags), policy)


@pytest.fixture(params=METHODS)
def shipped_policy(request: pytest.FixtureRequest, default_policies: triage.PolicySet) -> triage.ThresholdPolicy:
    """Each shipped policy in turn (one per validated analyser method, §1/§3)."""
    return default_policies.policy_for(request.param, ANALYSED_ON)


@pytest.mark.parametrize(("value", "action", "band", "priority", "source"), NO_FLAG_ROWS)
def test_default_policy_without_clinical_flags(
    shipped_policy: triage.ThresholdPolicy, value: str, action: Action, band: str, priority: int, source: str
) -> None:
    outcome = _decide(value, shipped_policy)
    assert (outcome.action, outcome.band, outcome.priority) == (action, band, priority), source
    assert outcome.policy_version == shipped_policy.version
    assert shipped_policy.version in outcome.explanation
    assert outcome.do_not_wait_for_fit is False


@pytest.mark.parametrize(("flag", "flag_priority", "do_not_wait", "flag_source"), OVERRIDE_ROWS)
@pytest.mark.parametrize(("value", "action", "band", "priority", "source"), NO_FLAG_ROWS)
def test_default_policy_with_each_clinical_override(
    shipped_policy: triage.ThresholdPolicy,
    value: str,
    action: Action,
    band: str,
    priority: int,
    source: str,
    flag: ClinicalFlag,
    flag_priority: int,
    do_not_wait: bool,
    flag_source: str,
) -> None:
    outcome = _decide(value, shipped_policy, frozenset({flag}))
    # An override refers whatever the f-Hb (§1), keeps the f-Hb band for the record, and never makes a referral
    # less urgent than its band already made it.
    expected_priority = min(flag_priority, priority) if action is Action.REFER else flag_priority
    assert outcome.action is Action.REFER, flag_source
    assert outcome.band == band, source
    assert outcome.priority == expected_priority, f"{source}; {flag_source}"
    assert outcome.do_not_wait_for_fit is do_not_wait, flag_source
    assert f"override:{flag.value}" in outcome.rules_applied
    assert f"clinical override '{flag.value}'" in outcome.explanation


def test_explanation_names_the_band_rule_and_policy_version(default_policy: triage.ThresholdPolicy) -> None:
    outcome = _decide("10", default_policy)
    assert "band 'positive'" in outcome.explanation
    assert "lower limit inclusive" in outcome.explanation
    assert f"policy {default_policy.version}" in outcome.explanation
    assert outcome.rules_applied == ("band:positive",)


@pytest.mark.parametrize(
    ("method", "value", "lower_band"),
    [
        ("OC-Sensor", ">200", "high"),  # §3: the OC-Sensor's upper range, its highest possible reading
        ("HM-JACKarc", ">200", "high"),
        ("HM-JACKarc", ">10", "positive"),
    ],
)
def test_greater_than_value_spanning_a_band_edge_takes_the_highest_band_it_could_belong_to_and_says_why(
    default_policies: triage.PolicySet, method: str, value: str, lower_band: str
) -> None:
    # §3: triage on the comparator; a ">x" may be any value above x, so under §2's bands it could be ≥ 400.
    policy = default_policies.policy_for(method, ANALYSED_ON)
    outcome = _decide(value, policy)
    assert (outcome.band, outcome.priority, outcome.band_rank) == ("highest", 1, len(policy.bands) - 1)
    assert outcome.rules_applied == ("censored_greater_than_spanning_bands", "band:highest")
    assert f"above {value[1:]} µg/g (band '{lower_band}')" in outcome.explanation
    assert "could lie in any band up to 'highest'" in outcome.explanation
    assert "highest band it could belong to" in outcome.explanation
    assert "rule: censored_values.greater_than_spanning_bands, source fit_domain_3" in outcome.explanation


def test_greater_than_value_already_in_the_top_band_is_placed_by_its_lower_limit(
    default_policy: triage.ThresholdPolicy,
) -> None:
    # §3: ">400" is the highest band; nothing above it to span, so no censoring rule is needed.
    outcome = _decide(">400", default_policy)
    assert outcome.rules_applied == ("band:highest",)
    assert "placed by its lower limit 400" in outcome.explanation


def test_spanning_value_with_every_flag_still_fits_the_stored_explanation(
    shipped_policy: triage.ThresholdPolicy,
) -> None:
    outcome = _decide(">200", shipped_policy, frozenset(ClinicalFlag))
    assert len(outcome.explanation) <= 2000  # the application stores up to 2,000 characters


def test_indeterminate_censored_value_says_why(default_policy: triage.ThresholdPolicy) -> None:
    # §3: "<20" is indeterminate when the threshold is 10: treat as invalid → repeat, and say why.
    outcome = _decide("<20", default_policy)
    assert "<20 µg Hb/g" in outcome.explanation
    assert "cannot show whether f-Hb is below 10" in outcome.explanation
    assert outcome.rules_applied == ("censored_less_than",)


def test_error_result_explains_the_error(default_policy: triage.ThresholdPolicy) -> None:
    outcome = _decide("insufficient_sample", default_policy)
    assert "insufficient sample in the tube" in outcome.explanation
    assert "no reassurance" in outcome.explanation
    assert outcome.fhb_ug_per_g is None and outcome.error_code == "insufficient_sample"


def test_override_on_a_negative_result_says_it_overrides(default_policy: triage.ThresholdPolicy) -> None:
    outcome = _decide("<10", default_policy, frozenset({ClinicalFlag.IDA}))
    assert "would not refer" in outcome.explanation
    assert "iron-deficiency anaemia" in outcome.explanation


def test_every_flag_together_still_fits_the_stored_explanation(default_policy: triage.ThresholdPolicy) -> None:
    outcome = _decide("insufficient_sample", default_policy, frozenset(ClinicalFlag))
    assert outcome.action is Action.REFER
    assert outcome.priority == 1
    assert len(outcome.explanation) <= 2000  # the application stores up to 2,000 characters


def test_explanation_does_not_depend_on_how_the_flags_were_given(default_policy: triage.ThresholdPolicy) -> None:
    first = triage.triage(
        Measurement.parse("50", METHOD), ReferralFacts.from_names(["rectal_mass", "ida"]), default_policy
    )
    second = triage.triage(
        Measurement.parse("50", METHOD), ReferralFacts.from_names(["ida", "rectal_mass"]), default_policy
    )
    assert first == second


def test_check_json_has_the_interface_fields(default_policy: triage.ThresholdPolicy) -> None:
    document = _decide(">400", default_policy).to_dict()
    assert set(document) == {"action", "band", "priority", "explanation", "policy_version"}
    assert document["action"] == "refer" and document["band"] == "highest" and document["priority"] == 1


def test_priority_key_sorts_most_urgent_first(default_policy: triage.ThresholdPolicy) -> None:
    keys = [_decide(v, default_policy).priority_key for v in ("5", "50", "150", "450")]
    assert sorted(keys) == ["P1", "P2", "P3", "P9"]


def test_policy_for_another_method_is_refused(default_policy: triage.ThresholdPolicy) -> None:
    # §3: methods are not standardised; never pool thresholds across devices without saying so.
    with pytest.raises(triage.PolicyMethodMismatchError, match="OC-Sensor"):
        triage.triage(Measurement.parse("12", "OC-Sensor"), ReferralFacts(), default_policy)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["rectal_mass"], [("rectal_mass", True)]),
        (["anal_mass"], [("anal_mass", True)]),
        (["anal_ulceration"], [("anal_ulceration", True)]),
        (["ida", "anal_ulceration"], [("anal_ulceration", True), ("ida", False)]),
        (["abdominal_mass", "clinical_concern"], [("abdominal_mass", False), ("clinical_concern", False)]),
        ([], []),
    ],
)
def test_intake_alerts_flag_what_must_not_wait_for_fit(
    default_policy: triage.ThresholdPolicy, flags: list[str], expected: list[tuple[str, bool]]
) -> None:
    # §1: a rectal mass, anal mass or anal ulceration → refer urgently without waiting for FIT.
    alerts = triage.intake_alerts(ReferralFacts.from_names(flags), default_policy)
    assert [(a.flag.value, a.do_not_wait_for_fit) for a in alerts] == expected
    for alert in alerts:
        assert alert.policy_version == default_policy.version
        assert alert.message.startswith("DO NOT WAIT FOR FIT") is alert.do_not_wait_for_fit


@pytest.mark.parametrize(
    ("method", "value"),
    [
        ("HM-JACKarc", ">10"),  # the referral threshold, far below HM-JACKarc's 400 µg/g upper range (§3)
        ("HM-JACKarc", ">100"),
        ("OC-Sensor", ">100"),
        ("OC-Sensor", ">200"),  # OC-Sensor's upper range (§3), but the result itself does not say so
        ("HM-JACKarc", ">400"),
        ("OC-Sensor", ">500"),
    ],
)
def test_greater_than_explanation_states_only_what_the_result_shows(
    default_policies: triage.PolicySet, method: str, value: str
) -> None:
    # Issue 13 / §3: a '>x' result says the true f-Hb is above x, nothing more. Neither the result nor the policy
    # knows whether x was the analyser's upper measuring limit, so the explanation must not claim it (a '>10' or
    # '>100' is not "only known to be above the analyser's upper measuring limit").
    outcome = _decide(value, default_policies.policy_for(method, ANALYSED_ON))
    assert f"the true f-Hb is above {value[1:]} µg/g" in outcome.explanation
    assert "measuring limit" not in outcome.explanation
