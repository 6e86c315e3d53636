"""The colonoscopy list order: earliest due date first, then priority, band, f-Hb, flags, referral date; ties stable.

Issue 13 changed the first key from priority to the due date (referral date + the list order's target days for
the priority); the tests below whose patients waited the same time keep their old expectations.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest

import triage
from triage import ClinicalFlag, ColonoscopyCandidate, Measurement, ReferralFacts, rank_for_colonoscopy

TODAY = date(2025, 6, 30)


def _candidate(
    policy: triage.ThresholdPolicy,
    referral_id: str,
    value: str,
    flags: tuple[str, ...] = (),
    waited_days: int = 10,
) -> ColonoscopyCandidate:
    outcome = triage.triage(Measurement.parse(value, "HM-JACKarc"), ReferralFacts.from_names(flags), policy)
    return ColonoscopyCandidate(referral_id, outcome, TODAY - timedelta(days=waited_days))


def _order(policy: triage.ThresholdPolicy, candidates: list[ColonoscopyCandidate]) -> list[str]:
    return [entry.candidate.referral_id for entry in rank_for_colonoscopy(candidates, as_of=TODAY)]


def test_higher_band_comes_first(default_policy: triage.ThresholdPolicy) -> None:
    # §2: ≥ 400 highest priority, 100–399.9 high priority, 10–99.9 refer. Equal waits: a more urgent priority has
    # an earlier target, so is due first (issue 13: before, "ten" came last even after 90 days).
    candidates = [
        _candidate(default_policy, "ten", "10"),
        _candidate(default_policy, "hundred", "100"),
        _candidate(default_policy, "four-hundred", ">400"),
    ]
    assert _order(default_policy, candidates) == ["four-hundred", "hundred", "ten"]


def test_within_a_band_higher_fhb_comes_first(default_policy: triage.ThresholdPolicy) -> None:
    candidates = [
        _candidate(default_policy, "low", "20", flags=("ida", "abdominal_mass")),  # same wait (issue 13)
        _candidate(default_policy, "high", "80"),
    ]
    assert _order(default_policy, candidates) == ["high", "low"]


def test_above_range_sorts_above_the_same_plain_value(default_policy: triage.ThresholdPolicy) -> None:
    candidates = [_candidate(default_policy, "equal", "400"), _candidate(default_policy, "above", ">400")]
    assert _order(default_policy, candidates) == ["above", "equal"]


def test_with_equal_fhb_more_clinical_flags_come_first(default_policy: triage.ThresholdPolicy) -> None:
    candidates = [
        _candidate(default_policy, "none", "50"),  # same wait (issue 13: a longer one would now come first)
        _candidate(default_policy, "two", "50", flags=("ida", "clinical_concern")),
        _candidate(default_policy, "one", "50", flags=("ida",)),
    ]
    assert _order(default_policy, candidates) == ["two", "one", "none"]


def test_with_everything_else_equal_the_longest_wait_comes_first(default_policy: triage.ThresholdPolicy) -> None:
    candidates = [
        _candidate(default_policy, "recent", "50", waited_days=3),
        _candidate(default_policy, "longest", "50", waited_days=30),
        _candidate(default_policy, "middle", "50", waited_days=12),
    ]
    assert _order(default_policy, candidates) == ["longest", "middle", "recent"]


def test_exact_ties_keep_the_order_given(default_policy: triage.ThresholdPolicy) -> None:
    candidates = [_candidate(default_policy, name, "50") for name in ("c", "a", "b")]
    assert _order(default_policy, candidates) == ["c", "a", "b"]


def test_an_override_raising_priority_moves_the_patient_up(default_policy: triage.ThresholdPolicy) -> None:
    # §1: a rectal mass must not wait for FIT; the policy gives it priority 1.
    candidates = [
        _candidate(default_policy, "band-high", "300"),
        _candidate(default_policy, "rectal-mass", "<10", flags=("rectal_mass",)),
        _candidate(default_policy, "band-highest", "450"),
    ]
    assert _order(default_policy, candidates) == ["band-highest", "rectal-mass", "band-high"]


def test_only_referred_patients_may_be_listed(default_policy: triage.ThresholdPolicy) -> None:
    candidates = [_candidate(default_policy, "ok", "50"), _candidate(default_policy, "negative-1", "4")]
    with pytest.raises(triage.RankingError, match="referral negative-1 has outcome 'reassure'"):
        rank_for_colonoscopy(candidates, as_of=TODAY)


def test_each_entry_explains_its_rank(default_policy: triage.ThresholdPolicy) -> None:
    ranked = rank_for_colonoscopy(
        [_candidate(default_policy, "r1", "150", flags=("ida",), waited_days=21)], as_of=TODAY
    )
    entry = ranked[0]
    assert (entry.rank, entry.days_waited) == (1, 21)
    assert (entry.due_date, entry.fds_breach_date) == (date(2025, 6, 23), date(2025, 7, 7))
    # Issue 13: the reason shows the due date, days waited and the Faster Diagnosis Standard date (§8).
    assert entry.reason == (
        "rank 1: due 23 Jun 2025 (priority 2: offer within 14 days of referral), waited 21 days, FDS breach on "
        f"7 Jul 2025; then band 'high', f-Hb =150, clinical flags: ida (policy {default_policy.version}, "
        "list order default-list-order-1.0)"
    )


def test_a_thousand_positives_are_in_the_documented_order(default_policy: triage.ThresholdPolicy) -> None:
    rng = random.Random(7)
    # Flags that only say "refer whatever the f-Hb" (the do-not-wait ones raise priority, tested above).
    flag_names = [f.value for f in ClinicalFlag if not default_policy.override_for(f).do_not_wait_for_fit]
    candidates = []
    for index in range(1000):
        value = rng.choice([f"{rng.uniform(10, 1200):.1f}", ">400", "10", "100", "400"])
        flags = tuple(rng.sample(flag_names, rng.randint(0, 2)))
        candidates.append(_candidate(default_policy, f"r{index}", value, flags, waited_days=rng.randint(0, 40)))
    ranked = rank_for_colonoscopy(candidates, as_of=TODAY)
    assert [entry.rank for entry in ranked] == list(range(1, 1001))
    position = {c.referral_id: i for i, c in enumerate(candidates)}
    for before, after in itertools.pairwise(ranked):
        a, b = before.candidate.outcome, after.candidate.outcome
        # Issue 13: due date first, then "priority, band, f-Hb, comparator, flags, referral date, input".
        assert before.due_date <= after.due_date
        if before.due_date == after.due_date:
            assert a.priority <= b.priority
            if a.priority == b.priority:
                assert a.band_rank >= b.band_rank
                if a.band_rank == b.band_rank:
                    assert (a.fhb_ug_per_g or 0) >= (b.fhb_ug_per_g or 0)
                    if a.fhb_ug_per_g == b.fhb_ug_per_g and a.comparator == b.comparator:
                        assert len(a.flags) >= len(b.flags)
                        if len(a.flags) == len(b.flags):
                            assert before.days_waited >= after.days_waited
                            if before.days_waited == after.days_waited:
                                assert position[before.candidate.referral_id] < position[after.candidate.referral_id]
