"""The colonoscopy list order: earliest due date first, then priority, band, f-Hb, flags, referral date; ties stable.

Issue 13 changed the first key from priority to the due date (referral date + the list order's target days for
the priority); the tests below whose patients waited the same time keep their old expectations.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from importlib import resources

import pytest
import yaml

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


# Issue 13: earliest due date first, due = referral date + the list order's target days for the priority (shipped
# example: P1 7, P2 14, P3 21, P4+ 28). (name, [(id, value, flags, days waited)], expected order, source)
AS_OF = date(2026, 11, 23)
DUE_DATE_ROWS = [
    ("a long wait counts within a priority", [("67 µg/g, 73 days", "67", (), 73), ("10 µg/g, 84 days", "10", (), 84)],
     ["10 µg/g, 84 days", "67 µg/g, 73 days"], "issue 13: 67/73 days was ranked above 10/84 days"),
    ("an IDA-override negative is not queued behind every positive",
     [("positive 50, fresh", "50", (), 2), ("IDA negative, 30 days", "<10", ("ida",), 30)],
     ["IDA negative, 30 days", "positive 50, fresh"],
     "issue 13 and §1 BSG/ACPGBI: IDA refers whatever the f-Hb; both are priority 3, the longer wait is due first"),
    ("a clinical-concern negative likewise",
     [("positive 90, 5 days", "90", (), 5), ("concern <4, 9 days", "<4", ("clinical_concern",), 9)],
     ["concern <4, 9 days", "positive 90, 5 days"], "issue 13 and §1: clinical concern overrides a negative FIT"),
    ("referred the same day, the more urgent priority first",
     [("P3", "50", (), 5), ("P1", ">400", (), 5), ("P2", "150", (), 5)], ["P1", "P2", "P3"],
     "§2 bands: an earlier target for a more urgent priority"),
    ("due the same day, the more urgent priority first",
     [("P2 waited 7", "150", (), 7), ("P1 waited 0", "450", (), 0)], ["P1 waited 0", "P2 waited 7"],
     "ranking docstring, step 2"),
    ("a P3 due sooner comes before a P1 referred today",
     [("P1 today", "450", (), 0), ("P3 15 days", "50", (), 15)], ["P3 15 days", "P1 today"],
     "ranking docstring: each is offered within their own target (P3 due in 6 days, P1 in 7)"),
    ("a rectal mass is due with priority 1, behind the same-day higher band",
     [("rectal mass", "<10", ("rectal_mass",), 3), ("band highest", "450", (), 3), ("band high", "300", (), 9)],
     ["band highest", "rectal mass", "band high"], "§1 NG12: a rectal mass is priority 1; band breaks the tie"),
]


@pytest.mark.parametrize(("name", "rows", "expected", "source"), DUE_DATE_ROWS, ids=[r[0] for r in DUE_DATE_ROWS])
def test_the_list_is_worked_earliest_due_date_first(
    default_policy: triage.ThresholdPolicy,
    name: str,
    rows: list[tuple[str, str, tuple[str, ...], int]],
    expected: list[str],
    source: str,
) -> None:
    candidates = [
        ColonoscopyCandidate(
            referral_id,
            triage.triage(Measurement.parse(value, "HM-JACKarc"), ReferralFacts.from_names(flags), default_policy),
            AS_OF - timedelta(days=waited),
        )
        for referral_id, value, flags, waited in rows
    ]
    ranked = rank_for_colonoscopy(candidates, as_of=AS_OF)
    assert [entry.candidate.referral_id for entry in ranked] == expected, source


def test_the_reason_gives_the_due_date_the_wait_and_the_fds_breach_date(
    default_policy: triage.ThresholdPolicy,
) -> None:
    # Issue 13 and §8: show days waited and the date the 28-day Faster Diagnosis Standard is breached.
    outcome = triage.triage(Measurement.parse("10", "HM-JACKarc"), ReferralFacts(), default_policy)
    (entry,) = rank_for_colonoscopy([ColonoscopyCandidate("r1", outcome, date(2026, 8, 31))], as_of=AS_OF)
    assert (entry.days_waited, entry.due_date, entry.fds_breach_date) == (84, date(2026, 9, 21), date(2026, 9, 28))
    assert entry.reason == (
        "rank 1: due 21 Sep 2026 (priority 3: offer within 21 days of referral), waited 84 days, FDS breached "
        f"28 Sep 2026; then band 'positive', f-Hb =10, clinical flags: none (policy {default_policy.version}, "
        "list order default-list-order-1.0)"
    )


@pytest.mark.parametrize(("waited", "breached"), [(27, False), (28, True), (29, True)])
def test_the_fds_breach_date_is_28_days_after_referral(
    default_policy: triage.ThresholdPolicy, waited: int, breached: bool
) -> None:
    # §8: the Faster Diagnosis Standard's 28 days, from the list order file.
    outcome = triage.triage(Measurement.parse("50", "HM-JACKarc"), ReferralFacts(), default_policy)
    referred = AS_OF - timedelta(days=waited)
    (entry,) = rank_for_colonoscopy([ColonoscopyCandidate("r1", outcome, referred)], as_of=AS_OF)
    assert entry.fds_breach_date == referred + timedelta(days=28)
    assert entry.fds_breached is breached
    assert ("FDS breached" if breached else "FDS breach on") in entry.reason


def test_an_explicit_list_order_replaces_the_shipped_one(default_policy: triage.ThresholdPolicy) -> None:
    # A site whose targets are all 28 days (within the FDS, §8) works its list first come, first served.
    document = yaml.safe_load(
        resources.files("triage").joinpath("list_orders/default.yaml").read_text(encoding="utf-8")
    )
    document["version"] = "fifo-1"
    document["target_days_by_priority"]["days"] = {priority: 28 for priority in range(1, 10)}
    fifo = triage.parse_list_order(yaml.safe_dump(document))
    candidates = [
        _candidate(default_policy, "P1 today", ">400", waited_days=0),
        _candidate(default_policy, "P3 a day ago", "20", waited_days=1),
    ]
    assert [e.candidate.referral_id for e in rank_for_colonoscopy(candidates, TODAY, fifo)] == [
        "P3 a day ago", "P1 today"]
    assert [e.candidate.referral_id for e in rank_for_colonoscopy(candidates, TODAY)] == ["P1 today", "P3 a day ago"]
    assert rank_for_colonoscopy(candidates, TODAY, fifo)[0].reason.endswith("list order fifo-1)")
