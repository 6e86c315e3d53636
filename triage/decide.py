"""The triage decision: a pure function of one measurement, the referral's clinical facts and a policy."""

from __future__ import annotations

from dataclasses import dataclass

from triage.errors import PolicyMethodMismatchError
from triage.measurement import ClinicalFlag, Measurement, ReferralFacts
from triage.outcome import Action, TriageOutcome
from triage.policy import (
    INDETERMINATE_BAND,
    NO_VALID_RESULT_BAND,
    NOT_TESTED_BAND,
    CensoredRule,
    ClinicalOverride,
    ThresholdPolicy,
)


@dataclass(frozen=True, slots=True)
class _FhbDecision:
    """What the f-Hb alone decides, before clinical overrides."""

    action: Action
    band: str
    band_label: str
    band_rank: int
    priority: int
    sentence: str
    rules: tuple[str, ...]


def triage(measurement: Measurement, facts: ReferralFacts, policy: ThresholdPolicy) -> TriageOutcome:
    """Decide reassure / refer / repeat for one result under ``policy``.

    Raises ``PolicyMethodMismatchError`` when the policy does not cover the measurement's method:
    thresholds are never applied across analyser methods silently (``PolicySet`` chooses the right one).
    """
    if not policy.applies_to(measurement.method):
        raise PolicyMethodMismatchError(
            f"policy {policy.version} applies to {', '.join(policy.methods)}, not to method "
            f"'{measurement.method}'; thresholds are not shared between analyser methods"
        )
    base = _decide_on_fhb(measurement, policy)
    overrides = _overrides(facts, policy)

    action = base.action
    priority = base.priority
    rules = list(base.rules)
    sentences = [f"Under policy {policy.version}: {base.sentence}"]
    if overrides:
        action = Action.REFER
        urgencies = [rule.priority for rule in overrides]
        if base.action is Action.REFER:
            urgencies.append(base.priority)
        priority = min(urgencies)
        rules += [f"override:{rule.flag.value}" for rule in overrides]
        sentences.append(_override_sentence(base, overrides))
    do_not_wait = any(rule.do_not_wait_for_fit for rule in overrides)
    sentences.append(f"Decision: {action.description} (priority {priority}).")

    return TriageOutcome(
        action=action,
        band=base.band,
        band_label=base.band_label,
        band_rank=base.band_rank,
        priority=priority,
        explanation=" ".join(sentences),
        policy_version=policy.version,
        referral_threshold_ug_per_g=policy.referral_threshold_ug_per_g,
        method=measurement.method,
        comparator=measurement.comparator if not measurement.is_error else None,
        fhb_ug_per_g=measurement.value_ug_per_g,
        error_code=measurement.error_code,
        flags=facts.flags,
        rules_applied=tuple(rules),
        do_not_wait_for_fit=do_not_wait,
    )


def _decide_on_fhb(measurement: Measurement, policy: ThresholdPolicy) -> _FhbDecision:
    if measurement.error_code is not None:
        rule = policy.error_results
        wording = rule.known_codes.get(measurement.error_code, f"unrecognised error code '{measurement.error_code}'")
        return _FhbDecision(
            action=Action(rule.action),
            band=NO_VALID_RESULT_BAND,
            band_label="No valid result",
            band_rank=-1,
            priority=rule.priority,
            sentence=(
                f"the analyser reported an error ({wording}). {rule.reason.strip()} "
                f"(rule: error_results, source {rule.source})"
            ),
            rules=("error_result",),
        )
    assert measurement.value_ug_per_g is not None  # guaranteed by Measurement for a non-error result
    value = measurement.value_ug_per_g
    threshold = policy.referral_threshold_ug_per_g
    shown = measurement.display
    if measurement.comparator == "<" and value > threshold:
        censored = policy.censored_values.less_than_above_threshold
        return _indeterminate(shown, censored, "less_than_above_threshold", "censored_less_than")
    if measurement.comparator == ">" and value < threshold:
        censored = policy.censored_values.greater_than_below_threshold
        return _indeterminate(shown, censored, "greater_than_below_threshold", "censored_greater_than")

    rules: tuple[str, ...] = ()
    placed = "falls in"
    if measurement.comparator == "<":
        # Every value below x <= threshold lies in the first band (validation: the only reassuring one).
        index = 0
        how = f"result {shown} (every value it allows is below the referral threshold of {threshold:g} µg/g)"
    elif measurement.comparator == ">":
        # The true value is anywhere above x. Placing it by its lower limit would queue an OC-Sensor ">200" (its
        # upper range, domain brief §3) behind a plain 400; it goes to the highest band it could belong to.
        # The sentence says only what the result tells: the true value is above x, by an amount not known. Neither
        # the result nor the policy says whether x was the analyser's upper measuring limit, so it is never claimed.
        lower = policy.band_index_for(value)
        index = policy.highest_band_index_above(value)
        if index == lower:
            how = (
                f"result {shown} (the true f-Hb is above {value:g} µg/g, so placed by its lower limit "
                f"{value:g} µg/g: every value above it lies in the same band)"
            )
        else:
            spanning = policy.censored_values.greater_than_spanning_bands
            how = (
                f"result {shown} is censored: the true f-Hb is above {value:g} µg/g (band "
                f"'{policy.bands[lower].name}'), by how much is not known, so it could lie in any band up to "
                f"'{policy.bands[index].name}'. "
                f"{spanning.reason.strip()} (rule: censored_values.greater_than_spanning_bands, "
                f"source {spanning.source})."
            )
            placed = "Placed in"
            rules = ("censored_greater_than_spanning_bands",)
    else:
        index = policy.band_index_for(value)
        how = f"result {shown}"
    band = policy.bands[index]
    return _FhbDecision(
        action=Action(band.action),
        band=band.name,
        band_label=band.label,
        band_rank=index,
        priority=band.priority,
        sentence=(
            f"{how} {placed} band '{band.name}' ({band.range_text}, lower limit inclusive). "
            f"{band.meaning.strip()} (rule: band '{band.name}', source {band.source})"
        ),
        rules=(*rules, f"band:{band.name}"),
    )


