"""Loading, validating and choosing threshold policies (domain brief §2, §3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

import triage
from triage import Measurement, PolicySet, PolicyValidationError, ReferralFacts, parse_policy


def _parse(document: dict[str, Any]) -> triage.ThresholdPolicy:
    return parse_policy(yaml.safe_dump(document, allow_unicode=True), source="test.yaml")


def _refusal(document: dict[str, Any]) -> str:
    with pytest.raises(PolicyValidationError) as caught:
        _parse(document)
    assert str(caught.value).startswith("policy test.yaml refused: ")
    return str(caught.value)


# -- the shipped policies -------------------------------------------------------------------------------------


def test_shipped_policies_cover_both_validated_analysers(default_policies: PolicySet) -> None:
    # §1: FIT is validated for OC-Sensor and HM-JACKarc; §3: one policy per method.
    assert default_policies.methods == ("HM-JACKarc", "OC-Sensor")


def test_shipped_policy_applies_the_national_threshold(default_policy: triage.ThresholdPolicy) -> None:
    # §1/§2: NICE DG56 refer at f-Hb ≥ 10; local bands 100 and 400.
    assert default_policy.referral_threshold_ug_per_g == 10
    assert [(b.name, b.from_ug_per_g, b.below_ug_per_g) for b in default_policy.bands] == [
        ("negative", 0, 10),
        ("positive", 10, 100),
        ("high", 100, 400),
        ("highest", 400, None),
    ]
    assert default_policy.approved_by and default_policy.effective_from


def test_shipped_policy_file_says_the_higher_bands_are_local() -> None:
    # §2: higher bands are a site's local choice; the file must say so.
    text = (Path(triage.__file__).parent / "policies" / "default-hm-jackarc.yaml").read_text(encoding="utf-8")
    assert "LOCAL" in text and "NICE DG56" in text and "BSG/ACPGBI" in text


def test_a_policy_loads_from_a_file(tmp_path: Path, policy_document: dict[str, Any]) -> None:
    path = tmp_path / "site.yaml"
    policy_document["version"] = "site-2"
    path.write_text(yaml.safe_dump(policy_document), encoding="utf-8")
    assert triage.load_policy(path).version == "site-2"


# -- refusals -------------------------------------------------------------------------------------------------


def test_a_gap_between_bands_is_refused(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][1]["below_ug_per_g"] = 99.9  # the classic "10–99.9" written as an upper limit
    message = _refusal(policy_document)
    assert "gap between band 'positive' and band 'high'" in message
    assert "from 99.9 to below 100" in message


def test_an_overlap_between_bands_is_refused(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][2]["from_ug_per_g"] = 90
    message = _refusal(policy_document)
    assert "band 'positive' (below 100) overlaps band 'high' (from 90)" in message


def test_bands_must_start_at_zero(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][0]["from_ug_per_g"] = 1
    assert "first band 'negative' starts at 1, not 0" in _refusal(policy_document)


def test_the_top_band_must_be_open_ended(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][3]["below_ug_per_g"] = 1000
    assert "last band 'highest' stops at 1000" in _refusal(policy_document)


def test_a_band_ending_before_it_starts_is_refused(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][1]["below_ug_per_g"] = 10
    assert "band 'positive' ends (10) at or before it starts (10)" in _refusal(policy_document)


def test_an_unknown_rule_is_refused(policy_document: dict[str, Any]) -> None:
    policy_document["clinical_overrides"][0]["refer_if_over_70"] = True
    assert "unknown rule or field 'clinical_overrides[0].refer_if_over_70'" in _refusal(policy_document)


def test_an_unknown_top_level_rule_is_refused(policy_document: dict[str, Any]) -> None:
    policy_document["age_rules"] = [{"over": 80, "action": "refer"}]
    assert "unknown rule or field 'age_rules'" in _refusal(policy_document)


def test_an_override_for_an_unknown_flag_is_refused(policy_document: dict[str, Any]) -> None:
    policy_document["clinical_overrides"][0]["flag"] = "weight_loss"
    assert "clinical_overrides[0].flag" in _refusal(policy_document)


def test_every_clinical_flag_needs_a_rule(policy_document: dict[str, Any]) -> None:
    # §1: the overrides are national guidance; a policy that forgets one must not go live.
    policy_document["clinical_overrides"] = [
        r for r in policy_document["clinical_overrides"] if r["flag"] != "anal_ulceration"
    ]
    assert "clinical flag 'anal_ulceration' has no rule" in _refusal(policy_document)


def test_a_flag_may_not_have_two_rules(policy_document: dict[str, Any]) -> None:
    policy_document["clinical_overrides"].append(dict(policy_document["clinical_overrides"][0]))
    assert "clinical flag 'ida' has more than one rule" in _refusal(policy_document)


def test_an_override_can_only_refer(policy_document: dict[str, Any]) -> None:
    policy_document["clinical_overrides"][0]["action"] = "reassure"
    assert "clinical_overrides[0].action" in _refusal(policy_document)


def test_only_the_lowest_band_may_reassure(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][1]["action"] = "reassure"
    assert "band 'positive' reassures but lies above another band" in _refusal(policy_document)


def test_a_higher_band_may_not_be_less_urgent(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][3]["priority"] = 5
    assert "band 'highest' has priority 5, less urgent than the lower band 'high'" in _refusal(policy_document)


def test_rules_must_cite_a_listed_source(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][2]["source"] = "a_meeting"
    assert "band 'high' cites unknown source 'a_meeting'" in _refusal(policy_document)


def test_required_fields_are_named_when_missing(policy_document: dict[str, Any]) -> None:
    del policy_document["approved_by"]
    assert "'approved_by' is required but missing" in _refusal(policy_document)


def test_a_policy_without_the_rule_for_greater_than_values_spanning_bands_is_refused(
    policy_document: dict[str, Any],
) -> None:
    # §3: censored values are handled explicitly; a policy written before the rule existed must be re-approved.
    del policy_document["censored_values"]["greater_than_spanning_bands"]
    assert "'censored_values.greater_than_spanning_bands' is required but missing" in _refusal(policy_document)


def test_a_greater_than_value_cannot_be_placed_by_its_lower_limit(policy_document: dict[str, Any]) -> None:
    # The only placement is the safe one for the colonoscopy queue: the highest band the value could belong to.
    policy_document["censored_values"]["greater_than_spanning_bands"]["placement"] = "lower_limit_band"
    assert "censored_values.greater_than_spanning_bands.placement" in _refusal(policy_document)


def test_band_names_for_results_without_a_band_are_reserved(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][0]["name"] = "indeterminate"
    assert "band name 'indeterminate' is reserved" in _refusal(policy_document)


def test_every_problem_is_reported_at_once(policy_document: dict[str, Any]) -> None:
    policy_document["bands"][0]["from_ug_per_g"] = 2
    policy_document["bands"][1]["below_ug_per_g"] = 90
    with pytest.raises(PolicyValidationError) as caught:
        _parse(policy_document)
    assert len(caught.value.problems) == 2


def test_text_that_is_not_yaml_is_refused() -> None:
    with pytest.raises(PolicyValidationError, match="not valid YAML"):
        parse_policy("bands: [unclosed", source="broken.yaml")


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyValidationError, match="cannot be read"):
        triage.load_policy(tmp_path / "absent.yaml")


# -- choosing a policy ----------------------------------------------------------------------------------------


def _version(document: dict[str, Any], version: str, effective: date, **changes: Any) -> triage.ThresholdPolicy:
    document = {**document, "version": version, "effective_from": effective, **changes}
    return _parse(document)


def test_each_result_is_triaged_by_its_methods_policy(policy_document: dict[str, Any]) -> None:
    # §3: never pool thresholds across devices; here the OC-Sensor policy refers from 15 for illustration.
    bands = [dict(b) for b in policy_document["bands"]]
    bands[0]["below_ug_per_g"] = 15
    bands[1]["from_ug_per_g"] = 15
    jackarc = _version(policy_document, "j-1", date(2025, 1, 1))
    ocsensor = _version(policy_document, "o-1", date(2025, 1, 1), methods=["OC-Sensor"], bands=bands)
    policies = PolicySet([jackarc, ocsensor])
    on = date(2025, 6, 1)
    assert policies.triage(Measurement.parse("12", "HM-JACKarc"), ReferralFacts(), on).action == "refer"
    assert policies.triage(Measurement.parse("12", "OC-Sensor"), ReferralFacts(), on).action == "reassure"
    assert policies.policy_for("oc-sensor", on).version == "o-1"  # method names are not case-sensitive


def test_a_method_without_a_policy_is_a_clear_error(default_policies: PolicySet) -> None:
    with pytest.raises(triage.NoPolicyForMethodError, match="no triage policy covers analyser method 'NS-Plus'"):
        default_policies.policy_for("NS-Plus", date(2025, 6, 1))


def test_a_result_before_any_policy_took_effect_is_a_clear_error(default_policies: PolicySet) -> None:
    with pytest.raises(triage.NoPolicyForMethodError, match="in force on 2020-01-01"):
        default_policies.policy_for("HM-JACKarc", date(2020, 1, 1))


def test_a_new_version_applies_from_its_effective_date_only(policy_document: dict[str, Any]) -> None:
    # §2: every outcome records the version used; a new version must not change what an earlier one decided.
    bands = [dict(b) for b in policy_document["bands"]]
    bands[2]["from_ug_per_g"] = 50
    bands[1]["below_ug_per_g"] = 50
    old = _version(policy_document, "site-1", date(2025, 1, 1))
    new = _version(policy_document, "site-2", date(2025, 7, 1), bands=bands)
    policies = PolicySet([new, old])
    result = Measurement.parse("60", "HM-JACKarc")
    issued = policies.triage(result, ReferralFacts(), date(2025, 6, 30))
    assert (issued.policy_version, issued.band) == ("site-1", "positive")
    later = policies.triage(result, ReferralFacts(), date(2025, 7, 1))
    assert (later.policy_version, later.band) == ("site-2", "high")
    assert policies.triage(result, ReferralFacts(), date(2025, 6, 30)) == issued


def test_two_policies_for_one_method_from_one_date_conflict(policy_document: dict[str, Any]) -> None:
    first = _version(policy_document, "a", date(2025, 1, 1))
    second = _version(policy_document, "b", date(2025, 1, 1))
    with pytest.raises(triage.PolicyConflictError, match="both cover method 'HM-JACKarc' from 2025-01-01"):
        PolicySet([first, second])


def test_a_version_may_be_loaded_only_once(policy_document: dict[str, Any]) -> None:
    first = _version(policy_document, "a", date(2025, 1, 1))
    second = _version(policy_document, "a", date(2025, 2, 1))
    with pytest.raises(triage.PolicyConflictError, match="loaded twice"):
        PolicySet([first, second])


def test_a_directory_of_policies_loads(tmp_path: Path, policy_document: dict[str, Any]) -> None:
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(policy_document), encoding="utf-8")
    assert PolicySet.load_directory(tmp_path).methods == ("HM-JACKarc",)
    with pytest.raises(triage.PolicyError, match="no policy files"):
        PolicySet.load_directory(tmp_path / "empty")