def _indeterminate(shown: str, censored: CensoredRule, policy_key: str, rule: str) -> _FhbDecision:
    return _FhbDecision(
        action=Action(censored.action),
        band=INDETERMINATE_BAND,
        band_label="Indeterminate (censored value straddles the referral threshold)",
        band_rank=-1,
        priority=censored.priority,
        sentence=(
            f"result {shown} is censored. {censored.reason.strip()} "
            f"(rule: censored_values.{policy_key}, source {censored.source})"
        ),
        rules=(rule,),
    )


def _overrides(facts: ReferralFacts, policy: ThresholdPolicy) -> list[ClinicalOverride]:
    # Enum order keeps the explanation identical however the caller built the flag set.
    return [policy.override_for(flag) for flag in ClinicalFlag if flag in facts.flags]


def _override_sentence(base: _FhbDecision, overrides: list[ClinicalOverride]) -> str:
    names = ", ".join(rule.flag.description for rule in overrides)
    if base.action is Action.REFER:
        lead = f"The referral also records {names}, which would refer whatever the f-Hb:"
    else:
        lead = f"The f-Hb alone would not refer, but the referral records {names}, which overrides it:"
    reasons = " ".join(
        f"{rule.reason.strip()} (rule: clinical override '{rule.flag.value}', source {rule.source})"
        for rule in overrides
    )
    return f"{lead} {reasons}"


@dataclass(frozen=True, slots=True)
class IntakeAlert:
    """A clinical flag that matters before any FIT result exists.

    ``do_not_wait_for_fit`` alerts (rectal or anal mass, anal ulceration) mean the patient must be
    referred now; the others tell the requester that a negative FIT will not change the referral.
    """

    flag: ClinicalFlag
    do_not_wait_for_fit: bool
    priority: int
    message: str
    policy_version: str


def intake_alerts(facts: ReferralFacts, policy: ThresholdPolicy) -> tuple[IntakeAlert, ...]:
    """Alerts to raise when a referral arrives, most urgent (do-not-wait) first."""
    alerts = [
        IntakeAlert(
            flag=rule.flag,
            do_not_wait_for_fit=rule.do_not_wait_for_fit,
            priority=rule.priority,
            message=(
                f"{'DO NOT WAIT FOR FIT: ' if rule.do_not_wait_for_fit else ''}{rule.reason.strip()} "
                f"(policy {policy.version}, source {rule.source})"
            ),
            policy_version=policy.version,
        )
        for rule in _overrides(facts, policy)
    ]
    alerts.sort(key=lambda alert: (not alert.do_not_wait_for_fit, alert.priority))
    return tuple(alerts)


def refer_without_fit(facts: ReferralFacts, policy: ThresholdPolicy) -> TriageOutcome | None:
    """The outcome for a referral that must not wait for a FIT, or None when no flag of ``policy`` says so.

    A do-not-wait flag (the policy's ``do_not_wait_for_fit``: with the shipped policies a rectal mass, an anal
    mass or anal ulceration; NICE DG56 1.1) means the patient is referred now on the suspected-cancer pathway
    and is never posted a kit. The priority is the most urgent of the flags' overrides.
    """
    alerts = intake_alerts(facts, policy)
    urgent = [alert for alert in alerts if alert.do_not_wait_for_fit]
    if not urgent:
        return None
    priority = min(alert.priority for alert in alerts)
    reasons = " ".join(alert.message for alert in urgent)
    names = ", ".join(alert.flag.description for alert in urgent)
    return TriageOutcome(
        action=Action.REFER,
        band=NOT_TESTED_BAND,
        band_label="Not tested: referred without FIT on a red flag",
        band_rank=-1,
        priority=priority,
        explanation=(
            f"Under policy {policy.version}: the referral records {names}, which must not wait for a FIT. "
            f"{reasons} Decision: {Action.REFER.description} now, no FIT kit is sent (priority {priority})."
        ),
        policy_version=policy.version,
        referral_threshold_ug_per_g=policy.referral_threshold_ug_per_g,
        method="",
        comparator=None,
        fhb_ug_per_g=None,
        error_code=None,
        flags=facts.flags,
        rules_applied=tuple(f"override:{alert.flag.value}" for alert in urgent),
        do_not_wait_for_fit=True,
    )
